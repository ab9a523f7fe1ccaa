/* solver.c - the target solver: the types that minimise predicted loss
 * within a size budget.
 *
 * The free tensors (quantizable and not pinned; kept tensors, routers and
 * pins are fixed at their planned type and bytes) each get one of the
 * ladder types (after the shape fallback, duplicates merged).  Per tensor
 * the candidates (bytes, predicted loss) are reduced to their lower convex
 * hull: points that cost more bytes without lowering loss, or that lie
 * above the line between neighbours, are never worth choosing first.  All
 * tensors start at their smallest hull point; then the hull segment with
 * the largest loss decrease per byte is taken next, as long as it fits the
 * remaining budget (a segment that does not fit retires its tensor).
 *
 * Why this is safe and sane:
 *  - the running total only grows by segments checked against the budget,
 *    so the result never exceeds it; when even the smallest points do not
 *    fit, the answer is "infeasible" with the sizes;
 *  - hull slopes fall along each tensor, so the order segments are taken in
 *    is one global order by slope that does not depend on the budget; a
 *    bigger budget takes the same prefix and then a segment the smaller
 *    one could not afford, whose gain exceeds everything the smaller one
 *    took after that point (their slopes are lower and their bytes fewer),
 *    so predicted loss never rises with the budget.
 *
 * The job works on a snapshot taken on the owner's thread; applying the
 * result is one undoable step. */
#include "config.h"
#include "quant/session_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scand {
	pj_dtype type;       /* written type */
	uint64_t bytes;
	double loss;
} scand;

typedef struct sfree {
	uint32_t t;          /* catalog index */
	uint32_t off, n;     /* hull points c[off .. off+n), bytes ascending */
	uint32_t cur;        /* chosen hull point */
} sfree;

struct pj_solve_job {
	uint64_t plan_gen;
	char label[96];
	sfree *f;
	size_t nf;
	scand *c;
	size_t nc;
	uint64_t budget, fixed_bytes;
	double fixed_loss;
	pj_progress prog;
	const pj_pool *pool;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	pj_status st;
	pj_solve_result res;
	char msg[512];
};

/* "3.20 GiB", "812.5 MiB", "40.0 KiB": enough digits to tell budgets apart. */
static const char *gib(uint64_t b, char *buf, size_t len)
{
	static const char *const U[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b / 1024.0;
	int u = 0;
	if (b < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)b);
		return buf;
	}
	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, u >= 2 ? "%.2f %s" : "%.1f %s", v, U[u]);
	return buf;
}

static int cand_cmp(const void *a, const void *b)
{
	const scand *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? -1 : 1;
	return (x->loss > y->loss) - (x->loss < y->loss);
}

/* Snapshot: the candidates of every free tensor. */
static pj_solve_job *job_new(pj_session *s, const pj_solve_target *tg, pj_error *err)
{
	const pj_plan *p = &s->plan;
	uint64_t budget;
	char b1[32];
	if (tg->kind == PJ_SOLVE_BYTES) {
		budget = tg->bytes;
	} else if (tg->kind == PJ_SOLVE_BPW && tg->bpw > 0 && isfinite(tg->bpw)) {
		budget = (uint64_t)floor(tg->bpw * (double)p->n_elements / 8.0);
	} else {
		pj_fail(err, PJ_EUSAGE, "solver: the target must be a size or a positive bits per weight");
		return NULL;
	}
	pj_solve_job *j = pj_xcalloc(1, sizeof *j);
	j->plan_gen = s->plan_gen;
	j->budget = budget;
	if (tg->kind == PJ_SOLVE_BYTES)
		snprintf(j->label, sizeof j->label, "solver: fit %s", gib(budget, b1, sizeof b1));
	else
		snprintf(j->label, sizeof j->label, "solver: %.3g bpw", tg->bpw);
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	const pj_dtype *lad;
	const size_t nl = pj_ladder(s->has_im, &lad);
	j->f = pj_xcalloc(s->n ? s->n : 1, sizeof *j->f);
	j->c = pj_xcalloc((s->n ? s->n : 1) * nl, sizeof *j->c);
	for (size_t i = 0; i < s->n; i++) {
		const pj_plan_entry *e = &p->e[i];
		const size_t t = (size_t)(e->t - s->m->cat.t);
		if (!e->quantizable || e->pinned) {
			j->fixed_bytes += e->bytes;
			j->fixed_loss += s->loss[t];
			continue;
		}
		sfree *f = &j->f[j->nf];
		f->t = (uint32_t)t;
		f->off = (uint32_t)j->nc;
		const int64_t ne = pj_tensor_nelem(e->t);
		for (size_t k = 0; k < nl; k++) {
			bool ok, est;
			const pj_dtype w = pj_plan_shape_fallback(lad[k], e->t->ne[0], &ok);
			uint64_t nb;
			if (!ok || pj_dtype_info_of(w)->ggml_id < 0 || !pj_dtype_bytes(w, (uint64_t)ne, &nb))
				continue;
			if (sess_unweightable(s, e, w))   /* the export would refuse it (no data for it) */
				continue;
			bool dup = false;
			for (size_t q = f->off; q < j->nc; q++)
				dup |= j->c[q].type == w;
			if (dup)
				continue;
			j->c[j->nc++] = (scand){ w, nb, sess_loss_at(s, t, w, &est) };
		}
		f->n = (uint32_t)(j->nc - f->off);
		if (!f->n) {
			/* nothing on the ladder fits this shape: it stays as planned */
			j->nc = f->off;
			j->fixed_bytes += e->bytes;
			j->fixed_loss += s->loss[t];
			continue;
		}
		j->nf++;
	}
	pj_progress_init(&j->prog, j->nf, 0);
	return j;
}

