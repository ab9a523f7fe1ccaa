/* app.c - the browser's main loop: one thread owns curses and waits in
 * poll() on stdin and the mailbox pipe; workers compute and post. */
#include "config.h"
#include "app.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dialog.h"
#include "views.h"

/* Progress redraws while a job runs, in milliseconds. */
#define TICK_MS 200
/* Background news is drawn at most this often, in seconds. */
#define BG_FRAME 0.1

double pj_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- statistics job glue ------------------------------------------------- */

struct stats_sink_ctx {
	pj_mailbox *mb;
	unsigned gen;
};

/* Worker threads: copy and post, nothing else. */
static void sink_result(void *ctx, size_t tensor, int expert, const pj_tstats *s)
{
	struct stats_sink_ctx *c = ctx;
	pj_msg m = { .kind = PJ_MSG_STATS, .gen = c->gen, .tensor = tensor, .expert = expert, .stats = *s };
	pj_mailbox_post(c->mb, &m);
}

static void sink_finished(void *ctx)
{
	struct stats_sink_ctx *c = ctx;
	pj_msg m = { .kind = PJ_MSG_STATS_DONE, .gen = c->gen, .expert = -1 };
	pj_mailbox_post(c->mb, &m);
}

static void stats_stop(pj_app *a)
{
	pj_stats_job_free(a->stats_job);    /* cancels, waits for its runners */
	a->stats_job = NULL;
	free(a->stats_ctx);
	a->stats_ctx = NULL;
}

static void stats_start(pj_app *a)
{
	stats_stop(a);
	const pj_catalog *cat = &a->m->cat;
	memset(a->ts, 0, cat->n * sizeof *a->ts);
	for (size_t i = 0; i < cat->n; i++)
		if (a->slice_ts[i])
			memset(a->slice_ts[i], 0, (size_t)cat->t[i].n_experts * sizeof **a->slice_ts);
	a->stats_ctx = pj_xmalloc(sizeof *a->stats_ctx);
	a->stats_ctx->mb = &a->mb;
	a->stats_ctx->gen = ++a->stats_gen;
	a->stats_done = false;
	a->stats_ver++;
	a->stats_t0 = pj_now();
	pj_stats_sink sink = { sink_result, sink_finished, a->stats_ctx };
	a->stats_job = pj_stats_job_start(a->pool, &a->m->cat, a->tree.order, a->tree.n_order, &sink);
}

static void apply_messages(pj_app *a, pj_msg **buf, size_t *cap)
{
	size_t n = pj_mailbox_take(&a->mb, buf, cap);
	if (n)
		a->stats_ver++;
	for (size_t i = 0; i < n; i++) {
		const pj_msg *m = &(*buf)[i];
		if (m->gen != a->stats_gen)
			continue;      /* from a job that was restarted */
		if (m->kind == PJ_MSG_STATS_DONE) {
			a->stats_done = true;
			a->stats_t1 = pj_now();
		} else if (m->expert < 0) {
			a->ts[m->tensor] = m->stats;
		} else if (a->slice_ts[m->tensor] && m->expert < a->m->cat.t[m->tensor].n_experts) {
			a->slice_ts[m->tensor][m->expert] = m->stats;
		}
	}
}

/* ---- shared helpers (views.h) -------------------------------------------- */

/* A leaf's own figures.  Slices of a tensor that was never sliced (say,
 * quantized) take the tensor's verdict. */
static const pj_tstats *leaf_stats(const pj_app *a, const pj_row *r)
{
	static const pj_tstats pending = { .state = PJ_TS_PENDING };
	if (r->kind == PJ_ROW_TENSOR)
		return &a->ts[r->tensor];
	if (a->slice_ts[r->tensor])
		return &a->slice_ts[r->tensor][r->expert];
	const pj_tstats *w = &a->ts[r->tensor];
	return w->state == PJ_TS_UNSUPPORTED || w->state == PJ_TS_ERROR ? w : &pending;
}

void pj_app_row_stats(const pj_app *ca, uint32_t ri, pj_tstats *out)
{
	pj_app *a = (pj_app *)ca;      /* the cache below; UI thread only */
	const pj_tree *t = &a->tree;
	bool first = true;
	if (t->rows[ri].end - ri > 64 && a->rs_valid && a->rs_row == ri && a->rs_ver == a->stats_ver) {
		*out = a->rs;
		return;
	}
	memset(out, 0, sizeof *out);
	for (uint32_t i = ri; i < t->rows[ri].end; i++) {
		const pj_row *r = &t->rows[i];
		if (r->kind != PJ_ROW_TENSOR && r->kind != PJ_ROW_SLICE)
			continue;
		pj_tstats_merge(out, leaf_stats(a, r), first);
		first = false;
	}
	if (t->rows[ri].end - ri > 64) {
		a->rs = *out;
		a->rs_row = ri;
		a->rs_ver = a->stats_ver;
		a->rs_valid = true;
	}
}

