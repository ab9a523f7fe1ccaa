/* stats.c - per-tensor statistics and the job that streams them. */
#include "config.h"
#include "stats.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

/* Elements decoded per step: small enough to stay in L1/L2 and to make
 * cancellation prompt, large enough that the checks cost nothing. */
#define CHUNK 8192

double pj_tstats_max_abs(const pj_tstats *s)
{
	if (!s->n_finite)
		return NAN;
	return fmax(fabs((double)s->min), fabs((double)s->max));
}

double pj_tstats_mean_abs(const pj_tstats *s)
{
	return s->n_finite ? s->sum_abs / (double)s->n_finite : NAN;
}

double pj_tstats_rms(const pj_tstats *s)
{
	return s->n_finite ? sqrt(s->sum_sq / (double)s->n_finite) : NAN;
}

double pj_tstats_outlier_frac(const pj_tstats *s)
{
	return s->n_outlier_seen ? (double)s->n_outlier / (double)s->n_outlier_seen : NAN;
}

void pj_tstats_merge(pj_tstats *acc, const pj_tstats *s, bool first)
{
	if (first) {
		*acc = *s;
		return;
	}
	if (s->n_finite) {
		if (!acc->n_finite || s->min < acc->min)
			acc->min = s->min;
		if (!acc->n_finite || s->max > acc->max)
			acc->max = s->max;
	}
	acc->n += s->n;
	acc->n_finite += s->n_finite;
	acc->n_nan += s->n_nan;
	acc->n_inf += s->n_inf;
	acc->n_outlier += s->n_outlier;
	acc->n_outlier_seen += s->n_outlier_seen;
	acc->sum_abs += s->sum_abs;
	acc->sum_sq += s->sum_sq;
	if (acc->state != s->state)
		acc->state = PJ_TS_PARTIAL;
}

static bool stopped(const pj_stats_ctl *ctl)
{
	if (!ctl)
		return false;
	if (ctl->cancel && atomic_load_explicit(ctl->cancel, memory_order_relaxed))
		return true;
	return ctl->pool && pj_pool_cancelled(ctl->pool);
}

static void advance(const pj_stats_ctl *ctl, uint64_t bytes)
{
	if (ctl && ctl->progress)
		pj_progress_add(ctl->progress, 0, bytes);
}

/* Plain element types, and block-quantized ones the kernel table can
 * dequantize (a quantized GGUF's tensors: their statistics are those of
 * the values it stores). */
static bool decodable(pj_dtype t)
{
	return pj_convert_rows_supported(t);
}

/* Bytes of n elements of t (n whole blocks). */
static uint64_t bytes_of(const pj_dtype_info *di, uint64_t n)
{
	return n / di->block * di->type_size;
}

/* Decodes elements [i, i + m) of t at base; i and m are whole blocks. */
static void decode(pj_dtype t, const pj_dtype_info *di, const uint8_t *base, uint64_t i, float *buf, size_t m)
{
	const uint8_t *src = base + bytes_of(di, i);
	pj_error err;
	if (di->quantized)
		pj_convert_rows_f32(t, src, buf, 1, (int64_t)m, "stats", &err);
	else
		pj_convert_f32(t, src, buf, m);
}

pj_status pj_stats_compute(pj_dtype t, const void *data, uint64_t n, const pj_stats_ctl *ctl,
                           pj_tstats *out)
{
	memset(out, 0, sizeof *out);
	const pj_dtype_info *di = pj_dtype_info_of(t);
	if (!decodable(t) || !di->block || di->block > CHUNK || n % di->block) {
		out->state = PJ_TS_UNSUPPORTED;
		return PJ_EUNSUPPORTED;
	}
	/* whole blocks per step */
	const size_t step = CHUNK / di->block * di->block;
	const uint8_t *base = data;
	float buf[CHUNK];
	float mn = INFINITY, mx = -INFINITY;

	/* Pass 1: range, sums, non-finite counts.  Each pass reports half of
	 * the bytes so the two add up to the tensor's size. */
	for (uint64_t i = 0; i < n; i += step) {
		if (stopped(ctl)) {
			out->state = PJ_TS_PARTIAL;
			goto done;
		}
		size_t m = n - i < step ? (size_t)(n - i) : step;
		decode(t, di, base, i, buf, m);
		double sa = 0, sq = 0;
		uint64_t fin = 0;
		for (size_t k = 0; k < m; k++) {
			float x = buf[k];
			if (isnan(x)) {
				out->n_nan++;
				continue;
			}
			if (isinf(x)) {
				out->n_inf++;
				continue;
			}
			fin++;
			mn = x < mn ? x : mn;
			mx = x > mx ? x : mx;
			double d = x;
			sa += fabs(d);
			sq += d * d;
		}
		out->n += m;
		out->n_finite += fin;
		out->sum_abs += sa;
		out->sum_sq += sq;
		advance(ctl, bytes_of(di, m) - bytes_of(di, m) / 2);
	}

	/* Pass 2: outliers against the RMS of the whole. */
	if (out->n_finite) {
		const double thr = PJ_STATS_OUTLIER_RMS * sqrt(out->sum_sq / (double)out->n_finite);
		for (uint64_t i = 0; i < n; i += step) {
			if (stopped(ctl)) {
				out->state = PJ_TS_PARTIAL;
				goto done;
			}
			size_t m = n - i < step ? (size_t)(n - i) : step;
			decode(t, di, base, i, buf, m);
			uint64_t seen = 0, hits = 0;
			for (size_t k = 0; k < m; k++) {
				double a = fabs((double)buf[k]);
				if (!isfinite(a))
					continue;
				seen++;
				hits += a > thr;
			}
			out->n_outlier += hits;
			out->n_outlier_seen += seen;
			advance(ctl, bytes_of(di, m) / 2);
		}
	} else {
		advance(ctl, bytes_of(di, n) / 2);
	}
	out->state = PJ_TS_DONE;
done:
	out->min = out->n_finite ? mn : 0;
	out->max = out->n_finite ? mx : 0;
	return out->state == PJ_TS_DONE ? PJ_OK : PJ_ECANCELED;
}

