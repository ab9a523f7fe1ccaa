/* arch.c - architecture detection.
 *
 * Facts come from two sides and are cross-checked:
 *  - the config (HF config.json through hfconfig.h, or GGUF metadata keys),
 *    which says what the model should be: layer schedule, experts, ranks;
 *  - the tensors (names and shapes, through the tables in arch_rules.c),
 *    which say what the file holds.
 * Where both exist the tensors win for structure (which layers have experts,
 * attention kinds that need their own weights: MLA, linear attention) and
 * the config for what weights cannot show (active experts, sliding window
 * schedule).  With no tensors (pj_arch_detect_config) only the config is used. */
#include "config.h"
#include "arch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch_rules.h"
#include "hfconfig.h"
#include "model.h"

/* Bounds on what a config may claim (hostile or broken configs are ignored
 * beyond these, with a warning, instead of allocating without limit). */
#define MAX_CFG_BLOCKS 4096
#define MAX_DIM        (1 << 24)
#define MAX_HEADS      (1 << 20)
#define MAX_EXPERTS    (PJ_NAME_MAX_INDEX + 1)

static const char precedence[] = "precedence: moe > hybrid > mla > multimodal > enc-dec > dense";

/* What the tensors of one block show. */
typedef struct blockinfo {
	bool any, attn, mla, linear, cross, ffn, moe, shexp;
	int n_experts;
	int64_t k_rows, v_rows, kv_a_rows;
	uint64_t params, expert_params;
} blockinfo;

typedef struct det {
	pj_arch *a;
	pj_model *m;            /* for warnings; NULL in config-only detection */
	pj_hfcfg cfg;           /* HF */
	bool hf;
	const pj_gguf *g;       /* GGUF */
	char gp[64];            /* GGUF key prefix (general.architecture) */
	pj_catalog *cat;
	bool have_tensors;
	const pj_arch_rule *rule;
	bool sandwich;

	/* config facts beyond pj_arch */
	int head_dim_v;
	int ff;                 /* intermediate_size / feed_forward_length */
	int nextn;
	int swa_pattern;
	int use_swa;            /* -1 absent, 0, 1 */
	int max_window_layers;  /* -1 absent */
	int full_interval;
	pj_attn_kind *layer_types; /* HF layer_types, decoded (PJ_ATTN_COUNT: not ours) */
	int n_layer_types;
	const pj_gguf_kv *g_swa_layers; /* GGUF per-layer sliding flags */
	const pj_gguf_kv *g_kv_heads;   /* GGUF per-layer kv heads */
	bool encdec;
	bool vision_cfg;
	int first_k_dense, moe_freq, sparse_step, moe_step;
	const cJSON *mlp_only;
	int cfg_blocks[PJ_COMP_COUNT];

	/* tensor facts */
	int tens_blocks[PJ_COMP_COUNT];
	blockinfo *bi[PJ_COMP_COUNT];
	uint64_t *tparams;      /* parameters per tensor (0 for scales) */
	int64_t v_patch_hidden;
	int64_t expert_ff_shape;
	bool any_shexp;
} det;

static void warn(det *d, const char *fmt, ...) PJ_PRINTF(2, 3);
static void warn(det *d, const char *fmt, ...)
{
	if (!d->m)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pj_model_warn(d->m, "%s", buf);
}

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

/* ---- GGUF metadata ------------------------------------------------------ */

static const pj_gguf_kv *kv_find(const pj_gguf *g, const char *key)
{
	if (!g || !g->kv)
		return NULL;
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (g->kv[i].key && strcmp(g->kv[i].key, key) == 0)
			return &g->kv[i];
	return NULL;
}

static const pj_gguf_kv *gkv(const det *d, const char *suffix)
{
	char key[192];
	snprintf(key, sizeof key, "%s.%s", d->gp, suffix);
	return kv_find(d->g, key);
}

static bool f64_to_i64(double f, int64_t *out)
{
	if (!(f >= -9.0e18 && f <= 9.0e18) || f != (double)(int64_t)f)
		return false;
	*out = (int64_t)f;
	return true;
}

static bool kv_scalar(const pj_gguf_kv *kv, int64_t *out)
{
	switch (kv->type) {
	case PJ_GGUF_UINT8: case PJ_GGUF_UINT16: case PJ_GGUF_UINT32: case PJ_GGUF_UINT64:
	case PJ_GGUF_BOOL:
		if (kv->v.u > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)kv->v.u;
		return true;
	case PJ_GGUF_INT8: case PJ_GGUF_INT16: case PJ_GGUF_INT32: case PJ_GGUF_INT64:
		*out = kv->v.i;
		return true;
	case PJ_GGUF_FLOAT32: case PJ_GGUF_FLOAT64:
		return f64_to_i64(kv->v.f, out);
	default:
		return false;
	}
}

/* Element i of a numeric array (raw little-endian data). */
static bool kv_elem(const pj_gguf_kv *kv, uint64_t i, int64_t *out)
{
	static const uint8_t size[PJ_GGUF_TYPE_COUNT] = {
		[PJ_GGUF_UINT8] = 1, [PJ_GGUF_INT8] = 1, [PJ_GGUF_BOOL] = 1,
		[PJ_GGUF_UINT16] = 2, [PJ_GGUF_INT16] = 2,
		[PJ_GGUF_UINT32] = 4, [PJ_GGUF_INT32] = 4, [PJ_GGUF_FLOAT32] = 4,
		[PJ_GGUF_UINT64] = 8, [PJ_GGUF_INT64] = 8, [PJ_GGUF_FLOAT64] = 8,
	};
	if (kv->type != PJ_GGUF_ARRAY || !kv->arr_data || i >= kv->arr_n ||
	    (unsigned)kv->arr_type >= PJ_GGUF_TYPE_COUNT || !size[kv->arr_type])
		return false;
	unsigned n = size[kv->arr_type];
	const uint8_t *p = kv->arr_data + i * n;
	uint64_t u = 0;
	for (unsigned b = 0; b < n; b++)
		u |= (uint64_t)p[b] << (8 * b);
	switch (kv->arr_type) {
	case PJ_GGUF_INT8: *out = (int8_t)u; return true;
	case PJ_GGUF_INT16: *out = (int16_t)u; return true;
	case PJ_GGUF_INT32: *out = (int32_t)u; return true;
	case PJ_GGUF_INT64: *out = (int64_t)u; return true;
	case PJ_GGUF_FLOAT32: {
		uint32_t w = (uint32_t)u;
		float f;
		memcpy(&f, &w, sizeof f);
		return f64_to_i64(f, out);
	}
	case PJ_GGUF_FLOAT64: {
		double f;
		memcpy(&f, &u, sizeof f);
		return f64_to_i64(f, out);
	}
	default:
		if (u > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)u;
		return true;
	}
}

