/* forward_blocks.c - the attention and FFN sub-blocks of the forward pass.
 *
 * Which variant runs is decided by the tensors a layer has, so one code path
 * serves every family: q/k norms (Qwen3, Gemma 3), projection biases
 * (Qwen2), MLA tensors (DeepSeek), a router (MoE layers; DeepSeek's first
 * dense layers simply have none), shared experts.  What the tensors cannot
 * tell (norm offset, rope layout, routing function) comes from the family
 * flags in forward.c's table. */
#include "config.h"
#include "quant/forward_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static pj_status need(const fwd_layer *L, pj_role r, pj_error *err)
{
	return L->w[r] ? PJ_OK : pj_fail(err, PJ_EFORMAT, "no %s tensor", pj_role_name(r));
}

/* A projection from `in` to `out` features: ne = {in, out}. */
static pj_status shape(const fwd_layer *L, pj_role r, int64_t in, int64_t out, pj_error *err)
{
	const pj_tensor *t = L->t[r];
	if (!t || !L->w[r])
		return pj_fail(err, PJ_EFORMAT, "no %s tensor", pj_role_name(r));
	if (t->ne[0] != in || t->ne[1] != out || (t->n_dims > 2 && t->ne[2] != 1))
		return pj_fail(err, PJ_EFORMAT, "%s is %lld x %lld, expected %lld x %lld", t->name, (long long)t->ne[0],
		               (long long)t->ne[1], (long long)in, (long long)out);
	return PJ_OK;
}

static float *falloc(size_t n)
{
	return pj_xmalloc(sizeof(float) * (n ? n : 1));
}

/* ---- attention ----------------------------------------------------------------- */

static pj_status attn_std(pj_fwd *f, const fwd_layer *L, int layer, const float *h, size_t n_seq, size_t n_ctx,
                          const float *cs, float *out, pj_error *err)
{
	const fwd_cfg *c = &f->c;
	const size_t n_tok = n_seq * n_ctx, d = (size_t)c->hidden, hd = (size_t)c->head_dim;
	const size_t nq = (size_t)c->n_heads * hd, nk = (size_t)c->n_kv * hd;
	pj_status st;
	if ((st = shape(L, PJ_ROLE_ATTN_Q, c->hidden, (int64_t)nq, err)) ||
	    (st = shape(L, PJ_ROLE_ATTN_K, c->hidden, (int64_t)nk, err)) ||
	    (st = shape(L, PJ_ROLE_ATTN_V, c->hidden, (int64_t)nk, err)) ||
	    (st = shape(L, PJ_ROLE_ATTN_OUTPUT, (int64_t)nq, c->hidden, err)))
		return st;
	float *q = falloc(n_tok * nq), *k = falloc(n_tok * nk), *v = falloc(n_tok * nk), *a = falloc(n_tok * nq);
	fwd_matmul_t(f, L->vd[PJ_ROLE_ATTN_Q], h, n_tok, d, L->w[PJ_ROLE_ATTN_Q], L->b[PJ_ROLE_ATTN_Q], nq, q, nq);
	fwd_matmul_t(f, L->vd[PJ_ROLE_ATTN_K], h, n_tok, d, L->w[PJ_ROLE_ATTN_K], L->b[PJ_ROLE_ATTN_K], nk, k, nk);
	fwd_matmul_t(f, L->vd[PJ_ROLE_ATTN_V], h, n_tok, d, L->w[PJ_ROLE_ATTN_V], L->b[PJ_ROLE_ATTN_V], nk, v, nk);
	/* QK-norm: per head, before rope */
	if (L->w[PJ_ROLE_ATTN_Q_NORM])
		fwd_rmsnorm(f, q, q, n_tok * (size_t)c->n_heads, hd, hd, L->w[PJ_ROLE_ATTN_Q_NORM]);
	if (L->w[PJ_ROLE_ATTN_K_NORM])
		fwd_rmsnorm(f, k, k, n_tok * (size_t)c->n_kv, hd, hd, L->w[PJ_ROLE_ATTN_K_NORM]);
	fwd_rope_apply(f, q, n_tok, n_ctx, nq, c->n_heads, hd, 0, cs, c->rot_dim);
	fwd_rope_apply(f, k, n_tok, n_ctx, nk, c->n_kv, hd, 0, cs, c->rot_dim);
	fwd_act_kv(f, k, n_tok * nk);
	fwd_act_kv(f, v, n_tok * nk);
	fwd_attn at = {
		.q = q, .k = k, .v = v, .out = a, .n_seq = n_seq, .n_ctx = n_ctx,
		.n_heads = c->n_heads, .n_kv = c->n_kv, .qk_dim = c->head_dim, .v_dim = c->head_dim,
		.q_ld = nq, .k_ld = nk, .v_ld = nk, .out_ld = nq,
		.window = c->window[layer], .scale = c->attn_scale, .softcap = c->attn_softcap,
	};
	fwd_attention(f, &at);
	fwd_matmul_t(f, L->vd[PJ_ROLE_ATTN_OUTPUT], a, n_tok, nq, L->w[PJ_ROLE_ATTN_OUTPUT], L->b[PJ_ROLE_ATTN_OUTPUT],
	             d, out, d);
	free(q);
	free(k);
	free(v);
	free(a);
	return PJ_OK;
}

