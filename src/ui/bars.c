/* bars.c - the one-line views: header, jobs line, function-key bar. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "views.h"

/* ---- header: what model this is ------------------------------------------ */

static uint64_t source_bytes(const pj_model *m)
{
	uint64_t b = 0;
	for (size_t i = 0; i < m->cat.n_files; i++)
		b += m->cat.files[i].size;
	return b;
}

static void header_draw(pj_app *a, pj_rect r)
{
	const pj_model *m = a->m;
	const pj_arch *ar = &m->arch;
	char line[512], sum[160], b1[32], b2[32], b3[32];
	size_t off;

	pj_crt_fill(r.y, r.x, r.w, PJ_C_HEADER);
	off = (size_t)snprintf(line, sizeof line, "%s  %s  %s", m->name ? m->name : "?",
	                       m->format == PJ_FMT_GGUF ? "GGUF" : "HF safetensors",
	                       ar->arch[0] ? ar->arch : "unknown architecture");
	if (ar->traits) {
		off += (size_t)snprintf(line + off, sizeof line - off, "  traits:");
		for (unsigned i = 0; i < PJ_TRAIT_COUNT && off < sizeof line; i++)
			if (ar->traits & (1u << i))
				off += (size_t)snprintf(line + off, sizeof line - off, " %s", pj_trait_name(i));
	}
	pj_crt_put(r.y, r.x, r.w, PJ_C_HEADER, true, line);

	pj_arch_summary(ar, sum, sizeof sum);
	off = (size_t)snprintf(line, sizeof line, "%s | family %s | %s params", sum, pj_family_name(ar->family),
	                       pj_fmt_count(ar->params_total, b1, sizeof b1));
	if (ar->params_active && ar->params_active != ar->params_total)
		off += (size_t)snprintf(line + off, sizeof line - off, ", %s active",
		                        pj_fmt_count(ar->params_active, b2, sizeof b2));
	snprintf(line + off, sizeof line - off, " | %s", pj_fmt_bytes(source_bytes(m), b3, sizeof b3));
	pj_crt_put(r.y + 1, r.x, r.w, PJ_C_HEADER_2, true, line);
	if (r.h > 2 && m->n_warnings) {
		snprintf(line, sizeof line, "warning: %s%s", m->warnings[0],
		         m->n_warnings > 1 ? " (and more)" : "");
		pj_crt_put(r.y + 2, r.x, r.w, PJ_C_WARN, true, line);
	}
}

const pj_view pj_header_view = { "header", header_draw, NULL, NULL };

/* ---- jobs line: the statistics job's progress ----------------------------- */

static void jobs_draw(pj_app *a, pj_rect r)
{
	char left[96], right[160], b1[32], b2[32], b3[32];
	pj_progress_snap s;

	pj_crt_fill(r.y, r.x, r.w, PJ_C_NORMAL);
	if (!a->stats_job) {
		pj_crt_put(r.y, r.x, r.w, PJ_C_DIM, false, "stats: idle (s: start)");
		return;
	}
	pj_progress_snapshot(pj_stats_job_progress(a->stats_job), &s);
	double t = (a->stats_done ? a->stats_t1 : pj_now()) - a->stats_t0;
	double rate = t > 0 ? (double)s.units_done / t : 0;

	if (a->stats_done && !s.cancelled) {
		snprintf(right, sizeof right, "stats: done, %llu tensors, %s in %.2f s (%s/s)",
		         (unsigned long long)s.items_done, pj_fmt_bytes(s.units_done, b1, sizeof b1), t,
		         pj_fmt_bytes((uint64_t)rate, b2, sizeof b2));
		pj_crt_put(r.y, r.x, r.w, PJ_C_NORMAL, false, right);
		return;
	}
	if (a->stats_done) {
		snprintf(right, sizeof right, "stats: cancelled at %llu/%llu tensors; partial results marked ~ "
		         "(s: restart)", (unsigned long long)s.items_done, (unsigned long long)s.items_total);
		pj_crt_put(r.y, r.x, r.w, PJ_C_WARN, false, right);
		return;
	}

	/* Running: "stats [#####-----] 12/39  85.0 MiB/s  ETA 0:03  c: cancel" */
	double frac = s.units_total ? (double)s.units_done / (double)s.units_total : 0;
	double eta = rate > 0 ? (double)(s.units_total - s.units_done) / rate : -1;
	snprintf(left, sizeof left, "stats%s ", s.cancelled ? " (cancelling)" : "");
	snprintf(right, sizeof right, " %llu/%llu tensors  %s/s  ETA %s  c: cancel",
	         (unsigned long long)s.items_done, (unsigned long long)s.items_total,
	         pj_fmt_bytes((uint64_t)rate, b1, sizeof b1), pj_fmt_duration(eta, b2, sizeof b2));
	(void)b3;
	int x = r.x + pj_crt_put(r.y, r.x, r.w, PJ_C_NORMAL, false, left);
	int bar = r.w - (x - r.x) - pj_crt_strwidth(right) - 2;
	if (bar > 40)
		bar = 40;
	if (bar >= 5) {
		int done = (int)(frac * bar + 0.5);
		pj_crt_put(r.y, x, 1, PJ_C_NORMAL, false, "[");
		for (int i = 0; i < bar; i++)
			pj_crt_put(r.y, x + 1 + i, 1, i < done ? PJ_C_BAR_DONE : PJ_C_BAR_TODO, false,
			           i < done ? "#" : "-");
		pj_crt_put(r.y, x + 1 + bar, 1, PJ_C_NORMAL, false, "]");
		x += bar + 2;
	}
	pj_crt_put(r.y, x, r.w - (x - r.x), PJ_C_NORMAL, false, right);
}

const pj_view pj_jobs_view = { "jobs", jobs_draw, NULL, NULL };

/* ---- function-key bar, generated from the key table ----------------------- */

static void fbar_draw(pj_app *a, pj_rect r)
{
	int x = r.x;
	a->n_fbar_hit = 0;
	pj_crt_fill(r.y, r.x, r.w, PJ_C_FLABEL);
	/* In function-key order, like the keyboard. */
	for (int fk = PJ_KEY_F1; fk <= PJ_KEY_F12; fk++) {
		for (int act = 1; act < PJ_ACT_COUNT; act++) {
			const pj_action_info *ai = pj_action_info_of((pj_action)act);
			if (!ai->fbar || pj_action_fkey((pj_action)act) != fk)
				continue;
			char kn[8];
			pj_key_name(fk, kn, sizeof kn);
			int need = pj_crt_strwidth(kn) + pj_crt_strwidth(ai->fbar) + 1;
			if (x + need > r.x + r.w)
				return;
			int x0 = x;
			x += pj_crt_put(r.y, x, -1, PJ_C_FKEY, false, kn);
			x += pj_crt_printf(r.y, x, -1, PJ_C_FLABEL, false, "%s ", ai->fbar);
			if (a->n_fbar_hit < PJ_FBAR_MAX) {
				a->fbar_hit[a->n_fbar_hit].x0 = x0;
				a->fbar_hit[a->n_fbar_hit].x1 = x;
				a->fbar_hit[a->n_fbar_hit].act = (pj_action)act;
				a->n_fbar_hit++;
			}
			x += 1;
		}
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
