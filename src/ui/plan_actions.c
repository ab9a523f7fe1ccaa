/* plan_actions.c - the planner's actions: editing the plan through the
 * session (quant/session.h), their dialogs, and the background work the
 * plan owns (measurement, solver, export, autosave).
 *
 * Every edit goes through the session, one undoable step each; the screen
 * reads its totals back on the next frame, so the header follows every
 * change at once.  An edit applies to the tagged tensors when there are
 * any, else to the selected row (a tensor, or every tensor under a layer,
 * group or expert row: tagged for the call, then untagged, so it is still
 * one step). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dialog.h"
#include "fmt.h"
#include "plan_gguf.h"
#include "quant/plan_json.h"
#include "quant/presets.h"
#include "quant/qtypes.h"
#include "views.h"

/* Autosave this long after a change, and at most this often, in seconds. */
#define AUTOSAVE_DELAY 0.5
/* Measurement results taken in per loop turn. */
#define POLL_MAX 256
/* Messages fade after this long. */
#define MSG_SECONDS 10.0

static bool need_session(pj_app *a)
{
	if (a->s)
		return true;
	pj_app_msg(a, true, "planning unavailable: %s", a->s_error);
	return false;
}

static bool is_leaf(const pj_row *r)
{
	return r->kind == PJ_ROW_TENSOR || r->kind == PJ_ROW_SLICE;
}

static void changed(pj_app *a)
{
	a->last_change = pj_now();
	if (a->filter == PJ_FILTER_TYPE || a->sort_col >= 0) {
		uint32_t row = pj_app_sel_row(a);
		pj_app_refresh_rows(a);
		for (size_t v = 0; v < a->tree.n_vis; v++)
			if (a->tree.vis[v] == row) {
				pj_app_select(a, v);
				break;
			}
	}
}

/* "+1.25 MiB" / "-300 KiB" */
static const char *fmt_delta(int64_t d, char *buf, size_t len)
{
	char b[24];
	snprintf(buf, len, "%s%s", d < 0 ? "-" : "+", pj_fmt_bytes((uint64_t)(d < 0 ? -d : d), b, sizeof b));
	return buf;
}

/* The message after an edit: what, and what it did to the total. */
static void report(pj_app *a, const char *what, uint64_t before)
{
	pj_stotals t;
	char b1[24], b2[24];
	pj_session_totals(a->s, &t);
	pj_app_msg(a, false, "%s: %s, total %s (%.2f bpw)", what, fmt_delta((int64_t)t.out_bytes - (int64_t)before, b1, sizeof b1),
	           pj_fmt_bytes(t.out_bytes, b2, sizeof b2), t.bpw);
	changed(a);
}

static uint64_t out_bytes(pj_app *a)
{
	pj_stotals t;
	pj_session_totals(a->s, &t);
	return t.out_bytes;
}

/* ---- targets: the tagged tensors, else the selected row ---------------------- */

typedef struct targets {
	bool single;        /* one tensor, nothing tagged: the per-tensor call */
	size_t tensor;
	bool temp;          /* the row's tensors were tagged for this call */
	size_t n;
} targets;

static void targets_begin(pj_app *a, targets *tg)
{
	memset(tg, 0, sizeof *tg);
	tg->n = pj_session_n_tagged(a->s);
	if (tg->n)
		return;
	uint32_t ri = pj_app_sel_row(a);
	const pj_row *r = &a->tree.rows[ri];
	if (is_leaf(r)) {
		tg->single = true;
		tg->tensor = (size_t)r->tensor;
		tg->n = 1;
		return;
	}
	for (uint32_t i = ri; i < r->end; i++)
		if (is_leaf(&a->tree.rows[i]))
			pj_session_tag(a->s, (size_t)a->tree.rows[i].tensor, true);
	tg->temp = true;
	tg->n = pj_session_n_tagged(a->s);
}

/* The rows follow by themselves (pj_app_row_plan refolds the tensors the
 * session stamps as changed), so only the temporary tags go. */
static void targets_end(pj_app *a, targets *tg)
{
	if (tg->temp)
		pj_session_tag_clear(a->s);
}

static const char *targets_name(pj_app *a, const targets *tg, char *buf, size_t len)
{
	if (tg->single)
		snprintf(buf, len, "%s", a->m->cat.t[tg->tensor].name);
	else if (tg->temp) {
		char l[128];
		pj_tree_label(&a->tree, a->m, pj_app_sel_row(a), l, sizeof l);
		snprintf(buf, len, "%s (%zu tensors)", l, tg->n);
	} else
		snprintf(buf, len, "%zu tagged tensors", tg->n);
	return buf;
}

/* ---- type: step, pick, pin ------------------------------------------------------ */

static int step(pj_app *a, int dir)
{
	targets tg;
	pj_error err;
	char what[200];
	uint64_t before = out_bytes(a);
	targets_begin(a, &tg);
	pj_status st = tg.single ? pj_session_step(a->s, tg.tensor, dir, &err) : pj_session_step_sel(a->s, dir, &err);
	targets_name(a, &tg, what, sizeof what);
	targets_end(a, &tg);
	if (st != PJ_OK) {
		pj_app_msg(a, true, "%s", err.msg);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	}
	char m[260];
	if (tg.single)
		snprintf(m, sizeof m, "%s %s", what, pj_dtype_name(pj_session_entry(a->s, tg.tensor)->type));
	else
		snprintf(m, sizeof m, "%s one step %s", what, dir > 0 ? "up" : "down");
	report(a, m, before);
	return PJ_R_HANDLED | PJ_R_REDRAW;
}

static int type_chosen(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)text;
	if (!ok)
		return 0;
	targets tg;
	pj_error err;
	char what[200];
	uint64_t before = out_bytes(a);
	targets_begin(a, &tg);
	pj_status st;
	if (id < 0)
		st = tg.single ? pj_session_revert(a->s, tg.tensor, &err) : pj_session_revert_sel(a->s, &err);
	else
		st = tg.single ? pj_session_set_type(a->s, tg.tensor, (pj_dtype)id, &err)
		               : pj_session_set_type_sel(a->s, (pj_dtype)id, &err);
	targets_name(a, &tg, what, sizeof what);
	targets_end(a, &tg);
	if (st != PJ_OK) {
		pj_app_msg(a, true, "%s", err.msg);
		return 0;
	}
	char m[260];
	snprintf(m, sizeof m, "%s %s", what, id < 0 ? "reverted to the preset and rules" : pj_dtype_name((pj_dtype)id));
	report(a, m, before);
	return 0;
}

/* The type menu: the ladder first (with each candidate's bytes and error
 * for one tensor), then every other type the kernels write. */
