/* test_session.c - the planner's view-model (quant/session.h), no curses:
 * grouping and aggregates, totals, undo/redo of every action kind,
 * selection and rules from it, the solver, the autosave, measurement
 * intake, on ../shared's qwen3moe and deepseek3 (HF folders and GGUF). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant/plan_json.h"
#include "quant/session.h"
#include "tap.h"

static char tmpdir[256];

/* ---- helpers --------------------------------------------------------------------- */

/* The whole observable state: plan file text, per-tensor provenance and
 * bytes, totals. */
static char *state_of(pj_session *s)
{
	char *plan = pj_session_plan_json(s);
	const pj_model *m = pj_session_model(s);
	size_t n = m->cat.n, cap = strlen(plan) + n * 24 + 64, k = 0;
	char *out = pj_xmalloc(cap);
	k += (size_t)snprintf(out + k, cap - k, "%s", plan);
	for (size_t t = 0; t < n; t++) {
		const pj_plan_entry *e = pj_session_entry(s, t);
		k += (size_t)snprintf(out + k, cap - k, "%d%c%d%s;", (int)e->type, pj_provenance_name(e->prov)[0],
		                      e->pinned, e->fell_back ? "f" : "");
	}
	pj_stotals tt;
	pj_session_totals(s, &tt);
	snprintf(out + k, cap - k, "|%llu", (unsigned long long)tt.out_bytes);
	free(plan);
	return out;
}

/* The incremental plan equals what pj_plan_apply makes of the same plan
 * file; the totals equal the sum of the rows. */
static void check_consistent(pj_session *s, const char *what)
{
	char *txt = pj_session_plan_json(s);
	const pj_plan *sp = pj_session_plan(s);
	pj_plan p;
	pj_error e;
	char *w = NULL;
	pj_status st = pj_plan_json_parse(&p, pj_session_model(s), txt, "session", pj_session_has_imatrix(s), &w, &e);
	free(w);
	free(txt);
	size_t bad = 0;
	if (!st) {
		for (size_t i = 0; i < p.n; i++) {
			const pj_plan_entry *a = &p.e[i], *b = &sp->e[i];
			if (a->t != b->t || a->type != b->type || a->bytes != b->bytes || a->requested != b->requested ||
			    a->pinned != b->pinned || a->fell_back != b->fell_back || a->needs_imatrix != b->needs_imatrix) {
				if (!bad)
					tap_diag("%s: %s is %s/%llu, a full apply says %s/%llu", what, b->t->name,
					         pj_dtype_name(b->type), (unsigned long long)b->bytes, pj_dtype_name(a->type),
					         (unsigned long long)a->bytes);
				bad++;
			}
		}
	}
	pj_stotals tt;
	pj_session_totals(s, &tt);
	uint64_t sum = 0;
	double loss = 0;
	const size_t n = pj_session_model(s)->cat.n;
	for (size_t t = 0; t < n; t++) {
		pj_srow r;
		pj_session_row(s, t, &r);
		sum += r.bytes;
		loss += r.loss;
	}
	ok(!st && !bad && p.out_bytes == sp->out_bytes && p.n_quantized == sp->n_quantized &&
	   p.n_fallback == sp->n_fallback && sum == tt.out_bytes && fabs(loss - tt.loss) <= 1e-9 * (1 + loss),
	   "%s: incremental plan and totals equal a full re-apply", what);
	if (st)
		tap_diag("parse: %s", e.msg);
	if (!st)
		pj_plan_free(&p);
}

/* The row figures of every tensor, to see what a step changed. */
typedef struct row_fig {
	pj_dtype type;
	uint64_t bytes;
	double loss;
	pj_provenance prov;
	bool pinned, fell_back;
} row_fig;

static row_fig *rows_of(const pj_session *s)
{
	const size_t n = pj_session_model(s)->cat.n;
	row_fig *f = calloc(n ? n : 1, sizeof *f);
	for (size_t t = 0; t < n; t++) {
		pj_srow r;
		pj_session_row(s, t, &r);
		f[t] = (row_fig){ r.type, r.bytes, r.loss, r.prov, r.pinned, r.fell_back };
	}
	return f;
}

/* pj_session_last_changed after a change from rows `was`: unless it says
 * "all", every tensor whose row differs is in the list. */
static void check_changed(const pj_session *s, const char *what, const row_fig *was, uint64_t plan_gen0)
{
	const size_t n = pj_session_model(s)->cat.n;
	const size_t *ts;
	bool all;
	size_t nc = pj_session_last_changed(s, &ts, &all);
	row_fig *now = rows_of(s);
	uint8_t *in = calloc(n ? n : 1, 1);
	size_t bad = 0, differ = 0;
	for (size_t k = 0; !all && k < nc; k++)
		if (ts[k] < n)
			in[ts[k]] = 1;
		else
			bad++;
	for (size_t t = 0; t < n; t++) {
		const bool d = was[t].type != now[t].type || was[t].bytes != now[t].bytes || was[t].loss != now[t].loss ||
		               was[t].prov != now[t].prov || was[t].pinned != now[t].pinned ||
		               was[t].fell_back != now[t].fell_back;
		differ += d;
		if (d && !all && !in[t]) {
			if (!bad)
				tap_diag("%s: %s changed but is not reported", what, pj_session_model(s)->cat.t[t].name);
			bad++;
		}
	}
	ok(!bad && pj_session_plan_generation(s) > plan_gen0 && (all ? nc == 0 : nc >= (differ ? 1u : 0u)),
	   "%s: the changed tensors are reported (%s%zu, %zu rows differ)", what, all ? "all, " : "", nc, differ);
	free(now);
	free(in);
}

typedef pj_status (*action_fn)(pj_session *s, void *arg, pj_error *err);

/* Runs an action, then undo (state as before), redo (state as after). */
static void check_undo(pj_session *s, const char *what, action_fn fn, void *arg)
{
	pj_error e;
	size_t applied0;
	const size_t n0 = pj_session_history(s, &applied0);
	(void)n0;
	char *before = state_of(s);
	row_fig *rows0 = rows_of(s);
	uint64_t g0 = pj_session_plan_generation(s);
	pj_status st = fn(s, arg, &e);
	if (!ok(st == PJ_OK, "%s", what)) {
		tap_diag("%s", e.msg);
		free(before);
		free(rows0);
		return;
	}
	check_changed(s, what, rows0, g0);
	row_fig *rows1 = rows_of(s);
	g0 = pj_session_plan_generation(s);
	size_t applied1;
	pj_session_history(s, &applied1);
	char *after = state_of(s);
	ok(applied1 == applied0 + 1 && strcmp(before, after) != 0, "%s: one step that changes the plan (%s)", what,
	   pj_session_undo_label(s) ? pj_session_undo_label(s) : "-");
	check_consistent(s, what);
	st = pj_session_undo(s, &e);
	char *undone = state_of(s);
	ok(!st && strcmp(before, undone) == 0, "%s: undo restores the plan", what);
	check_consistent(s, "undo");
	check_changed(s, "undo", rows1, g0);
	free(rows1);
	g0 = pj_session_plan_generation(s);
	st = pj_session_redo(s, &e);
	char *redone = state_of(s);
	ok(!st && strcmp(after, redone) == 0, "%s: redo repeats it", what);
	check_changed(s, "redo", rows0, g0);
	free(rows0);
	free(before);
	free(after);
	free(undone);
	free(redone);
}

static ptrdiff_t find_role(const pj_session *s, pj_role role, int layer)
{
	const pj_model *m = pj_session_model(s);
	for (size_t t = 0; t < m->cat.n; t++)
		if (m->cat.t[t].role == role && (layer < 0 || m->cat.t[t].layer == layer))
			return (ptrdiff_t)t;
	return -1;
}

/* a MoE layer (the last one: deepseek3's first layer is dense) */
static int moe_layer(const pj_session *s)
{
	const pj_model *m = pj_session_model(s);
	return m->arch.n_layers - 1;
}

/* ---- actions for check_undo ----------------------------------------------------------- */

typedef struct targ {
	size_t t;
	pj_dtype type;
	int dir;
	const char *text;
	size_t pos, to;
	pj_solve_target tg;
} targ;

static pj_status a_set(pj_session *s, void *a, pj_error *e) { return pj_session_set_type(s, ((targ *)a)->t, ((targ *)a)->type, e); }
static pj_status a_set_sel(pj_session *s, void *a, pj_error *e) { return pj_session_set_type_sel(s, ((targ *)a)->type, e); }
static pj_status a_step(pj_session *s, void *a, pj_error *e) { return pj_session_step(s, ((targ *)a)->t, ((targ *)a)->dir, e); }
static pj_status a_step_sel(pj_session *s, void *a, pj_error *e) { return pj_session_step_sel(s, ((targ *)a)->dir, e); }
static pj_status a_pin(pj_session *s, void *a, pj_error *e) { return pj_session_pin(s, ((targ *)a)->t, ((targ *)a)->dir > 0, e); }
static pj_status a_pin_sel(pj_session *s, void *a, pj_error *e) { return pj_session_pin_sel(s, ((targ *)a)->dir > 0, e); }
static pj_status a_revert(pj_session *s, void *a, pj_error *e) { return pj_session_revert(s, ((targ *)a)->t, e); }
static pj_status a_revert_sel(pj_session *s, void *a, pj_error *e) { (void)a; return pj_session_revert_sel(s, e); }
static pj_status a_preset(pj_session *s, void *a, pj_error *e) { return pj_session_apply_preset(s, ((targ *)a)->text, (unsigned)((targ *)a)->dir, e); }
static pj_status a_rule_add(pj_session *s, void *a, pj_error *e) { return pj_session_rule_add(s, ((targ *)a)->pos, ((targ *)a)->text, e); }
static pj_status a_rule_rm(pj_session *s, void *a, pj_error *e) { return pj_session_rule_remove(s, ((targ *)a)->pos, e); }
static pj_status a_rule_repl(pj_session *s, void *a, pj_error *e) { return pj_session_rule_replace(s, ((targ *)a)->pos, ((targ *)a)->text, e); }
static pj_status a_rule_move(pj_session *s, void *a, pj_error *e) { return pj_session_rule_move(s, ((targ *)a)->pos, ((targ *)a)->to, e); }
static pj_status a_rule_sel(pj_session *s, void *a, pj_error *e) { return pj_session_rule_from_selection(s, ((targ *)a)->type, NULL, e); }
static pj_status a_load(pj_session *s, void *a, pj_error *e) { return pj_session_load_plan(s, ((targ *)a)->text, NULL, e); }
static pj_status a_solve(pj_session *s, void *a, pj_error *e) { return pj_session_solve(s, &((targ *)a)->tg, NULL, e); }

