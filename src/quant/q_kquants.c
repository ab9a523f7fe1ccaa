/* q_kquants.c - 256-wide super-block formats: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and
 * IQ4_XS, with the scale searches they share with the 32-wide formats.
 *
 * Every search below performs ggml's reference arithmetic in ggml's order
 * (compiled with -ffp-contract=off): float sums accumulate left to right, a
 * product a*b*c is (a*b)*c, comparisons are strict where the reference's are.
 * Without importance weights llama-quantize runs the *_ref quantizers; with
 * them the *_impl ones, which use different searches - both are here. */
#include "config.h"

#include "q_common.h"

/* ---- scale searches ------------------------------------------------------ */

/* Symmetric levels l in [-nmax, nmax-1], stored as l + nmax.  Weighted least
 * squares over 19 candidate inverse scales (make_qx_quants, rmse_type 1). */
float pj_make_qx(int n, int nmax, const float *x, int8_t *L, const float *qw)
{
	float max = 0, amax = 0;
	for (int i = 0; i < n; i++) {
		const float ax = fabsf(x[i]);
		if (ax > amax) {
			amax = ax;
			max = x[i];
		}
	}
	if (amax < PJ_GROUP_EPS) {
		memset(L, 0, (size_t)n);
		return 0.f;
	}
	float iscale = -nmax / max;
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; i++) {
		int l = pj_nearest_int(iscale * x[i]);
		l = PJ_MAX(-nmax, PJ_MIN(nmax - 1, l));
		L[i] = (int8_t)(l + nmax);
		const float w = qw ? qw[i] : x[i] * x[i];
		sumlx += w * x[i] * l;
		suml2 += w * l * l;
	}
	float scale = suml2 ? sumlx / suml2 : 0.0f;
	float best = scale * sumlx;
	for (int is = -9; is <= 9; is++) {
		if (is == 0)
			continue;
		iscale = -(nmax + 0.1f * is) / max;
		sumlx = suml2 = 0;
		for (int i = 0; i < n; i++) {
			int l = pj_nearest_int(iscale * x[i]);
			l = PJ_MAX(-nmax, PJ_MIN(nmax - 1, l));
			const float w = qw ? qw[i] : x[i] * x[i];
			sumlx += w * x[i] * l;
			suml2 += w * l * l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; i++) {
				const int l = pj_nearest_int(iscale * x[i]);
				L[i] = (int8_t)(nmax + PJ_MAX(-nmax, PJ_MIN(nmax - 1, l)));
			}
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/* Q3_K reference search: x^2-weighted, then up to 5 rounds of coordinate
 * descent on single levels (make_q3_quants with do_rmse). */
static float make_q3(int n, int nmax, const float *x, int8_t *L)
{
	float max = 0, amax = 0;
	for (int i = 0; i < n; i++) {
		const float ax = fabsf(x[i]);
		if (ax > amax) {
			amax = ax;
			max = x[i];
		}
	}
	if (amax < PJ_GROUP_EPS) {
		memset(L, 0, (size_t)n);
		return 0.f;
	}
	const float iscale = -nmax / max;
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; i++) {
		int l = pj_nearest_int(iscale * x[i]);
		l = PJ_MAX(-nmax, PJ_MIN(nmax - 1, l));
		L[i] = (int8_t)l;
		const float w = x[i] * x[i];
		sumlx += w * x[i] * l;
		suml2 += w * l * l;
	}
	for (int itry = 0; itry < 5; itry++) {
		int changed = 0;
		for (int i = 0; i < n; i++) {
			const float w = x[i] * x[i];
			float slx = sumlx - w * x[i] * L[i];
			if (slx > 0) {
				float sl2 = suml2 - w * L[i] * L[i];
				int nl = pj_nearest_int(x[i] * sl2 / slx);
				nl = PJ_MAX(-nmax, PJ_MIN(nmax - 1, nl));
				if (nl != L[i]) {
					slx += w * x[i] * nl;
					sl2 += w * nl * nl;
					if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
						L[i] = (int8_t)nl;
						sumlx = slx;
						suml2 = sl2;
						changed++;
					}
				}
			}
		}
		if (!changed)
			break;
	}
	for (int i = 0; i < n; i++)
		L[i] = (int8_t)(L[i] + nmax);
	return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Affine levels in [0, nmax] with a non-positive minimum: grid search over
 * nstep+1 inverse scales, each refined by a weighted 2x2 least squares.
 * ref = true is make_qkx2_quants (weights required, min clipped before the
 * flat test, "max == min"); false is make_qkx3_quants (NULL weights mean
 * x^2, "max <= min").  *the_min receives -min. */
