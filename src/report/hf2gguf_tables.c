/* hf2gguf_tables.c - the facts hf2gguf.c follows, as tables: which converter
 * class handles an HF architecture, HF -> GGUF tensor names, and BPE
 * pre-tokenizer names.  Read from llama.cpp's conversion/ (*.py) and
 * gguf-py/gguf/tensor_mapping.py (facts only, no code copied). */
#include "config.h"
#include "hf2gguf.h"

#include <stdio.h>
#include <string.h>

#define A(x) (1u << PJ_HF_##x)
#define ALL_ARCHS ((1u << PJ_HF_ARCH_COUNT) - 1)

static const struct {
	const char *hf;
	pj_hf_arch arch;
	const char *gguf;
} ARCHS[] = {
	{ "LlamaForCausalLM",        PJ_HF_LLAMA,     "llama" },
	{ "LLaMAForCausalLM",        PJ_HF_LLAMA,     "llama" },
	{ "MistralForCausalLM",      PJ_HF_LLAMA,     "llama" },
	{ "MixtralForCausalLM",      PJ_HF_LLAMA,     "llama" },
	{ "Qwen2ForCausalLM",        PJ_HF_QWEN2,     "qwen2" },
	{ "Qwen3ForCausalLM",        PJ_HF_QWEN3,     "qwen3" },
	{ "Qwen3MoeForCausalLM",     PJ_HF_QWEN3MOE,  "qwen3moe" },
	{ "Gemma3ForCausalLM",       PJ_HF_GEMMA3,    "gemma3" },
	{ "DeepseekV2ForCausalLM",   PJ_HF_DEEPSEEK2, "deepseek2" },
	{ "DeepseekV3ForCausalLM",   PJ_HF_DEEPSEEK2, "deepseek2" },
};

bool pj_hf_arch_lookup(const char *hf_arch, pj_hf_arch *arch, const char **gguf_arch)
{
	for (size_t i = 0; hf_arch && i < sizeof ARCHS / sizeof ARCHS[0]; i++)
		if (strcmp(ARCHS[i].hf, hf_arch) == 0) {
			*arch = ARCHS[i].arch;
			*gguf_arch = ARCHS[i].gguf;
			return true;
		}
	return false;
}

/* ---- tensor names ---------------------------------------------------------- */

static const struct {
	const char *hf, *gguf;
} GLOBAL[] = {
	{ "model.embed_tokens.weight", "token_embd.weight" },
	{ "lm_head.weight",            "output.weight" },
	{ "model.norm.weight",         "output_norm.weight" },
};

/* Text after "model.layers.N." -> text after "blk.N.", for the archs in
 * `archs`.  A row with a %d in hf is one expert of a stack; slot is the
 * position the converter emits that stack in (its w_name loop order). */
