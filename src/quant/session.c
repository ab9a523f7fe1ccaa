/* session.c - the planner's view-model: plan edits as undoable steps,
 * incremental totals, selection, predicted loss, measurement intake,
 * queries for the UI.  The solver is in solver.c, the autosave in
 * autosave.c.
 *
 * How an edit stays O(changed tensors): the plan is applied once without
 * overrides (pj_plan_apply: base, rules, protections, fallbacks) and that
 * result is kept per entry (nov[]).  An override then only needs the
 * override, protection and fallback steps on top of the kept entry
 * (pj_plan_apply_entry(), which pj_plan_apply runs too; test_session checks
 * the result against a plan file round trip through pj_plan_apply).  A
 * base or rule change re-applies the whole plan. */
#include "config.h"
#include "quant/session_int.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/strbuf.h"
#include "quant/plan_json.h"
#include "quant/presets.h"

/* ---- the type ladder ------------------------------------------------------- */

static const pj_dtype LADDER[] = {
	PJ_DT_F16, PJ_DT_Q8_0, PJ_DT_Q6_K, PJ_DT_Q5_K, PJ_DT_Q4_K, PJ_DT_Q3_K, PJ_DT_Q2_K,
};
/* With importance data: the IQ types measure.h measures slot in by bits
 * per weight (IQ4_XS 4.25, IQ3_XXS 3.06, IQ2_S 2.56, IQ2_XS 2.31, IQ2_XXS
 * 2.06, IQ1_M 1.75, IQ1_S 1.56). */