static float make_qkx(bool ref, int n, int nmax, const float *x, const float *weights, uint8_t *L,
                      float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep, bool use_mad)
{
#define WGT(i) (weights ? weights[i] : x[i] * x[i])
	float min = x[0], max = x[0];
	float sum_w = WGT(0);
	float sum_x = sum_w * x[0];
	for (int i = 1; i < n; i++) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		const float w = WGT(i);
		sum_w += w;
		sum_x += w * x[i];
	}
	if (min > 0)
		min = 0;
	if (ref ? max == min : max <= min) {
		memset(L, 0, (size_t)n);
		*the_min = -min;
		return 0.f;
	}
	float iscale = nmax / (max - min);
	float scale = 1 / iscale;
	float best_err = 0;
	for (int i = 0; i < n; i++) {
		const int l = pj_nearest_int(iscale * (x[i] - min));
		L[i] = (uint8_t)PJ_MAX(0, PJ_MIN(nmax, l));
		float diff = scale * L[i] + min - x[i];
		diff = use_mad ? fabsf(diff) : diff * diff;
		best_err += WGT(i) * diff;
	}
	if (nstep < 1) {
		*the_min = -min;
		return scale;
	}
	for (int is = 0; is <= nstep; is++) {
		iscale = (rmin + rdelta * is + nmax) / (max - min);
		float sum_l = 0, sum_l2 = 0, sum_xl = 0;
		for (int i = 0; i < n; i++) {
			int l = pj_nearest_int(iscale * (x[i] - min));
			l = PJ_MAX(0, PJ_MIN(nmax, l));
			Laux[i] = (uint8_t)l;
			const float w = WGT(i);
			sum_l += w * l;
			sum_l2 += w * l * l;
			sum_xl += w * l * x[i];
		}
		const float D = sum_w * sum_l2 - sum_l * sum_l;
		if (D > 0) {
			float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
			float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
			if (this_min > 0) {
				this_min = 0;
				this_scale = sum_xl / sum_l2;
			}
			float err = 0;
			for (int i = 0; i < n; i++) {
				float diff = this_scale * Laux[i] + this_min - x[i];
				diff = use_mad ? fabsf(diff) : diff * diff;
				err += WGT(i) * diff;
			}
			if (err < best_err) {
				memcpy(L, Laux, (size_t)n);
				best_err = err;
				scale = this_scale;
				min = this_min;
			}
		}
	}
	*the_min = -min;
	return scale;
#undef WGT
}

float pj_make_qkx3(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min,
                   uint8_t *Laux, float rmin, float rdelta, int nstep, bool use_mad)
{
	return make_qkx(false, n, nmax, x, w, L, the_min, Laux, rmin, rdelta, nstep, use_mad);
}

/* Non-negative levels in [0, nmax] for the sub-block scales themselves,
 * weighted by the sub-blocks' total weights (make_qp_quants). */
float pj_make_qp(int n, int nmax, const float *x, uint8_t *L, const float *qw)
{
	float max = 0;
	for (int i = 0; i < n; i++)
		max = PJ_MAX(max, x[i]);
	if (max < PJ_GROUP_EPS) {
		memset(L, 0, (size_t)n);
		return 0.f;
	}
	float iscale = nmax / max;
	for (int i = 0; i < n; i++)
		L[i] = (uint8_t)pj_nearest_int(iscale * x[i]);
	const float scale = 1 / iscale;
	float best_mse = 0;
	for (int i = 0; i < n; i++) {
		const float diff = x[i] - scale * L[i];
		best_mse += qw[i] * diff * diff;
	}
	for (int is = -4; is <= 4; is++) {
		if (is == 0)
			continue;
		const float iscale_is = (0.1f * is + nmax) / max;
		const float scale_is = 1 / iscale_is;
		float mse = 0;
		for (int i = 0; i < n; i++) {
			const int l = PJ_MIN(nmax, pj_nearest_int(iscale_is * x[i]));
			const float diff = x[i] - scale_is * l;
			mse += qw[i] * diff * diff;
		}
		if (mse < best_mse) {
			best_mse = mse;
			iscale = iscale_is;
		}
	}
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; i++) {
		const int l = PJ_MIN(nmax, pj_nearest_int(iscale * x[i]));
		L[i] = (uint8_t)l;
		const float w = qw[i];
		sumlx += w * x[i] * l;
		suml2 += w * l * l;
	}
	for (int itry = 0; itry < 5; itry++) {
		int changed = 0;
		for (int i = 0; i < n; i++) {
			const float w = qw[i];
			float slx = sumlx - w * x[i] * L[i];
			float sl2 = suml2 - w * L[i] * L[i];
			if (slx > 0 && sl2 > 0) {
				const int nl = PJ_MIN(nmax, pj_nearest_int(x[i] * sl2 / slx));
				if (nl != L[i]) {
					slx += w * x[i] * nl;
					sl2 += w * nl * nl;
					if (slx * slx * suml2 > sumlx * sumlx * sl2) {
						L[i] = (uint8_t)nl;
						sumlx = slx;
						suml2 = sl2;
						changed++;
					}
				}
			}
		}
		if (!changed)
			break;
	}
	return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---- shared packing ------------------------------------------------------ */

