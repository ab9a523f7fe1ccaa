/* bars.c - the one-line views: header, jobs line, function-key bar. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "report/info.h"
#include "views.h"

/* ---- header: what model this is ------------------------------------------ */

static uint64_t source_bytes(const pj_model *m)
{
	uint64_t b = 0;
	for (size_t i = 0; i < m->cat.n_files; i++)
		b += m->cat.files[i].size;
	return b;
}

static bool is_moe(const pj_arch *ar)
{
	return ar->n_experts > 1;
}

/* Already quantized tensors in the source, and what the plan requantizes:
 * counted again only when the plan changed, and only for a source that
 * has quantized tensors (a pass over every entry after each edit costs a
 * 46k-tensor tree more than the rest of the frame). */
static const pj_requant *requant_of(pj_app *a)
{
	static pj_requant rq;
	static const pj_session *s;
	static uint64_t gen;
	const uint64_t generation = pj_session_plan_generation(a->s);
	if (s != a->s) {
		pj_requant_count(&a->m->cat, NULL, &rq);
		s = a->s;
		gen = generation - 1;
	}
	if (rq.n_quantized && gen != generation) {
		pj_requant_count(&a->m->cat, pj_session_plan(a->s), &rq);
		gen = generation;
	}
	return &rq;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b && b[1] ? b + 1 : path;
}

/* --imatrix: the file, its chunks and dataset, and what it does not cover
 * (those matrices are measured and exported unweighted); worked out once
 * per session, over every quantizable matrix.  *gaps: something is not
 * covered.  NULL without an imatrix. */
static const char *imatrix_note(pj_app *a, bool *gaps)
{
	static char note[512];
	static bool g;
	static const pj_session *s;
	const pj_imatrix *im = pj_session_imatrix(a->s);
	if (!im)
		return NULL;
	if (s != a->s) {
		pj_imatrix_coverage c;
		pj_plan_imatrix_coverage(pj_session_plan(a->s), im, true, &c);
		size_t off = (size_t)snprintf(note, sizeof note, "imatrix %s", base_name(im->path));
		if (im->chunk_count)
			off += (size_t)snprintf(note + off, sizeof note - off, ", %u chunks", im->chunk_count);
		if (im->n_datasets && off < sizeof note)
			off += (size_t)snprintf(note + off, sizeof note - off, " of %s", base_name(im->datasets[0]));
		if (off < sizeof note)
			off += (size_t)snprintf(note + off, sizeof note - off, ": data for %zu of %zu matrices", c.n_found,
			                        c.n_wanted);
		if (c.n_missing && off < sizeof note)
			off += (size_t)snprintf(note + off, sizeof note - off, "; unweighted (no data): %s%s", c.missing[0],
			                        c.n_missing > 1 ? " and more" : "");
		if (c.n_zero && off < sizeof note)
			snprintf(note + off, sizeof note - off, "; %zu experts saw no input (uniform weights), e.g. %s #%lld",
			         c.n_zero, c.zero[0].tensor, (long long)c.zero[0].expert);
		g = c.n_missing || c.n_zero;
		pj_imatrix_coverage_free(&c);
		s = a->s;
	}
	*gaps = g;
	return note;
}

