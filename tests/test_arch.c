/* test_arch.c - architecture detection: name matcher, config accessors,
 * hand-built catalogs (no shared data needed), config-only detection of real
 * configs, and the shared checkpoints as HF folders and GGUF files, which
 * must agree with each other. */
#include "config.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "arch_rules.h"
#include "catalog.h"
#include "hfconfig.h"
#include "model.h"
#include "tap.h"

/* ---- helpers ------------------------------------------------------------ */

/* Per-layer kinds of one component as a string: attention G(lobal) L(ocal)
 * M(LA) X (linear) - (none); FFN D(ense) E (MoE) - (none). */
static const char *attn_str(const pj_arch *a, int comp, char *buf, size_t len)
{
	static const char letter[PJ_ATTN_COUNT] = {
		[PJ_ATTN_NONE] = '-', [PJ_ATTN_GLOBAL] = 'G', [PJ_ATTN_LOCAL] = 'L',
		[PJ_ATTN_MLA] = 'M', [PJ_ATTN_LINEAR] = 'X',
	};
	size_t n = 0;
	for (int i = 0; i < a->n_layer_entries && n + 1 < len; i++)
		if (a->layers[i].comp == comp)
			buf[n++] = letter[a->layers[i].attn];
	buf[n] = '\0';
	return buf;
}

static const char *ffn_str(const pj_arch *a, int comp, char *buf, size_t len)
{
	static const char letter[PJ_FFN_COUNT] = { [PJ_FFN_NONE] = '-', [PJ_FFN_DENSE] = 'D', [PJ_FFN_MOE] = 'E' };
	size_t n = 0;
	for (int i = 0; i < a->n_layer_entries && n + 1 < len; i++)
		if (a->layers[i].comp == comp)
			buf[n++] = letter[a->layers[i].ffn];
	buf[n] = '\0';
	return buf;
}

static const char *traits_str(unsigned traits, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned b = 0; b < PJ_TRAIT_COUNT; b++)
		if (traits & (1u << b))
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "," : "", pj_trait_name(b));
	return buf;
}

#define T(id) PJ_TRAIT(id)

/* A model built by hand: HF config + tensors with ggml-order shapes. */
typedef struct tdef {
	const char *name;
	int64_t ne[4];
} tdef;

static pj_model *new_model(pj_format fmt, const char *config)
{
	pj_model *m = pj_xcalloc(1, sizeof *m);
	m->format = fmt;
	pj_catalog_init(&m->cat);
	if (config) {
		m->config = cJSON_Parse(config);
		if (!m->config)
			tap_diag("bad test config: %s", config);
	}
	return m;
}

static void add_tensor_dt(pj_model *m, const char *name, const int64_t *ne4, pj_dtype dt)
{
	int64_t ne[4];
	int nd = 0;
	for (int i = 0; i < 4 && ne4[i]; i++)
		ne[nd++] = ne4[i];
	pj_error err = { 0 };
	uint64_t nel = 1;
	for (int i = 0; i < nd; i++)
		nel *= (uint64_t)ne[i];
	if (pj_catalog_add(&m->cat, "test", name, strlen(name), dt, nd, ne, 0, 0, nel * 2, &err))
		tap_diag("add %s: %s", name, err.msg);
}

static void add_tensor(pj_model *m, const char *name, const int64_t *ne4)
{
	add_tensor_dt(m, name, ne4, PJ_DT_BF16);
}

static void add_tensors(pj_model *m, const tdef *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add_tensor(m, t[i].name, t[i].ne);
}

static void detect(pj_model *m)
{
	pj_error err = { 0 };
	if (pj_arch_detect(m, &err) != PJ_OK)
		tap_diag("detect: %s", err.msg);
}

/* pj_model_close frees what new_model made; a hand-made gguf is the
 * caller's. */
static void close_model(pj_model *m)
{
	m->gguf = NULL;
	pj_model_close(m);
}

static const pj_tensor *tensor(const pj_model *m, const char *name)
{
	const pj_tensor *t = pj_catalog_find(&m->cat, name);
	if (!t)
		tap_diag("no tensor %s", name);
	return t;
}

/* role, component, layer and expert index of one tensor in one check */
static void is_role(const pj_model *m, const char *name, pj_role role, int comp, int layer, int expert,
                    int n_experts)
{
	const pj_tensor *t = tensor(m, name);
	char got[160] = "(missing)", want[160];
	if (t)
		snprintf(got, sizeof got, "%s/%s/%d/%d/%d", pj_role_name(t->role), pj_component_name(t->comp),
		         t->layer, t->expert, t->n_experts);
	snprintf(want, sizeof want, "%s/%s/%d/%d/%d", pj_role_name(role), pj_component_name((pj_component)comp),
	         layer, expert, n_experts);
	is_str(got, want, "%s: role/comp/layer/expert/n_experts", name);
}

static bool has_warning(const pj_model *m, const char *needle)
{
	for (size_t i = 0; i < m->n_warnings; i++)
		if (strstr(m->warnings[i], needle))
			return true;
	return false;
}

static uint64_t nelem_sum(const pj_model *m)
{
	uint64_t s = 0;
	for (size_t i = 0; i < m->cat.n; i++)
		if (m->cat.t[i].role != PJ_ROLE_WEIGHT_SCALE)
			s += (uint64_t)pj_tensor_nelem(&m->cat.t[i]);
	return s;
}

/* ---- the name matcher --------------------------------------------------- */

static void test_matcher(void)
{
	int64_t caps[2];
	int n;
	const char *rest;

	n = 0;
	ok(pj_name_match("model.layers.#.", "model.layers.12.self_attn.q_proj.weight", caps, 2, &n, &rest) &&
	   n == 1 && caps[0] == 12 && strcmp(rest, "self_attn.q_proj.weight") == 0,
	   "matcher: block prefix captures the index and leaves the rest");
	n = 0;
	ok(!pj_name_match("model.layers.#.", "model.layers.x.q", caps, 2, &n, &rest), "matcher: '#' needs digits");
	n = 0;
	ok(!pj_name_match("model.layers.#.", "model.layers.99999999999999999999.q", caps, 2, &n, &rest),
	   "matcher: absurd index is not an index");
	n = 0;
	ok(pj_name_match("*experts.#.w1.weight", "block_sparse_moe.experts.7.w1.weight", caps, 2, &n, NULL) &&
	   n == 1 && caps[0] == 7, "matcher: '*' then '#' (expert 7)");
	n = 0;
	ok(!pj_name_match("mlp.gate.weight", "mlp.gate.weightX", caps, 2, &n, NULL), "matcher: whole-name match");
	n = 0;
	ok(pj_name_match("linear_attn.*", "linear_attn.A_log", caps, 2, &n, NULL), "matcher: trailing '*'");
	n = 0;
	ok(!pj_name_match("*experts.#.w1.weight", "experts..w1.weight", caps, 2, &n, NULL), "matcher: empty number");
}

/* ---- config accessors --------------------------------------------------- */

static void test_hfconfig(void)
{
	cJSON *j = cJSON_Parse(
	    "{\"text_config\": {\"num_hidden_layers\": 4, \"hidden_size\": null, \"num_experts\": \"8\","
	    " \"model_type\": \"llama\"},"
	    " \"hidden_size\": 512, \"num_local_experts\": 8, \"n_routed_experts\": 2.5,"
	    " \"use_sliding_window\": 0, \"huge\": 1e300, \"neg\": -3,"
	    " \"vision_config\": {\"depth\": 3, \"embed_dim\": 64}, \"model_type\": \"llava\"}");
	pj_hfcfg c;
	int64_t v = -1;
	bool b;
	pj_hfcfg_init(&c, j);
	ok(c.text != c.root && c.vision, "hfconfig: text_config and vision_config found");
	ok(pj_hfcfg_text_int(&c, PJ_CFG_LAYERS, 0, 1000, &v) && v == 4, "hfconfig: layers from text_config");
	ok(pj_hfcfg_text_int(&c, PJ_CFG_HIDDEN, 0, 1 << 20, &v) && v == 512, "hfconfig: null in text_config -> top level");
	ok(pj_hfcfg_text_int(&c, PJ_CFG_EXPERTS, 0, 1000, &v) && v == 8,
	   "hfconfig: string and fractional aliases skipped, num_local_experts = 8");
	ok(!pj_hfcfg_text_bool(&c, "use_sliding_window", &b), "hfconfig: number is not a bool");
	ok(!pj_cfg_int(c.root, "huge", 0, INT64_MAX, &v), "hfconfig: 1e300 is not an int64");
	ok(!pj_cfg_int(c.root, "neg", 0, 100, &v), "hfconfig: negative out of range");
	ok(pj_hfcfg_vision_int(&c, PJ_CFG_V_LAYERS, 0, 100, &v) && v == 3, "hfconfig: vision depth");
	is_str(pj_hfcfg_text_str(&c, "model_type"), "llama", "hfconfig: text model_type");
	cJSON_Delete(j);

	j = cJSON_Parse("[1, 2, 3]");
	pj_hfcfg_init(&c, j);
	ok(!c.root && !pj_hfcfg_text_int(&c, PJ_CFG_LAYERS, 0, 10, &v) && !pj_hfcfg_text_str(&c, "model_type"),
	   "hfconfig: a non-object config is empty");
	cJSON_Delete(j);
	pj_hfcfg_init(&c, NULL);
	ok(!pj_cfg_get(c.root, "x"), "hfconfig: NULL config is empty");
}

/* ---- hand-built HF models ----------------------------------------------- */

