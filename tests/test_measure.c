/* test_measure.c - error measurement and its cache.
 *
 * Synthetic tensors (written to a temporary file and catalogued by hand)
 * check the arithmetic against a brute-force computation, importance
 * weighting per expert, thread-count independence, cancellation,
 * non-applicable types and the cache (hit after reopen, corruption
 * detected and rebuilt), FP8 with block scales (a fixture checkpoint).  A
 * real tensor of ../shared's llama checks that the errors are ordered as the
 * bit widths say; an expert of the qwen3moe HF folder, that it is weighted
 * with its own row of the stacked imatrix entry. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "gguf.h"
#include "model.h"
#include "synth.h"
#include "quant/convert.h"
#include "quant/imatrix.h"
#include "quant/mcache.h"
#include "quant/measure.h"
#include "quant/qtypes.h"
#include "tap.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
static float frand(void)   /* uniform in [-1, 1) */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static float gauss(void)
{
	return (frand() + frand() + frand() + frand()) * 0.5f;
}

/* ---- a synthetic model: F32 tensors in one file ------------------------------ */

typedef struct synth {
	char dir[256], path[300];
	pj_catalog cat;
	FILE *f;
	uint64_t off;
} synth;

static void synth_begin(synth *s)
{
	snprintf(s->dir, sizeof s->dir, "/tmp/pj-measure.XXXXXX");
	if (!mkdtemp(s->dir))
		abort();
	snprintf(s->path, sizeof s->path, "%s/model.bin", s->dir);
	s->f = fopen(s->path, "wb");
	s->off = 0;
	pj_catalog_init(&s->cat);
	pj_catalog_add_file(&s->cat, s->path, 0);   /* size set at the end */
}

/* Adds an F32 tensor of ne0 x ne1 x ne2 with data x (copied to the file). */
static size_t synth_add(synth *s, const char *name, int64_t ne0, int64_t ne1, int64_t ne2, const float *x)
{
	int64_t ne[3] = { ne0, ne1, ne2 };
	int nd = ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1;
	uint64_t nb = (uint64_t)(ne0 * ne1 * ne2) * 4;
	fwrite(x, 1, nb, s->f);
	pj_error err;
	if (pj_catalog_add(&s->cat, s->path, name, strlen(name), PJ_DT_F32, nd, ne, 0, s->off, nb, &err) != PJ_OK)
		abort();
	s->off += nb;
	if (ne2 > 1)
		s->cat.t[s->cat.n - 1].n_experts = (int32_t)ne2;
	return s->cat.n - 1;
}

/* Adds a tensor of raw bytes in any dtype. */
static size_t synth_add_raw(synth *s, const char *name, pj_dtype dt, int64_t ne0, int64_t ne1, const void *b,
                            uint64_t nb)
{
	int64_t ne[2] = { ne0, ne1 };
	fwrite(b, 1, nb, s->f);
	pj_error err;
	if (pj_catalog_add(&s->cat, s->path, name, strlen(name), dt, 2, ne, 0, s->off, nb, &err) != PJ_OK)
		abort();
	s->off += nb;
	return s->cat.n - 1;
}

static void synth_end(synth *s)
{
	fclose(s->f);
	s->cat.files[0].size = s->off;
}

static void synth_free(synth *s)
{
	pj_catalog_free(&s->cat);
	unlink(s->path);
	rmdir(s->dir);
}

static float *gauss_data(size_t n, float scale)
{
	float *x = pj_xmalloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = gauss() * scale;
	return x;
}

/* A one-entry importance matrix held in memory. */
static void imatrix_one(pj_imatrix *im, pj_imatrix_entry *e, const char *name, int64_t ne0, int64_t nmat,
                        float *w)
{
	memset(im, 0, sizeof *im);
	memset(e, 0, sizeof *e);
	e->name = (char *)name;
	e->n_per_row = ne0;
	e->n_mats = nmat;
	e->weights = w;
	im->e = e;
	im->n = 1;
}

/* Brute force: quantize the whole matrix at once, sum in one loop. */
static double brute_rel(pj_dtype t, const float *x, int64_t rows, int64_t ne0, const float *w, double *maxe)
{
	uint8_t *q = pj_xmalloc((size_t)(rows * ne0) * 4);
	float *y = pj_xmalloc((size_t)(rows * ne0) * sizeof *y);
	pj_error err;
	double num = 0, den = 0;
	*maxe = 0;
	if (pj_quantize_rows(t, x, q, rows, ne0, w, 1, "brute", &err) != PJ_OK ||
	    pj_dequantize_rows(t, q, y, rows, ne0, &err) != PJ_OK) {
		free(q);
		free(y);
		return NAN;
	}
	for (int64_t i = 0; i < rows * ne0; i++) {
		double wi = w ? w[i % ne0] : 1.0, e = (double)x[i] - y[i];
		num += wi * e * e;
		den += wi * (double)x[i] * x[i];
		*maxe = fabs(e) > *maxe ? fabs(e) : *maxe;
	}
	free(q);
	free(y);
	return num / den;
}

static bool close_rel(double a, double b, double tol)
{
	return fabs(a - b) <= tol * fabs(b);
}

