/* q_kquants_x8_body.h - the lane kernels of q_kquants_x8.c for one lane
 * width W (4: SSE2 copy, 8: AVX2 copy).  No include guard: q_kquants_x8.c
 * includes it once per width, with W defined.  Every function works on W
 * sub-blocks of a super-block at once, lane k holding sub-block g*W + k;
 * see q_simd.h for why that is bit-identical to the scalar kernels. */

#define VF PJ_X8_CAT(pj_vf, W)
#define VI PJ_X8_CAT(pj_vi, W)
#define V(f) PJ_X8_CAT(pj_v##f, W)
#define FN(name) PJ_X8_CAT(name##_w, W)
#if W == 8
#define BODY_INLINE PJ_X8_INLINE PJ_X8_TARGET_AVX2
#else
#define BODY_INLINE PJ_X8_INLINE
#endif

/* lane-wise sqrtf: sqrtps is the correctly rounded IEEE square root */
BODY_INLINE VF FN(vsqrt)(VF f)
{
#if defined(__SSE__)
	for (int h = 0; h < W; h += 4) {
		__m128 t;
		memcpy(&t, (char *)&f + 4 * h, 16);
		t = _mm_sqrt_ps(t);
		memcpy((char *)&f + 4 * h, &t, 16);
	}
#else
	for (int k = 0; k < W; k++)
		f[k] = sqrtf(f[k]);
#endif
	return f;
}

BODY_INLINE bool FN(any)(VI m)
{
	const VI z = { 0 };
	return memcmp(&m, &z, sizeof m) != 0;
}

/* The searches run two lane groups (2W sub-blocks) in the same loops: each
 * lane's sums are a serial chain of additions, so a second, independent
 * group gives the CPU work to overlap with their latency.  "H" loops below
 * go over the two groups and are unrolled; nothing crosses between them. */
#define H_LOOP _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++)

/* make_qx_quants (rmse_type 1) on 2 x W sub-blocks of 16.  Levels l + nmax,
 * l in [-nmax, nmax-1]; w = wt[h][i], or x^2 when wt is NULL; 19 candidate
 * inverse scales.  A lane whose max |x| is below the all-zero threshold gives
 * scale 0 and levels 0, as the scalar early return does.
 *
 * Levels are kept as floats: with v = iscale * x and |x| <= |max|, |v| is at
 * most nmax + 0.9, where pj_nearest_int(v) is exactly (v + 1.5*2^23) -
 * 1.5*2^23 and clamping before or after the conversion is the same.  w * x,
 * the first product of the scalar "w * x[i] * l", does not depend on l and is
 * formed once per element (the same single rounding). */
/* (float)clamp(pj_nearest_int(v), lo, hi) for |v| < 2^22 */
BODY_INLINE VF FN(qx_level)(VF v, VF magic, VF lo, VF hi)
{
	VF r = (v + magic) - magic;
	r = V(self)(r < lo, lo, r);
	return V(self)(r > hi, hi, r);
}

/* The element of largest magnitude among n (the first of equal ones, as the
 * scalar "ax > amax"), and the lanes where that is below the all-zero
 * threshold. */
BODY_INLINE VI FN(absmax)(const VF *x, int n, VF *max)
{
	VF amax = V(splat)(0.f);
	*max = amax;
	for (int i = 0; i < n; i++) {
		const VF ax = V(abs)(x[i]);
		const VI m = ax > amax;
		amax = V(self)(m, ax, amax);
		*max = V(self)(m, x[i], *max);
	}
	return amax < PJ_GROUP_EPS;
}