/* ---- the tests ------------------------------------------------------------------------- */

static void test_ladder(void)
{
	is_int(pj_ladder_step(false, PJ_DT_Q4_K, 1), PJ_DT_Q5_K, "ladder: Q4_K up is Q5_K");
	is_int(pj_ladder_step(false, PJ_DT_Q4_K, -1), PJ_DT_Q3_K, "ladder: Q4_K down is Q3_K");
	is_int(pj_ladder_step(true, PJ_DT_Q4_K, -1), PJ_DT_IQ4_XS, "ladder with imatrix: Q4_K down is IQ4_XS");
	/* by bits per weight: Q2_K 2.625, IQ2_S 2.5625, IQ2_XS 2.3125, IQ2_XXS 2.0625, IQ1_M 1.75, IQ1_S 1.5625 */
	static const pj_dtype low[] = { PJ_DT_Q2_K, PJ_DT_IQ2_S, PJ_DT_IQ2_XS, PJ_DT_IQ2_XXS, PJ_DT_IQ1_M, PJ_DT_IQ1_S };
	for (size_t i = 0; i + 1 < sizeof low / sizeof low[0]; i++) {
		is_int(pj_ladder_step(true, low[i], -1), low[i + 1], "ladder with imatrix: %s down is %s",
		       pj_dtype_name(low[i]), pj_dtype_name(low[i + 1]));
		is_int(pj_ladder_step(true, low[i + 1], 1), low[i], "ladder with imatrix: %s up is %s",
		       pj_dtype_name(low[i + 1]), pj_dtype_name(low[i]));
	}
	is_int(pj_ladder_step(true, PJ_DT_IQ1_S, -1), PJ_DT_IQ1_S, "ladder with imatrix: IQ1_S is the bottom");
	is_int(pj_ladder_step(false, PJ_DT_F16, 1), PJ_DT_F16, "ladder: F16 is the top");
	is_int(pj_ladder_step(false, PJ_DT_Q2_K, -1), PJ_DT_Q2_K, "ladder: Q2_K is the bottom");
	is_int(pj_ladder_step(false, PJ_DT_Q5_0, -1), PJ_DT_Q4_K, "ladder: off-ladder Q5_0 steps down by bits");
	is_int(pj_ladder_step(false, PJ_DT_BF16, -1), PJ_DT_Q8_0, "ladder: BF16 steps down to Q8_0");
	ok(strstr(pj_loss_formula(), "w_role") != NULL, "the loss formula is documented for the UI");
}

static void test_totals_and_groups(pj_session *s, const char *label)
{
	pj_error e;
	const pj_model *m = pj_session_model(s);
	pj_stotals t0, t1;
	pj_session_totals(s, &t0);
	const pj_plan *p = pj_session_plan(s);
	ok(t0.src_bytes == p->src_bytes && t0.out_bytes == p->out_bytes && t0.src_bytes > t0.out_bytes,
	   "%s: header totals are the plan's (%llu -> %llu bytes, %.2f bpw)", label,
	   (unsigned long long)t0.src_bytes, (unsigned long long)t0.out_bytes, t0.bpw);
	ok(t0.kv_bytes == pj_plan_kv_bytes(&m->arch, t0.kv_ctx, PJ_DT_F16) && t0.kv_bytes > 0,
	   "%s: KV cache at %lld tokens F16", label, (long long)t0.kv_ctx);
	pj_session_set_kv(s, 1024, PJ_DT_Q8_0);
	pj_session_totals(s, &t1);
	ok(t1.kv_bytes == pj_plan_kv_bytes(&m->arch, 1024, PJ_DT_Q8_0) && t1.kv_bytes < t0.kv_bytes * 2,
	   "%s: KV cache follows ctx and cache type", label);
	ok(!t0.dirty && t0.undo_steps == 0, "%s: a new session is clean", label);

	/* everything at Q8_0: the experts read "8xQ8_0" */
	pj_status st = pj_session_apply_preset(s, "pure:Q8_0", 0, &e);
	ok(!st, "%s: preset pure:Q8_0", label);
	const int L = moe_layer(s);
	pj_sagg a;
	pj_session_agg_experts(s, PJ_COMP_TEXT, L, &a);
	const int E = m->arch.n_experts;
	char buf[200], want[64];
	pj_sagg_summary_ex(&a, true, buf, sizeof buf);
	snprintf(want, sizeof want, "%d experts: %dxQ8_0,", E, E);
	ok(a.n_experts == E && E > 1, "%s: layer %d has %d experts", label, L, a.n_experts);
	like(buf, want, "%s: collapsed experts summary", label);

	/* one expert's down projection to Q4_K: total moves by exactly its bytes */
	ptrdiff_t x = find_role(s, PJ_ROLE_EXP_DOWN, L);
	ok(x >= 0, "%s: an expert down projection in layer %d", label, L);
	const pj_tensor *tn = &m->cat.t[x];
	pj_stotals before, after;
	pj_session_totals(s, &before);
	const uint64_t old_b = pj_session_entry(s, (size_t)x)->bytes;
	bool fok;
	const pj_dtype wt = pj_plan_shape_fallback(PJ_DT_Q4_K, tn->ne[0], &fok);
	uint64_t new_b;
	pj_dtype_bytes(wt, (uint64_t)pj_tensor_nelem(tn), &new_b);
	st = pj_session_set_type(s, (size_t)x, PJ_DT_Q4_K, &e);
	pj_session_totals(s, &after);
	ok(!st && after.out_bytes == before.out_bytes - old_b + new_b && new_b < old_b,
	   "%s: one expert to Q4_K: total changes by exactly %lld bytes", label, (long long)new_b - (long long)old_b);
	ok(after.dirty && after.undo_steps == before.undo_steps + 1, "%s: an edit makes the session dirty", label);
	pj_session_agg_experts(s, PJ_COMP_TEXT, L, &a);
	pj_sagg_summary_ex(&a, true, buf, sizeof buf);
	if (tn->n_experts > 1)  /* GGUF: the stacked tensor is every expert's */
		snprintf(want, sizeof want, "%d experts: %dxQ8_0+%s,", E, E, pj_dtype_name(wt));
	else
		snprintf(want, sizeof want, "%d experts: %dxQ8_0 1xQ8_0+%s,", E, E - 1, pj_dtype_name(wt));
	like(buf, want, "%s: summary after one expert changed", label);
	uint32_t cnt = 0;
	for (size_t i = 0; i < a.n_labels; i++)
		cnt += a.labels[i].count;
	ok(cnt == (uint32_t)E, "%s: expert labels count every expert once", label);
	pj_srow r;
	pj_session_row(s, (size_t)x, &r);
	ok(r.type == wt && r.prov == PJ_PROV_MANUAL && r.bytes == new_b && !r.pinned, "%s: row data of the edited tensor",
	   label);
	pj_session_undo(s, NULL);
	pj_session_totals(s, &after);
	ok(after.out_bytes == before.out_bytes, "%s: undo restores the total", label);
	pj_session_redo(s, NULL);

	/* layer aggregate = sum of the layer's rows */
	pj_session_agg_layer(s, PJ_COMP_TEXT, L, &a);
	uint64_t sum = 0;
	size_t nt = 0;
	for (size_t t = 0; t < m->cat.n; t++)
		if (m->cat.t[t].layer == L && m->cat.t[t].comp == PJ_COMP_TEXT) {
			sum += pj_session_entry(s, t)->bytes;
			nt++;
		}
	ok(a.bytes == sum && a.n_tensors == nt, "%s: layer %d aggregate: %zu tensors, %llu bytes", label, L, nt,
	   (unsigned long long)sum);

	/* the header after a preset equals a fresh plan of that preset (--batch --dry-run) */
	st = pj_session_apply_preset(s, "Q4_K_M", 0, &e);
	pj_plan fresh;
	pj_plan_init(&fresh, m, "Q4_K_M", false, &e);
	pj_session_totals(s, &after);
	ok(!st && after.out_bytes == fresh.out_bytes && fabs(after.bpw - pj_plan_bpw(&fresh)) < 1e-12,
	   "%s: after preset Q4_K_M the header equals the preset's plan", label);
	pj_plan_free(&fresh);
	check_consistent(s, label);
}