/* Lower convex hull of a tensor's candidates, in place. */
static void hull(pj_solve_job *j, sfree *f)
{
	scand *c = j->c + f->off;
	qsort(c, f->n, sizeof *c, cand_cmp);
	uint32_t h = 0;
	for (uint32_t k = 0; k < f->n; k++) {
		if (h && (c[k].bytes == c[h - 1].bytes || c[k].loss >= c[h - 1].loss))
			continue;
		while (h >= 2) {
			const double s1 = (c[h - 2].loss - c[h - 1].loss) / (double)(c[h - 1].bytes - c[h - 2].bytes);
			const double s2 = (c[h - 1].loss - c[k].loss) / (double)(c[k].bytes - c[h - 1].bytes);
			if (s1 > s2)
				break;
			h--;
		}
		c[h++] = c[k];
	}
	f->n = h;
	f->cur = 0;
}

/* Max-heap of free tensors by the slope of their next segment. */
typedef struct hitem {
	double slope;
	uint32_t f;
} hitem;

static bool h_before(const hitem *a, const hitem *b)
{
	return a->slope > b->slope || (a->slope == b->slope && a->f < b->f);
}

static void h_push(hitem *h, size_t *n, hitem it)
{
	size_t i = (*n)++;
	while (i && h_before(&it, &h[(i - 1) / 2])) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = it;
}

