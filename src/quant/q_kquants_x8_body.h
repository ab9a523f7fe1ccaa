/* q_kquants_x8_body.h - the lane kernels of q_kquants_x8.c for one lane
 * width W (4: SSE2 copy, 8: AVX2 copy).  No include guard: q_kquants_x8.c
 * includes it once per width, with W defined.  Every function works on W
 * sub-blocks of a super-block at once, lane k holding sub-block g*W + k;
 * see q_simd.h for why that is bit-identical to the scalar kernels. */

#define VF PJ_X8_CAT(pj_vf, W)
#define VI PJ_X8_CAT(pj_vi, W)
#define V(f) PJ_X8_CAT(pj_v##f, W)
#define FN(name) PJ_X8_CAT(name##_w, W)

/* lane-wise sqrtf: sqrtps is the correctly rounded IEEE square root */
PJ_X8_INLINE VF FN(vsqrt)(VF f)
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

PJ_X8_INLINE bool FN(any)(VI m)
{
	const VI z = { 0 };
	return memcmp(&m, &z, sizeof m) != 0;
}

/* make_qx_quants (rmse_type 1) on W sub-blocks of 16.  Levels l + nmax,
 * l in [-nmax, nmax-1]; w = wt[i], or x^2 when wt is NULL; 19 candidate
 * inverse scales.  A lane whose max |x| is below the all-zero threshold gives
 * scale 0 and levels 0, as the scalar early return does. */
PJ_X8_INLINE VF FN(qx_search)(int nmax, const VF *xt, const VF *wt, VI *Lt)
{
	enum { N = 16 };
	const VF zero = V(splat)(0.f);
	VF max = zero, amax = zero;
	for (int i = 0; i < N; i++) {
		const VF ax = V(abs)(xt[i]);
		const VI m = ax > amax;
		amax = V(self)(m, ax, amax);
		max = V(self)(m, xt[i], max);
	}
	const VI flat = amax < PJ_GROUP_EPS;
	const VI lo = (VI){ 0 } - nmax, hi = (VI){ 0 } + (nmax - 1);

	VF iscale = V(splat)((float)-nmax) / max;
	VF sumlx = zero, suml2 = zero;
	for (int i = 0; i < N; i++) {
		const VI l = V(maxi)(lo, V(mini)(hi, V(nint)(iscale * xt[i])));
		Lt[i] = l + nmax;
		const VF w = wt ? wt[i] : xt[i] * xt[i];
		const VF lf = V(tof)(l);
		sumlx += w * xt[i] * lf;
		suml2 += w * lf * lf;
	}
	VF scale = V(self)(suml2 != 0.f, sumlx / suml2, zero);
	VF best = scale * sumlx;
	for (int is = -9; is <= 9; is++) {
		if (is == 0)
			continue;
		const float num = -(nmax + 0.1f * is);
		iscale = V(splat)(num) / max;
		VI Lc[N];
		sumlx = suml2 = zero;
		for (int i = 0; i < N; i++) {
			const VI l = V(maxi)(lo, V(mini)(hi, V(nint)(iscale * xt[i])));
			Lc[i] = l;
			const VF w = wt ? wt[i] : xt[i] * xt[i];
			const VF lf = V(tof)(l);
			sumlx += w * xt[i] * lf;
			suml2 += w * lf * lf;
		}
		const VI upd = (suml2 > 0.f) & (sumlx * sumlx > best * suml2);
		if (!FN(any)(upd))
			continue;
		for (int i = 0; i < N; i++)
			Lt[i] = V(seli)(upd, Lc[i] + nmax, Lt[i]);
		const VF s = sumlx / suml2;
		scale = V(self)(upd, s, scale);
		best = V(self)(upd, s * sumlx, best);
	}
	for (int i = 0; i < N; i++)
		Lt[i] = V(seli)(flat, (VI){ 0 }, Lt[i]);
	return V(self)(flat, zero, scale);
}

/* make_qkx2_quants (ref: weights given, "max == min" is flat) or
 * make_qkx3_quants ("max <= min") on W sub-blocks of 32, use_mad false.
 * Affine levels in [0, nmax]; *the_min = -min. */