static void type_menu(pj_app *a, const char *title, pj_dlg_fn done, bool with_revert)
{
	pj_dialog *d = pj_dlg_menu(a, title, done);
	const pj_dtype *lad;
	size_t nl = pj_ladder(pj_session_has_imatrix(a->s), &lad);
	uint32_t ri = pj_app_sel_row(a);
	const pj_row *r = &a->tree.rows[ri];
	bool one = !pj_session_n_tagged(a->s) && is_leaf(r);
	pj_scand c[24];
	size_t nc = one ? pj_session_candidates(a->s, (size_t)r->tensor, c, 24) : 0;
	if (nc > 24)
		nc = 24;
	int cur = one ? (int)pj_session_entry(a->s, (size_t)r->tensor)->type : -1;
	for (size_t i = 0; i < nl; i++) {
		char note[160] = "", b1[24], b2[24];
		bool off = false;   /* the export would refuse it: no importance data */
		for (size_t k = 0; k < nc; k++)
			if (c[k].type == lad[i]) {
				off = c[k].unweightable;
				if (off)
					snprintf(note, sizeof note, "no importance data for this tensor");
				else
					snprintf(note, sizeof note, "%5.2f bpw %9s  err %s%s", c[k].bpw,
					         pj_fmt_bytes(c[k].bytes, b1, sizeof b1),
					         isnan(c[k].rel_err) ? "-" : pj_fmt_num(c[k].rel_err, 8, b2, sizeof b2),
					         c[k].planned ? "  (now)" : "");
				break;
			}
		pj_dlg_add(d, (int)lad[i], pj_dtype_name(lad[i]), "%s", note)->disabled = off;
	}
	size_t nq;
	const pj_qtype *q = pj_qtype_all(&nq);
	for (size_t i = 0; i < nq; i++) {
		bool on_ladder = false;
		for (size_t k = 0; k < nl; k++)
			on_ladder |= lad[k] == q[i].type;
		if (!on_ladder)
			pj_dlg_add(d, (int)q[i].type, q[i].name, "%s", q[i].requires_imatrix ? "needs an imatrix" : "");
	}
	if (with_revert)
		pj_dlg_add(d, -1, "revert", "drop the manual type: back to the preset and rules");
	if (cur >= 0)
		pj_dlg_select(d, cur);
	if (one)
		pj_dlg_line(d, "%s", a->m->cat.t[r->tensor].name);
	else {
		targets tg;
		char what[200];
		targets_begin(a, &tg);
		targets_name(a, &tg, what, sizeof what);
		targets_end(a, &tg);
		pj_dlg_line(d, "for %s", what);
	}
}

static int pin(pj_app *a)
{
	targets tg;
	pj_error err;
	char what[200];
	targets_begin(a, &tg);
	bool on;
	pj_status st;
	if (tg.single) {
		pj_srow sr;
		pj_session_row(a->s, tg.tensor, &sr);
		on = !sr.pinned;
		st = pj_session_pin(a->s, tg.tensor, on, &err);
	} else {
		/* Pin when any is unpinned, else unpin all. */
		const pj_row_plan *p = pj_app_row_plan(a, pj_app_sel_row(a));
		size_t ids[1];
		size_t n = pj_session_tagged_list(a->s, ids, 0);
		on = false;
		size_t *all = pj_xcalloc(n ? n : 1, sizeof *all);
		pj_session_tagged_list(a->s, all, n);
		for (size_t i = 0; i < n && !on; i++) {
			pj_srow sr;
			pj_session_row(a->s, all[i], &sr);
			on = sr.quantizable && !sr.pinned;
		}
		free(all);
		(void)p;
		st = pj_session_pin_sel(a->s, on, &err);
	}
	targets_name(a, &tg, what, sizeof what);
	targets_end(a, &tg);
	if (st != PJ_OK)
		pj_app_msg(a, true, "%s", err.msg);
	else {
		pj_app_msg(a, false, "%s %s", what, on ? "pinned" : "unpinned");
		changed(a);
	}
	return PJ_R_HANDLED | PJ_R_REDRAW;
}

/* ---- tags ------------------------------------------------------------------------- */

static int tag_row(pj_app *a)
{
	uint32_t ri = pj_app_sel_row(a);
	const pj_row *r = &a->tree.rows[ri];
	const pj_row_plan *p = pj_app_row_plan(a, ri);
	bool on = !(p && p->all_tagged);
	for (uint32_t i = ri; i < r->end; i++)
		if (is_leaf(&a->tree.rows[i]))
			pj_session_tag(a->s, (size_t)a->tree.rows[i].tensor, on);
	pj_app_select(a, a->sel + 1);
	pj_app_msg(a, false, "%zu tagged", pj_session_n_tagged(a->s));
	changed(a);
	return PJ_R_HANDLED | PJ_R_REDRAW;
}

static int tag_regex_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)id;
	if (!ok || !*text)
		return 0;
	size_t n = 0;
	pj_error err;
	if (pj_session_tag_regex(a->s, text, PJ_TAG_ADD, &n, &err) != PJ_OK)
		pj_app_msg(a, true, "%s", err.msg);
	else
		pj_app_msg(a, false, "/%s/: %zu tensors match, %zu tagged", text, n, pj_session_n_tagged(a->s));
	changed(a);
	return 0;
}

static int tag_group(pj_app *a, pj_action act)
{
	uint32_t ri = pj_app_sel_row(a);
	const pj_row *r = &a->tree.rows[ri];
	size_t n = 0;
	switch (act) {
	case PJ_ACT_TAG_LAYER:
		if (r->layer < 0) {
			pj_app_msg(a, true, "this row is not in a layer");
			return PJ_R_HANDLED | PJ_R_REDRAW;
		}
		n = pj_session_tag_layer(a->s, r->comp, r->layer, PJ_TAG_ADD);
		pj_app_msg(a, false, "layer %d: %zu tensors, %zu tagged", r->layer, n, pj_session_n_tagged(a->s));
		break;
	case PJ_ACT_TAG_EXPERTS:
		if (r->layer < 0) {
			pj_app_msg(a, true, "this row is not in a layer");
			return PJ_R_HANDLED | PJ_R_REDRAW;
		}
		n = pj_session_tag_experts(a->s, r->comp, r->layer, PJ_TAG_ADD);
		pj_app_msg(a, n ? false : true, "layer %d: %zu expert tensors, %zu tagged", r->layer, n,
		           pj_session_n_tagged(a->s));
		break;
	case PJ_ACT_TAG_ROLE: {
		if (!is_leaf(r)) {
			pj_app_msg(a, true, "select a tensor to tag its role");
			return PJ_R_HANDLED | PJ_R_REDRAW;
		}
		pj_role role = a->m->cat.t[r->tensor].role;
		n = pj_session_tag_role(a->s, role, PJ_TAG_ADD);
		pj_app_msg(a, false, "role %s: %zu tensors, %zu tagged", pj_role_name(role), n, pj_session_n_tagged(a->s));
		break;
	}
	default:
		break;
	}
	changed(a);
	return PJ_R_HANDLED | PJ_R_REDRAW;
}

/* ---- rules --------------------------------------------------------------------------- */

static int rule_from_sel_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)text;
	if (!ok || id < 0)
		return 0;
	targets tg;
	pj_error err;
	char *rule = NULL;
	uint64_t before = out_bytes(a);
	targets_begin(a, &tg);
	if (tg.single)
		pj_session_tag(a->s, tg.tensor, true);
	pj_status st = pj_session_rule_from_selection(a->s, (pj_dtype)id, &rule, &err);
	if (tg.single)
		pj_session_tag(a->s, tg.tensor, false);
	targets_end(a, &tg);
	if (st != PJ_OK)
		pj_app_msg(a, true, "%s", err.msg);
	else {
		char m[300];
		snprintf(m, sizeof m, "rule added: %s", rule ? rule : "?");
		report(a, m, before);
	}
	free(rule);
	return 0;
}

static void rules_editor(pj_app *a, size_t sel);

static int rule_input_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)id;
	size_t pos = (size_t)d->arg;
	bool replace = d->ctx != NULL;
	if (ok && *text) {
		pj_error err;
		uint64_t before = out_bytes(a);
		pj_status st = replace ? pj_session_rule_replace(a->s, pos, text, &err)
		                       : pj_session_rule_add(a->s, pos, text, &err);
		if (st != PJ_OK)
			pj_app_msg(a, true, "%s", err.msg);
		else {
			char m[300];
			snprintf(m, sizeof m, "rule %zu %s: %s", pos + 1, replace ? "changed" : "added", text);
			report(a, m, before);
		}
	}
	rules_editor(a, pos);
	return 0;
}

