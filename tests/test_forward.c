/* test_forward.c - the forward pass against transformers' fp32 reference on
 * the five trained shared models (../shared/models/<m>/reference).
 *
 * Tolerances (fp32 on both sides; only summation order differs):
 *   logits of chunk 0, positions 0..127: max |Δlogit| <= 1e-3 * max |logit|
 *   NLL of all 8 chunks x 255 predictions: mean |ΔNLL| <= 1e-3 (and max <= 1e-2)
 * The matmul kernels (AVX2+FMA where the CPU has it, the baseline one) are
 * checked against a double-precision product, against each other on a model,
 * and for a summation order that depends neither on the threads nor on the
 * tile an element falls in.
 * (The same models' GGUF conversions: test_forward_gguf.c.) */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "quant/eval.h"
#include "quant/forward.h"
#include "quant/forward_int.h"
#include "fwd_test_util.h"
#include "tap.h"

#define CTX REF_CTX
#define CHUNKS REF_CHUNKS


static void check_model(const char *shared, const char *name)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/models/%s", shared, name);
	pj_model *m = NULL;
	pj_error err = { 0 };
	if (!ok(pj_model_open(dir, &m, &err) == PJ_OK, "%s: open", name)) {
		tap_diag("%s", err.msg);
		return;
	}
	pj_fwd *f = NULL;
	if (!ok(pj_fwd_open(m, 2, &f, &err) == PJ_OK, "%s: forward pass supports it", name)) {
		tap_diag("%s", err.msg);
		pj_model_close(m);
		return;
	}
	const int V = pj_fwd_vocab(f), D = pj_fwd_hidden_size(f);
	int32_t *ids = fwt_ref(shared, name, "eval_ids.i32", sizeof(int32_t) * CTX * CHUNKS);
	float *ref_nll = fwt_ref(shared, name, "nll_f32.bin", sizeof(float) * CHUNKS * (CTX - 1));
	float *ref_lg = fwt_ref(shared, name, "logits_chunk0_f32.bin", sizeof(float) * REF_LOGIT_POS * (size_t)V);
	if (!ok(ids && ref_nll && ref_lg, "%s: reference files read", name))
		goto out;

	float *hid = malloc(sizeof(float) * CTX * CHUNKS * (size_t)D);
	float *lg = malloc(sizeof(float) * CTX * (size_t)V);
	pj_fwd_head *head = NULL;
	pj_status st = pj_fwd_hidden(f, ids, CHUNKS, CTX, NULL, hid, &err);
	if (!st)
		st = pj_fwd_head_load(f, NULL, &head, &err);
	if (!ok(st == PJ_OK, "%s: forward pass runs", name)) {
		tap_diag("%s", err.msg);
		free(hid);
		free(lg);
		goto out;
	}
	fwt_score sc = { 0 };
	for (int c = 0; c < CHUNKS; c++) {
		pj_fwd_logits(f, head, hid + (size_t)c * CTX * D, CTX, lg);
		if (c == 0)
			fwt_score_logits(&sc, lg, ref_lg, V);
		fwt_score_chunk(&sc, lg, V, ids, ref_nll, c);
	}
	fwt_score_check(&sc, name);
	pj_fwd_head_free(head);
	free(hid);
	free(lg);
out:
	free(ids);
	free(ref_nll);
	free(ref_lg);
	pj_fwd_free(f);
	pj_model_close(m);
}

/* Opens shared model `name` and reads its first n reference ids. */
static bool open_ids(const char *shared, const char *name, size_t n, pj_model **m, int32_t **ids)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/models/%s", shared, name);
	*ids = fwt_ref(shared, name, "eval_ids.i32", sizeof(int32_t) * n);
	*m = NULL;
	pj_error err = { 0 };
	if (*ids && pj_model_open(dir, m, &err) == PJ_OK)
		return true;
	ok(0, "%s opens, with its reference ids", name);
	free(*ids);
	return false;
}

