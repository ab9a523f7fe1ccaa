/* fp16.c - half and bfloat16 conversions (see fp16.h for the rounding rules).
 * Integer-only constructions: no dependence on the FPU's rounding mode,
 * flush-to-zero or denormals-are-zero settings. */
#include "config.h"
#include "fp16.h"

static inline uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

uint16_t pj_fp32_to_fp16(float f)
{
	const uint32_t u = f2u(f);
	const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	const uint32_t mag = u & 0x7fffffffu;

	if (mag > 0x7f800000u)                 /* NaN */
		return sign | 0x7e00u;
	if (mag >= 0x477ff000u)                /* >= 65520 rounds to Inf (Inf included) */
		return sign | 0x7c00u;

	const int32_t exp = (int32_t)(mag >> 23) - 127;   /* unbiased */
	if (exp >= -14) {                      /* normal half */
		/* keep 10 mantissa bits, round the 13 dropped ones to nearest even;
		 * a carry out of the mantissa bumps the exponent, which is right */
		uint32_t h = ((uint32_t)(exp + 15) << 10) | ((mag >> 13) & 0x3ffu);
		const uint32_t rest = mag & 0x1fffu;
		if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
			h++;
		return (uint16_t)(sign | h);
	}
	if (exp < -25)                         /* below half the smallest subnormal */
		return sign;
	/* subnormal half: value = m * 2^-24, with m = significand >> shift */
	const uint32_t sig = (mag & 0x7fffffu) | 0x800000u;   /* 24 bits, value sig*2^(exp-23) */
	const uint32_t shift = (uint32_t)(-exp - 1);          /* exp=-15 -> 14 ... exp=-25 -> 24 */
	uint32_t h = sig >> shift;
	const uint32_t rest = sig & ((1u << shift) - 1u);
	const uint32_t half = 1u << (shift - 1);
	if (rest > half || (rest == half && (h & 1u)))
		h++;
	return (uint16_t)(sign | h);
}

uint16_t pj_fp32_to_bf16(float f)
{
	const uint32_t u = f2u(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)   /* NaN: truncate, force quiet */
		return (uint16_t)((u >> 16) | 64u);
	return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static float half_decode(uint16_t h)
{
	const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	const uint32_t e = (h >> 10) & 0x1fu;
	uint32_t m = h & 0x3ffu, out;
	if (e == 0x1f) {
		out = sign | 0x7f800000u | (m << 13);
		if (m)
			out |= 0x400000u;          /* NaN comes out quiet, as from ggml */
	} else if (e != 0) {
		out = sign | ((e + 112u) << 23) | (m << 13);
	} else if (m == 0) {
		out = sign;
	} else {                               /* subnormal: renormalize */
		uint32_t ee = 113;                 /* 127 - 14 */
		while (!(m & 0x400u)) {
			m <<= 1;
			ee--;
		}
		out = sign | (ee << 23) | ((m & 0x3ffu) << 13);
	}
	float f;
	memcpy(&f, &out, sizeof f);
	return f;
}

float pj_fp16_to_fp32(uint16_t h)
{
	/* branchy but cheap; kernels call it once per block */
	return half_decode(h);
}

void pj_fp32_to_fp16_row(const float *x, uint16_t *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = pj_fp32_to_fp16(x[i]);
}

void pj_fp32_to_bf16_row(const float *x, uint16_t *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = pj_fp32_to_bf16(x[i]);
}

void pj_fp16_to_fp32_row(const uint16_t *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = half_decode(x[i]);
}

void pj_bf16_to_fp32_row(const uint16_t *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = pj_bf16_to_fp32(x[i]);
}