static void rule_prompt(pj_app *a, size_t pos, bool replace)
{
	const char *cur = replace ? pj_session_rule_text(a->s, pos) : NULL;
	pj_dialog *d = pj_dlg_input(a, replace ? "Edit rule" : "New rule",
	                            "REGEX=TYPE, role:ROLE[@A-B]=TYPE or layer:A[-B]=TYPE (first match wins)",
	                            cur ? cur : "", rule_input_done);
	d->arg = (long)pos;
	d->ctx = replace ? (void *)1 : NULL;
	d->min_w = 60;
}

static int rules_key(pj_app *a, pj_dialog *d, int key)
{
	size_t n = pj_session_rule_count(a->s);
	size_t pos = d->sel < n ? d->sel : n;
	pj_error err;
	switch (key) {
	case 'a':
	case 'i':
		pj_dlg_end(a, false);
		rule_prompt(a, pos < n ? pos + 1 : n, false);
		return PJ_R_HANDLED;
	case 'e':
		if (pos >= n)
			return PJ_R_HANDLED;
		pj_dlg_end(a, false);
		rule_prompt(a, pos, true);
		return PJ_R_HANDLED;
	case 'd':
	case PJ_KEY_DEL:
		if (pos >= n)
			return PJ_R_HANDLED;
		if (pj_session_rule_remove(a->s, pos, &err) != PJ_OK)
			pj_app_msg(a, true, "%s", err.msg);
		else
			pj_app_msg(a, false, "rule %zu removed", pos + 1);
		break;
	case 'K':
	case '<':
		if (pos == 0 || pos >= n)
			return PJ_R_HANDLED;
		if (pj_session_rule_move(a->s, pos, pos - 1, &err) != PJ_OK)
			pj_app_msg(a, true, "%s", err.msg);
		pos--;
		break;
	case 'J':
	case '>':
		if (pos + 1 >= n)
			return PJ_R_HANDLED;
		if (pj_session_rule_move(a->s, pos, pos + 1, &err) != PJ_OK)
			pj_app_msg(a, true, "%s", err.msg);
		pos++;
		break;
	default:
		return PJ_R_IGNORED;
	}
	changed(a);
	/* Rebuild the list in place. */
	pj_dlg_clear(d);
	n = pj_session_rule_count(a->s);
	for (size_t i = 0; i < n; i++) {
		char lab[96];
		snprintf(lab, sizeof lab, "%2zu. %s", i + 1, pj_session_rule_text(a->s, i));
		pj_dlg_add(d, (int)i, lab, NULL);
	}
	pj_dlg_add(d, -1, "+ add a rule", NULL);
	d->sel = pos < d->n_items ? pos : d->n_items - 1;
	return PJ_R_HANDLED;
}

static int rules_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)text;
	if (!ok)
		return 0;
	if (id < 0)
		rule_prompt(a, pj_session_rule_count(a->s), false);
	else
		rule_prompt(a, (size_t)id, true);
	return 0;
}

static void rules_editor(pj_app *a, size_t sel)
{
	pj_dialog *d = pj_dlg_menu(a, "Rules (first match wins)", rules_done);
	d->key = rules_key;
	snprintf(d->hint, sizeof d->hint, "Enter/e: edit  a: add  d: remove  K/J: move  Esc: close");
	size_t n = pj_session_rule_count(a->s);
	for (size_t i = 0; i < n; i++) {
		char lab[96];
		snprintf(lab, sizeof lab, "%2zu. %s", i + 1, pj_session_rule_text(a->s, i));
		pj_dlg_add(d, (int)i, lab, NULL);
	}
	pj_dlg_add(d, -1, "+ add a rule", NULL);
	if (!n)
		pj_dlg_line(d, "no rules yet: types come from the preset and manual choices");
	d->sel = sel < d->n_items ? sel : d->n_items - 1;
	d->min_w = 56;
}

/* ---- presets -------------------------------------------------------------------------- */

static int preset_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)text;
	if (!ok || id < 0)
		return 0;
	unsigned flags = 0;
	for (size_t i = 0; i < d->n_items; i++) {
		if (d->items[i].id == -2 && d->items[i].checked)
			flags |= PJ_PRESET_KEEP_RULES;
		if (d->items[i].id == -3 && d->items[i].checked)
			flags |= PJ_PRESET_KEEP_OVERRIDES;
	}
	size_t np;
	const pj_preset *ps = pj_preset_all(&np);
	const char *name = id == 0 ? "auto" : (size_t)id <= np ? ps[id - 1].name : NULL;
	if (!name)
		return 0;
	pj_error err;
	uint64_t before = out_bytes(a);
	if (pj_session_apply_preset(a->s, name, flags, &err) != PJ_OK) {
		pj_app_msg(a, true, "%s", err.msg);
		return 0;
	}
	char m[300];
	const pj_plan *p = pj_session_plan(a->s);
	snprintf(m, sizeof m, "preset %s%s%s", name, p && p->base_reason[0] ? " - " : "",
	         p && p->base_reason[0] ? p->base_reason : "");
	report(a, m, before);
	return 0;
}

static void presets_menu(pj_app *a)
{
	pj_dialog *d = pj_dlg_menu(a, "Presets", preset_done);
	char why[256] = "";
	const pj_preset *au = pj_preset_auto(a->m, why, sizeof why);
	pj_dlg_item *it = pj_dlg_add(d, -2, "keep rules", NULL);
	it->check = true;
	it = pj_dlg_add(d, -3, "keep manual and solver types", "(pinned types always stay)");
	it->check = true;
	pj_dlg_add(d, 0, "auto", "%s%s%s", au ? au->name : "?", why[0] ? ": " : "", why);
	size_t np;
	const pj_preset *ps = pj_preset_all(&np);
	for (size_t i = 0; i < np; i++)
		pj_dlg_add(d, (int)(i + 1), ps[i].name, "%s%s", ps[i].kind == PJ_PRESET_FTYPE ? "llama.cpp mix. " : "",
		           ps[i].description ? ps[i].description : "");
	const pj_plan *p = pj_session_plan(a->s);
	pj_dlg_line(d, "now: %s", p && p->base ? p->base : "?");
	d->sel = 2;
	if (p && p->base)
		for (size_t i = 0; i < np; i++)
			if (strcasecmp(ps[i].name, p->base) == 0)
				d->sel = i + 3;
	snprintf(d->hint, sizeof d->hint, "Enter: apply  Space: toggle [x]  type to jump  Esc: cancel");
}

/* ---- solver --------------------------------------------------------------------------- */

static bool parse_target(const char *text, const pj_stotals *t, pj_solve_target *out)
{
	char *end;
	double v = strtod(text, &end);
	if (end == text || !(v > 0))
		return false;
	while (*end == ' ')
		end++;
	memset(out, 0, sizeof *out);
	if (strncasecmp(end, "bpw", 3) == 0 || (strncasecmp(end, "b", 1) == 0 && strlen(end) == 1)) {
		out->kind = PJ_SOLVE_BPW;
		out->bpw = v;
		return v < 64;
	}
	double mul = 1024.0 * 1024 * 1024;
	if (*end == 'M' || *end == 'm')
		mul = 1024.0 * 1024;
	else if (*end == 'K' || *end == 'k')
		mul = 1024.0;
	else if (*end == '%')
		mul = (double)t->src_bytes / 100.0;
	else if (*end && *end != 'G' && *end != 'g')
		return false;
	out->kind = PJ_SOLVE_BYTES;
	out->bytes = (uint64_t)(v * mul);
	return true;
}