BODY_INLINE void FN(qx_search2)(int nmax, VF xt[2][16], VF wt[2][16], VI Lt[2][16], VF scale_out[2])
{
	enum { N = 16 };
	const VF zero = V(splat)(0.f), magic = V(splat)(12582912.f);
	const VF flo = V(splat)((float)-nmax), fhi = V(splat)((float)(nmax - 1));
	VF max[2], scale[2], best[2], sumlx[2], suml2[2], w[2][N], wx[2][N], Lf[2][N];
	VI flat[2];
	H_LOOP {
		flat[h] = FN(absmax)(xt[h], N, &max[h]);
		for (int i = 0; i < N; i++) {
			w[h][i] = wt ? wt[h][i] : xt[h][i] * xt[h][i];
			wx[h][i] = w[h][i] * xt[h][i];
		}
	}
#define QX_LEVEL(iscale, x) FN(qx_level)((iscale) * (x), magic, flo, fhi)
	H_LOOP {
		const VF iscale = flo / max[h];
		sumlx[h] = suml2[h] = zero;
		for (int i = 0; i < N; i++) {
			const VF lf = QX_LEVEL(iscale, xt[h][i]);
			Lf[h][i] = lf;
			sumlx[h] += wx[h][i] * lf;
			suml2[h] += w[h][i] * lf * lf;
		}
		scale[h] = V(self)(suml2[h] != 0.f, sumlx[h] / suml2[h], zero);
		best[h] = scale[h] * sumlx[h];
	}
	for (int is = -9; is <= 9; is++) {
		if (is == 0)
			continue;
		const float num = -(nmax + 0.1f * is);
		VF iscale[2], Lc[2][N];
		H_LOOP {
			iscale[h] = V(splat)(num) / max[h];
			sumlx[h] = suml2[h] = zero;
		}
		for (int i = 0; i < N; i++) {
			H_LOOP {
				const VF lf = QX_LEVEL(iscale[h], xt[h][i]);
				Lc[h][i] = lf;
				sumlx[h] += wx[h][i] * lf;
				suml2[h] += w[h][i] * lf * lf;
			}
		}
		H_LOOP {
			const VI upd = (suml2[h] > 0.f) & (sumlx[h] * sumlx[h] > best[h] * suml2[h]);
			if (FN(any)(upd)) {
				for (int i = 0; i < N; i++)
					Lf[h][i] = V(self)(upd, Lc[h][i], Lf[h][i]);
				const VF sc = sumlx[h] / suml2[h];
				scale[h] = V(self)(upd, sc, scale[h]);
				best[h] = V(self)(upd, sc * sumlx[h], best[h]);
			}
		}
	}
#undef QX_LEVEL
	H_LOOP {
		for (int i = 0; i < N; i++)
			Lt[h][i] = V(seli)(flat[h], (VI){ 0 }, __builtin_convertvector(Lf[h][i], VI) + nmax);
		scale_out[h] = V(self)(flat[h], zero, scale[h]);
	}
}

/* make_qkx2_quants (ref: weights given, "max == min" is flat) or
 * make_qkx3_quants ("max <= min") on 2 x W sub-blocks of n <= 32 (32 for
 * Q4_K/Q5_K, 16 for Q2_K); mad: weighted absolute instead of squared errors
 * (use_mad).  Affine levels in [0, nmax]; the_min[h] = -min. */