/* 2-bit levels of 256 elements: byte l of each 32-byte group g holds
 * elements 128g + l, +32, +64, +96 in bit pairs 0, 2, 4, 6. */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
	for (int j = 0; j < PJ_QK_K; j += 128)
		for (int l = 0; l < 32; l++)
			qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
			                          (L[j + l + 96] << 6));
}

/* Q4_K/Q5_K 6-bit scale and min of sub-block j, 12 bytes for 8 pairs. */
void pj_put_scale_min_k4(uint8_t *s, int j, uint8_t ls, uint8_t lm)
{
	if (j < 4) {
		s[j] = ls;
		s[j + 4] = lm;
	} else {
		s[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
		s[j - 4] |= (uint8_t)((ls >> 4) << 6);
		s[j] |= (uint8_t)((lm >> 4) << 6);
	}
}

void pj_get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
	}
}

/* Q3_K 6-bit signed scale (stored + 32) of sub-block j in 12 bytes. */
static void put_scale_q3(uint8_t *s, int j, int l)
{
	if (j < 8)
		s[j] = (uint8_t)(l & 0xF);
	else
		s[j - 8] |= (uint8_t)((l & 0xF) << 4);
	l >>= 4;
	s[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
}

int pj_q3k_scale(const uint8_t *s, int j)
{
	int8_t sc = (int8_t)(j < 8 ? s[j] & 0xF : s[j - 8] >> 4);
	sc = (int8_t)((sc | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
	return sc;
}

static float row_block_sumsq(const float *x, int n)
{
	float s = 0;
	for (int j = 0; j < n; j++)
		s += x[j] * x[j];
	return s;
}

/* ---- Q2_K ---------------------------------------------------------------- */

void pj_q2k_pack(pj_blk_q2_k *y, const uint8_t *L) { pack_2bit(L, y->qs); }

static void q2k_finish(const float *x, pj_blk_q2_k *y, uint8_t *L)
{
	const float dall = pj_h2f(y->d), mall = pj_h2f(y->dmin);
	for (int j = 0; j < 16; j++) {
		const float d = dall * (y->scales[j] & 0xF);
		if (!d)
			continue;
		const float dm = mall * (y->scales[j] >> 4);
		for (int ii = 0; ii < 16; ii++) {
			int l = pj_nearest_int((x[16 * j + ii] + dm) / d);
			L[16 * j + ii] = (uint8_t)PJ_MAX(0, PJ_MIN(3, l));
		}
	}
	pj_q2k_pack(y, L);
}

/* 4-bit scales and minimums of the 16 sub-blocks: scaled to 15 by their
 * maximum, or make_qp_quants weighted by the sub-blocks' total weights sw
 * when there are importance weights. */
void pj_q2k_scales(pj_blk_q2_k *y, const float *scales, const float *mins, const float *sw)
{
	if (!sw) {
		const float q4scale = 15.f;
		float max_scale = 0, max_min = 0;
		for (int j = 0; j < 16; j++) {
			if (scales[j] > max_scale)
				max_scale = scales[j];
			if (mins[j] > max_min)
				max_min = mins[j];
		}
		if (max_scale > 0) {
			const float iscale = q4scale / max_scale;
			for (int j = 0; j < 16; j++)
				y->scales[j] = (uint8_t)pj_nearest_int(iscale * scales[j]);
			y->d = pj_f2h(max_scale / q4scale);
		} else {
			memset(y->scales, 0, 16);
			y->d = pj_f2h(0.f);
		}
		if (max_min > 0) {
			const float iscale = q4scale / max_min;
			for (int j = 0; j < 16; j++)
				y->scales[j] |= (uint8_t)(pj_nearest_int(iscale * mins[j]) << 4);
			y->dmin = pj_f2h(max_min / q4scale);
		} else {
			y->dmin = pj_f2h(0.f);
		}
	} else {
		uint8_t Ls[16], Lm[16];
		y->d = pj_f2h(pj_make_qp(16, 15, scales, Ls, sw));
		y->dmin = pj_f2h(pj_make_qp(16, 15, mins, Lm, sw));
		for (int j = 0; j < 16; j++)
			y->scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
	}
}

void pj_qrow_q2_k(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q2_k *y = vy;
	uint8_t L[PJ_QK_K], Laux[16];
	float w[16], mins[16], scales[16], sw[16];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		if (!qw) {
			for (int j = 0; j < 16; j++) {
				for (int l = 0; l < 16; l++)
					w[l] = fabsf(x[16 * j + l]);
				scales[j] = make_qkx(true, 16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f,
				                     15, true);
			}
		} else {
			const float *qwb = qw + PJ_QK_K * i;
			const float sigma2 = row_block_sumsq(x, PJ_QK_K) / PJ_QK_K;
			for (int j = 0; j < 16; j++) {
				for (int l = 0; l < 16; l++)
					w[l] = qwb[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
				float s = 0;
				for (int l = 0; l < 16; l++)
					s += w[l];
				sw[j] = s;
				scales[j] = make_qkx(false, 16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f,
				                     36, false);
			}
		}
		pj_q2k_scales(&y[i], scales, mins, qw ? sw : NULL);
		q2k_finish(x, &y[i], L);
	}
}

void pj_dqrow_q2_k(const void *vx, float *y, int64_t n)
{
	const pj_blk_q2_k *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d), min = pj_h2f(x[i].dmin);
		for (int e = 0; e < PJ_QK_K; e++) {
			const int g = e / 128, r = e % 128, shift = 2 * (r / 32), l = r % 32;
			const uint8_t sc = x[i].scales[e / 16];
			const int q = (x[i].qs[32 * g + l] >> shift) & 3;
			*y++ = d * (sc & 0xF) * q - min * (sc >> 4);
		}
	}
}

/* ---- Q3_K ---------------------------------------------------------------- */

static void q3k_finish(const float *x, pj_blk_q3_k *y, int8_t *L)
{
	const float dall = pj_h2f(y->d);
	for (int j = 0; j < 16; j++) {
		const float d = dall * pj_q3k_scale(y->scales, j);
		if (!d)
			continue;
		for (int ii = 0; ii < 16; ii++) {
			int l = pj_nearest_int(x[16 * j + ii] / d);
			L[16 * j + ii] = (int8_t)(PJ_MAX(-4, PJ_MIN(3, l)) + 4);
		}
	}
	pj_q3k_pack(y, L);
}

/* Levels 0..7: bit 2 of element j goes to bit j / 32 of hmask[j % 32], the
 * low two bits to qs (no branches: the high bits are data, not a pattern). */
void pj_q3k_pack(pj_blk_q3_k *y, const int8_t *L)
{
	uint8_t U[PJ_QK_K];
	for (int l = 0; l < 32; l++) {
		unsigned m = 0;
		for (int g = 0; g < 8; g++)
			m |= (unsigned)((L[32 * g + l] >> 2) & 1) << g;
		y->hmask[l] = (uint8_t)m;
	}
	for (int j = 0; j < PJ_QK_K; j++)
		U[j] = (uint8_t)(L[j] & 3);
	pack_2bit(U, y->qs);
}

/* 6-bit signed scales of the 16 sub-blocks: scaled to -32 by the largest in
 * magnitude, or make_qx_quants weighted by sw with importance weights. */
void pj_q3k_scales(pj_blk_q3_k *y, const float *scales, const float *sw)
{
	memset(y->scales, 0, 12);
	if (!sw) {
		float max_scale = 0, amax = 0;
		for (int j = 0; j < 16; j++) {
			const float a = fabsf(scales[j]);
			if (a > amax) {
				amax = a;
				max_scale = scales[j];
			}
		}
		if (max_scale) {
			const float iscale = -32.f / max_scale;
			for (int j = 0; j < 16; j++) {
				int8_t l = (int8_t)pj_nearest_int(iscale * scales[j]);
				l = (int8_t)(PJ_MAX(-32, PJ_MIN(31, l)) + 32);
				put_scale_q3(y->scales, j, l);
			}
			y->d = pj_f2h(1 / iscale);
		} else {
			y->d = pj_f2h(0.f);
		}
	} else {
		int8_t Ls[16];
		const float d_block = pj_make_qx(16, 32, scales, Ls, sw);
		for (int j = 0; j < 16; j++)
			put_scale_q3(y->scales, j, Ls[j]);
		y->d = pj_f2h(d_block);
	}
}

void pj_qrow_q3_k(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q3_k *y = vy;
	int8_t L[PJ_QK_K];
	float scales[16], w[16], sw[16];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		if (!qw) {
			for (int j = 0; j < 16; j++)
				scales[j] = make_q3(16, 4, x + 16 * j, L + 16 * j);
		} else {
			const float *qwb = qw + PJ_QK_K * i;
			const float sigma2 = 2 * row_block_sumsq(x, PJ_QK_K) / PJ_QK_K;
			for (int j = 0; j < 16; j++) {
				for (int l = 0; l < 16; l++)
					w[l] = qwb[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
				float s = 0;
				for (int l = 0; l < 16; l++)
					s += w[l];
				sw[j] = s;
				scales[j] = pj_make_qx(16, 4, x + 16 * j, L + 16 * j, w);
			}
		}
		pj_q3k_scales(&y[i], scales, qw ? sw : NULL);
		q3k_finish(x, &y[i], L);
	}
}

void pj_dqrow_q3_k(const void *vx, float *y, int64_t n)
{
	const pj_blk_q3_k *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float dall = pj_h2f(x[i].d);
		for (int e = 0; e < PJ_QK_K; e++) {
			const int g = e / 128, r = e % 128, shift = 2 * (r / 32), l = r % 32;
			const float dl = dall * (pj_q3k_scale(x[i].scales, e / 16));
			const int lo = (x[i].qs[32 * g + l] >> shift) & 3;
			const int hi = (x[i].hmask[e % 32] >> (e / 32)) & 1;
			*y++ = dl * (lo - (hi ? 0 : 4));
		}
	}
}

