/* q_kquants23_x8_body.h - Q2_K and Q3_K lane kernels for one width W.  No
 * include guard: q_kquants_x8_body.h includes it once per width, with its
 * macros (VF, VI, V, FN, BODY_INLINE, H_LOOP) and searches defined.  Both
 * formats have 16 sub-blocks of 16: 2W of them per search call (W = 4: a
 * super-block in two calls, W = 8: in one).  The sub-block scales are the
 * scalar code (pj_q2k_scales, pj_q3k_scales); the final rounding of each
 * element, independent of the others, runs along the row. */

/* make_q3_quants (Q3_K without importance weights, do_rmse) on 2 x W
 * sub-blocks of 16: x^2-weighted levels in [-4, 3] at -4/max, then rounds of
 * coordinate descent on single levels.  The scalar loop stops after a round
 * without a change, at most after 5; here all lanes run until none changes,
 * which is the same: a round that changes nothing leaves the lane's state as
 * it was, so its further rounds change nothing either.  Levels are floats
 * (exact small integers); the descent's x*sl2/slx may be huge, so it rounds
 * with the integer pj_nearest_int trick and clamps as the scalar code. */
BODY_INLINE void FN(q3_search2)(VF xt[2][16], VI Lt[2][16], VF scale_out[2])
{
	enum { N = 16, NMAX = 4 };
	const VF zero = V(splat)(0.f), magic = V(splat)(12582912.f);
	const VF flo = V(splat)(-NMAX), fhi = V(splat)(NMAX - 1);
	const VI ilo = (VI){ 0 } - NMAX, ihi = (VI){ 0 } + NMAX - 1;
	VF max[2], sumlx[2], suml2[2], w[2][N], wx[2][N], Lf[2][N];
	VI flat[2];
	H_LOOP {
		flat[h] = FN(absmax)(xt[h], N, &max[h]);
		const VF iscale = flo / max[h];
		sumlx[h] = suml2[h] = zero;
		for (int i = 0; i < N; i++) {
			const VF lf = FN(qx_level)(iscale * xt[h][i], magic, flo, fhi);
			Lf[h][i] = lf;
			w[h][i] = xt[h][i] * xt[h][i];
			wx[h][i] = w[h][i] * xt[h][i];
			sumlx[h] += wx[h][i] * lf;
			suml2[h] += w[h][i] * lf * lf;
		}
	}
	for (int itry = 0; itry < 5; itry++) {
		VI changed = { 0 };
		for (int i = 0; i < N; i++) {
			H_LOOP {
				const VF slx = sumlx[h] - wx[h][i] * Lf[h][i];
				const VF sl2 = suml2[h] - w[h][i] * Lf[h][i] * Lf[h][i];
				const VI nl = V(maxi)(ilo, V(mini)(ihi, V(nint)(xt[h][i] * sl2 / slx)));
				const VF nlf = V(tof)(nl);
				const VF slx_n = slx + wx[h][i] * nlf;
				const VF sl2_n = sl2 + w[h][i] * nlf * nlf;
				const VI acc = (slx > 0.f) & (nlf != Lf[h][i]) & (sl2_n > 0.f) &
				               (slx_n * slx_n * suml2[h] > sumlx[h] * sumlx[h] * sl2_n);
				Lf[h][i] = V(self)(acc, nlf, Lf[h][i]);
				sumlx[h] = V(self)(acc, slx_n, sumlx[h]);
				suml2[h] = V(self)(acc, sl2_n, suml2[h]);
				changed |= acc;
			}
		}
		if (!FN(any)(changed))
			break;
	}
	H_LOOP {
		for (int i = 0; i < N; i++)
			Lt[h][i] = V(seli)(flat[h], (VI){ 0 }, __builtin_convertvector(Lf[h][i], VI) + NMAX);
		const VF sc = V(self)(suml2[h] > 0.f, sumlx[h] / suml2[h], zero);
		scale_out[h] = V(self)(flat[h], zero, sc);
	}
}

/* The 2W sub-blocks from g on, transposed: xt[h][e] lane k is element e of
 * sub-block g + hW + k.  With importance weights qw (else NULL) also the
 * reference's weights qw * sqrt(sigma2 + x^2) into wt and their sums (in
 * element order) into sw.  xt[h], wt[h]: 16 vectors each. */