static void test_selection(pj_session *s, const char *label)
{
	pj_error e;
	const pj_model *m = pj_session_model(s);
	const int L = moe_layer(s);
	size_t n, want = 0;
	for (size_t t = 0; t < m->cat.n; t++)
		want += strstr(m->cat.t[t].name, "down") != NULL;
	n = 0;
	pj_status st = pj_session_tag_regex(s, "down", PJ_TAG_SET, &n, &e);
	ok(!st && n == want && pj_session_n_tagged(s) == want && want > 0, "%s: tag by regex 'down': %zu", label, want);
	ok(pj_session_tag_regex(s, "([", PJ_TAG_SET, &n, &e) == PJ_EUSAGE, "%s: a bad regex is refused", label);
	size_t ex = 0, lay = 0;
	for (size_t t = 0; t < m->cat.n; t++)
		if (m->cat.t[t].layer == L && m->cat.t[t].comp == PJ_COMP_TEXT) {
			lay++;
			ex += pj_role_info_of(m->cat.t[t].role)->group == PJ_RG_EXPERT;
		}
	ok(pj_session_tag_layer(s, PJ_COMP_TEXT, L, PJ_TAG_SET) == lay && pj_session_n_tagged(s) == lay,
	   "%s: tag layer %d: %zu tensors", label, L, lay);
	ok(pj_session_tag_experts(s, PJ_COMP_TEXT, L, PJ_TAG_REMOVE) == ex && pj_session_n_tagged(s) == lay - ex,
	   "%s: untag its experts: %zu left", label, lay - ex);
	ok(pj_session_tag_experts(s, PJ_COMP_TEXT, L, PJ_TAG_SET) == ex && ex > 0, "%s: tag experts of layer %d: %zu",
	   label, L, ex);
	size_t nr = pj_session_tag_role(s, PJ_ROLE_ATTN_Q, PJ_TAG_ADD);
	ok(nr + ex == pj_session_n_tagged(s) || nr == 0, "%s: add a role: %zu", label, nr);
	size_t list[4096];
	const size_t nl = pj_session_tagged_list(s, list, 4096);
	bool asc = nl == pj_session_n_tagged(s);
	for (size_t i = 1; i < nl && i < 4096; i++)
		asc &= list[i] > list[i - 1];
	ok(asc, "%s: tagged list ascending, complete", label);
	pj_session_tag_clear(s);
	ok(pj_session_n_tagged(s) == 0, "%s: clear", label);
	ok(pj_session_tag_role_group(s, PJ_RG_EXPERT, PJ_TAG_SET) > 0 && pj_session_tag_component(s, PJ_COMP_TEXT, PJ_TAG_ADD) > 0,
	   "%s: tag a role group and a component", label);
	pj_session_tag_clear(s);

	/* rule from selection: the expert down projections of layers 1 and 2 */
	for (size_t t = 0; t < m->cat.n; t++)
		if (m->cat.t[t].role == PJ_ROLE_EXP_DOWN && (m->cat.t[t].layer == 1 || m->cat.t[t].layer == 2))
			pj_session_tag(s, t, true);
	char *re = pj_session_selection_regex(s);
	ok(re != NULL, "%s: selection regex %s", label, re ? re : "(null)");
	/* qwen3moe: layer 0 has experts too, so the layers are listed; deepseek3:
	 * layer 0 is dense, any layer number selects the same tensors */
	const bool dense0 = m->arch.first_dense > 0;
	if (m->format == PJ_FMT_GGUF)
		is_str(re, dense0 ? "^blk\\.[0-9]+\\.ffn_down_exps\\.weight$" : "^blk\\.(1|2)\\.ffn_down_exps\\.weight$",
		       "%s: compact regex over layers", label);
	else
		is_str(re, dense0 ? "^model\\.layers\\.[0-9]+\\.mlp\\.experts\\.[0-9]+\\.down_proj\\.weight$"
		                  : "^model\\.layers\\.(1|2)\\.mlp\\.experts\\.[0-9]+\\.down_proj\\.weight$",
		       "%s: compact regex over layers and experts", label);
	regex_t rx;
	size_t hits = 0, wrong = 0;
	if (re && !regcomp(&rx, re, REG_EXTENDED | REG_NOSUB)) {
		for (size_t t = 0; t < m->cat.n; t++) {
			const bool hit = regexec(&rx, m->cat.t[t].name, 0, NULL, 0) == 0;
			hits += hit;
			wrong += hit != pj_session_tagged(s, t);
		}
		regfree(&rx);
	}
	ok(hits == pj_session_n_tagged(s) && !wrong, "%s: the regex matches exactly the %zu tagged tensors", label,
	   pj_session_n_tagged(s));
	free(re);

	/* all experts of a layer: the projection names become one alternation */
	pj_session_tag_experts(s, PJ_COMP_TEXT, L, PJ_TAG_SET);
	re = pj_session_selection_regex(s);
	char wre[200];
	if (m->format == PJ_FMT_GGUF)
		snprintf(wre, sizeof wre, "^blk\\.%d\\.(ffn_down_exps|ffn_gate_exps|ffn_up_exps)\\.weight$", L);
	else
		snprintf(wre, sizeof wre,
		         "^model\\.layers\\.%d\\.mlp\\.experts\\.[0-9]+\\.(down_proj|gate_proj|up_proj)\\.weight$", L);
	is_str(re, wre, "%s: all experts of layer %d as one pattern", label, L);
	free(re);

	/* a scattered selection still round-trips */
	pj_session_tag_clear(s);
	for (size_t t = 0; t < m->cat.n; t += 7)
		pj_session_tag(s, t, true);
	re = pj_session_selection_regex(s);
	hits = wrong = 0;
	if (re && !regcomp(&rx, re, REG_EXTENDED | REG_NOSUB)) {
		for (size_t t = 0; t < m->cat.n; t++) {
			const bool hit = regexec(&rx, m->cat.t[t].name, 0, NULL, 0) == 0;
			hits += hit;
			wrong += hit != pj_session_tagged(s, t);
		}
		regfree(&rx);
	}
	ok(hits == pj_session_n_tagged(s) && !wrong, "%s: every 7th tensor: regex exact (%zu chars)", label,
	   re ? strlen(re) : 0);
	free(re);
	pj_session_tag_clear(s);
}

static void test_undo_all(pj_session *s, const char *label)
{
	const pj_model *m = pj_session_model(s);
	char what[128];
	const int L = moe_layer(s);
	const size_t xd = (size_t)find_role(s, PJ_ROLE_EXP_DOWN, L);
	const size_t av = (size_t)find_role(s, PJ_ROLE_ATTN_V, -1) != (size_t)-1 ? (size_t)find_role(s, PJ_ROLE_ATTN_V, -1)
	                                                                      : (size_t)find_role(s, PJ_ROLE_MLA_KV_B, -1);
	targ a = { 0 };
#define U(name, fn) (snprintf(what, sizeof what, "%s: %s", label, name), check_undo(s, what, fn, &a))
	a.text = "Q5_K_M";
	U("preset Q5_K_M", a_preset);
	a.t = xd;
	a.type = PJ_DT_Q8_0;
	U("set type", a_set);
	a.dir = 1;
	U("step up", a_step);
	a.dir = -1;
	U("step down", a_step);
	a.dir = 1;
	U("pin", a_pin);
	a.dir = 0;
	U("unpin", a_pin);
	U("revert", a_revert);
	pj_session_tag_experts(s, PJ_COMP_TEXT, L, PJ_TAG_SET);
	pj_session_tag(s, av, true);
	a.type = PJ_DT_Q6_K;
	U("set type of the selection", a_set_sel);
	a.dir = -1;
	U("step the selection down", a_step_sel);
	a.dir = 1;
	U("pin the selection", a_pin_sel);
	U("revert the selection", a_revert_sel);
	a.type = PJ_DT_Q5_K;
	U("rule from the selection", a_rule_sel);
	{
		const pj_plan_entry *e = pj_session_entry(s, xd);
		ok(e->prov == PJ_PROV_RULE && e->requested == PJ_DT_Q5_K, "%s: the rule sets the tagged tensors", label);
	}
	pj_session_tag_clear(s);
	a.pos = 0;
	a.text = "attn_k=Q8_0";
	U("add a rule", a_rule_add);
	a.text = "role:ffn_down_exps=Q2_K";
	a.pos = 99;
	U("append a rule", a_rule_add);
	a.pos = 0;
	a.text = "attn=Q6_K";
	U("replace a rule", a_rule_repl);
	a.pos = 0;
	a.to = pj_session_rule_count(s) - 1;
	U("move a rule", a_rule_move);
	a.pos = 1;
	U("remove a rule", a_rule_rm);
	a.text = "pure:Q8_0";
	a.dir = 0;
	U("preset pure:Q8_0 (drops rules and overrides)", a_preset);
	ok(pj_session_rule_count(s) == 0, "%s: the preset dropped the rules", label);
	pj_session_undo(s, NULL);
	a.dir = PJ_PRESET_KEEP_RULES | PJ_PRESET_KEEP_OVERRIDES;
	a.text = "Q3_K_M";
	U("preset keeping rules", a_preset);
	ok(pj_session_rule_count(s) > 0, "%s: the rules stay when asked", label);

	/* a plan file */
	char path[300];
	snprintf(path, sizeof path, "%s/plan.json", tmpdir);
	pj_session *o;
	pj_error e;
	pj_session_new((pj_model *)m, &(pj_session_opts){ .base = "Q2_K" }, &o, &e);
	pj_session_rule_add(o, 0, "ffn_up=Q6_K", &e);
	pj_session_set_type(o, xd, PJ_DT_Q8_0, &e);
	pj_session_pin(o, xd, true, &e);
	ok(!pj_session_save_plan(o, path, &e) && !pj_session_dirty(o), "%s: save a plan file (clean after)", label);
	a.text = path;
	U("load a plan file", a_load);
	ok(pj_session_entry(s, xd)->pinned && pj_session_entry(s, xd)->type == PJ_DT_Q8_0, "%s: its pinned override",
	   label);
	pj_session_free(o);

	a.tg = (pj_solve_target){ PJ_SOLVE_BPW, 0, 5.0 };
	U("solver 5 bpw", a_solve);
	ok(pj_session_entry(s, xd)->type == PJ_DT_Q8_0, "%s: the solver left the pinned tensor alone", label);
	size_t nsolver = 0;
	for (size_t t = 0; t < m->cat.n; t++)
		nsolver += pj_session_entry(s, t)->prov == PJ_PROV_SOLVER;
	ok(nsolver > 0, "%s: %zu tensors now say 'solver'", label, nsolver);
	pj_stotals tt;
	pj_session_totals(s, &tt);
	ok(tt.bpw <= 5.0, "%s: %.4f bpw <= 5", label, tt.bpw);

	/* everything undone, everything redone */
	size_t applied;
	const size_t nh = pj_session_history(s, &applied);
	char *top = state_of(s);
	while (pj_session_can_undo(s))
		pj_session_undo(s, NULL);
	pj_session_history(s, &applied);
	ok(applied == 0 && !pj_session_dirty(s), "%s: %zu steps undone: back to the clean start", label, nh);
	check_consistent(s, "all undone");
	while (pj_session_can_redo(s))
		pj_session_redo(s, NULL);
	char *again = state_of(s);
	ok(strcmp(top, again) == 0, "%s: and all redone", label);
	free(top);
	free(again);
	ok(pj_session_undo_label(s) != NULL && pj_session_redo_label(s) == NULL, "%s: labels", label);
	ok(pj_session_redo(s, &e) == PJ_EUSAGE, "%s: nothing to redo", label);
	/* a new action drops the redo tail */
	pj_session_undo(s, NULL);
	pj_session_undo(s, NULL);
	pj_session_set_type(s, xd, PJ_DT_Q6_K, &e);
	ok(!pj_session_can_redo(s), "%s: a new action after undo drops the redo steps", label);
	/* refusals change nothing */
	char *st0 = state_of(s);
	const size_t kept = (size_t)find_role(s, PJ_ROLE_ATTN_NORM, -1) != (size_t)-1
	                            ? (size_t)find_role(s, PJ_ROLE_ATTN_NORM, -1) : (size_t)find_role(s, PJ_ROLE_FFN_NORM, -1);
	ok(pj_session_set_type(s, kept, PJ_DT_Q4_K, &e) == PJ_EUSAGE, "%s: a norm cannot be quantized: %s", label, e.msg);
	ok(pj_session_rule_add(s, 0, "x=NOPE", &e) == PJ_EUSAGE, "%s: a bad rule is refused", label);
	ok(pj_session_apply_preset(s, "no-such", 0, &e) == PJ_EUSAGE, "%s: an unknown preset is refused", label);
	char *st1 = state_of(s);
	ok(strcmp(st0, st1) == 0, "%s: refusals change nothing", label);
	free(st0);
	free(st1);
}