const pj_layer *pj_app_row_layer(const pj_app *a, uint32_t r)
{
	int32_t i = a->tree.rows[r].arch_layer;
	return i >= 0 && i < a->m->arch.n_layer_entries ? &a->m->arch.layers[i] : NULL;
}

const char *pj_attn_str(const pj_layer *l, char *buf, size_t len)
{
	if (!l) {
		snprintf(buf, len, "?");
		return buf;
	}
	switch (l->attn) {
	case PJ_ATTN_LOCAL:
		/* "local 32", "local 4k": fits the 9-cell column */
		if (l->window >= 1024 && l->window % 1024 == 0)
			snprintf(buf, len, "local %dk", l->window / 1024);
		else
			snprintf(buf, len, "local %d", l->window);
		break;
	case PJ_ATTN_GLOBAL: snprintf(buf, len, "global"); break;
	case PJ_ATTN_MLA: snprintf(buf, len, "MLA"); break;
	case PJ_ATTN_LINEAR: snprintf(buf, len, "linear"); break;
	default: snprintf(buf, len, "none"); break;
	}
	if (l->cross_attn) {
		size_t n = strlen(buf);
		snprintf(buf + n, len - n, "+x");
	}
	return buf;
}

uint32_t pj_app_sel_row(const pj_app *a)
{
	return a->tree.n_vis ? a->tree.vis[a->sel] : 0;
}

void pj_app_select(pj_app *a, size_t i)
{
	size_t n = a->tree.n_vis;
	if (!n) {
		a->sel = a->top = 0;
		return;
	}
	a->sel = i >= n ? n - 1 : i;
	size_t page = a->page > 0 ? (size_t)a->page : 1;
	if (a->sel < a->top)
		a->top = a->sel;
	else if (a->sel >= a->top + page)
		a->top = a->sel - page + 1;
	/* No empty space below the last row when the list could fill it. */
	if (a->top + page > n)
		a->top = n > page ? n - page : 0;
}

void pj_app_msg(pj_app *a, bool err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof a->msg, fmt, ap);
	va_end(ap);
	a->msg_err = err;
	a->msg_t = pj_now();
}

/* A leaf's figures from its tensor's: slices share their stacked tensor's
 * (bytes and loss split evenly over its experts). */
static void leaf_plan(const pj_app *a, const pj_row *r, const pj_srow *x, pj_row_plan *p)
{
	const pj_catalog *cat = &a->m->cat;
	size_t ti = (size_t)r->tensor;
	double div = r->kind == PJ_ROW_SLICE ? (double)cat->t[ti].n_experts : 1;
	p->bytes = r->kind == PJ_ROW_SLICE ? x->bytes / (uint64_t)cat->t[ti].n_experts : x->bytes;
	p->loss = x->loss / div;
	p->type = (int16_t)x->type;
	p->prov = (uint8_t)x->prov;
	p->pinned = x->pinned;
	p->tagged = p->all_tagged = x->tagged;
	p->estimated = x->loss_estimated && x->quantizable;
}

/* An inner row from its children (done before it). */
static void fold_row(pj_app *a, size_t j)
{
	const pj_tree *t = &a->tree;
	const pj_row *r = &t->rows[j];
	pj_row_plan *p = &a->rp[j];
	memset(p, 0, sizeof *p);
	bool first = true;
	for (uint32_t c = (uint32_t)j + 1; c < r->end; c = t->rows[c].end) {
		const pj_row_plan *q = &a->rp[c];
		p->bytes += q->bytes;
		p->loss += q->loss;
		p->pinned |= q->pinned;
		p->tagged |= q->tagged;
		p->estimated |= q->estimated;
		if (first) {
			p->type = q->type;
			p->prov = q->prov;
			p->all_tagged = q->all_tagged;
			first = false;
		} else {
			if (p->type != q->type)
				p->type = -1;
			if (p->prov != q->prov)
				p->prov = PJ_PROV_COUNT;
			p->all_tagged &= q->all_tagged;
		}
	}
	if (first) {
		p->type = -1;
		p->prov = PJ_PROV_COUNT;
	}
}

/* Every row's plan figures: the leaves (each catalog tensor asked once),
 * then the inner rows bottom-up. */
