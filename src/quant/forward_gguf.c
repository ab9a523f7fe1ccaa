/* forward_gguf.c - GGUF input for the forward pass: the configuration from
 * the metadata, and the layout the converter (llama.cpp's
 * convert_hf_to_gguf.py) gave the tensors brought back to the one the
 * blocks compute with (the Hugging Face one), so that a GGUF and the folder
 * it was converted from give the same logits - bit for bit when the values
 * are the same, as with a BF16 conversion.
 *
 * What differs from a Hugging Face folder, and what is done about it:
 *  - llama (and mixtral, which converts to arch llama): the rows of q and k
 *    are permuted per head into the interleaved rope order llama.cpp's
 *    rope type NORM expects; they are un-permuted on load and rotated with
 *    the half-split (NEOX) rope, as transformers does.
 *  - Gemma: the converter folds the +1 of the (1 + w) norms into the
 *    weights (in f32, as transformers computes it), so no offset is added.
 *  - DeepSeek (deepseek2): kv_b is split into attn_k_b (per head,
 *    transposed) and attn_v_b; kv_b is rebuilt on load.
 *  - MoE: experts are stacked 3-D tensors (expert outermost), which the
 *    layer loader takes as they are.
 *  - Llama 3.1 rope scaling is a rope_freqs tensor of frequency divisors.
 *
 * Facts about llama.cpp's conventions (rope types, defaults where a key is
 * absent) were read from its sources; no code was copied. */
#include "config.h"
#include "quant/forward_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the family table ---------------------------------------------------------- */

static const struct gguf_family {
	const char *arch;          /* general.architecture */
	unsigned flags;
	fwd_act act;
	bool local_rope;           /* sliding layers have their own rope base */
} FAMILIES[] = {
	/* llama.cpp renormalises the top-k weights of llama-arch MoE (Mixtral)
	 * and of qwen3moe whatever the metadata says */
	{ "llama",     FWD_QK_PERMUTED | FWD_TOPK_NORM, FWD_ACT_SILU, false },
	{ "qwen2",     0, FWD_ACT_SILU, false },
	{ "qwen3",     0, FWD_ACT_SILU, false },
	{ "qwen3moe",  FWD_TOPK_NORM, FWD_ACT_SILU, false },
	{ "gemma3",    FWD_EMBED_SCALE | FWD_GELU_TANH, FWD_ACT_GELU_TANH, true },
	{ "deepseek2", FWD_ROPE_INTERLEAVE, FWD_ACT_SILU, false },
};

