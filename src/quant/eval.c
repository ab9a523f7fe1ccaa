/* eval.c - perplexity / KL-divergence check of a plan against the base
 * weights (conventions in eval.h).
 *
 * Both runs keep only the final hidden states of every token (n_tok x
 * hidden floats each); logits are computed chunk by chunk for the scored
 * half only, base and plan side by side, so no run ever holds a full
 * n_tok x vocab logit matrix. */
#include "config.h"
#include "quant/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfconfig.h"
#include "model/strbuf.h"
#include "quant/forward_int.h"
#include "quant/check_session.h"
#include "quant/eval_int.h"
#include "quant/qtypes.h"

/* ---- BOS ------------------------------------------------------------------------ */

static cJSON *read_json(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	sbuf b = { 0 };
	sb_read(&b, fp, SIZE_MAX);
	fclose(fp);
	cJSON *j = cJSON_Parse(b.p);
	free(b.p);
	return j;
}

void pj_eval_model_bos(const pj_model *m, int32_t *bos)
{
	*bos = -1;
	bool add = false;
	int64_t id = -1;
	if (m->format == PJ_FMT_GGUF) {
		uint64_t u;
		if (pj_gguf_get_bool(m->gguf, "tokenizer.ggml.add_bos_token", &add) && add &&
		    pj_gguf_get_u64(m->gguf, "tokenizer.ggml.bos_token_id", &u))
			*bos = (int32_t)u;
		return;
	}
	char *p = pj_xasprintf("%s/tokenizer_config.json", m->path);
	cJSON *tc = read_json(p);
	free(p);
	if (tc && pj_cfg_bool(tc, "add_bos_token", &add) && add) {
		pj_hfcfg h;
		pj_hfcfg_init(&h, m->config);
		if (pj_hfcfg_text_int(&h, "bos_token_id", 0, INT32_MAX, &id))
			*bos = (int32_t)id;
	}
	cJSON_Delete(tc);
}

/* ---- the pure plan ------------------------------------------------------------------ */

static int ggml_dims(const pj_tensor *t)
{
	for (int d = PJ_MAX_DIMS - 1; d >= 1; d--)
		if (t->ne[d] > 1)
			return d + 1;
	return 1;
}

/* llama.cpp's shape fallback when rows do not divide into the blocks. */
static pj_dtype fallback(pj_dtype t)
{
	switch (t) {
	case PJ_DT_IQ1_S: case PJ_DT_IQ1_M: case PJ_DT_IQ2_XXS: case PJ_DT_IQ2_XS: case PJ_DT_IQ2_S:
	case PJ_DT_IQ3_XXS: case PJ_DT_IQ3_S: case PJ_DT_IQ4_XS:
		return PJ_DT_IQ4_NL;
	case PJ_DT_Q2_K: case PJ_DT_Q3_K: case PJ_DT_TQ1_0: case PJ_DT_TQ2_0:
		return PJ_DT_Q4_0;
	case PJ_DT_Q4_K: return PJ_DT_Q5_0;
	case PJ_DT_Q5_K: return PJ_DT_Q5_1;
	case PJ_DT_Q6_K: return PJ_DT_Q8_0;
	default: return PJ_DT_F16;
	}
}

pj_dtype pj_eval_pure_type(pj_dtype type, const pj_tensor *t)
{
	const pj_role_info *ri = pj_role_info_of(t->role);
	if (ggml_dims(t) < 2 || ri->group == PJ_RG_NORM || t->role == PJ_ROLE_ROUTER ||
	    t->role == PJ_ROLE_EXP_SCORE_BIAS || t->role == PJ_ROLE_POS_EMBD || t->role == PJ_ROLE_BIAS ||
	    t->role == PJ_ROLE_WEIGHT_SCALE || t->role == PJ_ROLE_ATTN_REL_BIAS)
		return t->dtype;
	pj_dtype q = type;
	if (t->ne[0] % pj_dtype_info_of(q)->block) {
		q = fallback(q);
		if (t->ne[0] % pj_dtype_info_of(q)->block)
			q = PJ_DT_F16;
	}
	return q;
}

