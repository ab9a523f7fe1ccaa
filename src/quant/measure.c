/* measure.c - the measurement job: per tensor a preparation step (weights,
 * applicability, cache lookup, statistics), then chunks of rows that any
 * runner may take, then a merge in chunk order. */
#include "config.h"
#include "measure.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/convert.h"
#include "quant/qtypes.h"
#include "quant/sha256.h"

/* Elements per chunk: one chunk's f32 rows, quantized bytes and
 * dequantized rows (~0.8 MB) stay in L2 while every candidate runs on them,
 * and a cancel is noticed within one chunk's work.  Chunk boundaries depend
 * only on the shape, never on the thread count. */
#define CHUNK_ELEMS 65536
/* Bytes hashed between two looks at the cancel flag. */
#define HASH_STEP (1u << 20)

const char *pj_mstate_name(pj_mstate s)
{
	static const char *const names[] = { "pending", "done", "partial", "n/a", "error" };
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static const pj_dtype DEFAULT_TYPES[] = {
	PJ_DT_F16, PJ_DT_Q8_0, PJ_DT_Q6_K, PJ_DT_Q5_K, PJ_DT_Q4_K, PJ_DT_Q3_K, PJ_DT_Q2_K,
	PJ_DT_IQ4_XS, PJ_DT_IQ4_NL, PJ_DT_Q4_0,
	/* need an importance matrix */
	PJ_DT_IQ3_XXS, PJ_DT_IQ3_S, PJ_DT_IQ1_M, PJ_DT_IQ2_S, PJ_DT_IQ2_XS, PJ_DT_IQ2_XXS, PJ_DT_IQ1_S,
};
#define N_PLAIN 10

size_t pj_measure_default_types(bool with_imatrix, pj_dtype *out)
{
	size_t n = with_imatrix ? sizeof DEFAULT_TYPES / sizeof DEFAULT_TYPES[0] : N_PLAIN;
	memcpy(out, DEFAULT_TYPES, n * sizeof *out);
	return n;
}

const pj_mresult *pj_mtensor_find(const pj_mtensor *m, pj_dtype t)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].type == t)
			return &m->r[i];
	return NULL;
}

/* ---- state ---------------------------------------------------------------------- */

/* Sums of one chunk of rows, one slot per candidate. */
typedef struct mpart {
	double den;
	double num[PJ_MEASURE_MAX_TYPES];
	double maxe[PJ_MEASURE_MAX_TYPES];
	uint64_t outl, seen;       /* outliers among finite elements seen */
	uint32_t failed;           /* candidates whose kernel refused the chunk */
	bool done;                 /* job lock */
} mpart;

typedef enum wphase { W_IDLE, W_PREP, W_CHUNKS, W_DONE } wphase;

/* One tensor of the job.  Between phases it is owned by one thread at a
 * time: the preparing runner, then the chunk runners (each its own part),
 * then the runner that completes the last chunk; hand-overs go through the
 * job lock. */
typedef struct mwork {
	size_t tensor;
	wphase phase;                  /* job lock */
	bool published;                /* job lock; res is final once set */
	int64_t ne0, nrows, nmat, rpm; /* columns, rows, matrices, rows per matrix */
	int64_t rpc, cpm, n_chunks;    /* rows per chunk, chunks per matrix */
	int64_t next_chunk, chunks_done; /* job lock */
	size_t row_bytes;
	const uint8_t *data;
	const pj_tensor *scale;        /* block-scaled FP8: W_scale_inv, else NULL */
	const uint8_t *sdata;
	int64_t block;                 /* ... and its block size */
	const float **wt;              /* per-matrix importance weights, or NULL */
	uint32_t todo;                 /* candidates to compute */
	bool stats_cached, have_key, have_imsha;
	uint8_t tkey[32], imsha[32];
	pj_tstats *slice;              /* statistics per slice (expert) */
	double *thr;                   /* outlier threshold per slice */
	int64_t n_slices;
	mpart *parts;
	pj_mtensor res;
} mwork;

struct pj_measure_job {
	pj_pool *pool;
	pj_catalog *cat;
	pj_dtype types[PJ_MEASURE_MAX_TYPES];
	size_t n_types;
	const pj_imatrix *im;
	pj_mcache *cache;
	pj_measure_sink sink;
	pj_progress progress;
	atomic_uint_least64_t computed, cached, kernel_calls, bytes_hashed;

	pthread_mutex_t lock;          /* guards the fields below and mwork's marked ones */
	pthread_cond_t wake, gone;
	mwork *w;
	size_t n, next_prep, chunk_lo;
	unsigned preps, runners;
	bool exited;
};