/* A scalar key, or the largest element of a per-layer array. */
static int64_t g_int(const det *d, const char *suffix, int64_t hi)
{
	const pj_gguf_kv *kv = gkv(d, suffix);
	int64_t v = 0, best = 0;
	if (!kv)
		return 0;
	if (kv->type == PJ_GGUF_ARRAY) {
		for (uint64_t i = 0; i < kv->arr_n && i < MAX_CFG_BLOCKS; i++)
			if (kv_elem(kv, i, &v) && v > best && v <= hi)
				best = v;
		return best;
	}
	return kv_scalar(kv, &v) && v >= 0 && v <= hi ? v : 0;
}

/* ---- HF config ---------------------------------------------------------- */

static int64_t c_int(const det *d, const char *keys, int64_t hi)
{
	int64_t v;
	return pj_hfcfg_text_int(&d->cfg, keys, 0, hi, &v) ? v : 0;
}

/* "model.layers" counts beyond MAX_CFG_BLOCKS are not believed. */
static int c_blocks(det *d, const cJSON *obj, const char *keys, const char *what)
{
	int64_t v;
	if (pj_cfg_int(obj, keys, 0, MAX_CFG_BLOCKS, &v))
		return (int)v;
	if (pj_cfg_int(obj, keys, 0, INT64_MAX, &v))
		warn(d, "config: %s = %lld ignored (more than %d)", what, (long long)v, MAX_CFG_BLOCKS);
	return 0;
}

static pj_attn_kind kind_from_string(const char *s)
{
	static const struct { const char *name; pj_attn_kind kind; } tab[] = {
		{ "full_attention", PJ_ATTN_GLOBAL }, { "attention", PJ_ATTN_GLOBAL },
		{ "global", PJ_ATTN_GLOBAL }, { "full", PJ_ATTN_GLOBAL },
		{ "sliding_attention", PJ_ATTN_LOCAL }, { "sliding", PJ_ATTN_LOCAL },
		{ "local", PJ_ATTN_LOCAL }, { "local_attention", PJ_ATTN_LOCAL },
		{ "chunked_attention", PJ_ATTN_LOCAL },
		{ "linear_attention", PJ_ATTN_LINEAR }, { "linear", PJ_ATTN_LINEAR },
		{ "mamba", PJ_ATTN_LINEAR }, { "conv", PJ_ATTN_LINEAR }, { "ssm", PJ_ATTN_LINEAR },
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcmp(s, tab[i].name) == 0)
			return tab[i].kind;
	return PJ_ATTN_COUNT; /* not ours: fall back to the other rules */
}