static const struct gguf_family *family_of(const char *arch)
{
	for (size_t i = 0; arch && i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
		if (strcmp(FAMILIES[i].arch, arch) == 0)
			return &FAMILIES[i];
	return NULL;
}

/* ---- metadata ------------------------------------------------------------------ */

typedef struct meta {
	const pj_gguf *g;
	const char *arch;
} meta;

static const char *key(const meta *k, const char *suffix, char *buf, size_t n)
{
	snprintf(buf, n, "%s.%s", k->arch, suffix);
	return buf;
}

static bool has(const meta *k, const char *suffix)
{
	char b[256];
	return pj_gguf_find(k->g, key(k, suffix, b, sizeof b)) != NULL;
}

static int get_int(const meta *k, const char *suffix, int dflt)
{
	char b[256];
	uint64_t v;
	return pj_gguf_get_u64(k->g, key(k, suffix, b, sizeof b), &v) && v <= INT32_MAX ? (int)v : dflt;
}

static double get_num(const meta *k, const char *suffix, double dflt)
{
	char b[256];
	double v;
	return pj_gguf_get_f64(k->g, key(k, suffix, b, sizeof b), &v) ? v : dflt;
}

static bool get_bool(const meta *k, const char *suffix, bool dflt)
{
	char b[256];
	bool v;
	return pj_gguf_get_bool(k->g, key(k, suffix, b, sizeof b), &v) ? v : dflt;
}

static const pj_tensor *find_role(const pj_model *m, int layer, pj_role r)
{
	for (size_t i = 0; i < m->cat.n; i++) {
		const pj_tensor *t = &m->cat.t[i];
		if (t->comp == PJ_COMP_TEXT && t->layer == layer && t->role == r)
			return t;
	}
	return NULL;
}

static bool any_layer_has(const pj_model *m, pj_role r)
{
	for (size_t i = 0; i < m->cat.n; i++)
		if (m->cat.t[i].comp == PJ_COMP_TEXT && m->cat.t[i].role == r)
			return true;
	return false;
}

/* rope.scaling.*: llama.cpp's names for transformers' rope_scaling. */
static void rope_scaling(const meta *k, fwd_rope *r)
{
	char b[256];
	const char *type = pj_gguf_get_str(k->g, key(k, "rope.scaling.type", b, sizeof b));
	r->factor = get_num(k, "rope.scaling.factor", 1.0);
	r->orig_ctx = get_num(k, "rope.scaling.original_context_length", get_num(k, "context_length", 4096));
	r->beta_fast = get_num(k, "rope.scaling.yarn_beta_fast", 32);
	r->beta_slow = get_num(k, "rope.scaling.yarn_beta_slow", 1);
	if (type && strcmp(type, "linear") == 0) {
		r->type = FWD_ROPE_LINEAR;
	} else if (type && strcmp(type, "yarn") == 0) {
		r->type = FWD_ROPE_YARN;
		/* DeepSeek: yarn_log_multiplier = 0.1 * mscale_all_dim; its
		 * mscale equals mscale_all_dim, so cos/sin stay unscaled and
		 * the softmax is sharpened instead (mla_scale) */
		const double mul = get_num(k, "rope.scaling.yarn_log_multiplier", 0);
		if (mul > 0)
			r->mscale = r->mscale_all_dim = mul / 0.1;
	} else if (!type && has(k, "rope.scale_linear")) {
		/* older files: one linear factor */
		r->type = FWD_ROPE_LINEAR;
		r->factor = get_num(k, "rope.scale_linear", 1.0);
	}
	if (r->type == FWD_ROPE_DEFAULT)
		r->factor = 1.0;
}

static pj_status rope_factors(pj_model *m, fwd_cfg *c, pj_error *err)
{
	const pj_tensor *t = find_role(m, -1, PJ_ROLE_ROPE_FREQS);
	if (!t)
		return PJ_OK;
	const int rot = c->kv_lora ? c->rope_dim : c->rot_dim;
	if (pj_tensor_nelem(t) != rot / 2)
		return pj_fail(err, PJ_EFORMAT, "%s: %lld values, expected %d (half the rotated dims)", t->name,
		               (long long)pj_tensor_nelem(t), rot / 2);
	c->rope_factors = pj_xmalloc(sizeof(float) * (size_t)(rot / 2 ? rot / 2 : 1));
	pj_status st = pj_fwd_load_source(NULL, m, t, c->rope_factors, err);
	if (st)
		return st;
	c->rope_global.factors = c->rope_factors;
	return PJ_OK;
}

/* Routing: the metadata where it speaks, else what the tensors imply. */
static void moe_config(const meta *k, const pj_model *m, fwd_cfg *c)
{
	c->n_experts = get_int(k, "expert_count", 0);
	c->top_k = get_int(k, "expert_used_count", 0);
	c->n_group = get_int(k, "expert_group_count", 1);
	c->topk_group = get_int(k, "expert_group_used_count", 1);
	c->routed_scale = (float)get_num(k, "expert_weights_scale", 1.0);
	if (c->routed_scale == 0)
		c->routed_scale = 1.0f;
	c->norm_topk = get_bool(k, "expert_weights_norm", (c->flags & FWD_TOPK_NORM) != 0);
	/* A score-correction bias exists only with DeepSeek-V3's sigmoid
	 * routing (noaux_tc: groups scored by their top two).  The converter
	 * writes expert_gating_func only when config.json names
	 * scoring_func, which transformers 5 no longer saves - llama.cpp then
	 * falls back to softmax, transformers (the reference) uses sigmoid. */
	const bool v3 = any_layer_has(m, PJ_ROLE_EXP_SCORE_BIAS);
	const int gating = get_int(k, "expert_gating_func", 0);   /* 1 softmax, 2 sigmoid */
	if (gating == 2 || (gating == 0 && v3))
		c->flags |= FWD_ROUTE_SIGMOID;
	if (v3)
		c->flags |= FWD_GROUP_TOP2;
}

pj_status fwd_gguf_config(pj_model *m, fwd_cfg *c, pj_error *err)
{
	const meta k = { m->gguf, m->gguf ? pj_gguf_get_str(m->gguf, "general.architecture") : NULL };
	const struct gguf_family *fam = family_of(k.arch);
	if (!fam)
		return pj_fail(err, PJ_EUNSUPPORTED,
		               "%s: the forward pass does not know GGUF architecture '%s' (llama, qwen2, qwen3, "
		               "qwen3moe, gemma3, deepseek2)",
		               m->name, k.arch ? k.arch : "(none)");
	c->flags = fam->flags;
	c->act = fam->act;
	c->hidden = get_int(&k, "embedding_length", 0);
	const int blocks = get_int(&k, "block_count", 0);
	const int nextn = get_int(&k, "nextn_predict_layers", 0);
	c->n_layers = blocks > nextn ? blocks - nextn : blocks;
	/* per-layer head counts are arrays: the getters refuse them */
	c->n_heads = get_int(&k, "attention.head_count", 0);
	c->n_kv = get_int(&k, "attention.head_count_kv", c->n_heads);
	const pj_tensor *head = find_role(m, -1, PJ_ROLE_OUTPUT);
	if (!head)
		head = find_role(m, -1, PJ_ROLE_TOKEN_EMBD);
	/* the logits are the head's rows (the tokenizer may list fewer) */
	c->vocab = head && head->ne[1] <= INT32_MAX ? (int)head->ne[1] : 0;
	if (c->hidden <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv <= 0 || c->vocab <= 0)
		return pj_fail(err, PJ_EFORMAT, "%s: the GGUF metadata lacks consistent sizes (%s.embedding_length, "
		               "block_count, attention.head_count) or the file has no output head", m->name, k.arch);
	c->head_dim = get_int(&k, "attention.key_length", c->hidden / c->n_heads);
	c->eps = (float)get_num(&k, "attention.layer_norm_rms_epsilon", 1e-6);
	c->embed_scale = c->flags & FWD_EMBED_SCALE ? sqrtf((float)c->hidden) : 1.0f;
	c->attn_softcap = (float)get_num(&k, "attn_logit_softcapping", 0);
	c->final_softcap = (float)get_num(&k, "final_logit_softcapping", 0);
	/* llama.cpp scales q.k by attention.scale when given, else by
	 * key_length^-1/2 (Gemma 3 writes no query_pre_attn_scalar: it equals
	 * head_dim for the released sizes but 27B) */
	c->attn_scale = (float)get_num(&k, "attention.scale", 1.0 / sqrt((double)c->head_dim));

	memset(&c->rope_global, 0, sizeof c->rope_global);
	c->rope_global.theta = get_num(&k, "rope.freq_base", 10000);
	c->rope_global.truncate = true;
	rope_scaling(&k, &c->rope_global);
	if (fam->local_rope || has(&k, "rope.freq_base_swa")) {
		/* scaling applies to the global layers only; llama.cpp uses
		 * 10000 for Gemma 3's sliding layers when the key is absent */
		memset(&c->rope_local, 0, sizeof c->rope_local);
		c->rope_local.theta = get_num(&k, "rope.freq_base_swa", 10000);
		c->rope_local.factor = 1.0;
		c->rope_local.truncate = true;
		c->has_local_rope = true;
	}
	c->rot_dim = get_int(&k, "rope.dimension_count", c->head_dim) & ~1;
	moe_config(&k, m, c);

	c->q_lora = get_int(&k, "attention.q_lora_rank", 0);
	c->kv_lora = get_int(&k, "attention.kv_lora_rank", 0);
	if (c->kv_lora) {
		/* newer files describe the latent as one kv head (key_length =
		 * kv_lora + rope) and keep the heads' dims in the *_mla keys */
		c->rope_dim = c->rot_dim;
		const int qk = get_int(&k, "attention.key_length_mla", c->head_dim);
		c->v_dim = get_int(&k, "attention.value_length_mla", get_int(&k, "attention.value_length", qk));
		c->nope = qk - c->rope_dim;
		c->n_kv = c->n_heads;
		if (c->nope < 0 || c->v_dim <= 0)
			return pj_fail(err, PJ_EFORMAT, "%s: MLA head dims %d (rope %d), values %d", m->name, qk,
			               c->rope_dim, c->v_dim);
		double s = 1.0 / sqrt((double)qk);
		const fwd_rope *r = &c->rope_global;
		if (r->type == FWD_ROPE_YARN && r->mscale_all_dim > 0 && r->factor > 1) {
			const double ms = 0.1 * r->mscale_all_dim * log(r->factor) + 1.0;
			s *= ms * ms;
		}
		c->mla_scale = (float)s;
	} else if (get_int(&k, "attention.value_length", c->head_dim) != c->head_dim) {
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: value heads of %d dims with key heads of %d are not supported",
		               m->name, get_int(&k, "attention.value_length", 0), c->head_dim);
	}
	if (c->n_heads % c->n_kv)
		return pj_fail(err, PJ_EFORMAT, "%s: %d heads do not share %d kv heads evenly", m->name, c->n_heads,
		               c->n_kv);
	c->window = pj_xcalloc((size_t)c->n_layers, sizeof *c->window);
	for (int l = 0; l < c->n_layers; l++) {
		const pj_layer *pl = pj_arch_layer(&m->arch, PJ_COMP_TEXT, l);
		if (pl && pl->attn == PJ_ATTN_LOCAL)
			c->window[l] = pl->window;
	}
	return rope_factors(m, c, err);
}

