/* q_nvfp4.c - NVFP4: E2M1 elements with one FP8 scale per 16 elements.
 *
 * A 64-element block is four 16-element sub-blocks, each with an unsigned
 * E4M3 scale byte (4 exponent bits, bias 7, 3 mantissa bits; 0x7F reads as
 * zero), then 32 bytes of codes: byte 8s+j holds element j of sub-block s
 * in its low nibble and element j+8 in its high one.  The scale is the
 * sub-block's largest magnitude over 6, rounded to E4M3; each element takes
 * the nearest E2M1 level.  Importance weights are ignored, as in ggml. */
#include "config.h"

#include "q_common.h"

#define NVFP4_BLOCK 64
#define NVFP4_SUB 16

typedef struct { uint8_t d[NVFP4_BLOCK / NVFP4_SUB]; uint8_t qs[NVFP4_BLOCK / 2]; } blk_nvfp4;
_Static_assert(sizeof(blk_nvfp4) == 36, "nvfp4");

/* An E4M3 byte as the half-scale the doubled fp4 levels multiply: the value
 * is m * 2^(e-10) with m = 8+mant shifted by e-1 (normal) or mant (e = 0),
 * exact in a float.  The sign bit is ignored, as by ggml (0xFF is not
 * the NaN 0x7F). */
static inline float ue4m3_half(uint8_t b)
{
	if (b == 0x7F)
		return 0.0f;
	const unsigned e = (b >> 3) & 0xF, man = b & 7;
	const unsigned m = e ? (8 + man) << (e - 1) : man;
	return (float)m * 0x1p-10f;
}

/* Positive s (amax/6) to E4M3: 448 at most, round half up on the fourth
 * mantissa bit, fixed point below the normal range; 0 for s <= 0. */
static uint8_t ue4m3_from(float s)
{
	if (!(s > 0.0f))
		return 0;
	if (s > 448.0f)
		s = 448.0f;
	uint32_t u;
	memcpy(&u, &s, sizeof u);
	int e = (int)((u >> 23) & 0xFF) - 127 + 7;
	if (e <= 0) {
		const int m = (int)(s * 512.0f + 0.5f);
		return (uint8_t)(m > 7 ? 7 : m < 1 ? 0 : m);
	}
	unsigned man = ((u >> 20) & 7) + ((u >> 19) & 1);
	if (man > 7) {
		man = 0;
		e++;
	}
	return e >= 15 ? 0x7E : (uint8_t)(e << 3 | (int)man);
}

void pj_qrow_nvfp4(const float *x, void *vy, int64_t n, const float *qw)
{
	(void)qw;
	blk_nvfp4 *y = vy;
	for (int64_t ib = 0; ib < n / NVFP4_BLOCK; ib++) {
		for (int s = 0; s < NVFP4_BLOCK / NVFP4_SUB; s++) {
			const float *xb = x + ib * NVFP4_BLOCK + s * NVFP4_SUB;
			float amax = 0.0f;
			for (int j = 0; j < NVFP4_SUB; j++)
				amax = PJ_MAX(amax, fabsf(xb[j]));
			const uint8_t sb = ue4m3_from(amax / 6.0f);
			const float d = ue4m3_half(sb);
			y[ib].d[s] = sb;
			for (int j = 0; j < NVFP4_SUB / 2; j++)
				y[ib].qs[s * 8 + j] =
					(uint8_t)(pj_fp4_nearest(xb[j], d) | pj_fp4_nearest(xb[j + 8], d) << 4);
		}
	}
}

void pj_dqrow_nvfp4(const void *vx, float *y, int64_t n)
{
	const blk_nvfp4 *x = vx;
	for (int64_t ib = 0; ib < n / NVFP4_BLOCK; ib++) {
		for (int s = 0; s < NVFP4_BLOCK / NVFP4_SUB; s++, y += NVFP4_SUB) {
			const float d = ue4m3_half(x[ib].d[s]);
			for (int j = 0; j < NVFP4_SUB / 2; j++) {
				const uint8_t q = x[ib].qs[s * 8 + j];
				y[j] = pj_fp4_levels[q & 0x0F] * d;
				y[j + 8] = pj_fp4_levels[q >> 4] * d;
			}
		}
	}
}
