/* arch.h - architecture detection: traits, per-layer kinds, tensor roles,
 * parameter counts.  Works from config.json (HF) or GGUF metadata, and from
 * tensor names and shapes in both cases; unknown architectures fall back to
 * name patterns with a warning. */
#ifndef PJ_ARCH_H
#define PJ_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct pj_model;

/* Traits: a model has several (DeepSeek-V3 = MOE|MLA, Gemma-3-27B = MULTIMODAL|HYBRID). */
#define PJ_TRAITS(X)                                   \
	X(DENSE,      "dense")                           \
	X(GQA,        "gqa")                             \
	X(MQA,        "mqa")                             \
	X(MOE,        "moe")                             \
	X(HYBRID,     "hybrid_attention")                \
	X(LINEAR,     "linear_attention")                \
	X(MLA,        "mla")                             \
	X(MULTIMODAL, "multimodal")                      \
	X(ENCDEC,     "encoder_decoder")

enum {
#define PJ_TRAIT_BIT(id, name) PJ_TRAIT_BIT_##id,
	PJ_TRAITS(PJ_TRAIT_BIT)
#undef PJ_TRAIT_BIT
	PJ_TRAIT_COUNT
};
#define PJ_TRAIT(id) (1u << PJ_TRAIT_BIT_##id)

/* Strategy family, by the brief's precedence: moe > hybrid > mla > multimodal
 * > encoder-decoder > dense. */
#define PJ_FAMILIES(X) \
	X(DENSE, "dense_decoder") X(MOE, "moe") X(HYBRID, "hybrid_attention") \
	X(MLA, "mla") X(MULTIMODAL, "multimodal") X(ENCDEC, "encoder_decoder")

typedef enum pj_family {
#define PJ_FAMILY_ENUM(id, name) PJ_FAMILY_##id,
	PJ_FAMILIES(PJ_FAMILY_ENUM)
#undef PJ_FAMILY_ENUM
	PJ_FAMILY_COUNT
} pj_family;

typedef enum pj_attn_kind {
	PJ_ATTN_NONE,     /* no attention in this block */
	PJ_ATTN_GLOBAL,   /* full / global attention */
	PJ_ATTN_LOCAL,    /* sliding window (see window) */
	PJ_ATTN_MLA,      /* multi-head latent attention */
	PJ_ATTN_LINEAR,   /* linear attention / SSM (e.g. Gated DeltaNet) */
	PJ_ATTN_COUNT
} pj_attn_kind;

typedef enum pj_ffn_kind { PJ_FFN_NONE, PJ_FFN_DENSE, PJ_FFN_MOE, PJ_FFN_COUNT } pj_ffn_kind;

typedef struct pj_layer {
	int comp;             /* pj_component */
	int index;            /* block index within the component */
	pj_attn_kind attn;
	int window;           /* sliding window for PJ_ATTN_LOCAL, else 0 */
	bool cross_attn;      /* decoder block with cross-attention */
	pj_ffn_kind ffn;
	int n_experts;        /* routed experts (MoE blocks) */
	int n_shared;         /* shared experts */
	uint64_t params;      /* parameters in this block (all tensors) */
	uint64_t kv_bytes_per_token_f16; /* K+V (or latent) cache per token at F16 */
} pj_layer;

typedef struct pj_arch {
	char arch[64];        /* HF architectures[0] or GGUF general.architecture */
	char model_type[64];  /* HF model_type (text model's when nested), or GGUF arch */
	unsigned traits;      /* PJ_TRAIT(...) bits */
	pj_family family;
	char family_reason[160];
	bool unknown;         /* fell back to name patterns */

	int n_layers;         /* text / decoder blocks */
	int hidden;
	int n_heads, n_kv_heads, head_dim;
	int vocab;
	int64_t ctx_len;

	int n_experts, n_experts_active, n_shared_experts, first_dense, n_moe_layers;
	int expert_ff;

	int sliding_window, n_local_layers, n_global_layers, n_linear_layers;
	char local_global[32]; /* "5:1" */

	int q_lora_rank, kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim, v_head_dim;

	char vision_type[64];
	int vision_layers, vision_hidden;
	bool has_projector;

	int encoder_layers, decoder_layers;

	uint64_t params_total;   /* every parameter in the catalog (scale tensors excluded) */
	uint64_t params_active;  /* per token: total minus unrouted experts' share */
	uint64_t params_by_comp[8];
	uint64_t kv_bytes_per_token_f16;

	pj_layer *layers;        /* all blocks of all components */
	int n_layer_entries;

	int n_mtp_layers;        /* multi-token-prediction blocks in the file (or config) */
	int layer_first[8], layer_count[8]; /* per component: slice of layers[] */
	char norm[24];           /* norm style of known architectures ("rmsnorm(1+w)") */
	char activation[32];     /* FFN activation: hidden_act, T5's feed_forward_proj, ... */
	bool ffn_gated;          /* gate * up (SwiGLU / GeGLU): gate tensors, or "gated-*" */
} pj_arch;

/* Fills m->arch and each tensor's role/comp/layer/expert/n_experts. */
pj_status pj_arch_detect(struct pj_model *m, pj_error *err);
/* Config-only detection (no tensors): what config.json alone implies.  Never
 * fails on odd input; a must be free (zeroed) or previously freed. */
struct cJSON;
pj_status pj_arch_detect_config(pj_arch *a, const struct cJSON *config, pj_error *err);
void pj_arch_free(pj_arch *a);
/* Block `index` of component `comp` (pj_component), or NULL. */
const pj_layer *pj_arch_layer(const pj_arch *a, int comp, int index);

const char *pj_trait_name(unsigned bit_index);
const char *pj_family_name(pj_family f);
const char *pj_attn_kind_name(pj_attn_kind k);
const char *pj_ffn_kind_name(pj_ffn_kind k);
/* One-line summary, e.g. "MoE 128x8 + GQA 32/4" or "hybrid 5:1 local(1024)/global". */
const char *pj_arch_summary(const pj_arch *a, char *buf, size_t len);

#endif