typedef struct rbuf {
	float *x, *y;
	uint8_t *q;
	size_t cap;                    /* elements */
} rbuf;

static void rbuf_need(rbuf *b, size_t elems)
{
	if (elems <= b->cap)
		return;
	free(b->x);
	free(b->y);
	free(b->q);
	b->cap = elems;
	b->x = pj_xmalloc(elems * sizeof(float));
	b->y = pj_xmalloc(elems * sizeof(float));
	b->q = pj_xmalloc(elems * sizeof(float));  /* no target is wider than f32 */
}

static bool stopped(const pj_measure_job *j)
{
	return atomic_load_explicit(&j->progress.cancel, memory_order_relaxed) || pj_pool_cancelled(j->pool);
}

static void count(atomic_uint_least64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- source rows ------------------------------------------------------------------ */

static bool decodable(pj_dtype t, int64_t ne0)
{
	if (pj_convert_supported(t))
		return true;
	/* already quantized sources are dequantized (requantizing) */
	const pj_qtype *q = pj_qtype_get(t);
	return q && ne0 % q->block == 0;
}

static void convert_rows(const pj_tensor *t, const mwork *w, int64_t row0, int64_t nr, float *x)
{
	const uint8_t *src = w->data + (size_t)row0 * w->row_bytes;
	if (w->scale)   /* checked by load_scales */
		pj_convert_fp8_block_scaled(t->dtype, w->data, w->scale->dtype, w->sdata,
		                            (uint64_t)pj_tensor_nelem(w->scale), w->nrows, w->ne0, w->block, row0, nr, x,
		                            t->name, NULL);
	else if (pj_convert_supported(t->dtype))
		pj_convert_f32(t->dtype, src, x, (size_t)(nr * w->ne0));
	else
		pj_dequantize_rows(t->dtype, src, x, nr, w->ne0, NULL);
}

/* ---- preparation --------------------------------------------------------------------- */

static void init_result(const pj_measure_job *j, mwork *w, const pj_tensor *t)
{
	pj_mtensor *r = &w->res;
	r->tensor = w->tensor;
	r->state = PJ_MS_PENDING;
	r->rows = (uint64_t)w->nrows;
	r->n = j->n_types;
	for (size_t k = 0; k < j->n_types; k++) {
		pj_mresult *m = &r->r[k];
		m->type = j->types[k];
		m->state = PJ_MS_PENDING;
		m->rel_err = m->max_abs_err = m->bpw = NAN;
		size_t rs = pj_qtype_row_size(m->type, w->ne0);
		if (rs && w->nrows) {
			m->bytes = rs * (uint64_t)w->nrows;
			m->bpw = (double)m->bytes * 8.0 / (double)pj_tensor_nelem(t);
		}
	}
}

static void set_na(pj_mresult *m, pj_mstate st, const char *fmt, ...) PJ_PRINTF(3, 4);
static void set_na(pj_mresult *m, pj_mstate st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->reason, sizeof m->reason, fmt, ap);
	va_end(ap);
	m->state = st;
	if (st == PJ_MS_NA) {
		m->bytes = 0;
		m->bpw = NAN;
	}
}

/* The tensor cannot be measured at all. */
static void tensor_error(mwork *w, const char *msg)
{
	w->res.state = PJ_MS_ERROR;
	w->res.stats.state = PJ_TS_ERROR;
	snprintf(w->res.reason, sizeof w->res.reason, "%s", msg);
	for (size_t k = 0; k < w->res.n; k++)
		if (w->res.r[k].state == PJ_MS_PENDING)
			set_na(&w->res.r[k], PJ_MS_ERROR, "%.90s", msg);
	w->todo = 0;
}

static void geometry(mwork *w, const pj_tensor *t)
{
	w->ne0 = t->n_dims ? t->ne[0] : 1;
	w->nrows = pj_tensor_nrows(t);
	w->nmat = 1;
	for (int d = 2; d < t->n_dims; d++)
		w->nmat *= t->ne[d];
	if (w->nmat < 1 || w->nrows % w->nmat)
		w->nmat = 1;
	w->rpm = w->nrows / w->nmat;
	w->rpc = w->ne0 <= 0 || w->ne0 >= CHUNK_ELEMS ? 1 : CHUNK_ELEMS / w->ne0;
	if (w->rpc > w->rpm)
		w->rpc = w->rpm ? w->rpm : 1;
	w->cpm = (w->rpm + w->rpc - 1) / w->rpc;
	/* statistics per expert for stacked experts (as stats.h), else whole */
	w->n_slices = t->n_experts > 1 && w->nmat == t->n_experts ? w->nmat : 1;
}

