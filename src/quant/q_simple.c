/* q_simple.c - element and 32-wide block formats: F32, F16, BF16, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, MXFP4, IQ4_NL (and the IQ4 super-block shared with IQ4_XS).
 *
 * The arithmetic is that of ggml's scalar reference quantizers, operation by
 * operation (this file is compiled with -ffp-contract=off): the same
 * comparisons, the same rounding, sums accumulated in the same order. */
#include "config.h"

#include <float.h>

#include "q_common.h"

const int8_t pj_iq4nl_levels[16] = {
	-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

/* E2M1 magnitudes doubled (the MX spec's values times two), sign in bit 3 */
const int8_t pj_fp4_levels[16] = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };

/* ---- plain floats -------------------------------------------------------- */

void pj_qrow_f32(const float *x, void *y, int64_t n, const float *qw)
{
	(void)qw;
	memcpy(y, x, (size_t)n * sizeof(float));
}
void pj_dqrow_f32(const void *x, float *y, int64_t n) { memcpy(y, x, (size_t)n * sizeof(float)); }

void pj_qrow_f16(const float *x, void *y, int64_t n, const float *qw)
{
	(void)qw;
	pj_fp32_to_fp16_row(x, y, (size_t)n);
}
void pj_dqrow_f16(const void *x, float *y, int64_t n) { pj_fp16_to_fp32_row(x, y, (size_t)n); }

void pj_qrow_bf16(const float *x, void *y, int64_t n, const float *qw)
{
	(void)qw;
	pj_fp32_to_bf16_row(x, y, (size_t)n);
}
void pj_dqrow_bf16(const void *x, float *y, int64_t n) { pj_bf16_to_fp32_row(x, y, (size_t)n); }

/* ---- helpers ------------------------------------------------------------- */

/* The value of largest magnitude (first one wins a tie) and its magnitude. */
static inline float signed_absmax(const float *x, int n, float *amax_out)
{
	float amax = 0.0f, max = 0.0f;
	for (int j = 0; j < n; j++) {
		const float a = fabsf(x[j]);
		if (amax < a) {
			amax = a;
			max = x[j];
		}
	}
	*amax_out = amax;
	return max;
}

/* Mean square of a whole row, as the weighted paths compute it (in order). */
static float row_sigma2(const float *x, int64_t n)
{
	float s = 0;
	for (int64_t j = 0; j < n; j++)
		s += x[j] * x[j];
	return s / n;
}