/* The same logits whatever the thread count (rows are split, never sums). */
static void check_threads(const char *shared)
{
	pj_model *m;
	int32_t *ids;
	if (!open_ids(shared, "qwen3moe", 64, &m, &ids))
		return;
	pj_error err = { 0 };
	float *out[2] = { NULL, NULL };
	for (int i = 0; i < 2; i++) {
		pj_fwd *f = NULL;
		if (pj_fwd_open(m, i ? 3 : 1, &f, &err) != PJ_OK)
			break;
		out[i] = calloc(64 * (size_t)pj_fwd_hidden_size(f), sizeof(float));
		pj_fwd_hidden(f, ids, 2, 32, NULL, out[i], &err);
		pj_fwd_free(f);
	}
	ok(out[0] && out[1] && memcmp(out[0], out[1], 64 * 256 * sizeof(float)) == 0,
	   "qwen3moe: hidden states identical with 1 and 3 threads");
	free(out[0]);
	free(out[1]);
	free(ids);
	pj_model_close(m);
}

/* PPL from transformers' per-token NLL with llama-perplexity's scoring:
 * predictions from positions n_ctx/2 .. n_ctx-2.  (reference.json's
 * "ppl_second_half" starts one position earlier, at 127.) */
static double ref_ppl_second_half(const char *shared, const char *name)
{
	float *nll = fwt_ref(shared, name, "nll_f32.bin", sizeof(float) * CHUNKS * (CTX - 1));
	if (!nll)
		return NAN;
	double s = 0;
	int n = 0;
	for (int c = 0; c < CHUNKS; c++)
		for (int t = CTX / 2; t < CTX - 1; t++, n++)
			s += nll[c * (CTX - 1) + t];
	free(nll);
	return exp(s / n);
}

/* Metrics: base vs base is exact; a Q4_K pure plan costs something. */
static void check_eval(const char *shared)
{
	pj_model *m;
	int32_t *ids;
	if (!open_ids(shared, "llama", CTX * CHUNKS, &m, &ids))
		return;
	pj_error err = { 0 };
	int32_t bos;
	pj_eval_model_bos(m, &bos);
	is_int(bos, -1, "eval: llama's tokenizer adds no BOS");
	pj_eval_opts o = { .n_ctx = CTX, .n_chunks = 0, .bos = -1, .threads = 2 };
	pj_eval_result r;
	/* the plan is the source again, through the provider path */
	const pj_fwd_weights same = { pj_fwd_load_source, NULL, NULL, NULL };   /* no keys: a full run */
	pj_status st = pj_eval_run(m, ids, CTX * CHUNKS, &same, &o, &r, &err);
	if (!ok(st == PJ_OK, "eval: base vs base runs"))
		tap_diag("%s", err.msg);
	is_int(r.n_chunks, CHUNKS, "eval: 8 chunks of 256");
	is_int(r.count, CHUNKS * (CTX - 1 - CTX / 2), "eval: 127 scored predictions per chunk (second half)");
	ok(r.ppl_plan == r.ppl_base && r.ln_ppl_ratio == 0, "eval: base vs base: PPL ratio exactly 1");
	ok(r.kld_mean == 0 && r.kld_max == 0 && r.kld_p99_9 == 0, "eval: base vs base: KLD exactly 0");
	ok(r.top1_agreement == 1.0 && r.rms_dp == 0, "eval: base vs base: top-1 100%%, RMS dp 0");
	const double want = ref_ppl_second_half(shared, "llama");
	ok(fabs(r.ppl_base / want - 1) < 1e-4, "eval: PPL(base) equals transformers' PPL over the same positions (1e-4)");
	tap_diag("PPL(base) %.6f, reference %.6f", r.ppl_base, want);

	pj_eval_pure pure = { PJ_DT_Q4_K, 2 };
	const pj_fwd_weights q4 = { pj_eval_pure_load, &pure, pj_eval_pure_key, NULL };
	st = pj_eval_run(m, ids, CTX * CHUNKS, &q4, &o, &r, &err);
	if (!ok(st == PJ_OK, "eval: Q4_K pure plan runs"))
		tap_diag("%s", err.msg);
	ok(r.kld_mean > 0 && r.kld_stderr > 0 && r.kld_p99 >= r.kld_p95 && r.kld_p95 >= r.kld_median,
	   "eval: Q4_K: KLD > 0, percentiles ordered");
	ok(r.ln_ppl_ratio > 0 && r.ln_ppl_ratio < 0.2, "eval: Q4_K: PPL rises, by less than 20%%");
	ok(r.top1_agreement > 0.8 && r.top1_agreement < 1, "eval: Q4_K: top-1 agreement in (0.8, 1)");
	tap_diag("Q4_K: PPL %.4f -> %.4f (ln ratio %.5f +- %.5f), KLD %.5f +- %.5f, p99.9 %.4f p99 %.4f p95 %.4f "
	         "median %.5f, top-1 %.2f%%, RMS dp %.3f%%",
	         r.ppl_base, r.ppl_plan, r.ln_ppl_ratio, r.ln_ppl_ratio_err, r.kld_mean, r.kld_stderr, r.kld_p99_9,
	         r.kld_p99, r.kld_p95, r.kld_median, 100 * r.top1_agreement, 100 * r.rms_dp);

	/* BOS: the first token of every chunk becomes BOS */
	o.bos = 0;
	o.n_chunks = 2;
	st = pj_eval_run(m, ids, CTX * CHUNKS, NULL, &o, &r, &err);
	ok(st == PJ_OK && r.n_chunks == 2 && r.kld_mean == 0, "eval: --chunks 2 with BOS runs, plan NULL is the base");
	pj_model_close(m);
	free(ids);
}