static int64_t slice_of(const mwork *w, int64_t m)
{
	return w->n_slices > 1 ? m : 0;
}

/* Importance weights per matrix, and their hash for the cache key. */
static pj_status load_weights(const pj_measure_job *j, mwork *w, const pj_tensor *t, pj_error *err)
{
	if (!j->im)
		return PJ_OK;
	const float **wt = pj_xcalloc((size_t)w->nmat, sizeof *wt);
	for (int64_t m = 0; m < w->nmat; m++) {
		/* HF names too: an HF expert gets its own slice of the stacked entry */
		pj_status st = pj_imatrix_weights_for(j->im, t->name, w->ne0, w->nmat, m, &wt[m], err);
		if (st != PJ_OK || !wt[m]) {
			free(wt);
			return st;
		}
	}
	w->wt = wt;
	w->res.weighted = true;
	pj_sha256_ctx s;
	pj_sha256_init(&s);
	for (int64_t m = 0; m < w->nmat; m++)
		pj_sha256_update(&s, wt[m], (size_t)w->ne0 * sizeof(float));
	pj_sha256_final(&s, w->imsha);
	w->have_imsha = true;
	return PJ_OK;
}

/* The kernel table's flag follows ggml_quantize_requires_imatrix; on top
 * of it llama-quantize refuses IQ1_M without an importance matrix ("Please
 * do not quantize with IQ1_S, IQ1_M, ..."), so no plan may pick it then. */
static bool needs_imatrix(const pj_qtype *q)
{
	return q->requires_imatrix || q->type == PJ_DT_IQ1_M;
}

/* Marks what cannot be measured; the rest goes into todo. */
static void applicability(const pj_measure_job *j, mwork *w)
{
	w->todo = 0;
	for (size_t k = 0; k < w->res.n; k++) {
		pj_mresult *m = &w->res.r[k];
		const pj_qtype *q = pj_qtype_get(m->type);
		m->weighted = w->wt != NULL;
		if (!q)
			set_na(m, PJ_MS_NA, "no kernel for %s", pj_dtype_name(m->type));
		else if (w->ne0 % q->block)
			set_na(m, PJ_MS_NA, "rows of %lld are not a multiple of the %u-element %s block",
			       (long long)w->ne0, q->block, q->name);
		else if (needs_imatrix(q) && !w->wt)
			set_na(m, PJ_MS_NA, "%s needs an importance matrix (%s)", q->name,
			       j->im ? "none for this tensor" : "none given");
		else
			w->todo |= 1u << k;
	}
}

/* SHA-256 of the raw bytes: a full read of the tensor, so a cache hit on a
 * large tensor still costs about one conversion pass (but no kernel runs).
 * False when cancelled. */
static bool hash_tensor(pj_measure_job *j, mwork *w, const pj_tensor *t)
{
	pj_sha256_ctx s;
	uint8_t sha[32];
	pj_sha256_init(&s);
	for (uint64_t off = 0; off < t->nbytes; off += HASH_STEP) {
		if (stopped(j))
			return false;
		size_t m = t->nbytes - off < HASH_STEP ? (size_t)(t->nbytes - off) : HASH_STEP;
		pj_sha256_update(&s, w->data + off, m);
		count(&j->bytes_hashed, m);
	}
	if (w->scale) {
		/* the scales are part of the values measured */
		const int64_t b = w->block;
		pj_sha256_update(&s, w->sdata, (size_t)w->scale->nbytes);
		pj_sha256_update(&s, &b, sizeof b);
		count(&j->bytes_hashed, w->scale->nbytes);
	}
	pj_sha256_final(&s, sha);
	pj_mcache_tensor_key(sha, t->dtype, t->n_dims, t->ne, w->tkey);
	w->have_key = true;
	return true;
}

static void cache_lookup(pj_measure_job *j, mwork *w)
{
	w->stats_cached = pj_mcache_get_stats(j->cache, w->tkey, &w->res.stats);
	for (size_t k = 0; k < w->res.n; k++) {
		if (!(w->todo & (1u << k)))
			continue;
		pj_mresult *m = &w->res.r[k];
		uint8_t key[32];
		pj_mcache_result cr;
		pj_mcache_result_key(w->tkey, m->type, w->have_imsha ? w->imsha : NULL, key);
		if (!pj_mcache_get_result(j->cache, key, &cr))
			continue;
		m->state = PJ_MS_DONE;
		m->cached = true;
		m->rel_err = cr.rel_err;
		m->max_abs_err = cr.max_abs_err;
		m->weighted = cr.weighted;
		w->todo &= ~(1u << k);
		count(&j->cached, 1);
	}
}