static void test_solver(pj_session *s, pj_pool *pool, const char *label)
{
	pj_error e;
	pj_solve_result r;
	pj_session_apply_preset(s, "Q4_K_M", 0, &e);
	char *st0 = state_of(s);
	pj_status st = pj_session_solve(s, &(pj_solve_target){ PJ_SOLVE_BYTES, 1000, 0 }, &r, &e);
	char *st1 = state_of(s);
	ok(st == PJ_EUSAGE && !r.feasible && strstr(e.msg, "infeasible") && strcmp(st0, st1) == 0,
	   "%s: an impossible budget is reported, plan unchanged: %s", label, e.msg);
	free(st0);
	free(st1);
	const uint64_t lo = r.min_bytes;
	st = pj_session_solve(s, &(pj_solve_target){ PJ_SOLVE_BYTES, UINT64_MAX / 2, 0 }, &r, &e);
	const uint64_t hi = r.bytes;
	ok(!st && r.feasible && hi > lo, "%s: the largest useful plan %llu, the smallest %llu", label,
	   (unsigned long long)hi, (unsigned long long)lo);
	pj_session_undo(s, NULL);
	double prev = INFINITY;
	bool within = true, mono = true, applied = true;
	for (int k = 0; k <= 20; k++) {
		const uint64_t b = lo + (hi - lo) * (uint64_t)k / 20;
		st = pj_session_solve(s, &(pj_solve_target){ PJ_SOLVE_BYTES, b, 0 }, &r, &e);
		if (st) {
			tap_diag("budget %llu: %s", (unsigned long long)b, e.msg);
			within = false;
			break;
		}
		pj_stotals tt;
		pj_session_totals(s, &tt);
		within &= r.bytes <= b && tt.out_bytes == r.bytes;
		applied &= fabs(tt.loss - r.loss) <= 1e-9 * (1 + r.loss);
		mono &= r.loss <= prev * (1 + 1e-12);
		prev = r.loss;
		if (pj_session_can_undo(s) && strncmp(pj_session_undo_label(s), "solver", 6) == 0)
			pj_session_undo(s, NULL);
	}
	ok(within, "%s: 21 budgets: each plan fits its budget", label);
	ok(mono, "%s: predicted loss never rises with the budget", label);
	ok(applied, "%s: the applied plan's predicted loss is the solver's", label);

	/* pins are respected */
	const size_t xd = (size_t)find_role(s, PJ_ROLE_EXP_DOWN, moe_layer(s));
	pj_session_set_type(s, xd, PJ_DT_F16, &e);
	pj_session_pin(s, xd, true, &e);
	st = pj_session_solve(s, &(pj_solve_target){ PJ_SOLVE_BYTES, lo + (hi - lo) / 4, 0 }, &r, &e);
	ok(!st && pj_session_entry(s, xd)->type == PJ_DT_F16 && pj_session_entry(s, xd)->pinned,
	   "%s: a pinned tensor keeps its type", label);

	/* the background job: one undoable step */
	size_t n0;
	pj_session_history(s, &n0);
	char *before = state_of(s);
	pj_stotals tt;
	pj_session_totals(s, &tt);
	const double mid_bpw = (double)(lo + (hi - lo) / 3) * 8.0 / (double)tt.n_elements;
	pj_solve_job *j = pj_session_solve_start(s, pool, &(pj_solve_target){ PJ_SOLVE_BPW, 0, mid_bpw }, &e);
	ok(j != NULL, "%s: solver job started", label);
	st = pj_solve_job_result(j, &r, &e);
	pj_progress_snap ps;
	pj_progress_snapshot(pj_solve_job_progress(j), &ps);
	ok(!st && pj_solve_job_finished(j) && ps.finished && ps.items_done == ps.items_total,
	   "%s: job finished, progress %llu/%llu: %s", label, (unsigned long long)ps.items_done,
	   (unsigned long long)ps.items_total, r.message);
	st = pj_session_solve_apply(s, j, &e);
	size_t n1;
	pj_session_history(s, &n1);
	pj_session_totals(s, &tt);
	ok(!st && n1 == n0 + 1 && tt.bpw <= mid_bpw, "%s: applied as one step, %.3f bpw <= %.3f", label, tt.bpw, mid_bpw);
	pj_session_undo(s, NULL);
	char *after = state_of(s);
	ok(strcmp(before, after) == 0, "%s: undone in one step", label);
	free(before);
	free(after);
	pj_solve_job_free(j);

	/* the plan changes under a running job: its result is refused */
	j = pj_session_solve_start(s, pool, &(pj_solve_target){ PJ_SOLVE_BPW, 0, 4.0 }, &e);
	pj_session_set_type(s, xd, PJ_DT_Q8_0, &e);
	ok(pj_session_solve_apply(s, j, &e) == PJ_EUSAGE, "%s: stale solver result refused: %s", label, e.msg);
	pj_solve_job_free(j);
	/* cancel */
	j = pj_session_solve_start(s, pool, &(pj_solve_target){ PJ_SOLVE_BPW, 0, 4.0 }, &e);
	pj_solve_job_cancel(j);
	st = pj_solve_job_result(j, &r, &e);
	ok(st == PJ_OK || st == PJ_ECANCELED, "%s: a cancelled job ends (%s)", label, pj_status_name(st));
	pj_solve_job_free(j);
	/* an infeasible job */
	j = pj_session_solve_start(s, pool, &(pj_solve_target){ PJ_SOLVE_BPW, 0, 0.01 }, &e);
	ok(pj_solve_job_result(j, &r, &e) == PJ_EUSAGE && !r.feasible, "%s: infeasible job: %s", label, r.message);
	ok(pj_session_solve_apply(s, j, &e) == PJ_EUSAGE, "%s: an infeasible result is not applied", label);
	pj_solve_job_free(j);
}