pj_status pj_eval_pure_load(void *ctx, pj_model *m, const pj_tensor *t, float *dst, pj_error *err)
{
	const pj_eval_pure *p = ctx;
	pj_status st = pj_fwd_load_source(NULL, m, t, dst, err);
	const pj_dtype q = pj_eval_pure_type(p->type, t);
	if (st || q == t->dtype || q == PJ_DT_F32)
		return st;
	const int64_t rows = pj_tensor_nrows(t), cols = t->ne[0];
	const size_t rs = pj_qtype_row_size(q, cols);
	if (!rs)
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: cannot quantize to %s", t->name, pj_dtype_name(q));
	void *buf = pj_xmalloc(rs * (size_t)rows);
	st = pj_quantize_rows(q, dst, buf, rows, cols, NULL, p->threads, t->name, err);
	if (!st)
		st = pj_dequantize_rows(q, buf, dst, rows, cols, err);
	free(buf);
	return st;
}

uint64_t pj_eval_pure_key(void *ctx, const pj_tensor *t)
{
	const pj_eval_pure *p = ctx;
	const pj_dtype q = pj_eval_pure_type(p->type, t);
	return q == PJ_DT_F32 ? pj_fwd_source_key(NULL, t) : pj_fwd_type_key(t, q, false);
}

/* ---- per-position statistics ------------------------------------------------------- */

typedef struct pos_stat {
	double nll_base, nll_plan, kld, dp;
	bool same_top;
} pos_stat;

typedef struct stat_op {
	const float *lb, *lp;    /* [n][vocab] */
	const int32_t *next;     /* the true next token of each row */
	size_t vocab;
	pos_stat *out;
} stat_op;

static double lse(const float *x, size_t n, size_t *imax)
{
	size_t im = 0;
	for (size_t i = 1; i < n; i++)
		if (x[i] > x[im])
			im = i;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += exp((double)x[i] - x[im]);
	*imax = im;
	return x[im] + log(s);
}

static void stat_range(void *arg, size_t i0, size_t i1)
{
	const stat_op *o = arg;
	for (size_t i = i0; i < i1; i++) {
		const float *b = o->lb + i * o->vocab, *p = o->lp + i * o->vocab;
		size_t ib, ip;
		const double zb = lse(b, o->vocab, &ib), zp = lse(p, o->vocab, &ip);
		double kld = 0;
		for (size_t v = 0; v < o->vocab; v++) {
			const double lb = b[v] - zb, lp = p[v] - zp;
			kld += exp(lb) * (lb - lp);
		}
		const int32_t t = o->next[i];
		pos_stat *s = &o->out[i];
		s->nll_base = zb - b[t];
		s->nll_plan = zp - p[t];
		s->kld = kld;
		s->dp = exp(-s->nll_plan) - exp(-s->nll_base);
		s->same_top = ib == ip;
	}
}

/* ---- summary ---------------------------------------------------------------------------- */

typedef struct sums {
	double nll, nll2, nllb, nllb2, nll_nllb, kld, kld2, dp2, dp4;
	size_t same, n;
} sums;