static void read_hf(det *d)
{
	pj_arch *a = d->a;
	const pj_hfcfg *c = &d->cfg;
	bool b;

	a->hidden = (int)c_int(d, PJ_CFG_HIDDEN, MAX_DIM);
	a->n_heads = (int)c_int(d, PJ_CFG_HEADS, MAX_HEADS);
	a->n_kv_heads = (int)c_int(d, PJ_CFG_KV_HEADS, MAX_HEADS);
	if (!a->n_kv_heads && pj_hfcfg_text_bool(c, "multi_query", &b) && b)
		a->n_kv_heads = 1;
	if (!a->n_kv_heads)
		a->n_kv_heads = a->n_heads;
	a->head_dim = (int)c_int(d, PJ_CFG_HEAD_DIM, MAX_DIM);
	if (!a->head_dim && a->n_heads)
		a->head_dim = a->hidden / a->n_heads;
	d->head_dim_v = a->head_dim;
	a->vocab = (int)c_int(d, PJ_CFG_VOCAB, INT32_MAX);
	a->ctx_len = c_int(d, PJ_CFG_CTX, (int64_t)1 << 40);
	if (!a->ctx_len && d->rule)
		a->ctx_len = d->rule->ctx_default; /* omitted when equal to transformers' default */

	/* encoder-decoder: T5 names the encoder depth num_layers */
	d->encdec = (pj_cfg_bool(c->root, "is_encoder_decoder", &b) && b) ||
	            (d->rule && (d->rule->flags & PJ_AR_ENCDEC));
	if (d->encdec) {
		int enc = c_blocks(d, c->text, "encoder_layers|num_layers|num_hidden_layers", "encoder layers");
		int dec = c_blocks(d, c->text, "decoder_layers|num_decoder_layers", "decoder layers");
		d->cfg_blocks[PJ_COMP_ENCODER] = enc;
		d->cfg_blocks[PJ_COMP_DECODER] = dec ? dec : enc;
		if (!a->n_heads)
			a->n_heads = (int)c_int(d, "encoder_attention_heads|decoder_attention_heads", MAX_HEADS);
	} else {
		d->cfg_blocks[PJ_COMP_TEXT] = c_blocks(d, c->text, PJ_CFG_LAYERS, "num_hidden_layers");
		if (!d->cfg_blocks[PJ_COMP_TEXT] && c->text != c->root)
			d->cfg_blocks[PJ_COMP_TEXT] = c_blocks(d, c->root, PJ_CFG_LAYERS, "num_hidden_layers");
	}

	/* activation; "gated-gelu" (T5 v1.1, Flan-T5) is a GeGLU */
	const char *act = pj_hfcfg_text_str(c, PJ_CFG_ACT);
	const char *ffp = pj_hfcfg_text_str(c, "feed_forward_proj");
	copy_str(a->activation, sizeof a->activation, act);
	a->ffn_gated = (ffp && strncmp(ffp, "gated-", 6) == 0) ||
	               (pj_hfcfg_text_bool(c, "is_gated_act", &b) && b);
	if (!act && ffp)
		copy_str(a->activation, sizeof a->activation, strncmp(ffp, "gated-", 6) == 0 ? ffp + 6 : ffp);

	/* mixture of experts */
	a->n_experts = (int)c_int(d, PJ_CFG_EXPERTS, MAX_EXPERTS);
	a->n_experts_active = (int)c_int(d, PJ_CFG_EXPERTS_ACT, MAX_EXPERTS);
	a->n_shared_experts = (int)c_int(d, PJ_CFG_SHARED, MAX_EXPERTS);
	if (!a->n_shared_experts && c_int(d, "shared_expert_intermediate_size", MAX_DIM) > 0)
		a->n_shared_experts = 1; /* Qwen2-MoE: one shared expert of its own size */
	a->expert_ff = (int)c_int(d, PJ_CFG_EXPERT_FF, MAX_DIM);
	d->ff = (int)c_int(d, PJ_CFG_FF, MAX_DIM);
	d->first_k_dense = (int)c_int(d, "first_k_dense_replace|first_k_dense", MAX_CFG_BLOCKS);
	d->moe_freq = (int)c_int(d, "moe_layer_freq", MAX_CFG_BLOCKS);
	d->sparse_step = (int)c_int(d, "decoder_sparse_step", MAX_CFG_BLOCKS);
	d->mlp_only = pj_hfcfg_text_array(c, "mlp_only_layers");

	/* multi-head latent attention: kv_lora_rank is the tell (no use_mla key) */
	a->kv_lora_rank = (int)c_int(d, "kv_lora_rank", MAX_DIM);
	a->q_lora_rank = (int)c_int(d, "q_lora_rank", MAX_DIM);
	a->qk_rope_head_dim = (int)c_int(d, "qk_rope_head_dim", MAX_DIM);
	a->qk_nope_head_dim = (int)c_int(d, "qk_nope_head_dim", MAX_DIM);
	a->v_head_dim = (int)c_int(d, "v_head_dim", MAX_DIM);
	if (a->kv_lora_rank && a->qk_nope_head_dim + a->qk_rope_head_dim)
		a->head_dim = a->qk_nope_head_dim + a->qk_rope_head_dim;
	if (a->kv_lora_rank && a->v_head_dim)
		d->head_dim_v = a->v_head_dim;

	/* attention schedule */
	a->sliding_window = (int)c_int(d, "sliding_window|sliding_window_size", MAX_DIM);
	d->swa_pattern = (int)c_int(d, PJ_CFG_SWA_PATTERN, MAX_CFG_BLOCKS);
	d->use_swa = pj_hfcfg_text_bool(c, "use_sliding_window", &b) ? b : -1;
	int64_t v;
	d->max_window_layers = pj_hfcfg_text_int(c, "max_window_layers", 0, INT32_MAX, &v) ? (int)v : -1;
	d->full_interval = (int)c_int(d, "full_attention_interval", MAX_CFG_BLOCKS);
	const cJSON *lt = pj_hfcfg_text_array(c, "layer_types");
	int n_lt = cJSON_GetArraySize(lt);
	if (n_lt > 0) {
		d->n_layer_types = n_lt < MAX_CFG_BLOCKS ? n_lt : MAX_CFG_BLOCKS;
		d->layer_types = pj_xcalloc((size_t)d->n_layer_types, sizeof *d->layer_types);
		const cJSON *e;
		int i = 0;
		cJSON_ArrayForEach(e, lt) {
			if (i == d->n_layer_types)
				break;
			d->layer_types[i++] = cJSON_IsString(e) ? kind_from_string(e->valuestring) : PJ_ATTN_COUNT;
		}
	}
	d->nextn = c_blocks(d, c->text, PJ_CFG_NEXTN, "MTP layers");
	d->cfg_blocks[PJ_COMP_MTP] = d->nextn;

	/* vision tower */
	if (c->vision) {
		d->vision_cfg = true;
		d->cfg_blocks[PJ_COMP_VISION] = c_blocks(d, c->vision, PJ_CFG_V_LAYERS, "vision layers");
		if (pj_hfcfg_vision_int(c, PJ_CFG_V_HIDDEN, 0, MAX_DIM, &v))
			a->vision_hidden = (int)v;
		const char *vt = pj_cfg_str(c->vision, "model_type");
		if (vt)
			copy_str(a->vision_type, sizeof a->vision_type, vt);
		else
			snprintf(a->vision_type, sizeof a->vision_type, "%.48s_vision",
			         pj_cfg_str(c->root, "model_type") ? pj_cfg_str(c->root, "model_type") : "");
	}
}