static const pj_dtype LADDER_IM[] = {
	PJ_DT_F16, PJ_DT_Q8_0, PJ_DT_Q6_K, PJ_DT_Q5_K, PJ_DT_Q4_K, PJ_DT_IQ4_XS, PJ_DT_Q3_K, PJ_DT_IQ3_XXS,
	PJ_DT_Q2_K, PJ_DT_IQ2_S, PJ_DT_IQ2_XS, PJ_DT_IQ2_XXS, PJ_DT_IQ1_M, PJ_DT_IQ1_S,
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

size_t pj_ladder(bool with_imatrix, const pj_dtype **out)
{
	*out = with_imatrix ? LADDER_IM : LADDER;
	return with_imatrix ? NELEM(LADDER_IM) : NELEM(LADDER);
}

pj_dtype pj_ladder_step(bool with_imatrix, pj_dtype t, int dir)
{
	const pj_dtype *l;
	const size_t n = pj_ladder(with_imatrix, &l);
	const double b = pj_dtype_bpw(t);
	if (dir > 0) {
		/* the smallest ladder type with more bits */
		for (size_t i = n; i-- > 0;)
			if (pj_dtype_bpw(l[i]) > b)
				return l[i];
	} else if (dir < 0) {
		for (size_t i = 0; i < n; i++)
			if (pj_dtype_bpw(l[i]) < b)
				return l[i];
	}
	return t;
}

/* ---- predicted loss ---------------------------------------------------------- */

/* Prior relative error of each type on Gaussian-like weights, for tensors
 * (or types) not measured yet: roughly what measure.c reports on the shared
 * models' BF16 weights without an importance matrix.  Only ratios between
 * types matter much: a tensor's own measurement rescales them (see
 * sess_rel_err). */
static const struct { pj_dtype t; double rel; } PRIOR[] = {
	{ PJ_DT_F32, 0 },          { PJ_DT_F16, 8e-8 },       { PJ_DT_BF16, 5e-6 },
	{ PJ_DT_Q8_0, 3.5e-5 },    { PJ_DT_Q6_K, 2.4e-4 },    { PJ_DT_Q5_1, 8e-4 },
	{ PJ_DT_Q5_0, 1.0e-3 },    { PJ_DT_Q5_K, 9e-4 },      { PJ_DT_Q4_1, 3.4e-3 },
	{ PJ_DT_Q4_0, 4.2e-3 },    { PJ_DT_Q4_K, 3.6e-3 },    { PJ_DT_IQ4_NL, 3.8e-3 },
	{ PJ_DT_IQ4_XS, 3.9e-3 },  { PJ_DT_MXFP4, 7e-3 },     { PJ_DT_Q3_K, 1.5e-2 },
	{ PJ_DT_IQ3_S, 1.3e-2 },   { PJ_DT_IQ3_XXS, 2.0e-2 }, { PJ_DT_Q2_K, 5.5e-2 },
	{ PJ_DT_IQ2_S, 4.5e-2 },   { PJ_DT_IQ2_XS, 5.5e-2 },  { PJ_DT_IQ2_XXS, 7e-2 },
	{ PJ_DT_IQ1_M, 1.5e-1 },   { PJ_DT_IQ1_S, 2.0e-1 },   { PJ_DT_TQ1_0, 3e-1 },
	{ PJ_DT_TQ2_0, 3e-1 },     { PJ_DT_Q8_K, 3e-5 },      { PJ_DT_Q1_0, 4e-1 },
	{ PJ_DT_NVFP4, 6e-3 },
};

static double prior_rel(pj_dtype t)
{
	for (size_t i = 0; i < NELEM(PRIOR); i++)
		if (PRIOR[i].t == t)
			return PRIOR[i].rel;
	/* anything else (integers, FP8): by bits, 4x less error per extra bit */
	return 0.25 * pow(4.0, -pj_dtype_bpw(t) / 2.0);
}

/* The predicted loss model (also returned by pj_loss_formula()):
 *
 *   loss_i = s_g(i) * w_role(i) * w_layer(i) * r_i / N_role(i)
 *
 *   r_i        the tensor's measured relative error at its planned type
 *              (measure.h: sum w (x-q)^2 / sum w x^2); when not measured,
 *              the prior table above, scaled by the ratio measured/prior
 *              at the tensor's measured type closest in bits;
 *   w_role     the role's weight (table below): the KLD (nats) the whole
 *              role would add if every tensor of it had r = 1, i.e. how
 *              sensitive the output is to that kind of tensor;
 *   w_layer    1.5 in the first and last eighth of the blocks, 1 between
 *              (llama.cpp's use_more_bits heuristic), 1 outside blocks;
 *   N_role     sum of w_layer over the role's tensors, so that a role's
 *              total weight does not depend on how many layers or experts
 *              it is split into (a stacked expert tensor and 128 per-expert
 *              tensors of the same error predict the same);
 *   s_g        per role group scale, 1 until refitted from measured checks
 *              (pj_session_refit: least squares over recorded pairs).
 *
 * The plan's predicted KLD is the sum over tensors (first-order: small,
 * independent perturbations add).  Kept tensors contribute 0. */
static const char LOSS_FORMULA[] =
	"predicted KLD = sum over tensors of s_g * w_role * w_layer * r / N_role\n"
	"  r        measured relative error sum w(x-q)^2 / sum w x^2 at the planned type\n"
	"           (unmeasured: prior table scaled by the tensor's nearest measurement)\n"
	"  w_role   role weight: KLD if every tensor of the role had r = 1\n"
	"  w_layer  1.5 in the first and last eighth of the blocks, else 1\n"
	"  N_role   sum of w_layer over the role's tensors (split-independent)\n"
	"  s_g      role-group scale, 1 until refitted from measured checks";

const char *pj_loss_formula(void)
{
	return LOSS_FORMULA;
}

/* w_role.  Priors from llama.cpp's mixes: what they give more bits to
 * (output, attn_v, ffn_down, the expert router) is what hurts most. */
static const struct { pj_role r; double w; } ROLE_W[] = {
	{ PJ_ROLE_OUTPUT, 2.0 },        { PJ_ROLE_TOKEN_EMBD, 0.4 },    { PJ_ROLE_POS_EMBD, 0.4 },
	{ PJ_ROLE_ATTN_Q, 0.6 },        { PJ_ROLE_ATTN_K, 0.6 },        { PJ_ROLE_ATTN_V, 1.5 },
	{ PJ_ROLE_ATTN_QKV, 2.0 },      { PJ_ROLE_ATTN_OUTPUT, 1.0 },   { PJ_ROLE_ATTN_LINEAR, 1.0 },
	{ PJ_ROLE_MLA_Q_A, 0.6 },       { PJ_ROLE_MLA_Q_B, 0.6 },       { PJ_ROLE_MLA_KV_A, 1.2 },
	{ PJ_ROLE_MLA_KV_B, 1.5 },      { PJ_ROLE_MLA_K_B, 0.8 },       { PJ_ROLE_MLA_V_B, 1.2 },
	{ PJ_ROLE_CROSS_Q, 0.5 },       { PJ_ROLE_CROSS_K, 0.5 },       { PJ_ROLE_CROSS_V, 1.0 },
	{ PJ_ROLE_CROSS_OUTPUT, 0.8 },  { PJ_ROLE_FFN_GATE, 1.0 },      { PJ_ROLE_FFN_UP, 1.0 },
	{ PJ_ROLE_FFN_DOWN, 1.5 },      { PJ_ROLE_FFN_GATE_UP, 2.0 },   { PJ_ROLE_EXP_GATE, 1.0 },
	{ PJ_ROLE_EXP_UP, 1.0 },        { PJ_ROLE_EXP_DOWN, 1.5 },      { PJ_ROLE_EXP_GATE_UP, 2.0 },
	{ PJ_ROLE_SHEXP_GATE, 0.7 },    { PJ_ROLE_SHEXP_UP, 0.7 },      { PJ_ROLE_SHEXP_DOWN, 1.0 },
	{ PJ_ROLE_SHEXP_ROUTER, 0.5 },  { PJ_ROLE_ROUTER, 2.0 },        { PJ_ROLE_EXP_SCORE_BIAS, 1.0 },
	{ PJ_ROLE_NEXTN_EH_PROJ, 0.1 }, { PJ_ROLE_MM_PROJ, 0.5 },       { PJ_ROLE_V_ATTN, 0.3 },
	{ PJ_ROLE_V_FFN, 0.3 },         { PJ_ROLE_V_HEAD, 0.3 },        { PJ_ROLE_V_PATCH_EMBD, 0.3 },
};
#define ROLE_W_DEFAULT 0.5

double pj_loss_role_weight(pj_role r)
{
	for (size_t i = 0; i < NELEM(ROLE_W); i++)
		if (ROLE_W[i].r == r)
			return ROLE_W[i].w;
	return ROLE_W_DEFAULT;
}

static double layer_weight(const pj_session *s, const pj_plan_entry *e)
{
	const int L = s->m->arch.n_layers;
	const int l = e->t->layer;
	if (l < 0 || L <= 0)
		return 1.0;
	return l < (L + 7) / 8 || l >= L - (L + 7) / 8 ? 1.5 : 1.0;
}

static pj_role_group group_of(const pj_session *s, size_t t)
{
	return pj_role_info_of(s->m->cat.t[t].role)->group;
}

static const sess_meas *meas_of(const pj_session *s, size_t t)
{
	return s->meas ? s->meas[t] : NULL;
}

static bool mstate_usable(uint8_t st)
{
	return st == PJ_MS_DONE || st == PJ_MS_PARTIAL;
}

double sess_rel_err(const pj_session *s, size_t t, pj_dtype type, bool *est)
{
	const pj_tensor *tn = &s->m->cat.t[t];
	*est = false;
	if (type == tn->dtype)
		return 0.0;
	const sess_meas *me = meas_of(s, t);
	/* measured: the usual case, found before any prior is looked up (a
	 * whole-plan change runs this for every tensor) */
	for (size_t k = 0; me && k < me->n; k++)
		if (me->r[k].type == type && mstate_usable(me->r[k].state))
			return me->r[k].rel_err;
	/* the nearest measured type by bits rescales the prior */
	double ratio = 1.0, best = INFINITY;
	if (me)
		for (size_t k = 0; k < me->n; k++) {
			if (!mstate_usable(me->r[k].state))
				continue;
			const double d = fabs(pj_dtype_bpw(me->r[k].type) - pj_dtype_bpw(type));
			const double pr = prior_rel(me->r[k].type);
			if (d < best && pr > 0 && me->r[k].rel_err > 0) {
				best = d;
				ratio = me->r[k].rel_err / pr;
			}
		}
	*est = true;
	return prior_rel(type) * ratio;
}

double sess_loss_at(const pj_session *s, size_t t, pj_dtype type, bool *est)
{
	const double r = sess_rel_err(s, t, type, est);
	return s->coef[t] * s->scale[group_of(s, t)] * r;
}

/* What pj_session_row() says about t may have changed. */
static void row_changed(pj_session *s, size_t t)
{
	s->row_stamp[t] = ++s->row_clock;
}

/* Recomputes tensor t's loss and moves the totals by the difference.
 * Every change of a row's entry or measurement ends here. */
static void loss_update(pj_session *s, size_t t)
{
	const pj_plan_entry *e = &s->plan.e[s->ent[t]];
	bool est = false;
	double l = 0;
	if (e->prov != PJ_PROV_SOURCE)
		l = sess_loss_at(s, t, e->type, &est);
	s->loss_total += l - s->loss[t];
	s->n_est += (size_t)est - s->est[t];
	s->loss[t] = l;
	s->est[t] = est;
	row_changed(s, t);
}

static void loss_all(pj_session *s)
{
	s->loss_total = 0;
	s->n_est = 0;
	for (size_t t = 0; t < s->n; t++) {
		s->loss[t] = 0;
		s->est[t] = 0;
		loss_update(s, t);
	}
	s->all_stamp = ++s->row_clock;
}

/* coef = w_role * w_layer / N_role, over the tensors a plan may quantize. */
static void coef_init(pj_session *s)
{
	double norm[PJ_ROLE_COUNT] = { 0 };
	for (size_t i = 0; i < s->n; i++) {
		const pj_plan_entry *e = &s->plan.e[i];
		if (sess_can_override(e))
			norm[e->t->role] += layer_weight(s, e);
	}
	s->n_quantizable = 0;
	for (size_t i = 0; i < s->n; i++) {
		const pj_plan_entry *e = &s->plan.e[i];
		const size_t t = (size_t)(e->t - s->m->cat.t);
		s->coef[t] = 0;
		if (!sess_can_override(e))
			continue;
		s->n_quantizable++;
		s->coef[t] = pj_loss_role_weight(e->t->role) * layer_weight(s, e) / norm[e->t->role];
	}
}

/* ---- the plan underneath ---------------------------------------------------------- */

bool sess_can_override(const pj_plan_entry *e)
{
	return pj_plan_overridable(e);
}

bool sess_unweightable(const pj_session *s, const pj_plan_entry *e, pj_dtype written)
{
	pj_plan_entry as_w = *e;
	as_w.type = written;
	return pj_plan_entry_unweightable(&s->plan, s->has_im ? s->im : NULL, &as_w);
}

/* plan.c's steps from the override on: e holds the entry as base and rules
 * made it. */
static void apply_override(const pj_plan *p, pj_plan_entry *e, int32_t code)
{
	const pj_plan_override ov = { .type = (pj_dtype)(code & OV_TYPE), .pinned = code & OV_PINNED };
	pj_plan_apply_entry(p, e, &ov, code & OV_SOLVER ? PJ_PROV_SOLVER : PJ_PROV_MANUAL);
}

/* Entry of tensor t from nov[] and its override; totals follow. */
static void entry_refresh(pj_session *s, size_t t)
{
	pj_plan *p = &s->plan;
	const size_t i = s->ent[t];
	pj_plan_entry *e = &p->e[i];
	const uint64_t ob = e->bytes;
	const bool oq = e->type != e->t->dtype, of = e->fell_back, oi = e->needs_imatrix;
	*e = s->nov[i];
	if (s->ov[t] != OV_NONE)
		apply_override(p, e, s->ov[t]);
	p->out_bytes = p->out_bytes - ob + e->bytes;
	p->n_quantized = p->n_quantized - oq + (e->type != e->t->dtype);
	p->n_fallback = p->n_fallback - of + e->fell_back;
	p->n_need_imatrix = p->n_need_imatrix - oi + e->needs_imatrix;
	loss_update(s, t);
}

static void plan_ov_clear(pj_plan *p)
{
	for (size_t i = 0; i < p->n_ov; i++)
		free(p->ov[i].tensor);
	free(p->ov);
	p->ov = NULL;
	p->n_ov = 0;
}

/* plan.ov <- ov[] (plan order) + foreign overrides. */
static void plan_ov_sync(pj_session *s)
{
	if (s->ov_synced)
		return;
	pj_plan *p = &s->plan;
	plan_ov_clear(p);
	size_t n = s->n_foreign;
	for (size_t t = 0; t < s->n; t++)
		n += s->ov[t] != OV_NONE;
	p->ov = pj_xcalloc(n ? n : 1, sizeof *p->ov);
	for (size_t i = 0; i < s->n; i++) {
		const size_t t = (size_t)(p->e[i].t - s->m->cat.t);
		const int32_t c = s->ov[t];
		if (c == OV_NONE)
			continue;
		p->ov[p->n_ov++] = (pj_plan_override){ .tensor = pj_xstrdup(p->e[i].t->name),
		                                      .type = (pj_dtype)(c & OV_TYPE),
		                                      .pinned = (c & OV_PINNED) != 0,
		                                      .matched = true };
	}
	for (size_t i = 0; i < s->n_foreign; i++) {
		p->ov[p->n_ov] = s->foreign[i];
		p->ov[p->n_ov++].tensor = pj_xstrdup(s->foreign[i].tensor);
	}
	s->ov_synced = true;
}

static void ov_changed(pj_session *s)
{
	if (s->ov_synced) {
		plan_ov_clear(&s->plan);
		s->ov_synced = false;
	}
}

/* Re-applies the plan without overrides, keeps that per entry, then lays
 * the overrides on top.  O(tensors x rules). */
pj_status sess_recompute_all(pj_session *s, pj_error *err)
{
	pj_plan *p = &s->plan;
	ov_changed(s);
	plan_ov_clear(p);
	pj_status st = pj_plan_apply(p, err);
	if (st)
		return st;
	memcpy(s->nov, p->e, s->n * sizeof *p->e);
	for (size_t t = 0; t < s->n; t++)
		if (s->ov[t] != OV_NONE)
			entry_refresh(s, t);
	for (size_t i = 0; i < s->n_foreign; i++) {
		char buf[600];
		snprintf(buf, sizeof buf, "override for %s: the model has no such tensor", s->foreign[i].tensor);
		p->warnings = pj_xrealloc(p->warnings, (p->n_warnings + 1) * sizeof *p->warnings);
		p->warnings[p->n_warnings++] = pj_xstrdup(buf);
	}
	loss_all(s);
	return PJ_OK;
}

void sess_touch(pj_session *s, bool plan)
{
	s->gen++;
	if (plan) {
		s->plan_gen++;
		s->chg_all = true;
		s->n_chg = 0;
	}
}

void sess_changed_set(pj_session *s, const sess_diff *d, size_t nd)
{
	if (nd > s->cap_chg) {
		s->cap_chg = nd;
		free(s->chg);
		s->chg = pj_xmalloc(nd * sizeof *s->chg);
	}
	for (size_t k = 0; k < nd; k++)
		s->chg[k] = d[k].t;
	s->n_chg = nd;
	s->chg_all = false;
}

/* ---- lifecycle ------------------------------------------------------------------- */

static void layers_index(pj_session *s)
{
	int nl = 0;
	for (size_t t = 0; t < s->n; t++)
		if (s->m->cat.t[t].layer + 1 > nl)
			nl = s->m->cat.t[t].layer + 1;
	s->n_lay = nl;
	const size_t slots = (size_t)PJ_COMP_COUNT * (size_t)(nl ? nl : 1);
	s->lay = pj_xcalloc(slots, sizeof *s->lay);
	s->lay_n = pj_xcalloc(slots, sizeof *s->lay_n);
	for (size_t t = 0; t < s->n; t++) {
		const pj_tensor *tn = &s->m->cat.t[t];
		if (tn->layer >= 0 && (unsigned)tn->comp < PJ_COMP_COUNT)
			s->lay_n[(size_t)tn->comp * (size_t)nl + (size_t)tn->layer]++;
	}
	for (size_t k = 0; k < slots; k++) {
		s->lay[k] = pj_xcalloc(s->lay_n[k] ? s->lay_n[k] : 1, sizeof **s->lay);
		s->lay_n[k] = 0;
	}
	for (size_t t = 0; t < s->n; t++) {
		const pj_tensor *tn = &s->m->cat.t[t];
		if (tn->layer < 0 || (unsigned)tn->comp >= PJ_COMP_COUNT)
			continue;
		const size_t k = (size_t)tn->comp * (size_t)nl + (size_t)tn->layer;
		s->lay[k][s->lay_n[k]++] = t;
	}
}

static const size_t *layer_tensors(const pj_session *s, int comp, int layer, size_t *n)
{
	*n = 0;
	if (comp < 0 || comp >= PJ_COMP_COUNT || layer < 0 || layer >= s->n_lay)
		return NULL;
	const size_t k = (size_t)comp * (size_t)s->n_lay + (size_t)layer;
	*n = s->lay_n[k];
	return s->lay[k];
}

pj_status pj_session_new(pj_model *m, const pj_session_opts *o, pj_session **out, pj_error *err)
{
	static const pj_session_opts none;
	if (!o)
		o = &none;
	*out = NULL;
	pj_session *s = pj_xcalloc(1, sizeof *s);
	s->m = m;
	s->im = o->imatrix;
	s->has_im = o->imatrix != NULL;
	if (s->im)
		pj_imatrix_sha256_hex(s->im, s->im_sha);
	pj_status st = pj_plan_init(&s->plan, m, o->base ? o->base : "auto", s->has_im, err);
	if (st) {
		free(s);
		return st;
	}
	s->own_model = o->own_model;
	pthread_mutex_init(&s->lock, NULL);
	s->n = s->plan.n;
	s->ent = pj_xcalloc(s->n ? s->n : 1, sizeof *s->ent);
	for (size_t i = 0; i < s->n; i++)
		s->ent[s->plan.e[i].t - m->cat.t] = i;
	s->nov = pj_xcalloc(s->n ? s->n : 1, sizeof *s->nov);
	memcpy(s->nov, s->plan.e, s->n * sizeof *s->nov);
	s->ov = pj_xmalloc((s->n ? s->n : 1) * sizeof *s->ov);
	for (size_t t = 0; t < s->n; t++)
		s->ov[t] = OV_NONE;
	/* a loaded plan's overrides are not ours: start from base + rules */
	s->coef = pj_xcalloc(s->n ? s->n : 1, sizeof *s->coef);
	s->loss = pj_xcalloc(s->n ? s->n : 1, sizeof *s->loss);
	s->est = pj_xcalloc(s->n ? s->n : 1, 1);
	s->meas = pj_xcalloc(s->n ? s->n : 1, sizeof *s->meas);
	s->tag = pj_xcalloc(s->n ? s->n : 1, 1);
	s->row_stamp = pj_xcalloc(s->n ? s->n : 1, sizeof *s->row_stamp);
	for (int g = 0; g < PJ_RG_COUNT; g++)
		s->scale[g] = 1.0;
	coef_init(s);
	loss_all(s);
	layers_index(s);
	pj_plan_header_sha256(&m->cat, s->key);
	s->ov_synced = true; /* no overrides, plan.ov empty */
	pj_session_set_kv(s, 0, PJ_DT_F16);
	s->gen = 1;
	s->chg_all = true;
	s->autosaved_gen = 1;
	*out = s;
	return PJ_OK;
}

void sess_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void sess_step_free(sess_step *st)
{
	free(st->label);
	free(st->base_old);
	free(st->base_new);
	sess_strv_free(st->rules_old, st->n_rules_old);
	sess_strv_free(st->rules_new, st->n_rules_new);
	free(st->d);
	memset(st, 0, sizeof *st);
}

static void meas_free(sess_meas *me)
{
	if (!me)
		return;
	for (size_t k = 0; k < me->n; k++)
		free(me->r[k].reason);
	free(me);
}

void pj_session_free(pj_session *s)
{
	if (!s)
		return;
	sess_saver_stop(s);
	pj_session_measure_cancel(s);
	pj_measure_job_free(s->mjob);
	free(s->morder);
	free(s->inbox);
	free(s->outbox);
	pthread_mutex_destroy(&s->lock);
	for (size_t i = 0; i < s->n_hist; i++)
		sess_step_free(&s->hist[i]);
	free(s->hist);
	free(s->chg);
	for (size_t t = 0; t < s->n; t++)
		meas_free(s->meas[t]);
	free(s->meas);
	const size_t slots = (size_t)PJ_COMP_COUNT * (size_t)(s->n_lay ? s->n_lay : 1);
	for (size_t k = 0; k < slots; k++)
		free(s->lay[k]);
	free(s->lay);
	free(s->lay_n);
	for (size_t i = 0; i < s->n_foreign; i++)
		free(s->foreign[i].tensor);
	free(s->foreign);
	free(s->checks);
	free(s->tag);
	free(s->row_stamp);
	free(s->est);
	free(s->loss);
	free(s->coef);
	free(s->ov);
	free(s->nov);
	free(s->ent);
	pj_plan_free(&s->plan);
	if (s->own_model)
		pj_model_close(s->m);
	free(s);
}

pj_model *pj_session_model(const pj_session *s)
{
	return s->m;
}

bool pj_session_has_imatrix(const pj_session *s)
{
	return s->has_im;
}

size_t pj_session_unweightable(const pj_session *s, size_t *tensors, size_t max)
{
	const size_t n = pj_plan_unweightable(&s->plan, s->has_im ? s->im : NULL, tensors, max);
	for (size_t i = 0; i < n && i < max; i++)
		tensors[i] = (size_t)(s->plan.e[tensors[i]].t - s->m->cat.t);
	return n;
}

const pj_imatrix *pj_session_imatrix(const pj_session *s)
{
	return s->im;
}

const pj_plan *pj_session_plan(pj_session *s)
{
	plan_ov_sync(s);
	return &s->plan;
}

const char *pj_session_base(const pj_session *s, const char **reason)
{
	if (reason)
		*reason = s->plan.base_reason;
	return s->plan.base;
}

const pj_plan_entry *pj_session_entry(const pj_session *s, size_t t)
{
	return &s->plan.e[s->ent[t]];
}

ptrdiff_t pj_session_find(const pj_session *s, const char *name)
{
	return pj_catalog_find_index(&s->m->cat, name);
}

const char *pj_session_model_key(const pj_session *s)
{
	return s->key;
}

uint64_t pj_session_plan_generation(const pj_session *s)
{
	return s->plan_gen;
}

uint64_t pj_session_row_stamp(const pj_session *s)
{
	return s->row_clock;
}

size_t pj_session_rows_changed(const pj_session *s, uint64_t since, size_t *out, size_t max, bool *all)
{
	*all = s->all_stamp > since;
	if (*all || s->row_clock <= since)
		return 0;
	size_t k = 0;
	for (size_t t = 0; t < s->n; t++)
		if (s->row_stamp[t] > since) {
			if (k < max)
				out[k] = t;
			k++;
		}
	return k;
}

size_t pj_session_last_changed(const pj_session *s, const size_t **tensors, bool *all)
{
	if (tensors)
		*tensors = s->chg;
	if (all)
		*all = s->chg_all;
	return s->chg_all ? 0 : s->n_chg;
}

uint64_t pj_session_generation(const pj_session *s)
{
	return s->gen;
}

bool pj_session_dirty(const pj_session *s)
{
	return s->pos != s->saved_pos;
}

void pj_session_mark_saved(pj_session *s)
{
	s->saved_pos = s->pos;
	sess_touch(s, false);
}

void pj_session_set_kv(pj_session *s, int64_t ctx, pj_dtype type)
{
	if (ctx <= 0) {
		ctx = s->m->arch.ctx_len > 0 ? s->m->arch.ctx_len : 4096;
		if (ctx > 4096)
			ctx = 4096;
	}
	s->kv_ctx = ctx;
	s->kv_type = type;
	sess_touch(s, false);
}

/* ---- steps ----------------------------------------------------------------------- */

char **sess_rules_texts(const pj_session *s, size_t *n)
{
	*n = s->plan.n_rules;
	char **v = pj_xcalloc(*n ? *n : 1, sizeof *v);
	for (size_t i = 0; i < *n; i++)
		v[i] = pj_xstrdup(s->plan.rules[i].text);
	return v;
}

static void rule_free(pj_plan_rule *r)
{
	free(r->text);
	if (r->kind == PJ_RULE_REGEX) {
		free(r->pattern);
		regfree(&r->re);
	}
}

/* Replaces the plan's rules with texts (all or nothing). */
static pj_status rules_set(pj_session *s, char *const *texts, size_t n, pj_error *err)
{
	pj_plan *p = &s->plan;
	pj_plan_rule *old = p->rules;
	const size_t n_old = p->n_rules;
	p->rules = NULL;
	p->n_rules = 0;
	for (size_t i = 0; i < n; i++) {
		pj_status st = pj_plan_add_rule(p, texts[i], err);
		if (st) {
			for (size_t k = 0; k < p->n_rules; k++)
				rule_free(&p->rules[k]);
			free(p->rules);
			p->rules = old;
			p->n_rules = n_old;
			return st;
		}
	}
	for (size_t k = 0; k < n_old; k++)
		rule_free(&old[k]);
	free(old);
	return PJ_OK;
}

/* A new base: resolved by building a throw-away plan (plan.c keeps its
 * resolver private), whose base fields are then taken over. */
/* Only the base's fields are wanted from the temporary plan: built over no
 * tensors, it costs nothing (a whole plan of 46k tensors is ~30 ms). */
static pj_status base_set(pj_session *s, const char *base, pj_error *err)
{
	static const pj_catalog none;
	pj_plan tmp;
	pj_status st = pj_plan_init_cat(&tmp, s->m, &none, s->plan.gguf_names, base, s->has_im, err);
	if (st)
		return st;
	pj_plan *p = &s->plan;
	free(p->base);
	p->base = tmp.base;
	tmp.base = NULL;
	p->preset = tmp.preset;
	p->pure = tmp.pure;
	p->pure_type = tmp.pure_type;
	p->ftype = tmp.ftype;
	memcpy(p->base_reason, tmp.base_reason, sizeof p->base_reason);
	pj_plan_free(&tmp);
	return PJ_OK;
}

pj_status sess_step_apply(pj_session *s, const sess_step *st, bool forward, pj_error *err)
{
	const char *base = forward ? st->base_new : st->base_old;
	char *saved_base = NULL;
	pj_status rc;
	if (base && strcmp(base, s->plan.base) != 0) {
		saved_base = pj_xstrdup(s->plan.base);
		if ((rc = base_set(s, base, err))) {
			free(saved_base);
			return rc;
		}
	}
	size_t n_saved_rules = 0;
	char **saved_rules = NULL;
	if (st->rules) {
		saved_rules = sess_rules_texts(s, &n_saved_rules);
		rc = forward ? rules_set(s, st->rules_new, st->n_rules_new, err)
		             : rules_set(s, st->rules_old, st->n_rules_old, err);
		if (rc)
			goto undo_base;
	}
	for (size_t k = 0; k < st->nd; k++)
		s->ov[st->d[k].t] = forward ? st->d[k].new_ : st->d[k].old;
	ov_changed(s);
	if (saved_base || st->rules) {
		if ((rc = sess_recompute_all(s, err))) {
			/* back to where we were: the old state applied before */
			for (size_t k = 0; k < st->nd; k++)
				s->ov[st->d[k].t] = forward ? st->d[k].old : st->d[k].new_;
			if (st->rules)
				rules_set(s, saved_rules, n_saved_rules, NULL);
			goto undo_base;
		}
	} else {
		for (size_t k = 0; k < st->nd; k++)
			entry_refresh(s, st->d[k].t);
	}
	sess_strv_free(saved_rules, n_saved_rules);
	sess_touch(s, true);
	if (!saved_base && !st->rules)
		sess_changed_set(s, st->d, st->nd);   /* only the overrides moved */
	free(saved_base);
	return PJ_OK;
undo_base:
	if (saved_base)
		base_set(s, saved_base, NULL);
	free(saved_base);
	sess_strv_free(saved_rules, n_saved_rules);
	sess_recompute_all(s, NULL);
	return rc;
}

pj_status sess_step_push(pj_session *s, sess_step *st, pj_error *err)
{
	pj_status rc = sess_step_apply(s, st, true, err);
	if (rc) {
		sess_step_free(st);
		return rc;
	}
	for (size_t i = s->pos; i < s->n_hist; i++)
		sess_step_free(&s->hist[i]);
	s->n_hist = s->pos;
	if (s->saved_pos > s->pos)
		s->saved_pos = SIZE_MAX;
	s->hist = pj_xrealloc(s->hist, (s->n_hist + 1) * sizeof *s->hist);
	s->hist[s->n_hist++] = *st;
	s->pos = s->n_hist;
	memset(st, 0, sizeof *st);
	return PJ_OK;
}

static void step_label(sess_step *st, const char *fmt, ...) PJ_PRINTF(2, 3);
static void step_label(sess_step *st, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	free(st->label);
	st->label = pj_xstrdup(buf);
}

static void step_diff(sess_step *st, size_t *cap, size_t t, int32_t old, int32_t new_)
{
	if (old == new_)
		return;
	if (st->nd == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		st->d = pj_xrealloc(st->d, *cap * sizeof *st->d);
	}
	st->d[st->nd++] = (sess_diff){ (uint32_t)t, old, new_ };
}

/* A step of per-tensor override changes; an empty one is not recorded. */
static pj_status push_diffs(pj_session *s, sess_step *st, pj_error *err)
{
	if (!st->nd && !st->rules && !st->base_new) {
		sess_step_free(st);
		return PJ_OK;
	}
	return sess_step_push(s, st, err);
}

/* ---- actions ----------------------------------------------------------------------- */

static pj_status check_t(const pj_session *s, size_t t, pj_error *err)
{
	if (t >= s->n)
		return pj_fail(err, PJ_EUSAGE, "no tensor #%zu (the model has %zu)", t, s->n);
	return PJ_OK;
}

/* Can tensor t be written as type?  (GGUF type, a shape fallback exists.) */
static pj_status check_type(const pj_session *s, size_t t, pj_dtype type, pj_error *err)
{
	const pj_tensor *tn = &s->m->cat.t[t];
	if ((unsigned)type >= PJ_DT_COUNT || pj_dtype_info_of(type)->ggml_id < 0)
		return pj_fail(err, PJ_EUSAGE, "%s: not a GGUF type", tn->name);
	bool ok;
	const pj_dtype w = pj_plan_shape_fallback(type, tn->ne[0], &ok);
	if (!ok)
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: rows of %lld do not fit %s and it has no fallback type",
		               tn->name, (long long)tn->ne[0], pj_dtype_name(type));
	if (sess_unweightable(s, pj_session_entry(s, t), w))
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: %s cannot be written without importance data and %s",
		               tn->name, pj_dtype_name(w), s->has_im ? "the imatrix has none for it" : "there is no imatrix");
	return PJ_OK;
}