/* ---- layout ---------------------------------------------------------------------- */

/* Undoes the converter's reshape(heads, hd/2, 2, cols) of the HF
 * reshape(heads, 2, hd/2, cols): row h*hd + 2r + j goes back to
 * h*hd + j*hd/2 + r.  cols = 1 for a bias. */
static pj_status unpermute(const pj_tensor *t, float *w, int heads, int64_t cols, pj_error *err)
{
	const int64_t rows = pj_tensor_nelem(t) / cols;
	if (heads <= 0 || rows % heads || (rows / heads) % 2)
		return pj_fail(err, PJ_EFORMAT, "%s: %lld rows do not split into %d heads of even size", t->name,
		               (long long)rows, heads);
	const int64_t hd = rows / heads, half = hd / 2;
	float *tmp = pj_xmalloc(sizeof(float) * (size_t)(hd * cols));
	for (int h = 0; h < heads; h++) {
		float *base = w + (size_t)(h * hd * cols);
		for (int64_t r = 0; r < half; r++)
			for (int j = 0; j < 2; j++)
				memcpy(tmp + (j * half + r) * cols, base + (2 * r + j) * cols, sizeof(float) * (size_t)cols);
		memcpy(base, tmp, sizeof(float) * (size_t)(hd * cols));
	}
	free(tmp);
	return PJ_OK;
}