/* Adds n converted elements to s (first pass: no outliers yet). */
static void stats_add(pj_tstats *s, const float *x, size_t n)
{
	double sa = 0, sq = 0;
	uint64_t fin = 0;
	float mn = s->n_finite ? s->min : INFINITY, mx = s->n_finite ? s->max : -INFINITY;
	for (size_t i = 0; i < n; i++) {
		float v = x[i];
		if (isnan(v)) {
			s->n_nan++;
			continue;
		}
		if (isinf(v)) {
			s->n_inf++;
			continue;
		}
		fin++;
		mn = v < mn ? v : mn;
		mx = v > mx ? v : mx;
		sa += fabs((double)v);
		sq += (double)v * v;
	}
	s->n += n;
	s->n_finite += fin;
	s->sum_abs += sa;
	s->sum_sq += sq;
	if (s->n_finite) {
		s->min = mn;
		s->max = mx;
	}
}

/* First statistics pass (sums, range, NaN/Inf); the outliers, which need
 * the RMS, are counted during the chunk pass.  False when cancelled. */
static bool stats_pass(pj_measure_job *j, mwork *w, const pj_tensor *t, rbuf *rb)
{
	w->slice = pj_xcalloc((size_t)w->n_slices, sizeof *w->slice);
	w->thr = pj_xcalloc((size_t)w->n_slices, sizeof *w->thr);
	for (int64_t m = 0; m < w->nmat; m++) {
		pj_tstats *s = &w->slice[slice_of(w, m)];
		for (int64_t r = 0; r < w->rpm; r += w->rpc) {
			if (stopped(j))
				return false;
			int64_t nr = w->rpm - r < w->rpc ? w->rpm - r : w->rpc;
			convert_rows(t, w, m * w->rpm + r, nr, rb->x);
			stats_add(s, rb->x, (size_t)(nr * w->ne0));
		}
	}
	for (int64_t s = 0; s < w->n_slices; s++) {
		const pj_tstats *st = &w->slice[s];
		w->thr[s] = st->n_finite ? PJ_STATS_OUTLIER_RMS * sqrt(st->sum_sq / (double)st->n_finite) : INFINITY;
	}
	return true;
}

/* Block targets cannot take NaN/Inf (llama.cpp rejects what it writes). */
static void refuse_nonfinite(mwork *w, const pj_tstats *st)
{
	uint64_t bad = st->n_nan + st->n_inf;
	if (!bad)
		return;
	for (size_t k = 0; k < w->res.n; k++) {
		const pj_qtype *q = pj_qtype_get(w->res.r[k].type);
		if (!(w->todo & (1u << k)) || q->block == 1)
			continue;
		set_na(&w->res.r[k], PJ_MS_NA, "%llu NaN/Inf values: %s cannot hold them", (unsigned long long)bad,
		       q->name);
		w->todo &= ~(1u << k);
	}
}

static pj_tstats whole_stats(const mwork *w)
{
	pj_tstats s = { .state = PJ_TS_PENDING };
	for (int64_t i = 0; i < w->n_slices; i++) {
		pj_tstats one = w->slice[i];
		one.state = PJ_TS_DONE;
		pj_tstats_merge(&s, &one, i == 0);
	}
	return s;
}

/* DeepSeek-style FP8: W comes with W_scale_inv, one scale per block
 * (128x128 in DeepSeek-V3); the block size is read off the two shapes. */
static pj_status load_scales(pj_measure_job *j, mwork *w, const pj_tensor *t, pj_error *err)
{
	if (t->dtype != PJ_DT_F8_E4M3 && t->dtype != PJ_DT_F8_E5M2)
		return PJ_OK;
	char name[512];
	snprintf(name, sizeof name, "%s_scale_inv", t->name);
	const pj_tensor *sc = pj_catalog_find(j->cat, name);
	if (!sc)
		return PJ_OK;
	if (t->n_dims != 2 || sc->n_dims > 2)
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: block scales for a %d-D FP8 tensor", t->name, t->n_dims);
	w->block = pj_convert_fp8_block_of(w->nrows, w->ne0, sc->n_dims == 2 ? sc->ne[1] : 1, sc->ne[0]);
	if (!w->block)
		return pj_fail(err, PJ_EFORMAT, "%s: %s of %lldx%lld fits no block size", t->name, name,
		               (long long)sc->ne[0], (long long)(sc->n_dims == 2 ? sc->ne[1] : 1));
	if (!(w->sdata = pj_catalog_data(j->cat, sc, err)))
		return err->code ? err->code : PJ_EIO;
	w->scale = sc;
	/* no rows: checks the scale type and count once */
	return pj_convert_fp8_block_scaled(t->dtype, w->data, sc->dtype, w->sdata, (uint64_t)pj_tensor_nelem(sc),
	                                   w->nrows, w->ne0, w->block, 0, 0, NULL, t->name, err);
}