static int solve_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)id;
	if (!ok || !*text)
		return 0;
	pj_stotals t;
	pj_session_totals(a->s, &t);
	pj_solve_target tg;
	if (!parse_target(text, &t, &tg)) {
		pj_app_msg(a, true, "'%s': give a size (3.5, 3.5G, 900M, 40%%) or bits per weight (4.5bpw)", text);
		return 0;
	}
	pj_error err;
	pj_solve_job *j = pj_session_solve_start(a->s, a->pool, &tg, &err);
	if (!j) {
		pj_app_msg(a, true, "%s", err.msg);
		return 0;
	}
	a->solve = j;
	a->solve_t0 = pj_now();
	char b[24];
	if (tg.kind == PJ_SOLVE_BPW)
		snprintf(a->solve_what, sizeof a->solve_what, "%.2f bpw", tg.bpw);
	else
		snprintf(a->solve_what, sizeof a->solve_what, "fit %s", pj_fmt_bytes(tg.bytes, b, sizeof b));
	pj_app_msg(a, false, "solving: %s (keys stay live; c cancels)", a->solve_what);
	pj_app_layout(a);
	return 0;
}

static void solve_dialog(pj_app *a)
{
	if (a->solve) {
		pj_app_msg(a, true, "the solver is already running (c cancels it)");
		return;
	}
	pj_stotals t;
	char b1[24], b2[24], init[32];
	pj_session_totals(a->s, &t);
	if (t.out_bytes >= 1024ull * 1024 * 1024)
		snprintf(init, sizeof init, "%.2f", (double)t.out_bytes / (1024.0 * 1024 * 1024));
	else
		snprintf(init, sizeof init, "%.2fM", (double)t.out_bytes / (1024.0 * 1024));
	pj_dialog *d = pj_dlg_input(a, "Target solver", "Fit in N GiB (3.5, 900M, 40%) or N bits per weight (4.5bpw):",
	                            init, solve_done);
	pj_dlg_line(d, "now %s of %s source, %.2f bpw; pinned tensors stay", pj_fmt_bytes(t.out_bytes, b1, sizeof b1),
	            pj_fmt_bytes(t.src_bytes, b2, sizeof b2), t.bpw);
	pj_dlg_line(d, "types chosen to minimise predicted loss; one undoable step");
}

static void solve_finish(pj_app *a)
{
	pj_solve_result r;
	pj_error err;
	uint64_t before = out_bytes(a);
	pj_status st = pj_solve_job_result(a->solve, &r, &err);
	if (st == PJ_OK)
		st = pj_session_solve_apply(a->s, a->solve, &err);
	if (st == PJ_OK) {
		char m[300];
		snprintf(m, sizeof m, "%s", r.message[0] ? r.message : a->solve_what);
		report(a, m, before);
	} else {
		pj_app_msg(a, true, "solver: %s", err.msg);
	}
	pj_solve_job_free(a->solve);
	a->solve = NULL;
	pj_app_layout(a);
}

/* ---- search, filter, sort, columns ------------------------------------------------- */

static bool search_compile(pj_app *a, const char *re)
{
	if (a->search_ok)
		regfree(&a->search_re);
	a->search_ok = false;
	snprintf(a->search, sizeof a->search, "%s", re);
	int rc = regcomp(&a->search_re, re, REG_EXTENDED | REG_NOSUB | REG_ICASE);
	if (rc != 0) {
		char m[128];
		regerror(rc, &a->search_re, m, sizeof m);
		pj_app_msg(a, true, "/%s/: %s", re, m);
		return false;
	}
	a->search_ok = true;
	return true;
}

/* Next (dir 1) or previous (-1) tensor row after the selection whose name
 * matches; opens what hides it. */
static void search_go(pj_app *a, int dir)
{
	if (!a->search_ok) {
		pj_app_msg(a, true, "no search yet: / searches");
		return;
	}
	pj_tree *t = &a->tree;
	bool tree_mode = a->sort_col < 0 && a->filter == PJ_FILTER_NONE;
	if (!tree_mode) {
		for (size_t k = 1; k <= t->n_vis; k++) {
			size_t v = (a->sel + (dir > 0 ? k : t->n_vis * 2 - k)) % t->n_vis;
			const pj_row *r = &t->rows[t->vis[v]];
			if (r->tensor >= 0 && regexec(&a->search_re, a->m->cat.t[r->tensor].name, 0, NULL, 0) == 0) {
				pj_app_select(a, v);
				pj_app_msg(a, false, "/%s/", a->search);
				return;
			}
		}
		pj_app_msg(a, true, "/%s/: not found", a->search);
		return;
	}
	uint32_t cur = pj_app_sel_row(a);
	for (size_t k = 1; k <= t->n; k++) {
		uint32_t i = (uint32_t)((cur + (dir > 0 ? k : t->n * 2 - k)) % t->n);
		const pj_row *r = &t->rows[i];
		/* One row per tensor: its first (a stacked tensor's slice 0). */
		if (!is_leaf(r) || (r->kind == PJ_ROW_SLICE && r->expert != 0))
			continue;
		if (regexec(&a->search_re, a->m->cat.t[r->tensor].name, 0, NULL, 0) != 0)
			continue;
		for (int32_t p = r->parent; p >= 0; p = t->rows[p].parent)
			t->rows[p].expanded = true;
		pj_tree_refresh(t);
		pj_app_select(a, pj_tree_vis_index(t, i));
		pj_app_msg(a, false, "/%s/: %s", a->search, a->m->cat.t[r->tensor].name);
		return;
	}
	pj_app_msg(a, true, "/%s/: not found", a->search);
}

static int search_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)id;
	if (ok && *text && search_compile(a, text))
		search_go(a, 1);
	return 0;
}

enum { F_ROLE = 1, F_LAYER, F_TYPE, F_COMP, F_TAGGED, F_SEARCH, F_CLEAR };

static int filter_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)text;
	if (!ok)
		return 0;
	uint32_t ri = (uint32_t)d->arg;
	const pj_row *r = &a->tree.rows[ri];
	const pj_row_plan *p = pj_app_row_plan(a, ri);
	switch (id) {
	case F_ROLE:
		a->filter = PJ_FILTER_ROLE;
		a->filter_val = (int)a->m->cat.t[r->tensor].role;
		snprintf(a->filter_text, sizeof a->filter_text, "role %s", pj_role_name((pj_role)a->filter_val));
		break;
	case F_LAYER:
		a->filter = PJ_FILTER_LAYER;
		a->filter_val = r->layer;
		snprintf(a->filter_text, sizeof a->filter_text, "layer %d", r->layer);
		break;
	case F_TYPE:
		a->filter = PJ_FILTER_TYPE;
		a->filter_val = p ? p->type : r->dtype;
		snprintf(a->filter_text, sizeof a->filter_text, "type %s", pj_dtype_name((pj_dtype)a->filter_val));
		break;
	case F_COMP:
		a->filter = PJ_FILTER_COMP;
		a->filter_val = r->comp;
		snprintf(a->filter_text, sizeof a->filter_text, "%s", pj_component_name((pj_component)r->comp));
		break;
	case F_TAGGED:
		a->filter = PJ_FILTER_TAGGED;
		snprintf(a->filter_text, sizeof a->filter_text, "tagged");
		break;
	case F_SEARCH:
		a->filter = PJ_FILTER_SEARCH;
		snprintf(a->filter_text, sizeof a->filter_text, "/%.56s/", a->search);
		break;
	default:
		a->filter = PJ_FILTER_NONE;
		break;
	}
	pj_app_refresh_rows(a);
	pj_app_select(a, 0);
	pj_app_msg(a, false, a->filter ? "filter: %s (%zu rows; Esc clears)" : "filter cleared%.0s (%zu rows)",
	           a->filter_text, a->tree.n_vis);
	return 0;
}