static void test_measure(pj_session *s, pj_pool *pool, const char *label)
{
	pj_error e;
	const pj_model *m = pj_session_model(s);
	pj_session_apply_preset(s, "pure:Q4_K", 0, &e);
	const size_t xd = (size_t)find_role(s, PJ_ROLE_EXP_DOWN, moe_layer(s));
	pj_srow r0, r1;
	pj_session_row(s, xd, &r0);
	ok(r0.loss_estimated && isnan(r0.rel_err) && r0.loss > 0, "%s: unmeasured: loss from the prior", label);
	pj_mtensor mt;
	memset(&mt, 0, sizeof mt);
	mt.tensor = xd;
	mt.state = PJ_MS_DONE;
	const pj_dtype tys[] = { PJ_DT_Q8_0, PJ_DT_Q4_K, PJ_DT_Q5_0 };
	const double errs[] = { 1e-5, 2e-3, 1e-3 };
	for (size_t k = 0; k < 3; k++) {
		mt.r[k].type = tys[k];
		mt.r[k].state = PJ_MS_DONE;
		mt.r[k].rel_err = errs[k];
	}
	mt.n = 3;
	pj_stotals t0, t1;
	pj_session_totals(s, &t0);
	pj_session_put_measure(s, &mt);
	pj_session_row(s, xd, &r1);
	pj_session_totals(s, &t1);
	const pj_dtype planned = r1.type;
	double want = NAN;
	for (size_t k = 0; k < 3; k++)
		if (tys[k] == planned)
			want = errs[k];
	ok(r1.rel_err == want && !r1.loss_estimated, "%s: measured error shown for the planned %s", label,
	   pj_dtype_name(planned));
	ok(fabs((t1.loss - t0.loss) - (r1.loss - r0.loss)) < 1e-12 && t1.n_measured == t0.n_measured + 1,
	   "%s: the total moves by the tensor's loss change", label);
	pj_scand c[32];
	const size_t nc = pj_session_candidates(s, xd, c, 32);
	bool sorted = nc > 3, planned_one = false;
	for (size_t i = 0; i < nc && i < 32; i++) {
		if (i)
			sorted &= c[i].bpw <= c[i - 1].bpw + 1e-9 || c[i].written != c[i].type;
		planned_one |= c[i].planned;
		if (c[i].type == PJ_DT_Q8_0)
			ok(c[i].rel_err == 1e-5 && !c[i].estimated, "%s: candidate Q8_0 measured", label);
	}
	ok(sorted && planned_one, "%s: %zu candidates, biggest first, the planned one marked", label, nc);

	/* refit: a check that measured twice the prediction */
	pj_session_totals(s, &t0);
	pj_session_record_check(s, 2 * t0.loss);
	ok(!pj_session_refit(s, &e), "%s: refit", label);
	pj_session_totals(s, &t1);
	ok(fabs(t1.loss / t0.loss - 2) < 0.01 && t1.loss_checked == 2 * t0.loss,
	   "%s: after the refit the prediction matches the check (%.4g -> %.4g)", label, t0.loss, t1.loss);
	double sc[PJ_RG_COUNT];
	pj_session_loss_scales(s, sc);
	ok(sc[PJ_RG_EXPERT] > 1.5, "%s: the expert group's scale rose to %.3f", label, sc[PJ_RG_EXPERT]);

	/* a real measurement job on a few tensors, results streamed in */
	size_t order[4], n = 0;
	for (size_t t = 0; t < m->cat.n && n < 4; t++)
		if (pj_session_entry(s, t)->quantizable && m->cat.t[t].role != PJ_ROLE_EXP_DOWN)
			order[n++] = t;
	pj_status st = pj_session_measure_start(s, pool, NULL, order, n, &e);
	ok(!st, "%s: measurement job started on %zu tensors", label, n);
	size_t got = 0;
	for (int spin = 0; spin < 60000 && got < n; spin++) {
		got += pj_session_poll(s);
		if (got < n)
			usleep(1000);
	}
	const pj_progress *pr = pj_session_measure_progress(s);
	ok(got == n && pr, "%s: %zu results came in", label, got);
	bool measured = true;
	for (size_t i = 0; i < n; i++) {
		pj_srow r;
		pj_session_row(s, order[i], &r);
		measured &= !r.loss_estimated && r.rel_err >= 0;
	}
	ok(measured, "%s: their rows show measured errors", label);
	check_consistent(s, "after measurements");
}

static void test_autosave(pj_session *s, pj_model *other_m, const char *label)
{
	pj_error e;
	pj_model *m = pj_session_model(s);
	char dir[300];
	snprintf(dir, sizeof dir, "%s/state-%d", tmpdir, (int)m->format);
	pj_session_apply_preset(s, "Q4_K_M", 0, &e);
	pj_session_rule_add(s, 0, "attn_k=Q8_0", &e);
	const size_t xd = (size_t)find_role(s, PJ_ROLE_EXP_DOWN, moe_layer(s));
	pj_session_set_type(s, xd, PJ_DT_Q6_K, &e);
	pj_session_pin(s, xd, true, &e);
	pj_session_solve(s, &(pj_solve_target){ PJ_SOLVE_BPW, 0, 4.5 }, NULL, &e);
	pj_session_set_kv(s, 2048, PJ_DT_Q4_0);
	pj_session_undo(s, NULL);   /* a redo step in the file too */
	ok(pj_session_autosave_due(s), "%s: autosave due after changes", label);
	const char view[] = "view\0state\1bytes";
	pj_status st = pj_session_autosave(s, dir, view, sizeof view, &e);
	ok(!st && !pj_session_autosave_due(s), "%s: autosaved", label);
	char *saved = state_of(s);
	size_t applied, nh = pj_session_history(s, &applied);

	pj_session *r;
	pj_session_new(m, NULL, &r, &e);
	pj_session_saved info;
	char *msg = NULL;
	st = pj_session_saved_probe(r, dir, &info, &msg);
	ok(!st && info.steps == nh && info.applied == applied && strcmp(info.base, "Q4_K_M") == 0,
	   "%s: probe finds it: %zu steps, base %s, last '%s'", label, info.steps, info.base, info.last);
	free(msg);
	void *vb = NULL;
	size_t vl = 0;
	st = pj_session_restore(r, dir, &vb, &vl, &msg, &e);
	char *restored = state_of(r);
	ok(!st && strcmp(saved, restored) == 0, "%s: restored plan, overrides and provenance", label);
	ok(vl == sizeof view && vb && memcmp(vb, view, vl) == 0, "%s: the view bytes come back", label);
	free(vb);
	free(msg);
	pj_stotals ta, tb;
	pj_session_totals(s, &ta);
	pj_session_totals(r, &tb);
	ok(ta.kv_ctx == tb.kv_ctx && ta.kv_type == tb.kv_type && ta.out_bytes == tb.out_bytes && ta.dirty == tb.dirty &&
	   fabs(ta.loss - tb.loss) < 1e-12, "%s: totals and settings", label);
	size_t applied2, nh2 = pj_session_history(r, &applied2);
	ok(nh2 == nh && applied2 == applied && pj_session_can_redo(r), "%s: history restored (%zu/%zu)", label, applied2,
	   nh2);
	pj_session_undo(s, NULL);
	pj_session_undo(r, NULL);
	pj_session_redo(s, NULL);
	pj_session_redo(r, NULL);
	pj_session_redo(s, NULL);
	pj_session_redo(r, NULL);
	char *a = state_of(s), *b = state_of(r);
	ok(strcmp(a, b) == 0, "%s: undo/redo after a restore behaves as before", label);
	free(a);
	free(b);
	check_consistent(r, "restored");

	/* corrupt files are ignored with a message, the session untouched */
	char path[4096];
	pj_session_autosave_path(s, dir, path, sizeof path, &e);
	FILE *f = fopen(path, "rb");
	fseek(f, 0, SEEK_END);
	const long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *img = malloc((size_t)len);
	ok(fread(img, 1, (size_t)len, f) == (size_t)len, "%s: autosave file of %ld bytes", label, len);
	fclose(f);
	static const struct { const char *what; long off; int trunc; } BAD[] = {
		{ "a flipped byte", -1, 0 }, { "truncated", 0, 1 }, { "a bad header", 3, 0 }, { "empty", 0, 2 },
	};
	char *r0 = state_of(r);
	for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
		unsigned char *c = malloc((size_t)len);
		memcpy(c, img, (size_t)len);
		long n = len;
		if (BAD[k].off < 0)
			c[len / 2] ^= 0x20;
		else if (!BAD[k].trunc)
			c[BAD[k].off] ^= 0xff;
		if (BAD[k].trunc == 1)
			n = len - 7;
		if (BAD[k].trunc == 2)
			n = 0;
		f = fopen(path, "wb");
		fwrite(c, 1, (size_t)n, f);
		fclose(f);
		free(c);
		msg = NULL;
		st = pj_session_restore(r, dir, NULL, NULL, &msg, &e);
		ok(st == PJ_ENOTFOUND && msg && strstr(msg, "ignored"), "%s: %s file: %s", label, BAD[k].what,
		   msg ? msg : "(no message)");
		free(msg);
	}
	char *r1 = state_of(r);
	ok(strcmp(r0, r1) == 0, "%s: a corrupt autosave changes nothing", label);
	free(r0);
	free(r1);
	/* no file: not found, no message */
	unlink(path);
	msg = NULL;
	ok(pj_session_saved_probe(r, dir, &info, &msg) == PJ_ENOTFOUND && !msg, "%s: no autosave: nothing to offer",
	   label);
	/* another model's file under this model's name */
	if (other_m) {
		pj_session *o;
		pj_session_new(other_m, NULL, &o, &e);
		char opath[4096];
		pj_session_autosave(o, dir, NULL, 0, &e);
		pj_session_autosave_path(o, dir, opath, sizeof opath, &e);
		ok(rename(opath, path) == 0, "%s: plant another model's autosave", label);
		msg = NULL;
		st = pj_session_saved_probe(r, dir, &info, &msg);
		ok(st == PJ_ENOTFOUND && msg && strstr(msg, "another model"), "%s: %s", label, msg ? msg : "(none)");
		free(msg);
		pj_session_free(o);
	}
	/* the background writer: two saves in a row, the file is the newest */
	pj_session_set_type(r, xd, PJ_DT_Q8_0, &e);
	st = pj_session_autosave_async(r, dir, "a", 1, &e);
	pj_session_set_type(r, xd, PJ_DT_Q5_K, &e);
	ok(!st && pj_session_autosave_due(r), "%s: a change after an async autosave is due again", label);
	st = pj_session_autosave_async(r, dir, "b", 1, &e);
	ok(!st && !pj_session_autosave_due(r) && !pj_session_autosave_flush(r, &e), "%s: async autosave written",
	   label);
	char *newest = state_of(r);
	size_t ra, rn = pj_session_history(r, &ra);
	pj_session *q;
	pj_session_new(m, NULL, &q, &e);
	void *qv = NULL;
	size_t qvl = 0;
	msg = NULL;
	st = pj_session_restore(q, dir, &qv, &qvl, &msg, &e);
	char *qs = state_of(q);
	size_t qa, qn = pj_session_history(q, &qa);
	ok(!st && strcmp(qs, newest) == 0 && qn == rn && qa == ra && qvl == 1 && qv && *(char *)qv == 'b',
	   "%s: the async file restores the newest state (%zu steps)", label, qn);
	free(qv);
	free(msg);
	free(qs);
	free(newest);
	pj_session_free(q);
	/* a failing write is reported by the next call, not lost */
	char bad[400];
	snprintf(bad, sizeof bad, "%s/not-a-dir", tmpdir);
	FILE *nf = fopen(bad, "w");
	if (nf)
		fclose(nf);
	pj_session_set_type(r, xd, PJ_DT_Q6_K, &e);
	pj_error e2;
	st = pj_session_autosave_async(r, bad, NULL, 0, &e2);
	if (!st)
		st = pj_session_autosave_flush(r, &e2);
	ok(st != PJ_OK, "%s: an autosave that cannot be written fails (%s)", label, st ? e2.msg : "no error");
	ok(pj_session_autosave_flush(r, &e2) == PJ_OK, "%s: ... and is reported once", label);

	/* the default place */
	char xdg[300], want[4096];
	snprintf(xdg, sizeof xdg, "%s/xdg", tmpdir);
	setenv("XDG_STATE_HOME", xdg, 1);
	st = pj_session_autosave(r, NULL, NULL, 0, &e);
	snprintf(want, sizeof want, "%s/pajamas-tui/%s.session.zst", xdg, pj_session_model_key(r));
	struct stat sb;
	ok(!st && stat(want, &sb) == 0, "%s: default path $XDG_STATE_HOME/pajamas-tui/<key>.session.zst", label);
	ok(!pj_session_autosave_remove(r, NULL, &e) && stat(want, &sb) != 0, "%s: autosave removed", label);
	free(img);
	free(saved);
	free(restored);
	pj_session_free(r);
}