static void compute_row_plan(pj_app *a)
{
	const pj_tree *t = &a->tree;
	const size_t n_cat = a->m->cat.n;
	for (size_t ti = 0; ti < n_cat; ti++) {
		if (a->leaf_off[ti] == a->leaf_off[ti + 1])
			continue;
		pj_srow sr;
		pj_session_row_figures(a->s, ti, &sr);
		for (uint32_t l = a->leaf_off[ti]; l < a->leaf_off[ti + 1]; l++)
			leaf_plan(a, &t->rows[a->leaf_rows[l]], &sr, &a->rp[a->leaf_rows[l]]);
	}
	for (size_t j = t->n; j-- > 0;)
		if (t->rows[j].kind != PJ_ROW_TENSOR && t->rows[j].kind != PJ_ROW_SLICE)
			fold_row(a, j);
}

/* Leaf rows by tensor (CSR). */
static void leaf_index(pj_app *a)
{
	const pj_tree *t = &a->tree;
	const size_t n = a->m->cat.n;
	a->leaf_off = pj_xcalloc(n + 1, sizeof *a->leaf_off);
	for (size_t j = 0; j < t->n; j++)
		if (t->rows[j].kind == PJ_ROW_TENSOR || t->rows[j].kind == PJ_ROW_SLICE)
			a->leaf_off[t->rows[j].tensor + 1]++;
	for (size_t i = 0; i < n; i++)
		a->leaf_off[i + 1] += a->leaf_off[i];
	a->leaf_rows = pj_xcalloc(a->leaf_off[n] ? a->leaf_off[n] : 1, sizeof *a->leaf_rows);
	uint32_t *fill = pj_xcalloc(n ? n : 1, sizeof *fill);
	for (size_t j = 0; j < t->n; j++)
		if (t->rows[j].kind == PJ_ROW_TENSOR || t->rows[j].kind == PJ_ROW_SLICE) {
			size_t ti = (size_t)t->rows[j].tensor;
			a->leaf_rows[a->leaf_off[ti] + fill[ti]++] = (uint32_t)j;
		}
	free(fill);
}

/* The leaf rows of tensors ts[0..n) and their ancestors only. */
static void refold_tensors(pj_app *a, const size_t *ts, size_t n)
{
	const pj_tree *t = &a->tree;
	uint8_t *mark = a->rp_mark;
	size_t lo = t->n, hi = 0;
	for (size_t k = 0; k < n; k++) {
		size_t ti = ts[k];
		pj_srow sr;
		pj_session_row_figures(a->s, ti, &sr);
		for (uint32_t l = a->leaf_off[ti]; l < a->leaf_off[ti + 1]; l++) {
			uint32_t j = a->leaf_rows[l];
			leaf_plan(a, &t->rows[j], &sr, &a->rp[j]);
			for (int32_t p = t->rows[j].parent; p >= 0 && !mark[p]; p = t->rows[p].parent) {
				mark[p] = 1;
				lo = (size_t)p < lo ? (size_t)p : lo;
				hi = (size_t)p > hi ? (size_t)p : hi;
			}
		}
	}
	/* Children come after their parent: fold from the bottom up. */
	for (size_t j = hi + 1; j-- > lo && lo < t->n;)
		if (mark[j]) {
			fold_row(a, j);
			mark[j] = 0;
		}
}

/* Brings the row figures up to the session's row stamp: only the rows
 * that changed since the last time (an edit, undo, a tag, measurements
 * streaming in) and their ancestors; everything when the session says
 * every row may have changed, or when most did. */
static void sync_row_plan(pj_app *a)
{
	const pj_tree *t = &a->tree;
	const size_t n_cat = a->m->cat.n, max = n_cat / 4;
	uint64_t stamp = pj_session_row_stamp(a->s);
	if (a->rp && a->rp_stamp == stamp)
		return;
	if (!a->rp) {
		a->rp = pj_xcalloc(t->n ? t->n : 1, sizeof *a->rp);
		a->rp_mark = pj_xcalloc(t->n ? t->n : 1, 1);
		a->rp_changed = pj_xcalloc(max + 1, sizeof *a->rp_changed);
		leaf_index(a);
		compute_row_plan(a);
	} else {
		bool all;
		size_t n = pj_session_rows_changed(a->s, a->rp_stamp, a->rp_changed, max, &all);
		if (all || n > max)
			compute_row_plan(a);
		else
			refold_tensors(a, a->rp_changed, n);
	}
	a->rp_stamp = stamp;
}

const pj_row_plan *pj_app_row_plan(pj_app *a, uint32_t r)
{
	if (!a->s || r >= a->tree.n)
		return NULL;
	sync_row_plan(a);
	return &a->rp[r];
}

/* ---- filter and sort --------------------------------------------------------- */