static pj_status run(pj_catalog *cat, const size_t *order, size_t n, const pj_measure_opts *o, unsigned threads,
                     pj_mtensor *out, pj_measure_counts *cnt)
{
	pj_error err = { 0 };
	pj_status st = pj_measure_run(cat, order, n, o, threads, out, cnt, &err);
	if (st != PJ_OK)
		tap_diag("measure: %s", err.msg);
	return st;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_defaults(void)
{
	pj_dtype t[PJ_MEASURE_MAX_TYPES];
	size_t n = pj_measure_default_types(false, t);
	is_int(n, 10, "10 default candidates without an importance matrix");
	ok(t[0] == PJ_DT_F16 && t[1] == PJ_DT_Q8_0 && t[9] == PJ_DT_Q4_0, "default order F16 Q8_0 ... Q4_0");
	is_int(pj_measure_default_types(true, t), 17, "17 with one (IQ3_XXS IQ3_S IQ1_M IQ2_S IQ2_XS IQ2_XXS IQ1_S added)");
	ok(t[10] == PJ_DT_IQ3_XXS && t[12] == PJ_DT_IQ1_M && t[16] == PJ_DT_IQ1_S, "imatrix-only types come last");
}

/* Plain and weighted errors against the brute force, experts included. */
static void test_brute(void)
{
	enum { NE0 = 512, ROWS = 300, EXP = 3, EROWS = 40 };
	synth s;
	synth_begin(&s);
	float *x = gauss_data(NE0 * ROWS, 0.02f);
	x[7] = 0.5f;     /* an outlier */
	float *xe = gauss_data(NE0 * EROWS * EXP, 0.03f);
	size_t t0 = synth_add(&s, "blk.0.ffn_down.weight", NE0, ROWS, 1, x);
	size_t t1 = synth_add(&s, "blk.0.ffn_down_exps.weight", NE0, EROWS, EXP, xe);
	synth_end(&s);

	static float w0[NE0], we[NE0 * EXP];
	for (int i = 0; i < NE0; i++)
		w0[i] = 0.05f + 4.0f * (frand() + 1.0f) * (i % 7 == 0 ? 10.0f : 1.0f);
	for (int i = 0; i < NE0 * EXP; i++)
		we[i] = 0.1f + (frand() + 1.0f) * (float)(1 + i / NE0);

	const pj_dtype types[] = { PJ_DT_Q8_0, PJ_DT_Q4_K, PJ_DT_IQ4_XS, PJ_DT_Q2_K };
	pj_measure_opts o = { .types = types, .n_types = 4 };
	size_t order[2] = { t0, t1 };
	pj_mtensor plain[2], wtd[2];
	pj_measure_counts cnt;
	ok(run(&s.cat, order, 2, &o, 2, plain, &cnt) == PJ_OK, "unweighted run");
	is_int(cnt.computed, 8, "8 results computed");
	ok(plain[0].state == PJ_MS_DONE && plain[1].state == PJ_MS_DONE && !plain[0].weighted, "both tensors done");

	int bad = 0;
	for (int k = 0; k < 4; k++) {
		double mx, rel = brute_rel(types[k], x, ROWS, NE0, NULL, &mx);
		if (!close_rel(plain[0].r[k].rel_err, rel, 1e-9) || plain[0].r[k].max_abs_err != mx) {
			bad++;
			tap_diag("%s: %.12g vs brute %.12g, max %.9g vs %.9g", pj_dtype_name(types[k]),
			         plain[0].r[k].rel_err, rel, plain[0].r[k].max_abs_err, mx);
		}
	}
	is_int(bad, 0, "unweighted errors equal the brute force (4 types)");
	const pj_tstats *st = &plain[0].stats;
	ok(st->state == PJ_TS_DONE && st->n == NE0 * ROWS && fabs(pj_tstats_max_abs(st) - 0.5) < 1e-7 &&
	   st->n_outlier >= 1, "stats: n %llu, max|x| %.3f, %llu outliers", (unsigned long long)st->n,
	   pj_tstats_max_abs(st), (unsigned long long)st->n_outlier);
	ok(plain[0].r[1].bytes == (uint64_t)ROWS * 2 * 144 && fabs(plain[0].r[1].bpw - 4.5) < 1e-12,
	   "Q4_K bytes %llu, %.2f bpw", (unsigned long long)plain[0].r[1].bytes, plain[0].r[1].bpw);

	/* weighted: dense entry for t0, per-expert entry for t1 */
	pj_imatrix im2;
	pj_imatrix_entry ent[2];
	memset(&im2, 0, sizeof im2);
	memset(ent, 0, sizeof ent);
	ent[0] = (pj_imatrix_entry){ .name = "blk.0.ffn_down.weight", .n_per_row = NE0, .n_mats = 1, .weights = w0 };
	ent[1] = (pj_imatrix_entry){ .name = "blk.0.ffn_down_exps.weight", .n_per_row = NE0, .n_mats = EXP,
	                             .weights = we };
	im2.e = ent;
	im2.n = 2;   /* sorted: "ffn_down." < "ffn_down_" */
	o.imatrix = &im2;
	ok(run(&s.cat, order, 2, &o, 2, wtd, NULL) == PJ_OK && wtd[0].weighted && wtd[1].weighted,
	   "weighted run uses the importance weights");
	bad = 0;
	int differ = 0;
	for (int k = 0; k < 4; k++) {
		double mx, rel = brute_rel(types[k], x, ROWS, NE0, w0, &mx);
		if (!close_rel(wtd[0].r[k].rel_err, rel, 1e-9)) {
			bad++;
			tap_diag("weighted %s: %.12g vs brute %.12g", pj_dtype_name(types[k]), wtd[0].r[k].rel_err, rel);
		}
		differ += wtd[0].r[k].rel_err != plain[0].r[k].rel_err;
	}
	is_int(bad, 0, "weighted errors equal the brute force (4 types)");
	is_int(differ, 4, "weighted errors differ from unweighted ones");

	/* experts: each expert quantized and weighted with its own slice */
	bad = 0;
	for (int k = 0; k < 4; k++) {
		double num = 0, den = 0;
		for (int e = 0; e < EXP; e++) {
			double mx, rel = brute_rel(types[k], xe + e * NE0 * EROWS, EROWS, NE0, we + e * NE0, &mx);
			double d = 0;
			for (int i = 0; i < NE0 * EROWS; i++)
				d += (double)we[e * NE0 + i % NE0] * xe[e * NE0 * EROWS + i] * xe[e * NE0 * EROWS + i];
			num += rel * d;
			den += d;
		}
		if (!close_rel(wtd[1].r[k].rel_err, num / den, 1e-9)) {
			bad++;
			tap_diag("experts %s: %.12g vs brute %.12g", pj_dtype_name(types[k]), wtd[1].r[k].rel_err,
			         num / den);
		}
	}
	is_int(bad, 0, "stacked experts: per-expert weights, errors equal the brute force");
	free(x);
	free(xe);
	synth_free(&s);
}

/* Field by field: the struct has padding. */
static bool same_stats(const pj_tstats *a, const pj_tstats *b)
{
	return a->state == b->state && a->n == b->n && a->n_finite == b->n_finite && a->n_nan == b->n_nan &&
	       a->n_inf == b->n_inf && a->n_outlier == b->n_outlier && a->n_outlier_seen == b->n_outlier_seen &&
	       !memcmp(&a->min, &b->min, sizeof a->min) && !memcmp(&a->max, &b->max, sizeof a->max) &&
	       !memcmp(&a->sum_abs, &b->sum_abs, sizeof a->sum_abs) && !memcmp(&a->sum_sq, &b->sum_sq, sizeof a->sum_sq);
}

static bool same_results(const pj_mtensor *a, const pj_mtensor *b)
{
	if (a->state != b->state || a->n != b->n || !same_stats(&a->stats, &b->stats))
		return false;
	for (size_t k = 0; k < a->n; k++) {
		const pj_mresult *p = &a->r[k], *q = &b->r[k];
		if (p->state != q->state || p->bytes != q->bytes)
			return false;
		if (p->state == PJ_MS_DONE &&
		    (memcmp(&p->rel_err, &q->rel_err, sizeof(double)) || memcmp(&p->max_abs_err, &q->max_abs_err,
		                                                                sizeof(double))))
			return false;
	}
	return true;
}

/* 1 vs 3 threads; not-applicable types and NaN handling. */
static void test_threads_na(void)
{
	enum { NE0 = 256, ROWS = 1024, ODD = 96 };
	synth s;
	synth_begin(&s);
	float *x = gauss_data(NE0 * ROWS, 0.01f);
	float *xo = gauss_data(ODD * 64, 0.01f);
	float *xn = gauss_data(NE0 * 8, 0.01f);
	xn[100] = NAN;
	xn[300] = INFINITY;
	size_t order[3] = { synth_add(&s, "big.weight", NE0, ROWS, 1, x),
	                    synth_add(&s, "odd.weight", ODD, 64, 1, xo),
	                    synth_add(&s, "nan.weight", NE0, 8, 1, xn) };
	synth_end(&s);

	pj_measure_opts o = { 0 };
	pj_mtensor r1[3], r3[3];
	ok(run(&s.cat, order, 3, &o, 1, r1, NULL) == PJ_OK && run(&s.cat, order, 3, &o, 3, r3, NULL) == PJ_OK,
	   "default candidates on 1 and 3 threads");
	ok(r1[0].n == 10 && same_results(&r1[0], &r3[0]) && same_results(&r1[1], &r3[1]) &&
	   same_results(&r1[2], &r3[2]), "1 and 3 threads: bit-identical results (16 chunks)");

	const pj_mresult *q4k = pj_mtensor_find(&r1[1], PJ_DT_Q4_K), *q80 = pj_mtensor_find(&r1[1], PJ_DT_Q8_0);
	ok(q4k && q4k->state == PJ_MS_NA && q4k->bytes == 0, "rows of 96: Q4_K not applicable");
	like(q4k ? q4k->reason : NULL, "not a multiple of the 256-element Q4_K block", "reason names the block");
	ok(q80 && q80->state == PJ_MS_DONE && q80->rel_err < 1e-4, "rows of 96: Q8_0 measured (%.2g)",
	   q80 ? q80->rel_err : NAN);
	int na = 0;
	for (size_t k = 0; k < r1[1].n; k++)
		na += r1[1].r[k].state == PJ_MS_NA;
	is_int(na, 6, "rows of 96: the six 256-block types are n/a");

	const pj_mresult *f16 = pj_mtensor_find(&r1[2], PJ_DT_F16), *q6 = pj_mtensor_find(&r1[2], PJ_DT_Q6_K);
	ok(r1[2].stats.n_nan == 1 && r1[2].stats.n_inf == 1, "NaN/Inf counted in the stats");
	ok(q6 && q6->state == PJ_MS_NA && strstr(q6->reason, "NaN/Inf"), "NaN/Inf: Q6_K n/a (%s)",
	   q6 ? q6->reason : "");
	ok(f16 && f16->state == PJ_MS_DONE && isfinite(f16->rel_err), "NaN/Inf: F16 measured over finite values");

	const pj_dtype need[] = { PJ_DT_IQ1_M, PJ_DT_Q4_K, PJ_DT_IQ3_XXS };
	pj_measure_opts o2 = { .types = need, .n_types = 3 };
	pj_mtensor r;
	run(&s.cat, order, 1, &o2, 1, &r, NULL);
	ok(r.r[0].state == PJ_MS_NA && strstr(r.r[0].reason, "needs an importance matrix") &&
	   r.r[1].state == PJ_MS_DONE, "IQ1_M without an imatrix: n/a (%s)", r.r[0].reason);
	ok(r.r[2].state == PJ_MS_DONE, "IQ3_XXS asked for explicitly: measured without one (ggml allows it)");

	/* the job API as the UI drives it: progress and polling */
	pj_pool *pool = pj_pool_new(2, 0);
	pj_error err = { 0 };
	pj_measure_job *j = pj_measure_job_start(pool, &s.cat, order, 3, NULL, NULL, &err);
	pj_measure_job_wait(j);
	pj_progress_snap snap;
	pj_progress_snapshot(pj_measure_job_progress(j), &snap);
	ok(snap.finished && snap.items_done == 3 && snap.units_done == snap.units_total &&
	   snap.units_total == NE0 * ROWS + ODD * 64 + NE0 * 8, "job progress: %llu/%llu tensors, %llu/%llu elements",
	   (unsigned long long)snap.items_done, (unsigned long long)snap.items_total,
	   (unsigned long long)snap.units_done, (unsigned long long)snap.units_total);
	pj_mtensor polled;
	pj_measure_job_get(j, 1, &polled);
	ok(same_results(&polled, &r1[1]), "polled result equals the batch one");
	pj_measure_job_free(j);
	pj_pool_free(pool);

	const pj_dtype many[PJ_MEASURE_MAX_TYPES + 1] = { 0 };
	pj_measure_opts o3 = { .types = many, .n_types = PJ_MEASURE_MAX_TYPES + 1 };
	ok(pj_measure_run(&s.cat, order, 1, &o3, 1, &r, NULL, &err) == PJ_EUSAGE, "too many candidates refused");
	free(x);
	free(xo);
	free(xn);
	synth_free(&s);
}

/* FP8: plain is measured, and so is FP8 with block scales: on the values
 * times their block's scale. */
static void test_fp8(void)
{
	synth s;
	synth_begin(&s);
	static uint8_t w8[256 * 4];
	for (size_t i = 0; i < sizeof w8; i++)
		w8[i] = (uint8_t)(0x30 + i % 16 + (i & 64 ? 0x80 : 0));   /* small +-values */
	static const float scale = 0.5f;
	size_t order[2] = { synth_add_raw(&s, "a.weight", PJ_DT_F8_E4M3, 256, 4, w8, sizeof w8),
	                    synth_add_raw(&s, "b.weight", PJ_DT_F8_E4M3, 256, 4, w8, sizeof w8) };
	synth_add_raw(&s, "b.weight_scale_inv", PJ_DT_F32, 1, 1, &scale, 4);
	/* a tensor whose data lies past the end of the file */
	int64_t ne[2] = { 256, 4 };
	pj_error err;
	pj_catalog_add(&s.cat, s.path, "gone.weight", 11, PJ_DT_F32, 2, ne, 0, s.off + 4096, 4096, &err);
	size_t gone = s.cat.n - 1;
	synth_end(&s);
	pj_mtensor r[2], rg;
	run(&s.cat, &gone, 1, NULL, 2, &rg, NULL);
	ok(rg.state == PJ_MS_ERROR && strstr(rg.reason, "gone.weight") && rg.r[3].state == PJ_MS_ERROR,
	   "unreadable tensor: error, named (%s)", rg.reason);
	run(&s.cat, order, 2, NULL, 1, r, NULL);
	const pj_mresult *q8 = pj_mtensor_find(&r[0], PJ_DT_Q8_0);
	ok(r[0].state == PJ_MS_DONE && q8 && q8->state == PJ_MS_DONE && q8->rel_err > 0 && q8->rel_err < 1e-3,
	   "plain F8_E4M3 source measured (Q8_0 %.2e)", q8 ? q8->rel_err : NAN);
	static float xs[256 * 4];
	for (size_t i = 0; i < sizeof w8; i++)
		xs[i] = pj_fp8_e4m3_to_f32(w8[i]) * scale;   /* one 256-wide block */
	double mx, rel = brute_rel(PJ_DT_Q8_0, xs, 4, 256, NULL, &mx);
	const pj_mresult *s8 = pj_mtensor_find(&r[1], PJ_DT_Q8_0);
	ok(r[1].state == PJ_MS_DONE && s8 && close_rel(s8->rel_err, rel, 1e-9) && s8->max_abs_err == mx &&
	   mx != q8->max_abs_err, "block-scaled FP8: measured on the scaled values (max err %.3g, unscaled %.3g)",
	   s8 ? s8->max_abs_err : NAN, q8->max_abs_err);
	synth_free(&s);
}

typedef struct sink_ctx {
	atomic_int results;
} sink_ctx;

static void on_result(void *ctx, size_t i, const pj_mtensor *m)
{
	(void)i;
	(void)m;
	atomic_fetch_add(&((sink_ctx *)ctx)->results, 1);
}

static void test_cancel(void)
{
	enum { NE0 = 256, ROWS = 8192 };
	synth s;
	synth_begin(&s);
	float *x = gauss_data(NE0 * ROWS, 0.02f);
	size_t order[2] = { synth_add(&s, "a.weight", NE0, ROWS, 1, x), synth_add(&s, "b.weight", NE0, ROWS, 1, x) };
	synth_end(&s);

	pj_pool *pool = pj_pool_new(1, 0);
	sink_ctx sc = { 0 };
	pj_measure_sink sink = { on_result, NULL, &sc };
	pj_error err = { 0 };
	pj_measure_job *j = pj_measure_job_start(pool, &s.cat, order, 2, NULL, &sink, &err);
	const pj_progress *pr = pj_measure_job_progress(j);
	struct timespec ts = { 0, 200000 };
	pj_progress_snap snap;
	do {   /* wait for the first chunk: 32 chunks x 10 types are far from done */
		nanosleep(&ts, NULL);
		pj_progress_snapshot(pr, &snap);
	} while (snap.units_done == 0);
	pj_measure_job_cancel(j);
	pj_measure_job_wait(j);
	pj_progress_snapshot(pr, &snap);
	pj_mtensor a, b;
	pj_measure_job_get(j, 0, &a);
	pj_measure_job_get(j, 1, &b);
	ok(snap.finished && snap.cancelled, "cancelled job finishes");
	ok(a.state == PJ_MS_PARTIAL && a.rows_done > 0 && a.rows_done < a.rows, "first tensor partial: %llu/%llu rows",
	   (unsigned long long)a.rows_done, (unsigned long long)a.rows);
	ok(a.r[4].state == PJ_MS_PARTIAL && isfinite(a.r[4].rel_err), "its results are marked partial");
	ok(b.state == PJ_MS_PENDING, "second tensor never started");
	ok(snap.units_done < snap.units_total / 2 && snap.items_done == 0, "stopped early: %llu of %llu elements",
	   (unsigned long long)snap.units_done, (unsigned long long)snap.units_total);
	is_int(atomic_load(&sc.results), 1, "sink told once (the partial tensor)");
	pj_measure_job_free(j);
	pj_pool_free(pool);
	free(x);
	synth_free(&s);
}

/* ---- cache -------------------------------------------------------------------- */

static void rm_cache(const char *dir)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, PJ_MCACHE_FILE);
	unlink(p);
	rmdir(dir);
}