BODY_INLINE void FN(qkx_search2)(bool ref, int nmax, int n, bool mad, VF xt[2][32], VF wt[2][32], VI Lt[2][32],
                                  VF scale_out[2], VF the_min[2], float rmin, float rdelta, int nstep)
{
	const int N = n;
	const VF zero = V(splat)(0.f);
	const VI izero = { 0 }, inmax = (VI){ 0 } + nmax;
	VF min[2], max[2], sum_w[2], sum_x[2], min0[2], scale[2], best_err[2];
	VI flat[2];
	H_LOOP {
		min[h] = xt[h][0];
		max[h] = xt[h][0];
		sum_w[h] = wt[h][0];
		sum_x[h] = sum_w[h] * xt[h][0];
		for (int i = 1; i < N; i++) {
			min[h] = V(self)(xt[h][i] < min[h], xt[h][i], min[h]);
			max[h] = V(self)(xt[h][i] > max[h], xt[h][i], max[h]);
			sum_w[h] += wt[h][i];
			sum_x[h] += wt[h][i] * xt[h][i];
		}
		min[h] = V(self)(min[h] > 0.f, zero, min[h]);
		flat[h] = ref ? (max[h] == min[h]) : (max[h] <= min[h]);
		min0[h] = min[h];
		const VF iscale = V(splat)((float)nmax) / (max[h] - min[h]);
		scale[h] = V(splat)(1.f) / iscale;
		best_err[h] = zero;
		for (int i = 0; i < N; i++) {
			const VI l = V(maxi)(izero, V(mini)(inmax, V(nint)(iscale * (xt[h][i] - min[h]))));
			Lt[h][i] = l;
			VF diff = scale[h] * V(tof)(l) + min[h] - xt[h][i];
			diff = mad ? V(abs)(diff) : diff * diff;
			best_err[h] += wt[h][i] * diff;
		}
	}
	for (int is = 0; is <= nstep; is++) {
		const float num = rmin + rdelta * is + nmax;
		VF iscale[2], sum_l[2], sum_l2[2], sum_xl[2];
		VI Laux[2][32];
		H_LOOP {
			/* min moves with every accepted candidate, as in the scalar loop */
			iscale[h] = V(splat)(num) / (max[h] - min[h]);
			sum_l[h] = sum_l2[h] = sum_xl[h] = zero;
		}
		for (int i = 0; i < N; i++) {
			H_LOOP {
				const VI l = V(maxi)(izero, V(mini)(inmax, V(nint)(iscale[h] * (xt[h][i] - min[h]))));
				Laux[h][i] = l;
				const VF lf = V(tof)(l);
				sum_l[h] += wt[h][i] * lf;
				sum_l2[h] += wt[h][i] * lf * lf;
				sum_xl[h] += wt[h][i] * lf * xt[h][i];
			}
		}
		VF D[2], this_scale[2], this_min[2], err[2];
		H_LOOP {
			D[h] = sum_w[h] * sum_l2[h] - sum_l[h] * sum_l[h];
			this_scale[h] = (sum_w[h] * sum_xl[h] - sum_x[h] * sum_l[h]) / D[h];
			this_min[h] = (sum_l2[h] * sum_x[h] - sum_l[h] * sum_xl[h]) / D[h];
			const VI mpos = this_min[h] > 0.f;
			this_min[h] = V(self)(mpos, zero, this_min[h]);
			this_scale[h] = V(self)(mpos, sum_xl[h] / sum_l2[h], this_scale[h]);
			err[h] = zero;
		}
		for (int i = 0; i < N; i++) {
			H_LOOP {
				VF diff = this_scale[h] * V(tof)(Laux[h][i]) + this_min[h] - xt[h][i];
				diff = mad ? V(abs)(diff) : diff * diff;
				err[h] += wt[h][i] * diff;
			}
		}
		H_LOOP {
			/* a candidate counts only where D > 0, as the scalar test */
			const VI upd = (D[h] > 0.f) & (err[h] < best_err[h]);
			if (FN(any)(upd)) {
				for (int i = 0; i < N; i++)
					Lt[h][i] = V(seli)(upd, Laux[h][i], Lt[h][i]);
				best_err[h] = V(self)(upd, err[h], best_err[h]);
				scale[h] = V(self)(upd, this_scale[h], scale[h]);
				min[h] = V(self)(upd, this_min[h], min[h]);
			}
		}
	}
	H_LOOP {
		for (int i = 0; i < N; i++)
			Lt[h][i] = V(seli)(flat[h], izero, Lt[h][i]);
		the_min[h] = -V(self)(flat[h], min0[h], min[h]);
		scale_out[h] = V(self)(flat[h], zero, scale[h]);
	}
}

/* ---- Q4_K / Q5_K: 8 sub-blocks of 32 ----------------------------------------
 * One search call covers 2W sub-blocks: W = 4 gives one super-block in two
 * groups, W = 8 two consecutive super-blocks, one per group. */
enum { FN(NB) = W / 4 };