static bool keep_row(void *ctx, uint32_t ri)
{
	pj_app *a = ctx;
	const pj_row *r = &a->tree.rows[ri];
	const pj_tensor *t = r->tensor >= 0 ? &a->m->cat.t[r->tensor] : NULL;
	switch (a->filter) {
	case PJ_FILTER_ROLE: return t && (int)t->role == a->filter_val;
	case PJ_FILTER_LAYER: return r->layer == a->filter_val;
	case PJ_FILTER_COMP: return r->comp == a->filter_val;
	case PJ_FILTER_TYPE: {
		const pj_row_plan *p = pj_app_row_plan(a, ri);
		return p ? p->type == a->filter_val : t && (int)t->dtype == a->filter_val;
	}
	case PJ_FILTER_TAGGED: return a->s && t && pj_session_tagged(a->s, (size_t)r->tensor);
	case PJ_FILTER_SEARCH: return t && a->search_ok && regexec(&a->search_re, t->name, 0, NULL, 0) == 0;
	default: return true;
	}
}

typedef struct sort_key {
	double k;
	uint32_t row;
} sort_key;

static int sort_key_cmp(const void *x, const void *y)
{
	const sort_key *p = x, *q = y;
	if (p->k != q->k)
		return p->k > q->k ? -1 : 1;      /* biggest first */
	return p->row < q->row ? -1 : p->row > q->row;
}

static double sort_value(pj_app *a, uint32_t ri)
{
	const pj_row *r = &a->tree.rows[ri];
	const pj_tensor *t = &a->m->cat.t[r->tensor];
	const pj_row_plan *p = pj_app_row_plan(a, ri);
	pj_srow sr;
	if (a->s)
		pj_session_row_figures(a->s, (size_t)r->tensor, &sr);
	switch ((pj_col)a->sort_col) {
	case PJ_COL_ATTN: return r->layer;
	case PJ_COL_SHAPE: return (double)pj_tensor_nelem(t);
	case PJ_COL_PARAMS: return (double)(t->role == PJ_ROLE_WEIGHT_SCALE ? 0 : pj_tensor_nelem(t));
	case PJ_COL_SRC: return t->dtype;
	case PJ_COL_TYPE: return a->s ? sr.bpw : t->dtype;
	case PJ_COL_BYTES: return (double)(a->s ? sr.bytes : t->nbytes);
	case PJ_COL_BPW: return a->s ? sr.bpw : 0;
	case PJ_COL_ERR: return a->s && !isnan(sr.rel_err) ? sr.rel_err : -1;
	case PJ_COL_LOSS: return a->s ? sr.loss : 0;
	case PJ_COL_PROV: return a->s ? (double)sr.prov + (sr.pinned ? 0.5 : 0) : 0;
	default: (void)p; return 0;
	}
}

void pj_app_refresh_rows(pj_app *a)
{
	pj_tree *t = &a->tree;
	bool (*keep)(void *, uint32_t) = a->filter != PJ_FILTER_NONE ? keep_row : NULL;
	if (a->sort_col < 0) {
		pj_tree_refresh_filtered(t, keep, a);
	} else {
		pj_tree_flat(t, keep, a);
		sort_key *k = pj_xcalloc(t->n_vis ? t->n_vis : 1, sizeof *k);
		for (size_t i = 0; i < t->n_vis; i++)
			k[i] = (sort_key){ sort_value(a, t->vis[i]), t->vis[i] };
		qsort(k, t->n_vis, sizeof *k, sort_key_cmp);
		for (size_t i = 0; i < t->n_vis; i++)
			t->vis[a->sort_asc ? t->n_vis - 1 - i : i] = k[i].row;
		free(k);
	}
	pj_app_select(a, a->sel);
}

/* ---- layout, drawing, dispatch --------------------------------------------- */

/* Jobs to show: one line each. */
static int jobs_lines(const pj_app *a)
{
	int n = 1;                      /* statistics */
	if (a->s)
		n++;                    /* measurement */
	if (a->solve)
		n++;
	if (a->exp_seen)
		n++;
	if (a->check_seen)
		n++;
	return n;
}