static int32_t pin_of(const pj_session *s, size_t t)
{
	return s->ov[t] != OV_NONE ? (s->ov[t] & OV_PINNED) : 0;
}

/* The tensors an action works on: one, or the selection. */
typedef struct targets {
	size_t one;
	bool sel;
} targets;

static size_t targets_next(const pj_session *s, const targets *g, size_t from)
{
	if (!g->sel)
		return from <= g->one ? g->one : SIZE_MAX;
	for (size_t t = from; t < s->n; t++)
		if (s->tag[t])
			return t;
	return SIZE_MAX;
}

#define FOR_TARGETS(s, g, t) for (size_t t = targets_next(s, g, 0); t != SIZE_MAX; t = targets_next(s, g, t + 1))

static const char *targets_name(const pj_session *s, const targets *g, char *buf, size_t len)
{
	if (g->sel)
		snprintf(buf, len, "%zu tagged", s->n_tag);
	else
		snprintf(buf, len, "%s", s->m->cat.t[g->one].name);
	return buf;
}

static pj_status set_type_on(pj_session *s, const targets *g, pj_dtype type, pj_error *err)
{
	sess_step st = { 0 };
	size_t cap = 0;
	FOR_TARGETS(s, g, t) {
		const pj_plan_entry *e = pj_session_entry(s, t);
		if (!sess_can_override(e)) {
			if (g->sel)
				continue;
			free(st.d);
			return pj_fail(err, PJ_EUSAGE, "%s is kept as is (%s)", e->t->name, e->kept);
		}
		pj_status rc = check_type(s, t, type, err);
		if (rc) {
			if (g->sel)
				continue;
			free(st.d);
			return rc;
		}
		step_diff(&st, &cap, t, s->ov[t], OV_MAKE(type, pin_of(s, t), false));
	}
	char nb[300];
	step_label(&st, "set %s %s", targets_name(s, g, nb, sizeof nb), pj_dtype_name(type));
	return push_diffs(s, &st, err);
}