/* kv_b head h = [k rows: attn_k_b[h] transposed][v rows: attn_v_b[h]],
 * each row kv_lora wide - what eval_plan.c splits for HF input, undone. */
static pj_status rebuild_kvb(fwd_layer *L, pj_error *err)
{
	const pj_tensor *kt = L->t[PJ_ROLE_MLA_K_B], *vt = L->t[PJ_ROLE_MLA_V_B];
	const int64_t nope = kt->ne[0], lat = kt->ne[1], H = kt->ne[2], vd = vt->ne[1];
	if (vt->ne[0] != lat || vt->ne[2] != H || kt->ne[3] != 1 || vt->ne[3] != 1)
		return pj_fail(err, PJ_EFORMAT, "%s (%lld x %lld x %lld) and %s (%lld x %lld x %lld) disagree", kt->name,
		               (long long)nope, (long long)lat, (long long)H, vt->name, (long long)vt->ne[0],
		               (long long)vd, (long long)vt->ne[2]);
	const float *kb = L->w[PJ_ROLE_MLA_K_B], *vb = L->w[PJ_ROLE_MLA_V_B];
	float *kv = pj_xmalloc(sizeof(float) * (size_t)(H * (nope + vd) * lat));
	for (int64_t h = 0; h < H; h++) {
		float *head = kv + (size_t)(h * (nope + vd) * lat);
		for (int64_t r = 0; r < lat; r++)
			for (int64_t c = 0; c < nope; c++)
				head[c * lat + r] = kb[(h * lat + r) * nope + c];
		memcpy(head + nope * lat, vb + h * vd * lat, sizeof(float) * (size_t)(vd * lat));
	}
	/* a tensor view that the block's shape checks read */
	L->kvb = *kt;
	L->kvb.n_dims = 2;
	L->kvb.ne[0] = lat;
	L->kvb.ne[1] = H * (nope + vd);
	L->kvb.ne[2] = L->kvb.ne[3] = 1;
	L->kvb.role = PJ_ROLE_MLA_KV_B;
	L->t[PJ_ROLE_MLA_KV_B] = &L->kvb;
	L->w[PJ_ROLE_MLA_KV_B] = kv;
	free(L->w[PJ_ROLE_MLA_K_B]);
	free(L->w[PJ_ROLE_MLA_V_B]);
	L->w[PJ_ROLE_MLA_K_B] = L->w[PJ_ROLE_MLA_V_B] = NULL;
	return PJ_OK;
}

pj_status fwd_layout_fix(pj_fwd *f, fwd_layer *L, pj_error *err)
{
	pj_status st = PJ_OK;
	if (f->c.flags & FWD_QK_PERMUTED) {
		static const pj_role qk[2] = { PJ_ROLE_ATTN_Q, PJ_ROLE_ATTN_K };
		for (int i = 0; i < 2 && !st; i++) {
			const pj_role r = qk[i];
			const int heads = r == PJ_ROLE_ATTN_Q ? f->c.n_heads : f->c.n_kv;
			if (L->w[r])
				st = unpermute(L->t[r], L->w[r], heads, L->t[r]->ne[0], err);
			if (!st && L->b[r])
				st = unpermute(L->bt[r], L->b[r], heads, 1, err);
		}
	}
	if (!st && L->w[PJ_ROLE_MLA_K_B] && L->w[PJ_ROLE_MLA_V_B] && !L->w[PJ_ROLE_MLA_KV_B])
		st = rebuild_kvb(L, err);
	return st;
}