/* Final levels of one sub-block of n elements (a multiple of W), each on its
 * own: clamp(nearest((x + dm) / d), lo, hi) + off. */
BODY_INLINE void FN(round_sub)(const float *x, int n, float dm, float d, int lo, int hi, int off, uint8_t *L)
{
	const VI vlo = (VI){ 0 } + lo, vhi = (VI){ 0 } + hi;
	for (int ii = 0; ii < n; ii += W) {
		VF xv;
		memcpy(&xv, x + ii, sizeof xv);
		const VI l = V(maxi)(vlo, V(mini)(vhi, V(nint)((xv + dm) / d))) + off;
		for (int k = 0; k < W; k++)
			L[ii + k] = (uint8_t)l[k];
	}
}

/* The scalar steps of one super-block once its sub-blocks are searched. */
BODY_INLINE void FN(qk45_finish)(int nmax, bool weighted, const float *x, const float *scales, const float *mins,
                                  const float *sw, pj_half *dd, pj_half *dmin, uint8_t *sc12, uint8_t *L)
{
	memset(sc12, 0, 12);
	if (!weighted) {
		float max_scale = 0, max_min = 0;
		for (int j = 0; j < 8; j++) {
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
		uint8_t Ls[8], Lm[8];
		const float d_block = pj_make_qp(8, 63, scales, Ls, sw);
		const float m_block = pj_make_qp(8, 63, mins, Lm, sw);
		for (int j = 0; j < 8; j++)
			pj_put_scale_min_k4(sc12, j, PJ_MIN(63, Ls[j]), PJ_MIN(63, Lm[j]));
		*dd = pj_f2h(d_block);
		*dmin = pj_f2h(m_block);
	}
	/* final levels: each element on its own, vectorised along the row */
	const float dall = pj_h2f(*dd), mall = pj_h2f(*dmin);
	for (int j = 0; j < 8; j++) {
		uint8_t sc, m;
		pj_get_scale_min_k4(j, sc12, &sc, &m);
		const float d = dall * sc;
		if (d)
			FN(round_sub)(x + 32 * j, 32, mall * m, d, 0, nmax, 0, L + 32 * j);
	}
}

/* NB consecutive super-blocks at x (weights qw, or NULL): levels into
 * L[256 * NB], scales and minimums into dd[b], dmin[b], sc12[b]. */
BODY_INLINE void FN(qk45_blocks)(int nmax, const float *x, const float *qw, pj_half **dd, pj_half **dmin,
                                  uint8_t **sc12, uint8_t *L)
{
	float mins[2 * W], scales[2 * W], sw[2 * W];
	VF xt[2][32], wt[2][32], vmin[2], vscale[2];
	VI Lt[2][32];
	H_LOOP {
		for (int i = 0; i < 32; i++)
			for (int k = 0; k < W; k++)
				xt[h][i][k] = x[32 * (h * W + k) + i];
	}
	if (!qw) {
		H_LOOP {
			VF sum_x2 = V(splat)(0.f);
			for (int l = 0; l < 32; l++)
				sum_x2 += xt[h][l] * xt[h][l];
			const VF av_x = FN(vsqrt)(sum_x2 / 32);
			for (int l = 0; l < 32; l++)
				wt[h][l] = av_x + V(abs)(xt[h][l]);
		}
		if (nmax == 15)
			FN(qkx_search2)(true, 15, 32, false, xt, wt, Lt, vscale, vmin, -1.f, 0.1f, 20);
		else
			FN(qkx_search2)(true, 31, 32, false, xt, wt, Lt, vscale, vmin, -0.5f, 0.1f, 15);
	} else {
		float sigma2[FN(NB)];
		for (int b = 0; b < FN(NB); b++) {
			float s2 = 0;
			for (int j = 0; j < PJ_QK_K; j++)
				s2 += x[PJ_QK_K * b + j] * x[PJ_QK_K * b + j];
			sigma2[b] = 2 * s2 / PJ_QK_K;
		}
		H_LOOP {
			VF sig, sumw = V(splat)(0.f);
			for (int k = 0; k < W; k++)
				sig[k] = sigma2[(h * W + k) / 8];
			for (int l = 0; l < 32; l++) {
				VF q;
				for (int k = 0; k < W; k++)
					q[k] = qw[32 * (h * W + k) + l];
				wt[h][l] = q * FN(vsqrt)(sig + xt[h][l] * xt[h][l]);
				sumw += wt[h][l];
			}
			for (int k = 0; k < W; k++)
				sw[h * W + k] = sumw[k];
		}
		FN(qkx_search2)(false, nmax, 32, false, xt, wt, Lt, vscale, vmin, -0.9f, 0.05f, 36);
	}
	H_LOOP {
		for (int k = 0; k < W; k++) {
			scales[h * W + k] = vscale[h][k];
			mins[h * W + k] = vmin[h][k];
		}
		for (int i = 0; i < 32; i++)
			for (int k = 0; k < W; k++)
				L[32 * (h * W + k) + i] = (uint8_t)Lt[h][i][k];
	}
	for (int b = 0; b < FN(NB); b++)
		FN(qk45_finish)(nmax, qw != NULL, x + PJ_QK_K * b, scales + 8 * b, mins + 8 * b, sw + 8 * b, dd[b], dmin[b],
		                sc12[b], L + PJ_QK_K * b);
}

/* Runs qk45_blocks over a row of nb super-blocks; `put` packs block i's
 * levels.  With NB = 2 and an odd count, the last block is searched beside a
 * copy of itself (the copy's results are dropped). */
#define QK45_ROW(nmax, blk_t, put)                                                                     \
	do {                                                                                               \
		blk_t *y = vy;                                                                                 \
		const int64_t nb = n / PJ_QK_K;                                                                \
		uint8_t L[PJ_QK_K * FN(NB)];                                                                   \
		for (int64_t i = 0; i < nb; i += FN(NB)) {                                                     \
			pj_half *dd[FN(NB)], *dm[FN(NB)];                                                          \
			uint8_t *sc[FN(NB)];                                                                       \
			blk_t spare;                                                                               \
			const float *xs = x + PJ_QK_K * i, *ws = qw ? qw + PJ_QK_K * i : NULL;                     \
			float xcopy[PJ_QK_K * FN(NB)], wcopy[PJ_QK_K * FN(NB)];                                     \
			for (int b = 0; b < FN(NB); b++) {                                                         \
				blk_t *t = i + b < nb ? &y[i + b] : &spare;                                            \
				dd[b] = &t->d;                                                                         \
				dm[b] = &t->dmin;                                                                      \
				sc[b] = t->scales;                                                                     \
			}                                                                                          \
			if (i + FN(NB) > nb) {                                                                     \
				for (int b = 0; b < FN(NB); b++) {                                                     \
					memcpy(xcopy + PJ_QK_K * b, xs, sizeof(float) * PJ_QK_K);                         \
					if (ws)                                                                            \
						memcpy(wcopy + PJ_QK_K * b, ws, sizeof(float) * PJ_QK_K);                      \
				}                                                                                      \
				xs = xcopy;                                                                            \
				ws = ws ? wcopy : NULL;                                                                \
			}                                                                                          \
			FN(qk45_blocks)(nmax, xs, ws, dd, dm, sc, L);                                              \
			for (int b = 0; b < FN(NB) && i + b < nb; b++)                                             \
				put(&y[i + b], L + PJ_QK_K * b);                                                       \
		}                                                                                              \
	} while (0)

#ifndef PJ_QK45_PUT_DEFINED
#define PJ_QK45_PUT_DEFINED
/* 64-element chunks: first 32 in low nibbles, next 32 in high nibbles */
static inline void q4k_put(pj_blk_q4_k *y, const uint8_t *L)
{
	for (int c = 0; c < 4; c++)
		for (int l = 0; l < 32; l++)
			y->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + l + 32] << 4));
}