enum prep_outcome { PREP_PUBLISH, PREP_CHUNKS, PREP_CANCELLED };

static enum prep_outcome prep(pj_measure_job *j, mwork *w, rbuf *rb)
{
	const pj_tensor *t = &j->cat->t[w->tensor];
	pj_error err = { 0 };
	geometry(w, t);
	init_result(j, w, t);
	if (pj_tensor_nelem(t) == 0) {
		for (size_t k = 0; k < w->res.n; k++)
			set_na(&w->res.r[k], PJ_MS_NA, "empty tensor");
		w->stats_cached = true;    /* nothing to count */
		w->res.stats.state = PJ_TS_DONE;
		return PREP_PUBLISH;
	}
	if (!decodable(t->dtype, w->ne0)) {
		char msg[128];
		snprintf(msg, sizeof msg, "source type %s cannot be decoded", pj_dtype_name(t->dtype));
		tensor_error(w, msg);
		return PREP_PUBLISH;
	}
	uint64_t rb_u64 = 0;
	pj_dtype_bytes(t->dtype, (uint64_t)w->ne0, &rb_u64);
	w->row_bytes = (size_t)rb_u64;
	if (!(w->data = pj_catalog_data(j->cat, t, &err)) || load_scales(j, w, t, &err) != PJ_OK ||
	    load_weights(j, w, t, &err) != PJ_OK) {
		tensor_error(w, err.msg);
		return PREP_PUBLISH;
	}
	applicability(j, w);
	if (j->cache) {
		if (!hash_tensor(j, w, t))
			return PREP_CANCELLED;
		cache_lookup(j, w);
	}
	rbuf_need(rb, (size_t)(w->rpc * w->ne0));
	if (!w->stats_cached && !stats_pass(j, w, t, rb))
		return PREP_CANCELLED;
	if (w->stats_cached) {
		refuse_nonfinite(w, &w->res.stats);
	} else {
		pj_tstats s = whole_stats(w);
		refuse_nonfinite(w, &s);
	}
	if (!w->todo && w->stats_cached)
		return PREP_PUBLISH;
	w->n_chunks = w->nmat * w->cpm;
	w->parts = pj_xcalloc((size_t)w->n_chunks, sizeof *w->parts);
	return PREP_CHUNKS;
}

/* ---- chunks ----------------------------------------------------------------------------- */

static void count_outliers(const mwork *w, int64_t m, const float *x, size_t n, mpart *p)
{
	const double thr = w->thr[slice_of(w, m)];
	for (size_t i = 0; i < n; i++) {
		double a = fabs((double)x[i]);
		if (!isfinite(a))
			continue;
		p->seen++;
		p->outl += a > thr;
	}
}

/* Sum of w x^2 per row, added in row order. */
static void add_den(const mwork *w, const float *wt, const float *x, int64_t nr, mpart *p)
{
	for (int64_t r = 0; r < nr; r++) {
		const float *xr = x + r * w->ne0;
		double d = 0;
		for (int64_t i = 0; i < w->ne0; i++) {
			if (!isfinite(xr[i]))
				continue;
			d += (wt ? (double)wt[i] : 1.0) * (double)xr[i] * xr[i];
		}
		p->den += d;
	}
}

static void add_err(const mwork *w, const float *wt, const float *x, const float *y, int64_t nr, mpart *p,
                    size_t k)
{
	double mx = p->maxe[k];
	for (int64_t r = 0; r < nr; r++) {
		const float *xr = x + r * w->ne0, *yr = y + r * w->ne0;
		double s = 0;
		for (int64_t i = 0; i < w->ne0; i++) {
			if (!isfinite(xr[i]))
				continue;
			double e = (double)xr[i] - (double)yr[i];
			s += (wt ? (double)wt[i] : 1.0) * e * e;
			mx = fabs(e) > mx ? fabs(e) : mx;
		}
		p->num[k] += s;
	}
	p->maxe[k] = mx;
}