/* ---- the matmul kernels ---------------------------------------------------------- */

static const char *const KNAME[] = { "base", "avx2+fma" };

/* y = x . W^T + b on sizes with tails (in % 8 = 5) and edge tiles, 1 and 3
 * threads; then the same rows again, one token later in the batch. */
static void check_matmul(void)
{
	enum { N = 301, IN = 1541, OUT = 100 };
	float *x = fwt_rnd((size_t)N * IN, 1, 1), *w = fwt_rnd((size_t)OUT * IN, 2, 1), *b = fwt_rnd(OUT, 3, 1);
	float *y[3] = { malloc(sizeof(float) * N * OUT), malloc(sizeof(float) * N * OUT),
	                malloc(sizeof(float) * N * OUT) };
	pj_fwd f1 = { .threads = 1 }, f3 = { .threads = 3, .pool = pj_pool_new(3, 0) };
	const fwd_mm_kernel was = fwd_mm_kernel_get();
	for (int k = FWD_MM_BASE; k <= FWD_MM_AVX2; k++) {
		fwd_mm_kernel_set((fwd_mm_kernel)k);
		if (fwd_mm_kernel_get() != (fwd_mm_kernel)k) {
			skip("matmul avx2+fma: the CPU lacks AVX2/FMA");
			continue;
		}
		fwd_matmul(&f1, x, N, IN, w, b, OUT, y[0], OUT);
		fwd_matmul(&f3, x, N, IN, w, b, OUT, y[1], OUT);
		fwd_matmul(&f3, x + IN, N - 1, IN, w, b, OUT, y[2], OUT);
		/* bound: (terms per lane + reduction) ulps of sum |x w| */
		double worst = 0;
		for (size_t t = 0; t < N; t++)
			for (size_t r = 0; r < OUT; r++) {
				double ref = b[r], mag = fabs(b[r]);
				for (size_t i = 0; i < IN; i++) {
					ref += (double)x[t * IN + i] * w[r * IN + i];
					mag += fabs((double)x[t * IN + i] * w[r * IN + i]);
				}
				const double e = fabs(y[0][t * OUT + r] - ref) / (mag * (IN / 4 + 8) * 0x1p-24);
				worst = e > worst ? e : worst;
			}
		ok(worst <= 1, "matmul %s: %dx%d . %dx%d^T + b within the f32 error bound (%.3f of it)", KNAME[k], N, IN,
		   OUT, IN, worst);
		ok(memcmp(y[0], y[1], sizeof(float) * N * OUT) == 0, "matmul %s: 1 and 3 threads bit-identical",
		   KNAME[k]);
		ok(memcmp(y[0] + OUT, y[2], sizeof(float) * (N - 1) * OUT) == 0,
		   "matmul %s: a token's row does not depend on its tile", KNAME[k]);
		float d = fwd_dot(x, w, IN), d1;
		fwd_matmul(&f1, x, 1, IN, w, NULL, 1, &d1, 1);
		ok(d == d1, "matmul %s: fwd_dot sums in the matmul's order", KNAME[k]);
	}
	fwd_mm_kernel_set(was);
	pj_pool_free(f3.pool);
	for (int i = 0; i < 3; i++)
		free(y[i]);
	free(x);
	free(w);
	free(b);
}