/* as Q4_K, the fifth bits in qh */
static inline void q5k_put(pj_blk_q5_k *y, const uint8_t *L)
{
	memset(y->qh, 0, 32);
	for (int c = 0; c < 4; c++) {
		for (int l = 0; l < 32; l++) {
			int l1 = L[64 * c + l], l2 = L[64 * c + l + 32];
			if (l1 > 15) {
				l1 -= 16;
				y->qh[l] |= (uint8_t)(1u << (2 * c));
			}
			if (l2 > 15) {
				l2 -= 16;
				y->qh[l] |= (uint8_t)(2u << (2 * c));
			}
			y->qs[32 * c + l] = (uint8_t)(l1 | (l2 << 4));
		}
	}
}
#endif

BODY_INLINE void FN(q4k_row)(const float *x, void *vy, int64_t n, const float *qw)
{
	QK45_ROW(15, pj_blk_q4_k, q4k_put);
}

BODY_INLINE void FN(q5k_row)(const float *x, void *vy, int64_t n, const float *qw)
{
	QK45_ROW(31, pj_blk_q5_k, q5k_put);
}

#undef QK45_ROW

/* ---- Q6_K: 16 sub-blocks of 16, in 16/W lane groups -------------------------- */

/* The lane results of the 2W sub-blocks of 16 from g on, back in row order:
 * scale (and min, when mins is given) per sub-block, level per element. */