static hitem h_pop(hitem *h, size_t *n)
{
	hitem top = h[0], last = h[--*n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h_before(&h[c + 1], &h[c]))
			c++;
		if (!h_before(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

static double seg_slope(const pj_solve_job *j, const sfree *f)
{
	const scand *a = &j->c[f->off + f->cur], *b = a + 1;
	return (a->loss - b->loss) / (double)(b->bytes - a->bytes);
}

static bool cancelled(const pj_solve_job *j)
{
	return atomic_load_explicit(&j->prog.cancel, memory_order_relaxed) || (j->pool && pj_pool_cancelled(j->pool));
}

static void job_run(void *arg)
{
	pj_solve_job *j = arg;
	pj_solve_result *r = &j->res;
	char b1[32], b2[32], b3[32];
	memset(r, 0, sizeof *r);
	r->budget = j->budget;
	r->fixed_bytes = j->fixed_bytes;
	r->n_free = j->nf;
	uint64_t total = j->fixed_bytes;
	for (size_t i = 0; i < j->nf; i++) {
		hull(j, &j->f[i]);
		total += j->c[j->f[i].off].bytes;
	}
	r->min_bytes = total;
	pj_status st = PJ_OK;
	if (total > j->budget) {
		r->feasible = false;
		r->done = true;
		snprintf(r->message, sizeof r->message,
		         "infeasible: %s does not fit; the smallest types need %s (%s of it fixed)",
		         gib(j->budget, b1, sizeof b1), gib(total, b2, sizeof b2), gib(j->fixed_bytes, b3, sizeof b3));
		st = PJ_EUSAGE;
		goto out;
	}
	r->feasible = true;
	hitem *h = pj_xmalloc((j->nf ? j->nf : 1) * sizeof *h);
	size_t nh = 0;
	for (size_t i = 0; i < j->nf; i++)
		if (j->f[i].n > 1)
			h_push(h, &nh, (hitem){ seg_slope(j, &j->f[i]), (uint32_t)i });
		else
			pj_progress_add(&j->prog, 1, 0);
	size_t iter = 0;
	while (nh) {
		if ((++iter & 255) == 0 && cancelled(j)) {
			st = PJ_ECANCELED;
			break;
		}
		const hitem it = h_pop(h, &nh);
		sfree *f = &j->f[it.f];
		const scand *a = &j->c[f->off + f->cur];
		const uint64_t d = a[1].bytes - a[0].bytes;
		if (total + d > j->budget) {
			pj_progress_add(&j->prog, 1, 0); /* retired */
			continue;
		}
		total += d;
		f->cur++;
		if (f->cur + 1 < f->n)
			h_push(h, &nh, (hitem){ seg_slope(j, f), it.f });
		else
			pj_progress_add(&j->prog, 1, 0);
	}
	free(h);
	if (!st && cancelled(j))
		st = PJ_ECANCELED;
	r->bytes = total;
	r->loss = j->fixed_loss;
	for (size_t i = 0; i < j->nf; i++)
		r->loss += j->c[j->f[i].off + j->f[i].cur].loss;
	r->done = st == PJ_OK;
	if (st == PJ_ECANCELED)
		snprintf(r->message, sizeof r->message, "solver cancelled");
	else
		snprintf(r->message, sizeof r->message, "%s: %s of %s, predicted loss %.4g", j->label,
		         gib(total, b1, sizeof b1), gib(j->budget, b2, sizeof b2), r->loss);
out:
	pthread_mutex_lock(&j->lock);
	j->st = st;
	snprintf(j->msg, sizeof j->msg, "%s", r->message);
	j->done = true;
	atomic_store(&j->prog.finished, true);
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

pj_solve_job *pj_session_solve_start(pj_session *s, pj_pool *pool, const pj_solve_target *target, pj_error *err)
{
	pj_solve_job *j = job_new(s, target, err);
	if (!j)
		return NULL;
	j->pool = pool;
	pj_pool_submit(pool, job_run, j);
	return j;
}

const pj_progress *pj_solve_job_progress(const pj_solve_job *j)
{
	return &j->prog;
}

void pj_solve_job_cancel(pj_solve_job *j)
{
	if (j)
		atomic_store(&j->prog.cancel, true);
}

bool pj_solve_job_finished(const pj_solve_job *j)
{
	pj_solve_job *m = (pj_solve_job *)j;
	pthread_mutex_lock(&m->lock);
	const bool d = m->done;
	pthread_mutex_unlock(&m->lock);
	return d;
}

static void job_wait(pj_solve_job *j)
{
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		pthread_cond_wait(&j->cond, &j->lock);
	pthread_mutex_unlock(&j->lock);
}

pj_status pj_solve_job_result(pj_solve_job *j, pj_solve_result *r, pj_error *err)
{
	job_wait(j);
	if (r)
		*r = j->res;
	if (j->st)
		return pj_fail(err, j->st, "%s", j->msg);
	return PJ_OK;
}

pj_status pj_session_solve_apply(pj_session *s, pj_solve_job *j, pj_error *err)
{
	pj_status rc = pj_solve_job_result(j, NULL, err);
	if (rc)
		return rc;
	if (j->plan_gen != s->plan_gen)
		return pj_fail(err, PJ_EUSAGE, "the plan changed while the solver ran; run it again");
	sess_step st = { 0 };
	st.d = pj_xcalloc(j->nf ? j->nf : 1, sizeof *st.d);
	for (size_t i = 0; i < j->nf; i++) {
		const sfree *f = &j->f[i];
		const int32_t code = OV_MAKE(j->c[f->off + f->cur].type, false, true);
		if (s->ov[f->t] != code)
			st.d[st.nd++] = (sess_diff){ f->t, s->ov[f->t], code };
	}
	st.label = pj_xstrdup(j->label);
	if (!st.nd) {
		sess_step_free(&st);
		return PJ_OK;
	}
	rc = sess_step_push(s, &st, err);
	if (!rc && s->plan.out_bytes > j->budget) {
		/* cannot happen (bytes are the candidates' own); never leave it applied */
		pj_session_undo(s, NULL);
		return pj_fail(err, PJ_EUNSUPPORTED, "solver: the applied plan (%llu bytes) exceeds the budget",
		               (unsigned long long)s->plan.out_bytes);
	}
	return rc;
}

void pj_solve_job_free(pj_solve_job *j)
{
	if (!j)
		return;
	pj_solve_job_cancel(j);
	job_wait(j);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j->f);
	free(j->c);
	free(j);
}

pj_status pj_session_solve(pj_session *s, const pj_solve_target *target, pj_solve_result *r, pj_error *err)
{
	pj_solve_job *j = job_new(s, target, err);
	if (!j)
		return err ? err->code : PJ_EUSAGE;
	job_run(j);
	pj_status rc = pj_solve_job_result(j, r, err);
	if (!rc)
		rc = pj_session_solve_apply(s, j, err);
	pj_solve_job_free(j);
	return rc;
}
