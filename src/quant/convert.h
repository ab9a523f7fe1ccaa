/* convert.h - decoding stored elements to f32, for statistics and (later)
 * quantization.  Only plain element types are handled here; ggml's block
 * quantized types answer PJ_EUNSUPPORTED until their dequantizers land.
 *
 * Every decoder is exact: f16, bf16 and both fp8 variants map each bit
 * pattern to the float it denotes, subnormals, infinities and NaN included.
 * Integers convert by value (no scaling). */
#ifndef PJ_CONVERT_H
#define PJ_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"

/* True when pj_convert_f32() can decode elements of type t. */
bool pj_convert_supported(pj_dtype t);

/* Decodes n elements of type t starting at src (any alignment) into dst.
 * For a slice, the caller offsets src by i * bytes-per-element.
 * Returns PJ_EUNSUPPORTED for block-quantized and other undecodable types. */
pj_status pj_convert_f32(pj_dtype t, const void *src, float *dst, size_t n);

/* Single-value decoders, exposed for tests and other kernels. */
float pj_f16_to_f32(uint16_t h);
float pj_bf16_to_f32(uint16_t b);
float pj_fp8_e4m3_to_f32(uint8_t v);   /* OCP E4M3FN: bias 7, no Inf, S.1111.111 = NaN */
float pj_fp8_e5m2_to_f32(uint8_t v);   /* OCP E5M2: bias 15, IEEE-style Inf/NaN */
float pj_e8m0_to_f32(uint8_t v);       /* MX scale: 2^(v-127), 0xFF = NaN */

#endif