/* 2-layer Llama: hidden 64, 4 heads of 16, 2 kv heads, FFN 128, vocab 100. */
static const tdef tiny_llama[] = {
	{ "model.embed_tokens.weight", { 64, 100 } },
	{ "model.norm.weight", { 64 } },
	{ "lm_head.weight", { 64, 100 } },
#define LLAMA_BLOCK(i) \
	{ "model.layers." #i ".input_layernorm.weight", { 64 } }, \
	{ "model.layers." #i ".post_attention_layernorm.weight", { 64 } }, \
	{ "model.layers." #i ".self_attn.q_proj.weight", { 64, 64 } }, \
	{ "model.layers." #i ".self_attn.k_proj.weight", { 64, 32 } }, \
	{ "model.layers." #i ".self_attn.v_proj.weight", { 64, 32 } }, \
	{ "model.layers." #i ".self_attn.o_proj.weight", { 64, 64 } }, \
	{ "model.layers." #i ".mlp.gate_proj.weight", { 64, 128 } }, \
	{ "model.layers." #i ".mlp.up_proj.weight", { 64, 128 } }, \
	{ "model.layers." #i ".mlp.down_proj.weight", { 128, 64 } }
	LLAMA_BLOCK(0), LLAMA_BLOCK(1),
};

static void test_tiny_llama(void)
{
	pj_model *m = new_model(PJ_FMT_HF,
	    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 64,"
	    " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"num_hidden_layers\": 2,"
	    " \"intermediate_size\": 128, \"vocab_size\": 100, \"max_position_embeddings\": 2048}");
	add_tensors(m, tiny_llama, sizeof tiny_llama / sizeof tiny_llama[0]);
	detect(m);
	const pj_arch *a = &m->arch;
	char b1[64], b2[128];
	is_int(a->traits, T(DENSE) | T(GQA), "tiny llama: traits %s", traits_str(a->traits, b2, sizeof b2));
	is_int(a->family, PJ_FAMILY_DENSE, "tiny llama: family dense");
	is_str(attn_str(a, PJ_COMP_TEXT, b1, sizeof b1), "GG", "tiny llama: attention kinds");
	is_int(a->head_dim, 16, "tiny llama: head_dim = hidden / heads");
	is_int(a->layers[0].kv_bytes_per_token_f16, 2 * 2 * 16 * 2, "tiny llama: KV bytes/token of a layer");
	is_int(a->kv_bytes_per_token_f16, 2 * 128, "tiny llama: KV bytes/token");
	is_int(a->params_total, nelem_sum(m), "tiny llama: params_total is the element sum");
	is_int(a->params_active, a->params_total, "tiny llama: dense -> active = total");
	is_int(a->layers[1].params, 64 * 2 + 64 * 64 * 2 + 64 * 32 * 2 + 64 * 128 * 3, "tiny llama: block params");
	is_role(m, "model.layers.1.post_attention_layernorm.weight", PJ_ROLE_FFN_NORM, PJ_COMP_TEXT, 1, -1, 0);
	is_role(m, "lm_head.weight", PJ_ROLE_OUTPUT, PJ_COMP_TEXT, -1, -1, 0);
	is_role(m, "model.embed_tokens.weight", PJ_ROLE_TOKEN_EMBD, PJ_COMP_TEXT, -1, -1, 0);
	is_str(pj_arch_summary(a, b2, sizeof b2), "dense GQA 4/2", "tiny llama: summary");
	ok(!a->unknown && m->n_warnings == 0, "tiny llama: known, no warnings");
	close_model(m);

	/* the same tensors under an unknown model_type: names still work */
	m = new_model(PJ_FMT_HF, "{\"architectures\": [\"FrobForCausalLM\"], \"model_type\": \"frob\","
	                         " \"num_hidden_layers\": 2}");
	add_tensors(m, tiny_llama, sizeof tiny_llama / sizeof tiny_llama[0]);
	detect(m);
	ok(m->arch.unknown, "unknown arch: flagged");
	ok(has_warning(m, "unknown architecture 'FrobForCausalLM': detected from tensor names only"),
	   "unknown arch: warning names it");
	is_role(m, "model.layers.0.self_attn.k_proj.weight", PJ_ROLE_ATTN_K, PJ_COMP_TEXT, 0, -1, 0);
	is_int(m->arch.n_layers, 2, "unknown arch: layers from names");
	close_model(m);

	/* no config at all (lone safetensors) */
	m = new_model(PJ_FMT_HF, NULL);
	add_tensors(m, tiny_llama, sizeof tiny_llama / sizeof tiny_llama[0]);
	detect(m);
	ok(m->arch.unknown && m->arch.n_layers == 2 && m->arch.params_total == nelem_sum(m),
	   "no config: unknown, layers and params from tensors");
	close_model(m);
}

/* DeepSeek-V3 in miniature: FP8 block scales on every matrix, one dense
 * layer, one MoE layer (4 experts + 1 shared), the MTP block as layer 2,
 * q_lora_rank null (V2-Lite style plain q_proj). */
static void add_ds_block(pj_model *m, int layer, bool moe)
{
	char name[160];
	static const struct { const char *suffix; int64_t ne[4]; } attn[] = {
		{ "input_layernorm.weight", { 64 } },
		{ "post_attention_layernorm.weight", { 64 } },
		{ "self_attn.q_proj.weight", { 64, 2 * 24 } },
		{ "self_attn.kv_a_proj_with_mqa.weight", { 64, 32 + 8 } },
		{ "self_attn.kv_a_layernorm.weight", { 32 } },
		{ "self_attn.kv_b_proj.weight", { 32, 2 * (16 + 16) } },
		{ "self_attn.o_proj.weight", { 2 * 16, 64 } },
	};
	for (size_t i = 0; i < sizeof attn / sizeof attn[0]; i++) {
		snprintf(name, sizeof name, "model.layers.%d.%s", layer, attn[i].suffix);
		add_tensor(m, name, attn[i].ne);
		if (attn[i].ne[1]) {
			snprintf(name, sizeof name, "model.layers.%d.%s_scale_inv", layer, attn[i].suffix);
			add_tensor(m, name, (int64_t[4]){ 1, 1 });
		}
	}
	if (!moe) {
		static const char *const p[] = { "gate_proj", "up_proj", "down_proj" };
		for (int i = 0; i < 3; i++) {
			snprintf(name, sizeof name, "model.layers.%d.mlp.%s.weight", layer, p[i]);
			add_tensor(m, name, i < 2 ? (int64_t[4]){ 64, 96 } : (int64_t[4]){ 96, 64 });
		}
		return;
	}
	for (int e = 0; e < 4; e++) {
		static const char *const p[] = { "gate_proj", "up_proj", "down_proj" };
		for (int i = 0; i < 3; i++) {
			snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.%s.weight", layer, e, p[i]);
			add_tensor(m, name, i < 2 ? (int64_t[4]){ 64, 32 } : (int64_t[4]){ 32, 64 });
			snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.%s.weight_scale_inv", layer, e, p[i]);
			add_tensor(m, name, (int64_t[4]){ 1, 1 });
		}
	}
	snprintf(name, sizeof name, "model.layers.%d.mlp.shared_experts.up_proj.weight", layer);
	add_tensor(m, name, (int64_t[4]){ 64, 32 });
	snprintf(name, sizeof name, "model.layers.%d.mlp.gate.weight", layer);
	add_tensor(m, name, (int64_t[4]){ 64, 4 });
	snprintf(name, sizeof name, "model.layers.%d.mlp.gate.e_score_correction_bias", layer);
	add_tensor(m, name, (int64_t[4]){ 4 });
}

static void test_tiny_deepseek(void)
{
	pj_model *m = new_model(PJ_FMT_HF,
	    "{\"architectures\": [\"DeepseekV3ForCausalLM\"], \"model_type\": \"deepseek_v3\","
	    " \"hidden_size\": 64, \"num_attention_heads\": 2, \"num_key_value_heads\": 2,"
	    " \"num_hidden_layers\": 2, \"first_k_dense_replace\": 1, \"n_routed_experts\": 4,"
	    " \"num_experts_per_tok\": 2, \"n_shared_experts\": 1, \"kv_lora_rank\": 32, \"q_lora_rank\": null,"
	    " \"qk_rope_head_dim\": 8, \"qk_nope_head_dim\": 16, \"v_head_dim\": 16,"
	    " \"num_nextn_predict_layers\": 1, \"moe_intermediate_size\": 32, \"vocab_size\": 100}");
	add_tensor(m, "model.embed_tokens.weight", (int64_t[4]){ 64, 100 });
	add_tensor(m, "lm_head.weight", (int64_t[4]){ 64, 100 });
	add_ds_block(m, 0, false);
	add_ds_block(m, 1, true);
	add_ds_block(m, 2, true);
	add_tensor(m, "model.layers.2.eh_proj.weight", (int64_t[4]){ 128, 64 });
	add_tensor(m, "model.layers.2.enorm.weight", (int64_t[4]){ 64 });
	add_tensor(m, "model.layers.2.shared_head.head.weight", (int64_t[4]){ 64, 100 });
	detect(m);
	const pj_arch *a = &m->arch;
	char b1[64], b2[160];

	is_int(a->traits, T(MOE) | T(MLA), "mini deepseek: traits %s", traits_str(a->traits, b2, sizeof b2));
	is_int(a->family, PJ_FAMILY_MOE, "mini deepseek: family moe");
	like(a->family_reason, "MoE: 4 routed experts, 2 active, 1 shared (precedence: moe > hybrid > mla",
	     "mini deepseek: family reason");
	is_int(a->n_layers, 2, "mini deepseek: 2 decoder layers");
	is_int(a->n_mtp_layers, 1, "mini deepseek: 1 MTP block");
	is_str(attn_str(a, PJ_COMP_TEXT, b1, sizeof b1), "MM", "mini deepseek: MLA layers");
	is_str(ffn_str(a, PJ_COMP_TEXT, b1, sizeof b1), "DE", "mini deepseek: dense then MoE");
	is_str(ffn_str(a, PJ_COMP_MTP, b1, sizeof b1), "E", "mini deepseek: MTP block is MoE");
	is_int(a->first_dense, 1, "mini deepseek: first dense layers");
	is_int(a->kv_bytes_per_token_f16, 2 * (32 + 8) * 2, "mini deepseek: latent KV (MTP not counted)");
	is_role(m, "model.layers.2.eh_proj.weight", PJ_ROLE_NEXTN_EH_PROJ, PJ_COMP_MTP, 0, -1, 0);
	is_role(m, "model.layers.2.mlp.experts.3.down_proj.weight", PJ_ROLE_EXP_DOWN, PJ_COMP_MTP, 0, 3, 0);
	is_role(m, "model.layers.1.self_attn.q_proj.weight", PJ_ROLE_ATTN_Q, PJ_COMP_TEXT, 1, -1, 0);
	is_role(m, "model.layers.1.self_attn.kv_b_proj.weight_scale_inv", PJ_ROLE_WEIGHT_SCALE, PJ_COMP_TEXT, 1, -1, 0);
	is_role(m, "model.layers.1.mlp.gate.e_score_correction_bias", PJ_ROLE_EXP_SCORE_BIAS, PJ_COMP_TEXT, 1, -1, 0);
	is_role(m, "model.layers.1.mlp.shared_experts.up_proj.weight", PJ_ROLE_SHEXP_UP, PJ_COMP_TEXT, 1, -1, 0);
	is_int(a->params_total, nelem_sum(m), "mini deepseek: FP8 scales are not parameters");
	uint64_t routed = 4 * 3 * 64 * 32;
	is_int(a->params_active, a->params_total - 2 * routed / 2, "mini deepseek: active = total - unpicked experts");
	is_int(a->params_by_comp[PJ_COMP_MTP], pj_arch_layer(a, PJ_COMP_MTP, 0)->params, "mini deepseek: MTP params");
	is_str(pj_arch_summary(a, b2, sizeof b2), "MoE 4x2+1 shared + MLA r=32", "mini deepseek: summary");
	is_int(a->q_lora_rank, 0, "mini deepseek: null q_lora_rank");
	is_int(a->head_dim, 24, "mini deepseek: MLA head dim = nope + rope");
	close_model(m);
}

/* gpt-oss as published: MXFP4 experts stored as U8 "_blocks" (two 4-bit
 * values per byte) with U8 "_scales", stacked [experts, rows, blocks, 16]. */
static void test_gpt_oss_mxfp4(void)
{
	pj_model *m = new_model(PJ_FMT_HF,
	    "{\"architectures\": [\"GptOssForCausalLM\"], \"model_type\": \"gpt_oss\", \"hidden_size\": 64,"
	    " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 16, \"num_hidden_layers\": 2,"
	    " \"num_local_experts\": 4, \"num_experts_per_tok\": 2, \"intermediate_size\": 32,"
	    " \"sliding_window\": 128, \"layer_types\": [\"sliding_attention\", \"full_attention\"]}");
	for (int l = 0; l < 2; l++) {
		char n[128];
		static const struct { const char *s; int64_t ne[4]; pj_dtype dt; } t[] = {
			{ "self_attn.q_proj.weight", { 64, 64 }, PJ_DT_BF16 },
			{ "self_attn.q_proj.bias", { 64 }, PJ_DT_BF16 },
			{ "self_attn.k_proj.weight", { 64, 32 }, PJ_DT_BF16 },
			{ "self_attn.v_proj.weight", { 64, 32 }, PJ_DT_BF16 },
			{ "self_attn.o_proj.weight", { 64, 64 }, PJ_DT_BF16 },
			{ "self_attn.sinks", { 4 }, PJ_DT_BF16 },
			{ "mlp.router.weight", { 64, 4 }, PJ_DT_BF16 },
			{ "mlp.router.bias", { 4 }, PJ_DT_BF16 },
			{ "mlp.experts.gate_up_proj_blocks", { 16, 2, 64, 4 }, PJ_DT_U8 },
			{ "mlp.experts.gate_up_proj_scales", { 2, 64, 4 }, PJ_DT_U8 },
			{ "mlp.experts.gate_up_proj_bias", { 64, 4 }, PJ_DT_BF16 },
			{ "mlp.experts.down_proj_blocks", { 16, 1, 64, 4 }, PJ_DT_U8 },
			{ "mlp.experts.down_proj_scales", { 1, 64, 4 }, PJ_DT_U8 },
			{ "mlp.experts.down_proj_bias", { 64, 4 }, PJ_DT_BF16 },
		};
		for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
			snprintf(n, sizeof n, "model.layers.%d.%s", l, t[i].s);
			add_tensor_dt(m, n, t[i].ne, t[i].dt);
		}
	}
	detect(m);
	const pj_arch *a = &m->arch;
	char b1[16];
	is_role(m, "model.layers.1.mlp.experts.gate_up_proj_blocks", PJ_ROLE_EXP_GATE_UP, PJ_COMP_TEXT, 1, -1, 4);
	is_role(m, "model.layers.1.mlp.experts.down_proj_scales", PJ_ROLE_WEIGHT_SCALE, PJ_COMP_TEXT, 1, -1, 0);
	is_role(m, "model.layers.1.mlp.experts.down_proj_bias", PJ_ROLE_EXP_BIAS, PJ_COMP_TEXT, 1, -1, 4);
	is_role(m, "model.layers.0.mlp.router.weight", PJ_ROLE_ROUTER, PJ_COMP_TEXT, 0, -1, 0);
	is_role(m, "model.layers.0.self_attn.sinks", PJ_ROLE_ATTN_SINKS, PJ_COMP_TEXT, 0, -1, 0);
	is_str(attn_str(a, PJ_COMP_TEXT, b1, sizeof b1), "LG", "gpt-oss mxfp4: sliding, full");
	uint64_t experts = 4 * 64 * 64 + 4 * 64 + 4 * 64 * 32 + 4 * 64; /* gate_up, bias, down, bias */
	uint64_t other = 64 * 64 * 2 + 64 + 64 * 32 * 2 + 4 + 64 * 4 + 4;
	is_int(a->params_total, 2 * (experts + other), "gpt-oss mxfp4: two parameters per block byte, scales excluded");
	is_int(a->params_active, 2 * (experts / 2 + other), "gpt-oss mxfp4: 2 of 4 experts active");
	is_int(a->expert_ff, 32, "gpt-oss mxfp4: expert FFN from intermediate_size, not the block layout");
	close_model(m);
}

/* The config and the file disagree: the tensors win, with a warning. */
static void test_config_vs_tensors(void)
{
	char b1[16];
	/* says MoE everywhere and multimodal, holds a dense text-only Llama */
	pj_model *m = new_model(PJ_FMT_HF,
	    "{\"model_type\": \"llama\", \"num_hidden_layers\": 3, \"hidden_size\": 64,"
	    " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"num_local_experts\": 8,"
	    " \"num_experts_per_tok\": 2, \"vision_config\": {\"num_hidden_layers\": 2}}");
	add_tensors(m, tiny_llama, sizeof tiny_llama / sizeof tiny_llama[0]);
	detect(m);
	is_int(m->arch.traits, T(DENSE) | T(GQA), "config vs tensors: no expert tensors, no vision tower -> dense");
	is_str(ffn_str(&m->arch, PJ_COMP_TEXT, b1, sizeof b1), "DD", "config vs tensors: FFN kinds from tensors");
	ok(has_warning(m, "config says 3 text blocks, the tensors hold 2"), "config vs tensors: layer count warning");
	ok(has_warning(m, "no vision tower"), "config vs tensors: vision_config without a tower");
	close_model(m);

	/* config says every layer is MoE; layer 0 of the file is dense */
	m = new_model(PJ_FMT_HF,
	    "{\"model_type\": \"deepseek_v3\", \"num_hidden_layers\": 2, \"hidden_size\": 64,"
	    " \"num_attention_heads\": 2, \"n_routed_experts\": 4, \"num_experts_per_tok\": 2,"
	    " \"first_k_dense_replace\": 0, \"kv_lora_rank\": 32, \"qk_rope_head_dim\": 8,"
	    " \"qk_nope_head_dim\": 16, \"v_head_dim\": 16}");
	add_ds_block(m, 0, false);
	add_ds_block(m, 1, true);
	detect(m);
	is_str(ffn_str(&m->arch, PJ_COMP_TEXT, b1, sizeof b1), "DE", "config vs tensors: dense layer confirmed by its tensors");
	is_int(m->arch.first_dense, 1, "config vs tensors: first dense layers counted from the file");
	is_int(m->arch.n_shared_experts, 1, "config vs tensors: a shared expert seen in the file counts");
	close_model(m);
}

/* ---- config-only schedules ---------------------------------------------- */

typedef struct cfg_case {
	const char *what, *json;
	unsigned traits;
	const char *attn, *ffn;
	const char *local_global;
	int window;
} cfg_case;

static const cfg_case cfg_cases[] = {
	{ "gemma2 rule: alternate from local",
	  "{\"model_type\":\"gemma2\",\"num_hidden_layers\":4,\"num_attention_heads\":8,\"num_key_value_heads\":4,"
	  "\"hidden_size\":256,\"sliding_window\":4096}",
	  T(DENSE) | T(GQA) | T(HYBRID), "LGLG", "DDDD", "1:1", 4096 },
	{ "mistral: one window for all layers is not hybrid",
	  "{\"model_type\":\"mistral\",\"num_hidden_layers\":3,\"num_attention_heads\":8,\"num_key_value_heads\":2,"
	  "\"hidden_size\":256,\"sliding_window\":4096}",
	  T(DENSE) | T(GQA), "LLL", "DDD", "", 4096 },
	{ "qwen2: use_sliding_window false wins over sliding_window",
	  "{\"model_type\":\"qwen2\",\"num_hidden_layers\":3,\"num_attention_heads\":8,\"hidden_size\":256,"
	  "\"sliding_window\":4096,\"use_sliding_window\":false,\"max_window_layers\":1}",
	  T(DENSE), "GGG", "DDD", "", 0 },
	{ "qwen2: use_sliding_window true: layers from max_window_layers slide",
	  "{\"model_type\":\"qwen2\",\"num_hidden_layers\":4,\"num_attention_heads\":8,\"hidden_size\":256,"
	  "\"sliding_window\":128,\"use_sliding_window\":true,\"max_window_layers\":2}",
	  T(DENSE) | T(HYBRID), "GGLL", "DDDD", "1:1", 128 },
	{ "gemma3 rule: pattern 6 without layer_types",
	  "{\"model_type\":\"gemma3_text\",\"num_hidden_layers\":8,\"num_attention_heads\":4,\"num_key_value_heads\":1,"
	  "\"hidden_size\":256,\"sliding_window\":512}",
	  T(DENSE) | T(MQA) | T(HYBRID), "LLLLLGLL", "DDDDDDDD", "5:1", 512 },
	{ "sliding_window_pattern key beats the rule",
	  "{\"model_type\":\"gemma3_text\",\"num_hidden_layers\":4,\"num_attention_heads\":4,"
	  "\"hidden_size\":256,\"sliding_window\":64,\"sliding_window_pattern\":2}",
	  T(DENSE) | T(HYBRID), "LGLG", "DDDD", "1:1", 64 },
	{ "qwen3-moe: decoder_sparse_step and mlp_only_layers",
	  "{\"model_type\":\"qwen3_moe\",\"num_hidden_layers\":4,\"num_attention_heads\":8,\"num_key_value_heads\":2,"
	  "\"hidden_size\":256,\"num_experts\":8,\"num_experts_per_tok\":2,\"decoder_sparse_step\":2,"
	  "\"mlp_only_layers\":[3]}",
	  T(MOE) | T(GQA), "GGGG", "DEDD", "", 0 },
	{ "wrong types everywhere do not crash or count",
	  "{\"model_type\":7,\"num_hidden_layers\":\"2\",\"layer_types\":{\"a\":1},\"num_experts\":[1],"
	  "\"sliding_window\":-5,\"text_config\":[],\"vision_config\":\"x\"}",
	  0, "", "", "", 0 },
	{ "hostile layer count is ignored",
	  "{\"model_type\":\"llama\",\"num_hidden_layers\":1e12,\"num_attention_heads\":4}",
	  0, "", "", "", 0 },
	{ "layer_types shorter than the stack: the rest from the rules",
	  "{\"model_type\":\"gpt_oss\",\"num_hidden_layers\":4,\"num_attention_heads\":8,\"num_key_value_heads\":8,"
	  "\"hidden_size\":256,\"sliding_window\":128,\"layer_types\":[\"full_attention\",\"full_attention\"],"
	  "\"num_local_experts\":4,\"experts_per_token\":2}",
	  T(MOE) | T(HYBRID), "GGLG", "EEEE", "", 128 },
};

static void test_config_cases(void)
{
	for (size_t i = 0; i < sizeof cfg_cases / sizeof cfg_cases[0]; i++) {
		const cfg_case *c = &cfg_cases[i];
		cJSON *j = cJSON_Parse(c->json);
		pj_arch a;
		pj_error err = { 0 };
		char b1[64], b2[64], tr[128];
		ok(j && pj_arch_detect_config(&a, j, &err) == PJ_OK, "%s: detected", c->what);
		is_int(a.traits, c->traits, "%s: traits %s", c->what, traits_str(a.traits, tr, sizeof tr));
		is_str(attn_str(&a, PJ_COMP_TEXT, b1, sizeof b1), c->attn, "%s: attention", c->what);
		is_str(ffn_str(&a, PJ_COMP_TEXT, b2, sizeof b2), c->ffn, "%s: ffn", c->what);
		if (c->local_global[0])
			is_str(a.local_global, c->local_global, "%s: local:global", c->what);
		is_int(a.sliding_window, c->window, "%s: window", c->what);
		pj_arch_free(&a);
		cJSON_Delete(j);
	}
}

/* ---- hand-built GGUF metadata ------------------------------------------- */

typedef struct gkv {
	const char *key;
	int64_t v;          /* UINT32 unless s / arr */
	const char *s;
	const uint8_t *arr; /* BOOL array */
	int arr_n;
} gkv;

static void fake_gguf(pj_gguf *g, const gkv *kvs, size_t n)
{
	memset(g, 0, sizeof *g);
	g->kv = pj_xcalloc(n, sizeof *g->kv);
	g->n_kv = n;
	for (size_t i = 0; i < n; i++) {
		pj_gguf_kv *kv = &g->kv[i];
		kv->key = (char *)kvs[i].key;
		if (kvs[i].s) {
			kv->type = PJ_GGUF_STRING;
			kv->str = kvs[i].s;
			kv->str_len = strlen(kvs[i].s);
		} else if (kvs[i].arr) {
			kv->type = PJ_GGUF_ARRAY;
			kv->arr_type = PJ_GGUF_BOOL;
			kv->arr_n = (uint64_t)kvs[i].arr_n;
			kv->arr_data = kvs[i].arr;
		} else {
			kv->type = PJ_GGUF_UINT32;
			kv->v.u = (uint64_t)kvs[i].v;
		}
	}
}

static void test_gguf_by_hand(void)
{
	char b1[64], b2[160];
	pj_gguf g;

	/* gpt-oss: alternating sliding (window from the file) + stacked experts with biases */
	static const gkv oss[] = {
		{ "general.architecture", 0, "gpt-oss", NULL, 0 },
		{ "gpt-oss.block_count", 2, NULL, NULL, 0 },
		{ "gpt-oss.attention.head_count", 8, NULL, NULL, 0 },
		{ "gpt-oss.attention.head_count_kv", 2, NULL, NULL, 0 },
		{ "gpt-oss.attention.key_length", 16, NULL, NULL, 0 },
		{ "gpt-oss.attention.value_length", 16, NULL, NULL, 0 },
		{ "gpt-oss.attention.sliding_window", 128, NULL, NULL, 0 },
		{ "gpt-oss.embedding_length", 64, NULL, NULL, 0 },
		{ "gpt-oss.expert_count", 4, NULL, NULL, 0 },
		{ "gpt-oss.expert_used_count", 2, NULL, NULL, 0 },
	};
	fake_gguf(&g, oss, sizeof oss / sizeof oss[0]);
	pj_model *m = new_model(PJ_FMT_GGUF, NULL);
	m->gguf = &g;
	for (int l = 0; l < 2; l++) {
		char n[64];
		static const struct { const char *s; int64_t ne[4]; } t[] = {
			{ "attn_q.weight", { 64, 128 } }, { "attn_k.weight", { 64, 32 } },
			{ "attn_v.weight", { 64, 32 } }, { "attn_output.weight", { 128, 64 } },
			{ "attn_sinks.weight", { 8 } }, { "attn_norm.weight", { 64 } },
			{ "ffn_gate_inp.weight", { 64, 4 } }, { "ffn_gate_exps.weight", { 64, 32, 4 } },
			{ "ffn_up_exps.weight", { 64, 32, 4 } }, { "ffn_down_exps.weight", { 32, 64, 4 } },
			{ "ffn_gate_exps.bias", { 32, 4 } }, { "post_attention_norm.weight", { 64 } },
		};
		for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
			snprintf(n, sizeof n, "blk.%d.%s", l, t[i].s);
			add_tensor(m, n, t[i].ne);
		}
	}
	add_tensor(m, "token_embd.weight", (int64_t[4]){ 64, 100 });
	detect(m);
	const pj_arch *a = &m->arch;
	is_int(a->traits, T(MOE) | T(GQA) | T(HYBRID), "gguf gpt-oss: traits %s", traits_str(a->traits, b2, sizeof b2));
	is_str(attn_str(a, PJ_COMP_TEXT, b1, sizeof b1), "LG", "gguf gpt-oss: sliding, full (rule pattern 2)");
	is_int(a->layers[0].window, 128, "gguf gpt-oss: window from metadata");
	is_role(m, "blk.1.ffn_down_exps.weight", PJ_ROLE_EXP_DOWN, PJ_COMP_TEXT, 1, -1, 4);
	is_role(m, "blk.1.ffn_gate_exps.bias", PJ_ROLE_EXP_BIAS, PJ_COMP_TEXT, 1, -1, 4);
	is_role(m, "blk.0.attn_sinks.weight", PJ_ROLE_ATTN_SINKS, PJ_COMP_TEXT, 0, -1, 0);
	is_role(m, "blk.0.post_attention_norm.weight", PJ_ROLE_ATTN_POST_NORM, PJ_COMP_TEXT, 0, -1, 0);
	is_int(a->vocab, 100, "gguf gpt-oss: vocab from token_embd");
	is_int(a->expert_ff, 32, "gguf gpt-oss: expert FFN from shapes");
	is_str(pj_arch_summary(a, b2, sizeof b2), "MoE 4x2 + hybrid 1:1 local(128)/global + GQA 8/2",
	       "gguf gpt-oss: summary");
	close_model(m);
	free(g.kv);

	/* per-layer sliding flags as a bool array; MQA */
	static const uint8_t flags[3] = { 1, 0, 1 };
	static const gkv swa[] = {
		{ "general.architecture", 0, "cohere2", NULL, 0 },
		{ "cohere2.block_count", 3, NULL, NULL, 0 },
		{ "cohere2.attention.head_count", 4, NULL, NULL, 0 },
		{ "cohere2.attention.head_count_kv", 1, NULL, NULL, 0 },
		{ "cohere2.embedding_length", 64, NULL, NULL, 0 },
		{ "cohere2.attention.sliding_window", 256, NULL, NULL, 0 },
		{ "cohere2.attention.sliding_window_pattern", 0, NULL, flags, 3 },
	};
	fake_gguf(&g, swa, sizeof swa / sizeof swa[0]);
	m = new_model(PJ_FMT_GGUF, NULL);
	m->gguf = &g;
	detect(m);
	is_str(attn_str(&m->arch, PJ_COMP_TEXT, b1, sizeof b1), "LGL", "gguf metadata only: per-layer sliding flags");
	is_int(m->arch.traits, T(DENSE) | T(MQA) | T(HYBRID), "gguf metadata only: traits %s",
	       traits_str(m->arch.traits, b2, sizeof b2));
	is_int(m->arch.kv_bytes_per_token_f16, 3 * 2 * 16 * 2, "gguf metadata only: KV from heads");
	close_model(m);
	free(g.kv);

	/* T5: enc.blk / dec.blk, cross-attention; clip mmproj: v.blk / mm */
	static const gkv t5[] = {
		{ "general.architecture", 0, "t5", NULL, 0 },
		{ "t5.block_count", 1, NULL, NULL, 0 },
		{ "t5.attention.head_count", 4, NULL, NULL, 0 },
		{ "t5.attention.key_length", 16, NULL, NULL, 0 },
		{ "t5.attention.value_length", 16, NULL, NULL, 0 },
		{ "t5.embedding_length", 64, NULL, NULL, 0 },
	};
	static const tdef t5t[] = {
		{ "token_embd.weight", { 64, 100 } },
		{ "enc.blk.0.attn_q.weight", { 64, 64 } }, { "enc.blk.0.attn_k.weight", { 64, 64 } },
		{ "enc.blk.0.attn_v.weight", { 64, 64 } }, { "enc.blk.0.attn_o.weight", { 64, 64 } },
		{ "enc.blk.0.attn_rel_b.weight", { 4, 32 } }, { "enc.blk.0.ffn_up.weight", { 64, 128 } },
		{ "enc.output_norm.weight", { 64 } },
		{ "dec.blk.0.attn_q.weight", { 64, 64 } }, { "dec.blk.0.attn_k.weight", { 64, 64 } },
		{ "dec.blk.0.attn_v.weight", { 64, 64 } }, { "dec.blk.0.cross_attn_q.weight", { 64, 64 } },
		{ "dec.blk.0.cross_attn_o.weight", { 64, 64 } }, { "dec.blk.0.ffn_down.weight", { 128, 64 } },
		{ "v.blk.0.attn_q.weight", { 32, 32 } }, { "v.blk.0.ffn_up.weight", { 32, 64 } },
		{ "v.patch_embd.weight", { 14, 14, 3, 32 } }, { "mm.0.weight", { 32, 64 } },
	};
	fake_gguf(&g, t5, sizeof t5 / sizeof t5[0]);
	m = new_model(PJ_FMT_GGUF, NULL);
	m->gguf = &g;
	add_tensors(m, t5t, sizeof t5t / sizeof t5t[0]);
	detect(m);
	a = &m->arch;
	is_int(a->traits, T(DENSE) | T(ENCDEC) | T(MULTIMODAL), "gguf t5+vision: traits %s",
	       traits_str(a->traits, b2, sizeof b2));
	is_int(a->family, PJ_FAMILY_MULTIMODAL, "gguf t5+vision: multimodal beats enc-dec");
	ok(a->encoder_layers == 1 && a->decoder_layers == 1 && a->vision_layers == 1 && a->has_projector,
	   "gguf t5+vision: 1 encoder, 1 decoder, 1 vision block, projector");
	ok(pj_arch_layer(a, PJ_COMP_DECODER, 0)->cross_attn && !pj_arch_layer(a, PJ_COMP_ENCODER, 0)->cross_attn,
	   "gguf t5: decoder has cross-attention");
	is_int(a->kv_bytes_per_token_f16, (64 + 64) * 2, "gguf t5: only the decoder self-attention caches");
	is_int(a->vision_hidden, 32, "gguf clip: vision width from patch embedding");
	is_role(m, "enc.blk.0.attn_rel_b.weight", PJ_ROLE_ATTN_REL_BIAS, PJ_COMP_ENCODER, 0, -1, 0);
	is_role(m, "dec.blk.0.cross_attn_o.weight", PJ_ROLE_CROSS_OUTPUT, PJ_COMP_DECODER, 0, -1, 0);
	is_role(m, "enc.output_norm.weight", PJ_ROLE_OUTPUT_NORM, PJ_COMP_ENCODER, -1, -1, 0);
	is_role(m, "v.blk.0.attn_q.weight", PJ_ROLE_V_ATTN, PJ_COMP_VISION, 0, -1, 0);
	is_role(m, "v.patch_embd.weight", PJ_ROLE_V_PATCH_EMBD, PJ_COMP_VISION, -1, -1, 0);
	is_role(m, "mm.0.weight", PJ_ROLE_MM_PROJ, PJ_COMP_PROJECTOR, -1, -1, 0);
	close_model(m);
	free(g.kv);
}

/* ---- real configs, config only ------------------------------------------ */

typedef struct real_cfg {
	const char *file;
	unsigned traits;
	pj_family family;
	const char *summary;
	int n_layers, n_local, n_global, n_linear, window;
	const char *local_global;
	uint64_t kv;
	int vision_layers;
} real_cfg;

static const real_cfg real_cfgs[] = {
	{ "deepseek-v3.json", T(MOE) | T(MLA), PJ_FAMILY_MOE, "MoE 256x8+1 shared + MLA r=512",
	  61, 0, 61, 0, 0, "", 61 * (512 + 64) * 2, 0 },
	{ "gemma-3-27b-it.json", T(DENSE) | T(GQA) | T(HYBRID) | T(MULTIMODAL), PJ_FAMILY_HYBRID,
	  "hybrid 5:1 local(1024)/global + GQA 32/16 + vision", 62, 52, 10, 0, 1024, "5:1", 62 * 16 * 256 * 2, 27 },
	{ "gemma-3-1b-it.json", T(DENSE) | T(MQA) | T(HYBRID), PJ_FAMILY_HYBRID,
	  "hybrid 5:1 local(512)/global + MQA 4/1", 26, 22, 4, 0, 512, "5:1", 26 * 512 * 2, 0 },
	{ "gpt-oss-20b.json", T(MOE) | T(GQA) | T(HYBRID), PJ_FAMILY_MOE,
	  "MoE 32x4 + hybrid 1:1 local(128)/global + GQA 64/8", 24, 12, 12, 0, 128, "1:1", 24 * 8 * 128 * 2, 0 },
	{ "qwen3-30b-a3b.json", T(MOE) | T(GQA), PJ_FAMILY_MOE, "MoE 128x8 + GQA 32/4",
	  48, 0, 48, 0, 0, "", 48 * 4 * 256 * 2, 0 },
	{ "qwen3-235b-a22b.json", T(MOE) | T(GQA), PJ_FAMILY_MOE, "MoE 128x8 + GQA 64/4",
	  94, 0, 94, 0, 0, "", 94 * 4 * 256 * 2, 0 },
	{ "mixtral-8x7b-v0.1.json", T(MOE) | T(GQA), PJ_FAMILY_MOE, "MoE 8x2 + GQA 32/8",
	  32, 0, 32, 0, 0, "", 32 * 8 * 256 * 2, 0 },
	{ "llama-3.1-8b-instruct.json", T(DENSE) | T(GQA), PJ_FAMILY_DENSE, "dense GQA 32/8",
	  32, 0, 32, 0, 0, "", 131072, 0 },
	{ "qwen3-8b.json", T(DENSE) | T(GQA), PJ_FAMILY_DENSE, "dense GQA 32/8",
	  36, 0, 36, 0, 0, "", 36 * 8 * 256 * 2, 0 },
	{ "qwen2.5-vl-7b-instruct.json", T(DENSE) | T(GQA) | T(MULTIMODAL), PJ_FAMILY_MULTIMODAL,
	  "multimodal(qwen2_5_vl_vision) + GQA 28/4", 28, 0, 28, 0, 0, "", 28 * 4 * 256 * 2, 32 },
	{ "flan-t5-base.json", T(DENSE) | T(ENCDEC), PJ_FAMILY_ENCDEC, "enc-dec 12+12",
	  12, 0, 12, 0, 0, "", 12 * 12 * 128 * 2, 0 },
	{ "qwen3.5-9b.json", T(DENSE) | T(GQA) | T(HYBRID) | T(LINEAR) | T(MULTIMODAL), PJ_FAMILY_HYBRID,
	  "hybrid 3:1 linear/full + GQA 16/4 + vision", 32, 0, 8, 24, 0, "3:1", 8 * 4 * 512 * 2, 27 },
};

static void test_real_configs(const char *shared)
{
	for (size_t i = 0; i < sizeof real_cfgs / sizeof real_cfgs[0]; i++) {
		const real_cfg *r = &real_cfgs[i];
		char path[4200], buf[256], tr[160];
		snprintf(path, sizeof path, "%s/data/configs/%s", shared, r->file);
		FILE *f = fopen(path, "rb");
		if (!f) {
			skip(path);
			continue;
		}
		static char text[1 << 16];
		size_t n = fread(text, 1, sizeof text - 1, f);
		fclose(f);
		text[n] = '\0';
		cJSON *j = cJSON_Parse(text);
		pj_arch a;
		pj_error err = { 0 };
		ok(j && pj_arch_detect_config(&a, j, &err) == PJ_OK, "%s: config-only detection", r->file);
		is_int(a.traits, r->traits, "%s: traits %s", r->file, traits_str(a.traits, tr, sizeof tr));
		is_int(a.family, r->family, "%s: family %s", r->file, pj_family_name(a.family));
		is_str(pj_arch_summary(&a, buf, sizeof buf), r->summary, "%s: summary", r->file);
		ok(a.n_layers == r->n_layers && a.n_local_layers == r->n_local && a.n_global_layers == r->n_global &&
		   a.n_linear_layers == r->n_linear && a.sliding_window == r->window,
		   "%s: %d layers = %d local + %d global + %d linear, window %d", r->file,
		   a.n_layers, a.n_local_layers, a.n_global_layers, a.n_linear_layers, a.sliding_window);
		if (r->local_global[0])
			is_str(a.local_global, r->local_global, "%s: local:global", r->file);
		is_int(a.kv_bytes_per_token_f16, r->kv, "%s: KV bytes per token at F16", r->file);
		is_int(a.vision_layers, r->vision_layers, "%s: vision blocks", r->file);
		pj_arch_free(&a);
		cJSON_Delete(j);
	}
}

static void test_real_config_details(const char *shared)
{
	char path[4200], buf[64];
	static char text[1 << 16];
	pj_arch a;
	pj_error err = { 0 };

	snprintf(path, sizeof path, "%s/data/configs/deepseek-v3.json", shared);
	FILE *f = fopen(path, "rb");
	if (!f) {
		skip("deepseek-v3.json");
		return;
	}
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	cJSON *j = cJSON_Parse(text);
	pj_arch_detect_config(&a, j, &err);
	ok(a.first_dense == 3 && a.n_moe_layers == 58 && a.n_mtp_layers == 1,
	   "deepseek-v3: 3 dense layers, 58 MoE layers, 1 MTP block (%d/%d/%d)", a.first_dense, a.n_moe_layers,
	   a.n_mtp_layers);
	ok(a.q_lora_rank == 1536 && a.qk_rope_head_dim == 64 && a.qk_nope_head_dim == 128 && a.v_head_dim == 128,
	   "deepseek-v3: MLA ranks and head dims");
	is_str(ffn_str(&a, PJ_COMP_TEXT, buf, 6), "DDDEE", "deepseek-v3: first_k_dense_replace");
	is_str(ffn_str(&a, PJ_COMP_MTP, buf, sizeof buf), "E", "deepseek-v3: the MTP block (layer 61) is MoE");
	is_int(pj_arch_layer(&a, PJ_COMP_MTP, 0)->kv_bytes_per_token_f16, 0, "deepseek-v3: MTP block not in the KV cache");
	pj_arch_free(&a);
	cJSON_Delete(j);

	snprintf(path, sizeof path, "%s/data/configs/flan-t5-base.json", shared);
	f = fopen(path, "rb");
	if (!f)
		return;
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	j = cJSON_Parse(text);
	pj_arch_detect_config(&a, j, &err);
	ok(a.hidden == 768 && a.n_heads == 12 && a.head_dim == 64 && a.encoder_layers == 12 && a.decoder_layers == 12,
	   "flan-t5: d_model, num_heads, d_kv, num_layers, num_decoder_layers");
	ok(a.ffn_gated && strcmp(a.activation, "gelu_new") == 0, "flan-t5: feed_forward_proj gated-gelu -> gated, gelu_new");
	ok(pj_arch_layer(&a, PJ_COMP_DECODER, 11)->cross_attn && !pj_arch_layer(&a, PJ_COMP_ENCODER, 0)->cross_attn,
	   "flan-t5: decoder blocks cross-attend");
	pj_arch_free(&a);
	cJSON_Delete(j);
}

/* ---- shared checkpoints -------------------------------------------------- */

typedef struct model_case {
	const char *dir;
	bool gguf;              /* also gguf/<dir>-BF16.gguf */
	unsigned traits;
	pj_family family;
	const char *attn, *ffn; /* text / decoder blocks */
	int n_layers, n_heads, n_kv, head_dim, hidden, vocab;
	int experts, active, shared, first_dense;
	int window;
	uint64_t params, active_params, kv;
	const char *summary;
} model_case;

static const model_case models[] = {
	{ "llama", true, T(DENSE) | T(GQA), PJ_FAMILY_DENSE, "GGGG", "DDDD", 4, 4, 2, 64, 256, 1024,
	  0, 0, 0, 0, 0, 3672320, 3672320, 4 * 2 * 128 * 2, "dense GQA 4/2" },
	{ "qwen3", true, T(DENSE) | T(GQA), PJ_FAMILY_DENSE, "GGGG", "DDDD", 4, 4, 2, 64, 256, 1024,
	  0, 0, 0, 0, 0, 3410688, 3410688, 4 * 2 * 128 * 2, "dense GQA 4/2" },
	/* 8 experts, 2 active: 3 layers x 3 x 8 x 256x256 routed, 3/4 of them idle */
	{ "qwen3moe", true, T(MOE) | T(GQA), PJ_FAMILY_MOE, "GGG", "EEE", 3, 4, 2, 64, 256, 1024,
	  8, 2, 0, 0, 0, 5841024, 5841024 - 4718592 / 4 * 3, 3 * 2 * 128 * 2, "MoE 8x2 + GQA 4/2" },
	{ "gemma3", true, T(DENSE) | T(MQA) | T(HYBRID), PJ_FAMILY_HYBRID, "LLLLLG", "DDDDDD", 6, 4, 1, 64, 256, 1024,
	  0, 0, 0, 0, 32, 4791296, 4791296, 6 * 1 * 128 * 2, "hybrid 5:1 local(32)/global + MQA 4/1" },
	/* MLA latent 128 + rope 32 per layer */
	{ "deepseek3", true, T(MOE) | T(MLA), PJ_FAMILY_MOE, "MMM", "DEE", 3, 4, 4, 64, 256, 1024,
	  8, 2, 1, 1, 0, 5323280, 5323280 - 3145728 / 4 * 3, 3 * (128 + 32) * 2, "MoE 8x2+1 shared + MLA r=128" },
	{ "random-mixtral", false, T(MOE) | T(GQA), PJ_FAMILY_MOE, "GG", "EE", 2, 4, 2, 64, 256, 1024,
	  4, 2, 0, 0, 0, 4066560, 4066560 - 3145728 / 2, 2 * 2 * 128 * 2, "MoE 4x2 + GQA 4/2" },
	{ "random-llava", false, T(DENSE) | T(GQA) | T(MULTIMODAL), PJ_FAMILY_MULTIMODAL, "GG", "DD",
	  2, 4, 2, 64, 256, 1024, 0, 0, 0, 0, 0, 2147072, 2147072, 2 * 2 * 128 * 2,
	  "multimodal(clip_vision_model) + GQA 4/2" },
	/* only 2 text layers, both sliding: not hybrid, but local */
	{ "random-gemma3mm", false, T(DENSE) | T(GQA) | T(MULTIMODAL), PJ_FAMILY_MULTIMODAL, "LL", "DD",
	  2, 4, 2, 64, 256, 1024, 0, 0, 0, 0, 32, 1952256, 1952256, 2 * 2 * 128 * 2,
	  "multimodal(siglip_vision_model) + sliding(32) + GQA 4/2" },
	{ "random-qwen2vl", false, T(DENSE) | T(GQA) | T(MULTIMODAL), PJ_FAMILY_MULTIMODAL, "GG", "DD",
	  2, 4, 2, 64, 256, 1024, 0, 0, 0, 0, 0, 2515968, 2515968, 2 * 2 * 128 * 2,
	  "multimodal(qwen2_vl_vision) + GQA 4/2" },
	{ "random-t5", false, T(DENSE) | T(ENCDEC), PJ_FAMILY_ENCDEC, "GG", "DD", 2, 4, 4, 64, 256, 1024,
	  0, 0, 0, 0, 0, 3411200, 3411200, 2 * 256 * 2 * 2, "enc-dec 2+2" },
};

typedef struct role_case {
	const char *dir;        /* model folder; "*.gguf" suffix: the GGUF file */
	const char *tensor;
	pj_role role;
	int comp, layer, expert, n_experts;
} role_case;

static const role_case roles[] = {
	{ "llama", "model.layers.3.self_attn.v_proj.weight", PJ_ROLE_ATTN_V, PJ_COMP_TEXT, 3, -1, 0 },
	{ "llama.gguf", "blk.3.attn_v.weight", PJ_ROLE_ATTN_V, PJ_COMP_TEXT, 3, -1, 0 },
	{ "llama.gguf", "output.weight", PJ_ROLE_OUTPUT, PJ_COMP_TEXT, -1, -1, 0 },
	{ "qwen3", "model.layers.0.self_attn.q_norm.weight", PJ_ROLE_ATTN_Q_NORM, PJ_COMP_TEXT, 0, -1, 0 },
	{ "qwen3.gguf", "blk.0.attn_k_norm.weight", PJ_ROLE_ATTN_K_NORM, PJ_COMP_TEXT, 0, -1, 0 },
	{ "qwen3moe", "model.layers.2.mlp.experts.7.down_proj.weight", PJ_ROLE_EXP_DOWN, PJ_COMP_TEXT, 2, 7, 0 },
	{ "qwen3moe", "model.layers.0.mlp.experts.0.gate_proj.weight", PJ_ROLE_EXP_GATE, PJ_COMP_TEXT, 0, 0, 0 },
	{ "qwen3moe", "model.layers.1.mlp.gate.weight", PJ_ROLE_ROUTER, PJ_COMP_TEXT, 1, -1, 0 },
	{ "qwen3moe.gguf", "blk.2.ffn_down_exps.weight", PJ_ROLE_EXP_DOWN, PJ_COMP_TEXT, 2, -1, 8 },
	{ "qwen3moe.gguf", "blk.0.ffn_up_exps.weight", PJ_ROLE_EXP_UP, PJ_COMP_TEXT, 0, -1, 8 },
	{ "qwen3moe.gguf", "blk.1.ffn_gate_inp.weight", PJ_ROLE_ROUTER, PJ_COMP_TEXT, 1, -1, 0 },
	{ "gemma3", "model.layers.5.post_attention_layernorm.weight", PJ_ROLE_ATTN_POST_NORM, PJ_COMP_TEXT, 5, -1, 0 },
	{ "gemma3", "model.layers.5.pre_feedforward_layernorm.weight", PJ_ROLE_FFN_NORM, PJ_COMP_TEXT, 5, -1, 0 },
	{ "gemma3", "model.layers.5.post_feedforward_layernorm.weight", PJ_ROLE_FFN_POST_NORM, PJ_COMP_TEXT, 5, -1, 0 },
	{ "gemma3.gguf", "blk.5.post_attention_norm.weight", PJ_ROLE_ATTN_POST_NORM, PJ_COMP_TEXT, 5, -1, 0 },
	{ "gemma3.gguf", "blk.5.post_ffw_norm.weight", PJ_ROLE_FFN_POST_NORM, PJ_COMP_TEXT, 5, -1, 0 },
	{ "deepseek3", "model.layers.0.self_attn.q_a_proj.weight", PJ_ROLE_MLA_Q_A, PJ_COMP_TEXT, 0, -1, 0 },
	{ "deepseek3", "model.layers.0.self_attn.q_a_layernorm.weight", PJ_ROLE_MLA_Q_A_NORM, PJ_COMP_TEXT, 0, -1, 0 },
	{ "deepseek3", "model.layers.1.self_attn.kv_a_proj_with_mqa.weight", PJ_ROLE_MLA_KV_A, PJ_COMP_TEXT, 1, -1, 0 },
	{ "deepseek3", "model.layers.1.self_attn.kv_b_proj.weight", PJ_ROLE_MLA_KV_B, PJ_COMP_TEXT, 1, -1, 0 },
	{ "deepseek3", "model.layers.2.mlp.shared_experts.down_proj.weight", PJ_ROLE_SHEXP_DOWN, PJ_COMP_TEXT, 2, -1, 0 },
	{ "deepseek3", "model.layers.2.mlp.gate.e_score_correction_bias", PJ_ROLE_EXP_SCORE_BIAS, PJ_COMP_TEXT, 2, -1, 0 },
	{ "deepseek3", "model.layers.0.mlp.down_proj.weight", PJ_ROLE_FFN_DOWN, PJ_COMP_TEXT, 0, -1, 0 },
	{ "deepseek3.gguf", "blk.1.attn_k_b.weight", PJ_ROLE_MLA_K_B, PJ_COMP_TEXT, 1, -1, 0 },
	{ "deepseek3.gguf", "blk.1.attn_v_b.weight", PJ_ROLE_MLA_V_B, PJ_COMP_TEXT, 1, -1, 0 },
	{ "deepseek3.gguf", "blk.2.attn_kv_a_mqa.weight", PJ_ROLE_MLA_KV_A, PJ_COMP_TEXT, 2, -1, 0 },
	{ "deepseek3.gguf", "blk.2.exp_probs_b.bias", PJ_ROLE_EXP_SCORE_BIAS, PJ_COMP_TEXT, 2, -1, 0 },
	{ "deepseek3.gguf", "blk.2.ffn_gate_shexp.weight", PJ_ROLE_SHEXP_GATE, PJ_COMP_TEXT, 2, -1, 0 },
	{ "deepseek3.gguf", "blk.1.ffn_gate_exps.weight", PJ_ROLE_EXP_GATE, PJ_COMP_TEXT, 1, -1, 8 },
	{ "random-mixtral", "model.layers.1.block_sparse_moe.experts.3.w2.weight", PJ_ROLE_EXP_DOWN, PJ_COMP_TEXT, 1, 3, 0 },
	{ "random-mixtral", "model.layers.1.block_sparse_moe.experts.0.w3.weight", PJ_ROLE_EXP_UP, PJ_COMP_TEXT, 1, 0, 0 },
	{ "random-mixtral", "model.layers.0.block_sparse_moe.gate.weight", PJ_ROLE_ROUTER, PJ_COMP_TEXT, 0, -1, 0 },
	{ "random-llava", "vision_tower.embeddings.patch_embedding.weight", PJ_ROLE_V_PATCH_EMBD, PJ_COMP_VISION, -1, -1, 0 },
	{ "random-llava", "vision_tower.embeddings.class_embedding", PJ_ROLE_V_POS_EMBD, PJ_COMP_VISION, -1, -1, 0 },
	{ "random-llava", "vision_tower.encoder.layers.1.self_attn.q_proj.weight", PJ_ROLE_V_ATTN, PJ_COMP_VISION, 1, -1, 0 },
	{ "random-llava", "vision_tower.encoder.layers.1.mlp.fc2.weight", PJ_ROLE_V_FFN, PJ_COMP_VISION, 1, -1, 0 },
	{ "random-llava", "vision_tower.pre_layrnorm.weight", PJ_ROLE_V_NORM, PJ_COMP_VISION, -1, -1, 0 },
	{ "random-llava", "multi_modal_projector.linear_2.weight", PJ_ROLE_MM_PROJ, PJ_COMP_PROJECTOR, -1, -1, 0 },
	{ "random-llava", "language_model.lm_head.weight", PJ_ROLE_OUTPUT, PJ_COMP_TEXT, -1, -1, 0 },
	{ "random-llava", "language_model.model.layers.1.self_attn.o_proj.weight", PJ_ROLE_ATTN_OUTPUT, PJ_COMP_TEXT, 1, -1, 0 },
	{ "random-gemma3mm", "multi_modal_projector.mm_input_projection_weight", PJ_ROLE_MM_PROJ, PJ_COMP_PROJECTOR, -1, -1, 0 },
	{ "random-gemma3mm", "multi_modal_projector.mm_soft_emb_norm.weight", PJ_ROLE_MM_NORM, PJ_COMP_PROJECTOR, -1, -1, 0 },
	{ "random-gemma3mm", "vision_tower.head.probe", PJ_ROLE_V_HEAD, PJ_COMP_VISION, -1, -1, 0 },
	{ "random-gemma3mm", "language_model.model.layers.1.post_attention_layernorm.weight", PJ_ROLE_ATTN_POST_NORM, PJ_COMP_TEXT, 1, -1, 0 },
	{ "random-qwen2vl", "visual.patch_embed.proj.weight", PJ_ROLE_V_PATCH_EMBD, PJ_COMP_VISION, -1, -1, 0 },
	{ "random-qwen2vl", "visual.blocks.1.attn.qkv.weight", PJ_ROLE_V_ATTN, PJ_COMP_VISION, 1, -1, 0 },
	{ "random-qwen2vl", "visual.blocks.0.norm2.weight", PJ_ROLE_V_NORM, PJ_COMP_VISION, 0, -1, 0 },
	{ "random-qwen2vl", "visual.merger.mlp.2.weight", PJ_ROLE_MM_PROJ, PJ_COMP_PROJECTOR, -1, -1, 0 },
	{ "random-qwen2vl", "visual.merger.ln_q.weight", PJ_ROLE_MM_NORM, PJ_COMP_PROJECTOR, -1, -1, 0 },
	{ "random-qwen2vl", "model.layers.1.self_attn.q_proj.bias", PJ_ROLE_BIAS, PJ_COMP_TEXT, 1, -1, 0 },
	{ "random-t5", "shared.weight", PJ_ROLE_TOKEN_EMBD, PJ_COMP_TEXT, -1, -1, 0 },
	{ "random-t5", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", PJ_ROLE_ATTN_REL_BIAS, PJ_COMP_ENCODER, 0, -1, 0 },
	{ "random-t5", "encoder.block.1.layer.1.DenseReluDense.wi_0.weight", PJ_ROLE_FFN_GATE, PJ_COMP_ENCODER, 1, -1, 0 },
	{ "random-t5", "encoder.block.1.layer.1.layer_norm.weight", PJ_ROLE_FFN_NORM, PJ_COMP_ENCODER, 1, -1, 0 },
	{ "random-t5", "decoder.block.1.layer.1.layer_norm.weight", PJ_ROLE_CROSS_NORM, PJ_COMP_DECODER, 1, -1, 0 },
	{ "random-t5", "decoder.block.1.layer.1.EncDecAttention.k.weight", PJ_ROLE_CROSS_K, PJ_COMP_DECODER, 1, -1, 0 },
	{ "random-t5", "decoder.block.0.layer.2.DenseReluDense.wo.weight", PJ_ROLE_FFN_DOWN, PJ_COMP_DECODER, 0, -1, 0 },
	{ "random-t5", "decoder.final_layer_norm.weight", PJ_ROLE_OUTPUT_NORM, PJ_COMP_DECODER, -1, -1, 0 },
};

static pj_model *open_model(const char *shared, const char *dir, bool gguf)
{
	char path[4200];
	if (gguf)
		snprintf(path, sizeof path, "%s/models/%s/gguf/%s-BF16.gguf", shared, dir, dir);
	else
		snprintf(path, sizeof path, "%s/models/%s", shared, dir);
	pj_model *m = NULL;
	pj_error err = { 0 };
	if (pj_model_open(path, &m, &err) != PJ_OK) {
		ok(0, "open %s: %s", path, err.msg);
		return NULL;
	}
	return m;
}

static void check_model(const model_case *c, const pj_model *m, const char *what)
{
	const pj_arch *a = &m->arch;
	int main_comp = c->traits & T(ENCDEC) ? PJ_COMP_DECODER : PJ_COMP_TEXT;
	char b1[64], b2[64], tr[160], sum[256];

	is_int(a->traits, c->traits, "%s: traits %s", what, traits_str(a->traits, tr, sizeof tr));
	is_int(a->family, c->family, "%s: family %s", what, pj_family_name(a->family));
	like(a->family_reason, "(precedence: moe > hybrid > mla > multimodal > enc-dec > dense)",
	     "%s: family reason states the precedence", what);
	is_str(attn_str(a, main_comp, b1, sizeof b1), c->attn, "%s: attention per layer", what);
	is_str(ffn_str(a, main_comp, b2, sizeof b2), c->ffn, "%s: FFN per layer", what);
	ok(a->n_layers == c->n_layers && a->n_heads == c->n_heads && a->n_kv_heads == c->n_kv &&
	   a->head_dim == c->head_dim && a->hidden == c->hidden && a->vocab == c->vocab,
	   "%s: layers %d heads %d kv %d head_dim %d hidden %d vocab %d", what, a->n_layers, a->n_heads,
	   a->n_kv_heads, a->head_dim, a->hidden, a->vocab);
	ok(a->n_experts == c->experts && a->n_experts_active == c->active && a->n_shared_experts == c->shared &&
	   a->first_dense == c->first_dense,
	   "%s: experts %d active %d shared %d first dense %d", what, a->n_experts, a->n_experts_active,
	   a->n_shared_experts, a->first_dense);
	for (int i = 0; i < a->n_layer_entries; i++) {
		const pj_layer *l = &a->layers[i];
		if (l->comp == main_comp && l->window != (l->attn == PJ_ATTN_LOCAL ? c->window : 0)) {
			ok(0, "%s: layer %d window %d", what, l->index, l->window);
			break;
		}
	}
	is_int(a->params_total, c->params, "%s: params_total", what);
	is_int(a->params_total, nelem_sum(m), "%s: params_total = element sum of the catalog", what);
	is_int(a->params_active, c->active_params, "%s: params_active", what);
	is_int(a->kv_bytes_per_token_f16, c->kv, "%s: KV bytes per token at F16", what);
	is_str(pj_arch_summary(a, sum, sizeof sum), c->summary, "%s: summary", what);
	ok(!a->unknown && m->n_warnings == 0, "%s: known architecture, no warnings%s%s", what,
	   m->n_warnings ? ": " : "", m->n_warnings ? m->warnings[0] : "");
	uint64_t sum_layers = 0, sum_comp = 0;
	for (int i = 0; i < a->n_layer_entries; i++)
		sum_layers += a->layers[i].params;
	for (int i = 0; i < PJ_COMP_COUNT; i++)
		sum_comp += a->params_by_comp[i];
	ok(sum_comp == a->params_total && sum_layers <= a->params_total,
	   "%s: params_by_comp adds up, blocks hold at most the total", what);
	size_t unknown = 0;
	for (size_t i = 0; i < m->cat.n; i++)
		if (m->cat.t[i].role == PJ_ROLE_UNKNOWN) {
			if (!unknown)
				tap_diag("unclassified: %s", m->cat.t[i].name);
			unknown++;
		}
	is_int(unknown, 0, "%s: every tensor has a role", what);
}

/* The HF folder and its GGUF must tell the same story. */
static void compare(const pj_model *h, const pj_model *g, const char *dir)
{
	const pj_arch *a = &h->arch, *b = &g->arch;
	char x[64], y[64];
	is_int(b->traits, a->traits, "%s: HF and GGUF traits agree", dir);
	is_int(b->family, a->family, "%s: HF and GGUF family agree", dir);
	is_str(attn_str(b, PJ_COMP_TEXT, x, sizeof x), attn_str(a, PJ_COMP_TEXT, y, sizeof y),
	       "%s: HF and GGUF layer kinds agree", dir);
	is_str(ffn_str(b, PJ_COMP_TEXT, x, sizeof x), ffn_str(a, PJ_COMP_TEXT, y, sizeof y),
	       "%s: HF and GGUF FFN kinds agree", dir);
	ok(a->n_experts == b->n_experts && a->n_experts_active == b->n_experts_active &&
	   a->n_shared_experts == b->n_shared_experts && a->n_moe_layers == b->n_moe_layers,
	   "%s: HF and GGUF expert counts agree", dir);
	bool per_layer = a->n_layer_entries == b->n_layer_entries;
	for (int i = 0; per_layer && i < a->n_layer_entries; i++)
		per_layer = a->layers[i].n_experts == b->layers[i].n_experts &&
		            a->layers[i].n_shared == b->layers[i].n_shared &&
		            a->layers[i].params == b->layers[i].params &&
		            a->layers[i].kv_bytes_per_token_f16 == b->layers[i].kv_bytes_per_token_f16 &&
		            a->layers[i].window == b->layers[i].window;
	ok(per_layer, "%s: HF and GGUF agree block by block (experts, params, KV, window)", dir);
	/* Element counts agree exactly, also for DeepSeek: the converter splits
	 * kv_b_proj [heads*(nope+v), kv_lora] into k_b {nope, kv_lora, heads}
	 * and v_b {kv_lora, v, heads} (same elements), stores routers in F32
	 * (same elements), and the HF file has no MTP block to drop. */
	is_int(b->params_total, a->params_total, "%s: HF and GGUF params_total agree", dir);
	is_int(b->params_active, a->params_active, "%s: HF and GGUF params_active agree", dir);
	is_int(b->kv_bytes_per_token_f16, a->kv_bytes_per_token_f16, "%s: HF and GGUF KV bytes agree", dir);
	ok(a->kv_lora_rank == b->kv_lora_rank && a->q_lora_rank == b->q_lora_rank &&
	   a->qk_rope_head_dim == b->qk_rope_head_dim && a->qk_nope_head_dim == b->qk_nope_head_dim &&
	   a->v_head_dim == b->v_head_dim,
	   "%s: HF and GGUF MLA dims agree (%d/%d/%d/%d/%d)", dir, b->kv_lora_rank, b->q_lora_rank,
	   b->qk_rope_head_dim, b->qk_nope_head_dim, b->v_head_dim);
}

static void test_shared_models(const char *shared)
{
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
		const model_case *c = &models[i];
		char what[128];
		pj_model *h = open_model(shared, c->dir, false);
		if (!h)
			continue;
		snprintf(what, sizeof what, "%s (HF)", c->dir);
		check_model(c, h, what);
		if (c->gguf) {
			pj_model *g = open_model(shared, c->dir, true);
			if (g) {
				snprintf(what, sizeof what, "%s (GGUF)", c->dir);
				check_model(c, g, what);
				compare(h, g, c->dir);
				pj_model_close(g);
			}
		}
		pj_model_close(h);
	}

	/* per-model structure beyond the table */
	pj_model *m = open_model(shared, "deepseek3", false);
	if (m) {
		const pj_arch *a = &m->arch;
		ok(a->kv_lora_rank == 128 && a->q_lora_rank == 128 && a->qk_rope_head_dim == 32 &&
		   a->qk_nope_head_dim == 32 && a->v_head_dim == 64,
		   "deepseek3: MLA ranks 128/128, rope 32, nope 32, v 64");
		const pj_layer *l0 = pj_arch_layer(a, PJ_COMP_TEXT, 0), *l1 = pj_arch_layer(a, PJ_COMP_TEXT, 1);
		ok(a->ffn_gated && strcmp(a->activation, "silu") == 0, "deepseek3: gated FFN, silu");
		ok(l0 && l1 && l0->ffn == PJ_FFN_DENSE && l1->ffn == PJ_FFN_MOE && l1->n_experts == 8 && l1->n_shared == 1,
		   "deepseek3: layer 0 dense, layer 1 MoE with 8 experts + 1 shared");
		is_int(a->n_mtp_layers, 0, "deepseek3: config has an MTP layer, the checkpoint does not");
		pj_model_close(m);
	}
	m = open_model(shared, "random-t5", false);
	if (m) {
		const pj_arch *a = &m->arch;
		char b[16];
		ok(a->encoder_layers == 2 && a->decoder_layers == 2, "t5: 2 encoder + 2 decoder blocks");
		is_str(attn_str(a, PJ_COMP_ENCODER, b, sizeof b), "GG", "t5: encoder self-attention");
		ok(pj_arch_layer(a, PJ_COMP_DECODER, 1)->cross_attn, "t5: decoder cross-attention");
		ok(pj_arch_layer(a, PJ_COMP_ENCODER, 0)->kv_bytes_per_token_f16 == 0, "t5: encoder caches nothing");
		ok(a->ffn_gated, "t5: wi_0/wi_1 make a gated FFN");
		ok(a->params_by_comp[PJ_COMP_ENCODER] == 1312128 && a->params_by_comp[PJ_COMP_DECODER] == 1836928,
		   "t5: encoder / decoder parameters");
		pj_model_close(m);
	}
	static const struct { const char *dir; int layers, hidden; uint64_t vision, proj; } mm[] = {
		{ "random-llava", 2, 128, 343040, 98816 },
		{ "random-gemma3mm", 2, 128, 475008, 32896 },
		{ "random-qwen2vl", 2, 128, 415488, 394240 },
	};
	for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) {
		m = open_model(shared, mm[i].dir, false);
		if (!m)
			continue;
		const pj_arch *a = &m->arch;
		ok(a->vision_layers == mm[i].layers && a->vision_hidden == mm[i].hidden && a->has_projector,
		   "%s: vision tower %d blocks of %d + projector", mm[i].dir, a->vision_layers, a->vision_hidden);
		ok(a->params_by_comp[PJ_COMP_VISION] == mm[i].vision && a->params_by_comp[PJ_COMP_PROJECTOR] == mm[i].proj,
		   "%s: vision %" PRIu64 " + projector %" PRIu64 " parameters", mm[i].dir,
		   a->params_by_comp[PJ_COMP_VISION], a->params_by_comp[PJ_COMP_PROJECTOR]);
		ok(pj_arch_layer(a, PJ_COMP_VISION, 0) && pj_arch_layer(a, PJ_COMP_VISION, 0)->kv_bytes_per_token_f16 == 0 &&
		   pj_arch_layer(a, PJ_COMP_VISION, 0)->attn == PJ_ATTN_GLOBAL &&
		   pj_arch_layer(a, PJ_COMP_VISION, 0)->ffn == PJ_FFN_DENSE,
		   "%s: vision blocks: attention + MLP, no KV cache", mm[i].dir);
		pj_model_close(m);
	}

	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		const role_case *r = &roles[i];
		char dir[64];
		snprintf(dir, sizeof dir, "%s", r->dir);
		char *dot = strstr(dir, ".gguf");
		if (dot)
			*dot = '\0';
		m = open_model(shared, dir, dot != NULL);
		if (!m)
			continue;
		is_role(m, r->tensor, r->role, r->comp, r->layer, r->expert, r->n_experts);
		pj_model_close(m);
	}
}

int main(void)
{
	test_matcher();
	test_hfconfig();
	test_tiny_llama();
	test_tiny_deepseek();
	test_gpt_oss_mxfp4();
	test_config_vs_tensors();
	test_config_cases();
	test_gguf_by_hand();

	const char *shared = tap_shared_dir();
	if (!shared) {
		skip("shared data (../shared) absent: real configs and checkpoints not tested");
		return done_testing();
	}
	test_real_configs(shared);
	test_real_config_details(shared);
	test_shared_models(shared);
	return done_testing();
}