static void header_draw(pj_app *a, pj_rect r)
{
	const pj_model *m = a->m;
	const pj_arch *ar = &m->arch;
	char line[768], sum[160], b1[32], b2[32], b3[32], b4[32];
	size_t off;
	const pj_requant *rq = NULL;

	/* 1: what the model is. */
	pj_crt_fill(r.y, r.x, r.w, PJ_C_HEADER);
	pj_arch_summary(ar, sum, sizeof sum);
	off = (size_t)snprintf(line, sizeof line, "%s  %s  %s  %s", m->name ? m->name : "?",
	                       m->format == PJ_FMT_GGUF ? "GGUF" : "HF",
	                       ar->arch[0] ? ar->arch : "unknown architecture", sum);
	off += (size_t)snprintf(line + off, sizeof line - off, " | family %s | %s params",
	                        pj_family_name(ar->family), pj_fmt_count(ar->params_total, b1, sizeof b1));
	if (ar->params_active && ar->params_active != ar->params_total)
		off += (size_t)snprintf(line + off, sizeof line - off, ", %s active",
		                        pj_fmt_count(ar->params_active, b2, sizeof b2));
	if (ar->traits) {
		off += (size_t)snprintf(line + off, sizeof line - off, " | traits:");
		for (unsigned i = 0; i < PJ_TRAIT_COUNT && off < sizeof line; i++)
			if (ar->traits & (1u << i))
				off += (size_t)snprintf(line + off, sizeof line - off, " %s", pj_trait_name(i));
	}
	pj_crt_put(r.y, r.x, r.w, PJ_C_HEADER, true, line);
	if (r.h < 2)
		return;

	/* 2: the plan's totals. */
	if (!a->s) {
		snprintf(line, sizeof line, "source %s | no plan: %s", pj_fmt_bytes(source_bytes(m), b1, sizeof b1),
		         a->s_error);
		pj_crt_put(r.y + 1, r.x, r.w, PJ_C_HEADER_2, true, line);
	} else {
		pj_stotals t;
		pj_session_totals(a->s, &t);
		const char *base = pj_session_base(a->s, NULL);
		rq = requant_of(a);
		char loss[64], kv[64];
		if (isnan(t.loss_checked))
			snprintf(loss, sizeof loss, "loss %s%s", t.n_estimated ? "~" : "", pj_fmt_num(t.loss, 8, b3, sizeof b3));
		else
			snprintf(loss, sizeof loss, "loss %s (checked %s)", pj_fmt_num(t.loss, 8, b3, sizeof b3),
			         pj_fmt_num(t.loss_checked, 8, b4, sizeof b4));
		snprintf(kv, sizeof kv, "KV %lldk %s %s", (long long)(t.kv_ctx / 1024), pj_dtype_name(t.kv_type),
		         pj_fmt_bytes(t.kv_bytes, b4, sizeof b4));
		off = (size_t)snprintf(line, sizeof line, "%s%s %s %s %s (%.2f bpw, %.0f%%) | %s | %s",
		                       t.dirty ? "[+] " : "", base ? base : "?",
		                       pj_fmt_bytes(t.src_bytes, b1, sizeof b1), pj_crt_glyph(PJ_G_ARROW),
		                       pj_fmt_bytes(t.out_bytes, b2, sizeof b2), t.bpw, 100 * t.ratio, loss, kv);
		if (t.n_tagged)
			off += (size_t)snprintf(line + off, sizeof line - off, " | %zu tagged", t.n_tagged);
		if (pj_session_imatrix(a->s))
			off += (size_t)snprintf(line + off, sizeof line - off, " | imatrix %s",
			                        base_name(pj_session_imatrix(a->s)->path));
		/* The exact figure last: it is what scripts compare. */
		snprintf(line + off, sizeof line - off, " | out %llu B", (unsigned long long)t.out_bytes);
		pj_crt_put(r.y + 1, r.x, r.w, t.dirty ? PJ_C_WARN : PJ_C_HEADER_2, true, line);
	}
	if (r.h < 3)
		return;

	/* 3: what the user should know. */
	bool im_gaps = false;
	const char *im_note = a->s ? imatrix_note(a, &im_gaps) : NULL;
	if (m->n_warnings) {
		snprintf(line, sizeof line, "warning: %s%s", m->warnings[0], m->n_warnings > 1 ? " (and more)" : "");
		pj_crt_put(r.y + 2, r.x, r.w, PJ_C_WARN, true, line);
	} else if (rq && rq->n_quantized) {
		/* a quantized GGUF as the source: say what the plan does to it */
		char w[400];
		snprintf(line, sizeof line, "%s: %s", rq->n_requant ? "warning" : "note",
		         pj_requant_warning(rq, w, sizeof w));
		pj_crt_put(r.y + 2, r.x, r.w, rq->n_requant ? PJ_C_WARN : PJ_C_DIM, true, line);
	} else if (im_note) {
		pj_crt_put(r.y + 2, r.x, r.w, im_gaps ? PJ_C_WARN : PJ_C_DIM, true, im_note);
	} else if (is_moe(ar)) {
		pj_crt_put(r.y + 2, r.x, r.w, PJ_C_DIM, true,
		           "MoE: a GGUF stores each layer's experts as one stacked tensor (ffn_*_exps): on export its "
		           "type applies to all of that layer's experts");
	} else if (a->s) {
		const char *why;
		pj_session_base(a->s, &why);
		snprintf(line, sizeof line, "%s", why);
		pj_crt_put(r.y + 2, r.x, r.w, PJ_C_DIM, true, line);
	}
}

