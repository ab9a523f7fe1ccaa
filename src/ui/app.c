/* app.c - the browser's main loop: one thread owns curses and waits in
 * poll() on stdin and the mailbox pipe; workers compute and post. */
#include "config.h"
#include "app.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "views.h"

/* Progress redraws while a job runs, in milliseconds. */
#define TICK_MS 200

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
	a->stats_t0 = pj_now();
	pj_stats_sink sink = { sink_result, sink_finished, a->stats_ctx };
	a->stats_job = pj_stats_job_start(a->pool, &a->m->cat, a->tree.order, a->tree.n_order, &sink);
}

static void apply_messages(pj_app *a, pj_msg **buf, size_t *cap)
{
	size_t n = pj_mailbox_take(&a->mb, buf, cap);
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

void pj_app_row_stats(const pj_app *a, uint32_t ri, pj_tstats *out)
{
	const pj_tree *t = &a->tree;
	bool first = true;
	memset(out, 0, sizeof *out);
	for (uint32_t i = ri; i < t->rows[ri].end; i++) {
		const pj_row *r = &t->rows[i];
		if (r->kind != PJ_ROW_TENSOR && r->kind != PJ_ROW_SLICE)
			continue;
		pj_tstats_merge(out, leaf_stats(a, r), first);
		first = false;
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

/* ---- layout, drawing, dispatch --------------------------------------------- */

static void layout(pj_app *a)
{
	int hh = a->m->n_warnings ? 3 : 2;
	int body = LINES - hh - 2;
	int dh = a->show_detail && body >= 12 ? 6 : 0;
	a->r_header = (pj_rect){ 0, 0, hh, COLS };
	a->r_table = (pj_rect){ hh, 0, body - dh, COLS };
	a->r_detail = (pj_rect){ hh + body - dh, 0, dh, COLS };
	a->r_help = (pj_rect){ hh, 0, body, COLS };
	a->r_jobs = (pj_rect){ LINES - 2, 0, 1, COLS };
	a->r_fbar = (pj_rect){ LINES - 1, 0, 1, COLS };
	a->page = a->r_table.h > 1 ? a->r_table.h - 1 : 1;   /* minus the title row */
	pj_app_select(a, a->sel);
}

static bool too_small(void)
{
	return LINES < 8 || COLS < 40;
}

static void draw(pj_app *a)
{
	erase();
	if (too_small()) {
		pj_crt_put(0, 0, -1, PJ_C_WARN, false, "terminal too small");
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
	pj_fbar_view.draw(a, a->r_fbar);
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
		return PJ_R_QUIT;
	case PJ_ACT_DETAIL:
		a->show_detail = !a->show_detail;
		layout(a);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_STATS:
		stats_start(a);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_CANCEL:
		if (a->stats_job && !a->stats_done)
			pj_stats_job_cancel(a->stats_job);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_REDRAW:
		clearok(curscr, TRUE);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	default:
		return PJ_R_IGNORED;
	}
}

static int dispatch_mouse(pj_app *a, const pj_mouse *ev)
{
	if (too_small())
		return PJ_R_IGNORED;
	if (pj_rect_has(a->r_fbar, ev->y, ev->x))
		return pj_fbar_view.mouse(a, a->r_fbar, ev);
	if (a->help_open) {
		if (ev->kind == PJ_MOUSE_CLICK)
			return pj_app_dispatch(a, PJ_ACT_CLOSE);
		return pj_help_view.mouse(a, a->r_help, ev);
	}
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
	stats_stop(a);
	if (a->pool) {
		pj_pool_cancel(a->pool);
		pj_pool_free(a->pool);
	}
	for (size_t i = 0; a->slice_ts && i < a->m->cat.n; i++)
		free(a->slice_ts[i]);
	free(a->slice_ts);
	free(a->ts);
	pj_tree_free(&a->tree);
	pj_mailbox_free(&a->mb);
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
	pj_pool *p = pj_pool_new(threads > 0 ? (unsigned)threads : 1, 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

static int run_loop(pj_app *a)
{
	pj_msg *buf = NULL;
	size_t cap = 0;
	bool dirty = true;
	int idle_reads = 0, rc = PJ_EXIT_OK;

	for (;;) {
		if (dirty) {
			draw(a);
			dirty = false;
		}
		struct pollfd pfd[2] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = a->mb.fd[0], .events = POLLIN },
		};
		bool running = a->stats_job && !a->stats_done;
		int n = poll(pfd, 2, running ? TICK_MS : -1);
		if (n < 0 && errno != EINTR) {
			rc = PJ_EXIT_RUNTIME;
			break;
		}
		if (pj_crt_take_resize()) {
			layout(a);
			clearok(curscr, TRUE);
			dirty = true;
		}
		if (n == 0 && running)
			dirty = true;              /* progress bar, rate, ETA */
		if (n <= 0)
			continue;
		if (pfd[1].revents & POLLIN) {
			apply_messages(a, &buf, &cap);
			dirty = true;
		}
		if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL) && !(pfd[0].revents & POLLIN)) {
			rc = PJ_EXIT_RUNTIME;      /* the terminal went away */
			break;
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		pj_mouse ev;
		int k, got = 0;
		while ((k = pj_crt_read_key(&ev)) != PJ_KEY_NONE) {
			int f;
			got++;
			if (k == PJ_KEY_RESIZE) {
				layout(a);
				f = PJ_R_REDRAW;
			} else if (k == PJ_KEY_MOUSE) {
				f = dispatch_mouse(a, &ev);
			} else {
				f = pj_app_dispatch(a, pj_keys_action(k));
			}
			if (f & PJ_R_QUIT)
				goto out;
			if (f & (PJ_R_REDRAW | PJ_R_HANDLED))
				dirty = true;
		}
		/* Readable but no key, again and again: stdin is at EOF. */
		idle_reads = got ? 0 : idle_reads + 1;
		if (idle_reads > 100) {
			rc = PJ_EXIT_RUNTIME;
			break;
		}
	}
out:
	free(buf);
	return rc;
}

int pj_ui_run(pj_model *m, const pj_ui_opts *opts)
{
	pj_app a;
	memset(&a, 0, sizeof a);
	a.m = m;
	a.opts = opts;
	a.show_detail = true;

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

	pj_crt_opts co = { .no_color = opts->no_color, .no_mouse = opts->no_mouse, .wake_fd = a.mb.fd[1] };
	if (!pj_crt_init(&co)) {
		fprintf(stderr, "pajamas-tui: cannot initialise the terminal (TERM=%s)\n",
		        getenv("TERM") ? getenv("TERM") : "");
		app_free(&a);
		return PJ_EXIT_RUNTIME;
	}
	layout(&a);
	stats_start(&a);
	int rc = run_loop(&a);
	/* Give the terminal back first; joining workers may take a moment. */
	pj_crt_done();
	app_free(&a);
	return rc;
}