static void read_gguf(det *d)
{
	pj_arch *a = d->a;
	int64_t v;

	d->nextn = (int)g_int(d, "nextn_predict_layers", MAX_CFG_BLOCKS);
	int blocks = (int)g_int(d, "block_count", MAX_CFG_BLOCKS);
	a->hidden = (int)g_int(d, "embedding_length", MAX_DIM);
	a->n_heads = (int)g_int(d, "attention.head_count", MAX_HEADS);
	d->g_kv_heads = gkv(d, "attention.head_count_kv");
	if (d->g_kv_heads && d->g_kv_heads->type != PJ_GGUF_ARRAY)
		d->g_kv_heads = NULL;
	a->n_kv_heads = (int)g_int(d, "attention.head_count_kv", MAX_HEADS);
	if (!a->n_kv_heads)
		a->n_kv_heads = a->n_heads;
	a->head_dim = (int)g_int(d, "attention.key_length", MAX_DIM);
	if (!a->head_dim && a->n_heads)
		a->head_dim = a->hidden / a->n_heads;
	d->head_dim_v = (int)g_int(d, "attention.value_length", MAX_DIM);
	if (!d->head_dim_v)
		d->head_dim_v = a->head_dim;
	a->vocab = (int)g_int(d, "vocab_size", INT32_MAX);
	if (!a->vocab) {
		const pj_gguf_kv *tok = kv_find(d->g, "tokenizer.ggml.tokens");
		if (tok && tok->type == PJ_GGUF_ARRAY && tok->arr_n <= INT32_MAX)
			a->vocab = (int)tok->arr_n;
	}
	a->ctx_len = g_int(d, "context_length", (int64_t)1 << 40);

	a->n_experts = (int)g_int(d, "expert_count", MAX_EXPERTS);
	a->n_experts_active = (int)g_int(d, "expert_used_count", MAX_EXPERTS);
	a->n_shared_experts = (int)g_int(d, "expert_shared_count", MAX_EXPERTS);
	a->expert_ff = (int)g_int(d, "expert_feed_forward_length", MAX_DIM);
	d->ff = (int)g_int(d, "feed_forward_length", MAX_DIM);
	d->first_k_dense = (int)g_int(d, "leading_dense_block_count", MAX_CFG_BLOCKS);
	d->moe_step = (int)g_int(d, "interleave_moe_layer_step", MAX_CFG_BLOCKS);

	/* MLA: newer files describe the latent as one kv head of key_length
	 * kv_lora_rank + rope and keep the real head dims in *_mla keys */
	a->kv_lora_rank = (int)g_int(d, "attention.kv_lora_rank", MAX_DIM);
	a->q_lora_rank = (int)g_int(d, "attention.q_lora_rank", MAX_DIM);
	if (a->kv_lora_rank) {
		a->qk_rope_head_dim = (int)g_int(d, "rope.dimension_count", MAX_DIM);
		int k = (int)g_int(d, "attention.key_length_mla", MAX_DIM);
		int vd = (int)g_int(d, "attention.value_length_mla", MAX_DIM);
		if (!k)
			k = a->head_dim, vd = d->head_dim_v;
		a->qk_nope_head_dim = k > a->qk_rope_head_dim ? k - a->qk_rope_head_dim : 0;
		a->v_head_dim = vd;
		a->head_dim = k;
		d->head_dim_v = vd;
		a->n_kv_heads = a->n_heads; /* every head gets its own K/V back */
		d->g_kv_heads = NULL;
	}

	a->sliding_window = (int)g_int(d, "attention.sliding_window", MAX_DIM);
	const pj_gguf_kv *pat = gkv(d, "attention.sliding_window_pattern");
	if (pat && pat->type == PJ_GGUF_ARRAY)
		d->g_swa_layers = pat;
	else if (pat && kv_scalar(pat, &v) && v > 0 && v <= MAX_CFG_BLOCKS)
		d->swa_pattern = (int)v;
	d->full_interval = (int)g_int(d, "full_attention_interval", MAX_CFG_BLOCKS);
	d->use_swa = -1;
	d->max_window_layers = -1;

	if (d->rule && (d->rule->flags & PJ_AR_ENCDEC)) {
		d->encdec = true;
		d->cfg_blocks[PJ_COMP_ENCODER] = blocks;
		int dec = (int)g_int(d, "decoder_block_count", MAX_CFG_BLOCKS);
		d->cfg_blocks[PJ_COMP_DECODER] = strcmp(d->gp, "t5encoder") == 0 ? 0 : dec ? dec : blocks;
	} else {
		d->cfg_blocks[PJ_COMP_TEXT] = blocks > d->nextn ? blocks - d->nextn : blocks;
		d->cfg_blocks[PJ_COMP_MTP] = blocks > d->nextn ? d->nextn : 0;
	}

	/* mmproj / clip files */
	const pj_gguf_kv *vb = kv_find(d->g, "clip.vision.block_count");
	if (vb && kv_scalar(vb, &v) && v > 0 && v <= MAX_CFG_BLOCKS) {
		d->vision_cfg = true;
		d->cfg_blocks[PJ_COMP_VISION] = (int)v;
		const pj_gguf_kv *vh = kv_find(d->g, "clip.vision.embedding_length");
		if (vh && kv_scalar(vh, &v) && v > 0 && v <= MAX_DIM)
			a->vision_hidden = (int)v;
		const pj_gguf_kv *pt = kv_find(d->g, "clip.projector_type");
		copy_str(a->vision_type, sizeof a->vision_type,
		         pt && pt->type == PJ_GGUF_STRING && pt->str ? pt->str : "clip");
	}
}

/* ---- tensors ------------------------------------------------------------ */

typedef struct classified {
	pj_role role;
	pj_component comp;
	int layer, expert;
	unsigned flags;
} classified;

static classified classify(const pj_name_tables *tb, const char *name, bool sandwich)
{
	classified r = { PJ_ROLE_UNKNOWN, PJ_COMP_TEXT, -1, -1, 0 };
	const char *rest = name;
	int64_t caps[2];
	int nc;
	for (size_t i = 0; i < tb->n_scopes; i++) {
		nc = 0;
		if (pj_name_match(tb->scopes[i].prefix, name, caps, 2, &nc, &rest)) {
			r.comp = tb->scopes[i].comp;
			if (nc == 1)
				r.layer = (int)caps[0];
			break;
		}
	}
	const pj_name_rule *rules = r.layer >= 0 ? tb->block : tb->top;
	size_t n = r.layer >= 0 ? tb->n_block : tb->n_top;
	for (size_t i = 0; i < n; i++) {
		const pj_name_rule *nr = &rules[i];
		if (nr->comp != PJ_ANY_COMP && nr->comp != (int)r.comp)
			continue;
		if ((nr->flags & PJ_NR_SANDWICH) && !sandwich)
			continue;
		nc = 0;
		if (pj_name_match(nr->pat, rest, caps, 2, &nc, NULL)) {
			r.role = nr->role;
			r.flags = nr->flags;
			if (nc >= 1)
				r.expert = (int)caps[0];
			break;
		}
	}
	r.role = pj_role_in_component(r.role, r.comp);
	return r;
}

static bool is_expert_role(pj_role r)
{
	return pj_role_info_of(r)->group == PJ_RG_EXPERT;
}

/* Stacked expert tensors keep the expert index outermost. */
static int stacked_experts(const pj_tensor *t)
{
	int min_dims = t->role == PJ_ROLE_EXP_BIAS ? 2 : 3;
	if (t->n_dims < min_dims || t->expert >= 0)
		return 0;
	int64_t e = t->ne[t->n_dims - 1];
	return e > 0 && e <= MAX_EXPERTS ? (int)e : 0;
}

static uint64_t tensor_params(const pj_tensor *t, unsigned flags)
{
	if (t->role == PJ_ROLE_WEIGHT_SCALE)
		return 0;
	uint64_t n = 1;
	for (int i = 0; i < t->n_dims && i < PJ_MAX_DIMS; i++) {
		unsigned long long p;
		if (t->ne[i] < 0 || pj_mul_u64(n, (unsigned long long)t->ne[i], &p))
			return 0;
		n = p;
	}
	/* MXFP4 "_blocks" hold two 4-bit values per stored byte */
	if ((flags & PJ_NR_PACKED4) && !pj_dtype_info_of(t->dtype)->quantized)
		n *= 2;
	return n;
}

static bool any_name_contains(const pj_catalog *c, const char *needle)
{
	for (size_t i = 0; i < c->n; i++)
		if (strstr(c->t[i].name, needle))
			return true;
	return false;
}