BODY_INLINE void FN(load16)(const float *x, const float *qw, float sigma2, int g, VF *xt[2], VF *wt[2], float *sw)
{
	H_LOOP {
		for (int e = 0; e < 16; e++)
			for (int k = 0; k < W; k++)
				xt[h][e][k] = x[16 * (g + h * W + k) + e];
		if (!qw)
			continue;
		const VF sig = V(splat)(sigma2);
		VF sumw = V(splat)(0.f);
		for (int e = 0; e < 16; e++) {
			VF q;
			for (int k = 0; k < W; k++)
				q[k] = qw[16 * (g + h * W + k) + e];
			wt[h][e] = q * FN(vsqrt)(sig + xt[h][e] * xt[h][e]);
			sumw += wt[h][e];
		}
		for (int k = 0; k < W; k++)
			sw[g + h * W + k] = sumw[k];
	}
}

static inline float FN(sumsq256)(const float *x)
{
	float s = 0;
	for (int j = 0; j < PJ_QK_K; j++)
		s += x[j] * x[j];
	return s;
}

BODY_INLINE void FN(q2k_row)(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q2_k *y = vy;
	uint8_t L[PJ_QK_K];
	float scales[16], mins[16], sw[16];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		const float *qwb = qw ? qw + PJ_QK_K * i : NULL;
		const float sigma2 = qwb ? FN(sumsq256)(x) / PJ_QK_K : 0.f;
		for (int g = 0; g < 16; g += 2 * W) {
			VF xt[2][32], wt[2][32], vs[2], vm[2];
			VI Lt[2][32];
			FN(load16)(x, qwb, sigma2, g, (VF *[2]){ xt[0], xt[1] }, (VF *[2]){ wt[0], wt[1] }, sw);
			if (!qwb) {
				H_LOOP {
					for (int e = 0; e < 16; e++)
						wt[h][e] = V(abs)(xt[h][e]);
				}
				FN(qkx_search2)(true, 3, 16, true, xt, wt, Lt, vs, vm, -0.5f, 0.1f, 15);
			} else {
				FN(qkx_search2)(false, 3, 16, false, xt, wt, Lt, vs, vm, -0.9f, 0.05f, 36);
			}
			FN(unload16)(g, vs, vm, (VI *[2]){ Lt[0], Lt[1] }, scales, mins, L);
		}
		pj_q2k_scales(&y[i], scales, mins, qwb ? sw : NULL);
		/* final levels (a sub-block with scale 0 keeps its search levels) */
		const float dall = pj_h2f(y[i].d), mall = pj_h2f(y[i].dmin);
		for (int j = 0; j < 16; j++) {
			const float d = dall * (y[i].scales[j] & 0xF);
			if (d)
				FN(round_sub)(x + 16 * j, 16, mall * (y[i].scales[j] >> 4), d, 0, 3, 0, L + 16 * j);
		}
		pj_q2k_pack(&y[i], L);
	}
}

BODY_INLINE void FN(q3k_row)(const float *x, void *vy, int64_t n, const float *qw)
{
	pj_blk_q3_k *y = vy;
	int8_t L[PJ_QK_K];
	float scales[16], sw[16];
	for (int64_t i = 0; i < n / PJ_QK_K; i++, x += PJ_QK_K) {
		const float *qwb = qw ? qw + PJ_QK_K * i : NULL;
		const float sigma2 = qwb ? 2 * FN(sumsq256)(x) / PJ_QK_K : 0.f;
		for (int g = 0; g < 16; g += 2 * W) {
			VF xt[2][16], wt[2][16], vs[2];
			VI Lt[2][16];
			FN(load16)(x, qwb, sigma2, g, (VF *[2]){ xt[0], xt[1] }, (VF *[2]){ wt[0], wt[1] }, sw);
			if (qwb)
				FN(qx_search2)(4, xt, wt, Lt, vs);
			else
				FN(q3_search2)(xt, Lt, vs);
			FN(unload16)(g, vs, NULL, (VI *[2]){ Lt[0], Lt[1] }, scales, NULL, (uint8_t *)L);
		}
		pj_q3k_scales(&y[i], scales, qwb ? sw : NULL);
		/* x / d as (x + 0) / d: only -0 changes, to +0, and rounds alike */
		const float dall = pj_h2f(y[i].d);
		for (int j = 0; j < 16; j++) {
			const float d = dall * pj_q3k_scale(y[i].scales, j);
			if (d)
				FN(round_sub)(x + 16 * j, 16, 0.f, d, -4, 3, 4, (uint8_t *)L + 16 * j);
		}
		pj_q3k_pack(&y[i], L);
	}
}