/* Multi-head latent attention (DeepSeek-V2/V3): queries through an optional
 * low-rank bottleneck; keys and values from a normed shared latent, plus a
 * rope part computed once and shared by all heads. */
static pj_status attn_mla(pj_fwd *f, const fwd_layer *L, int layer, const float *h, size_t n_seq, size_t n_ctx,
                          const float *cs, float *out, pj_error *err)
{
	const fwd_cfg *c = &f->c;
	const size_t n_tok = n_seq * n_ctx, d = (size_t)c->hidden, H = (size_t)c->n_heads;
	const size_t nope = (size_t)c->nope, rd = (size_t)c->rope_dim, vd = (size_t)c->v_dim, qk = nope + rd;
	const size_t lat = (size_t)c->kv_lora, kva = lat + rd, kvb = H * (nope + vd);
	pj_status st;
	if ((st = shape(L, PJ_ROLE_MLA_KV_A, c->hidden, (int64_t)kva, err)) ||
	    (st = need(L, PJ_ROLE_MLA_KV_A_NORM, err)) ||
	    (st = shape(L, PJ_ROLE_MLA_KV_B, (int64_t)lat, (int64_t)kvb, err)) ||
	    (st = shape(L, PJ_ROLE_ATTN_OUTPUT, (int64_t)(H * vd), c->hidden, err)))
		return st;
	if (c->q_lora && ((st = shape(L, PJ_ROLE_MLA_Q_A, c->hidden, c->q_lora, err)) ||
	                  (st = need(L, PJ_ROLE_MLA_Q_A_NORM, err)) ||
	                  (st = shape(L, PJ_ROLE_MLA_Q_B, c->q_lora, (int64_t)(H * qk), err))))
		return st;
	if (!c->q_lora && (st = shape(L, PJ_ROLE_ATTN_Q, c->hidden, (int64_t)(H * qk), err)))
		return st;

	float *q = falloc(n_tok * H * qk);
	if (c->q_lora) {
		const size_t r = (size_t)c->q_lora;
		float *qa = falloc(n_tok * r);
		fwd_matmul_t(f, L->vd[PJ_ROLE_MLA_Q_A], h, n_tok, d, L->w[PJ_ROLE_MLA_Q_A], L->b[PJ_ROLE_MLA_Q_A], r, qa, r);
		fwd_rmsnorm(f, qa, qa, n_tok, r, r, L->w[PJ_ROLE_MLA_Q_A_NORM]);
		fwd_matmul_t(f, L->vd[PJ_ROLE_MLA_Q_B], qa, n_tok, r, L->w[PJ_ROLE_MLA_Q_B], NULL, H * qk, q, H * qk);
		free(qa);
	} else {
		fwd_matmul_t(f, L->vd[PJ_ROLE_ATTN_Q], h, n_tok, d, L->w[PJ_ROLE_ATTN_Q], NULL, H * qk, q, H * qk);
	}
	float *kv = falloc(n_tok * kva), *lt = falloc(n_tok * lat), *kb = falloc(n_tok * kvb);
	fwd_matmul_t(f, L->vd[PJ_ROLE_MLA_KV_A], h, n_tok, d, L->w[PJ_ROLE_MLA_KV_A], L->b[PJ_ROLE_MLA_KV_A], kva, kv,
	             kva);
	for (size_t t = 0; t < n_tok; t++)
		memcpy(lt + t * lat, kv + t * kva, sizeof(float) * lat);
	fwd_rmsnorm(f, lt, lt, n_tok, lat, lat, L->w[PJ_ROLE_MLA_KV_A_NORM]);
	/* llama.cpp caches the normed latent and the rope part in f16 (it
	 * absorbs k_b into the queries and v_b after attention: not modelled) */
	fwd_act_kv(f, lt, n_tok * lat);
	fwd_matmul_t(f, L->vd[PJ_ROLE_MLA_KV_B], lt, n_tok, lat, L->w[PJ_ROLE_MLA_KV_B], NULL, kvb, kb, kvb);
	fwd_rope_apply(f, q, n_tok, n_ctx, H * qk, (int)H, qk, nope, cs, (int)rd);
	fwd_rope_apply(f, kv, n_tok, n_ctx, kva, 1, 0, lat, cs, (int)rd);
	fwd_act_kv(f, kv, n_tok * kva);

	float *k = falloc(n_tok * H * qk), *v = falloc(n_tok * H * vd), *a = falloc(n_tok * H * vd);
	for (size_t t = 0; t < n_tok; t++)
		for (size_t hh = 0; hh < H; hh++) {
			const float *src = kb + t * kvb + hh * (nope + vd);
			float *kd = k + (t * H + hh) * qk;
			memcpy(kd, src, sizeof(float) * nope);
			memcpy(kd + nope, kv + t * kva + lat, sizeof(float) * rd);
			memcpy(v + (t * H + hh) * vd, src + nope, sizeof(float) * vd);
		}
	fwd_attn at = {
		.q = q, .k = k, .v = v, .out = a, .n_seq = n_seq, .n_ctx = n_ctx,
		.n_heads = (int)H, .n_kv = (int)H, .qk_dim = (int)qk, .v_dim = (int)vd,
		.q_ld = H * qk, .k_ld = H * qk, .v_ld = H * vd, .out_ld = H * vd,
		.window = c->window[layer], .scale = c->mla_scale, .softcap = c->attn_softcap,
	};
	fwd_attention(f, &at);
	fwd_matmul_t(f, L->vd[PJ_ROLE_ATTN_OUTPUT], a, n_tok, H * vd, L->w[PJ_ROLE_ATTN_OUTPUT],
	             L->b[PJ_ROLE_ATTN_OUTPUT], d, out, d);
	free(q);
	free(kv);
	free(lt);
	free(kb);
	free(k);
	free(v);
	free(a);
	return PJ_OK;
}