/* ---- Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins ----------- */

static void qk45_quantize(int nmax, const float *x, pj_half *dd, pj_half *dmin, uint8_t *sc12, uint8_t *L,
                          const float *qwb)
{
	uint8_t Laux[32];
	float w[32], mins[8], scales[8];
	if (!qwb) {
		float max_scale = 0, max_min = 0;
		for (int j = 0; j < 8; j++) {
			const float *xb = x + 32 * j;
			float sum_x2 = 0;
			for (int l = 0; l < 32; l++)
				sum_x2 += xb[l] * xb[l];
			const float av_x = sqrtf(sum_x2 / 32);
			for (int l = 0; l < 32; l++)
				w[l] = av_x + fabsf(xb[l]);
			if (nmax == 15)
				scales[j] = make_qkx(true, 32, 15, xb, w, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20, false);
			else
				scales[j] = make_qkx(true, 32, 31, xb, w, L + 32 * j, &mins[j], Laux, -0.5f, 0.1f, 15, false);
			if (scales[j] > max_scale)
				max_scale = scales[j];
			if (mins[j] > max_min)
				max_min = mins[j];
		}
		const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
		const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
		for (int j = 0; j < 8; j++) {
			uint8_t ls = (uint8_t)pj_nearest_int(inv_scale * scales[j]);
			uint8_t lm = (uint8_t)pj_nearest_int(inv_min * mins[j]);
			pj_put_scale_min_k4(sc12, j, PJ_MIN(63, ls), PJ_MIN(63, lm));
		}
		*dd = pj_f2h(max_scale / 63.f);
		*dmin = pj_f2h(max_min / 63.f);
	} else {
		float sw[8];
		uint8_t Ls[8], Lm[8];
		const float sigma2 = 2 * row_block_sumsq(x, PJ_QK_K) / PJ_QK_K;
		for (int j = 0; j < 8; j++) {
			const float *xb = x + 32 * j;
			for (int l = 0; l < 32; l++)
				w[l] = qwb[32 * j + l] * sqrtf(sigma2 + xb[l] * xb[l]);
			float s = 0;
			for (int l = 0; l < 32; l++)
				s += w[l];
			sw[j] = s;
			scales[j] = make_qkx(false, 32, nmax, xb, w, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
		}
		const float d_block = pj_make_qp(8, 63, scales, Ls, sw);
		const float m_block = pj_make_qp(8, 63, mins, Lm, sw);
		for (int j = 0; j < 8; j++)
			pj_put_scale_min_k4(sc12, j, PJ_MIN(63, Ls[j]), PJ_MIN(63, Lm[j]));
		*dd = pj_f2h(d_block);
		*dmin = pj_f2h(m_block);
	}
	const float dall = pj_h2f(*dd), mall = pj_h2f(*dmin);
	for (int j = 0; j < 8; j++) {
		uint8_t sc, m;
		pj_get_scale_min_k4(j, sc12, &sc, &m);
		const float d = dall * sc;
		if (!d)
			continue;
		const float dm = mall * m;
		for (int ii = 0; ii < 32; ii++) {
			const int l = pj_nearest_int((x[32 * j + ii] + dm) / d);
			L[32 * j + ii] = (uint8_t)PJ_MAX(0, PJ_MIN(nmax, l));
		}
	}
}

void pj_qrow_q4_k(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q4_k *y = vy;
	uint8_t L[PJ_QK_K];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		memset(y[i].scales, 0, 12);
		qk45_quantize(15, x, &y[i].d, &y[i].dmin, y[i].scales, L, qw ? qw + PJ_QK_K * i : NULL);
		/* 64-element chunks: first 32 in low nibbles, next 32 in high nibbles */
		for (int c = 0; c < 4; c++)
			for (int l = 0; l < 32; l++)
				y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + l + 32] << 4));
	}
}

