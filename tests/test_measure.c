/* test_measure.c - error measurement and its cache.
 *
 * Synthetic tensors (written to a temporary file and catalogued by hand)
 * check the arithmetic against a brute-force computation, importance
 * weighting per expert, thread-count independence, cancellation,
 * non-applicable types and the cache (hit after reopen, corruption
 * detected and rebuilt).  A real tensor of ../shared's llama checks that
 * the errors are ordered as the bit widths say. */
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
	is_int(pj_measure_default_types(true, t), 13, "13 with one (IQ3_XXS, IQ3_S, IQ1_M added)");
	ok(t[10] == PJ_DT_IQ3_XXS && t[12] == PJ_DT_IQ1_M, "imatrix-only types come last");
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

/* FP8: plain is measured; with DeepSeek block scales it is refused (for now). */
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
	ok(r[1].state == PJ_MS_ERROR && strstr(r[1].reason, "scale_inv") && r[1].r[0].state == PJ_MS_ERROR,
	   "block-scaled FP8 refused, not measured wrong: %s", r[1].reason);
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
	ok(c2.computed == 13 && c2.cached == 0, "imatrix-weighted: computed, not taken from the unweighted entries");
	free(cached_run(dir, &s.cat, order, 1, &oi, wr, &c2));
	ok(c2.cached == 13 && c2.computed == 0, "imatrix-weighted: cached on the second run");

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
	ok(rw.weighted && rw.n == 13 && b && b->weighted && b->rel_err != a->rel_err,
	   "imatrix: Q4_K weighted error %.3e differs from unweighted %.3e", b ? b->rel_err : NAN, a->rel_err);
	ok(iq && iq->state == PJ_MS_DONE && iq1 && iq1->state == PJ_MS_DONE && iq->rel_err < iq1->rel_err,
	   "imatrix: IQ3_XXS %.2e < IQ1_M %.2e measured", iq ? iq->rel_err : NAN, iq1 ? iq1->rel_err : NAN);
	pj_imatrix_free(&im);
out:
	pj_gguf_free(&g);
	pj_catalog_free(&cat);
}

int main(void)
{
	test_defaults();
	test_brute();
	test_threads_na();
	test_fp8();
	test_cancel();
	test_cache();
	const char *shared = tap_shared_dir();
	if (shared)
		test_real(shared);
	else
		skip("../shared absent: real-tensor error ordering and imatrix checks not run");
	return done_testing();
}