/* ---- the job ------------------------------------------------------------ */

/* One unit of work: a whole tensor, or one expert slice of a stacked one. */
typedef struct stats_item {
	size_t tensor;
	int expert;            /* -1: whole tensor */
	uint32_t acc;          /* index into accs for slices */
	uint64_t first, count; /* elements */
} stats_item;

/* The slices of one stacked tensor.  They are merged in expert order once
 * all are in, so the tensor's sums do not depend on thread timing. */
typedef struct stats_acc {
	pj_tstats *slice;
	uint32_t done, total;
} stats_acc;

/* Merges the slices that were measured; PENDING ones were never run. */
static pj_tstats acc_merge(const stats_acc *a)
{
	pj_tstats s = { .state = PJ_TS_PENDING };
	bool first = true;
	for (uint32_t e = 0; e < a->total; e++) {
		if (a->slice[e].state == PJ_TS_PENDING)
			continue;
		pj_tstats_merge(&s, &a->slice[e], first);
		first = false;
	}
	if (!first && a->done < a->total)
		s.state = PJ_TS_PARTIAL;
	return s;
}

struct pj_stats_job {
	pj_pool *pool;
	pj_catalog *cat;
	pj_stats_sink sink;
	pj_progress progress;

	stats_item *items;
	size_t n_items;
	atomic_size_t next;

	pthread_mutex_t lock;       /* guards accs, runners, exited */
	pthread_cond_t gone;
	stats_acc *accs;
	size_t n_accs;
	unsigned runners;
	bool exited;
};

static void post(pj_stats_job *j, size_t tensor, int expert, const pj_tstats *s)
{
	if (j->sink.result)
		j->sink.result(j->sink.ctx, tensor, expert, s);
}

static void run_item(pj_stats_job *j, const stats_item *it, const pj_stats_ctl *ctl)
{
	const pj_tensor *t = &j->cat->t[it->tensor];
	const pj_dtype_info *di = pj_dtype_info_of(t->dtype);
	pj_tstats s;
	pj_error err;

	if (!decodable(t->dtype)) {
		memset(&s, 0, sizeof s);
		s.state = PJ_TS_UNSUPPORTED;
		pj_progress_add(&j->progress, 0, t->nbytes / (it->expert >= 0 ? t->n_experts : 1));
	} else {
		const uint8_t *data = pj_catalog_data(j->cat, t, &err);
		if (!data) {
			memset(&s, 0, sizeof s);
			s.state = PJ_TS_ERROR;
			pj_progress_add(&j->progress, 0, bytes_of(di, it->count));
		} else {
			pj_stats_compute(t->dtype, data + bytes_of(di, it->first), it->count, ctl, &s);
		}
	}
	post(j, it->tensor, it->expert, &s);
	if (it->expert < 0) {
		if (s.state != PJ_TS_PARTIAL)
			pj_progress_add(&j->progress, 1, 0);
		return;
	}

	/* A slice: fold it into its tensor; the last one reports the tensor. */
	pthread_mutex_lock(&j->lock);
	stats_acc *a = &j->accs[it->acc];
	a->slice[it->expert] = s;
	bool last = ++a->done == a->total;
	pthread_mutex_unlock(&j->lock);
	if (last) {
		/* All slices are in and nobody writes them any more. */
		pj_tstats whole = acc_merge(a);
		post(j, it->tensor, -1, &whole);
		if (whole.state != PJ_TS_PARTIAL)
			pj_progress_add(&j->progress, 1, 0);
	}
}