/* A whole model with each kernel: the same hidden states up to rounding. */
static void check_kernels(const char *shared)
{
	pj_model *m;
	int32_t *ids;
	if (!open_ids(shared, "qwen3", CTX, &m, &ids))
		return;
	pj_error err = { 0 };
	const fwd_mm_kernel was = fwd_mm_kernel_get();
	float *h[2] = { NULL, NULL };
	size_t n = 0;
	for (int k = FWD_MM_BASE; k <= FWD_MM_AVX2; k++) {
		pj_fwd *f = NULL;
		fwd_mm_kernel_set((fwd_mm_kernel)k);
		if (fwd_mm_kernel_get() != (fwd_mm_kernel)k || pj_fwd_open(m, 2, &f, &err) != PJ_OK)
			break;
		n = (size_t)CTX * (size_t)pj_fwd_hidden_size(f);
		h[k] = malloc(sizeof(float) * n);
		if (pj_fwd_hidden(f, ids, 1, CTX, NULL, h[k], &err) != PJ_OK)
			tap_diag("%s", err.msg);
		pj_fwd_free(f);
	}
	fwd_mm_kernel_set(was);
	if (!h[1]) {
		skip("kernels: the CPU lacks AVX2/FMA: the baseline kernel only");
	} else {
		double dmax = 0, hmax = 0;
		for (size_t i = 0; i < n; i++) {
			dmax = fmax(dmax, fabs(h[0][i] - h[1][i]));
			hmax = fmax(hmax, fabs(h[0][i]));
		}
		ok(dmax > 0 && dmax <= 1e-4 * hmax, "kernels: qwen3 hidden states, base vs avx2+fma: max |d| %.3g "
		   "(max |h| %.3g): they differ by rounding only", dmax, hmax);
	}
	free(h[0]);
	free(h[1]);
	free(ids);
	pj_model_close(m);
}

int main(void)
{
	const char *shared = fwt_shared("llama");
	if (!shared)
		return 0;
	/* Under ThreadSanitizer (.ci/run sets PJ_TEST_THREADS_ONLY) the scalar
	 * forward pass is ~50x slower: run only the threaded comparison, which is
	 * what the race detector is there for; the plain and ASan passes run all. */
	const char *only = getenv("PJ_TEST_THREADS_ONLY");
	if (!only || !*only) {
		static const char *const models[] = { "llama", "qwen3", "qwen3moe", "gemma3", "deepseek3" };
		for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
			check_model(shared, models[i]);
	}
	check_threads(shared);
	check_matmul();
	if (!only || !*only) {
		check_kernels(shared);
		check_eval(shared);
	}
	return done_testing();
}