PJ_X8_INLINE VF FN(qkx_search)(bool ref, int nmax, const VF *xt, const VF *wt, VI *Lt, VF *the_min, float rmin,
                               float rdelta, int nstep)
{
	enum { N = 32 };
	const VF zero = V(splat)(0.f);
	VF min = xt[0], max = xt[0];
	VF sum_w = wt[0];
	VF sum_x = sum_w * xt[0];
	for (int i = 1; i < N; i++) {
		min = V(self)(xt[i] < min, xt[i], min);
		max = V(self)(xt[i] > max, xt[i], max);
		sum_w += wt[i];
		sum_x += wt[i] * xt[i];
	}
	min = V(self)(min > 0.f, zero, min);
	const VI flat = ref ? (max == min) : (max <= min);
	const VF min0 = min;
	const VI izero = { 0 }, inmax = (VI){ 0 } + nmax;

	VF iscale = V(splat)((float)nmax) / (max - min);
	VF scale = V(splat)(1.f) / iscale;
	VF best_err = zero;
	for (int i = 0; i < N; i++) {
		const VI l = V(maxi)(izero, V(mini)(inmax, V(nint)(iscale * (xt[i] - min))));
		Lt[i] = l;
		VF diff = scale * V(tof)(l) + min - xt[i];
		diff = diff * diff;
		best_err += wt[i] * diff;
	}
	for (int is = 0; is <= nstep; is++) {
		/* min moves with every accepted candidate, as in the scalar loop */
		iscale = V(splat)(rmin + rdelta * is + nmax) / (max - min);
		VI Laux[N];
		VF sum_l = zero, sum_l2 = zero, sum_xl = zero;
		for (int i = 0; i < N; i++) {
			const VI l = V(maxi)(izero, V(mini)(inmax, V(nint)(iscale * (xt[i] - min))));
			Laux[i] = l;
			const VF lf = V(tof)(l);
			sum_l += wt[i] * lf;
			sum_l2 += wt[i] * lf * lf;
			sum_xl += wt[i] * lf * xt[i];
		}
		const VF D = sum_w * sum_l2 - sum_l * sum_l;
		const VI pos = D > 0.f;
		if (!FN(any)(pos))
			continue;
		VF this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
		VF this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
		const VI mpos = this_min > 0.f;
		this_min = V(self)(mpos, zero, this_min);
		this_scale = V(self)(mpos, sum_xl / sum_l2, this_scale);
		VF err = zero;
		for (int i = 0; i < N; i++) {
			VF diff = this_scale * V(tof)(Laux[i]) + this_min - xt[i];
			diff = diff * diff;
			err += wt[i] * diff;
		}
		const VI upd = pos & (err < best_err);
		if (!FN(any)(upd))
			continue;
		for (int i = 0; i < N; i++)
			Lt[i] = V(seli)(upd, Laux[i], Lt[i]);
		best_err = V(self)(upd, err, best_err);
		scale = V(self)(upd, this_scale, scale);
		min = V(self)(upd, this_min, min);
	}
	for (int i = 0; i < N; i++)
		Lt[i] = V(seli)(flat, izero, Lt[i]);
	*the_min = -V(self)(flat, min0, min);
	return V(self)(flat, zero, scale);
}

/* ---- Q4_K / Q5_K: 8 sub-blocks of 32, 8/W lane groups ---------------------- */