static void run_chunk(pj_measure_job *j, mwork *w, int64_t c, rbuf *rb)
{
	const pj_tensor *t = &j->cat->t[w->tensor];
	const int64_t m = c / w->cpm, r0 = (c % w->cpm) * w->rpc;
	const int64_t nr = w->rpm - r0 < w->rpc ? w->rpm - r0 : w->rpc;
	const float *wt = w->wt ? w->wt[m] : NULL;
	mpart *p = &w->parts[c];

	rbuf_need(rb, (size_t)(w->rpc * w->ne0));
	convert_rows(t, w, m * w->rpm + r0, nr, rb->x);
	if (!w->stats_cached)
		count_outliers(w, m, rb->x, (size_t)(nr * w->ne0), p);
	add_den(w, wt, rb->x, nr, p);
	for (size_t k = 0; k < w->res.n; k++) {
		if (!(w->todo & (1u << k)))
			continue;
		pj_dtype ty = w->res.r[k].type;
		count(&j->kernel_calls, 1);
		if (pj_quantize_rows(ty, rb->x, rb->q, nr, w->ne0, wt, 1, t->name, NULL) != PJ_OK ||
		    pj_dequantize_rows(ty, rb->q, rb->y, nr, w->ne0, NULL) != PJ_OK) {
			p->failed |= 1u << k;
			continue;
		}
		add_err(w, wt, rb->x, rb->y, nr, p, k);
	}
	pj_progress_add(&j->progress, 0, (uint64_t)(nr * w->ne0));
}

/* ---- merge and publish ---------------------------------------------------------------------- */

static void merge_result(pj_measure_job *j, mwork *w, size_t k, bool complete)
{
	pj_mresult *m = &w->res.r[k];
	double num = 0, den = 0, mx = 0;
	bool failed = false;
	for (int64_t c = 0; c < w->n_chunks; c++) {
		const mpart *p = &w->parts[c];
		if (!p->done)
			continue;
		failed |= (p->failed >> k) & 1;
		num += p->num[k];
		den += p->den;
		mx = p->maxe[k] > mx ? p->maxe[k] : mx;
	}
	if (failed) {
		set_na(m, PJ_MS_ERROR, "the %s kernel refused the data", pj_dtype_name(m->type));
		return;
	}
	m->rel_err = den > 0 ? num / den : (num > 0 ? INFINITY : 0.0);
	m->max_abs_err = mx;
	m->state = complete ? PJ_MS_DONE : PJ_MS_PARTIAL;
	if (!complete)
		return;
	count(&j->computed, 1);
	if (j->cache && w->have_key) {
		uint8_t key[32];
		pj_mcache_result cr = { m->rel_err, m->max_abs_err, m->weighted };
		pj_mcache_result_key(w->tkey, m->type, w->have_imsha ? w->imsha : NULL, key);
		pj_mcache_put_result(j->cache, key, &cr);
	}
}

static void merge_stats(pj_measure_job *j, mwork *w, bool complete)
{
	for (int64_t c = 0; c < w->n_chunks; c++) {
		const mpart *p = &w->parts[c];
		if (!p->done)
			continue;
		pj_tstats *s = &w->slice[slice_of(w, c / w->cpm)];
		s->n_outlier += p->outl;
		s->n_outlier_seen += p->seen;
	}
	w->res.stats = whole_stats(w);
	w->res.stats.state = complete ? PJ_TS_DONE : PJ_TS_PARTIAL;
	if (complete && j->cache && w->have_key)
		pj_mcache_put_stats(j->cache, w->tkey, &w->res.stats);
}

/* Folds the finished chunks into the result; the caller owns w. */
static void finalize(pj_measure_job *j, mwork *w)
{
	int64_t rows = 0;
	for (int64_t c = 0; c < w->n_chunks; c++) {
		if (!w->parts[c].done)
			continue;
		int64_t r0 = (c % w->cpm) * w->rpc;
		rows += w->rpm - r0 < w->rpc ? w->rpm - r0 : w->rpc;
	}
	const bool complete = w->chunks_done == w->n_chunks;
	for (size_t k = 0; k < w->res.n; k++)
		if (w->todo & (1u << k))
			merge_result(j, w, k, complete);
	if (w->stats_cached)
		w->res.stats.state = PJ_TS_DONE;
	else if (w->slice)            /* no slices: the tensor could not be read */
		merge_stats(j, w, complete);
	w->res.rows_done = w->n_chunks ? (uint64_t)rows : w->res.rows;
	if (w->res.state != PJ_MS_ERROR)
		w->res.state = complete ? PJ_MS_DONE : PJ_MS_PARTIAL;
}