pj_status fwd_attn_block(pj_fwd *f, const fwd_layer *L, int layer, const float *h, size_t n_seq, size_t n_ctx,
                         const float *rope_cs, float *out, pj_error *err)
{
	if (L->t[PJ_ROLE_ATTN_QKV])
		return pj_fail(err, PJ_EUNSUPPORTED, "fused qkv projections are not supported yet");
	if (L->w[PJ_ROLE_MLA_KV_A])
		return attn_mla(f, L, layer, h, n_seq, n_ctx, rope_cs, out, err);
	return attn_std(f, L, layer, h, n_seq, n_ctx, rope_cs, out, err);
}

/* ---- FFN ------------------------------------------------------------------------ */

/* down(act(gate(x)) * up(x)) for n rows of x. */
static void glu_ffn(pj_fwd *f, const float *x, size_t n, size_t d, const float *wg, const float *wu, const float *wd,
                    const pj_dtype vd[3], size_t ff, float *y)
{
	float *g = falloc(n * ff), *u = falloc(n * ff);
	fwd_matmul_t(f, vd[0], x, n, d, wg, NULL, ff, g, ff);
	fwd_matmul_t(f, vd[1], x, n, d, wu, NULL, ff, u, ff);
	fwd_glu(f, g, u, g, n * ff);
	fwd_matmul_t(f, vd[2], g, n, ff, wd, NULL, d, y, d);
	free(g);
	free(u);
}

static pj_status ffn_dense(pj_fwd *f, const fwd_layer *L, pj_role rg, pj_role ru, pj_role rd, const float *h,
                           size_t n_tok, float *out, pj_error *err)
{
	const int64_t d = f->c.hidden;
	const int64_t ff = L->t[rg] ? L->t[rg]->ne[1] : 0;
	pj_status st;
	if ((st = shape(L, rg, d, ff, err)) || (st = shape(L, ru, d, ff, err)) || (st = shape(L, rd, ff, d, err)))
		return st;
	const pj_dtype vd[3] = { L->vd[rg], L->vd[ru], L->vd[rd] };
	glu_ffn(f, h, n_tok, (size_t)d, L->w[rg], L->w[ru], L->w[rd], vd, (size_t)ff, out);
	return PJ_OK;
}

typedef struct route_op {
	const fwd_cfg *c;
	const float *logits, *bias;
	int *sel;
	float *wt;
} route_op;