void pj_dqrow_q4_k(const void *vx, float *y, int64_t n)
{
	const pj_blk_q4_k *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d), min = pj_h2f(x[i].dmin);
		for (int c = 0; c < 4; c++) {
			uint8_t s1, m1, s2, m2;
			pj_get_scale_min_k4(2 * c, x[i].scales, &s1, &m1);
			pj_get_scale_min_k4(2 * c + 1, x[i].scales, &s2, &m2);
			const float d1 = d * s1, mm1 = min * m1, d2 = d * s2, mm2 = min * m2;
			const uint8_t *q = x[i].qs + 32 * c;
			for (int l = 0; l < 32; l++)
				*y++ = d1 * (q[l] & 0xF) - mm1;
			for (int l = 0; l < 32; l++)
				*y++ = d2 * (q[l] >> 4) - mm2;
		}
	}
}

void pj_qrow_q5_k(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q5_k *y = vy;
	uint8_t L[PJ_QK_K];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		memset(y[i].scales, 0, 12);
		qk45_quantize(31, x, &y[i].d, &y[i].dmin, y[i].scales, L, qw ? qw + PJ_QK_K * i : NULL);
		memset(y[i].qh, 0, 32);
		for (int c = 0; c < 4; c++) {
			for (int l = 0; l < 32; l++) {
				int l1 = L[64 * c + l], l2 = L[64 * c + l + 32];
				if (l1 > 15) {
					l1 -= 16;
					y[i].qh[l] |= (uint8_t)(1u << (2 * c));
				}
				if (l2 > 15) {
					l2 -= 16;
					y[i].qh[l] |= (uint8_t)(2u << (2 * c));
				}
				y[i].qs[32 * c + l] = (uint8_t)(l1 | (l2 << 4));
			}
		}
	}
}