static void corrupt(const char *file, long off, int how)
{
	FILE *f = fopen(file, "r+b");
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	if (how == 0) {                   /* flip one byte */
		fseek(f, off < 0 ? len + off : off, SEEK_SET);
		int c = fgetc(f);
		fseek(f, off < 0 ? len + off : off, SEEK_SET);
		fputc(c ^ 0x20, f);
		fclose(f);
	} else {                          /* truncate */
		fclose(f);
		if (truncate(file, len / 2) != 0)
			abort();
	}
}

/* Opens the cache at dir, measures, saves; returns the warning (malloc'd). */
static char *cached_run(const char *dir, pj_catalog *cat, const size_t *order, size_t n, const pj_measure_opts *o,
                        pj_mtensor *out, pj_measure_counts *cnt)
{
	pj_mcache *c;
	char *warn = NULL;
	pj_error err = { 0 };
	if (pj_mcache_open(dir, &c, &warn, &err) != PJ_OK) {
		tap_diag("cache open: %s", err.msg);
		return NULL;
	}
	pj_measure_opts oo = *o;
	oo.cache = c;
	run(cat, order, n, &oo, 2, out, cnt);
	if (pj_mcache_save(c, &err) != PJ_OK)
		tap_diag("cache save: %s", err.msg);
	pj_mcache_close(c);
	return warn;
}