PJ_X8_INLINE void FN(qk45_block)(int nmax, const float *x, pj_half *dd, pj_half *dmin, uint8_t *sc12,
                                 uint8_t *L, const float *qwb)
{
	float mins[8], scales[8], sw[8];
	float sigma2 = 0;
	if (qwb) {
		float s2 = 0;
		for (int j = 0; j < PJ_QK_K; j++)
			s2 += x[j] * x[j];
		sigma2 = 2 * s2 / PJ_QK_K;
	}
	for (int g = 0; g < 8; g += W) {
		VF xt[32], wt[32], vmin, vscale;
		VI Lt[32];
		for (int i = 0; i < 32; i++)
			for (int k = 0; k < W; k++)
				xt[i][k] = x[32 * (g + k) + i];
		if (!qwb) {
			VF sum_x2 = V(splat)(0.f);
			for (int l = 0; l < 32; l++)
				sum_x2 += xt[l] * xt[l];
			const VF av_x = FN(vsqrt)(sum_x2 / 32);
			for (int l = 0; l < 32; l++)
				wt[l] = av_x + V(abs)(xt[l]);
			if (nmax == 15)
				vscale = FN(qkx_search)(true, 15, xt, wt, Lt, &vmin, -1.f, 0.1f, 20);
			else
				vscale = FN(qkx_search)(true, 31, xt, wt, Lt, &vmin, -0.5f, 0.1f, 15);
		} else {
			VF sumw = V(splat)(0.f);
			for (int l = 0; l < 32; l++) {
				VF q;
				for (int k = 0; k < W; k++)
					q[k] = qwb[32 * (g + k) + l];
				wt[l] = q * FN(vsqrt)(sigma2 + xt[l] * xt[l]);
				sumw += wt[l];
			}
			for (int k = 0; k < W; k++)
				sw[g + k] = sumw[k];
			vscale = FN(qkx_search)(false, nmax, xt, wt, Lt, &vmin, -0.9f, 0.05f, 36);
		}
		for (int k = 0; k < W; k++) {
			scales[g + k] = vscale[k];
			mins[g + k] = vmin[k];
		}
		for (int i = 0; i < 32; i++)
			for (int k = 0; k < W; k++)
				L[32 * (g + k) + i] = (uint8_t)Lt[i][k];
	}
	if (!qwb) {
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
	const VI izero = { 0 }, inmax = (VI){ 0 } + nmax;
	for (int j = 0; j < 8; j++) {
		uint8_t sc, m;
		pj_get_scale_min_k4(j, sc12, &sc, &m);
		const float d = dall * sc;
		if (!d)
			continue;
		const float dm = mall * m;
		for (int ii = 0; ii < 32; ii += W) {
			VF xv;
			memcpy(&xv, x + 32 * j + ii, sizeof xv);
			const VI l = V(maxi)(izero, V(mini)(inmax, V(nint)((xv + dm) / d)));
			for (int k = 0; k < W; k++)
				L[32 * j + ii + k] = (uint8_t)l[k];
		}
	}
}

PJ_X8_INLINE void FN(q4k_row)(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q4_k *y = vy;
	uint8_t L[PJ_QK_K];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		memset(y[i].scales, 0, 12);
		FN(qk45_block)(15, x, &y[i].d, &y[i].dmin, y[i].scales, L, qw ? qw + PJ_QK_K * i : NULL);
		/* 64-element chunks: first 32 in low nibbles, next 32 in high nibbles */
		for (int c = 0; c < 4; c++)
			for (int l = 0; l < 32; l++)
				y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + l + 32] << 4));
	}
}

PJ_X8_INLINE void FN(q5k_row)(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q5_k *y = vy;
	uint8_t L[PJ_QK_K];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		memset(y[i].scales, 0, 12);
		FN(qk45_block)(31, x, &y[i].d, &y[i].dmin, y[i].scales, L, qw ? qw + PJ_QK_K * i : NULL);
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

/* ---- Q6_K: 16 sub-blocks of 16, 16/W lane groups --------------------------- */

PJ_X8_INLINE void FN(q6k_row)(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q6_k *y = vy;
	int8_t L[PJ_QK_K];
	float scales[16];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		const float *qwb = qw ? qw + PJ_QK_K * i : NULL;
		for (int g = 0; g < 16; g += W) {
			VF xt[16], wt[16];
			VI Lt[16];
			for (int e = 0; e < 16; e++)
				for (int k = 0; k < W; k++)
					xt[e][k] = x[16 * (g + k) + e];
			if (qwb)
				for (int e = 0; e < 16; e++)
					for (int k = 0; k < W; k++)
						wt[e][k] = qwb[16 * (g + k) + e];
			/* weighted: the raw importance weights, no sigma term */
			const VF vs = FN(qx_search)(32, xt, qwb ? wt : NULL, Lt);
			for (int k = 0; k < W; k++)
				scales[g + k] = vs[k];
			for (int e = 0; e < 16; e++)
				for (int k = 0; k < W; k++)
					L[16 * (g + k) + e] = (int8_t)Lt[e][k];
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

#undef VF
#undef VI
#undef V
#undef FN