BODY_INLINE void FN(unload16)(int g, const VF *vs, const VF *vm, VI *Lt[2], float *scales, float *mins, uint8_t *L)
{
	H_LOOP {
		for (int k = 0; k < W; k++) {
			scales[g + h * W + k] = vs[h][k];
			if (mins)
				mins[g + h * W + k] = vm[h][k];
		}
		for (int e = 0; e < 16; e++)
			for (int k = 0; k < W; k++)
				L[16 * (g + h * W + k) + e] = (uint8_t)Lt[h][e][k];
	}
}

BODY_INLINE void FN(q6k_row)(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q6_k *y = vy;
	int8_t L[PJ_QK_K];
	float scales[16];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		const float *qwb = qw ? qw + PJ_QK_K * i : NULL;
		for (int g = 0; g < 16; g += 2 * W) {
			VF xt[2][16], wt[2][16], vs[2];
			VI Lt[2][16];
			H_LOOP {
				for (int e = 0; e < 16; e++)
					for (int k = 0; k < W; k++)
						xt[h][e][k] = x[16 * (g + h * W + k) + e];
				if (qwb)
					for (int e = 0; e < 16; e++)
						for (int k = 0; k < W; k++)
							wt[h][e][k] = qwb[16 * (g + h * W + k) + e];
			}
			/* weighted: the raw importance weights, no sigma term */
			FN(qx_search2)(32, xt, qwb ? wt : NULL, Lt, vs);
			FN(unload16)(g, vs, NULL, (VI *[2]){ Lt[0], Lt[1] }, scales, NULL, (uint8_t *)L);
		}
		float max_scale = 0, max_abs_scale = 0;
		for (int ib = 0; ib < 16; ib++) {
			const float s = scales[ib];
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
		const VI lo = (VI){ 0 } - 32, hi = (VI){ 0 } + 31;
		for (int j = 0; j < 16; j++) {
			const float d = dall * y[i].scales[j];
			if (!d)
				continue;
			for (int ii = 0; ii < 16; ii += W) {
				VF xv;
				memcpy(&xv, x + 16 * j + ii, sizeof xv);
				const VI l = V(maxi)(lo, V(mini)(hi, V(nint)(xv / d))) + 32;
				for (int k = 0; k < W; k++)
					L[16 * j + ii + k] = (int8_t)l[k];
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

/* Q2_K and Q3_K, with the same macros and searches */
#include "q_kquants23_x8_body.h"

#undef H_LOOP
#undef VF
#undef VI
#undef V
#undef FN
#undef BODY_INLINE