static void publish(pj_measure_job *j, mwork *w)
{
	const pj_tensor *t = &j->cat->t[w->tensor];
	pthread_mutex_lock(&j->lock);
	w->published = true;
	pthread_mutex_unlock(&j->lock);
	if (w->res.state != PJ_MS_PARTIAL) {
		/* chunks already counted their elements */
		uint64_t rest = w->n_chunks ? 0 : (uint64_t)pj_tensor_nelem(t);
		pj_progress_add(&j->progress, 1, rest);
	}
	if (j->sink.result)
		j->sink.result(j->sink.ctx, (size_t)(w - j->w), &w->res);
}

/* ---- runners ------------------------------------------------------------------------------- */

/* The first unclaimed chunk, in tensor order; job lock held. */
static mwork *claim_chunk(pj_measure_job *j, int64_t *c)
{
	while (j->chunk_lo < j->next_prep) {
		mwork *w = &j->w[j->chunk_lo];
		if (w->phase == W_DONE || (w->phase == W_CHUNKS && w->next_chunk == w->n_chunks))
			j->chunk_lo++;
		else
			break;
	}
	for (size_t i = j->chunk_lo; i < j->next_prep; i++) {
		mwork *w = &j->w[i];
		if (w->phase == W_CHUNKS && w->next_chunk < w->n_chunks) {
			*c = w->next_chunk++;
			return w;
		}
	}
	return NULL;
}

/* Runs chunk c of w; job lock held on entry and exit. */
static void do_chunk(pj_measure_job *j, mwork *w, int64_t c, rbuf *rb)
{
	pthread_mutex_unlock(&j->lock);
	run_chunk(j, w, c, rb);
	pthread_mutex_lock(&j->lock);
	w->parts[c].done = true;
	if (++w->chunks_done < w->n_chunks)
		return;
	w->phase = W_DONE;
	pthread_mutex_unlock(&j->lock);
	finalize(j, w);
	publish(j, w);
	pthread_mutex_lock(&j->lock);
}

/* Prepares the next tensor; job lock held on entry and exit. */
static void do_prep(pj_measure_job *j, rbuf *rb)
{
	mwork *w = &j->w[j->next_prep++];
	w->phase = W_PREP;
	j->preps++;
	pthread_mutex_unlock(&j->lock);
	enum prep_outcome o = prep(j, w, rb);
	if (o == PREP_PUBLISH) {
		finalize(j, w);
		publish(j, w);
	}
	pthread_mutex_lock(&j->lock);
	w->phase = o == PREP_CHUNKS ? W_CHUNKS : W_DONE;
	j->preps--;
	pthread_cond_broadcast(&j->wake);
}

static void finish(pj_measure_job *j)
{
	/* tensors cut short report the chunks they finished */
	for (size_t i = 0; i < j->n; i++) {
		mwork *w = &j->w[i];
		if (w->phase == W_CHUNKS && w->chunks_done > 0 && !w->published) {
			finalize(j, w);
			publish(j, w);
		}
	}
	atomic_store_explicit(&j->progress.finished, true, memory_order_release);
	if (j->sink.finished)
		j->sink.finished(j->sink.ctx);
}

static void runner(void *arg)
{
	pj_measure_job *j = arg;
	rbuf rb = { 0 };
	int64_t c;

	pthread_mutex_lock(&j->lock);
	while (!stopped(j)) {
		mwork *w = claim_chunk(j, &c);
		if (w)
			do_chunk(j, w, c, &rb);
		else if (j->next_prep < j->n)
			do_prep(j, &rb);
		else if (j->preps)
			pthread_cond_wait(&j->wake, &j->lock);   /* its chunks may come */
		else
			break;
	}
	bool last = --j->runners == 0;
	pthread_cond_broadcast(&j->wake);     /* a cancelled waiter must not sleep on */
	pthread_mutex_unlock(&j->lock);
	free(rb.x);
	free(rb.y);
	free(rb.q);
	if (!last)
		return;
	/* every other runner is gone: the work items are ours */
	finish(j);
	pthread_mutex_lock(&j->lock);
	j->exited = true;
	pthread_cond_broadcast(&j->gone);
	pthread_mutex_unlock(&j->lock);
}

/* ---- the job's life ---------------------------------------------------------------------- */