/* ---- row stamps: what a front end keeps incrementally ----------------------------------- */

/* Everything pj_session_row() says that a table shows. */
static bool srow_same(const pj_srow *a, const pj_srow *b)
{
	return a->type == b->type && a->bytes == b->bytes && a->loss == b->loss && a->prov == b->prov &&
	       a->pinned == b->pinned && a->tagged == b->tagged && a->fell_back == b->fell_back &&
	       a->mstate == b->mstate && a->loss_estimated == b->loss_estimated &&
	       (a->rel_err == b->rel_err || (isnan(a->rel_err) && isnan(b->rel_err))) &&
	       strcmp(a->note, b->note) == 0;
}

/* Per (component, layer) sums, as a table's layer rows hold them. */
typedef struct lay_sum {
	uint64_t bytes;
	double loss;
	size_t tagged;
} lay_sum;

static size_t lay_slot(const pj_model *m, size_t t)
{
	const pj_tensor *tn = &m->cat.t[t];
	return tn->layer < 0 ? 0 : 1 + (size_t)tn->comp * (size_t)(m->arch.n_layers + 2) + (size_t)tn->layer;
}

static void lay_add(lay_sum *ls, const pj_srow *r, int sign)
{
	ls->bytes += sign > 0 ? r->bytes : -r->bytes;
	ls->loss += sign * r->loss;
	ls->tagged += sign > 0 ? r->tagged : -(size_t)r->tagged;
}

/* A random walk of edits, tags, measurements, undo and redo.  After each,
 * every row that differs from before is among pj_session_rows_changed()'s
 * (or it says "all"), and per-layer sums kept up to date from those rows
 * only equal a full recomputation; so do the session's totals. */
static void test_row_stamps(pj_session *s, const char *label)
{
	const pj_model *m = pj_session_model(s);
	const size_t n = m->cat.n, slots = 1 + (size_t)PJ_COMP_COUNT * (size_t)(m->arch.n_layers + 2);
	pj_srow *was = calloc(n, sizeof *was);
	size_t *chg = calloc(n, sizeof *chg);
	lay_sum *inc = calloc(slots, sizeof *inc), *full = calloc(slots, sizeof *full);
	for (size_t t = 0; t < n; t++) {
		pj_session_row(s, t, &was[t]);
		lay_add(&inc[lay_slot(m, t)], &was[t], 1);
	}
	const pj_dtype *lad;
	const size_t nl = pj_ladder(false, &lad);
	uint64_t stamp = pj_session_row_stamp(s), rng = 12345;
	size_t missed = 0, n_all = 0, n_some = 0, steps = 300;
	pj_error e;
	for (size_t i = 0; i < steps; i++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		const size_t t = (size_t)(rng >> 33) % n, what = (size_t)(rng >> 20) % 16;
		switch (what) {
		case 0: case 1: pj_session_step(s, t, (rng >> 8) & 1 ? 1 : -1, &e); break;
		case 2: pj_session_set_type(s, t, lad[(rng >> 12) % nl], &e); break;
		case 3: pj_session_pin(s, t, (rng >> 9) & 1, &e); break;
		case 4: pj_session_revert(s, t, &e); break;
		case 5: case 6: pj_session_tag_toggle(s, t); break;
		case 7: pj_session_step_sel(s, (rng >> 8) & 1 ? 1 : -1, &e); break;
		case 8: pj_session_tag_clear(s); break;
		case 9: case 10: pj_session_undo(s, &e); break;
		case 11: pj_session_redo(s, &e); break;
		case 12: pj_session_tag_layer(s, m->cat.t[t].comp, m->cat.t[t].layer, PJ_TAG_ADD); break;
		case 13: {
			pj_mtensor mt;
			memset(&mt, 0, sizeof mt);
			mt.tensor = t;
			mt.state = PJ_MS_DONE;
			mt.n = 3;
			for (size_t k = 0; k < mt.n; k++) {
				mt.r[k].type = lad[(k * 2 + (rng >> 14)) % nl];
				mt.r[k].state = PJ_MS_DONE;
				mt.r[k].rel_err = 1e-4 * (double)(1 + ((rng >> (16 + k)) & 7));
			}
			pj_session_put_measure(s, &mt);
			break;
		}
		case 14: pj_session_apply_preset(s, (rng >> 10) & 1 ? "Q4_K_M" : "Q5_K_S", PJ_PRESET_KEEP_OVERRIDES, &e); break;
		default: pj_session_set_type_sel(s, lad[(rng >> 12) % nl], &e); break;
		}
		bool all;
		size_t nc = pj_session_rows_changed(s, stamp, chg, n, &all);
		uint8_t *in = calloc(n, 1);
		for (size_t k = 0; k < nc && k < n; k++)
			in[chg[k]] = 1;
		n_all += all;
		n_some += !all && nc;
		for (size_t u = 0; u < n; u++) {
			pj_srow now;
			pj_session_row(s, u, &now);
			if (!srow_same(&now, &was[u]) && !all && !in[u]) {
				if (!missed)
					tap_diag("%s: step %zu (%zu): %s changed, not reported", label, i, what, m->cat.t[u].name);
				missed++;
			}
			/* what a front end does: only the reported rows */
			if (all || in[u]) {
				lay_add(&inc[lay_slot(m, u)], &was[u], -1);
				lay_add(&inc[lay_slot(m, u)], &now, 1);
			}
			was[u] = now;
		}
		free(in);
		stamp = pj_session_row_stamp(s);
	}
	ok(!missed && n_some > steps / 2 && n_all > 0,
	   "%s: %zu random changes: every changed row reported (%zu by row, %zu all)", label, steps, n_some, n_all);
	uint64_t bytes = 0;
	double loss = 0;
	for (size_t t = 0; t < n; t++) {
		pj_srow r;
		pj_session_row(s, t, &r);
		lay_add(&full[lay_slot(m, t)], &r, 1);
		bytes += r.bytes;
		loss += r.loss;
	}
	size_t bad = 0;
	for (size_t k = 0; k < slots; k++)
		bad += inc[k].bytes != full[k].bytes || inc[k].tagged != full[k].tagged ||
		       fabs(inc[k].loss - full[k].loss) > 1e-9 * (1 + fabs(full[k].loss));
	pj_stotals tt;
	pj_session_totals(s, &tt);
	ok(!bad && tt.out_bytes == bytes && fabs(tt.loss - loss) <= 1e-9 * (1 + loss) && tt.n_tagged == pj_session_n_tagged(s),
	   "%s: per-layer sums kept from the changed rows and the totals equal a full recomputation (%zu off)", label,
	   bad);
	bool all;
	ok(pj_session_rows_changed(s, pj_session_row_stamp(s), chg, n, &all) == 0 && !all,
	   "%s: nothing changed since the current stamp", label);
	check_consistent(s, "after the random walk");
	free(was);
	free(chg);
	free(inc);
	free(full);
}