void pj_app_layout(pj_app *a)
{
	int hh = 3;
	int jl = a->show_jobs ? jobs_lines(a) : 1;
	if (LINES < 24 && jl > 1)
		jl = 1;                 /* below 80x24: one line, the busiest job */
	if (LINES < 16)
		hh = 2;
	int body = LINES - hh - jl - 2;
	int dh = 0;
	if (a->show_detail && body >= 12) {
		dh = body * 2 / 5 > 14 ? 14 : body * 2 / 5;
		if (dh < 6)
			dh = 6;
	}
	a->r_header = (pj_rect){ 0, 0, hh, COLS };
	a->r_table = (pj_rect){ hh, 0, body - dh, COLS };
	a->r_detail = (pj_rect){ hh + body - dh, 0, dh, COLS };
	a->r_help = (pj_rect){ hh, 0, body, COLS };
	a->r_jobs = (pj_rect){ LINES - 2 - jl, 0, jl, COLS };
	a->r_msg = (pj_rect){ LINES - 2, 0, 1, COLS };
	a->r_fbar = (pj_rect){ LINES - 1, 0, 1, COLS };
	a->page = a->r_table.h > 1 ? a->r_table.h - 1 : 1;   /* minus the title row */
	pj_app_select(a, a->sel);
}

static void layout(pj_app *a)
{
	pj_app_layout(a);
}

static bool too_small(void)
{
	return LINES < 8 || COLS < 40;
}

static void draw_msg(pj_app *a, pj_rect r)
{
	pj_crt_fill(r.y, r.x, r.w, PJ_C_NORMAL);
	if (a->msg[0]) {
		pj_crt_put(r.y, r.x, r.w, a->msg_err ? PJ_C_ERROR : PJ_C_LABEL, false, a->msg);
		return;
	}
	if (!a->s) {
		pj_crt_printf(r.y, r.x, r.w, PJ_C_DIM, false, "planning unavailable: %s", a->s_error);
		return;
	}
	const char *u = pj_session_undo_label(a->s);
	pj_crt_printf(r.y, r.x, r.w, PJ_C_DIM, false, "%s%s%s", u ? "u: undo " : "", u ? u : "",
	              a->autosave_note[0] ? "" : "");
}

/* PJ_TUI_TRACE=FILE (bench/tui_latency.sh): one line per key, two
 * CLOCK_MONOTONIC timestamps in nanoseconds: when the loop read the key
 * and when the screen that answers it had been handed to the terminal.
 * The harness's write of the key to the first is the wait (for the CPU,
 * or for the loop busy elsewhere), the first to the second the work. */
static FILE *trace_out;
static long long trace_read[64];
static unsigned trace_pending;

static long long trace_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void trace_key(void)
{
	if (!trace_out)
		return;
	long long ns = trace_ns();
	if (trace_pending < sizeof trace_read / sizeof trace_read[0])
		trace_read[trace_pending] = ns;
	trace_pending++;
}

static void trace_flush(void)
{
	if (!trace_out || !trace_pending)
		return;
	long long ns = trace_ns();
	const unsigned max = sizeof trace_read / sizeof trace_read[0];
	for (unsigned i = 0; i < trace_pending; i++)
		fprintf(trace_out, "%lld %lld\n", trace_read[i < max ? i : max - 1], ns);
	trace_pending = 0;
	fflush(trace_out);
}

static void draw_screen(pj_app *a);

static void draw(pj_app *a)
{
	draw_screen(a);
	trace_flush();
}

static void draw_screen(pj_app *a)
{
	erase();
	if (too_small()) {
		pj_crt_put(0, 0, -1, PJ_C_WARN, false, "terminal too small");
		pj_dlg_draw(a);
		refresh();
		return;
	}
	pj_header_view.draw(a, a->r_header);
	if (a->help_open) {
		pj_help_view.draw(a, a->r_help);
	} else {
		pj_table_view.draw(a, a->r_table);
		if (a->r_detail.h > 0)
			pj_detail_view.draw(a, a->r_detail);
	}
	pj_jobs_view.draw(a, a->r_jobs);
	draw_msg(a, a->r_msg);
	pj_fbar_view.draw(a, a->r_fbar);
	pj_dlg_draw(a);
	refresh();
}

int pj_app_dispatch(pj_app *a, pj_action act)
{
	if (act == PJ_ACT_NONE)
		return PJ_R_IGNORED;
	const pj_view *front = a->help_open ? &pj_help_view : &pj_table_view;
	int f = front->action ? front->action(a, act) : PJ_R_IGNORED;
	if (f & PJ_R_HANDLED)
		return f;

	switch (act) {
	case PJ_ACT_HELP:
		a->help_open = true;
		a->help_top = 0;
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_QUIT:
		return pj_plan_quit(a);
	case PJ_ACT_JOBS:
		a->show_jobs = !a->show_jobs;
		layout(a);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_CLOSE:
		if (a->filter != PJ_FILTER_NONE || a->sort_col >= 0) {
			uint32_t row = pj_app_sel_row(a);
			a->filter = PJ_FILTER_NONE;
			a->sort_col = -1;
			pj_app_refresh_rows(a);
			pj_app_select(a, pj_tree_vis_index(&a->tree, row));
			pj_app_msg(a, false, "filter and sort cleared");
		}
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_DETAIL:
		a->show_detail = !a->show_detail;
		layout(a);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_STATS:
		stats_start(a);
		return pj_plan_action(a, act) | PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_CANCEL:
		if (pj_plan_action(a, act) & PJ_R_HANDLED)
			return PJ_R_HANDLED | PJ_R_REDRAW;
		if (a->stats_job && !a->stats_done)
			pj_stats_job_cancel(a->stats_job);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_REDRAW:
		clearok(curscr, TRUE);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	default:
		return pj_plan_action(a, act);
	}
}