static void classify_all(det *d)
{
	pj_catalog *c = d->cat;
	const pj_name_tables *tb = d->hf ? &pj_hf_names : &pj_gguf_names;
	int n_text = d->cfg_blocks[PJ_COMP_TEXT];
	unsigned *flags = pj_xcalloc(c->n ? c->n : 1, sizeof *flags);

	d->a->ffn_gated = false; /* the file shows whether there are gates */
	d->sandwich = (d->rule && (d->rule->flags & PJ_AR_SANDWICH)) ||
	              (d->hf && any_name_contains(c, "pre_feedforward_layernorm"));
	for (size_t i = 0; i < c->n; i++) {
		pj_tensor *t = &c->t[i];
		classified r = classify(tb, t->name, d->sandwich);
		t->role = r.role;
		t->comp = r.comp;
		t->layer = r.layer;
		t->expert = is_expert_role(r.role) ? r.expert : -1;
		/* DeepSeek-V3 / GLM keep the MTP block after the last decoder
		 * block: model.layers.<num_hidden_layers>.* / blk.<n>.* */
		if (t->comp == PJ_COMP_TEXT && d->nextn > 0 && n_text > 0 && t->layer >= n_text) {
			t->comp = PJ_COMP_MTP;
			t->layer -= n_text;
		}
		t->n_experts = is_expert_role(t->role) ? stacked_experts(t) : 0;
		flags[i] = r.flags;
		if (t->layer >= 0 && t->layer + 1 > d->tens_blocks[t->comp])
			d->tens_blocks[t->comp] = t->layer + 1;
	}
	for (int k = 0; k < PJ_COMP_COUNT; k++)
		if (d->tens_blocks[k])
			d->bi[k] = pj_xcalloc((size_t)d->tens_blocks[k], sizeof **d->bi);

	d->tparams = pj_xcalloc(c->n ? c->n : 1, sizeof *d->tparams);
	for (size_t i = 0; i < c->n; i++) {
		pj_tensor *t = &c->t[i];
		uint64_t p = tensor_params(t, flags[i]);
		d->tparams[i] = p;
		t->params = p;
		pj_role_group g = pj_role_info_of(t->role)->group;
		if (t->role == PJ_ROLE_V_PATCH_EMBD && t->n_dims >= 2)
			d->v_patch_hidden = t->ne[t->n_dims - 1];
		/* down_proj rows are expert_ff long (not in packed MXFP4 blocks) */
		if (t->role == PJ_ROLE_EXP_DOWN && !(flags[i] & PJ_NR_PACKED4) && !d->expert_ff_shape && t->ne[0] > 0)
			d->expert_ff_shape = t->ne[0];
		if (g == PJ_RG_SHARED)
			d->any_shexp = true;
		if (t->layer < 0)
			continue;
		blockinfo *b = &d->bi[t->comp][t->layer];
		b->any = true;
		b->params += p;
		switch (g) {
		case PJ_RG_ATTN:
			switch (t->role) {
			case PJ_ROLE_ATTN_LINEAR: b->linear = true; break;
			case PJ_ROLE_CROSS_Q: case PJ_ROLE_CROSS_K: case PJ_ROLE_CROSS_V:
			case PJ_ROLE_CROSS_OUTPUT: b->cross = true; break;
			case PJ_ROLE_ATTN_REL_BIAS: break; /* T5 keeps it in block 0 only */
			default: b->attn = true; break;
			}
			break;
		case PJ_RG_MLA:
			b->mla = true;
			break;
		case PJ_RG_FFN:
			b->ffn = true;
			if (t->role == PJ_ROLE_FFN_GATE || t->role == PJ_ROLE_FFN_GATE_UP)
				d->a->ffn_gated = true;
			break;
		case PJ_RG_EXPERT:
			b->moe = true;
			if (t->role == PJ_ROLE_EXP_GATE || t->role == PJ_ROLE_EXP_GATE_UP)
				d->a->ffn_gated = true;
			b->expert_params += p;
			if (t->expert >= 0 && t->expert + 1 > b->n_experts)
				b->n_experts = t->expert + 1;
			if (t->n_experts > b->n_experts)
				b->n_experts = t->n_experts;
			break;
		case PJ_RG_SHARED:
			b->shexp = true;
			break;
		case PJ_RG_VISION:
			if (t->role == PJ_ROLE_V_ATTN)
				b->attn = true;
			else if (t->role == PJ_ROLE_V_FFN)
				b->ffn = true;
			break;
		case PJ_RG_ROUTER:
			if (t->role == PJ_ROLE_ROUTER) {
				b->moe = true;
				/* [n_experts, hidden] -> ne = {hidden, n_experts} */
				if (t->n_dims == 2 && t->ne[1] > b->n_experts && t->ne[1] <= MAX_EXPERTS)
					b->n_experts = (int)t->ne[1];
			}
			break;
		default:
			break;
		}
		if (t->n_dims >= 2) {
			if (t->role == PJ_ROLE_ATTN_K)
				b->k_rows = pj_tensor_nrows(t);
			else if (t->role == PJ_ROLE_ATTN_V)
				b->v_rows = pj_tensor_nrows(t);
			else if (t->role == PJ_ROLE_MLA_KV_A)
				b->kv_a_rows = pj_tensor_nrows(t);
		}
	}
	free(flags);
}

/* ---- per-layer schedule from the config --------------------------------- */

/* Attention kind of text layer i from the config alone. */
static pj_attn_kind sched_kind(const det *d, int i)
{
	const pj_arch *a = d->a;
	int64_t v;

	if (i < d->n_layer_types && d->layer_types[i] != PJ_ATTN_COUNT) {
		pj_attn_kind k = d->layer_types[i];
		return k == PJ_ATTN_GLOBAL && a->kv_lora_rank ? PJ_ATTN_MLA : k;
	}
	if (d->g_swa_layers && kv_elem(d->g_swa_layers, (uint64_t)i, &v))
		return v ? PJ_ATTN_LOCAL : PJ_ATTN_GLOBAL;
	if (a->kv_lora_rank)
		return PJ_ATTN_MLA;
	int interval = d->full_interval ? d->full_interval : d->rule ? d->rule->full_attn_interval : 0;
	if (interval > 0)
		return (i + 1) % interval == 0 ? PJ_ATTN_GLOBAL : PJ_ATTN_LINEAR;

	if (d->use_swa == 0 || a->sliding_window <= 0)
		return PJ_ATTN_GLOBAL;
	int pattern = d->swa_pattern ? d->swa_pattern : d->rule ? d->rule->swa_pattern : 0;
	if (pattern > 0)
		return (i + 1) % pattern == 0 ? PJ_ATTN_GLOBAL : PJ_ATTN_LOCAL;
	if (d->use_swa == 1 && d->max_window_layers >= 0) /* Qwen2: the first N are full */
		return i >= d->max_window_layers ? PJ_ATTN_LOCAL : PJ_ATTN_GLOBAL;
	if (d->rule && (d->rule->flags & PJ_AR_SWA_OPTIN) && d->use_swa != 1)
		return PJ_ATTN_GLOBAL;
	return PJ_ATTN_LOCAL; /* Mistral: one window for every layer */
}