static const struct layer_map {
	unsigned archs;
	const char *hf, *gguf;
	int slot;
} LAYER[] = {
	{ ALL_ARCHS, "input_layernorm.weight",           "attn_norm.weight", -1 },
	{ ALL_ARCHS & ~A(GEMMA3), "post_attention_layernorm.weight", "ffn_norm.weight", -1 },
	/* Gemma 3 norms around both sub-blocks */
	{ A(GEMMA3), "post_attention_layernorm.weight",  "post_attention_norm.weight", -1 },
	{ A(GEMMA3), "pre_feedforward_layernorm.weight", "ffn_norm.weight", -1 },
	{ A(GEMMA3), "post_feedforward_layernorm.weight", "post_ffw_norm.weight", -1 },
	{ ALL_ARCHS, "self_attn.q_proj.weight",          "attn_q.weight", -1 },
	{ ALL_ARCHS, "self_attn.q_proj.bias",            "attn_q.bias", -1 },
	{ ALL_ARCHS, "self_attn.k_proj.weight",          "attn_k.weight", -1 },
	{ ALL_ARCHS, "self_attn.k_proj.bias",            "attn_k.bias", -1 },
	{ ALL_ARCHS, "self_attn.v_proj.weight",          "attn_v.weight", -1 },
	{ ALL_ARCHS, "self_attn.v_proj.bias",            "attn_v.bias", -1 },
	{ ALL_ARCHS, "self_attn.o_proj.weight",          "attn_output.weight", -1 },
	{ ALL_ARCHS, "self_attn.o_proj.bias",            "attn_output.bias", -1 },
	{ ALL_ARCHS, "self_attn.q_norm.weight",          "attn_q_norm.weight", -1 },
	{ ALL_ARCHS, "self_attn.k_norm.weight",          "attn_k_norm.weight", -1 },
	{ ALL_ARCHS, "mlp.gate_proj.weight",             "ffn_gate.weight", -1 },
	{ ALL_ARCHS, "mlp.up_proj.weight",               "ffn_up.weight", -1 },
	{ ALL_ARCHS, "mlp.down_proj.weight",             "ffn_down.weight", -1 },
	/* MoE routers and experts */
	{ A(QWEN3MOE) | A(DEEPSEEK2), "mlp.gate.weight", "ffn_gate_inp.weight", -1 },
	{ A(QWEN3MOE) | A(DEEPSEEK2), "mlp.experts.%d.down_proj.weight", "ffn_down_exps.weight", 0 },
	{ A(QWEN3MOE) | A(DEEPSEEK2), "mlp.experts.%d.gate_proj.weight", "ffn_gate_exps.weight", 1 },
	{ A(QWEN3MOE) | A(DEEPSEEK2), "mlp.experts.%d.up_proj.weight",   "ffn_up_exps.weight", 2 },
	{ A(LLAMA), "block_sparse_moe.gate.weight",           "ffn_gate_inp.weight", -1 },
	{ A(LLAMA), "block_sparse_moe.experts.%d.w1.weight",  "ffn_gate_exps.weight", 0 },
	{ A(LLAMA), "block_sparse_moe.experts.%d.w2.weight",  "ffn_down_exps.weight", 1 },
	{ A(LLAMA), "block_sparse_moe.experts.%d.w3.weight",  "ffn_up_exps.weight", 2 },
	/* DeepSeek: shared experts, score bias (the converter renames
	 * e_score_correction_bias to e_score_correction.bias first), MLA */
	{ A(DEEPSEEK2), "mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight", -1 },
	{ A(DEEPSEEK2), "mlp.shared_experts.up_proj.weight",   "ffn_up_shexp.weight", -1 },
	{ A(DEEPSEEK2), "mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight", -1 },
	{ A(DEEPSEEK2), "mlp.gate.e_score_correction_bias",    "exp_probs_b.bias", -1 },
	{ A(DEEPSEEK2), "mlp.gate.e_score_correction.bias",    "exp_probs_b.bias", -1 },
	{ A(DEEPSEEK2), "self_attn.q_a_proj.weight",           "attn_q_a.weight", -1 },
	{ A(DEEPSEEK2), "self_attn.q_a_layernorm.weight",      "attn_q_a_norm.weight", -1 },
	{ A(DEEPSEEK2), "self_attn.q_b_proj.weight",           "attn_q_b.weight", -1 },
	{ A(DEEPSEEK2), "self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight", -1 },
	{ A(DEEPSEEK2), "self_attn.kv_a_layernorm.weight",     "attn_kv_a_norm.weight", -1 },
	{ A(DEEPSEEK2), "self_attn.kv_b_proj.weight",          "attn_kv_b.weight", -1 },
	{ A(DEEPSEEK2), "self_attn.k_b_proj.weight",           "attn_k_b.weight", -1 },
	{ A(DEEPSEEK2), "self_attn.v_b_proj.weight",           "attn_v_b.weight", -1 },
};