void pj_app_stats_cancel(pj_app *a)
{
	if (a->stats_job && !a->stats_done)
		pj_stats_job_cancel(a->stats_job);
}

bool pj_app_stats_running(const pj_app *a)
{
	return a->stats_job && !a->stats_done;
}

static int dispatch_mouse(pj_app *a, const pj_mouse *ev)
{
	if (pj_dlg_active(a))
		return pj_dlg_handle_mouse(a, ev);
	if (too_small())
		return PJ_R_IGNORED;
	if (pj_rect_has(a->r_fbar, ev->y, ev->x))
		return pj_fbar_view.mouse(a, a->r_fbar, ev);
	if (a->help_open) {
		if (ev->kind == PJ_MOUSE_CLICK)
			return pj_app_dispatch(a, PJ_ACT_CLOSE);
		return pj_help_view.mouse(a, a->r_help, ev);
	}
	if (ev->kind == PJ_MOUSE_CLICK && pj_rect_has(a->r_jobs, ev->y, ev->x))
		return pj_app_dispatch(a, PJ_ACT_CANCEL);
	if (pj_rect_has(a->r_table, ev->y, ev->x) ||
	    (ev->kind != PJ_MOUSE_CLICK && pj_rect_has(a->r_detail, ev->y, ev->x)))
		return pj_table_view.mouse(a, a->r_table, ev);
	return PJ_R_IGNORED;
}

/* ---- set-up and the loop ------------------------------------------------- */

static void app_init_stats(pj_app *a)
{
	const pj_catalog *cat = &a->m->cat;
	a->ts = pj_xcalloc(cat->n ? cat->n : 1, sizeof *a->ts);
	a->slice_ts = pj_xcalloc(cat->n ? cat->n : 1, sizeof *a->slice_ts);
	for (size_t i = 0; i < cat->n; i++)
		if (pj_tensor_stacked(&cat->t[i]))
			a->slice_ts[i] = pj_xcalloc((size_t)cat->t[i].n_experts, sizeof **a->slice_ts);
}

static void app_free(pj_app *a)
{
	pj_dlg_close_all(a);
	pj_export_stop(&a->exp);
	pj_check_job_free(&a->check);
	pj_solve_job_free(a->solve);
	a->solve = NULL;
	stats_stop(a);
	if (a->s)
		pj_session_measure_cancel(a->s);
	if (a->pool) {
		pj_pool_cancel(a->pool);
		pj_pool_free(a->pool);
	}
	pj_session_free(a->s);       /* after the pool: no runner left */
	a->s = NULL;
	if (a->mcache) {
		pj_error e;
		pj_mcache_save(a->mcache, &e);
		pj_mcache_close(a->mcache);
	}
	if (a->search_ok)
		regfree(&a->search_re);
	free(a->rp);
	free(a->rp_mark);
	free(a->rp_changed);
	free(a->leaf_off);
	free(a->leaf_rows);
	for (size_t i = 0; a->slice_ts && i < a->m->cat.n; i++)
		free(a->slice_ts[i]);
	free(a->slice_ts);
	free(a->ts);
	pj_tree_free(&a->tree);
	pj_mailbox_free(&a->mb);
}

/* The workers are created by a short-lived helper thread that first lowers
 * its own priority (SCHED_BATCH, nice +10 where the system has them): on
 * Linux threads inherit both, so the workers use every core the UI thread
 * leaves them, and a keypress never waits behind a quantization kernel.
 * Unprivileged both ways; the UI thread itself is untouched. */
struct pool_spawn {
	unsigned threads;
	pj_pool *pool;
	int err;
};

static void *pool_spawner(void *arg)
{
	struct pool_spawn *ps = arg;
#ifdef SCHED_BATCH
	struct sched_param sp = { .sched_priority = 0 };
	pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
#endif
	errno = 0;
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
		errno = 0;          /* no nice here: plain priority, still works */
	ps->pool = pj_pool_new(ps->threads, 0);
	ps->err = ps->pool ? 0 : errno;
	return NULL;
}