static bool in_int_array(const cJSON *arr, int v)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, arr)
		if (cJSON_IsNumber(e) && e->valuedouble == (double)v)
			return true;
	return false;
}

static bool sched_moe(const det *d, int i)
{
	if (d->a->n_experts <= 1)
		return false;
	if (i < d->first_k_dense)
		return false;
	if (d->mlp_only && in_int_array(d->mlp_only, i))
		return false;
	if (d->moe_freq > 1 && i % d->moe_freq != 0)
		return false;
	if (d->sparse_step > 1 && (i + 1) % d->sparse_step != 0)
		return false;
	if (d->moe_step > 1 && (i + 1) % d->moe_step != 0)
		return false;
	return true;
}

static int kv_heads_at(const det *d, int i)
{
	int64_t v;
	if (d->g_kv_heads && kv_elem(d->g_kv_heads, (uint64_t)i, &v) && v >= 0 && v <= MAX_HEADS)
		return (int)v;
	return d->a->n_kv_heads;
}

/* ---- layers ------------------------------------------------------------- */

static void fill_layer(det *d, pj_layer *l, const blockinfo *b)
{
	pj_arch *a = d->a;
	bool decoder_side = l->comp == PJ_COMP_TEXT || l->comp == PJ_COMP_DECODER || l->comp == PJ_COMP_MTP;
	bool seen = b && b->any;

	/* attention */
	if (!decoder_side) {
		l->attn = seen && !b->attn && !b->linear && !b->mla ? PJ_ATTN_NONE : PJ_ATTN_GLOBAL;
	} else {
		pj_attn_kind k = l->comp == PJ_COMP_TEXT ? sched_kind(d, l->index)
		                 : a->kv_lora_rank ? PJ_ATTN_MLA : PJ_ATTN_GLOBAL;
		if (seen) {
			/* weights decide what needs its own weights */
			if (b->mla)
				k = PJ_ATTN_MLA;
			else if (b->attn)
				k = k == PJ_ATTN_LOCAL ? PJ_ATTN_LOCAL : PJ_ATTN_GLOBAL;
			else if (b->linear)
				k = PJ_ATTN_LINEAR;
			else
				k = PJ_ATTN_NONE;
		}
		l->attn = k;
	}
	l->window = l->attn == PJ_ATTN_LOCAL ? a->sliding_window : 0;
	l->cross_attn = seen ? b->cross : (l->comp == PJ_COMP_DECODER && d->encdec);

	/* feed-forward */
	/* MTP blocks continue the decoder's numbering (DeepSeek-V3: layer 61) */
	int depth = l->comp == PJ_COMP_MTP ? d->cfg_blocks[PJ_COMP_TEXT] + l->index : l->index;
	bool moe = seen ? b->moe : (l->comp == PJ_COMP_TEXT || l->comp == PJ_COMP_MTP) && sched_moe(d, depth);
	if (seen && !b->moe && !b->ffn && !b->shexp)
		l->ffn = PJ_FFN_NONE;
	else
		l->ffn = moe ? PJ_FFN_MOE : PJ_FFN_DENSE;
	if (moe) {
		l->n_experts = seen && b->n_experts ? b->n_experts : a->n_experts;
		if (seen ? b->shexp : a->n_shared_experts > 0)
			l->n_shared = a->n_shared_experts ? a->n_shared_experts : 1;
	}
	l->params = seen ? b->params : 0;

	/* KV cache per token at F16 (the MTP block is not part of serving) */
	uint64_t kv = 0;
	if (l->comp == PJ_COMP_TEXT || l->comp == PJ_COMP_DECODER) {
		if (l->attn == PJ_ATTN_MLA) {
			int64_t latent = seen && b->kv_a_rows ? b->kv_a_rows
			                 : (int64_t)a->kv_lora_rank + a->qk_rope_head_dim;
			kv = (uint64_t)latent * 2;
		} else if (l->attn == PJ_ATTN_GLOBAL || l->attn == PJ_ATTN_LOCAL) {
			if (seen && b->k_rows > 0 && b->v_rows > 0)
				kv = (uint64_t)(b->k_rows + b->v_rows) * 2;
			else
				kv = (uint64_t)kv_heads_at(d, l->index) * ((uint64_t)a->head_dim + (uint64_t)d->head_dim_v) * 2;
		}
	}
	l->kv_bytes_per_token_f16 = kv;
}

static void build_layers(det *d)
{
	pj_arch *a = d->a;
	int count[PJ_COMP_COUNT];
	int total = 0;

	for (int c = 0; c < PJ_COMP_COUNT; c++) {
		count[c] = d->have_tensors ? d->tens_blocks[c] : d->cfg_blocks[c];
		total += count[c];
	}
	a->layers = total ? pj_xcalloc((size_t)total, sizeof *a->layers) : NULL;
	a->n_layer_entries = total;
	int k = 0;
	for (int c = 0; c < PJ_COMP_COUNT; c++) {
		a->layer_first[c] = k;
		a->layer_count[c] = count[c];
		for (int i = 0; i < count[c]; i++, k++) {
			pj_layer *l = &a->layers[k];
			l->comp = c;
			l->index = i;
			fill_layer(d, l, d->bi[c] ? &d->bi[c][i] : NULL);
		}
	}
	a->n_layers = count[PJ_COMP_TEXT] ? count[PJ_COMP_TEXT] : count[PJ_COMP_DECODER];
	a->encoder_layers = count[PJ_COMP_ENCODER];
	a->decoder_layers = count[PJ_COMP_DECODER];
	a->vision_layers = count[PJ_COMP_VISION];
	a->n_mtp_layers = count[PJ_COMP_MTP];

	if (d->have_tensors) {
		static const char *const what[PJ_COMP_COUNT] = {
			[PJ_COMP_TEXT] = "text", [PJ_COMP_VISION] = "vision",
			[PJ_COMP_ENCODER] = "encoder", [PJ_COMP_DECODER] = "decoder",
		};
		for (int c = 0; c < PJ_COMP_COUNT; c++)
			if (what[c] && d->cfg_blocks[c] && d->cfg_blocks[c] != count[c])
				warn(d, "config says %d %s blocks, the tensors hold %d", d->cfg_blocks[c], what[c], count[c]);
	}
}

/* ---- summaries ---------------------------------------------------------- */

static int gcd(int x, int y)
{
	while (y) {
		int t = x % y;
		x = y;
		y = t;
	}
	return x;
}

static bool is_full(pj_attn_kind k)
{
	return k == PJ_ATTN_GLOBAL || k == PJ_ATTN_MLA;
}