static inline void block_weights(const float *xb, const float *qw, float sigma2, float *w, int n)
{
	for (int j = 0; j < n; j++)
		w[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
}

/* Packs 32 levels (5 bits used when qh != NULL) as ggml's q4/q5 blocks do:
 * element j in the low nibble of byte j, element j+16 in the high nibble,
 * bit 4 of element j into bit j of qh. */
static inline void pack_nibbles(const uint8_t *L, uint8_t *qs, uint8_t *qh)
{
	uint32_t h = 0;
	for (int j = 0; j < 16; j++) {
		const uint8_t a = L[j], b = L[j + 16];
		qs[j] = (uint8_t)((a & 0x0F) | ((b & 0x0F) << 4));
		h |= (uint32_t)((a & 0x10u) >> 4) << j;
		h |= (uint32_t)((b & 0x10u) >> 4) << (j + 16);
	}
	if (qh)
		memcpy(qh, &h, 4);
}

static inline void unpack_nibbles(const uint8_t *qs, const uint8_t *qh, uint8_t *L)
{
	uint32_t h = 0;
	if (qh)
		memcpy(&h, qh, 4);
	for (int j = 0; j < 16; j++) {
		L[j] = (uint8_t)((qs[j] & 0x0F) | (((h >> j) & 1u) << 4));
		L[j + 16] = (uint8_t)((qs[j] >> 4) | (((h >> (j + 16)) & 1u) << 4));
	}
}

/* ---- symmetric: Q4_0, Q5_0 ------------------------------------------------
 * d = max / -2^(bits-1); level = min(2^bits - 1, (int8)(x/d + 2^(bits-1) + .5)).
 * With importance weights: make_qx_quants over the block, weights scaled by
 * sqrt(sigma2 + x^2). */

typedef struct sym_fmt {
	int half;           /* 8 or 16 */
	float bias;         /* half + 0.5 */
	int top;            /* 15 or 31 */
	bool has_qh;
} sym_fmt;

static const sym_fmt SYM4 = { 8, 8.5f, 15, false };
static const sym_fmt SYM5 = { 16, 16.5f, 31, true };

static void sym_quantize(const sym_fmt *f, const float *x, uint8_t *blk, int64_t n, const float *qw,
                         size_t bsize)
{
	const int64_t nb = n / PJ_QK32;
	uint8_t L[32];
	float w[32];
	const float sigma2 = qw ? row_sigma2(x, n) : 0.0f;
	for (int64_t ib = 0; ib < nb; ib++, blk += bsize) {
		const float *xb = x + ib * PJ_QK32;
		float d;
		if (qw) {
			int8_t Li[32];
			block_weights(xb, qw + ib * PJ_QK32, sigma2, w, 32);
			d = pj_make_qx(32, f->half, xb, Li, w);
			for (int j = 0; j < 32; j++)
				L[j] = (uint8_t)Li[j];
		} else {
			float amax;
			const float max = signed_absmax(xb, 32, &amax);
			d = max / -f->half;
			const float id = d ? 1.0f / d : 0.0f;
			for (int j = 0; j < 32; j++) {
				const int8_t v = (int8_t)(xb[j] * id + f->bias);
				L[j] = (uint8_t)PJ_MIN(f->top, v);
			}
		}
		const pj_half h = pj_f2h(d);
		memcpy(blk, &h, 2);
		if (f->has_qh)
			pack_nibbles(L, blk + 6, blk + 2);
		else
			pack_nibbles(L, blk + 2, NULL);
	}
}

static void sym_dequantize(const sym_fmt *f, const uint8_t *blk, float *y, int64_t n, size_t bsize)
{
	uint8_t L[32];
	for (int64_t ib = 0; ib < n / PJ_QK32; ib++, blk += bsize, y += 32) {
		pj_half h;
		memcpy(&h, blk, 2);
		const float d = pj_h2f(h);
		if (f->has_qh)
			unpack_nibbles(blk + 6, blk + 2, L);
		else
			unpack_nibbles(blk + 2, NULL, L);
		for (int j = 0; j < 32; j++)
			y[j] = (float)(L[j] - f->half) * d;
	}
}

void pj_qrow_q4_0(const float *x, void *y, int64_t n, const float *qw)
{
	sym_quantize(&SYM4, x, y, n, qw, sizeof(pj_blk_q4_0));
}
void pj_dqrow_q4_0(const void *x, float *y, int64_t n) { sym_dequantize(&SYM4, x, y, n, sizeof(pj_blk_q4_0)); }
void pj_qrow_q5_0(const float *x, void *y, int64_t n, const float *qw)
{
	sym_quantize(&SYM5, x, y, n, qw, sizeof(pj_blk_q5_0));
}
void pj_dqrow_q5_0(const void *x, float *y, int64_t n) { sym_dequantize(&SYM5, x, y, n, sizeof(pj_blk_q5_0)); }

/* ---- affine: Q4_1, Q5_1 ---------------------------------------------------
 * d = (max - min) / (2^bits - 1), m = min, level = (x - min)/d + .5 truncated.
 * Weighted: make_qkx3_quants(-0.9, 0.05, 36 steps). */

static void affine_quantize(int bits, const float *x, uint8_t *blk, int64_t n, const float *qw, size_t bsize)
{
	const int nmax = (1 << bits) - 1;
	const int64_t nb = n / PJ_QK32;
	uint8_t L[32], Laux[32];
	float w[32];
	const float sigma2 = qw ? row_sigma2(x, n) : 0.0f;
	for (int64_t ib = 0; ib < nb; ib++, blk += bsize) {
		const float *xb = x + ib * PJ_QK32;
		float d, m;
		if (qw) {
			float min;
			block_weights(xb, qw + ib * PJ_QK32, sigma2, w, 32);
			d = pj_make_qkx3(32, nmax, xb, w, L, &min, Laux, -0.9f, 0.05f, 36, false);
			m = -min;
		} else {
			float min = FLT_MAX, max = -FLT_MAX;
			for (int j = 0; j < 32; j++) {
				if (xb[j] < min)
					min = xb[j];
				if (xb[j] > max)
					max = xb[j];
			}
			d = (max - min) / nmax;
			const float id = d ? 1.0f / d : 0.0f;
			m = min;
			for (int j = 0; j < 32; j++) {
				const float v = (xb[j] - min) * id;
				if (bits == 4) {
					const int8_t q = (int8_t)(v + 0.5f);
					L[j] = (uint8_t)PJ_MIN(15, q);
				} else {
					L[j] = (uint8_t)(v + 0.5f);
				}
			}
		}
		const pj_half hd = pj_f2h(d), hm = pj_f2h(m);
		memcpy(blk, &hd, 2);
		memcpy(blk + 2, &hm, 2);
		if (bits == 5)
			pack_nibbles(L, blk + 8, blk + 4);
		else
			pack_nibbles(L, blk + 4, NULL);
	}
}

static void affine_dequantize(int bits, const uint8_t *blk, float *y, int64_t n, size_t bsize)
{
	uint8_t L[32];
	for (int64_t ib = 0; ib < n / PJ_QK32; ib++, blk += bsize, y += 32) {
		pj_half hd, hm;
		memcpy(&hd, blk, 2);
		memcpy(&hm, blk + 2, 2);
		const float d = pj_h2f(hd), m = pj_h2f(hm);
		if (bits == 5)
			unpack_nibbles(blk + 8, blk + 4, L);
		else
			unpack_nibbles(blk + 4, NULL, L);
		for (int j = 0; j < 32; j++)
			y[j] = L[j] * d + m;
	}
}

void pj_qrow_q4_1(const float *x, void *y, int64_t n, const float *qw)
{
	affine_quantize(4, x, y, n, qw, sizeof(pj_blk_q4_1));
}
void pj_dqrow_q4_1(const void *x, float *y, int64_t n) { affine_dequantize(4, x, y, n, sizeof(pj_blk_q4_1)); }
void pj_qrow_q5_1(const float *x, void *y, int64_t n, const float *qw)
{
	affine_quantize(5, x, y, n, qw, sizeof(pj_blk_q5_1));
}
void pj_dqrow_q5_1(const void *x, float *y, int64_t n) { affine_dequantize(5, x, y, n, sizeof(pj_blk_q5_1)); }

/* ---- Q8_0: d = amax/127, q = round(x/d); importance weights are ignored --- */

void pj_qrow_q8_0(const float *x, void *vy, int64_t n, const float *qw)
{
	(void)qw;
	pj_blk_q8_0 *y = vy;
	for (int64_t ib = 0; ib < n / PJ_QK32; ib++) {
		const float *xb = x + ib * PJ_QK32;
		float amax = 0.0f;
		for (int j = 0; j < 32; j++)
			amax = PJ_MAX(amax, fabsf(xb[j]));
		const float d = amax / 127;
		const float id = d ? 1.0f / d : 0.0f;
		y[ib].d = pj_f2h(d);
		for (int j = 0; j < 32; j++)
			y[ib].qs[j] = (int8_t)roundf(xb[j] * id);
	}
}

void pj_dqrow_q8_0(const void *vx, float *y, int64_t n)
{
	const pj_blk_q8_0 *x = vx;
	for (int64_t ib = 0; ib < n / PJ_QK32; ib++) {
		const float d = pj_h2f(x[ib].d);
		for (int j = 0; j < 32; j++)
			y[ib * 32 + j] = x[ib].qs[j] * d;
	}
}

/* ---- MXFP4: shared power-of-two exponent, E2M1 elements; weights ignored -- */

/* 2^(e-128) as a float: half the E8M0 scale, because the levels are doubled */
static inline float e8m0_half(uint8_t e)
{
	const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

void pj_qrow_mxfp4(const float *x, void *vy, int64_t n, const float *qw)
{
	(void)qw;
	pj_blk_mxfp4 *y = vy;
	for (int64_t ib = 0; ib < n / PJ_QK32; ib++) {
		const float *xb = x + ib * PJ_QK32;
		float amax = 0.0f;
		for (int j = 0; j < 32; j++)
			if (amax < fabsf(xb[j]))
				amax = fabsf(xb[j]);
		/* log2f as the reference calls it: its rounding near powers of two
		 * decides the exponent, so no exact frexp() shortcut here */
		const uint8_t e = amax > 0.0f ? (uint8_t)(floorf(log2f(amax)) - 2 + 127) : 0;
		const float d = e8m0_half(e);
		y[ib].e = e;
		for (int j = 0; j < 16; j++)
			y[ib].qs[j] = (uint8_t)(pj_fp4_nearest(xb[j], d) | (pj_fp4_nearest(xb[j + 16], d) << 4));
	}
}

void pj_dqrow_mxfp4(const void *vx, float *y, int64_t n)
{
	const pj_blk_mxfp4 *x = vx;
	for (int64_t ib = 0; ib < n / PJ_QK32; ib++, y += 32) {
		const float d = e8m0_half(x[ib].e);
		for (int j = 0; j < 16; j++) {
			y[j] = pj_fp4_levels[x[ib].qs[j] & 0x0F] * d;
			y[j + 16] = pj_fp4_levels[x[ib].qs[j] >> 4] * d;
		}
	}
}

/* ---- IQ4: non-linear 4-bit levels ---------------------------------------- */

/* Index of the level nearest to v in the sorted table (ties: the upper one
 * unless the lower is strictly closer), by bisection like the reference. */
static inline int iq4_index(float v)
{
	const int8_t *t = pj_iq4nl_levels;
	if (v <= t[0])
		return 0;
	if (v >= t[15])
		return 15;
	int lo = 0, hi = 15;
	while (hi - lo > 1) {
		const int mid = (lo + hi) / 2;
		if (v < t[mid])
			hi = mid;
		else
			lo = mid;
	}
	return v - t[hi - 1] < t[hi] - v ? hi - 1 : hi;
}

/* Best scale of one 32-block: start from d = max/|level0|, refine by least
 * squares, then try 15 alternative inverse scales (ntry = 7 as llama-quantize
 * calls it). */
static float iq4_block_scale(const float *xb, const float *w, uint8_t *Lb)
{
	const int ntry = 7;
	const int8_t *t = pj_iq4nl_levels;
	float amax;
	const float max = signed_absmax(xb, 32, &amax);
	if (amax < PJ_GROUP_EPS)
		return 0.0f;
	float d = -max / t[0];
	float id = 1 / d;
	float sumqx = 0, sumq2 = 0;
	for (int j = 0; j < 32; j++) {
		const int l = iq4_index(id * xb[j]);
		Lb[j] = (uint8_t)l;
		const float q = t[l];
		sumqx += w[j] * q * xb[j];
		sumq2 += w[j] * q * q;
	}
	d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
	float best = d * sumqx;
	for (int itry = -ntry; itry <= ntry; itry++) {
		id = (itry + t[0]) / max;
		sumqx = sumq2 = 0;
		for (int j = 0; j < 32; j++) {
			const float q = t[iq4_index(id * xb[j])];
			sumqx += w[j] * q * xb[j];
			sumq2 += w[j] * q * q;
		}
		if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
			d = sumqx / sumq2;
			best = d * sumqx;
		}
	}
	return d;
}

void pj_iq4_superblock(int sb, const float *x, pj_half *dh, uint8_t *q4, uint16_t *scales_h,
                       uint8_t *scales_l, const float *qw)
{
	const int nblk = sb / 32;
	uint8_t L[PJ_QK_K];
	float w[32], scales[PJ_QK_K / 32] = { 0 };

	float sigma2 = 0;
	for (int j = 0; j < sb; j++)
		sigma2 += x[j] * x[j];
	sigma2 *= 2.f / sb;

	float max_scale = 0, amax_scale = 0;
	for (int ib = 0; ib < nblk; ib++) {
		const float *xb = x + ib * 32;
		if (qw)
			block_weights(xb, qw + ib * 32, sigma2, w, 32);
		else
			for (int j = 0; j < 32; j++)
				w[j] = xb[j] * xb[j];
		const float d = iq4_block_scale(xb, w, L + ib * 32);
		scales[ib] = d;
		if (fabsf(d) > amax_scale) {
			amax_scale = fabsf(d);
			max_scale = d;
		}
	}

	if (nblk > 1) {
		/* 6-bit block scales relative to a super-block scale */
		*scales_h = 0;
		const float d = -max_scale / 32;
		*dh = pj_f2h(d);
		const float id = d ? 1 / d : 0.f;
		for (int ib = 0; ib < nblk; ib++) {
			int l = pj_nearest_int(id * scales[ib]);
			l = PJ_MAX(-32, PJ_MIN(31, l));
			const float dl = d * l;
			const float idl = dl ? 1 / dl : 0.f;
			for (int j = 0; j < 32; j++)
				L[ib * 32 + j] = (uint8_t)iq4_index(idl * x[ib * 32 + j]);
			l += 32;
			if (ib % 2 == 0)
				scales_l[ib / 2] = (uint8_t)(l & 0xf);
			else
				scales_l[ib / 2] |= (uint8_t)((l & 0xf) << 4);
			*scales_h |= (uint16_t)((l >> 4) << (2 * ib));
		}
	} else {
		*dh = pj_f2h(scales[0]);
		const float id = scales[0] ? 1 / scales[0] : 0;
		for (int j = 0; j < sb; j++)
			L[j] = (uint8_t)iq4_index(id * x[j]);
	}

	for (int i = 0; i < sb / 32; i++)
		for (int j = 0; j < 16; j++)
			q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

void pj_qrow_iq4_nl(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_iq4_nl *y = vy;
	for (int64_t ib = 0; ib < n / PJ_QK32; ib++)
		pj_iq4_superblock(32, x + ib * 32, &y[ib].d, y[ib].qs, NULL, NULL, qw ? qw + ib * 32 : NULL);
}

void pj_dqrow_iq4_nl(const void *vx, float *y, int64_t n)
{
	const pj_blk_iq4_nl *x = vx;
	for (int64_t ib = 0; ib < n / PJ_QK32; ib++, y += 32) {
		const float d = pj_h2f(x[ib].d);
		for (int j = 0; j < 16; j++) {
			y[j] = d * pj_iq4nl_levels[x[ib].qs[j] & 0xf];
			y[j + 16] = d * pj_iq4nl_levels[x[ib].qs[j] >> 4];
		}
	}
}