/* Workers inherit the creating thread's mask: block every signal the UI
 * thread must receive (SIGWINCH for ncurses' size, the fatal ones for the
 * terminal restore, job control for curses' own SIGTSTP handling). */
static pj_pool *start_pool(int threads)
{
	static const int sigs[] = { SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGCONT,
	                            SIGTTIN, SIGTTOU, SIGPIPE };
	sigset_t block, old;
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&block, sigs[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	struct pool_spawn ps = { .threads = threads > 0 ? (unsigned)threads : 1 };
	pthread_t th;
	pj_pool *p = NULL;
	if (pthread_create(&th, NULL, pool_spawner, &ps) == 0) {
		pthread_join(th, NULL);
		p = ps.pool;
		errno = ps.err;
	} else {
		p = pj_pool_new(ps.threads, 0);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

/* The session's measurement sink wakes the loop through the mailbox pipe. */
static void session_notify(void *ctx)
{
	pj_mailbox *mb = ctx;
	ssize_t r = write(mb->fd[1], "s", 1);
	(void)r;
}

/* Every key waiting on stdin, dispatched.  Returns -1 to go on, else the
 * exit status (quit, or stdin at EOF). */
static int read_keys(pj_app *a, bool *dirty, int *idle_reads)
{
	pj_mouse ev;
	int k, got = 0;
	while ((k = pj_crt_read_key(&ev)) != PJ_KEY_NONE) {
		int f;
		got++;
		a->last_key = pj_now();
		trace_key();
		if (k == PJ_KEY_RESIZE) {
			layout(a);
			f = PJ_R_REDRAW;
		} else if (k == PJ_KEY_MOUSE) {
			f = dispatch_mouse(a, &ev);
		} else if (pj_dlg_active(a)) {
			f = pj_dlg_handle_key(a, k);
		} else {
			f = pj_app_dispatch(a, pj_keys_action(k));
		}
		if (f & PJ_R_QUIT || a->quit)
			return PJ_EXIT_OK;
		if (f & (PJ_R_REDRAW | PJ_R_HANDLED))
			*dirty = true;
		/* Draw between keys when a burst is long: the screen keeps up. */
		if (got % 32 == 0 && *dirty) {
			draw(a);
			*dirty = false;
		}
	}
	/* Readable but no key, again and again: stdin is at EOF. */
	*idle_reads = got ? 0 : *idle_reads + 1;
	return *idle_reads > 100 ? PJ_EXIT_RUNTIME : -1;
}

static int run_loop(pj_app *a)
{
	pj_msg *buf = NULL;
	size_t cap = 0;
	/* dirty: a key changed the screen, draw now; bg: background news
	 * (results, progress), drawn at most every BG_FRAME so that a stream of
	 * results never queues keys behind full redraws. */
	bool dirty = true, bg = false;
	double last_draw = 0;
	int idle_reads = 0, rc = PJ_EXIT_OK;

	for (;;) {
		/* A key's screen before the background work of the turn. */
		if (dirty) {
			draw(a);
			dirty = bg = false;
			last_draw = pj_now();
		}
		if (pj_plan_tick(a))
			bg = true;
		double now = pj_now();
		if (bg && now - last_draw >= BG_FRAME) {
			draw(a);
			bg = false;
			last_draw = now;
		}
		struct pollfd pfd[3] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = a->mb.fd[0], .events = POLLIN },
			{ .fd = a->exp.fd, .events = POLLIN },
		};
		bool running = (a->stats_job && !a->stats_done) || pj_plan_busy(a);
		int timeout = running ? TICK_MS : -1;
		if (bg) {
			int ms = (int)((last_draw + BG_FRAME - now) * 1000) + 1;
			ms = ms < 0 ? 0 : ms;
			timeout = timeout < 0 || ms < timeout ? ms : timeout;
		}
		int n = poll(pfd, a->exp.fd >= 0 ? 3 : 2, timeout);
		if (n < 0 && errno != EINTR) {
			rc = PJ_EXIT_RUNTIME;
			break;
		}
		int sig = pj_crt_take_signal();
		if (sig) {
			/* SIGTERM / SIGHUP: save, give the terminal back, die of it. */
			pj_plan_autosave(a, true);
			rc = 128 + sig;
			break;
		}
		if (pj_crt_take_resize()) {
			layout(a);
			clearok(curscr, TRUE);
			dirty = true;
		}
		if (n == 0 && running)
			bg = true;                 /* progress bar, rate, ETA */
		if (n <= 0)
			continue;
		if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL) && !(pfd[0].revents & POLLIN)) {
			pj_plan_autosave(a, true);
			rc = PJ_EXIT_RUNTIME;      /* the terminal went away */
			break;
		}
		if (a->exp.fd >= 0 && pfd[2].revents)
			bg = true;                 /* pj_plan_tick reads it */
		/* Keys first: background news waits for them, never the reverse. */
		if (pfd[0].revents & POLLIN) {
			int r = read_keys(a, &dirty, &idle_reads);
			if (r >= 0) {
				rc = r;
				goto out;
			}
		}
		if (pfd[1].revents & POLLIN) {
			apply_messages(a, &buf, &cap);
			bg = true;
		}
	}