static void test_cache(void)
{
	enum { NE0 = 256, ROWS = 64 };
	synth s;
	synth_begin(&s);
	float *x = gauss_data(NE0 * ROWS * 2, 0.02f);
	float *xo = gauss_data(96 * 8, 0.02f);
	size_t order[3] = { synth_add(&s, "t0.weight", NE0, ROWS, 1, x),
	                    synth_add(&s, "t1.weight", NE0, ROWS, 1, x + NE0 * ROWS),
	                    synth_add(&s, "odd.weight", 96, 8, 1, xo) };
	synth_end(&s);
	char dir[300], file[400];
	snprintf(dir, sizeof dir, "%s/cache/sub", s.dir);
	snprintf(file, sizeof file, "%s/%s", dir, PJ_MCACHE_FILE);
	pj_measure_opts o = { 0 };
	pj_mtensor first[3], again[3];
	pj_measure_counts c1, c2;

	char *w = cached_run(dir, &s.cat, order, 3, &o, first, &c1);
	ok(!w, "fresh cache: no warning, directory created");
	/* 2 x 10 + 4 applicable types of the 96-column tensor */
	ok(c1.computed == 24 && c1.cached == 0 && c1.kernel_calls > 0, "first run: %llu computed, %llu cached",
	   (unsigned long long)c1.computed, (unsigned long long)c1.cached);
	ok(c1.bytes_hashed == s.off, "tensor bytes hashed once (%llu)", (unsigned long long)c1.bytes_hashed);
	struct stat sb;
	int sr = stat(file, &sb);
	ok(sr == 0 && sb.st_size > 64, "cache file written (%lld bytes)", (long long)sb.st_size);

	w = cached_run(dir, &s.cat, order, 3, &o, again, &c2);
	ok(!w && c2.computed == 0 && c2.cached == 24 && c2.kernel_calls == 0,
	   "reopened: %llu cached, %llu computed, %llu kernel calls", (unsigned long long)c2.cached,
	   (unsigned long long)c2.computed, (unsigned long long)c2.kernel_calls);
	ok(same_results(&first[0], &again[0]) && same_results(&first[1], &again[1]) &&
	   same_results(&first[2], &again[2]), "cached results equal computed ones, stats included");
	ok(again[0].r[3].cached && !first[0].r[3].cached, "results say where they came from");

	/* a different imatrix is a different key */
	static float wt[NE0];
	for (int i = 0; i < NE0; i++)
		wt[i] = 1.0f + (float)i;
	pj_imatrix im;
	pj_imatrix_entry e;
	imatrix_one(&im, &e, "t0.weight", NE0, 1, wt);
	pj_measure_opts oi = { .imatrix = &im };
	pj_mtensor wr[1];
	free(cached_run(dir, &s.cat, order, 1, &oi, wr, &c2));
	ok(c2.computed == 17 && c2.cached == 0, "imatrix-weighted: computed, not taken from the unweighted entries");
	free(cached_run(dir, &s.cat, order, 1, &oi, wr, &c2));
	ok(c2.cached == 17 && c2.computed == 0, "imatrix-weighted: cached on the second run");

	static const struct { const char *what; long off; int how; const char *msg; } bad[] = {
		{ "flipped payload byte", -10, 0, "ignored" },
		{ "flipped header byte (checksum)", 40, 0, "checksum" },
		{ "truncated file", 0, 1, "truncated" },
		{ "wrong version", 8, 0, "version" },
		{ "bad magic", 0, 0, "magic" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		corrupt(file, bad[i].off, bad[i].how);
		w = cached_run(dir, &s.cat, order, 3, &o, again, &c2);
		ok(w && strstr(w, "ignored") && strstr(w, bad[i].msg), "%s detected: %s", bad[i].what, w ? w : "(none)");
		ok(c2.cached == 0 && c2.computed == 24 && same_results(&first[0], &again[0]) &&
		   same_results(&first[2], &again[2]), "%s: recomputed, same results", bad[i].what);
		free(w);
		w = cached_run(dir, &s.cat, order, 3, &o, again, &c2);
		ok(!w && c2.cached == 24, "%s: rebuilt file is trusted again", bad[i].what);
		free(w);
	}

	pj_mcache *c;
	pj_error err = { 0 };
	ok(pj_mcache_open("/proc/no/such/dir", &c, NULL, &err) == PJ_EIO && strstr(err.msg, "/proc/no"),
	   "unusable directory refused: %s", err.msg);
	rm_cache(dir);
	snprintf(dir, sizeof dir, "%s/cache", s.dir);
	rmdir(dir);
	free(x);
	free(xo);
	synth_free(&s);
}

/* A checkpoint as DeepSeek-V3 is released: FP8 E4M3 weights with 128x128
 * weight_scale_inv blocks, written by the fixture generator (synth.c) and
 * given a different scale per block.  Measured errors equal those of the
 * rows decoded by hand (each value times its block's scale); the scales
 * are part of the cache key. */
static const char F8_CONFIG[] =
	"{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":256,"
	"\"intermediate_size\":320,\"num_hidden_layers\":1,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
	"\"vocab_size\":512,\"max_position_embeddings\":256,\"rms_norm_eps\":1e-5,\"torch_dtype\":\"bfloat16\"}";

/* Writes new scales (k picks the pattern) straight into the file. */
static bool set_scales(pj_model *m, const pj_tensor *sc, int k)
{
	const int64_t n = pj_tensor_nelem(sc);
	float *v = pj_xmalloc((size_t)n * sizeof *v);
	for (int64_t i = 0; i < n; i++)
		v[i] = ldexpf(1.0f + 0.125f * (float)(i % 5), (int)((i * 3 + k) % 7) - 3);
	FILE *f = fopen(m->cat.files[sc->file].path, "r+b");
	bool good = f && fseek(f, (long)sc->offset, SEEK_SET) == 0 && fwrite(v, 4, (size_t)n, f) == (size_t)n;
	if (f)
		good &= fclose(f) == 0;
	free(v);
	return good;
}

/* The weight decoded by hand: E4M3 value times its block's F32 scale. */
static float *fp8_by_hand(pj_model *m, const pj_tensor *t, const pj_tensor *sc)
{
	pj_error err = { 0 };
	const uint8_t *w = pj_catalog_data(&m->cat, t, &err);
	const float *s = pj_catalog_data(&m->cat, sc, &err);
	const int64_t cols = t->ne[0], rows = t->ne[1], scols = sc->ne[0];
	float *x = pj_xmalloc((size_t)(rows * cols) * sizeof *x);
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c = 0; c < cols; c++) {
			float sv;
			memcpy(&sv, &s[(r / 128) * scols + c / 128], sizeof sv);
			x[r * cols + c] = pj_fp8_e4m3_to_f32(w[r * cols + c]) * sv;
		}
	return x;
}