static void filter_menu(pj_app *a)
{
	uint32_t ri = pj_app_sel_row(a);
	const pj_row *r = &a->tree.rows[ri];
	const pj_row_plan *p = pj_app_row_plan(a, ri);
	pj_dialog *d = pj_dlg_menu(a, "Filter", filter_done);
	d->arg = (long)ri;
	pj_dlg_line(d, "show only the tensors that match, with their groups:");
	if (is_leaf(r))
		pj_dlg_add(d, F_ROLE, "role", "%s", pj_role_name(a->m->cat.t[r->tensor].role));
	if (r->layer >= 0)
		pj_dlg_add(d, F_LAYER, "layer", "%d", r->layer);
	int ty = p ? p->type : r->dtype;
	if (ty >= 0)
		pj_dlg_add(d, F_TYPE, "type", "%s", pj_dtype_name((pj_dtype)ty));
	pj_dlg_add(d, F_COMP, "component", "%s", pj_component_name((pj_component)r->comp));
	if (a->s)
		pj_dlg_add(d, F_TAGGED, "tagged", "%zu tensors", pj_session_n_tagged(a->s));
	if (a->search_ok)
		pj_dlg_add(d, F_SEARCH, "search", "/%s/", a->search);
	pj_dlg_add(d, F_CLEAR, "clear", "every row");
	snprintf(d->hint, sizeof d->hint, "the selected row gives the value   Esc: cancel");
}

static int sort_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)text;
	if (!ok)
		return 0;
	uint32_t row = pj_app_sel_row(a);
	if (id == a->sort_col && id >= 0)
		a->sort_asc = !a->sort_asc;
	else
		a->sort_asc = false;
	a->sort_col = id;
	pj_app_refresh_rows(a);
	pj_app_select(a, 0);
	if (id < 0)
		pj_app_select(a, pj_tree_vis_index(&a->tree, row));
	pj_app_msg(a, false, id < 0 ? "tree order" : "sorted by %s, %s first (Esc: tree order)",
	           id >= 0 ? pj_columns[id].title : "", a->sort_asc ? "smallest" : "biggest");
	return 0;
}

static void sort_menu(pj_app *a)
{
	pj_dialog *d = pj_dlg_menu(a, "Sort by", sort_done);
	pj_dlg_add(d, -1, "tree", "layers, groups, experts (default)");
	static const pj_col sortable[] = { PJ_COL_LOSS, PJ_COL_ERR, PJ_COL_BYTES, PJ_COL_BPW, PJ_COL_TYPE, PJ_COL_PARAMS,
	                                   PJ_COL_SHAPE, PJ_COL_SRC, PJ_COL_PROV, PJ_COL_ATTN };
	for (size_t i = 0; i < sizeof sortable / sizeof sortable[0]; i++)
		pj_dlg_add(d, (int)sortable[i], pj_columns[sortable[i]].title, "%s",
		           (int)sortable[i] == a->sort_col ? (a->sort_asc ? "(now, ascending: again flips)"
		                                                          : "(now, descending: again flips)") : "");
	pj_dlg_select(d, a->sort_col);
	pj_dlg_line(d, "a sorted view is a flat list of tensors");
}

static int columns_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)id;
	(void)text;
	if (!ok)
		return 0;
	for (size_t i = 0; i < d->n_items; i++)
		a->col_on[d->items[i].id] = d->items[i].checked;
	pj_app_msg(a, false, "columns changed (narrow terminals drop the lowest priorities)");
	return 0;
}

static void columns_menu(pj_app *a)
{
	pj_dialog *d = pj_dlg_menu(a, "Columns", columns_done);
	static const char *const what[PJ_COL_COUNT] = {
		[PJ_COL_ATTN] = "attention kind (local w / global / MLA / cross)", [PJ_COL_SHAPE] = "shape, ggml order",
		[PJ_COL_PARAMS] = "parameters", [PJ_COL_SRC] = "source dtype", [PJ_COL_TYPE] = "planned type (* fell back)",
		[PJ_COL_BYTES] = "planned bytes", [PJ_COL_BPW] = "bits per weight",
		[PJ_COL_ERR] = "measured error of the planned type", [PJ_COL_LOSS] = "predicted loss, number and bar",
		[PJ_COL_PROV] = "provenance: preset/rule/manual/solver, ! pinned",
		[PJ_COL_ROUTE] = "expert routing frequency (not collected yet)", [PJ_COL_MAXABS] = "max |x|",
		[PJ_COL_RMS] = "RMS", [PJ_COL_NANINF] = "NaN and Inf counts", [PJ_COL_OUTL] = "outliers (|x| > 6 RMS)",
	};
	for (int c = 0; c < PJ_COL_COUNT; c++) {
		pj_dlg_item *it = pj_dlg_add(d, c, pj_columns[c].title, "%s", what[c] ? what[c] : "");
		it->check = true;
		it->checked = a->col_on[c];
	}
	snprintf(d->hint, sizeof d->hint, "Space: toggle   Enter: apply   Esc: cancel");
}

/* ---- KV cache ---------------------------------------------------------------------- */

static int kv_type_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)text;
	if (!ok)
		return 0;
	pj_session_set_kv(a->s, (int64_t)d->arg, (pj_dtype)id);
	pj_stotals t;
	char b[24];
	pj_session_totals(a->s, &t);
	pj_app_msg(a, false, "KV cache: %lld tokens at %s: %s", (long long)t.kv_ctx, pj_dtype_name(t.kv_type),
	           pj_fmt_bytes(t.kv_bytes, b, sizeof b));
	return 0;
}

static int kv_ctx_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)text;
	if (!ok)
		return 0;
	pj_dialog *m = pj_dlg_menu(a, "KV cache type", kv_type_done);
	m->arg = id;
	static const pj_dtype kt[] = { PJ_DT_F16, PJ_DT_Q8_0, PJ_DT_Q4_0 };
	for (size_t i = 0; i < sizeof kt / sizeof kt[0]; i++) {
		char b[24];
		pj_dlg_add(m, (int)kt[i], pj_dtype_name(kt[i]), "%s",
		           pj_fmt_bytes(pj_plan_kv_bytes(&a->m->arch, id, kt[i]), b, sizeof b));
	}
	return 0;
}

static void kv_menu(pj_app *a)
{
	pj_dialog *d = pj_dlg_menu(a, "KV cache: context", kv_ctx_done);
	static const int ctx[] = { 2048, 4096, 8192, 16384, 32768, 65536, 131072 };
	pj_stotals t;
	pj_session_totals(a->s, &t);
	for (size_t i = 0; i < sizeof ctx / sizeof ctx[0]; i++) {
		char lab[32], b[24];
		if (a->m->arch.ctx_len > 0 && ctx[i] > a->m->arch.ctx_len)
			break;
		snprintf(lab, sizeof lab, "%d", ctx[i]);
		pj_dlg_add(d, ctx[i], lab, "%s at %s", pj_fmt_bytes(pj_plan_kv_bytes(&a->m->arch, ctx[i], t.kv_type), b, sizeof b),
		           pj_dtype_name(t.kv_type));
	}
	if (a->m->arch.ctx_len > 0 && a->m->arch.ctx_len <= 1 << 30) {
		char lab[32];
		snprintf(lab, sizeof lab, "%lld", (long long)a->m->arch.ctx_len);
		pj_dlg_add(d, (int)a->m->arch.ctx_len, lab, "the model's context");
	}
	pj_dlg_select(d, (int)t.kv_ctx);
}

/* ---- files ------------------------------------------------------------------------- */

static const char *stem(pj_app *a, char *buf, size_t len)
{
	const char *n = a->m->name ? a->m->name : "model";
	const char *sl = strrchr(n, '/');
	snprintf(buf, len, "%s", sl ? sl + 1 : n);
	size_t l = strlen(buf);
	if (l > 5 && strcmp(buf + l - 5, ".gguf") == 0)
		buf[l - 5] = '\0';
	return buf;
}

static int save_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)id;
	if (!ok || !*text)
		return 0;
	pj_error err;
	if (pj_session_save_plan(a->s, text, &err) != PJ_OK)
		pj_app_msg(a, true, "%s", err.msg);
	else
		pj_app_msg(a, false, "plan saved: %s", text);
	return 0;
}

