/* fp16.h - float32 <-> IEEE half and bfloat16, rounded exactly as ggml rounds.
 *
 * f32 -> f16: round to nearest, ties to even; overflow (|x| >= 65520) gives
 * +-Inf; subnormal halves are produced, not flushed; any NaN becomes the
 * quiet NaN 0x7E00 with the input's sign (what ggml's scalar path writes).
 * f32 -> bf16: round to nearest, ties to even; NaN keeps its top bits and is
 * forced quiet (bit 6 of the half set), as ggml_compute_fp32_to_bf16.
 * The widening conversions are exact for every bit pattern. */
#ifndef PJ_FP16_H
#define PJ_FP16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

uint16_t pj_fp32_to_fp16(float f);
uint16_t pj_fp32_to_bf16(float f);

static inline float pj_bf16_to_fp32(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* Exact for every bit pattern (subnormals, Inf, NaN payloads). */
float pj_fp16_to_fp32(uint16_t h);

void pj_fp32_to_fp16_row(const float *x, uint16_t *y, size_t n);
void pj_fp32_to_bf16_row(const float *x, uint16_t *y, size_t n);
void pj_fp16_to_fp32_row(const uint16_t *x, float *y, size_t n);
void pj_bf16_to_fp32_row(const uint16_t *x, float *y, size_t n);

#endif