static pj_model *open_fixture(const char *cfg, const char *out, bool write)
{
	pj_error err = { 0 };
	pj_model *m = NULL;
	const pj_synth_opts so = { .format = PJ_SYNTH_HF, .shards = 1, .dtype = "F8_E4M3", .seed = 7 };
	if ((write && pj_synth_write(cfg, out, &so, &err) != PJ_OK) || pj_model_open(out, &m, &err) != PJ_OK) {
		tap_diag("FP8 fixture: %s", err.msg);
		return NULL;
	}
	return m;
}

static void test_fp8_fixture(void)
{
	char dir[] = "/tmp/pj-measure-f8.XXXXXX", cfg[64], out[64], cdir[64], cmd[128];
	if (!mkdtemp(dir))
		abort();
	snprintf(cfg, sizeof cfg, "%s/config.json", dir);
	snprintf(out, sizeof out, "%s/model", dir);
	snprintf(cdir, sizeof cdir, "%s/cache", dir);
	FILE *f = fopen(cfg, "w");
	fputs(F8_CONFIG, f);
	fclose(f);
	static const char *const names[2] = { "model.layers.0.mlp.gate_proj.weight",   /* 256 x 320: edge rows */
	                                      "model.layers.0.mlp.down_proj.weight" }; /* 320 x 256: edge columns */
	const pj_dtype types[] = { PJ_DT_Q8_0, PJ_DT_Q4_K, PJ_DT_IQ4_NL, PJ_DT_Q4_0 };
	pj_measure_opts o = { .types = types, .n_types = 4 };
	pj_model *m = open_fixture(cfg, out, true);
	const pj_tensor *t[2] = { NULL, NULL }, *sc[2] = { NULL, NULL };
	size_t order[2];
	for (int i = 0; m && i < 2; i++) {
		char sn[96];
		snprintf(sn, sizeof sn, "%s_scale_inv", names[i]);
		t[i] = pj_catalog_find(&m->cat, names[i]);
		sc[i] = pj_catalog_find(&m->cat, sn);
		order[i] = t[i] ? (size_t)(t[i] - m->cat.t) : 0;
	}
	if (!ok(m && t[0] && t[1] && sc[0] && sc[1] && t[0]->dtype == PJ_DT_F8_E4M3 && sc[0]->ne[0] == 2 &&
	        sc[0]->ne[1] == 3 && set_scales(m, sc[0], 0) && set_scales(m, sc[1], 1),
	        "FP8 fixture with 128x128 block scales written, scales varied per block")) {
		pj_model_close(m);
		goto out;
	}
	pj_model_close(m);   /* reopened: the data is mapped after the scales were written */
	m = open_fixture(cfg, out, false);
	pj_mtensor r[2];
	pj_measure_counts cnt;
	char *warn = cached_run(cdir, &m->cat, order, 2, &o, r, &cnt);
	free(warn);
	int bad = 0, done = 0;
	for (int i = 0; i < 2; i++) {
		const pj_tensor *ti = &m->cat.t[order[i]];
		char sn[96];
		snprintf(sn, sizeof sn, "%s_scale_inv", names[i]);
		float *x = fp8_by_hand(m, ti, pj_catalog_find(&m->cat, sn));
		for (int k = 0; k < 4; k++) {
			double mx, rel = brute_rel(types[k], x, ti->ne[1], ti->ne[0], NULL, &mx);
			if (isnan(rel) && r[i].r[k].state == PJ_MS_NA)
				continue;   /* Q4_K of 320 columns */
			done++;
			if (r[i].r[k].state != PJ_MS_DONE || !close_rel(r[i].r[k].rel_err, rel, 1e-9) ||
			    r[i].r[k].max_abs_err != mx) {
				bad++;
				tap_diag("%s %s: %.12g vs by hand %.12g, max %.9g vs %.9g (%s)", names[i],
				         pj_dtype_name(types[k]), r[i].r[k].rel_err, rel, r[i].r[k].max_abs_err, mx,
				         r[i].r[k].reason);
			}
		}
		free(x);
	}
	ok(r[0].state == PJ_MS_DONE && r[1].state == PJ_MS_DONE && done == 7 && bad == 0,
	   "block-scaled FP8: %d errors equal those of the rows decoded by hand, %d differ", done, bad);
	ok(r[0].stats.state == PJ_TS_DONE && r[0].stats.n == 256 * 320, "statistics over the scaled values");
	pj_model_close(m);

	/* same weight bytes, other scales: other values, so no cache hit */
	m = open_fixture(cfg, out, false);
	pj_mtensor r2[2];
	bool wrote = set_scales(m, pj_catalog_find(&m->cat, "model.layers.0.mlp.down_proj.weight_scale_inv"), 3);
	pj_model_close(m);
	m = open_fixture(cfg, out, false);
	warn = cached_run(cdir, &m->cat, order, 2, &o, r2, &cnt);
	free(warn);
	ok(wrote && cnt.cached == 4 && cnt.computed == 3 && r2[0].r[0].rel_err == r[0].r[0].rel_err &&
	   r2[1].r[0].max_abs_err != r[1].r[0].max_abs_err,
	   "cache: new scales miss (%llu computed), the unchanged tensor hits (%llu cached)",
	   (unsigned long long)cnt.computed, (unsigned long long)cnt.cached);
	pj_model_close(m);
out:
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
}