pj_status pj_session_set_type(pj_session *s, size_t t, pj_dtype type, pj_error *err)
{
	pj_status rc = check_t(s, t, err);
	return rc ? rc : set_type_on(s, &(targets){ t, false }, type, err);
}

pj_status pj_session_set_type_sel(pj_session *s, pj_dtype type, pj_error *err)
{
	return set_type_on(s, &(targets){ 0, true }, type, err);
}

/* The next ladder type from the requested one whose written type differs
 * and can be written (no type the export refuses for want of data). */
static pj_dtype step_type(const pj_session *s, size_t t, int dir)
{
	const pj_plan_entry *e = pj_session_entry(s, t);
	const int64_t ne0 = e->t->ne[0];
	pj_dtype cur = e->requested, want = cur;
	for (;;) {
		const pj_dtype nx = pj_ladder_step(s->has_im, want, dir);
		if (nx == want)
			return cur;
		want = nx;
		bool ok;
		const pj_dtype w = pj_plan_shape_fallback(want, ne0, &ok);
		if (ok && w != e->type && !sess_unweightable(s, e, w))
			return want;
	}
}

static pj_status step_on(pj_session *s, const targets *g, int dir, pj_error *err)
{
	sess_step st = { 0 };
	size_t cap = 0;
	FOR_TARGETS(s, g, t) {
		const pj_plan_entry *e = pj_session_entry(s, t);
		if (!sess_can_override(e)) {
			if (g->sel)
				continue;
			return pj_fail(err, PJ_EUSAGE, "%s is kept as is (%s)", e->t->name, e->kept);
		}
		const pj_dtype nt = step_type(s, t, dir);
		if (nt != e->requested)
			step_diff(&st, &cap, t, s->ov[t], OV_MAKE(nt, pin_of(s, t), false));
	}
	char nb[300];
	step_label(&st, "%s %s", dir > 0 ? "raise" : "lower", targets_name(s, g, nb, sizeof nb));
	return push_diffs(s, &st, err);
}

pj_status pj_session_step(pj_session *s, size_t t, int dir, pj_error *err)
{
	pj_status rc = check_t(s, t, err);
	return rc ? rc : step_on(s, &(targets){ t, false }, dir, err);
}

pj_status pj_session_step_sel(pj_session *s, int dir, pj_error *err)
{
	return step_on(s, &(targets){ 0, true }, dir, err);
}

static pj_status pin_on(pj_session *s, const targets *g, bool on, pj_error *err)
{
	sess_step st = { 0 };
	size_t cap = 0;
	FOR_TARGETS(s, g, t) {
		const pj_plan_entry *e = pj_session_entry(s, t);
		if (!sess_can_override(e)) {
			if (g->sel)
				continue;
			return pj_fail(err, PJ_EUSAGE, "%s is kept as is (%s)", e->t->name, e->kept);
		}
		/* pinning keeps the type asked for (before any fallback) */
		const pj_dtype ty = s->ov[t] != OV_NONE ? (pj_dtype)(s->ov[t] & OV_TYPE) : e->requested;
		step_diff(&st, &cap, t, s->ov[t], OV_MAKE(ty, on, false));
	}
	char nb[300];
	step_label(&st, "%s %s", on ? "pin" : "unpin", targets_name(s, g, nb, sizeof nb));
	return push_diffs(s, &st, err);
}

pj_status pj_session_pin(pj_session *s, size_t t, bool on, pj_error *err)
{
	pj_status rc = check_t(s, t, err);
	return rc ? rc : pin_on(s, &(targets){ t, false }, on, err);
}

pj_status pj_session_pin_sel(pj_session *s, bool on, pj_error *err)
{
	return pin_on(s, &(targets){ 0, true }, on, err);
}

static pj_status revert_on(pj_session *s, const targets *g, pj_error *err)
{
	sess_step st = { 0 };
	size_t cap = 0;
	FOR_TARGETS(s, g, t)
		step_diff(&st, &cap, t, s->ov[t], OV_NONE);
	char nb[300];
	step_label(&st, "revert %s", targets_name(s, g, nb, sizeof nb));
	return push_diffs(s, &st, err);
}

pj_status pj_session_revert(pj_session *s, size_t t, pj_error *err)
{
	pj_status rc = check_t(s, t, err);
	return rc ? rc : revert_on(s, &(targets){ t, false }, err);
}

pj_status pj_session_revert_sel(pj_session *s, pj_error *err)
{
	return revert_on(s, &(targets){ 0, true }, err);
}

pj_status pj_session_apply_preset(pj_session *s, const char *base, unsigned flags, pj_error *err)
{
	if (!base || !*base)
		return pj_fail(err, PJ_EUSAGE, "preset: empty name");
	/* an unknown name fails in base_set(), before anything changes */
	sess_step st = { 0 };
	size_t cap = 0;
	st.base_old = pj_xstrdup(s->plan.base);
	st.base_new = pj_xstrdup(base);
	if (!(flags & PJ_PRESET_KEEP_RULES) && s->plan.n_rules) {
		st.rules = true;
		st.rules_old = sess_rules_texts(s, &st.n_rules_old);
		st.rules_new = pj_xcalloc(1, sizeof *st.rules_new);
	}
	if (!(flags & PJ_PRESET_KEEP_OVERRIDES))
		for (size_t t = 0; t < s->n; t++)
			if (s->ov[t] != OV_NONE && !(s->ov[t] & OV_PINNED))
				step_diff(&st, &cap, t, s->ov[t], OV_NONE);
	step_label(&st, "preset %s", base);
	return sess_step_push(s, &st, err);
}

/* ---- rules ---------------------------------------------------------------------- */

size_t pj_session_rule_count(const pj_session *s)
{
	return s->plan.n_rules;
}

const char *pj_session_rule_text(const pj_session *s, size_t pos)
{
	return pos < s->plan.n_rules ? s->plan.rules[pos].text : NULL;
}