/* "5:1": local-or-linear : full layers in the shortest repeating period
 * (Gemma 3 26 layers -> 5:1, not 22:4), else the reduced totals. */
static void local_global(pj_arch *a, const pj_layer *ls, int n)
{
	int period = n;
	for (int p = 1; p < n; p++) {
		bool ok = true;
		for (int i = p; i < n && ok; i++)
			ok = is_full(ls[i].attn) == is_full(ls[i % p].attn);
		if (ok) {
			period = p;
			break;
		}
	}
	int x = 0, y = 0;
	for (int i = 0; i < period; i++) {
		if (is_full(ls[i].attn))
			y++;
		else if (ls[i].attn == PJ_ATTN_LOCAL || ls[i].attn == PJ_ATTN_LINEAR)
			x++;
	}
	if (period == n) {
		int g = gcd(x, y);
		if (g > 1)
			x /= g, y /= g;
	}
	snprintf(a->local_global, sizeof a->local_global, "%d:%d", x, y);
}

static void aggregate(det *d)
{
	pj_arch *a = d->a;
	/* the main stack: text blocks, or the decoder of an encoder-decoder */
	int main_comp = pj_arch_layer(a, PJ_COMP_TEXT, 0) ? PJ_COMP_TEXT : PJ_COMP_DECODER;
	const pj_layer *text = pj_arch_layer(a, main_comp, 0);
	int n_text = text ? (main_comp == PJ_COMP_TEXT ? a->n_layers : a->decoder_layers) : 0;
	int n_attn = 0;

	for (int i = 0; i < a->n_layer_entries; i++) {
		const pj_layer *l = &a->layers[i];
		if (l->comp != PJ_COMP_TEXT && l->comp != PJ_COMP_DECODER)
			continue;
		a->kv_bytes_per_token_f16 += l->kv_bytes_per_token_f16;
		if (l->attn != PJ_ATTN_NONE)
			n_attn++;
		if (l->ffn == PJ_FFN_MOE) {
			a->n_moe_layers++;
			if (l->n_experts > a->n_experts)
				a->n_experts = l->n_experts;
		}
		if (l->comp != main_comp)
			continue;
		switch (l->attn) {
		case PJ_ATTN_LOCAL: a->n_local_layers++; break;
		case PJ_ATTN_LINEAR: a->n_linear_layers++; break;
		case PJ_ATTN_MLA: a->traits |= PJ_TRAIT(MLA); a->n_global_layers++; break;
		case PJ_ATTN_GLOBAL: a->n_global_layers++; break;
		default: break;
		}
	}

	/* leading dense layers, as the file has them */
	a->first_dense = 0;
	if (a->n_moe_layers && text)
		for (int i = 0; i < n_text && text[i].ffn != PJ_FFN_MOE; i++)
			a->first_dense++;
	if (a->n_moe_layers && !a->n_shared_experts && d->any_shexp)
		a->n_shared_experts = 1;
	if (a->n_moe_layers && !a->expert_ff && d->expert_ff_shape > 0 && d->expert_ff_shape <= MAX_DIM)
		a->expert_ff = (int)d->expert_ff_shape;
	if (a->n_moe_layers && !a->expert_ff)
		a->expert_ff = d->ff; /* Mixtral, gpt-oss: intermediate_size is the expert's */
	if (!a->n_moe_layers) {
		a->n_experts_active = 0;
		a->n_shared_experts = 0;
		a->expert_ff = 0;
		a->n_experts = 0;
	}
	if (!a->n_local_layers)
		a->sliding_window = 0;

	/* traits */
	if (a->n_moe_layers)
		a->traits |= PJ_TRAIT(MOE);
	else if (n_text || a->encoder_layers)
		a->traits |= PJ_TRAIT(DENSE);
	if (a->n_linear_layers)
		a->traits |= PJ_TRAIT(LINEAR);
	if (a->n_global_layers && (a->n_local_layers || a->n_linear_layers)) {
		a->traits |= PJ_TRAIT(HYBRID);
		local_global(a, text, n_text);
	}
	if (!(a->traits & PJ_TRAIT(MLA)) && n_attn && a->n_heads > 1 && a->n_kv_heads > 0) {
		if (a->n_kv_heads == 1)
			a->traits |= PJ_TRAIT(MQA);
		else if (a->n_kv_heads < a->n_heads)
			a->traits |= PJ_TRAIT(GQA);
	}
	bool vision_tensors = d->have_tensors && (a->vision_layers || a->params_by_comp[PJ_COMP_VISION]);
	if (d->have_tensors ? vision_tensors : d->vision_cfg)
		a->traits |= PJ_TRAIT(MULTIMODAL);
	if (d->have_tensors && d->vision_cfg && !vision_tensors && d->hf)
		warn(d, "config has a vision_config but the checkpoint holds no vision tower");
	if (a->encoder_layers && a->decoder_layers)
		a->traits |= PJ_TRAIT(ENCDEC);
	if (!(a->traits & PJ_TRAIT(MULTIMODAL))) {
		a->vision_layers = 0;
		a->vision_hidden = 0;
		a->vision_type[0] = '\0';
	} else {
		if (d->v_patch_hidden > 0 && d->v_patch_hidden <= MAX_DIM && !a->vision_hidden)
			a->vision_hidden = (int)d->v_patch_hidden;
		a->has_projector = d->have_tensors ? a->params_by_comp[PJ_COMP_PROJECTOR] > 0 : true;
	}
	if (!(a->traits & PJ_TRAIT(MLA)))
		a->q_lora_rank = a->kv_lora_rank = a->qk_rope_head_dim = a->qk_nope_head_dim = a->v_head_dim = 0;
}

