/* test_act.c - the activation rounding of `--check --act llama`
 * (forward_act.c): the vec_dot type table, Q8_K against a hand computation
 * and against ggml's reference algorithm written out plainly here, Q8_0,
 * F16 and BF16 rounding, and fwd_matmul_t: unchanged under f32, the same as
 * a matmul of rounded rows under llama, whatever the thread count. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/forward_int.h"
#include "fwd_test_util.h"
#include "tap.h"

/* n floats in [-2, 2), other ones for each seed */
static float *rnd(size_t n, unsigned seed)
{
	return fwt_rnd(n, seed * 2654435761u + 1, 2.0f);
}

static void check_table(void)
{
	static const struct { pj_dtype w, vd; } T[] = {
		{ PJ_DT_Q4_K, PJ_DT_Q8_K },   { PJ_DT_Q6_K, PJ_DT_Q8_K },  { PJ_DT_IQ2_XXS, PJ_DT_Q8_K },
		{ PJ_DT_TQ2_0, PJ_DT_Q8_K },  { PJ_DT_IQ4_XS, PJ_DT_Q8_K }, { PJ_DT_Q4_0, PJ_DT_Q8_0 },
		{ PJ_DT_Q5_0, PJ_DT_Q8_0 },   { PJ_DT_IQ4_NL, PJ_DT_Q8_0 }, { PJ_DT_MXFP4, PJ_DT_Q8_0 },
		{ PJ_DT_Q4_1, PJ_DT_Q8_1 },   { PJ_DT_Q5_1, PJ_DT_Q8_1 },  { PJ_DT_BF16, PJ_DT_BF16 },
		{ PJ_DT_F16, PJ_DT_F16 },     { PJ_DT_F32, PJ_DT_F32 },
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
		if (fwd_act_vec_dot_type(T[i].w) != T[i].vd) {
			tap_diag("vec_dot type of %d is %d, want %d", (int)T[i].w, (int)fwd_act_vec_dot_type(T[i].w),
			         (int)T[i].vd);
			bad++;
		}
	ok(!bad, "vec_dot types as ggml's CPU type traits (k-quants/IQ -> Q8_K, Q4_0/Q5_0 -> Q8_0, Q4_1 -> Q8_1, ...)");
}

/* Hand computation: the largest magnitude is -2 (first of -2 and +2), so
 * iscale = -127 / -2 = 63.5 and d = 1/63.5; 1 * 63.5 and -1 * 63.5 are ties
 * that go to the even 64 and -64; 0.5 -> 31.75 -> 32. */
static void check_q8_K_hand(void)
{
	float x[256] = { -2.0f, 2.0f, 1.0f, -1.0f, 0.5f, 0.25f };
	int8_t qs[256];
	float d;
	fwd_act_q8_K(x, qs, &d, 256);
	const int8_t want[6] = { -127, 127, 64, -64, 32, 16 };
	ok(memcmp(qs, want, 6) == 0 && qs[6] == 0 && qs[255] == 0, "Q8_K by hand: %d %d %d %d %d %d", qs[0], qs[1], qs[2],
	   qs[3], qs[4], qs[5]);
	ok(d == 1.0f / 63.5f, "Q8_K by hand: d = 1/63.5 in f32 (%.9g)", d);
	float y[256];
	fwd_act_round_row(PJ_DT_Q8_K, x, y, 256);
	ok(y[2] == 64 * d && y[0] == -127 * d && y[7] == 0, "Q8_K round trip: q * d");
	memset(x, 0, sizeof x);
	fwd_act_q8_K(x, qs, &d, 256);
	ok(d == 0 && qs[0] == 0 && qs[255] == 0, "Q8_K of an all-zero block: d = 0, q = 0");
}

/* ggml's quantize_row_q8_K_ref, written out plainly: rint() under the
 * default rounding mode is the reference's ties-to-even nearest_int. */
static void q8_K_plain(const float *x, int8_t *qs, float *d)
{
	float amax = 0, max = 0;
	for (int j = 0; j < 256; j++)
		if (fabsf(x[j]) > amax) {
			amax = fabsf(x[j]);
			max = x[j];
		}
	*d = 0;
	memset(qs, 0, 256);
	if (amax == 0)
		return;
	const float iscale = -127.f / max;
	for (int j = 0; j < 256; j++) {
		const float p = iscale * x[j];
		const long v = lrintf(p);
		qs[j] = (int8_t)(v > 127 ? 127 : v);
	}
	*d = 1 / iscale;
}

static void check_q8_K_plain(void)
{
	enum { NB = 64 };
	float *x = rnd(256 * NB, 7);
	/* blocks with a positive extreme, a negative one, tiny and huge values */
	for (int b = 0; b < NB; b++)
		x[b * 256 + (b * 37) % 256] = (b % 2 ? 1 : -1) * ldexpf(3.0f, b % 40 - 20);
	int8_t qs[256 * NB], q2[256];
	float d[NB], d2;
	fwd_act_q8_K(x, qs, d, 256 * NB);
	int bad = 0;
	for (int b = 0; b < NB; b++) {
		q8_K_plain(x + b * 256, q2, &d2);
		bad += memcmp(qs + b * 256, q2, 256) != 0 || memcmp(&d[b], &d2, sizeof d2) != 0;
	}
	ok(!bad, "Q8_K: quants and scales equal the reference algorithm on %d synthetic blocks (%d differ)", NB, bad);
	free(x);
}

static void check_small_types(void)
{
	/* Q8_0 (x86 AVX2 form): amax 64 gives id = 127/64 = 1.984375 exactly and
	 * d = f16(64/127) = 0.50390625; 32 * id = 63.5 goes to the even 64. */
	float x[32], y[32];
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j * 4 - 64);
	fwd_act_round_row(PJ_DT_Q8_0, x, y, 32);
	ok(y[24] == 32.25f && y[0] == -127 * 0.50390625f, "Q8_0: 32 -> 64 * f16(64/127) = 32.25, -64 -> -127 d (%g %g)",
	   y[24], y[0]);
	fwd_act_round_row(PJ_DT_Q8_0, x, y, 31);
	ok(y[0] == x[0] && y[24] == x[24], "Q8_0: a row without whole blocks passes through");
	const float h[3] = { 1 + 0x1p-11f, 1 + 0x1p-11f + 0x1p-12f, 70000.0f };
	float o[3];
	fwd_act_round_row(PJ_DT_F16, h, o, 3);
	ok(o[0] == 1 && o[1] == 1 + 0x1p-10f && isinf(o[2]), "F16: ties to even, above the tie up, overflow to inf");
	const float b[2] = { 1 + 0x1p-8f, 1 + 0x1p-8f + 0x1p-12f };
	fwd_act_round_row(PJ_DT_BF16, b, o, 2);
	ok(o[0] == 1 && o[1] == 1 + 0x1p-7f, "BF16: ties to even, above the tie up");
}