/* A step that changes the rule list to v (taken). */
static pj_status rules_step(pj_session *s, char **v, size_t n, const char *label, pj_error *err)
{
	sess_step st = { 0 };
	st.rules = true;
	st.rules_old = sess_rules_texts(s, &st.n_rules_old);
	st.rules_new = v;
	st.n_rules_new = n;
	step_label(&st, "%s", label);
	return sess_step_push(s, &st, err);
}

static pj_status rule_check(const pj_session *s, const char *text, pj_error *err)
{
	pj_plan scratch;
	memset(&scratch, 0, sizeof scratch);
	pj_status rc = pj_plan_add_rule(&scratch, text, err);
	if (!rc) {
		rule_free(&scratch.rules[0]);
		free(scratch.rules);
	}
	(void)s;
	return rc;
}

pj_status pj_session_rule_add(pj_session *s, size_t pos, const char *text, pj_error *err)
{
	pj_status rc = rule_check(s, text, err);
	if (rc)
		return rc;
	size_t n;
	char **v = sess_rules_texts(s, &n);
	if (pos > n)
		pos = n;
	v = pj_xrealloc(v, (n + 1) * sizeof *v);
	memmove(&v[pos + 1], &v[pos], (n - pos) * sizeof *v);
	v[pos] = pj_xstrdup(text);
	char label[300];
	snprintf(label, sizeof label, "add rule %s", text);
	return rules_step(s, v, n + 1, label, err);
}

pj_status pj_session_rule_remove(pj_session *s, size_t pos, pj_error *err)
{
	size_t n;
	if (pos >= s->plan.n_rules)
		return pj_fail(err, PJ_EUSAGE, "no rule %zu (there are %zu)", pos + 1, s->plan.n_rules);
	char **v = sess_rules_texts(s, &n);
	char label[300];
	snprintf(label, sizeof label, "remove rule %s", v[pos]);
	free(v[pos]);
	memmove(&v[pos], &v[pos + 1], (n - pos - 1) * sizeof *v);
	return rules_step(s, v, n - 1, label, err);
}

pj_status pj_session_rule_replace(pj_session *s, size_t pos, const char *text, pj_error *err)
{
	if (pos >= s->plan.n_rules)
		return pj_fail(err, PJ_EUSAGE, "no rule %zu (there are %zu)", pos + 1, s->plan.n_rules);
	pj_status rc = rule_check(s, text, err);
	if (rc)
		return rc;
	size_t n;
	char **v = sess_rules_texts(s, &n);
	free(v[pos]);
	v[pos] = pj_xstrdup(text);
	char label[300];
	snprintf(label, sizeof label, "edit rule %zu: %s", pos + 1, text);
	return rules_step(s, v, n, label, err);
}

pj_status pj_session_rule_move(pj_session *s, size_t from, size_t to, pj_error *err)
{
	const size_t n0 = s->plan.n_rules;
	if (from >= n0 || to >= n0)
		return pj_fail(err, PJ_EUSAGE, "rule move %zu -> %zu: there are %zu rules", from + 1, to + 1, n0);
	if (from == to)
		return PJ_OK;
	size_t n;
	char **v = sess_rules_texts(s, &n);
	char *r = v[from];
	if (from < to)
		memmove(&v[from], &v[from + 1], (to - from) * sizeof *v);
	else
		memmove(&v[to + 1], &v[to], (from - to) * sizeof *v);
	v[to] = r;
	char label[300];
	snprintf(label, sizeof label, "move rule %s to %zu", r, to + 1);
	return rules_step(s, v, n, label, err);
}

/* ---- rule from the selection -------------------------------------------------------- */

/* A name as tokens: decimal numbers, '.' and the text between.  A pattern
 * is a token list where a number field may hold a set of values (or "any
 * number") and a text field a set of alternatives; merging two patterns
 * that differ in one field only keeps the match exact: X(a|b)Y matches
 * XaY and XbY and nothing else. */
typedef struct pfield {
	bool num;
	char **texts;        /* text field: sorted alternatives */
	size_t n_texts;
	long *vals;          /* number field: sorted values */
	size_t n_vals;
	bool any;            /* [0-9]+ */
} pfield;

typedef struct pat {
	pfield *f;
	size_t n;
	bool dead;           /* merged into another */
} pat;

static void pat_parse(const char *name, pat *p)
{
	memset(p, 0, sizeof *p);
	const char *c = name;
	while (*c) {
		size_t k = 0;
		const bool num = *c >= '0' && *c <= '9';
		if (*c == '.')
			k = 1;
		else
			while (c[k] && c[k] != '.' && ((c[k] >= '0' && c[k] <= '9') == num))
				k++;
		/* "007" style numbers stay text: a value would lose the zeros */
		const bool text = !num || (k > 1 && c[0] == '0') || k > 9;
		p->f = pj_xrealloc(p->f, (p->n + 1) * sizeof *p->f);
		pfield *f = &p->f[p->n++];
		memset(f, 0, sizeof *f);
		if (text) {
			f->texts = pj_xmalloc(sizeof *f->texts);
			f->texts[0] = pj_xstrndup(c, k);
			f->n_texts = 1;
		} else {
			f->num = true;
			f->vals = pj_xmalloc(sizeof *f->vals);
			f->vals[0] = strtol(c, NULL, 10);
			f->n_vals = 1;
		}
		c += k;
	}
}

static void pat_free(pat *p)
{
	for (size_t i = 0; i < p->n; i++) {
		sess_strv_free(p->f[i].texts, p->f[i].n_texts);
		free(p->f[i].vals);
	}
	free(p->f);
}

static int long_cmp(const void *a, const void *b)
{
	const long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* a |= b (same kind of field) */
static void field_union(pfield *a, pfield *b)
{
	if (a->num) {
		a->vals = pj_xrealloc(a->vals, (a->n_vals + b->n_vals) * sizeof *a->vals);
		memcpy(a->vals + a->n_vals, b->vals, b->n_vals * sizeof *b->vals);
		a->n_vals += b->n_vals;
		qsort(a->vals, a->n_vals, sizeof *a->vals, long_cmp);
		size_t w = 0;
		for (size_t i = 0; i < a->n_vals; i++)
			if (!w || a->vals[w - 1] != a->vals[i])
				a->vals[w++] = a->vals[i];
		a->n_vals = w;
		return;
	}
	a->texts = pj_xrealloc(a->texts, (a->n_texts + b->n_texts) * sizeof *a->texts);
	for (size_t i = 0; i < b->n_texts; i++) {
		a->texts[a->n_texts++] = b->texts[i];
		b->texts[i] = NULL;
	}
	qsort(a->texts, a->n_texts, sizeof *a->texts, str_cmp);
	size_t w = 0;
	for (size_t i = 0; i < a->n_texts; i++) {
		if (w && strcmp(a->texts[w - 1], a->texts[i]) == 0) {
			free(a->texts[i]);
			continue;
		}
		a->texts[w++] = a->texts[i];
	}
	a->n_texts = w;
}

static void field_emit(sbuf *b, const pfield *f)
{
	if (f->num && f->any) {
		sb_str(b, "[0-9]+");
	} else if (f->num) {
		sb_str(b, f->n_vals > 1 ? "(" : "");
		for (size_t k = 0; k < f->n_vals; k++)
			sb_printf(b, "%s%ld", k ? "|" : "", f->vals[k]);
		sb_str(b, f->n_vals > 1 ? ")" : "");
	} else {
		sb_str(b, f->n_texts > 1 ? "(" : "");
		for (size_t k = 0; k < f->n_texts; k++) {
			sb_str(b, k ? "|" : "");
			sb_regex_escaped(b, f->texts[k]);
		}
		sb_str(b, f->n_texts > 1 ? ")" : "");
	}
}

static void pat_emit(sbuf *b, const pat *p)
{
	for (size_t i = 0; i < p->n; i++)
		field_emit(b, &p->f[i]);
}

static char *pats_regex(pat *v, size_t n)
{
	sbuf b = { 0 };
	size_t live = 0;
	for (size_t i = 0; i < n; i++)
		live += !v[i].dead;
	sb_str(&b, live > 1 ? "^(" : "^");
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (v[i].dead)
			continue;
		if (!first)
			sb_str(&b, "|");
		first = false;
		pat_emit(&b, &v[i]);
	}
	sb_str(&b, live > 1 ? ")$" : "$");
	return b.p;
}

/* Does re match exactly the tagged tensors among the model's? */
static bool regex_exact(const pj_session *s, const char *re)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB))
		return false;
	bool ok = true;
	for (size_t t = 0; t < s->n && ok; t++)
		ok = (regexec(&r, s->m->cat.t[t].name, 0, NULL, 0) == 0) == (s->tag[t] != 0);
	regfree(&r);
	return ok;
}

/* Grouping key of a pattern with field k left out (kind kept). */
typedef struct pkey {
	char *key;
	size_t i;
} pkey;