static void finish(pj_stats_job *j)
{
	/* Stacked tensors cut short report what their finished slices saw. */
	for (size_t i = 0; i < j->n_items; i++) {
		const stats_item *it = &j->items[i];
		if (it->expert != 0)
			continue;
		stats_acc *a = &j->accs[it->acc];
		if (a->done > 0 && a->done < a->total) {
			pj_tstats s = acc_merge(a);
			post(j, it->tensor, -1, &s);
		}
	}
	atomic_store_explicit(&j->progress.finished, true, memory_order_release);
	if (j->sink.finished)
		j->sink.finished(j->sink.ctx);
}

static void runner(void *arg)
{
	pj_stats_job *j = arg;
	pj_stats_ctl ctl = { .cancel = &j->progress.cancel, .pool = j->pool, .progress = &j->progress };

	for (;;) {
		if (atomic_load_explicit(&j->progress.cancel, memory_order_relaxed) ||
		    pj_pool_cancelled(j->pool))
			break;
		size_t i = atomic_fetch_add(&j->next, 1);
		if (i >= j->n_items)
			break;
		run_item(j, &j->items[i], &ctl);
	}

	pthread_mutex_lock(&j->lock);
	bool last = --j->runners == 0;
	pthread_mutex_unlock(&j->lock);
	if (!last)
		return;
	/* Every other runner is gone: accs are ours without the lock. */
	finish(j);
	pthread_mutex_lock(&j->lock);
	j->exited = true;
	pthread_cond_broadcast(&j->gone);
	pthread_mutex_unlock(&j->lock);
}

/* Expert slices start on a block boundary (rows are whole blocks). */
static bool sliced(const pj_tensor *t)
{
	const uint32_t blk = pj_dtype_info_of(t->dtype)->block;
	return t->n_experts > 1 && t->n_dims >= 2 && t->ne[t->n_dims - 1] == t->n_experts && blk &&
	       (uint64_t)pj_tensor_nelem(t) / (uint64_t)t->n_experts % blk == 0;
}

pj_stats_job *pj_stats_job_start(pj_pool *pool, pj_catalog *cat, const size_t *order, size_t n,
                                 const pj_stats_sink *sink)
{
	pj_stats_job *j = pj_xcalloc(1, sizeof *j);
	j->pool = pool;
	j->cat = cat;
	j->sink = *sink;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->gone, NULL);

	uint64_t bytes = 0;
	size_t n_items = 0;
	for (size_t i = 0; i < n; i++) {
		const pj_tensor *t = &cat->t[order[i]];
		n_items += sliced(t) ? (size_t)t->n_experts : 1;
		j->n_accs += sliced(t);
		bytes += t->nbytes;
	}
	j->items = pj_xcalloc(n_items ? n_items : 1, sizeof *j->items);
	j->accs = pj_xcalloc(j->n_accs ? j->n_accs : 1, sizeof *j->accs);
	size_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		const pj_tensor *t = &cat->t[order[i]];
		uint64_t nel = (uint64_t)pj_tensor_nelem(t);
		if (!sliced(t)) {
			j->items[j->n_items++] = (stats_item){ order[i], -1, 0, 0, nel };
			continue;
		}
		uint64_t per = nel / (uint64_t)t->n_experts;
		j->accs[acc].total = (uint32_t)t->n_experts;
		j->accs[acc].slice = pj_xcalloc((size_t)t->n_experts, sizeof(pj_tstats));
		for (int e = 0; e < t->n_experts; e++)
			j->items[j->n_items++] = (stats_item){ order[i], e, (uint32_t)acc, per * (uint64_t)e, per };
		acc++;
	}
	pj_progress_init(&j->progress, n, bytes);
	atomic_init(&j->next, 0);

	unsigned r = pj_pool_threads(pool);
	if ((size_t)r > j->n_items)
		r = (unsigned)j->n_items;
	if (r == 0) {
		finish(j);
		j->exited = true;
		return j;
	}
	/* Runners pull items from a shared cursor, so a few pool slots cover
	 * any number of tensors and submission never waits long. */
	j->runners = r;
	for (unsigned i = 0; i < r; i++)
		pj_pool_submit(pool, runner, j);
	return j;
}

void pj_stats_job_cancel(pj_stats_job *j)
{
	if (j)
		atomic_store(&j->progress.cancel, true);
}

const pj_progress *pj_stats_job_progress(const pj_stats_job *j)
{
	return &j->progress;
}

void pj_stats_job_free(pj_stats_job *j)
{
	if (!j)
		return;
	pj_stats_job_cancel(j);
	pthread_mutex_lock(&j->lock);
	while (!j->exited)
		pthread_cond_wait(&j->gone, &j->lock);
	pthread_mutex_unlock(&j->lock);
	pthread_cond_destroy(&j->gone);
	pthread_mutex_destroy(&j->lock);
	for (size_t i = 0; i < j->n_accs; i++)
		free(j->accs[i].slice);
	free(j->items);
	free(j->accs);
	free(j);
}