static int load_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)id;
	if (!ok || !*text)
		return 0;
	pj_error err;
	char *warning = NULL;
	uint64_t before = out_bytes(a);
	if (pj_session_load_plan(a->s, text, &warning, &err) != PJ_OK)
		pj_app_msg(a, true, "%s", err.msg);
	else if (warning)
		pj_app_msg(a, true, "loaded %s; warning: %s", text, warning);
	else {
		char m[300];
		snprintf(m, sizeof m, "plan loaded: %s", text);
		report(a, m, before);
	}
	free(warning);
	changed(a);
	return 0;
}

static int ttf_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)id;
	if (!ok || !*text)
		return 0;
	size_t bad = 0;
	char *ttf = pj_plan_tensor_type_file(pj_session_plan(a->s), &bad);
	char *tmp = pj_xasprintf("%s.pj-tmp.%ld", text, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	bool okw = f && fwrite(ttf, 1, strlen(ttf), f) == strlen(ttf);
	if (f)
		okw &= fclose(f) == 0;
	okw = okw && rename(tmp, text) == 0;
	if (!okw) {
		pj_app_msg(a, true, "%s: cannot write: %s", text, strerror(errno));
		unlink(tmp);
	} else {
		pj_app_msg(a, false, "wrote %s (llama-quantize --tensor-type-file)%s", text,
		           bad ? "; some kept tensors get another type here: llama-quantize cannot do that" : "");
	}
	free(tmp);
	free(ttf);
	return 0;
}

static int export_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)id;
	if (!ok || !*text)
		return 0;
	if (pj_export_running(&a->exp)) {
		pj_app_msg(a, true, "an export is running (c cancels it)");
		return 0;
	}
	size_t bad[2];
	const size_t n_bad = pj_session_unweightable(a->s, bad, 2);
	if (n_bad) {   /* batch mode would refuse it: say so here, naming them */
		pj_app_msg(a, true, "export: no importance data for %s (%s)%s%s, whose type needs it: give %s another type",
		           a->m->cat.t[bad[0]].name, pj_dtype_name(pj_session_entry(a->s, bad[0])->type),
		           n_bad > 1 ? " and " : "", n_bad > 1 ? a->m->cat.t[bad[1]].name : "", n_bad > 1 ? "them" : "it");
		return 0;
	}
	/* The plan as batch mode reads it, in a private temporary file. */
	const char *td = getenv("TMPDIR");
	char *tmpl = pj_xasprintf("%s/pj-export-plan.XXXXXX", td && *td ? td : "/tmp");
	int fd = mkstemp(tmpl);
	char perr[256] = "";
	size_t merged = 0;
	char *json = pj_plan_gguf_json(a->s, &merged, perr, sizeof perr);
	if (!json) {
		pj_app_msg(a, true, "export: %s", perr);
		if (fd >= 0) {
			close(fd);
			unlink(tmpl);
		}
		free(tmpl);
		return 0;
	}
	bool okw = fd >= 0 && json && write(fd, json, strlen(json)) == (ssize_t)strlen(json);
	if (fd >= 0)
		close(fd);
	free(json);
	if (!okw) {
		pj_app_msg(a, true, "cannot write the plan for the export: %s", strerror(errno));
		if (fd >= 0)
			unlink(tmpl);
		free(tmpl);
		return 0;
	}
	char err[256];
	pj_export_stop(&a->exp);
	if (!pj_export_start(&a->exp, a->m->path, tmpl, a->opts->imatrix, text, a->opts->threads, err, sizeof err)) {
		unlink(tmpl);
		pj_app_msg(a, true, "%s", err);
	} else {
		a->exp_seen = true;
		if (merged)
			pj_app_msg(a, false, "exporting %s; %zu expert stacks had mixed types: each gets its largest (c cancels)",
			           text, merged);
		else
			pj_app_msg(a, false, "exporting %s in the background (c cancels; nothing is left behind)", text);
		pj_app_layout(a);
	}
	free(tmpl);
	return 0;
}

static void path_prompt(pj_app *a, const char *title, const char *what, const char *suffix, pj_dlg_fn done)
{
	char s[256], init[512];
	const pj_plan *p = pj_session_plan(a->s);
	if (suffix[0] == '-')
		snprintf(init, sizeof init, "%s-%s.gguf", stem(a, s, sizeof s), p && p->base ? p->base : "plan");
	else
		snprintf(init, sizeof init, "%s%s", stem(a, s, sizeof s), suffix);
	pj_dialog *d = pj_dlg_input(a, title, what, init, done);
	d->min_w = 60;
}

/* ---- the check --------------------------------------------------------------------- */

static void check_start(pj_app *a)
{
	const pj_ui_opts *o = a->opts;
	if (!o->calib && !o->calib_ids) {
		pj_app_msg(a, true, "the check needs calibration text: start with --calib FILE (or --calib-ids FILE.i32)");
		return;
	}
	if (o->calib && o->calib_ids) {
		pj_app_msg(a, true, "--calib and --calib-ids exclude each other");
		return;
	}
	char err[256];
	size_t merged = 0;
	char *json = pj_plan_gguf_json(a->s, &merged, err, sizeof err);
	if (!json) {
		pj_app_msg(a, true, "check: %s", err);
		return;
	}
	if (!pj_check_job_start(&a->check, a->m, json, o->calib, o->calib_ids, o->ctx, o->chunks,
	                        (unsigned)o->threads, a->mb.fd[1], err, sizeof err)) {
		pj_app_msg(a, true, "%s", err);
		return;
	}
	a->check_seen = true;
	pj_app_msg(a, false, "checking the plan in the background (c cancels; editing goes on)");
	pj_app_layout(a);
}

static void check_finish(pj_app *a)
{
	pj_check_job *j = &a->check;
	pj_check_job_join(j);
	if (j->st == PJ_OK) {
		pj_session_record_check(a->s, j->r.kld_mean);
		pj_stotals t;
		pj_session_totals(a->s, &t);
		pj_app_msg(a, false, "check: KLD %.4g (predicted %.4g), PPL %.4g -> %.4g, top-1 %.1f%%", j->r.kld_mean,
		           t.loss, j->r.ppl_base, j->r.ppl_plan, 100 * j->r.top1_agreement);
	} else {
		pj_app_msg(a, true, "check: %s", j->err);
	}
}

/* ---- cancel -------------------------------------------------------------------------- */

enum { J_EXPORT = 1, J_SOLVE, J_MEASURE, J_STATS, J_CHECK, J_ALL };

static bool measure_running(const pj_app *a)
{
	const pj_progress *pr = a->s ? pj_session_measure_progress(a->s) : NULL;
	if (!pr)
		return false;
	pj_progress_snap s;
	pj_progress_snapshot(pr, &s);
	return !s.finished && !s.cancelled;
}

static void cancel_job(pj_app *a, int id)
{
	if ((id == J_EXPORT || id == J_ALL) && pj_export_running(&a->exp)) {
		pj_export_cancel(&a->exp);
		pj_app_msg(a, false, "export cancelled: no file is left behind");
	}
	if ((id == J_SOLVE || id == J_ALL) && a->solve) {
		pj_solve_job_free(a->solve);
		a->solve = NULL;
		pj_app_msg(a, false, "solver cancelled: the plan is unchanged");
		pj_app_layout(a);
	}
	if ((id == J_MEASURE || id == J_ALL) && measure_running(a)) {
		pj_session_measure_cancel(a->s);
		pj_app_msg(a, false, "measurement cancelled (s restarts it; finished tensors stay)");
	}
	if (id == J_STATS || id == J_ALL)
		pj_app_stats_cancel(a);
	if ((id == J_CHECK || id == J_ALL) && pj_check_job_running(&a->check)) {
		pj_check_job_cancel(&a->check);
		pj_app_msg(a, false, "check: cancelling");
	}
}