const pj_view pj_header_view = { "header", header_draw, NULL, NULL };

/* ---- jobs pane: every background job, one line each ------------------------ */

/* "name [#####-----] detail" */
static void job_line(int y, pj_rect r, pj_color c, const char *name, double frac, const char *right)
{
	char left[48];
	pj_crt_fill(y, r.x, r.w, PJ_C_NORMAL);
	snprintf(left, sizeof left, "%s ", name);
	int x = r.x + pj_crt_put(y, r.x, r.w, c, false, left);
	int bar = r.w - (x - r.x) - pj_crt_strwidth(right) - 2;
	if (bar > 30)
		bar = 30;
	if (frac >= 0 && bar >= 5) {
		int done = (int)(frac * bar + 0.5);
		pj_crt_put(y, x, 1, PJ_C_NORMAL, false, "[");
		for (int i = 0; i < bar; i++)
			pj_crt_put(y, x + 1 + i, 1, i < done ? PJ_C_BAR_DONE : PJ_C_BAR_TODO, false, i < done ? "#" : "-");
		pj_crt_put(y, x + 1 + bar, 1, PJ_C_NORMAL, false, "]");
		x += bar + 3;
	}
	pj_crt_put(y, x, r.w - (x - r.x), c, false, right);
}

static bool stats_line(pj_app *a, int y, pj_rect r)
{
	char right[192], b1[32], b2[32];
	pj_progress_snap s;
	if (!a->stats_job) {
		job_line(y, r, PJ_C_DIM, "stats:", -1, "idle (s: start)");
		return false;
	}
	pj_progress_snapshot(pj_stats_job_progress(a->stats_job), &s);
	double t = (a->stats_done ? a->stats_t1 : pj_now()) - a->stats_t0;
	double rate = t > 0 ? (double)s.units_done / t : 0;
	if (a->stats_done && !s.cancelled) {
		snprintf(right, sizeof right, "done, %llu tensors, %s in %.2f s (%s/s)",
		         (unsigned long long)s.items_done, pj_fmt_bytes(s.units_done, b1, sizeof b1), t,
		         pj_fmt_bytes((uint64_t)rate, b2, sizeof b2));
		job_line(y, r, PJ_C_NORMAL, "stats:", -1, right);
		return false;
	}
	if (a->stats_done) {
		snprintf(right, sizeof right, "cancelled at %llu/%llu tensors; partial results marked ~ (s: restart)",
		         (unsigned long long)s.items_done, (unsigned long long)s.items_total);
		job_line(y, r, PJ_C_WARN, "stats:", -1, right);
		return false;
	}
	double frac = s.units_total ? (double)s.units_done / (double)s.units_total : 0;
	double eta = rate > 0 ? (double)(s.units_total - s.units_done) / rate : -1;
	snprintf(right, sizeof right, "%llu/%llu tensors  %s/s  ETA %s  c: cancel%s",
	         (unsigned long long)s.items_done, (unsigned long long)s.items_total,
	         pj_fmt_bytes((uint64_t)rate, b1, sizeof b1), pj_fmt_duration(eta, b2, sizeof b2),
	         s.cancelled ? " (cancelling)" : "");
	job_line(y, r, PJ_C_NORMAL, "stats", frac, right);
	return true;
}

static bool measure_line(pj_app *a, int y, pj_rect r)
{
	char right[192], b1[32];
	const pj_progress *pr = a->s ? pj_session_measure_progress(a->s) : NULL;
	if (!pr) {
		job_line(y, r, PJ_C_DIM, "measure:", -1, "idle");
		return false;
	}
	pj_progress_snap s;
	pj_progress_snapshot(pr, &s);
	double t = pj_now() - a->measure_t0;
	double rate = t > 0 ? (double)s.items_done / t : 0;
	if (s.finished || (s.cancelled && s.items_done >= s.items_total)) {
		pj_stotals tt;
		pj_session_totals(a->s, &tt);
		snprintf(right, sizeof right, "%s, %llu/%llu tensors measured", s.cancelled ? "cancelled" : "done",
		         (unsigned long long)s.items_done, (unsigned long long)s.items_total);
		job_line(y, r, s.cancelled ? PJ_C_WARN : PJ_C_NORMAL, "measure:", -1, right);
		return false;
	}
	double frac = s.units_total ? (double)s.units_done / (double)s.units_total : 0;
	double eta = rate > 0 && frac > 0 ? t / frac - t : -1;
	snprintf(right, sizeof right, "%llu/%llu tensors  %.1f/s  ETA %s  c: cancel%s",
	         (unsigned long long)s.items_done, (unsigned long long)s.items_total, rate,
	         pj_fmt_duration(eta, b1, sizeof b1), s.cancelled ? " (cancelling)" : "");
	job_line(y, r, PJ_C_NORMAL, "measure", frac, right);
	return true;
}

