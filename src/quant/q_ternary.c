/* q_ternary.c - TQ1_0 and TQ2_0: ternary weights (BitNet b1.58, TriLMs).
 *
 * One f16 scale per 256 elements, the block's largest magnitude, and every
 * element rounded to -1, 0 or +1 of it (half away from zero, as lroundf).
 * Importance weights are ignored, as in ggml.
 *
 * TQ1_0 packs five trits per byte as a fixed-point fraction of 3^5 (the
 * first trit most significant, rounded up so that multiplying by 3 brings
 * the next trit into the top bits): 48 bytes for elements 0..239 - byte m of
 * the first 32 holds elements m + 32n, byte 32+m of the next 16 elements
 * 160 + m + 16n - then 4 bytes of four trits (plus a zero trit) for
 * elements 240 + j + 4n.  TQ2_0 stores trit+1 in two bits: byte b of each
 * 32-byte half holds elements 128*half + b + 32n in bits 2n. */
#include "config.h"

#include <stddef.h>

#include "q_common.h"

#define TQ1_QS ((PJ_QK_K - 4 * PJ_QK_K / 64) / 5)   /* 48 bytes of 5 trits */
#define TQ1_QH (PJ_QK_K / 64)                       /* 4 bytes of 4 trits */

typedef struct { uint8_t qs[TQ1_QS]; uint8_t qh[TQ1_QH]; pj_half d; } blk_tq1_0;
typedef struct { uint8_t qs[PJ_QK_K / 4]; pj_half d; } blk_tq2_0;
_Static_assert(sizeof(blk_tq1_0) == 54 && offsetof(blk_tq1_0, d) == 52, "tq1_0");
_Static_assert(sizeof(blk_tq2_0) == 66 && offsetof(blk_tq2_0, d) == 64, "tq2_0");

/* The block's scale and 1/scale.  *id is 0 for an all-zero block, and also
 * when 1/amax overflows (amax below 2^-128): the reference's lroundf() of the
 * infinite or NaN products then yields the trit for 0 everywhere. */
static float absmax_scale(const float *x, float *id)
{
	float amax = 0.0f;
	for (int j = 0; j < PJ_QK_K; j++)
		amax = PJ_MAX(amax, fabsf(x[j]));
	const float inv = amax != 0.0f ? 1.0f / amax : 0.0f;
	*id = isinf(inv) ? 0.0f : inv;
	return amax;
}

/* 0, 1, 2 for -1, 0, +1: v = x/amax lies in [-1, 1], so rounding half away
 * from zero is two comparisons */
static inline unsigned trit(float x, float id)
{
	const float v = x * id;
	return v >= 0.5f ? 2u : v <= -0.5f ? 0u : 1u;
}

/* k trits (most significant first), times 3^(5-k), as the byte that
 * multiplication by 3 unpacks: ceil(t * 256 / 243) */
static inline uint8_t pack_trits(const float *x, int stride, int k, float id)
{
	unsigned q = 0;
	for (int n = 0; n < k; n++)
		q = q * 3 + trit(x[n * stride], id);
	for (int n = k; n < 5; n++)
		q *= 3;
	return (uint8_t)((q * 256 + 242) / 243);
}

/* Every block: its f16 scale in the last two bytes (both layouts end with
 * it), the trits packed by pack() in front. */
static void quantize_blocks(const float *x, uint8_t *y, int64_t n, size_t size,
                            void (*pack)(const float *x, float id, uint8_t *q))
{
	for (int64_t ib = 0; ib < n / PJ_QK_K; ib++, x += PJ_QK_K, y += size) {
		float id;
		const pj_half d = pj_f2h(absmax_scale(x, &id));
		pack(x, id, y);
		memcpy(y + size - sizeof d, &d, sizeof d);
	}
}

static void pack_tq1(const float *x, float id, uint8_t *q)
{
	for (int m = 0; m < 32; m++)
		q[m] = pack_trits(x + m, 32, 5, id);
	for (int m = 0; m < 16; m++)
		q[32 + m] = pack_trits(x + 160 + m, 16, 5, id);
	for (int j = 0; j < TQ1_QH; j++)
		q[TQ1_QS + j] = pack_trits(x + 240 + j, TQ1_QH, 4, id);
}

void pj_qrow_tq1_0(const float *x, void *vy, int64_t n, const float *qw)
{
	(void)qw;
	quantize_blocks(x, vy, n, sizeof(blk_tq1_0), pack_tq1);
}

/* trit n of a packed byte, as -1, 0, +1: the top "digit" of q * 3^n (mod 256)
 * in base 3 */
static inline float unpack_trit(uint8_t q, int n, float d)
{
	static const uint8_t pow3[5] = { 1, 3, 9, 27, 81 };
	const uint8_t s = (uint8_t)(q * pow3[n]);
	return (float)((s * 3 >> 8) - 1) * d;
}

void pj_dqrow_tq1_0(const void *vx, float *y, int64_t n)
{
	const blk_tq1_0 *x = vx;
	for (int64_t ib = 0; ib < n / PJ_QK_K; ib++, y += PJ_QK_K) {
		const float d = pj_h2f(x[ib].d);
		for (int t = 0; t < 5; t++)
			for (int m = 0; m < 32; m++)
				y[32 * t + m] = unpack_trit(x[ib].qs[m], t, d);
		for (int t = 0; t < 5; t++)
			for (int m = 0; m < 16; m++)
				y[160 + 16 * t + m] = unpack_trit(x[ib].qs[32 + m], t, d);
		for (int t = 0; t < 4; t++)
			for (int j = 0; j < TQ1_QH; j++)
				y[240 + TQ1_QH * t + j] = unpack_trit(x[ib].qh[j], t, d);
	}
}

static void pack_tq2(const float *x, float id, uint8_t *q)
{
	for (int b = 0; b < PJ_QK_K / 4; b++) {
		const float *xb = x + (b / 32) * 128 + b % 32;
		unsigned v = 0;
		for (int k = 0; k < 4; k++)
			v |= trit(xb[32 * k], id) << (2 * k);
		q[b] = (uint8_t)v;
	}
}

void pj_qrow_tq2_0(const float *x, void *vy, int64_t n, const float *qw)
{
	(void)qw;
	quantize_blocks(x, vy, n, sizeof(blk_tq2_0), pack_tq2);
}

void pj_dqrow_tq2_0(const void *vx, float *y, int64_t n)
{
	const blk_tq2_0 *x = vx;
	for (int64_t ib = 0; ib < n / PJ_QK_K; ib++, y += PJ_QK_K) {
		const float d = pj_h2f(x[ib].d);
		for (int b = 0; b < PJ_QK_K / 4; b++) {
			float *yb = y + (b / 32) * 128 + b % 32;
			/* code 3 never written, but any byte decodes: to +2 */
			for (int k = 0; k < 4; k++)
				yb[32 * k] = (float)((int)((x[ib].qs[b] >> (2 * k)) & 3) - 1) * d;
		}
	}
}