static int cancel_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)text;
	if (ok)
		cancel_job(a, id);
	return 0;
}

/* PJ_R_HANDLED when a plan job was there to cancel. */
static int cancel(pj_app *a)
{
	int ids[6], n = 0;
	if (pj_export_running(&a->exp))
		ids[n++] = J_EXPORT;
	if (a->solve)
		ids[n++] = J_SOLVE;
	if (measure_running(a))
		ids[n++] = J_MEASURE;
	if (pj_app_stats_running(a))
		ids[n++] = J_STATS;
	if (pj_check_job_running(&a->check))
		ids[n++] = J_CHECK;
	if (n == 0)
		return PJ_R_IGNORED;
	if (n == 1) {
		cancel_job(a, ids[0]);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	}
	pj_dialog *d = pj_dlg_menu(a, "Cancel which job?", cancel_done);
	static const char *const names[] = { "", "export", "solver", "measurement", "statistics", "check" };
	for (int i = 0; i < n; i++)
		pj_dlg_add(d, ids[i], names[ids[i]], NULL);
	pj_dlg_add(d, J_ALL, "all", NULL);
	return PJ_R_HANDLED | PJ_R_REDRAW;
}

/* ---- measurement --------------------------------------------------------------------- */

/* Visible rows first, then the rest in display order; quantizable only. */
static void measure_start(pj_app *a)
{
	const pj_catalog *cat = &a->m->cat;
	size_t *order = pj_xcalloc(cat->n ? cat->n : 1, sizeof *order);
	bool *seen = pj_xcalloc(cat->n ? cat->n : 1, sizeof *seen);
	size_t n = 0;
	size_t page = a->page > 0 ? (size_t)a->page : 20;
	for (size_t v = a->top; v < a->tree.n_vis && v < a->top + page; v++) {
		uint32_t ri = a->tree.vis[v];
		for (uint32_t i = ri; i < a->tree.rows[ri].end; i++) {
			int32_t ti = a->tree.rows[i].tensor;
			if (ti >= 0 && !seen[ti] && pj_session_entry(a->s, (size_t)ti)->quantizable) {
				seen[ti] = true;
				order[n++] = (size_t)ti;
			}
		}
	}
	for (size_t k = 0; k < a->tree.n_order; k++) {
		size_t ti = a->tree.order[k];
		if (!seen[ti] && pj_session_entry(a->s, ti)->quantizable) {
			seen[ti] = true;
			order[n++] = ti;
		}
	}
	pj_error err;
	if (pj_session_measure_start(a->s, a->pool, a->mcache, order, n, &err) != PJ_OK)
		pj_app_msg(a, true, "measurement: %s", err.msg);
	a->measure_t0 = pj_now();
	a->measure_saved = false;
	free(order);
	free(seen);
}

/* A failed save leaves the cache dirty: the save at exit tries again. */
static void mcache_save_job(void *arg)
{
	pj_error err;
	pj_mcache_save(arg, &err);
}

/* ---- autosave, restore, quit ------------------------------------------------------- */

void pj_plan_autosave(pj_app *a, bool force)
{
	if (!a->s || a->restore_pending || !pj_session_autosave_due(a->s))
		return;
	/* A session without a step holds no work: saving it would only
	 * replace an earlier autosave the user has not taken back yet. */
	pj_stotals t;
	pj_session_totals(a->s, &t);
	if (t.undo_steps == 0)
		return;
	double now = pj_now();
	/* Debounced; only the gathering is on this thread (the session's
	 * writer compresses and syncs to disk), so typing need not pause.
	 * Forced (quit, signals): written and synced before returning. */
	if (!force && (now - a->last_change < AUTOSAVE_DELAY || now - a->last_autosave < AUTOSAVE_DELAY))
		return;
	char view[64];
	int vl = snprintf(view, sizeof view, "sel=%u\n", pj_app_sel_row(a));
	pj_error err;
	pj_status st = force ? pj_session_autosave(a->s, NULL, view, (size_t)vl, &err)
	                     : pj_session_autosave_async(a->s, NULL, view, (size_t)vl, &err);
	if (st != PJ_OK)
		snprintf(a->autosave_note, sizeof a->autosave_note, "autosave failed: %.100s", err.msg);
	else
		a->autosave_note[0] = '\0';
	a->last_autosave = now;
}

static int restore_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)id;
	(void)text;
	a->restore_pending = false;
	if (!ok) {
		pj_app_msg(a, false, "autosave not restored (the next change replaces it)");
		return 0;
	}
	void *view = NULL;
	size_t vl = 0;
	char *message = NULL;
	pj_error err;
	if (pj_session_restore(a->s, NULL, &view, &vl, &message, &err) != PJ_OK) {
		pj_app_msg(a, true, "restore: %s", message ? message : err.msg);
	} else {
		unsigned sel;
		char vb[64] = "";
		if (view && vl < sizeof vb) {
			memcpy(vb, view, vl);
			vb[vl] = '\0';
		}
		if (sscanf(vb, "sel=%u", &sel) == 1 && sel < a->tree.n) {
			for (int32_t p = a->tree.rows[sel].parent; p >= 0; p = a->tree.rows[p].parent)
				a->tree.rows[p].expanded = true;
			pj_tree_refresh(&a->tree);
			pj_app_select(a, pj_tree_vis_index(&a->tree, sel));
		}
		pj_stotals t;
		pj_session_totals(a->s, &t);
		if (message)   /* planned with another importance matrix, or none */
			pj_app_msg(a, true, "session restored (%zu of %zu steps); warning: %s", t.undo_applied, t.undo_steps,
			           message);
		else
			pj_app_msg(a, false, "session restored: %zu of %zu steps applied (u undoes)", t.undo_applied,
			           t.undo_steps);
		changed(a);
	}
	free(view);
	free(message);
	return 0;
}

void pj_plan_open(pj_app *a)
{
	if (!a->s)
		return;
	pj_session_saved info;
	char *message = NULL;
	/* Only work is worth a question: an autosave without steps is not. */
	if (pj_session_saved_probe(a->s, NULL, &info, &message) == PJ_OK && info.steps > 0) {
		char when[64] = "?";
		time_t tt = (time_t)info.mtime;
		struct tm tmv;
		if (localtime_r(&tt, &tmv))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tmv);
		pj_dialog *d = pj_dlg_confirm(a, "Restore the autosaved session?", "", restore_done);
		a->restore_pending = true;
		snprintf(d->msg[0], sizeof d->msg[0], "An autosaved plan for this model is there (%s).", when);
		pj_dlg_line(d, "base %s, %zu steps (%zu applied)%s%s", info.base, info.steps, info.applied,
		            info.last[0] ? ", last: " : "", info.last);
		if (info.imatrix_differs)
			pj_dlg_line(d, "It was planned with %s%s; this run has %s.",
			            info.imatrix[0] ? "the importance matrix " : "no importance matrix", info.imatrix,
			            a->opts->imatrix ? a->opts->imatrix : "none");
		pj_dlg_line(d, "Restore it (plan, undo history, view)?");
	} else if (message) {
		pj_app_msg(a, true, "%s", message);
	}
	free(message);
	measure_start(a);
}

static int quit_done(pj_app *a, pj_dialog *d, bool ok, int id, const char *text)
{
	(void)d;
	(void)id;
	(void)text;
	if (!ok)
		return 0;
	a->quit = true;
	return PJ_R_QUIT;
}