static bool solve_line(pj_app *a, int y, pj_rect r)
{
	char right[192], b1[32];
	pj_progress_snap s;
	pj_progress_snapshot(pj_solve_job_progress(a->solve), &s);
	double t = pj_now() - a->solve_t0;
	double frac = s.units_total ? (double)s.units_done / (double)s.units_total
	              : s.items_total ? (double)s.items_done / (double)s.items_total : 0;
	double eta = frac > 0 ? t / frac - t : -1;
	snprintf(right, sizeof right, "%s  %.0f%%  %.1f s  ETA %s  c: cancel", a->solve_what, 100 * frac, t,
	         pj_fmt_duration(eta, b1, sizeof b1));
	job_line(y, r, PJ_C_NORMAL, "solve", frac, right);
	return true;
}

static bool export_line(pj_app *a, int y, pj_rect r)
{
	char right[400], b1[32];
	const pj_export *e = &a->exp;
	const char *base = e->out ? strrchr(e->out, '/') : NULL;
	base = base ? base + 1 : e->out ? e->out : "?";
	if (e->finished) {
		if (e->ok)
			snprintf(right, sizeof right, "done: %s in %.1f s", base, e->t1 - e->t0);
		else if (e->cancelled)
			snprintf(right, sizeof right, "cancelled: no file written (%s)", base);
		else
			snprintf(right, sizeof right, "FAILED: %s", e->last);
		job_line(y, r, e->ok ? PJ_C_NORMAL : PJ_C_WARN, "export:", -1, right);
		return false;
	}
	double t = pj_now() - e->t0, frac = e->pct / 100.0;
	double eta = frac > 0 ? t / frac - t : -1;
	snprintf(right, sizeof right, "%s  %zu/%zu tensors  %d%%  ETA %s  c: cancel", base, e->i, e->n, e->pct,
	         pj_fmt_duration(eta, b1, sizeof b1));
	job_line(y, r, PJ_C_NORMAL, "export", frac, right);
	return true;
}

static bool check_line(pj_app *a, int y, pj_rect r)
{
	char right[400], b1[32];
	pj_check_job *j = &a->check;
	/* "done" once the loop took the result in (the header shows it then) */
	if (!j->started) {
		if (j->st == PJ_OK && j->r.count)
			snprintf(right, sizeof right, "done in %.1f s: KLD %.4g  PPL %.4g -> %.4g  top-1 %.1f%%  (%zu chunks x %zu)",
			         j->t1 - j->t0, j->r.kld_mean, j->r.ppl_base, j->r.ppl_plan, 100 * j->r.top1_agreement,
			         j->r.n_chunks, j->r.n_ctx);
		else
			snprintf(right, sizeof right, "%.380s", j->err[0] ? j->err : "-");
		job_line(y, r, j->st == PJ_OK ? PJ_C_NORMAL : PJ_C_WARN, "check:", -1, right);
		return false;
	}
	pj_progress_snap s;
	pj_progress_snapshot(&j->progress, &s);
	double t = pj_now() - j->t0;
	double frac = s.items_total ? (double)s.items_done / (double)s.items_total : 0;
	double eta = frac > 0 ? t / frac - t : -1;
	snprintf(right, sizeof right, "%llu/%llu stages  %.1f s  ETA %s  c: cancel%s", (unsigned long long)s.items_done,
	         (unsigned long long)s.items_total, t, pj_fmt_duration(eta, b1, sizeof b1),
	         s.cancelled ? " (cancelling)" : "");
	job_line(y, r, PJ_C_NORMAL, "check", frac, right);
	return true;
}