/* Marks all but the best topk_group groups as unselectable. */
static void route_groups(const fwd_cfg *c, float *choice)
{
	const int E = c->n_experts, G = c->n_group, per = E / G;
	float gs[64];
	bool keep[64] = { false };
	for (int g = 0; g < G; g++) {
		float b1 = -INFINITY, b2 = -INFINITY;
		for (int e = g * per; e < (g + 1) * per; e++) {
			if (choice[e] > b1) {
				b2 = b1;
				b1 = choice[e];
			} else if (choice[e] > b2) {
				b2 = choice[e];
			}
		}
		gs[g] = c->flags & FWD_GROUP_TOP2 ? b1 + b2 : b1;
	}
	for (int k = 0; k < c->topk_group; k++) {
		int best = -1;
		for (int g = 0; g < G; g++)
			if (!keep[g] && (best < 0 || gs[g] > gs[best]))
				best = g;
		keep[best] = true;
	}
	/* The original DeepSeek code masks with -inf (transformers uses 0.0,
	 * which only differs when every kept score is negative). */
	for (int g = 0; g < G; g++)
		if (!keep[g])
			for (int e = g * per; e < (g + 1) * per; e++)
				choice[e] = -INFINITY;
}

static void route_token(const route_op *o, size_t t, float *sc, float *choice)
{
	const fwd_cfg *c = o->c;
	const int E = c->n_experts, K = c->top_k;
	const float *lg = o->logits + t * (size_t)E;
	if (c->flags & FWD_ROUTE_SIGMOID) {
		for (int e = 0; e < E; e++)
			sc[e] = 1.0f / (1.0f + expf(-lg[e]));
	} else {
		float mx = -INFINITY;
		for (int e = 0; e < E; e++)
			mx = lg[e] > mx ? lg[e] : mx;
		double sum = 0;
		for (int e = 0; e < E; e++)
			sum += sc[e] = expf(lg[e] - mx);
		for (int e = 0; e < E; e++)
			sc[e] = (float)(sc[e] / sum);
	}
	/* the score-correction bias steers selection, never the weights */
	for (int e = 0; e < E; e++)
		choice[e] = sc[e] + (o->bias ? o->bias[e] : 0.0f);
	if (c->n_group > 1 && c->topk_group < c->n_group && c->n_group <= 64 && E % c->n_group == 0)
		route_groups(c, choice);
	int *sel = o->sel + t * (size_t)K;
	float *wt = o->wt + t * (size_t)K;
	float sum = 0;
	for (int k = 0; k < K; k++) {
		int best = 0;
		for (int e = 1; e < E; e++)
			if (choice[e] > choice[best])
				best = e;
		sel[k] = best;
		wt[k] = sc[best];
		sum += sc[best];
		choice[best] = -INFINITY;
	}
	for (int k = 0; k < K; k++)
		wt[k] = (c->norm_topk ? wt[k] / sum : wt[k]) * c->routed_scale;
}

static void route_range(void *arg, size_t i0, size_t i1)
{
	const route_op *o = arg;
	float *sc = falloc(2 * (size_t)o->c->n_experts);
	for (size_t t = i0; t < i1; t++)
		route_token(o, t, sc, sc + o->c->n_experts);
	free(sc);
}

static pj_status moe_check(const pj_fwd *f, const fwd_layer *L, pj_error *err)
{
	const fwd_cfg *c = &f->c;
	const pj_tensor *r = L->t[PJ_ROLE_ROUTER];
	if (c->n_experts <= 0 || c->top_k <= 0 || c->top_k > c->n_experts)
		return pj_fail(err, PJ_EFORMAT, "MoE layer, but config gives %d experts, top-%d", c->n_experts, c->top_k);
	if (r->ne[0] != c->hidden || r->ne[1] != c->n_experts)
		return pj_fail(err, PJ_EFORMAT, "%s is %lld x %lld, expected %d x %d", r->name, (long long)r->ne[0],
		               (long long)r->ne[1], c->hidden, c->n_experts);
	for (int k = 0; k < FWD_NEXP; k++)
		if (!L->ew[k])
			return pj_fail(err, PJ_EFORMAT, "MoE layer without expert tensors");
	const pj_tensor *g = L->et[FWD_EG][0];
	const int64_t ff = g->ne[1];
	for (int e = 0; e < c->n_experts; e++) {
		const pj_tensor *tg = L->stacked[FWD_EG] ? g : L->et[FWD_EG][e];
		const pj_tensor *tu = L->stacked[FWD_EU] ? L->et[FWD_EU][0] : L->et[FWD_EU][e];
		const pj_tensor *td = L->stacked[FWD_ED] ? L->et[FWD_ED][0] : L->et[FWD_ED][e];
		if (tg->ne[0] != c->hidden || tg->ne[1] != ff || tu->ne[0] != c->hidden || tu->ne[1] != ff ||
		    td->ne[0] != ff || td->ne[1] != c->hidden)
			return pj_fail(err, PJ_EFORMAT, "expert %d: gate/up/down shapes disagree (%s)", e, td->name);
	}
	const pj_tensor *b = L->t[PJ_ROLE_EXP_SCORE_BIAS];
	if (b && pj_tensor_nelem(b) != c->n_experts)
		return pj_fail(err, PJ_EFORMAT, "%s has %lld values for %d experts", b->name,
		               (long long)pj_tensor_nelem(b), c->n_experts);
	return PJ_OK;
}