static void check_matmul_t(void)
{
	enum { N = 37, IN = 512, OUT = 29 };
	float *x = rnd((size_t)N * IN, 1), *w = rnd((size_t)OUT * IN, 2), *xr = malloc(sizeof(float) * N * IN);
	float *y[4];
	for (int i = 0; i < 4; i++)
		y[i] = malloc(sizeof(float) * N * OUT);
	pj_fwd f1 = { .threads = 1 }, f3 = { .threads = 3, .pool = pj_pool_new(3, 0) };
	fwd_matmul(&f1, x, N, IN, w, NULL, OUT, y[0], OUT);
	fwd_matmul_t(&f1, PJ_DT_Q8_K, x, N, IN, w, NULL, OUT, y[1], OUT);
	ok(memcmp(y[0], y[1], sizeof(float) * N * OUT) == 0, "act f32: fwd_matmul_t is fwd_matmul");
	f1.act = f3.act = PJ_FWD_ACT_LLAMA;
	for (size_t t = 0; t < N; t++)
		fwd_act_round_row(PJ_DT_Q8_K, x + t * IN, xr + t * IN, IN);
	fwd_matmul(&f1, xr, N, IN, w, NULL, OUT, y[0], OUT);
	fwd_matmul_t(&f1, PJ_DT_Q8_K, x, N, IN, w, NULL, OUT, y[1], OUT);
	fwd_matmul_t(&f3, PJ_DT_Q8_K, x, N, IN, w, NULL, OUT, y[2], OUT);
	ok(memcmp(y[0], y[1], sizeof(float) * N * OUT) == 0, "act llama: the product of Q8_K-rounded rows");
	ok(memcmp(y[1], y[2], sizeof(float) * N * OUT) == 0, "act llama: 1 and 3 threads bit-identical");
	fwd_matmul(&f1, x, N, IN, w, NULL, OUT, y[3], OUT);
	ok(memcmp(y[1], y[3], sizeof(float) * N * OUT) != 0, "act llama: differs from the f32 product");
	fwd_matmul_t(&f1, PJ_DT_F32, x, N, IN, w, NULL, OUT, y[2], OUT);
	ok(memcmp(y[2], y[3], sizeof(float) * N * OUT) == 0, "act llama, F32 weights: no rounding");
	pj_pool_free(f3.pool);
	for (int i = 0; i < 4; i++)
		free(y[i]);
	free(x);
	free(w);
	free(xr);
}

int main(void)
{
	check_table();
	check_q8_K_hand();
	check_q8_K_plain();
	check_small_types();
	check_matmul_t();
	return done_testing();
}