static int pkey_cmp(const void *a, const void *b)
{
	const pkey *x = a, *y = b;
	const int c = strcmp(x->key, y->key);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

static char *key_but(const pat *p, size_t k)
{
	sbuf b = { 0 };
	sb_printf(&b, "%zu:", p->n);
	for (size_t i = 0; i < p->n; i++) {
		if (i == k)
			sb_str(&b, p->f[i].num ? "\x01#" : "\x01$");
		else
			field_emit(&b, &p->f[i]);
		sb_str(&b, "\x02");
	}
	return b.p;
}

/* Merges, for field k, every group of patterns equal but for that field:
 * sorted by key, O(n log n). */
static void merge_field(pat *v, size_t n, size_t k)
{
	pkey *keys = pj_xcalloc(n ? n : 1, sizeof *keys);
	size_t nk = 0;
	for (size_t i = 0; i < n; i++)
		if (!v[i].dead && k < v[i].n && !(v[i].f[k].num && v[i].f[k].any))
			keys[nk++] = (pkey){ key_but(&v[i], k), i };
	qsort(keys, nk, sizeof *keys, pkey_cmp);
	for (size_t a = 0; a < nk;) {
		size_t b = a + 1;
		while (b < nk && strcmp(keys[a].key, keys[b].key) == 0) {
			field_union(&v[keys[a].i].f[k], &v[keys[b].i].f[k]);
			v[keys[b].i].dead = true;
			b++;
		}
		a = b;
	}
	for (size_t i = 0; i < nk; i++)
		free(keys[i].key);
	free(keys);
}

/* Fields are merged right to left (projection names, expert numbers,
 * layers).  A number set is then widened to [0-9]+ when that adds no
 * untagged tensor (tried while the patterns are few: each try reads every
 * name).  The result is checked against every name; if compaction went
 * wrong anyhow, the plain alternation of escaped names is used. */
char *pj_session_selection_regex(const pj_session *s)
{
	if (!s->n_tag)
		return NULL;
	pat *v = pj_xcalloc(s->n_tag, sizeof *v);
	size_t n = 0, maxf = 0;
	for (size_t t = 0; t < s->n; t++)
		if (s->tag[t]) {
			pat_parse(s->m->cat.t[t].name, &v[n]);
			if (v[n].n > maxf)
				maxf = v[n].n;
			n++;
		}
	for (size_t k = maxf; k-- > 0;)
		merge_field(v, n, k);
	size_t live = 0;
	for (size_t i = 0; i < n; i++)
		live += !v[i].dead;
	for (size_t i = 0; i < n && live <= 16; i++)
		for (size_t k = 0; k < v[i].n; k++) {
			pfield *f = &v[i].f[k];
			if (v[i].dead || !f->num || f->n_vals < 2)
				continue;
			f->any = true;
			char *re = pats_regex(v, n);
			if (!regex_exact(s, re))
				f->any = false;
			free(re);
		}
	char *re = pats_regex(v, n);
	if (!regex_exact(s, re)) {
		free(re);
		sbuf b = { 0 };
		sb_str(&b, s->n_tag > 1 ? "^(" : "^");
		bool first = true;
		for (size_t t = 0; t < s->n; t++)
			if (s->tag[t]) {
				sb_str(&b, first ? "" : "|");
				sb_regex_escaped(&b, s->m->cat.t[t].name);
				first = false;
			}
		sb_str(&b, s->n_tag > 1 ? ")$" : "$");
		re = b.p;
	}
	for (size_t i = 0; i < n; i++)
		pat_free(&v[i]);
	free(v);
	return re;
}

pj_status pj_session_rule_from_selection(pj_session *s, pj_dtype type, char **text, pj_error *err)
{
	if (text)
		*text = NULL;
	if (!s->n_tag)
		return pj_fail(err, PJ_EUSAGE, "no tensor is tagged");
	if ((unsigned)type >= PJ_DT_COUNT || pj_dtype_info_of(type)->ggml_id < 0)
		return pj_fail(err, PJ_EUSAGE, "rule from selection: not a GGUF type");
	char *re = pj_session_selection_regex(s);
	char *rule = pj_xasprintf("%s=%s", re, pj_dtype_name(type));
	free(re);
	pj_status rc = rule_check(s, rule, err);
	if (rc) {
		free(rule);
		return rc;
	}
	sess_step st = { 0 };
	size_t cap = 0;
	st.rules = true;
	st.rules_old = sess_rules_texts(s, &st.n_rules_old);
	st.n_rules_new = st.n_rules_old + 1;
	st.rules_new = pj_xcalloc(st.n_rules_new, sizeof *st.rules_new);
	for (size_t i = 0; i < st.n_rules_old; i++)
		st.rules_new[i] = pj_xstrdup(st.rules_old[i]);
	st.rules_new[st.n_rules_old] = pj_xstrdup(rule);
	for (size_t t = 0; t < s->n; t++)
		if (s->tag[t] && s->ov[t] != OV_NONE && !(s->ov[t] & OV_PINNED))
			step_diff(&st, &cap, t, s->ov[t], OV_NONE);
	step_label(&st, "rule from %zu tagged: %s", s->n_tag, rule);
	rc = sess_step_push(s, &st, err);
	if (!rc && text)
		*text = rule;
	else
		free(rule);
	return rc;
}

/* ---- plan files -------------------------------------------------------------------- */

pj_status pj_session_load_plan(pj_session *s, const char *path, char **warning, pj_error *err)
{
	pj_plan tmp;
	pj_status rc = pj_plan_json_load_keyed(&tmp, s->m, path, s->has_im, s->key, warning, err);
	if (rc)
		return rc;
	sess_step st = { 0 };
	size_t cap = 0;
	st.base_old = pj_xstrdup(s->plan.base);
	st.base_new = pj_xstrdup(tmp.base);
	st.rules = true;
	st.rules_old = sess_rules_texts(s, &st.n_rules_old);
	st.n_rules_new = tmp.n_rules;
	st.rules_new = pj_xcalloc(tmp.n_rules ? tmp.n_rules : 1, sizeof *st.rules_new);
	for (size_t i = 0; i < tmp.n_rules; i++)
		st.rules_new[i] = pj_xstrdup(tmp.rules[i].text);
	int32_t *want = pj_xmalloc((s->n ? s->n : 1) * sizeof *want);
	for (size_t t = 0; t < s->n; t++)
		want[t] = OV_NONE;
	/* foreign overrides are taken as they are (not part of the step) */
	for (size_t i = 0; i < s->n_foreign; i++)
		free(s->foreign[i].tensor);
	s->n_foreign = 0;
	for (size_t i = 0; i < tmp.n_ov; i++) {
		const ptrdiff_t t = pj_catalog_find_index(&s->m->cat, tmp.ov[i].tensor);
		if (t >= 0) {
			want[t] = OV_MAKE(tmp.ov[i].type, tmp.ov[i].pinned, false);
			continue;
		}
		s->foreign = pj_xrealloc(s->foreign, (s->n_foreign + 1) * sizeof *s->foreign);
		s->foreign[s->n_foreign] = tmp.ov[i];
		s->foreign[s->n_foreign++].tensor = pj_xstrdup(tmp.ov[i].tensor);
	}
	for (size_t t = 0; t < s->n; t++)
		step_diff(&st, &cap, t, s->ov[t], want[t]);
	free(want);
	pj_plan_free(&tmp);
	const char *b = strrchr(path, '/');
	step_label(&st, "load plan %s", b ? b + 1 : path);
	return sess_step_push(s, &st, err);
}

char *pj_session_plan_json(pj_session *s)
{
	plan_ov_sync(s);
	return pj_plan_json_dump_keyed(&s->plan, s->key);
}

pj_status pj_session_save_plan(pj_session *s, const char *path, pj_error *err)
{
	plan_ov_sync(s);
	pj_status rc = pj_plan_json_save_keyed(&s->plan, s->key, path, err);
	if (!rc)
		pj_session_mark_saved(s);
	return rc;
}

/* ---- undo / redo ---------------------------------------------------------------------- */

bool pj_session_can_undo(const pj_session *s)
{
	return s->pos > 0;
}

bool pj_session_can_redo(const pj_session *s)
{
	return s->pos < s->n_hist;
}

pj_status pj_session_undo(pj_session *s, pj_error *err)
{
	if (!s->pos)
		return pj_fail(err, PJ_EUSAGE, "nothing to undo");
	pj_status rc = sess_step_apply(s, &s->hist[s->pos - 1], false, err);
	if (!rc)
		s->pos--;
	return rc;
}

pj_status pj_session_redo(pj_session *s, pj_error *err)
{
	if (s->pos >= s->n_hist)
		return pj_fail(err, PJ_EUSAGE, "nothing to redo");
	pj_status rc = sess_step_apply(s, &s->hist[s->pos], true, err);
	if (!rc)
		s->pos++;
	return rc;
}

const char *pj_session_undo_label(const pj_session *s)
{
	return s->pos ? s->hist[s->pos - 1].label : NULL;
}

const char *pj_session_redo_label(const pj_session *s)
{
	return s->pos < s->n_hist ? s->hist[s->pos].label : NULL;
}

size_t pj_session_history(const pj_session *s, size_t *applied)
{
	if (applied)
		*applied = s->pos;
	return s->n_hist;
}

/* ---- selection ---------------------------------------------------------------------- */

void pj_session_tag(pj_session *s, size_t t, bool on)
{
	if (t >= s->n || (s->tag[t] != 0) == on)
		return;
	s->tag[t] = on;
	s->n_tag += on ? 1 : (size_t)-1;
	row_changed(s, t);
	sess_touch(s, false);
}

void pj_session_tag_toggle(pj_session *s, size_t t)
{
	if (t < s->n)
		pj_session_tag(s, t, !s->tag[t]);
}

bool pj_session_tagged(const pj_session *s, size_t t)
{
	return t < s->n && s->tag[t];
}

void pj_session_tag_clear(pj_session *s)
{
	for (size_t t = 0; t < s->n && s->n_tag; t++)
		if (s->tag[t]) {
			s->tag[t] = 0;
			s->n_tag--;
			row_changed(s, t);
		}
	sess_touch(s, false);
}

size_t pj_session_n_tagged(const pj_session *s)
{
	return s->n_tag;
}

size_t pj_session_tagged_list(const pj_session *s, size_t *out, size_t max)
{
	size_t k = 0;
	for (size_t t = 0; t < s->n; t++)
		if (s->tag[t]) {
			if (k < max)
				out[k] = t;
			k++;
		}
	return k;
}

typedef bool (*tag_pred)(const pj_session *s, size_t t, const void *arg);

static size_t tag_where(pj_session *s, pj_tag_mode mode, tag_pred pred, const void *arg)
{
	size_t hit = 0;
	if (mode == PJ_TAG_SET)
		pj_session_tag_clear(s);
	for (size_t t = 0; t < s->n; t++)
		if (pred(s, t, arg)) {
			hit++;
			pj_session_tag(s, t, mode != PJ_TAG_REMOVE);
		}
	sess_touch(s, false);
	return hit;
}

static bool pred_regex(const pj_session *s, size_t t, const void *arg)
{
	return regexec(arg, s->m->cat.t[t].name, 0, NULL, 0) == 0;
}

pj_status pj_session_tag_regex(pj_session *s, const char *re, pj_tag_mode mode, size_t *n_matched, pj_error *err)
{
	regex_t r;
	int rc = regcomp(&r, re, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		char msg[200];
		regerror(rc, &r, msg, sizeof msg);
		return pj_fail(err, PJ_EUSAGE, "'%s': bad regular expression: %s", re, msg);
	}
	const size_t n = tag_where(s, mode, pred_regex, &r);
	regfree(&r);
	if (n_matched)
		*n_matched = n;
	return PJ_OK;
}

typedef struct layer_arg {
	int comp, layer;
	bool experts;
} layer_arg;

static bool pred_layer(const pj_session *s, size_t t, const void *arg)
{
	const layer_arg *a = arg;
	const pj_tensor *tn = &s->m->cat.t[t];
	if ((int)tn->comp != a->comp || tn->layer != a->layer)
		return false;
	return !a->experts || pj_role_info_of(tn->role)->group == PJ_RG_EXPERT;
}

size_t pj_session_tag_layer(pj_session *s, int comp, int layer, pj_tag_mode mode)
{
	return tag_where(s, mode, pred_layer, &(layer_arg){ comp, layer, false });
}

size_t pj_session_tag_experts(pj_session *s, int comp, int layer, pj_tag_mode mode)
{
	return tag_where(s, mode, pred_layer, &(layer_arg){ comp, layer, true });
}

static bool pred_role(const pj_session *s, size_t t, const void *arg)
{
	return s->m->cat.t[t].role == *(const pj_role *)arg;
}

static bool pred_group(const pj_session *s, size_t t, const void *arg)
{
	return pj_role_info_of(s->m->cat.t[t].role)->group == *(const pj_role_group *)arg;
}

static bool pred_comp(const pj_session *s, size_t t, const void *arg)
{
	return s->m->cat.t[t].comp == *(const pj_component *)arg;
}

size_t pj_session_tag_role(pj_session *s, pj_role role, pj_tag_mode mode)
{
	return tag_where(s, mode, pred_role, &role);
}

size_t pj_session_tag_role_group(pj_session *s, pj_role_group g, pj_tag_mode mode)
{
	return tag_where(s, mode, pred_group, &g);
}

size_t pj_session_tag_component(pj_session *s, pj_component c, pj_tag_mode mode)
{
	return tag_where(s, mode, pred_comp, &c);
}

/* ---- measurements ------------------------------------------------------------------------ */

void pj_session_put_measure(pj_session *s, const pj_mtensor *m)
{
	const size_t t = m->tensor;
	if (t >= s->n || m->state == PJ_MS_PENDING)
		return;
	sess_meas *me = s->meas[t];
	const bool had = me != NULL;
	if (!me)
		me = s->meas[t] = pj_xcalloc(1, sizeof *me);
	for (size_t k = 0; k < me->n; k++)
		free(me->r[k].reason);
	me->n = 0;
	for (size_t k = 0; k < m->n && k < PJ_MEASURE_MAX_TYPES; k++) {
		const pj_mresult *r = &m->r[k];
		me->r[me->n].type = (uint8_t)r->type;
		me->r[me->n].state = (uint8_t)r->state;
		me->r[me->n].rel_err = r->rel_err;
		me->r[me->n].reason = r->reason[0] ? pj_xstrdup(r->reason) : NULL;
		me->n++;
	}
	me->stats = m->stats;
	if (!had)
		s->n_measured++;
	loss_update(s, t);
	sess_touch(s, false);
}

static void sink_result(void *ctx, size_t i, const pj_mtensor *m)
{
	pj_session *s = ctx;
	(void)i;
	pthread_mutex_lock(&s->lock);
	if (s->n_inbox == s->cap_inbox) {
		s->cap_inbox = s->cap_inbox ? s->cap_inbox * 2 : 16;
		s->inbox = pj_xrealloc(s->inbox, s->cap_inbox * sizeof *s->inbox);
	}
	s->inbox[s->n_inbox++] = *m;
	void (*fn)(void *) = s->notify;
	void *nctx = s->notify_ctx;
	pthread_mutex_unlock(&s->lock);
	if (fn)
		fn(nctx);
}

static void sink_finished(void *ctx)
{
	pj_session *s = ctx;
	pthread_mutex_lock(&s->lock);
	void (*fn)(void *) = s->notify;
	void *nctx = s->notify_ctx;
	pthread_mutex_unlock(&s->lock);
	if (fn)
		fn(nctx);
}

pj_status pj_session_measure_start(pj_session *s, pj_pool *pool, pj_mcache *cache, const size_t *order, size_t n,
                                   pj_error *err)
{
	pj_session_measure_cancel(s);
	pj_measure_job_free(s->mjob);
	s->mjob = NULL;
	free(s->morder);
	if (!order) {
		s->morder = pj_xcalloc(s->n ? s->n : 1, sizeof *s->morder);
		n = 0;
		for (size_t t = 0; t < s->n; t++)
			if (pj_session_entry(s, t)->quantizable)
				s->morder[n++] = t;
	} else {
		s->morder = pj_xcalloc(n ? n : 1, sizeof *s->morder);
		memcpy(s->morder, order, n * sizeof *order);
	}
	const pj_measure_opts mo = { .imatrix = s->im, .cache = cache };
	const pj_measure_sink sink = { sink_result, sink_finished, s };
	s->mjob = pj_measure_job_start(pool, &s->m->cat, s->morder, n, &mo, &sink, err);
	return s->mjob ? PJ_OK : (err ? err->code : PJ_EUSAGE);
}

void pj_session_measure_cancel(pj_session *s)
{
	if (s->mjob) {
		pj_measure_job_cancel(s->mjob);
		pj_measure_job_wait(s->mjob);
	}
}

const pj_progress *pj_session_measure_progress(const pj_session *s)
{
	return s->mjob ? pj_measure_job_progress(s->mjob) : NULL;
}

void pj_session_set_notify(pj_session *s, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&s->lock);
	s->notify = fn;
	s->notify_ctx = ctx;
	pthread_mutex_unlock(&s->lock);
}