static void family(pj_arch *a)
{
	char why[sizeof a->family_reason - sizeof precedence - 3];
	unsigned t = a->traits;

	if (t & PJ_TRAIT(MOE)) {
		a->family = PJ_FAMILY_MOE;
		int n = snprintf(why, sizeof why, "MoE: %d routed experts, %d active", a->n_experts, a->n_experts_active);
		if (a->n_shared_experts && n > 0 && (size_t)n < sizeof why)
			snprintf(why + n, sizeof why - (size_t)n, ", %d shared", a->n_shared_experts);
	} else if (t & PJ_TRAIT(HYBRID)) {
		a->family = PJ_FAMILY_HYBRID;
		if (a->n_linear_layers)
			snprintf(why, sizeof why, "hybrid attention: %d linear-attention and %d full-attention layers",
			         a->n_linear_layers, a->n_global_layers);
		else
			snprintf(why, sizeof why, "hybrid attention: %d local (window %d) and %d global layers, %s",
			         a->n_local_layers, a->sliding_window, a->n_global_layers, a->local_global);
	} else if (t & PJ_TRAIT(MLA)) {
		a->family = PJ_FAMILY_MLA;
		snprintf(why, sizeof why, "MLA: kv_lora_rank %d, q_lora_rank %d, rope dim %d",
		         a->kv_lora_rank, a->q_lora_rank, a->qk_rope_head_dim);
	} else if (t & PJ_TRAIT(MULTIMODAL)) {
		a->family = PJ_FAMILY_MULTIMODAL;
		snprintf(why, sizeof why, "multimodal: %.32s vision tower, %d blocks%s",
		         a->vision_type[0] ? a->vision_type : "a", a->vision_layers,
		         a->has_projector ? " + projector" : "");
	} else if (t & PJ_TRAIT(ENCDEC)) {
		a->family = PJ_FAMILY_ENCDEC;
		snprintf(why, sizeof why, "encoder-decoder: %d encoder + %d decoder blocks with cross-attention",
		         a->encoder_layers, a->decoder_layers);
	} else {
		a->family = PJ_FAMILY_DENSE;
		snprintf(why, sizeof why, "dense: no routed experts, %s attention",
		         a->n_local_layers ? "sliding-window" : "uniform full");
	}
	snprintf(a->family_reason, sizeof a->family_reason, "%s (%s)", why, precedence);
}

static void count_params(det *d)
{
	pj_arch *a = d->a;
	pj_catalog *c = d->cat;
	for (size_t i = 0; i < c->n; i++) {
		const pj_tensor *t = &c->t[i];
		a->params_total += d->tparams[i];
		if ((unsigned)t->comp < 8)
			a->params_by_comp[t->comp] += d->tparams[i];
	}
	/* per token only the routed experts picked are used */
	a->params_active = a->params_total;
	for (int i = 0; i < a->n_layer_entries; i++) {
		const pj_layer *l = &a->layers[i];
		if (l->ffn != PJ_FFN_MOE || !d->bi[l->comp])
			continue;
		uint64_t routed = d->bi[l->comp][l->index].expert_params;
		int e = l->n_experts, k = a->n_experts_active;
		if (e > 0 && k > 0 && k < e)
			a->params_active -= routed / (uint64_t)e * (uint64_t)(e - k) +
			                    routed % (uint64_t)e * (uint64_t)(e - k) / (uint64_t)e;
	}
}

/* ---- entry points ------------------------------------------------------- */

static void identify(det *d)
{
	pj_arch *a = d->a;
	const char *root_type = NULL, *text_type = NULL;

	if (d->hf) {
		const cJSON *archs = pj_cfg_array(d->cfg.root, "architectures");
		const cJSON *a0 = archs ? cJSON_GetArrayItem(archs, 0) : NULL;
		root_type = pj_cfg_str(d->cfg.root, "model_type");
		text_type = d->cfg.text != d->cfg.root ? pj_cfg_str(d->cfg.text, "model_type") : NULL;
		copy_str(a->arch, sizeof a->arch, cJSON_IsString(a0) ? a0->valuestring : root_type);
		copy_str(a->model_type, sizeof a->model_type, text_type ? text_type : root_type);
		d->rule = pj_arch_rule_find(text_type);
		if (!d->rule)
			d->rule = pj_arch_rule_find(root_type);
	} else if (d->g) {
		const pj_gguf_kv *kv = kv_find(d->g, "general.architecture");
		root_type = kv && kv->type == PJ_GGUF_STRING ? kv->str : NULL;
		copy_str(d->gp, sizeof d->gp, root_type);
		copy_str(a->arch, sizeof a->arch, root_type);
		copy_str(a->model_type, sizeof a->model_type, root_type);
		d->rule = pj_arch_rule_find(root_type);
	}
	if (d->rule)
		copy_str(a->norm, sizeof a->norm, d->rule->norm);
	if (!d->rule) {
		a->unknown = true;
		warn(d, "unknown architecture '%s': detected from tensor names only",
		     a->arch[0] ? a->arch : a->model_type[0] ? a->model_type : "(none)");
	}
}

static pj_status detect(det *d, pj_error *err)
{
	pj_arch *a = d->a;

	identify(d);
	if (d->hf)
		read_hf(d);
	else if (d->g)
		read_gguf(d);
	if (d->have_tensors)
		classify_all(d);
	build_layers(d);
	if (d->have_tensors)
		count_params(d);
	aggregate(d);
	family(a);
	if (a->vocab == 0 && d->have_tensors) {
		for (size_t i = 0; i < d->cat->n; i++) {
			const pj_tensor *t = &d->cat->t[i];
			if (t->role == PJ_ROLE_TOKEN_EMBD && t->n_dims == 2 && t->ne[1] <= INT32_MAX) {
				a->vocab = (int)t->ne[1];
				break;
			}
		}
	}
	if (d->have_tensors && (a->traits & PJ_TRAIT(MOE)) && !a->n_experts_active)
		warn(d, "experts used per token unknown: active parameters count every expert");
	(void)err;
	return PJ_OK;
}

static void det_free(det *d)
{
	for (int c = 0; c < PJ_COMP_COUNT; c++)
		free(d->bi[c]);
	free(d->tparams);
	free(d->layer_types);
}

pj_status pj_arch_detect(struct pj_model *m, pj_error *err)
{
	pj_arch_free(&m->arch);
	memset(&m->arch, 0, sizeof m->arch);
	det d = { .a = &m->arch, .m = m, .cat = &m->cat };
	d.have_tensors = m->cat.n > 0;
	if (m->format == PJ_FMT_GGUF) {
		d.g = m->gguf;
	} else {
		d.hf = true;
		pj_hfcfg_init(&d.cfg, m->config);
	}
	pj_status st = detect(&d, err);
	det_free(&d);
	return st;
}

pj_status pj_arch_detect_config(pj_arch *a, const cJSON *config, pj_error *err)
{
	memset(a, 0, sizeof *a);
	det d = { .a = a, .hf = true };
	pj_hfcfg_init(&d.cfg, config);
	pj_status st = detect(&d, err);
	det_free(&d);
	return st;
}

void pj_arch_free(pj_arch *a)
{
	free(a->layers);
	a->layers = NULL;
	a->n_layer_entries = 0;
}

const pj_layer *pj_arch_layer(const pj_arch *a, int comp, int index)
{
	if (comp < 0 || comp >= PJ_COMP_COUNT || index < 0 || index >= a->layer_count[comp])
		return NULL;
	return &a->layers[a->layer_first[comp] + index];
}