out:
	pj_plan_autosave(a, true);
	free(buf);
	return rc;
}

static int ui_run(pj_model *m, const pj_ui_opts *opts, const pj_imatrix *im)
{
	pj_app a;
	memset(&a, 0, sizeof a);
	a.m = m;
	a.opts = opts;
	a.show_detail = true;
	a.show_jobs = true;
	a.sort_col = -1;
	a.exp.fd = -1;
	for (int c = 0; c < PJ_COL_COUNT; c++)
		a.col_on[c] = pj_columns[c].on;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "pajamas-tui: the interactive browser needs a terminal "
		                "(for a report, use --info)\n");
		return PJ_EXIT_RUNTIME;
	}
	if (!pj_mailbox_init(&a.mb)) {
		perror("pajamas-tui: pipe");
		return PJ_EXIT_RUNTIME;
	}
	a.pool = start_pool(opts->threads);
	if (!a.pool) {
		perror("pajamas-tui: cannot start worker threads");
		pj_mailbox_free(&a.mb);
		return PJ_EXIT_RUNTIME;
	}
	pj_tree_build(&a.tree, m);
	app_init_stats(&a);

	/* The plan.  Without it (a model the planner cannot take) the browser
	 * still works, and says why on the messages line. */
	pj_error err;
	pj_session_opts so = { .base = NULL, .imatrix = im };
	a.check.im = im;
	const char *np = getenv("PJ_TUI_NO_PLAN");     /* browser only (tests, triage) */
	if (np && *np && strcmp(np, "0") != 0) {
		a.s = NULL;
		snprintf(a.s_error, sizeof a.s_error, "PJ_TUI_NO_PLAN is set");
	} else if (pj_session_new(m, &so, &a.s, &err) != PJ_OK) {
		a.s = NULL;
		snprintf(a.s_error, sizeof a.s_error, "%.250s", err.msg);
	} else {
		pj_session_set_notify(a.s, session_notify, &a.mb);
		char *warning = NULL;
		if (pj_mcache_open(NULL, &a.mcache, &warning, &err) != PJ_OK)
			a.mcache = NULL;
		free(warning);
	}

	if (!a.s)   /* a browser: the statistics columns take the plan's place */
		for (int c = PJ_COL_MAXABS; c <= PJ_COL_OUTL; c++)
			a.col_on[c] = true;

	pj_crt_opts co = { .no_color = opts->no_color, .no_mouse = opts->no_mouse, .wake_fd = a.mb.fd[1],
	                   .catch_term = true };
	if (!pj_crt_init(&co)) {
		fprintf(stderr, "pajamas-tui: cannot initialise the terminal (TERM=%s)\n",
		        getenv("TERM") ? getenv("TERM") : "");
		app_free(&a);
		return PJ_EXIT_RUNTIME;
	}
	layout(&a);
	stats_start(&a);
	pj_plan_open(&a);
	const char *tp = getenv("PJ_TUI_TRACE");
	trace_out = tp && *tp ? fopen(tp, "w") : NULL;
	int rc = run_loop(&a);
	if (trace_out)
		fclose(trace_out);
	trace_out = NULL;
	/* Give the terminal back first; joining workers may take a moment. */
	pj_crt_done();
	app_free(&a);
	if (rc > 128) {
		/* Killed by SIGTERM / SIGHUP: saved and restored; now die of it,
		 * so the parent sees why. */
		signal(rc - 128, SIG_DFL);
		raise(rc - 128);
	}
	return rc;
}

int pj_ui_run(pj_model *m, const pj_ui_opts *opts)
{
	/* --imatrix: read before the screen opens, so that a bad file is a
	 * plain error naming it; the session, the check and the header borrow it */
	pj_imatrix im;
	pj_error err;
	if (opts->imatrix && pj_imatrix_load(opts->imatrix, &im, &err) != PJ_OK) {
		fprintf(stderr, "pajamas-tui: %s\n", err.msg);
		return PJ_EXIT_MODEL;
	}
	const int rc = ui_run(m, opts, opts->imatrix ? &im : NULL);
	if (opts->imatrix)
		pj_imatrix_free(&im);
	return rc;
}