/* With an importance matrix the IQ types join the ladder and the solver. */
static void test_imatrix(const char *shared)
{
	char path[8192];
	pj_error e;
	pj_imatrix im;
	pj_model *m = NULL;
	snprintf(path, sizeof path, "%s/golden/llama/imatrix.gguf", shared);
	if (pj_imatrix_load(path, &im, &e)) {
		skip("llama imatrix absent: IQ ladder not checked");
		return;
	}
	snprintf(path, sizeof path, "%s/models/llama/gguf/llama-BF16.gguf", shared);
	if (pj_model_open(path, &m, &e)) {
		ok(0, "llama: open: %s", e.msg);
		pj_imatrix_free(&im);
		return;
	}
	pj_session *s;
	ok(!pj_session_new(m, &(pj_session_opts){ .base = "Q4_K_M", .imatrix = &im, .own_model = true }, &s, &e) &&
	   pj_session_has_imatrix(s), "llama + imatrix: session");
	const size_t q = (size_t)find_role(s, PJ_ROLE_ATTN_Q, 1);
	pj_session_set_type(s, q, PJ_DT_Q4_K, &e);
	pj_session_step(s, q, -1, &e);
	is_int(pj_session_entry(s, q)->requested, PJ_DT_IQ4_XS, "llama + imatrix: Q4_K steps down to IQ4_XS");
	pj_session_set_type(s, q, PJ_DT_IQ3_XXS, &e);
	check_consistent(s, "llama + imatrix: IQ3_XXS (needs the imatrix)");
	pj_stotals tt;
	pj_session_totals(s, &tt);
	pj_solve_result r;
	pj_status st = pj_session_solve(s, &(pj_solve_target){ PJ_SOLVE_BPW, 0, 3.0 }, &r, &e);
	size_t iq = 0;
	for (size_t t = 0; t < m->cat.n; t++) {
		const pj_dtype ty = pj_session_entry(s, t)->type;
		iq += ty == PJ_DT_IQ4_XS || ty == PJ_DT_IQ3_XXS || ty == PJ_DT_IQ1_M;
	}
	ok(!st && iq > 0, "llama + imatrix: the solver at 3 bpw uses IQ types (%zu tensors): %s", iq, r.message);
	check_consistent(s, "llama + imatrix: solver");
	size_t bad[4], out = m->cat.n;
	for (size_t t = 0; t < m->cat.n; t++)
		if (strcmp(m->cat.t[t].name, "output.weight") == 0)
			out = t;
	is_int(pj_session_unweightable(s, bad, 4), 0, "llama + imatrix: every planned type can be written");
	st = pj_session_solve(s, &(pj_solve_target){ PJ_SOLVE_BPW, 0, 1.9 }, &r, &e);
	size_t low = 0, low_out = 0;
	for (size_t t = 0; t < m->cat.n; t++) {
		const pj_dtype ty = pj_session_entry(s, t)->type;
		const bool l = ty == PJ_DT_IQ2_XXS || ty == PJ_DT_IQ2_XS || ty == PJ_DT_IQ1_S;
		low += l;
		low_out += l && (strcmp(m->cat.t[t].name, "output.weight") == 0 || strcmp(m->cat.t[t].name, "token_embd.weight") == 0);
	}
	ok(!st && low > 0 && low_out == 0, "the solver at 1.9 bpw uses IQ2_XXS/IQ2_XS/IQ1_S (%zu tensors), never on "
	   "output or token_embd, which have no importance data: %s", low, r.message);
	is_int(pj_session_unweightable(s, bad, 4), 0, "... so every planned type can be written");
	check_consistent(s, "llama + imatrix: solver at 1.9 bpw");
	ok(pj_session_set_type(s, out, PJ_DT_IQ1_S, &e) == PJ_EUNSUPPORTED && pj_session_entry(s, out)->type != PJ_DT_IQ1_S,
	   "output.weight: IQ1_S by hand refused: %s", e.msg);
	pj_session_revert(s, out, &e);   /* the solver's type: a rule under it */
	ok(!pj_session_rule_add(s, 0, "^output\\.weight$=IQ1_S", &e) && pj_session_unweightable(s, bad, 4) == 1 &&
	   bad[0] == out, "output.weight as IQ1_S by a rule: the imatrix has no data for it, the export would refuse it");
	pj_srow sr;
	pj_session_row(s, out, &sr);
	like(sr.note, "IQ1_S cannot be written without importance data", "... and its row says so");
	pj_session_rule_remove(s, 0, &e);
	pj_session_set_type(s, out, PJ_DT_IQ2_S, &e);
	is_int(pj_session_unweightable(s, bad, 4), 0, "IQ2_S works unweighted: no refusal");
	pj_session_free(s);
	pj_imatrix_free(&im);
}

/* The planner with --imatrix: measurements through the session equal
 * measure.c's weighted run (and differ from the unweighted one); the
 * autosave records the imatrix and a restore with another one, or none,
 * warns. */
static void test_imatrix_measure(const char *shared, pj_pool *pool)
{
	char path[8192], dir[300];
	pj_error e;
	pj_imatrix im, other;
	pj_model *m = NULL;
	snprintf(path, sizeof path, "%s/golden/qwen3moe/imatrix.gguf", shared);
	if (pj_imatrix_load(path, &im, &e)) {
		skip("qwen3moe imatrix absent: session measurement with an imatrix not checked");
		return;
	}
	snprintf(path, sizeof path, "%s/golden/llama/imatrix.gguf", shared);
	const bool have_other = pj_imatrix_load(path, &other, &e) == PJ_OK;
	snprintf(path, sizeof path, "%s/models/qwen3moe/gguf/qwen3moe-BF16.gguf", shared);
	if (pj_model_open(path, &m, &e)) {
		ok(0, "qwen3moe.gguf: open: %s", e.msg);
		pj_imatrix_free(&im);
		return;
	}
	pj_session *s;
	if (!ok(!pj_session_new(m, &(pj_session_opts){ .base = "Q4_K_M", .imatrix = &im }, &s, &e) &&
	        pj_session_imatrix(s) == &im, "qwen3moe + imatrix: session")) {
		pj_model_close(m);
		pj_imatrix_free(&im);
		return;
	}
	/* a dense matrix, an expert stack (per-expert rows), one without data */
	const ptrdiff_t out = pj_session_find(s, "output.weight");
	size_t order[3] = { (size_t)find_role(s, PJ_ROLE_ATTN_Q, 1), (size_t)find_role(s, PJ_ROLE_EXP_DOWN, moe_layer(s)),
	                    (size_t)out };
	const size_t n = out >= 0 ? 3 : 2;
	ok(!pj_session_measure_start(s, pool, NULL, order, n, &e), "qwen3moe + imatrix: measuring %zu tensors", n);
	size_t got = 0;
	for (int spin = 0; spin < 120000 && got < n; spin++) {
		got += pj_session_poll(s);
		if (got < n)
			usleep(1000);
	}
	is_int(got, n, "qwen3moe + imatrix: every result came in");
	pj_mtensor wtd[3], plain[3];
	ok(!pj_measure_run(&m->cat, order, n, &(pj_measure_opts){ .imatrix = &im }, 2, wtd, NULL, &e) &&
	   !pj_measure_run(&m->cat, order, n, &(pj_measure_opts){ .types = NULL }, 2, plain, NULL, &e),
	   "measure.c: weighted and unweighted runs");
	for (size_t i = 0; i < n; i++) {
		const char *name = m->cat.t[order[i]].name;
		pj_scand c[32];
		const size_t nc = pj_session_candidates(s, order[i], c, 32);
		size_t same = 0, measured = 0, differ = 0;
		bool iq3 = false;
		for (size_t k = 0; k < wtd[i].n; k++) {
			const pj_mresult *w = &wtd[i].r[k], *u = pj_mtensor_find(&plain[i], w->type);
			if (w->state != PJ_MS_DONE)
				continue;
			measured++;
			iq3 |= w->type == PJ_DT_IQ3_XXS;
			differ += u && u->state == PJ_MS_DONE && u->rel_err != w->rel_err;
			for (size_t j = 0; j < nc && j < 32; j++)
				same += c[j].type == w->type && c[j].mstate == PJ_MS_DONE && c[j].rel_err == w->rel_err;
		}
		ok(measured > 8 && same == measured, "%s: the session's %zu measured errors equal measure.c's weighted ones",
		   name, same);
		if (i < 2)
			ok(wtd[i].weighted && iq3 && differ > 8,
			   "%s: weighted (IQ3_XXS measured; %zu types differ from unweighted)", name, differ);
		else
			ok(!wtd[i].weighted && differ == 0, "%s: no imatrix data: unweighted, as without one", name);
	}

	/* the autosave knows the imatrix */
	snprintf(dir, sizeof dir, "%s/state-im", tmpdir);
	pj_session_step(s, order[0], -1, &e);
	ok(!pj_session_autosave(s, dir, NULL, 0, &e), "qwen3moe + imatrix: autosaved");
	const pj_imatrix *with[3] = { &im, NULL, have_other ? &other : NULL };
	static const char *const WHAT[3] = { "the same imatrix", "no imatrix", "another imatrix" };
	for (int k = 0; k < 3; k++) {
		if (k == 2 && !have_other) {
			skip("llama imatrix absent: restore with another imatrix not checked");
			continue;
		}
		pj_session *r;
		pj_session_new(m, &(pj_session_opts){ .base = "Q4_K_M", .imatrix = with[k] }, &r, &e);
		pj_session_saved info;
		char *msg = NULL;
		pj_status st = pj_session_saved_probe(r, dir, &info, &msg);
		free(msg);
		msg = NULL;
		ok(!st && strstr(info.imatrix, "qwen3moe/imatrix.gguf") && info.imatrix_differs == (k != 0),
		   "restore with %s: the probe names %s, %s", WHAT[k], info.imatrix, k ? "differs" : "the same");
		st = pj_session_restore(r, dir, NULL, NULL, &msg, &e);
		ok(!st && (k == 0 ? !msg : msg && strstr(msg, "importance matrix")), "restore with %s: %s", WHAT[k],
		   msg ? msg : "no warning");
		free(msg);
		pj_session_free(r);
	}
	pj_session_free(s);
	pj_model_close(m);
	pj_imatrix_free(&im);
	if (have_other)
		pj_imatrix_free(&other);
}