/* The inbox is swapped out whole (the lock is held for pointer moves) into
 * the owner's outbox, which is worked off max at a time. */
size_t pj_session_poll_some(pj_session *s, size_t max)
{
	if (s->outbox_pos == s->n_outbox) {
		free(s->outbox);
		pthread_mutex_lock(&s->lock);
		s->outbox = s->inbox;
		s->n_outbox = s->n_inbox;
		s->inbox = NULL;
		s->n_inbox = s->cap_inbox = 0;
		pthread_mutex_unlock(&s->lock);
		s->outbox_pos = 0;
	}
	size_t k = 0;
	for (; s->outbox_pos < s->n_outbox && (!max || k < max); k++)
		pj_session_put_measure(s, &s->outbox[s->outbox_pos++]);
	return k;
}

size_t pj_session_poll(pj_session *s)
{
	size_t n = 0, k;
	while ((k = pj_session_poll_some(s, 0)))
		n += k;
	return n;
}

/* ---- checks and the refit ------------------------------------------------------------------- */

void pj_session_record_check(pj_session *s, double measured_kld)
{
	sess_check c = { .kld = measured_kld };
	for (size_t t = 0; t < s->n; t++) {
		const pj_role_group g = group_of(s, t);
		if (s->scale[g] > 0)
			c.pred[g] += s->loss[t] / s->scale[g];
	}
	s->checks = pj_xrealloc(s->checks, (s->n_checks + 1) * sizeof *s->checks);
	s->checks[s->n_checks++] = c;
	sess_touch(s, false);
}

/* Solves a (n x n, row-major) x = b by Gaussian elimination with partial
 * pivoting; false when singular. */
static bool solve_linear(double *a, double *b, int n)
{
	for (int c = 0; c < n; c++) {
		int piv = c;
		for (int r = c + 1; r < n; r++)
			if (fabs(a[r * n + c]) > fabs(a[piv * n + c]))
				piv = r;
		if (fabs(a[piv * n + c]) < 1e-300)
			return false;
		if (piv != c) {
			for (int k = 0; k < n; k++) {
				double tmp = a[c * n + k];
				a[c * n + k] = a[piv * n + k];
				a[piv * n + k] = tmp;
			}
			double tmp = b[c];
			b[c] = b[piv];
			b[piv] = tmp;
		}
		for (int r = c + 1; r < n; r++) {
			const double f = a[r * n + c] / a[c * n + c];
			for (int k = c; k < n; k++)
				a[r * n + k] -= f * a[c * n + k];
			b[r] -= f * b[c];
		}
	}
	for (int c = n - 1; c >= 0; c--) {
		for (int k = c + 1; k < n; k++)
			b[c] -= a[c * n + k] * b[k];
		b[c] /= a[c * n + c];
	}
	return true;
}

/* minimise sum_k (sum_g s_g P_kg - M_k)^2 + lambda sum_g (s_g - 1)^2 with
 * lambda = 1e-3 max_k |P_k|^2: the data decide where they can, the prior
 * (s = 1) elsewhere. */
pj_status pj_session_refit(pj_session *s, pj_error *err)
{
	enum { G = PJ_RG_COUNT };
	if (!s->n_checks)
		return pj_fail(err, PJ_EUSAGE, "refit: no measured check recorded");
	double a[G * G] = { 0 }, b[G] = { 0 }, lam = 0;
	for (size_t k = 0; k < s->n_checks; k++) {
		const sess_check *c = &s->checks[k];
		double norm = 0;
		for (int i = 0; i < G; i++) {
			norm += c->pred[i] * c->pred[i];
			b[i] += c->pred[i] * c->kld;
			for (int j = 0; j < G; j++)
				a[i * G + j] += c->pred[i] * c->pred[j];
		}
		if (norm > lam)
			lam = norm;
	}
	lam = lam > 0 ? 1e-3 * lam : 1.0;
	for (int i = 0; i < G; i++) {
		a[i * G + i] += lam;
		b[i] += lam;
	}
	if (!solve_linear(a, b, G))
		return pj_fail(err, PJ_EUSAGE, "refit: singular system");
	for (int g = 0; g < G; g++)
		s->scale[g] = b[g] < 1e-3 ? 1e-3 : b[g] > 1e3 ? 1e3 : b[g];
	loss_all(s);
	sess_touch(s, false);
	return PJ_OK;
}

void pj_session_loss_scales(const pj_session *s, double out[PJ_RG_COUNT])
{
	memcpy(out, s->scale, sizeof s->scale);
}

/* ---- queries --------------------------------------------------------------------------------- */

static const sess_meas *meas_find(const pj_session *s, size_t t, pj_dtype type, size_t *k)
{
	const sess_meas *me = meas_of(s, t);
	if (!me)
		return NULL;
	for (size_t i = 0; i < me->n; i++)
		if (me->r[i].type == type) {
			*k = i;
			return me;
		}
	return NULL;
}

void pj_session_row_figures(const pj_session *s, size_t t, pj_srow *r)
{
	memset(r, 0, offsetof(pj_srow, note));
	r->note[0] = r->why[0] = '\0';
	if (t >= s->n)
		return;
	const pj_plan_entry *e = pj_session_entry(s, t);
	r->t = e->t;
	r->e = e;
	r->type = e->type;
	r->bytes = e->bytes;
	const int64_t ne = pj_tensor_nelem(e->t);
	r->bpw = ne ? (double)e->bytes * 8.0 / (double)ne : 0;
	r->rel_err = NAN;
	r->mstate = PJ_MS_PENDING;
	size_t k;
	const sess_meas *me = meas_find(s, t, e->type, &k);
	if (me) {
		r->mstate = (pj_mstate)me->r[k].state;
		if (mstate_usable(me->r[k].state))
			r->rel_err = me->r[k].rel_err;
	}
	r->loss = s->loss[t];
	r->loss_estimated = s->est[t];
	r->prov = e->prov;
	r->pinned = e->pinned;
	r->tagged = s->tag[t];
	r->fell_back = e->fell_back;
	r->quantizable = e->quantizable;
	r->rule = e->rule >= 0 && (size_t)e->rule < s->plan.n_rules ? s->plan.rules[e->rule].text : NULL;
}