void pj_dqrow_q5_k(const void *vx, float *y, int64_t n)
{
	const pj_blk_q5_k *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d), min = pj_h2f(x[i].dmin);
		for (int c = 0; c < 4; c++) {
			uint8_t s1, m1, s2, m2;
			pj_get_scale_min_k4(2 * c, x[i].scales, &s1, &m1);
			pj_get_scale_min_k4(2 * c + 1, x[i].scales, &s2, &m2);
			const float d1 = d * s1, mm1 = min * m1, d2 = d * s2, mm2 = min * m2;
			const uint8_t *q = x[i].qs + 32 * c;
			for (int l = 0; l < 32; l++)
				*y++ = d1 * ((q[l] & 0xF) + ((x[i].qh[l] >> (2 * c)) & 1 ? 16 : 0)) - mm1;
			for (int l = 0; l < 32; l++)
				*y++ = d2 * ((q[l] >> 4) + ((x[i].qh[l] >> (2 * c + 1)) & 1 ? 16 : 0)) - mm2;
		}
	}
}

/* ---- Q6_K: 16 sub-blocks of 16, 8-bit signed scales ---------------------- */

void pj_qrow_q6_k(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q6_k *y = vy;
	int8_t L[PJ_QK_K];
	float scales[16];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		const float *qwb = qw ? qw + PJ_QK_K * i : NULL;
		float max_scale = 0, max_abs_scale = 0;
		for (int ib = 0; ib < 16; ib++) {
			/* weighted: the raw importance weights, no sigma term */
			const float s = pj_make_qx(16, 32, x + 16 * ib, L + 16 * ib, qwb ? qwb + 16 * ib : NULL);
			scales[ib] = s;
			if (fabsf(s) > max_abs_scale) {
				max_abs_scale = fabsf(s);
				max_scale = s;
			}
		}
		if (max_abs_scale < PJ_GROUP_EPS) {
			memset(&y[i], 0, sizeof y[i]);
			y[i].d = pj_f2h(0.f);
			continue;
		}
		const float iscale = -128.f / max_scale;
		y[i].d = pj_f2h(1 / iscale);
		for (int ib = 0; ib < 16; ib++)
			y[i].scales[ib] = (int8_t)PJ_MIN(127, pj_nearest_int(iscale * scales[ib]));
		const float dall = pj_h2f(y[i].d);
		for (int j = 0; j < 16; j++) {
			const float d = dall * y[i].scales[j];
			if (!d)
				continue;
			for (int ii = 0; ii < 16; ii++) {
				const int l = pj_nearest_int(x[16 * j + ii] / d);
				L[16 * j + ii] = (int8_t)(PJ_MAX(-32, PJ_MIN(31, l)) + 32);
			}
		}
		/* 128-element halves: low nibbles of e, e+32 / e+64, e+96 share bytes,
		 * the four high bit pairs share one qh byte */
		for (int h = 0; h < 2; h++) {
			const uint8_t *U = (const uint8_t *)L + 128 * h;
			uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
			for (int l = 0; l < 32; l++) {
				ql[l] = (uint8_t)((U[l] & 0xF) | ((U[l + 64] & 0xF) << 4));
				ql[l + 32] = (uint8_t)((U[l + 32] & 0xF) | ((U[l + 96] & 0xF) << 4));
				qh[l] = (uint8_t)((U[l] >> 4) | ((U[l + 32] >> 4) << 2) | ((U[l + 64] >> 4) << 4) |
				                  ((U[l + 96] >> 4) << 6));
			}
		}
	}
}

