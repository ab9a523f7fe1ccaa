/* roles.h - what a tensor does in the network, independent of file format.
 * One table (X-macro) used for detection output, --info census, the UI and
 * the JSON report.  Names are stable: they appear in JSON and plan files. */
#ifndef PJ_ROLES_H
#define PJ_ROLES_H

#include <stdbool.h>

typedef enum pj_role_group {
	PJ_RG_EMBED, PJ_RG_OUTPUT, PJ_RG_ATTN, PJ_RG_MLA, PJ_RG_NORM, PJ_RG_FFN,
	PJ_RG_EXPERT, PJ_RG_SHARED, PJ_RG_ROUTER, PJ_RG_VISION, PJ_RG_PROJECTOR,
	PJ_RG_OTHER, PJ_RG_COUNT
} pj_role_group;

/* X(ID, json name, group, description) */
#define PJ_ROLES(X)                                                                         \
	X(UNKNOWN,        "unknown",        OTHER,     "not recognised")                      \
	X(TOKEN_EMBD,     "token_embd",     EMBED,     "token embedding")                     \
	X(POS_EMBD,       "pos_embd",       EMBED,     "position embedding / relative bias")  \
	X(ROPE_FREQS,     "rope_freqs",     EMBED,     "RoPE frequency factors (Llama 3.1 scaling)") \
	X(OUTPUT,         "output",         OUTPUT,    "output projection (lm_head)")         \
	X(OUTPUT_NORM,    "output_norm",    NORM,      "final norm")                          \
	X(ATTN_NORM,      "attn_norm",      NORM,      "pre-attention norm")                  \
	X(ATTN_POST_NORM, "attn_post_norm", NORM,      "post-attention norm")                 \
	X(ATTN_Q_NORM,    "attn_q_norm",    NORM,      "query norm (QK-norm)")                \
	X(ATTN_K_NORM,    "attn_k_norm",    NORM,      "key norm (QK-norm)")                  \
	X(ATTN_Q,         "attn_q",         ATTN,      "query projection")                    \
	X(ATTN_K,         "attn_k",         ATTN,      "key projection")                      \
	X(ATTN_V,         "attn_v",         ATTN,      "value projection")                    \
	X(ATTN_QKV,       "attn_qkv",       ATTN,      "fused q/k/v projection")              \
	X(ATTN_OUTPUT,    "attn_output",    ATTN,      "attention output projection")         \
	X(ATTN_SINKS,     "attn_sinks",     ATTN,      "attention sink logits")               \
	X(ATTN_REL_BIAS,  "attn_rel_bias",  ATTN,      "relative position bias")              \
	X(ATTN_LINEAR,    "attn_linear",    ATTN,      "linear-attention (SSM/DeltaNet) tensor") \
	X(MLA_Q_A,        "attn_q_a",       MLA,       "MLA query down-projection")           \
	X(MLA_Q_A_NORM,   "attn_q_a_norm",  NORM,      "MLA query latent norm")               \
	X(MLA_Q_B,        "attn_q_b",       MLA,       "MLA query up-projection")             \
	X(MLA_KV_A,       "attn_kv_a_mqa",  MLA,       "MLA kv down-projection (latent + rope)") \
	X(MLA_KV_A_NORM,  "attn_kv_a_norm", NORM,      "MLA kv latent norm")                  \
	X(MLA_KV_B,       "attn_kv_b",      MLA,       "MLA kv up-projection")                \
	X(MLA_K_B,        "attn_k_b",       MLA,       "MLA key up-projection (split kv_b)")  \
	X(MLA_V_B,        "attn_v_b",       MLA,       "MLA value up-projection (split kv_b)") \
	X(CROSS_Q,        "cross_attn_q",   ATTN,      "cross-attention query")               \
	X(CROSS_K,        "cross_attn_k",   ATTN,      "cross-attention key")                 \
	X(CROSS_V,        "cross_attn_v",   ATTN,      "cross-attention value")               \
	X(CROSS_OUTPUT,   "cross_attn_output", ATTN,   "cross-attention output")              \
	X(CROSS_NORM,     "cross_attn_norm", NORM,     "cross-attention norm")                \
	X(FFN_NORM,       "ffn_norm",       NORM,      "pre-FFN norm")                        \
	X(FFN_POST_NORM,  "ffn_post_norm",  NORM,      "post-FFN norm")                       \
	X(FFN_GATE,       "ffn_gate",       FFN,       "FFN gate projection")                 \
	X(FFN_UP,         "ffn_up",         FFN,       "FFN up projection")                   \
	X(FFN_DOWN,       "ffn_down",       FFN,       "FFN down projection")                 \
	X(FFN_GATE_UP,    "ffn_gate_up",    FFN,       "fused FFN gate+up projection")        \
	X(EXP_GATE,       "ffn_gate_exps",  EXPERT,    "routed expert gate projection")       \
	X(EXP_UP,         "ffn_up_exps",    EXPERT,    "routed expert up projection")         \
	X(EXP_DOWN,       "ffn_down_exps",  EXPERT,    "routed expert down projection")       \
	X(EXP_GATE_UP,    "ffn_gate_up_exps", EXPERT,  "routed expert fused gate+up")         \
	X(EXP_BIAS,       "ffn_exps_bias",  EXPERT,    "routed expert bias")                  \
	X(SHEXP_GATE,     "ffn_gate_shexp", SHARED,    "shared expert gate projection")       \
	X(SHEXP_UP,       "ffn_up_shexp",   SHARED,    "shared expert up projection")         \
	X(SHEXP_DOWN,     "ffn_down_shexp", SHARED,    "shared expert down projection")       \
	X(SHEXP_ROUTER,   "ffn_gate_inp_shexp", ROUTER, "shared expert gate (scalar router)") \
	X(ROUTER,         "ffn_gate_inp",   ROUTER,    "expert router")                       \
	X(EXP_SCORE_BIAS, "exp_probs_b",    ROUTER,    "expert score-correction bias")        \
	X(V_PATCH_EMBD,   "v_patch_embd",   VISION,    "vision patch embedding")              \
	X(V_POS_EMBD,     "v_pos_embd",     VISION,    "vision position / class embedding")   \
	X(V_NORM,         "v_norm",         NORM,      "vision norm")                         \
	X(V_ATTN,         "v_attn",         VISION,    "vision attention (q/k/v/o)")          \
	X(V_FFN,          "v_ffn",          VISION,    "vision MLP")                          \
	X(V_HEAD,         "v_head",         VISION,    "vision pooling head")                 \
	X(MM_PROJ,        "mm_proj",        PROJECTOR, "multimodal projector")                \
	X(MM_NORM,        "mm_norm",        NORM,      "multimodal projector norm")           \
	X(BIAS,           "bias",           OTHER,     "bias vector")                         \
	X(WEIGHT_SCALE,   "weight_scale",   OTHER,     "FP8 block scale (not a parameter)")  \
	X(NEXTN_EH_PROJ,  "nextn_eh_proj",  OTHER,     "MTP: embedding+hidden projection")    \
	X(NEXTN_NORM,     "nextn_norm",     NORM,      "MTP: embedding / hidden norm")

typedef enum pj_role {
#define PJ_ROLE_ENUM(id, name, group, desc) PJ_ROLE_##id,
	PJ_ROLES(PJ_ROLE_ENUM)
#undef PJ_ROLE_ENUM
	PJ_ROLE_COUNT
} pj_role;

typedef struct pj_role_info {
	const char *name;
	pj_role_group group;
	const char *desc;
} pj_role_info;

const pj_role_info *pj_role_info_of(pj_role r);
const char *pj_role_name(pj_role r);
const char *pj_role_group_name(pj_role_group g);
bool pj_role_from_name(const char *name, pj_role *out);

/* Which part of a model a tensor belongs to. */
#define PJ_COMPONENTS(X) \
	X(TEXT, "text") X(VISION, "vision") X(PROJECTOR, "projector") \
	X(ENCODER, "encoder") X(DECODER, "decoder") X(MTP, "mtp")

typedef enum pj_component {
#define PJ_COMP_ENUM(id, name) PJ_COMP_##id,
	PJ_COMPONENTS(PJ_COMP_ENUM)
#undef PJ_COMP_ENUM
	PJ_COMP_COUNT
} pj_component;

const char *pj_component_name(pj_component c);

#endif