/* ---- a real tensor ---------------------------------------------------------------- */

static void test_real(const char *shared)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/models/llama/gguf/llama-BF16.gguf", shared);
	pj_catalog cat;
	pj_gguf g;
	pj_error err = { 0 };
	pj_catalog_init(&cat);
	if (pj_gguf_open(path, &g, &cat, &err) != PJ_OK) {
		ok(0, "open %s: %s", path, err.msg);
		pj_catalog_free(&cat);
		return;
	}
	ptrdiff_t ti = pj_catalog_find_index(&cat, "blk.0.ffn_down.weight");
	ok(ti >= 0, "llama blk.0.ffn_down.weight found");
	if (ti < 0)
		goto out;
	size_t order = (size_t)ti;
	pj_mtensor r, rw;
	pj_measure_opts o = { 0 };
	run(&cat, &order, 1, &o, 2, &r, NULL);
	double e[4];
	const pj_dtype ladder[4] = { PJ_DT_Q8_0, PJ_DT_Q6_K, PJ_DT_Q4_K, PJ_DT_Q2_K };
	for (int k = 0; k < 4; k++) {
		const pj_mresult *m = pj_mtensor_find(&r, ladder[k]);
		e[k] = m && m->state == PJ_MS_DONE ? m->rel_err : NAN;
	}
	ok(e[0] > 0 && e[0] < e[1] && e[1] < e[2] && e[2] < e[3] && e[3] < 0.5,
	   "errors ordered: Q8_0 %.2e < Q6_K %.2e < Q4_K %.2e < Q2_K %.2e", e[0], e[1], e[2], e[3]);
	const pj_mresult *f16 = pj_mtensor_find(&r, PJ_DT_F16);
	/* not exactly 0: BF16 values below 2^-14 lose bits as F16 subnormals */
	ok(f16 && f16->rel_err < 1e-6 && f16->max_abs_err < 1e-5, "F16 of a BF16 source: %.2e", f16 ? f16->rel_err : NAN);
	ok(r.stats.state == PJ_TS_DONE && r.stats.n == 768 * 256 && r.stats.n_nan == 0 &&
	   pj_tstats_max_abs(&r.stats) > 0, "stats: max|x| %.3f, outliers %.2e", pj_tstats_max_abs(&r.stats),
	   pj_tstats_outlier_frac(&r.stats));

	snprintf(path, sizeof path, "%s/golden/llama/imatrix.gguf", shared);
	pj_imatrix im;
	if (pj_imatrix_load(path, &im, &err) != PJ_OK) {
		ok(0, "imatrix: %s", err.msg);
		goto out;
	}
	o.imatrix = &im;
	run(&cat, &order, 1, &o, 2, &rw, NULL);
	const pj_mresult *a = pj_mtensor_find(&r, PJ_DT_Q4_K), *b = pj_mtensor_find(&rw, PJ_DT_Q4_K);
	const pj_mresult *iq = pj_mtensor_find(&rw, PJ_DT_IQ3_XXS), *iq1 = pj_mtensor_find(&rw, PJ_DT_IQ1_M);
	ok(rw.weighted && rw.n == 17 && b && b->weighted && b->rel_err != a->rel_err,
	   "imatrix: Q4_K weighted error %.3e differs from unweighted %.3e", b ? b->rel_err : NAN, a->rel_err);
	ok(iq && iq->state == PJ_MS_DONE && iq1 && iq1->state == PJ_MS_DONE && iq->rel_err < iq1->rel_err,
	   "imatrix: IQ3_XXS %.2e < IQ1_M %.2e measured", iq ? iq->rel_err : NAN, iq1 ? iq1->rel_err : NAN);
	const pj_mresult *i2s = pj_mtensor_find(&rw, PJ_DT_IQ2_S), *i2xxs = pj_mtensor_find(&rw, PJ_DT_IQ2_XXS),
	                 *i1s = pj_mtensor_find(&rw, PJ_DT_IQ1_S);
	ok(i2s && i2xxs && i1s && i2s->state == PJ_MS_DONE && i2xxs->state == PJ_MS_DONE && i1s->state == PJ_MS_DONE &&
	   iq->rel_err < i2s->rel_err && i2s->rel_err < i2xxs->rel_err && i2xxs->rel_err < i1s->rel_err,
	   "imatrix: IQ3_XXS < IQ2_S %.2e < IQ2_XXS %.2e < IQ1_S %.2e measured", i2s ? i2s->rel_err : NAN,
	   i2xxs ? i2xxs->rel_err : NAN, i1s ? i1s->rel_err : NAN);
	pj_imatrix_free(&im);