/* "experts.%d.rest" against s: the expert number, or -1. */
static int match_expert(const char *pat, const char *s)
{
	const char *pc = strstr(pat, "%d");
	size_t pre = (size_t)(pc - pat);
	if (strncmp(s, pat, pre) != 0)
		return -1;
	const char *p = s + pre;
	if (*p < '0' || *p > '9')
		return -1;
	long e = 0;
	while (*p >= '0' && *p <= '9' && e < 1000000)
		e = e * 10 + (*p++ - '0');
	return strcmp(p, pc + 2) == 0 ? (int)e : -1;
}

bool pj_hf_tensor_name(pj_hf_arch arch, const char *hf, char *out, size_t outsz, int *expert, int *slot)
{
	*expert = -1;
	*slot = -1;
	for (size_t i = 0; i < sizeof GLOBAL / sizeof GLOBAL[0]; i++)
		if (strcmp(hf, GLOBAL[i].hf) == 0)
			return (size_t)snprintf(out, outsz, "%s", GLOBAL[i].gguf) < outsz;
	int layer, used = 0;
	if (sscanf(hf, "model.layers.%d.%n", &layer, &used) != 1 || used == 0 || layer < 0)
		return false;
	const char *rest = hf + used;
	for (size_t i = 0; i < sizeof LAYER / sizeof LAYER[0]; i++) {
		const struct layer_map *m = &LAYER[i];
		if (!(m->archs & (1u << arch)))
			continue;
		if (m->slot >= 0) {
			int e = match_expert(m->hf, rest);
			if (e < 0)
				continue;
			*expert = e;
			*slot = m->slot;
		} else if (strcmp(rest, m->hf) != 0) {
			continue;
		}
		return (size_t)snprintf(out, outsz, "blk.%d.%s", layer, m->gguf) < outsz;
	}
	return false;
}

/* ---- BPE pre-tokenizers ----------------------------------------------------- */

/* Split regexes of well-known tokenizer.json files -> the name the
 * converter's hash table gives them. */
static const struct {
	const char *regex, *name;
} PRE_SPLIT[] = {
	/* Llama 3 (tiktoken cl100k style, digits in groups of three) */
	{ "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
	  "llama-bpe" },
	/* Qwen2 / Qwen3 (single digits) */
	{ "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
	  "qwen2" },
};

static const cJSON *child(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static bool type_is(const cJSON *o, const char *t)
{
	const cJSON *ty = child(o, "type");
	return cJSON_IsString(ty) && strcmp(ty->valuestring, t) == 0;
}

const char *pj_hf_bpe_pre_name(const cJSON *pre)
{
	/* A lone ByteLevel with its own regex is GPT-2's pre-tokenizer: the
	 * converter run that made ../shared's files wrote "gpt-2" for it. */
	if (type_is(pre, "ByteLevel")) {
		const cJSON *r = child(pre, "use_regex");
		return !r || cJSON_IsTrue(r) ? "gpt-2" : NULL;
	}
	if (!type_is(pre, "Sequence"))
		return NULL;
	const cJSON *list = child(pre, "pretokenizers"), *it;
	const char *name = NULL;
	cJSON_ArrayForEach(it, list) {
		if (type_is(it, "Split")) {
			const cJSON *re = child(child(it, "pattern"), "Regex");
			if (!cJSON_IsString(re) || name)
				return NULL;
			for (size_t i = 0; i < sizeof PRE_SPLIT / sizeof PRE_SPLIT[0]; i++)
				if (strcmp(re->valuestring, PRE_SPLIT[i].regex) == 0)
					name = PRE_SPLIT[i].name;
			if (!name)
				return NULL;
		} else if (type_is(it, "ByteLevel")) {
			const cJSON *r = child(it, "use_regex");
			if (r && cJSON_IsTrue(r))
				return NULL;   /* a second regex pass changes the ids */
		} else {
			return NULL;
		}
	}
	return name;
}