/* llama-perplexity's mean and standard error of the mean. */
static void mean_unc(double sum, double sum2, size_t n, double *mean, double *unc)
{
	*mean = n ? sum / (double)n : 0;
	double v = n ? sum2 / (double)n - *mean * *mean : 0;
	*unc = v > 0 && n > 10 ? sqrt(v / (double)(n - 1)) : 0;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(const double *v, size_t n, double frac)
{
	if (!n)
		return 0;
	double p = frac * (double)(n - 1);
	size_t ip = (size_t)p;
	p -= (double)ip;
	return (1 - p) * v[ip] + p * v[ip + 1 < n ? ip + 1 : n - 1];
}

static void summarize(const sums *s, double *kld, pj_eval_result *r)
{
	double lp, lpu, lb, lbu;
	mean_unc(s->nll, s->nll2, s->n, &lp, &lpu);
	mean_unc(s->nllb, s->nllb2, s->n, &lb, &lbu);
	r->count = s->n;
	r->ppl_plan = exp(lp);
	r->ppl_plan_err = r->ppl_plan * lpu;
	r->ppl_base = exp(lb);
	r->ppl_base_err = r->ppl_base * lbu;
	double cov = 0;
	if (s->n >= 10)
		cov = (s->nll_nllb / (double)s->n - lp * lb) / (double)(s->n - 1);
	r->ln_ppl_ratio = lp - lb;
	const double v = lpu * lpu + lbu * lbu - 2 * cov;
	r->ln_ppl_ratio_err = v > 0 ? sqrt(v) : 0;
	mean_unc(s->kld, s->kld2, s->n, &r->kld_mean, &r->kld_stderr);
	double mse, mse_u;
	mean_unc(s->dp2, s->dp4, s->n, &mse, &mse_u);
	r->rms_dp = sqrt(mse);
	r->rms_dp_err = r->rms_dp > 0 ? 0.5 / r->rms_dp * mse_u : 0;
	r->top1_agreement = s->n ? (double)s->same / (double)s->n : 0;
	r->top1_err = s->n > 1 ? sqrt(r->top1_agreement * (1 - r->top1_agreement) / (double)(s->n - 1)) : 0;
	qsort(kld, s->n, sizeof *kld, cmp_double);
	const size_t n = s->n;
	r->kld_max = n ? kld[n - 1] : 0;
	r->kld_p99_9 = percentile(kld, n, 0.999);
	r->kld_p99 = percentile(kld, n, 0.99);
	r->kld_p95 = percentile(kld, n, 0.95);
	r->kld_median = !n ? 0 : n % 2 ? kld[n / 2] : 0.5 * (kld[n / 2 - 1] + kld[n / 2]);
}

/* ---- the run ----------------------------------------------------------------------------- */

/* The chunked token stream, BOS rules applied (see eval.h). */
int32_t *pj_eval_chunks(const int32_t *ids, size_t n_ids, const pj_eval_opts *o, size_t *n_chunks)
{
	const size_t ctx = (size_t)o->n_ctx, lead = o->bos >= 0 ? 1 : 0;
	size_t n = (n_ids + lead) / ctx;
	if (o->n_chunks > 0 && (size_t)o->n_chunks < n)
		n = (size_t)o->n_chunks;
	*n_chunks = n;
	int32_t *c = pj_xmalloc(sizeof(int32_t) * (n * ctx + 1));
	for (size_t i = 0; i < n * ctx; i++)
		c[i] = i < lead ? o->bos : ids[i - lead];
	if (o->bos >= 0)
		for (size_t k = 0; k < n; k++)
			c[k * ctx] = o->bos;
	return c;
}

/* ---- accumulation (shared with check_session.c) ------------------------------------ */

void pj_eval_acc_init(pj_eval_acc *a, size_t n_max)
{
	memset(a, 0, sizeof *a);
	a->kld = pj_xmalloc(sizeof(double) * (n_max ? n_max : 1));
	a->ps = NULL;
}

void pj_eval_acc_free(pj_eval_acc *a)
{
	free(a->kld);
	free(a->ps);
	memset(a, 0, sizeof *a);
}

void pj_eval_acc_rows(pj_fwd *f, pj_eval_acc *a, const float *lb, const float *lp, const int32_t *next, size_t n)
{
	sums *s = (sums *)a->s;
	_Static_assert(sizeof a->s >= sizeof(sums), "pj_eval_acc.s holds the sums");
	a->ps = pj_xrealloc(a->ps, sizeof(pos_stat) * (n ? n : 1));
	pos_stat *ps = a->ps;
	stat_op so = { lb, lp, next, (size_t)f->c.vocab, ps };
	fwd_par_for(f, n, stat_range, &so);
	/* sums in position order: the same figures for any thread count */
	for (size_t i = 0; i < n; i++) {
		const pos_stat *p = &ps[i];
		s->nll += p->nll_plan;
		s->nll2 += p->nll_plan * p->nll_plan;
		s->nllb += p->nll_base;
		s->nllb2 += p->nll_base * p->nll_base;
		s->nll_nllb += p->nll_plan * p->nll_base;
		s->kld += p->kld;
		s->kld2 += p->kld * p->kld;
		s->dp2 += p->dp * p->dp;
		s->dp4 += p->dp * p->dp * p->dp * p->dp;
		s->same += p->same_top;
		a->kld[s->n++] = p->kld;
	}
}

void pj_eval_acc_finish(pj_eval_acc *a, pj_eval_result *r)
{
	summarize((const sums *)a->s, a->kld, r);
}

pj_status pj_eval_run(pj_model *m, const int32_t *ids, size_t n_ids, const pj_fwd_weights *plan,
                      const pj_eval_opts *o, pj_eval_result *r, pj_error *err)
{
	memset(r, 0, sizeof *r);
	pj_check_session_opts so = { .eval = *o, .cache_ram = SIZE_MAX };
	pj_check_session *s = NULL;
	pj_status st = pj_check_session_open(m, ids, n_ids, &so, &s, err);
	if (!st)
		st = pj_check_session_run(s, plan, r, err);
	pj_check_session_free(s);
	return st;
}