/* Routed experts, in expert order (as transformers accumulates them), each
 * on the tokens that picked it; then the shared experts. */
static pj_status ffn_moe(pj_fwd *f, const fwd_layer *L, const float *h, size_t n_tok, float *out, pj_error *err)
{
	const fwd_cfg *c = &f->c;
	pj_status st = moe_check(f, L, err);
	if (st)
		return st;
	const size_t E = (size_t)c->n_experts, K = (size_t)c->top_k, d = (size_t)c->hidden;
	const size_t ff = (size_t)L->et[FWD_EG][0]->ne[1];
	float *lg = falloc(n_tok * E);
	int *sel = pj_xmalloc(sizeof(int) * n_tok * K);
	float *wt = falloc(n_tok * K);
	fwd_matmul_t(f, L->vd[PJ_ROLE_ROUTER], h, n_tok, d, L->w[PJ_ROLE_ROUTER], NULL, E, lg, E);
	route_op ro = { c, lg, L->w[PJ_ROLE_EXP_SCORE_BIAS], sel, wt };
	fwd_par_for(f, n_tok, route_range, &ro);
	for (size_t i = 0; L->route && i < n_tok * K; i++)
		L->route[i] = sel[i];

	memset(out, 0, sizeof(float) * n_tok * d);
	size_t *idx = pj_xmalloc(sizeof(size_t) * (n_tok ? n_tok : 1));
	float *w = falloc(n_tok), *xe = falloc(n_tok * d), *ye = falloc(n_tok * d);
	for (size_t e = 0; e < E; e++) {
		size_t n = 0;
		for (size_t t = 0; t < n_tok; t++)
			for (size_t k = 0; k < K; k++)
				if ((size_t)sel[t * K + k] == e) {
					idx[n] = t;
					w[n++] = wt[t * K + k];
				}
		if (!n)
			continue;
		for (size_t i = 0; i < n; i++)
			memcpy(xe + i * d, h + idx[i] * d, sizeof(float) * d);
		glu_ffn(f, xe, n, d, L->ew[FWD_EG][e], L->ew[FWD_EU][e], L->ew[FWD_ED][e], L->evd, ff, ye);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < d; j++)
				out[idx[i] * d + j] += w[i] * ye[i * d + j];
	}
	if (L->t[PJ_ROLE_SHEXP_GATE]) {
		st = ffn_dense(f, L, PJ_ROLE_SHEXP_GATE, PJ_ROLE_SHEXP_UP, PJ_ROLE_SHEXP_DOWN, h, n_tok, ye, err);
		/* Qwen2-MoE gates its shared expert with a sigmoid of one logit */
		const float *sg = L->w[PJ_ROLE_SHEXP_ROUTER];
		for (size_t t = 0; !st && t < n_tok; t++) {
			float g = 1.0f;
			if (sg) {
				float z = 0;
				for (size_t j = 0; j < d; j++)
					z += sg[j] * h[t * d + j];
				g = 1.0f / (1.0f + expf(-z));
			}
			for (size_t j = 0; j < d; j++)
				out[t * d + j] += g * ye[t * d + j];
		}
	}
	free(lg);
	free(sel);
	free(wt);
	free(idx);
	free(w);
	free(xe);
	free(ye);
	return st;
}

pj_status fwd_ffn_block(pj_fwd *f, const fwd_layer *L, const float *h, size_t n_tok, float *out, pj_error *err)
{
	if (L->w[PJ_ROLE_ROUTER])
		return ffn_moe(f, L, h, n_tok, out, err);
	return ffn_dense(f, L, PJ_ROLE_FFN_GATE, PJ_ROLE_FFN_UP, PJ_ROLE_FFN_DOWN, h, n_tok, out, err);
}