static pj_model *open_model(const char *shared, const char *rel)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/models/%s", shared, rel);
	pj_model *m = NULL;
	pj_error e;
	if (pj_model_open(path, &m, &e)) {
		tap_diag("%s: %s", path, e.msg);
		return NULL;
	}
	return m;
}

/* `+`/`-`, the type menu and manual types on a tensor the imatrix has no
 * data for (qwen3moe's output.weight): never IQ2_XS, IQ2_XXS or IQ1_S, which
 * the export refuses without it; a tensor with data still gets them. */
static bool refused_type(pj_dtype t)
{
	return t == PJ_DT_IQ2_XS || t == PJ_DT_IQ2_XXS || t == PJ_DT_IQ1_S;
}

/* Steps t down from Q2_K to the bottom; returns the bottom, counts the
 * types it went through and those the export refuses unweighted. */
static pj_dtype step_to_bottom(pj_session *s, size_t t, size_t *refused, size_t *visited)
{
	pj_error e;
	pj_session_set_type(s, t, PJ_DT_Q2_K, &e);
	*refused = *visited = 0;
	for (int i = 0; i < 12; i++) {
		const pj_dtype was = pj_session_entry(s, t)->requested;
		pj_session_step(s, t, -1, &e);
		const pj_dtype now = pj_session_entry(s, t)->requested;
		*refused += now != was && refused_type(now);
		*visited += now != was;
	}
	return pj_session_entry(s, t)->requested;
}

static void test_unweightable_steps(const char *shared)
{
	char path[8192];
	pj_error e;
	pj_imatrix im;
	snprintf(path, sizeof path, "%s/golden/qwen3moe/imatrix.gguf", shared);
	if (pj_imatrix_load(path, &im, &e)) {
		skip("qwen3moe imatrix absent: ladder steps on tensors without importance data not checked");
		return;
	}
	static const char *const PATHS[] = { "qwen3moe/gguf/qwen3moe-BF16.gguf", "qwen3moe" };
	for (size_t k = 0; k < sizeof PATHS / sizeof PATHS[0]; k++) {
		pj_model *m = open_model(shared, PATHS[k]);
		pj_session *s;
		if (!ok(m && !pj_session_new(m, &(pj_session_opts){ .base = "Q4_K_M", .imatrix = &im, .own_model = true },
		                             &s, &e), "%s + imatrix: session", PATHS[k])) {
			pj_model_close(m);
			continue;
		}
		const ptrdiff_t o = find_role(s, PJ_ROLE_OUTPUT, -1), q = find_role(s, PJ_ROLE_ATTN_Q, 1);
		if (!ok(o >= 0 && q >= 0, "%s: output.weight and blk.1 attn_q", PATHS[k])) {
			pj_session_free(s);
			continue;
		}
		const size_t out = (size_t)o, aq = (size_t)q;
		size_t bad[4], refused, visited;
		pj_dtype bottom = step_to_bottom(s, out, &refused, &visited);
		ok(refused == 0 && bottom == PJ_DT_IQ1_M && pj_session_unweightable(s, bad, 4) == 0,
		   "%s: the output matrix (no importance data) steps down to %s, never on IQ2_XS/IQ2_XXS/IQ1_S", PATHS[k],
		   pj_dtype_name(bottom));
		pj_session_step(s, out, 1, &e);
		is_int(pj_session_entry(s, out)->requested, PJ_DT_IQ2_S, "%s: ... and from IQ1_M up to IQ2_S", PATHS[k]);
		bottom = step_to_bottom(s, aq, &refused, &visited);
		ok(refused == 3 && bottom == PJ_DT_IQ1_S, "%s: attn_q (with data) passes IQ2_XS IQ2_XXS to IQ1_S (%zu of %zu)",
		   PATHS[k], refused, visited);
		ok(pj_session_set_type(s, out, PJ_DT_IQ2_XXS, &e) == PJ_EUNSUPPORTED &&
		   pj_session_entry(s, out)->requested == PJ_DT_IQ2_S, "%s: IQ2_XXS by hand refused: %s", PATHS[k], e.msg);
		like(e.msg, "IQ2_XXS cannot be written without importance data", "%s: ... saying why", PATHS[k]);
		pj_scand c[32];
		const size_t nc = pj_session_candidates(s, out, c, 32);
		size_t off = 0, off_right = 0;
		for (size_t i = 0; i < nc && i < 32; i++) {
			off += c[i].unweightable;
			off_right += c[i].unweightable && refused_type(c[i].written);
		}
		ok(off == 3 && off_right == 3, "%s: the type menu marks IQ2_XS IQ2_XXS IQ1_S off for the output matrix", PATHS[k]);
		const size_t nq = pj_session_candidates(s, aq, c, 32);
		off = 0;
		for (size_t i = 0; i < nq && i < 32; i++)
			off += c[i].unweightable;
		is_int(off, 0, "%s: ... and none for attn_q", PATHS[k]);
		/* a selection: each tensor skips on its own */
		pj_session_set_type(s, out, PJ_DT_Q2_K, &e);
		pj_session_set_type(s, aq, PJ_DT_Q2_K, &e);
		pj_session_tag(s, out, true);
		pj_session_tag(s, aq, true);
		for (int i = 0; i < 3; i++)
			pj_session_step_sel(s, -1, &e);
		ok(pj_session_entry(s, out)->requested == PJ_DT_IQ1_M && pj_session_entry(s, aq)->requested == PJ_DT_IQ2_XXS,
		   "%s: three steps down for both: output IQ1_M (skips two), attn_q IQ2_XXS", PATHS[k]);
		ok(!pj_session_set_type_sel(s, PJ_DT_IQ1_S, &e) && pj_session_entry(s, aq)->requested == PJ_DT_IQ1_S &&
		   pj_session_entry(s, out)->requested == PJ_DT_IQ1_M && pj_session_unweightable(s, bad, 4) == 0,
		   "%s: IQ1_S for both: attn_q takes it, the output matrix is skipped", PATHS[k]);
		check_consistent(s, PATHS[k]);
		pj_session_free(s);
	}
	pj_imatrix_free(&im);
}

int main(void)
{
	test_ladder();
	const char *shared = tap_shared_dir();
	if (!shared) {
		skip("../shared absent: NO session tests on real models (qwen3moe, deepseek3) were run");
		return done_testing();
	}
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_session.XXXXXX");
	if (!mkdtemp(tmpdir))
		return skip_all("mkdtemp failed");
	pj_pool *pool = pj_pool_new(2, 0);
	static const struct { const char *path, *label; } MODELS[] = {
		{ "qwen3moe", "qwen3moe" },
		{ "qwen3moe/gguf/qwen3moe-BF16.gguf", "qwen3moe.gguf" },
		{ "deepseek3", "deepseek3" },
		{ "deepseek3/gguf/deepseek3-BF16.gguf", "deepseek3.gguf" },
	};
	pj_model *other = open_model(shared, "qwen3");
	for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) {
		pj_model *m = open_model(shared, MODELS[i].path);
		if (!m) {
			ok(0, "%s: open", MODELS[i].label);
			continue;
		}
		pj_session *s;
		pj_error e;
		if (!ok(!pj_session_new(m, &(pj_session_opts){ .base = "Q4_K_M" }, &s, &e), "%s: session", MODELS[i].label)) {
			tap_diag("%s", e.msg);
			pj_model_close(m);
			continue;
		}
		check_consistent(s, MODELS[i].label);
		test_totals_and_groups(s, MODELS[i].label);
		test_selection(s, MODELS[i].label);
		pj_session_free(s);

		pj_session_new(m, &(pj_session_opts){ .base = "Q4_K_M" }, &s, &e);
		test_undo_all(s, MODELS[i].label);
		pj_session_free(s);

		pj_session_new(m, &(pj_session_opts){ .base = "Q4_K_M" }, &s, &e);
		test_row_stamps(s, MODELS[i].label);
		pj_session_free(s);

		pj_session_new(m, NULL, &s, &e);
		test_solver(s, pool, MODELS[i].label);
		test_measure(s, pool, MODELS[i].label);
		pj_session_free(s);

		pj_session_new(m, &(pj_session_opts){ .own_model = true }, &s, &e);
		test_autosave(s, other, MODELS[i].label);
		pj_session_free(s);
	}
	pj_model_close(other);
	test_imatrix(shared);
	test_imatrix_measure(shared, pool);
	test_unweightable_steps(shared);
	pj_pool_free(pool);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmpdir);
	return done_testing();
}