out:
	pj_gguf_free(&g);
	pj_catalog_free(&cat);
}

/* qwen3moe as an HF folder: each expert is its own tensor there, while the
 * imatrix (made from the GGUF) has one stacked entry per layer with a row
 * per expert.  Expert 5's measured error equals one computed by hand with
 * the weights read straight from imatrix.gguf: in_sum2 row 5 / counts[5]. */
static float *expert_weights(const char *path, const char *entry, int expert, int64_t ne0)
{
	pj_catalog cat;
	pj_gguf g;
	pj_error err = { 0 };
	float *w = NULL;
	pj_catalog_init(&cat);
	if (pj_gguf_open(path, &g, &cat, &err) != PJ_OK) {
		tap_diag("%s: %s", path, err.msg);
		pj_catalog_free(&cat);
		return NULL;
	}
	char n1[128], n2[128];
	snprintf(n1, sizeof n1, "%s.in_sum2", entry);
	snprintf(n2, sizeof n2, "%s.counts", entry);
	const pj_tensor *ts = pj_catalog_find(&cat, n1), *tc = pj_catalog_find(&cat, n2);
	const float *sum = ts ? pj_catalog_data(&cat, ts, &err) : NULL;
	const float *cnt = tc ? pj_catalog_data(&cat, tc, &err) : NULL;
	if (sum && cnt && ts->ne[0] == ne0 && cnt[expert] > 0) {
		w = pj_xmalloc((size_t)ne0 * sizeof *w);
		for (int64_t c = 0; c < ne0; c++)
			w[c] = sum[expert * ne0 + c] / cnt[expert];
	}
	pj_gguf_free(&g);
	pj_catalog_free(&cat);
	return w;
}