pj_measure_job *pj_measure_job_start(pj_pool *pool, pj_catalog *cat, const size_t *order, size_t n,
                                     const pj_measure_opts *opts, const pj_measure_sink *sink,
                                     pj_error *err)
{
	pj_measure_opts o = opts ? *opts : (pj_measure_opts){ 0 };
	if (o.n_types > PJ_MEASURE_MAX_TYPES)
		return pj_fail(err, PJ_EUSAGE, "too many candidate types (%zu, at most %d)", o.n_types,
		               PJ_MEASURE_MAX_TYPES), NULL;
	for (size_t i = 0; i < n; i++)
		if (order[i] >= cat->n)
			return pj_fail(err, PJ_EUSAGE, "tensor index %zu out of range", order[i]), NULL;
	pj_measure_job *j = pj_xcalloc(1, sizeof *j);
	if (o.types) {
		memcpy(j->types, o.types, o.n_types * sizeof *o.types);
		j->n_types = o.n_types;
	} else {
		j->n_types = pj_measure_default_types(o.imatrix != NULL, j->types);
	}
	j->pool = pool;
	j->cat = cat;
	j->im = o.imatrix;
	j->cache = o.cache;
	if (sink)
		j->sink = *sink;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->wake, NULL);
	pthread_cond_init(&j->gone, NULL);
	j->n = n;
	j->w = pj_xcalloc(n ? n : 1, sizeof *j->w);
	uint64_t elems = 0;
	for (size_t i = 0; i < n; i++) {
		j->w[i].tensor = order[i];
		j->w[i].res.tensor = order[i];
		j->w[i].res.n = j->n_types;
		for (size_t k = 0; k < j->n_types; k++)
			j->w[i].res.r[k].type = j->types[k];
		elems += (uint64_t)pj_tensor_nelem(&cat->t[order[i]]);
	}
	pj_progress_init(&j->progress, n, elems);

	/* every pool thread runs one runner, even for one tensor: its chunks
	 * are shared out */
	unsigned r = n ? pj_pool_threads(pool) : 0;
	if (r == 0) {
		finish(j);
		j->exited = true;
		return j;
	}
	j->runners = r;
	for (unsigned i = 0; i < r; i++)
		pj_pool_submit(pool, runner, j);
	return j;
}

void pj_measure_job_cancel(pj_measure_job *j)
{
	if (j)
		atomic_store(&j->progress.cancel, true);
}

const pj_progress *pj_measure_job_progress(const pj_measure_job *j)
{
	return &j->progress;
}

void pj_measure_job_get(pj_measure_job *j, size_t i, pj_mtensor *out)
{
	pthread_mutex_lock(&j->lock);
	const mwork *w = &j->w[i];
	if (w->published) {
		*out = w->res;
	} else {
		memset(out, 0, sizeof *out);
		out->tensor = w->tensor;
		out->state = PJ_MS_PENDING;
		out->n = w->res.n;
		for (size_t k = 0; k < out->n; k++)
			out->r[k].type = w->res.r[k].type;
	}
	pthread_mutex_unlock(&j->lock);
}

void pj_measure_job_counts(pj_measure_job *j, pj_measure_counts *out)
{
	out->computed = atomic_load(&j->computed);
	out->cached = atomic_load(&j->cached);
	out->kernel_calls = atomic_load(&j->kernel_calls);
	out->bytes_hashed = atomic_load(&j->bytes_hashed);
}

void pj_measure_job_wait(pj_measure_job *j)
{
	pthread_mutex_lock(&j->lock);
	while (!j->exited)
		pthread_cond_wait(&j->gone, &j->lock);
	pthread_mutex_unlock(&j->lock);
}

void pj_measure_job_free(pj_measure_job *j)
{
	if (!j)
		return;
	pj_measure_job_cancel(j);
	pj_measure_job_wait(j);
	for (size_t i = 0; i < j->n; i++) {
		free(j->w[i].wt);
		free(j->w[i].slice);
		free(j->w[i].thr);
		free(j->w[i].parts);
	}
	free(j->w);
	pthread_cond_destroy(&j->wake);
	pthread_cond_destroy(&j->gone);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

pj_status pj_measure_run(pj_catalog *cat, const size_t *order, size_t n, const pj_measure_opts *opts,
                         unsigned threads, pj_mtensor *out, pj_measure_counts *counts, pj_error *err)
{
	pj_pool *pool = pj_pool_new(threads ? threads : 1, 0);
	if (!pool)
		return pj_fail(err, PJ_EIO, "cannot start %u measurement threads", threads);
	pj_measure_job *j = pj_measure_job_start(pool, cat, order, n, opts, NULL, err);
	if (!j) {
		pj_pool_free(pool);
		return err ? err->code : PJ_EUSAGE;
	}
	pj_measure_job_wait(j);
	for (size_t i = 0; i < n; i++)
		pj_measure_job_get(j, i, &out[i]);
	if (counts)
		pj_measure_job_counts(j, counts);
	pj_measure_job_free(j);
	pj_pool_free(pool);
	return PJ_OK;
}