int pj_plan_quit(pj_app *a)
{
	bool dirty = a->s && pj_session_dirty(a->s);
	bool exporting = pj_export_running(&a->exp);
	if (!dirty && !exporting)
		return PJ_R_QUIT;
	pj_plan_autosave(a, true);
	pj_dialog *d = pj_dlg_confirm(a, "Quit?", "", quit_done);
	d->n_msg = 0;
	if (dirty)
		pj_dlg_line(d, "The plan has unsaved changes (w saves a plan file).");
	if (dirty)
		pj_dlg_line(d, "They are autosaved: reopening this model offers them back.");
	if (exporting)
		pj_dlg_line(d, "An export is running: quitting cancels it (no file is left).");
	pj_dlg_line(d, "Quit anyway?");
	return PJ_R_HANDLED | PJ_R_REDRAW;
}

/* ---- the loop's hooks ---------------------------------------------------------------- */

bool pj_plan_busy(const pj_app *a)
{
	if (!a->s)
		return false;
	return measure_running(a) || a->solve || pj_export_running(&a->exp) || pj_check_job_running(&a->check) ||
	       pj_session_autosave_due(a->s) || a->msg[0];
}

bool pj_plan_tick(pj_app *a)
{
	bool dirty = false;
	double now = pj_now();
	if (a->msg[0] && now - a->msg_t > MSG_SECONDS) {
		a->msg[0] = '\0';
		dirty = true;
	}
	if (!a->s)
		return dirty;
	/* Measurements are taken in at most POLL_MAX per turn (a measurement
	 * cache answers tens of thousands at once): keys wait for no more;
	 * the rest come the next turn, which the pipe makes immediate. */
	size_t got = pj_session_poll_some(a->s, POLL_MAX);
	if (got)
		dirty = true;
	if (got == POLL_MAX) {
		ssize_t w = write(a->mb.fd[1], "s", 1);
		(void)w;
	}
	const pj_progress *pr = pj_session_measure_progress(a->s);
	if (pr && !a->measure_saved) {
		pj_progress_snap s;
		pj_progress_snapshot(pr, &s);
		/* The cache is saved on a worker (pj_mcache is thread-safe):
		 * compressing and writing tens of thousands of results here held
		 * keys up for a third of a second.  Ring full: next turn. */
		if (s.finished && (!a->mcache || pj_pool_try_submit(a->pool, mcache_save_job, a->mcache))) {
			a->measure_saved = true;
			dirty = true;
		}
	}
	if (a->check.started && atomic_load(&a->check.finished)) {
		check_finish(a);
		dirty = true;
	}
	if (a->solve && pj_solve_job_finished(a->solve)) {
		solve_finish(a);
		dirty = true;
	}
	if (pj_export_running(&a->exp) && pj_export_poll(&a->exp)) {
		if (a->exp.ok)
			pj_app_msg(a, false, "exported %s", a->exp.out);
		else if (a->exp.cancelled)
			pj_app_msg(a, false, "export cancelled: no file written");
		else
			pj_app_msg(a, true, "export failed: %s", a->exp.last);
		dirty = true;
	}
	pj_plan_autosave(a, false);
	return dirty;
}

int pj_plan_action(pj_app *a, pj_action act)
{
	switch (act) {
	case PJ_ACT_CANCEL:
		return cancel(a);
	case PJ_ACT_STATS:
		if (a->s)
			measure_start(a);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_SEARCH:
		pj_dlg_input(a, "Search", "tensor names, regular expression (n / N: next / previous)", a->search,
		             search_done);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_SEARCH_NEXT:
	case PJ_ACT_SEARCH_PREV:
		search_go(a, act == PJ_ACT_SEARCH_NEXT ? 1 : -1);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_FILTER:
		filter_menu(a);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_SORT:
		sort_menu(a);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_ACT_COLUMNS:
		columns_menu(a);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	default:
		break;
	}
	if (!a->tree.n_vis)
		return PJ_R_IGNORED;
	switch (act) {
	case PJ_ACT_TYPE_UP: case PJ_ACT_TYPE_DOWN: case PJ_ACT_TYPE_MENU: case PJ_ACT_PIN: case PJ_ACT_TAG:
	case PJ_ACT_TAG_REGEX: case PJ_ACT_TAG_LAYER: case PJ_ACT_TAG_EXPERTS: case PJ_ACT_TAG_ROLE: case PJ_ACT_UNTAG:
	case PJ_ACT_ADD_RULE: case PJ_ACT_PRESET: case PJ_ACT_RULES: case PJ_ACT_SOLVE: case PJ_ACT_UNDO:
	case PJ_ACT_REDO: case PJ_ACT_KV: case PJ_ACT_CHECK: case PJ_ACT_SAVE: case PJ_ACT_LOAD: case PJ_ACT_WRITE_TTF: case PJ_ACT_EXPORT:
		if (!need_session(a))
			return PJ_R_HANDLED | PJ_R_REDRAW;
		break;
	default:
		return PJ_R_IGNORED;
	}
	pj_error err;
	switch (act) {
	case PJ_ACT_TYPE_UP:
		return step(a, 1);
	case PJ_ACT_TYPE_DOWN:
		return step(a, -1);
	case PJ_ACT_TYPE_MENU:
		type_menu(a, "Type", type_chosen, true);
		break;
	case PJ_ACT_PIN:
		return pin(a);
	case PJ_ACT_TAG:
		return tag_row(a);
	case PJ_ACT_TAG_REGEX:
		pj_dlg_input(a, "Tag by name", "tensors whose name matches (POSIX ERE, e.g. ffn_down|attn_v):", "",
		             tag_regex_done);
		break;
	case PJ_ACT_TAG_LAYER:
	case PJ_ACT_TAG_EXPERTS:
	case PJ_ACT_TAG_ROLE:
		return tag_group(a, act);
	case PJ_ACT_UNTAG:
		pj_session_tag_clear(a->s);
		pj_app_msg(a, false, "tags cleared");
		changed(a);
		break;
	case PJ_ACT_ADD_RULE:
		type_menu(a, "Add a rule: type for", rule_from_sel_done, false);
		pj_dlg_line(a->dlg[a->n_dlg - 1], "a regex=type rule matching exactly these tensors");
		break;
	case PJ_ACT_PRESET:
		presets_menu(a);
		break;
	case PJ_ACT_RULES:
		rules_editor(a, 0);
		break;
	case PJ_ACT_SOLVE:
		solve_dialog(a);
		break;
	case PJ_ACT_UNDO:
	case PJ_ACT_REDO: {
		const char *l = act == PJ_ACT_UNDO ? pj_session_undo_label(a->s) : pj_session_redo_label(a->s);
		char what[128];
		snprintf(what, sizeof what, "%s", l ? l : "");
		uint64_t before = out_bytes(a);
		pj_status st = act == PJ_ACT_UNDO ? pj_session_undo(a->s, &err) : pj_session_redo(a->s, &err);
		if (st != PJ_OK)
			pj_app_msg(a, true, "%s", err.msg);
		else {
			char m[200];
			snprintf(m, sizeof m, "%s: %s", act == PJ_ACT_UNDO ? "undone" : "redone", what);
			report(a, m, before);
		}
		break;
	}
	case PJ_ACT_KV:
		kv_menu(a);
		break;
	case PJ_ACT_CHECK:
		check_start(a);
		break;
	case PJ_ACT_SAVE:
		path_prompt(a, "Save plan", "plan file (JSON; --batch --plan reads it):", ".plan.json", save_done);
		break;
	case PJ_ACT_LOAD:
		path_prompt(a, "Load plan", "plan file to load (one undoable step):", ".plan.json", load_done);
		break;
	case PJ_ACT_WRITE_TTF:
		path_prompt(a, "llama-quantize tensor types", "--tensor-type-file to write:", ".tensor-types.txt", ttf_done);
		break;
	case PJ_ACT_EXPORT:
		path_prompt(a, "Export GGUF", "output GGUF (written in the background with batch mode's writer):", "-",
		            export_done);
		break;
	default:
		return PJ_R_IGNORED;
	}
	return PJ_R_HANDLED | PJ_R_REDRAW;
}