static void test_hf_experts(const char *shared)
{
	char path[4096];
	pj_error err = { 0 };
	pj_model *m = NULL;
	pj_imatrix im;
	snprintf(path, sizeof path, "%s/models/qwen3moe", shared);
	if (!ok(pj_model_open(path, &m, &err) == PJ_OK, "qwen3moe HF folder opens (%s)", err.msg))
		return;
	snprintf(path, sizeof path, "%s/golden/qwen3moe/imatrix.gguf", shared);
	if (!ok(pj_imatrix_load(path, &im, &err) == PJ_OK, "qwen3moe imatrix (%s)", err.msg)) {
		pj_model_close(m);
		return;
	}
	const char *name = "model.layers.1.mlp.experts.5.down_proj.weight";
	const pj_tensor *t = pj_catalog_find(&m->cat, name);
	const int64_t ne0 = t ? t->ne[0] : 0, rows = t ? t->ne[1] : 0;
	float *w5 = expert_weights(path, "blk.1.ffn_down_exps.weight", 5, ne0);
	float *w0 = expert_weights(path, "blk.1.ffn_down_exps.weight", 0, ne0);
	if (!ok(t && t->dtype == PJ_DT_BF16 && w5 && w0, "%s (BF16) and its imatrix rows", name))
		goto out;
	const uint16_t *raw = pj_catalog_data(&m->cat, t, &err);
	float *x = pj_xmalloc((size_t)(ne0 * rows) * sizeof *x);
	for (int64_t i = 0; i < ne0 * rows; i++)
		x[i] = pj_bf16_to_f32(raw[i]);
	const pj_dtype types[] = { PJ_DT_Q4_K, PJ_DT_IQ4_XS, PJ_DT_IQ3_XXS, PJ_DT_Q2_K };
	pj_measure_opts o = { .types = types, .n_types = 4, .imatrix = &im };
	size_t order = (size_t)(t - m->cat.t);
	pj_mtensor r;
	run(&m->cat, &order, 1, &o, 2, &r, NULL);
	int bad = 0, other = 0;
	for (int k = 0; k < 4; k++) {
		double mx, mx0, rel = brute_rel(types[k], x, rows, ne0, w5, &mx);
		double rel0 = brute_rel(types[k], x, rows, ne0, w0, &mx0);
		if (r.r[k].state != PJ_MS_DONE || !r.r[k].weighted || !close_rel(r.r[k].rel_err, rel, 1e-9) ||
		    r.r[k].max_abs_err != mx) {
			bad++;
			tap_diag("%s: %.12g vs by hand %.12g, max %.9g vs %.9g (%s)", pj_dtype_name(types[k]), r.r[k].rel_err,
			         rel, r.r[k].max_abs_err, mx, r.r[k].reason);
		}
		other += !close_rel(rel0, rel, 1e-6);
	}
	ok(r.weighted && bad == 0, "HF expert 5: weighted errors equal the hand computation with expert 5's imatrix row");
	is_int(other, 4, "expert 0's row would give other errors (the slice matters)");
	free(x);
out:
	free(w5);
	free(w0);
	pj_imatrix_free(&im);
	pj_model_close(m);
}

int main(void)
{
	test_defaults();
	test_brute();
	test_threads_na();
	test_fp8();
	test_cancel();
	test_cache();
	test_fp8_fixture();
	const char *shared = tap_shared_dir();
	if (shared) {
		test_real(shared);
		test_hf_experts(shared);
	} else
		skip("../shared absent: real-tensor error ordering and imatrix checks not run");
	return done_testing();
}