static void jobs_draw(pj_app *a, pj_rect r)
{
	int y = r.y, end = r.y + r.h;
	if (r.h == 1) {
		/* One line: the job most worth watching. */
		if (pj_export_running(&a->exp))
			export_line(a, y, r);
		else if (pj_check_job_running(&a->check))
			check_line(a, y, r);
		else if (a->solve)
			solve_line(a, y, r);
		else if (pj_app_stats_running(a) || !a->s)
			stats_line(a, y, r);
		else
			measure_line(a, y, r);
		return;
	}
	if (y < end)
		stats_line(a, y++, r);
	if (a->s && y < end)
		measure_line(a, y++, r);
	if (a->solve && y < end)
		solve_line(a, y++, r);
	if (a->exp_seen && y < end)
		export_line(a, y++, r);
	if (a->check_seen && y < end)
		check_line(a, y++, r);
}

const pj_view pj_jobs_view = { "jobs", jobs_draw, NULL, NULL };

/* ---- function-key bar, generated from the key table ----------------------- */

static void fbar_draw(pj_app *a, pj_rect r)
{
	/* In function-key order, like the keyboard.  When they do not all fit,
	 * the ones before Quit go from the right: Help and Quit always stay. */
	pj_action list[PJ_FBAR_MAX];
	int n = 0, width = 0;
	for (int fk = PJ_KEY_F1; fk <= PJ_KEY_F12; fk++)
		for (int act = 1; act < PJ_ACT_COUNT && n < PJ_FBAR_MAX; act++) {
			const pj_action_info *ai = pj_action_info_of((pj_action)act);
			if (ai->fbar && pj_action_fkey((pj_action)act) == fk)
				list[n++] = (pj_action)act;
		}
	for (int i = 0; i < n; i++) {
		char kn[8];
		pj_key_name(pj_action_fkey(list[i]), kn, sizeof kn);
		width += pj_crt_strwidth(kn) + pj_crt_strwidth(pj_action_info_of(list[i])->fbar) + 2;
	}
	while (width > r.w && n > 2) {
		int drop = list[n - 1] == PJ_ACT_QUIT ? n - 2 : n - 1;
		char kn[8];
		pj_key_name(pj_action_fkey(list[drop]), kn, sizeof kn);
		width -= pj_crt_strwidth(kn) + pj_crt_strwidth(pj_action_info_of(list[drop])->fbar) + 2;
		memmove(&list[drop], &list[drop + 1], (size_t)(n - drop - 1) * sizeof list[0]);
		n--;
	}
	int x = r.x;
	a->n_fbar_hit = 0;
	pj_crt_fill(r.y, r.x, r.w, PJ_C_FLABEL);
	for (int i = 0; i < n; i++) {
		const pj_action_info *ai = pj_action_info_of(list[i]);
		char kn[8];
		pj_key_name(pj_action_fkey(list[i]), kn, sizeof kn);
		int need = pj_crt_strwidth(kn) + pj_crt_strwidth(ai->fbar) + 1;
		if (x + need > r.x + r.w)
			return;
		int x0 = x;
		x += pj_crt_put(r.y, x, -1, PJ_C_FKEY, false, kn);
		x += pj_crt_printf(r.y, x, -1, PJ_C_FLABEL, false, "%s ", ai->fbar);
		if (a->n_fbar_hit < PJ_FBAR_MAX) {
			a->fbar_hit[a->n_fbar_hit].x0 = x0;
			a->fbar_hit[a->n_fbar_hit].x1 = x;
			a->fbar_hit[a->n_fbar_hit].act = list[i];
			a->n_fbar_hit++;
		}
		x += 1;
	}
}

static int fbar_mouse(pj_app *a, pj_rect r, const pj_mouse *ev)
{
	(void)r;
	if (ev->kind != PJ_MOUSE_CLICK)
		return PJ_R_IGNORED;
	for (int i = 0; i < a->n_fbar_hit; i++)
		if (ev->x >= a->fbar_hit[i].x0 && ev->x < a->fbar_hit[i].x1)
			return pj_app_dispatch(a, a->fbar_hit[i].act);
	return PJ_R_IGNORED;
}

const pj_view pj_fbar_view = { "fbar", fbar_draw, NULL, fbar_mouse };
