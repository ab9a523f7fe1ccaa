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

/* ---- sources for quantization (rows -> f32) ------------------------------ */

/* True when t is a ggml block-quantized type: converting it means
 * dequantizing, and quantizing the result again loses quality (callers warn). */
bool pj_convert_is_requant(pj_dtype t);
/* True when pj_convert_rows_f32() can decode t. */
bool pj_convert_rows_supported(pj_dtype t);

/* Decodes nrows rows of ncols elements of any plain type, or of a ggml
 * quantized type with a dequantizer in the kernel table (qtypes.h).  Fails
 * with a message naming `what` for other types or a row length that is not
 * a multiple of the block. */
pj_status pj_convert_rows_f32(pj_dtype t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                              const char *what, pj_error *err);

/* DeepSeek-style FP8 with block scales: W (F8_E4M3 or F8_E5M2) of rows x cols
 * (HF order [rows, cols]; ggml ne = {cols, rows}) comes with `<W>_scale_inv`,
 * [ceil(rows/B), ceil(cols/B)] (B = block, 128 for DeepSeek-V3), row-major,
 * F32/BF16/F16.  The real weight is W[r][c] * scale[r/B][c/B].  Decodes rows
 * row0 .. row0+nrows-1 into dst (nrows * cols floats). */
pj_status pj_convert_fp8_block_scaled(pj_dtype t, const void *w, pj_dtype scale_type, const void *scale,
                                      uint64_t scale_n, int64_t rows, int64_t cols, int64_t block,
                                      int64_t row0, int64_t nrows, float *dst, const char *what,
                                      pj_error *err);
/* The block size of a scale grid of srows x scols for a rows x cols weight:
 * 128 (DeepSeek-V3's) when it fits, else the smallest that fits (a grid
 * alone does not always pin it down); 0 when none does. */
int64_t pj_convert_fp8_block_of(int64_t rows, int64_t cols, int64_t srows, int64_t scols);

#endif