void pj_session_row(const pj_session *s, size_t t, pj_srow *r)
{
	pj_session_row_figures(s, t, r);
	if (t >= s->n)
		return;
	const pj_plan_entry *e = r->e;
	if (e->fell_back)
		snprintf(r->note, sizeof r->note, "rows of %lld: %s falls back to %s", (long long)e->t->ne[0],
		         pj_dtype_name(e->requested), pj_dtype_name(e->type));
	else if (e->why.why == PJ_WHY_ROUTER)
		pj_plan_reason(&s->plan, e, r->note);
	else if (pj_plan_entry_unweightable(&s->plan, s->has_im ? s->im : NULL, e))
		snprintf(r->note, sizeof r->note, "%s cannot be written without importance data and %s: the export "
		         "refuses it - give this tensor another type", pj_dtype_name(e->type),
		         s->has_im ? "the imatrix has none for it" : "there is no imatrix");
	pj_plan_reason(&s->plan, e, r->why);
}

size_t pj_session_candidates(const pj_session *s, size_t t, pj_scand *out, size_t max)
{
	if (t >= s->n)
		return 0;
	const pj_plan_entry *e = pj_session_entry(s, t);
	pj_dtype types[PJ_MEASURE_MAX_TYPES + 16];
	size_t nt = 0;
	const pj_dtype *l;
	const size_t nl = pj_ladder(s->has_im, &l);
	for (size_t i = 0; i < nl; i++)
		types[nt++] = l[i];
	const sess_meas *me = meas_of(s, t);
	for (size_t k = 0; me && k < me->n; k++) {
		bool have = false;
		for (size_t i = 0; i < nt; i++)
			have |= types[i] == me->r[k].type;
		if (!have)
			types[nt++] = me->r[k].type;
	}
	/* biggest first */
	for (size_t i = 1; i < nt; i++)
		for (size_t j = i; j > 0 && pj_dtype_bpw(types[j]) > pj_dtype_bpw(types[j - 1]); j--) {
			pj_dtype x = types[j];
			types[j] = types[j - 1];
			types[j - 1] = x;
		}
	const int64_t ne = pj_tensor_nelem(e->t);
	size_t n = 0;
	for (size_t i = 0; i < nt; i++) {
		if (n >= max) {
			n++;
			continue;
		}
		pj_scand *c = &out[n++];
		memset(c, 0, sizeof *c);
		c->type = types[i];
		bool ok;
		c->written = pj_plan_shape_fallback(types[i], e->t->ne[0], &ok);
		uint64_t nb = 0;
		if (ok)
			pj_dtype_bytes(c->written, (uint64_t)ne, &nb);
		c->bytes = nb;
		c->bpw = ne ? (double)nb * 8.0 / (double)ne : 0;
		c->unweightable = ok && sess_unweightable(s, e, c->written);
		c->rel_err = NAN;
		c->mstate = PJ_MS_PENDING;
		size_t k;
		const sess_meas *mm = meas_find(s, t, types[i], &k);
		if (mm) {
			c->mstate = (pj_mstate)mm->r[k].state;
			if (mstate_usable(mm->r[k].state))
				c->rel_err = mm->r[k].rel_err;
			if (mm->r[k].reason)
				snprintf(c->reason, sizeof c->reason, "%s", mm->r[k].reason);
		}
		c->loss = sess_can_override(e) ? sess_loss_at(s, t, c->written, &c->estimated) : 0;
		c->planned = e->requested == types[i];
	}
	return n;
}

void pj_session_stats(const pj_session *s, size_t t, pj_tstats *out)
{
	memset(out, 0, sizeof *out);
	const sess_meas *me = t < s->n ? meas_of(s, t) : NULL;
	if (me)
		*out = me->stats;
}

/* ---- aggregates -------------------------------------------------------------------------------- */

static void agg_label(pj_sagg *a, const char *label, uint32_t count, uint64_t bytes)
{
	for (size_t i = 0; i < a->n_labels; i++)
		if (strcmp(a->labels[i].label, label) == 0) {
			a->labels[i].count += count;
			a->labels[i].bytes += bytes;
			return;
		}
	if (a->n_labels == PJ_SAGG_MAX) {
		/* the last slot collects the rest */
		snprintf(a->labels[PJ_SAGG_MAX - 1].label, sizeof a->labels[0].label, "other");
		a->labels[PJ_SAGG_MAX - 1].count += count;
		a->labels[PJ_SAGG_MAX - 1].bytes += bytes;
		return;
	}
	snprintf(a->labels[a->n_labels].label, sizeof a->labels[0].label, "%s", label);
	a->labels[a->n_labels].count = count;
	a->labels[a->n_labels].bytes = bytes;
	a->n_labels++;
}

static int label_cmp(const void *x, const void *y)
{
	const pj_sagg_label *a = x, *b = y;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	return strcmp(a->label, b->label);
}

static void agg_tensor(const pj_session *s, size_t t, pj_sagg *a)
{
	const pj_plan_entry *e = pj_session_entry(s, t);
	a->n_tensors++;
	a->params += e->t->params;
	a->src_bytes += e->t->nbytes;
	a->bytes += e->bytes;
	a->loss += s->loss[t];
	a->n_estimated += s->est[t];
}

void pj_session_agg(const pj_session *s, const size_t *tensors, size_t n, pj_sagg *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		const size_t t = tensors[i];
		if (t >= s->n)
			continue;
		agg_tensor(s, t, out);
		const pj_plan_entry *e = pj_session_entry(s, t);
		agg_label(out, pj_dtype_name(e->type), 1, e->bytes);
		out->n_units++;
	}
	qsort(out->labels, out->n_labels, sizeof out->labels[0], label_cmp);
}

void pj_session_agg_layer(const pj_session *s, int comp, int layer, pj_sagg *out)
{
	size_t n;
	const size_t *v = layer_tensors(s, comp, layer, &n);
	pj_session_agg(s, v, n, out);
}

/* Each expert's label: the distinct types of its tensors, most bits first,
 * joined by '+' (a uniform expert is just "Q4_K"). */
void pj_session_agg_experts(const pj_session *s, int comp, int layer, pj_sagg *out)
{
	memset(out, 0, sizeof *out);
	size_t n;
	const size_t *v = layer_tensors(s, comp, layer, &n);
	int E = 0;
	for (size_t i = 0; i < n; i++) {
		const pj_tensor *tn = &s->m->cat.t[v[i]];
		if (pj_role_info_of(tn->role)->group != PJ_RG_EXPERT)
			continue;
		agg_tensor(s, v[i], out);
		if (tn->n_experts > E)
			E = tn->n_experts;
		if (tn->expert + 1 > E)
			E = tn->expert + 1;
	}
	out->n_experts = E;
	out->n_units = (size_t)E;
	if (!E)
		return;
	/* per expert: up to 8 distinct types and its bytes */
	typedef struct { pj_dtype ty[8]; int nt; uint64_t bytes; } xp;
	xp *x = pj_xcalloc((size_t)E, sizeof *x);
	for (size_t i = 0; i < n; i++) {
		const pj_tensor *tn = &s->m->cat.t[v[i]];
		if (pj_role_info_of(tn->role)->group != PJ_RG_EXPERT)
			continue;
		const pj_plan_entry *e = pj_session_entry(s, v[i]);
		int lo = 0, hi = E;
		uint64_t share = e->bytes / (uint64_t)E;
		if (tn->expert >= 0 && tn->n_experts <= 1) {
			lo = tn->expert;
			hi = lo + 1;
			share = e->bytes;
		}
		/* biases and the like are not what an expert "is" quantized to */
		const bool counts = e->n_dims >= 2 && tn->role != PJ_ROLE_EXP_BIAS;
		for (int j = lo; j < hi; j++) {
			x[j].bytes += share;
			bool have = false;
			for (int k = 0; k < x[j].nt; k++)
				have |= x[j].ty[k] == e->type;
			if (counts && !have && x[j].nt < 8)
				x[j].ty[x[j].nt++] = e->type;
		}
	}
	for (int j = 0; j < E; j++) {
		for (int a = 1; a < x[j].nt; a++)
			for (int b = a; b > 0 && pj_dtype_bpw(x[j].ty[b]) > pj_dtype_bpw(x[j].ty[b - 1]); b--) {
				pj_dtype tmp = x[j].ty[b];
				x[j].ty[b] = x[j].ty[b - 1];
				x[j].ty[b - 1] = tmp;
			}
		char label[40] = "";
		size_t k = 0;
		for (int a = 0; a < x[j].nt && k < sizeof label; a++)
			k += (size_t)snprintf(label + k, sizeof label - k, "%s%s", a ? "+" : "", pj_dtype_name(x[j].ty[a]));
		agg_label(out, x[j].nt ? label : "-", 1, x[j].bytes);
	}
	free(x);
	qsort(out->labels, out->n_labels, sizeof out->labels[0], label_cmp);
}

static const char *fmt_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const U[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%llu B", (unsigned long long)b);
	else
		snprintf(buf, len, v < 10 ? "%.1f %s" : "%.0f %s", v, U[u]);
	return buf;
}

const char *pj_sagg_summary(const pj_sagg *a, char *buf, size_t len)
{
	return pj_sagg_summary_ex(a, false, buf, len);
}

const char *pj_sagg_summary_ex(const pj_sagg *a, bool ascii, char *buf, size_t len)
{
	char sz[32];
	size_t k = (size_t)snprintf(buf, len, "%zu %s%s:", a->n_units, a->n_experts ? "expert" : "tensor",
	                            a->n_units == 1 ? "" : "s");
	for (size_t i = 0; i < a->n_labels && k < len; i++)
		k += (size_t)snprintf(buf + k, len - k, " %u%s%s", a->labels[i].count, ascii ? "x" : "\u00d7",
		                      a->labels[i].label);
	if (k < len)
		snprintf(buf + k, len - k, ", %s", fmt_bytes(a->bytes, sz, sizeof sz));
	return buf;
}

void pj_session_totals(const pj_session *s, pj_stotals *o)
{
	memset(o, 0, sizeof *o);
	const pj_plan *p = &s->plan;
	o->src_bytes = p->src_bytes;
	o->out_bytes = p->out_bytes;
	o->n_elements = p->n_elements;
	o->bpw = pj_plan_bpw(p);
	o->ratio = pj_plan_ratio(p);
	o->params_total = s->m->arch.params_total;
	o->params_active = s->m->arch.params_active;
	o->loss = s->loss_total > 0 ? s->loss_total : 0;
	o->n_quantizable = s->n_quantizable;
	o->n_measured = s->n_measured;
	o->n_estimated = s->n_est;
	o->loss_checked = s->n_checks ? s->checks[s->n_checks - 1].kld : NAN;
	o->kv_ctx = s->kv_ctx;
	o->kv_type = s->kv_type;
	o->kv_bytes = pj_plan_kv_bytes(&s->m->arch, s->kv_ctx, s->kv_type);
	o->n_tagged = s->n_tag;
	o->n_fallback = p->n_fallback;
	o->n_need_imatrix = p->n_need_imatrix;
	o->undo_steps = s->n_hist;
	o->undo_applied = s->pos;
	o->dirty = pj_session_dirty(s);
	o->generation = s->gen;
}