void pj_dqrow_q6_k(const void *vx, float *y, int64_t n)
{
	const pj_blk_q6_k *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d);
		for (int h = 0; h < 2; h++) {
			const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
			const int8_t *sc = x[i].scales + 8 * h;
			for (int l = 0; l < 32; l++) {
				const int is = l / 16;
				const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
				const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
				const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
				y[l] = d * sc[is] * q1;
				y[l + 32] = d * sc[is + 2] * q2;
				y[l + 64] = d * sc[is + 4] * q3;
				y[l + 96] = d * sc[is + 6] * q4;
			}
			y += 128;
		}
	}
}

/* ---- IQ4_XS: the IQ4 search over a 256 super-block ------------------------ */

void pj_qrow_iq4_xs(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_iq4_xs *y = vy;
	for (int64_t i = 0; i < n / PJ_QK_K; i++)
		pj_iq4_superblock(PJ_QK_K, x + PJ_QK_K * i, &y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l,
		                  qw ? qw + PJ_QK_K * i : NULL);
}

void pj_dqrow_iq4_xs(const void *vx, float *y, int64_t n)
{
	const pj_blk_iq4_xs *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d);
		for (int ib = 0; ib < 8; ib++) {
			const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
			const float dl = d * (ls - 32);
			const uint8_t *qs = x[i].qs + 16 * ib;
			for (int j = 0; j < 16; j++) {
				y[j] = dl * pj_iq4nl_levels[qs[j] & 0xf];
				y[j + 16] = dl * pj_iq4nl_levels[qs[j] >> 4];
			}
			y += 32;
		}
	}
}
