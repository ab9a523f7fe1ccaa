/* synth.c - synthetic checkpoints from a config.json.
 *
 * Every architecture is a list of tensor templates (name pattern, loop,
 * shape in symbolic dimensions); the config only supplies the numbers.
 * Templates are listed in state_dict order, which is also the order shards
 * are filled in, so a layer can straddle two shards as in real repos.
 *
 * Name patterns: %T top prefix ("" or "language_model."), %P text model
 * prefix ("model." ...), %V vision tower prefix, %L loop index, %E expert. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "dtype.h"
#include "strbuf.h"
#include "synth.h"

/* ---- symbolic dimensions ------------------------------------------------ */

#define SYNTH_DIMS(X)                                                          \
	X(NONE, "-") X(ONE, "1")                                                   \
	X(H, "hidden_size") X(V, "vocab_size") X(I, "intermediate_size")           \
	X(XI, "moe_intermediate_size") X(NH, "num_attention_heads")                \
	X(NKV, "num_key_value_heads") X(HD, "head_dim") X(E, "num_experts")        \
	X(NSH, "n_shared_experts") X(QLR, "q_lora_rank") X(KVLR, "kv_lora_rank")   \
	X(ROPE, "qk_rope_head_dim") X(NOPE, "qk_nope_head_dim")                    \
	X(VHD, "v_head_dim") X(RB, "relative_attention_num_buckets")               \
	X(L, "num_hidden_layers") X(DL, "num_decoder_layers")                      \
	X(LKH, "linear_num_key_heads") X(LKD, "linear_key_head_dim")               \
	X(LVH, "linear_num_value_heads") X(LVD, "linear_value_head_dim")           \
	X(LK, "linear_conv_kernel_dim")                                            \
	X(VH, "vision_config.hidden_size") X(VI, "vision_config.intermediate_size") \
	X(VMR, "vision_config.mlp_ratio") X(VL, "vision_config.num_hidden_layers") \
	X(VP, "vision_config.patch_size") X(VT, "vision_config.temporal_patch_size") \
	X(VC, "vision_config.num_channels") X(VIMG, "vision_config.image_size")    \
	X(VM, "vision_config.spatial_merge_size")                                  \
	X(VOUT, "vision_config.out_hidden_size")                                   \
	X(VNPOS, "vision_config.num_position_embeddings")                          \
	X(Q, "heads*head_dim") X(Q2, "2*heads*head_dim") X(KV, "kv_heads*head_dim") \
	X(QHD, "qk_nope+qk_rope") X(QB, "heads*(qk_nope+qk_rope)")                 \
	X(KVA, "kv_lora_rank+qk_rope") X(NV, "qk_nope+v_head_dim")                 \
	X(KVB, "heads*(qk_nope+v_head_dim)") X(OI, "heads*v_head_dim")             \
	X(H2, "2*hidden_size") X(SI, "shared expert intermediate")                 \
	X(XI2, "2*expert intermediate") X(LKEY, "linear key dim")                  \
	X(LVAL, "linear value dim") X(LKEY2, "2*linear key dim")                   \
	X(LCONV, "linear conv dim") X(VPOS, "vision positions")                    \
	X(VPOS1, "vision positions+1") X(VMH, "vision merger hidden")              \
	X(V3, "3*vision hidden") X(HD2, "head_dim/2")

enum {
#define DIM_ENUM(id, name) D_##id,
	SYNTH_DIMS(DIM_ENUM)
#undef DIM_ENUM
	D_COUNT
};

static const char *const dim_names[D_COUNT] = {
#define DIM_NAME(id, name) name,
	SYNTH_DIMS(DIM_NAME)
#undef DIM_NAME
};

enum { SRC_TEXT, SRC_VISION };

/* Where each dimension comes from; alternatives separated by '|'.  Text keys
 * are looked up in text_config first, then at the top level. */
static const struct dim_key {
	uint8_t dim, src;
	const char *keys;
} dim_keys[] = {
	{ D_H, SRC_TEXT, "hidden_size|d_model|n_embd" },
	{ D_V, SRC_TEXT, "vocab_size" },
	{ D_I, SRC_TEXT, "intermediate_size|d_ff" },
	{ D_XI, SRC_TEXT, "moe_intermediate_size" },
	{ D_NH, SRC_TEXT, "num_attention_heads|num_heads|n_head" },
	{ D_NKV, SRC_TEXT, "num_key_value_heads" },
	{ D_HD, SRC_TEXT, "head_dim|d_kv" },
	{ D_E, SRC_TEXT, "num_experts|num_local_experts|n_routed_experts" },
	{ D_NSH, SRC_TEXT, "n_shared_experts" },
	{ D_QLR, SRC_TEXT, "q_lora_rank" },
	{ D_KVLR, SRC_TEXT, "kv_lora_rank" },
	{ D_ROPE, SRC_TEXT, "qk_rope_head_dim" },
	{ D_NOPE, SRC_TEXT, "qk_nope_head_dim" },
	{ D_VHD, SRC_TEXT, "v_head_dim" },
	{ D_RB, SRC_TEXT, "relative_attention_num_buckets" },
	{ D_L, SRC_TEXT, "num_hidden_layers|num_layers|n_layer" },
	{ D_DL, SRC_TEXT, "num_decoder_layers" },
	{ D_LKH, SRC_TEXT, "linear_num_key_heads" },
	{ D_LKD, SRC_TEXT, "linear_key_head_dim" },
	{ D_LVH, SRC_TEXT, "linear_num_value_heads" },
	{ D_LVD, SRC_TEXT, "linear_value_head_dim" },
	{ D_LK, SRC_TEXT, "linear_conv_kernel_dim" },
	/* Qwen2-VL calls the tower width embed_dim and the output hidden_size. */
	{ D_VH, SRC_VISION, "embed_dim|hidden_size" },
	{ D_VI, SRC_VISION, "intermediate_size" },
	{ D_VMR, SRC_VISION, "mlp_ratio" },
	{ D_VL, SRC_VISION, "num_hidden_layers|depth" },
	{ D_VP, SRC_VISION, "patch_size|spatial_patch_size" },
	{ D_VT, SRC_VISION, "temporal_patch_size" },
	{ D_VC, SRC_VISION, "num_channels|in_channels|in_chans" },
	{ D_VIMG, SRC_VISION, "image_size" },
	{ D_VM, SRC_VISION, "spatial_merge_size" },
	{ D_VOUT, SRC_VISION, "out_hidden_size|hidden_size" },
	{ D_VNPOS, SRC_VISION, "num_position_embeddings" },
};

/* Defaults and derived dimensions, applied in order, each only when its
 * target is still unset (0).  An operand of 0 yields 0 (unset). */
enum { R_CONST, R_COPY, R_MUL, R_ADD, R_DIV, R_MULK, R_SQDIV, R_ADDK, R_MULSQ, R_DIVK };
static const struct dim_rule {
	uint8_t dim, op, a, b;
	int64_t k;
} dim_rules[] = {
	{ D_ONE, R_CONST, 0, 0, 1 },
	{ D_NKV, R_COPY, D_NH, 0, 0 },
	{ D_HD, R_DIV, D_H, D_NH, 0 },
	{ D_XI, R_COPY, D_I, 0, 0 },
	{ D_DL, R_COPY, D_L, 0, 0 },
	{ D_VC, R_CONST, 0, 0, 3 },
	{ D_VI, R_MUL, D_VH, D_VMR, 0 },
	{ D_Q, R_MUL, D_NH, D_HD, 0 },
	{ D_Q2, R_MULK, D_Q, 0, 2 },
	{ D_KV, R_MUL, D_NKV, D_HD, 0 },
	{ D_QHD, R_ADD, D_NOPE, D_ROPE, 0 },
	{ D_QB, R_MUL, D_NH, D_QHD, 0 },
	{ D_KVA, R_ADD, D_KVLR, D_ROPE, 0 },
	{ D_NV, R_ADD, D_NOPE, D_VHD, 0 },
	{ D_KVB, R_MUL, D_NH, D_NV, 0 },
	{ D_OI, R_MUL, D_NH, D_VHD, 0 },
	{ D_H2, R_MULK, D_H, 0, 2 },
	{ D_SI, R_MUL, D_XI, D_NSH, 0 },
	{ D_XI2, R_MULK, D_XI, 0, 2 },
	{ D_LKEY, R_MUL, D_LKH, D_LKD, 0 },
	{ D_LVAL, R_MUL, D_LVH, D_LVD, 0 },
	{ D_LKEY2, R_MULK, D_LKEY, 0, 2 },
	{ D_LCONV, R_ADD, D_LKEY2, D_LVAL, 0 },
	{ D_VPOS, R_SQDIV, D_VIMG, D_VP, 0 },
	{ D_VPOS1, R_ADDK, D_VPOS, 0, 1 },
	{ D_VMH, R_MULSQ, D_VH, D_VM, 0 },
	{ D_V3, R_MULK, D_VH, 0, 3 },
	{ D_HD2, R_DIVK, D_HD, 0, 2 },
};

/* ---- templates ---------------------------------------------------------- */

/* Loops: once, every text layer, vision block, encoder / decoder block,
 * separate MTP block (Qwen3.5's mtp.layers.N). */
enum { LP_END, LP_G, LP_L, LP_V, LP_ENC, LP_DEC, LP_MTP };

/* Layer attributes a template may require (all of them). */
enum {
	A_DENSE = 1 << 0, /* dense MLP layer */
	A_MOE = 1 << 1,   /* MoE layer */
	A_MTP = 1 << 2,   /* DeepSeek MTP layer (model.layers.<n_layers+i>) */
	A_LIN = 1 << 3,   /* linear-attention layer */
	A_FULL = 1 << 4,  /* full-attention layer of a hybrid model */
	A_FIRST = 1 << 5, /* block 0 */
};

/* Config conditions a template may require (all of them). */
enum {
	C_UNTIED = 1 << 0,   /* tie_word_embeddings false */
	C_VHEAD = 1 << 1,    /* SigLIP pooling head (vision_use_head) */
	C_GATED = 1 << 2,    /* T5 gated FFN (wi_0/wi_1) */
	C_NGATED = 1 << 3,   /* T5 plain FFN (wi) */
	C_QLORA = 1 << 4,    /* MLA query LoRA */
	C_NQLORA = 1 << 5,   /* MLA plain q_proj */
	C_ABIAS = 1 << 6,    /* attention_bias */
	C_SHARED = 1 << 7,   /* shared experts */
	C_MMBIAS = 1 << 8,   /* llava projector bias */
	C_SCOREB = 1 << 9,   /* DeepSeek noaux_tc score-correction bias */
	C_ROPE3 = 1 << 10,   /* Llama 3.1 "llama3" rope scaling (GGUF rope_freqs) */
};

/* Kind of tensor: what it holds and how precise it stays. */
enum {
	F_W = 1 << 0,     /* matmul weight: FP8 in an FP8 checkpoint */
	F_NORM = 1 << 1,  /* norm weight: values ~1 */
	F_F32 = 1 << 2,   /* kept in F32 by first-party releases (and GGUF) */
	F_EXP = 1 << 3,   /* one per routed expert (%E) */
	F_BIAS = 1 << 4,  /* bias / small vector */
	F_MX = 1 << 5,    /* gpt-oss expert matrix [E, in, out]: MXFP4 blocks + scales in the release */
};

#define MAXD 5
/* Sanity bounds: a config number above DIM_MAX is ignored (as if absent);
 * more than MAX_TENSORS tensors is an error, not an out-of-memory. */
#define DIM_MAX ((int64_t)1 << 40)
#define MAX_TENSORS ((size_t)1 << 24)

typedef struct tmpl {
	uint8_t loop;
	uint8_t when;
	uint16_t cond;
	uint8_t flags;
	const char *name;
	uint8_t dim[MAXD];
} tmpl;

#define G(f, n, ...) { LP_G, 0, 0, f, n, { __VA_ARGS__ } }
#define GC(c, f, n, ...) { LP_G, 0, c, f, n, { __VA_ARGS__ } }
#define LY(w, c, f, n, ...) { LP_L, w, c, f, n, { __VA_ARGS__ } }
#define VB(c, f, n, ...) { LP_V, 0, c, f, n, { __VA_ARGS__ } }
#define EN(w, c, f, n, ...) { LP_ENC, w, c, f, n, { __VA_ARGS__ } }
#define DE(w, c, f, n, ...) { LP_DEC, w, c, f, n, { __VA_ARGS__ } }
#define MT(w, c, f, n, ...) { LP_MTP, w, c, f, n, { __VA_ARGS__ } }
#define END { LP_END, 0, 0, 0, NULL, { 0 } }

#define LA "%Players.%L."

static const tmpl t_embed[] = {
	G(0, "%Pembed_tokens.weight", D_V, D_H),
	END
};
static const tmpl t_final[] = {
	G(F_NORM, "%Pnorm.weight", D_H),
	GC(C_UNTIED, 0, "%Tlm_head.weight", D_V, D_H),
	END
};

/* Llama / Mistral: q/k/v/o (biases when attention_bias), SwiGLU MLP. */
static const tmpl t_llama_layer[] = {
	LY(0, 0, F_W, LA "self_attn.q_proj.weight", D_Q, D_H),
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.q_proj.bias", D_Q),
	LY(0, 0, F_W, LA "self_attn.k_proj.weight", D_KV, D_H),
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.k_proj.bias", D_KV),
	LY(0, 0, F_W, LA "self_attn.v_proj.weight", D_KV, D_H),
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.v_proj.bias", D_KV),
	LY(0, 0, F_W, LA "self_attn.o_proj.weight", D_H, D_Q),
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.o_proj.bias", D_H),
	LY(0, 0, F_W, LA "mlp.gate_proj.weight", D_I, D_H),
	LY(0, 0, F_W, LA "mlp.up_proj.weight", D_I, D_H),
	LY(0, 0, F_W, LA "mlp.down_proj.weight", D_H, D_I),
	LY(0, 0, F_NORM, LA "input_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "post_attention_layernorm.weight", D_H),
	END
};

/* Qwen2 (and the Qwen2-VL / 2.5-VL language model): q/k/v always biased. */
static const tmpl t_qwen2_layer[] = {
	LY(0, 0, F_W, LA "self_attn.q_proj.weight", D_Q, D_H),
	LY(0, 0, F_BIAS, LA "self_attn.q_proj.bias", D_Q),
	LY(0, 0, F_W, LA "self_attn.k_proj.weight", D_KV, D_H),
	LY(0, 0, F_BIAS, LA "self_attn.k_proj.bias", D_KV),
	LY(0, 0, F_W, LA "self_attn.v_proj.weight", D_KV, D_H),
	LY(0, 0, F_BIAS, LA "self_attn.v_proj.bias", D_KV),
	LY(0, 0, F_W, LA "self_attn.o_proj.weight", D_H, D_Q),
	LY(0, 0, F_W, LA "mlp.gate_proj.weight", D_I, D_H),
	LY(0, 0, F_W, LA "mlp.up_proj.weight", D_I, D_H),
	LY(0, 0, F_W, LA "mlp.down_proj.weight", D_H, D_I),
	LY(0, 0, F_NORM, LA "input_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "post_attention_layernorm.weight", D_H),
	END
};

/* Qwen3 attention: per-head RMSNorm on q and k (QK-norm). */
#define QWEN3_ATTN                                                            \
	LY(0, 0, F_W, LA "self_attn.q_proj.weight", D_Q, D_H),                    \
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.q_proj.bias", D_Q),                  \
	LY(0, 0, F_W, LA "self_attn.k_proj.weight", D_KV, D_H),                   \
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.k_proj.bias", D_KV),                 \
	LY(0, 0, F_W, LA "self_attn.v_proj.weight", D_KV, D_H),                   \
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.v_proj.bias", D_KV),                 \
	LY(0, 0, F_W, LA "self_attn.o_proj.weight", D_H, D_Q),                    \
	LY(0, 0, F_NORM, LA "self_attn.q_norm.weight", D_HD),                     \
	LY(0, 0, F_NORM, LA "self_attn.k_norm.weight", D_HD)

static const tmpl t_qwen3_layer[] = {
	QWEN3_ATTN,
	LY(0, 0, F_W, LA "mlp.gate_proj.weight", D_I, D_H),
	LY(0, 0, F_W, LA "mlp.up_proj.weight", D_I, D_H),
	LY(0, 0, F_W, LA "mlp.down_proj.weight", D_H, D_I),
	LY(0, 0, F_NORM, LA "input_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "post_attention_layernorm.weight", D_H),
	END
};

/* Qwen3-MoE: router mlp.gate, per-expert SwiGLU; mlp_only_layers dense. */
static const tmpl t_qwen3moe_layer[] = {
	QWEN3_ATTN,
	LY(A_DENSE, 0, F_W, LA "mlp.gate_proj.weight", D_I, D_H),
	LY(A_DENSE, 0, F_W, LA "mlp.up_proj.weight", D_I, D_H),
	LY(A_DENSE, 0, F_W, LA "mlp.down_proj.weight", D_H, D_I),
	LY(A_MOE, 0, 0, LA "mlp.gate.weight", D_E, D_H),
	LY(A_MOE, 0, F_W | F_EXP, LA "mlp.experts.%E.gate_proj.weight", D_XI, D_H),
	LY(A_MOE, 0, F_W | F_EXP, LA "mlp.experts.%E.up_proj.weight", D_XI, D_H),
	LY(A_MOE, 0, F_W | F_EXP, LA "mlp.experts.%E.down_proj.weight", D_H, D_XI),
	LY(0, 0, F_NORM, LA "input_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "post_attention_layernorm.weight", D_H),
	END
};

/* Mixtral: block_sparse_moe with w1 (gate), w2 (down), w3 (up). */
static const tmpl t_mixtral_layer[] = {
	LY(0, 0, F_W, LA "self_attn.q_proj.weight", D_Q, D_H),
	LY(0, 0, F_W, LA "self_attn.k_proj.weight", D_KV, D_H),
	LY(0, 0, F_W, LA "self_attn.v_proj.weight", D_KV, D_H),
	LY(0, 0, F_W, LA "self_attn.o_proj.weight", D_H, D_Q),
	LY(A_MOE, 0, 0, LA "block_sparse_moe.gate.weight", D_E, D_H),
	LY(A_MOE, 0, F_W | F_EXP, LA "block_sparse_moe.experts.%E.w1.weight", D_XI, D_H),
	LY(A_MOE, 0, F_W | F_EXP, LA "block_sparse_moe.experts.%E.w2.weight", D_H, D_XI),
	LY(A_MOE, 0, F_W | F_EXP, LA "block_sparse_moe.experts.%E.w3.weight", D_XI, D_H),
	LY(0, 0, F_NORM, LA "input_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "post_attention_layernorm.weight", D_H),
	END
};

/* DeepSeek-V3: MLA attention, first_k_dense_replace dense layers, routed +
 * shared experts, sigmoid router with score-correction bias (F32 in the
 * release), and the MTP layer model.layers.<n> whose embed_tokens and
 * shared_head.head are stored again (the loader ties them; the files don't). */
static const tmpl t_deepseek_layer[] = {
	LY(A_MTP, 0, 0, LA "embed_tokens.weight", D_V, D_H),
	LY(A_MTP, 0, F_NORM, LA "enorm.weight", D_H),
	LY(A_MTP, 0, F_NORM, LA "hnorm.weight", D_H),
	LY(A_MTP, 0, 0, LA "eh_proj.weight", D_H, D_H2),
	LY(0, C_QLORA, F_W, LA "self_attn.q_a_proj.weight", D_QLR, D_H),
	LY(0, C_QLORA, F_NORM, LA "self_attn.q_a_layernorm.weight", D_QLR),
	LY(0, C_QLORA, F_W, LA "self_attn.q_b_proj.weight", D_QB, D_QLR),
	LY(0, C_NQLORA, F_W, LA "self_attn.q_proj.weight", D_QB, D_H),
	LY(0, 0, F_W, LA "self_attn.kv_a_proj_with_mqa.weight", D_KVA, D_H),
	LY(0, 0, F_NORM, LA "self_attn.kv_a_layernorm.weight", D_KVLR),
	LY(0, 0, F_W, LA "self_attn.kv_b_proj.weight", D_KVB, D_KVLR),
	LY(0, 0, F_W, LA "self_attn.o_proj.weight", D_H, D_OI),
	LY(A_DENSE, 0, F_W, LA "mlp.gate_proj.weight", D_I, D_H),
	LY(A_DENSE, 0, F_W, LA "mlp.up_proj.weight", D_I, D_H),
	LY(A_DENSE, 0, F_W, LA "mlp.down_proj.weight", D_H, D_I),
	LY(A_MOE, 0, 0, LA "mlp.gate.weight", D_E, D_H),
	LY(A_MOE, C_SCOREB, F_F32 | F_BIAS, LA "mlp.gate.e_score_correction_bias", D_E),
	LY(A_MOE, 0, F_W | F_EXP, LA "mlp.experts.%E.gate_proj.weight", D_XI, D_H),
	LY(A_MOE, 0, F_W | F_EXP, LA "mlp.experts.%E.up_proj.weight", D_XI, D_H),
	LY(A_MOE, 0, F_W | F_EXP, LA "mlp.experts.%E.down_proj.weight", D_H, D_XI),
	LY(A_MOE, C_SHARED, F_W, LA "mlp.shared_experts.gate_proj.weight", D_SI, D_H),
	LY(A_MOE, C_SHARED, F_W, LA "mlp.shared_experts.up_proj.weight", D_SI, D_H),
	LY(A_MOE, C_SHARED, F_W, LA "mlp.shared_experts.down_proj.weight", D_H, D_SI),
	LY(0, 0, F_NORM, LA "input_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "post_attention_layernorm.weight", D_H),
	LY(A_MTP, 0, F_NORM, LA "shared_head.norm.weight", D_H),
	LY(A_MTP, 0, 0, LA "shared_head.head.weight", D_V, D_H),
	END
};

/* Gemma 3 text: QK-norm, four norms per layer (sandwich), GeGLU. */
static const tmpl t_gemma3_layer[] = {
	QWEN3_ATTN,
	LY(0, 0, F_W, LA "mlp.gate_proj.weight", D_I, D_H),
	LY(0, 0, F_W, LA "mlp.up_proj.weight", D_I, D_H),
	LY(0, 0, F_W, LA "mlp.down_proj.weight", D_H, D_I),
	LY(0, 0, F_NORM, LA "input_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "post_attention_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "pre_feedforward_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "post_feedforward_layernorm.weight", D_H),
	END
};

/* gpt-oss as the transformers (bf16) checkpoint names it: attention sinks,
 * mlp.router with bias, experts fused into 3-D gate_up_proj [E, H, 2I] and
 * down_proj [E, I, H] (input dimension first) with per-expert biases.  The
 * original release stores the expert matrices as MXFP4 (U8 *_blocks
 * [E, out, in/32, 16] and E8M0 *_scales [E, out, in/32]); the fixture uses
 * the dequantized layout unless asked for --dtype MXFP4. */
static const tmpl t_gptoss_layer[] = {
	LY(0, 0, F_W, LA "self_attn.q_proj.weight", D_Q, D_H),
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.q_proj.bias", D_Q),
	LY(0, 0, F_W, LA "self_attn.k_proj.weight", D_KV, D_H),
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.k_proj.bias", D_KV),
	LY(0, 0, F_W, LA "self_attn.v_proj.weight", D_KV, D_H),
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.v_proj.bias", D_KV),
	LY(0, 0, F_W, LA "self_attn.o_proj.weight", D_H, D_Q),
	LY(0, C_ABIAS, F_BIAS, LA "self_attn.o_proj.bias", D_H),
	LY(0, 0, F_BIAS, LA "self_attn.sinks", D_NH),
	LY(A_MOE, 0, 0, LA "mlp.router.weight", D_E, D_H),
	LY(A_MOE, 0, F_BIAS, LA "mlp.router.bias", D_E),
	LY(A_MOE, 0, F_MX, LA "mlp.experts.gate_up_proj", D_E, D_H, D_XI2),
	LY(A_MOE, 0, F_BIAS, LA "mlp.experts.gate_up_proj_bias", D_E, D_XI2),
	LY(A_MOE, 0, F_MX, LA "mlp.experts.down_proj", D_E, D_XI, D_H),
	LY(A_MOE, 0, F_BIAS, LA "mlp.experts.down_proj_bias", D_E, D_H),
	LY(0, 0, F_NORM, LA "input_layernorm.weight", D_H),
	LY(0, 0, F_NORM, LA "post_attention_layernorm.weight", D_H),
	END
};

/* Qwen3.5: Gated DeltaNet (linear attention) layers and gated full
 * attention (q_proj doubled: query + output gate) every few layers, a
 * Qwen3-VL style vision tower and the mtp.* block.  No shared checkpoint to
 * check these names against: they follow transformers' qwen3_5 modules. */
#define QWEN35_FULL(LOOP, P)                                                       \
	{ LOOP, A_FULL, 0, F_W, P "self_attn.q_proj.weight", { D_Q2, D_H } },          \
	{ LOOP, A_FULL, 0, F_W, P "self_attn.k_proj.weight", { D_KV, D_H } },          \
	{ LOOP, A_FULL, 0, F_W, P "self_attn.v_proj.weight", { D_KV, D_H } },          \
	{ LOOP, A_FULL, 0, F_W, P "self_attn.o_proj.weight", { D_H, D_Q } },           \
	{ LOOP, A_FULL, 0, F_NORM, P "self_attn.q_norm.weight", { D_HD } },            \
	{ LOOP, A_FULL, 0, F_NORM, P "self_attn.k_norm.weight", { D_HD } }
#define QWEN35_MLP(LOOP, P)                                                        \
	{ LOOP, 0, 0, F_W, P "mlp.gate_proj.weight", { D_I, D_H } },                   \
	{ LOOP, 0, 0, F_W, P "mlp.up_proj.weight", { D_I, D_H } },                     \
	{ LOOP, 0, 0, F_W, P "mlp.down_proj.weight", { D_H, D_I } },                   \
	{ LOOP, 0, 0, F_NORM, P "input_layernorm.weight", { D_H } },                   \
	{ LOOP, 0, 0, F_NORM, P "post_attention_layernorm.weight", { D_H } }

static const tmpl t_qwen35_layer[] = {
	LY(A_LIN, 0, F_W, LA "linear_attn.in_proj_qkv.weight", D_LCONV, D_H),
	LY(A_LIN, 0, F_W, LA "linear_attn.in_proj_z.weight", D_LVAL, D_H),
	LY(A_LIN, 0, 0, LA "linear_attn.in_proj_b.weight", D_LVH, D_H),
	LY(A_LIN, 0, 0, LA "linear_attn.in_proj_a.weight", D_LVH, D_H),
	LY(A_LIN, 0, 0, LA "linear_attn.conv1d.weight", D_LCONV, D_ONE, D_LK),
	LY(A_LIN, 0, F_BIAS, LA "linear_attn.dt_bias", D_LVH),
	LY(A_LIN, 0, F_BIAS, LA "linear_attn.A_log", D_LVH),
	LY(A_LIN, 0, F_NORM, LA "linear_attn.norm.weight", D_LVD),
	LY(A_LIN, 0, F_W, LA "linear_attn.out_proj.weight", D_H, D_LVAL),
	QWEN35_FULL(LP_L, LA),
	QWEN35_MLP(LP_L, LA),
	END
};
static const tmpl t_qwen35_mtp[] = {
	G(0, "mtp.fc.weight", D_H, D_H2),
	G(F_NORM, "mtp.pre_fc_norm_embedding.weight", D_H),
	G(F_NORM, "mtp.pre_fc_norm_hidden.weight", D_H),
	QWEN35_FULL(LP_MTP, "mtp.layers.%L."),
	QWEN35_MLP(LP_MTP, "mtp.layers.%L."),
	G(F_NORM, "mtp.norm.weight", D_H),
	END
};
/* Qwen3-VL style vision tower of Qwen3.5 (no deepstack mergers). */
static const tmpl t_qwen35_vision[] = {
	G(0, "%Vpatch_embed.proj.weight", D_VH, D_VC, D_VT, D_VP, D_VP),
	G(F_BIAS, "%Vpatch_embed.proj.bias", D_VH),
	G(0, "%Vpos_embed.weight", D_VNPOS, D_VH),
	VB(0, F_NORM, "%Vblocks.%L.norm1.weight", D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.norm1.bias", D_VH),
	VB(0, F_W, "%Vblocks.%L.attn.qkv.weight", D_V3, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.attn.qkv.bias", D_V3),
	VB(0, F_W, "%Vblocks.%L.attn.proj.weight", D_VH, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.attn.proj.bias", D_VH),
	VB(0, F_NORM, "%Vblocks.%L.norm2.weight", D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.norm2.bias", D_VH),
	VB(0, F_W, "%Vblocks.%L.mlp.linear_fc1.weight", D_VI, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.mlp.linear_fc1.bias", D_VI),
	VB(0, F_W, "%Vblocks.%L.mlp.linear_fc2.weight", D_VH, D_VI),
	VB(0, F_BIAS, "%Vblocks.%L.mlp.linear_fc2.bias", D_VH),
	G(F_NORM, "%Vmerger.norm.weight", D_VH),
	G(F_BIAS, "%Vmerger.norm.bias", D_VH),
	G(F_W, "%Vmerger.linear_fc1.weight", D_VMH, D_VMH),
	G(F_BIAS, "%Vmerger.linear_fc1.bias", D_VMH),
	G(F_W, "%Vmerger.linear_fc2.weight", D_VOUT, D_VMH),
	G(F_BIAS, "%Vmerger.linear_fc2.bias", D_VOUT),
	END
};

/* SigLIP / CLIP encoder block (Gemma 3 and LLaVA vision towers). */
#define VIT_BLOCK                                                                \
	VB(0, F_W, "%Vencoder.layers.%L.self_attn.k_proj.weight", D_VH, D_VH),       \
	VB(0, F_BIAS, "%Vencoder.layers.%L.self_attn.k_proj.bias", D_VH),            \
	VB(0, F_W, "%Vencoder.layers.%L.self_attn.v_proj.weight", D_VH, D_VH),       \
	VB(0, F_BIAS, "%Vencoder.layers.%L.self_attn.v_proj.bias", D_VH),            \
	VB(0, F_W, "%Vencoder.layers.%L.self_attn.q_proj.weight", D_VH, D_VH),       \
	VB(0, F_BIAS, "%Vencoder.layers.%L.self_attn.q_proj.bias", D_VH),            \
	VB(0, F_W, "%Vencoder.layers.%L.self_attn.out_proj.weight", D_VH, D_VH),     \
	VB(0, F_BIAS, "%Vencoder.layers.%L.self_attn.out_proj.bias", D_VH),          \
	VB(0, F_NORM, "%Vencoder.layers.%L.layer_norm1.weight", D_VH),               \
	VB(0, F_BIAS, "%Vencoder.layers.%L.layer_norm1.bias", D_VH),                 \
	VB(0, F_W, "%Vencoder.layers.%L.mlp.fc1.weight", D_VI, D_VH),                \
	VB(0, F_BIAS, "%Vencoder.layers.%L.mlp.fc1.bias", D_VI),                     \
	VB(0, F_W, "%Vencoder.layers.%L.mlp.fc2.weight", D_VH, D_VI),                \
	VB(0, F_BIAS, "%Vencoder.layers.%L.mlp.fc2.bias", D_VH),                     \
	VB(0, F_NORM, "%Vencoder.layers.%L.layer_norm2.weight", D_VH),               \
	VB(0, F_BIAS, "%Vencoder.layers.%L.layer_norm2.bias", D_VH)

static const tmpl t_siglip[] = {
	G(0, "%Vembeddings.patch_embedding.weight", D_VH, D_VC, D_VP, D_VP),
	G(F_BIAS, "%Vembeddings.patch_embedding.bias", D_VH),
	G(0, "%Vembeddings.position_embedding.weight", D_VPOS, D_VH),
	VIT_BLOCK,
	G(F_NORM, "%Vpost_layernorm.weight", D_VH),
	G(F_BIAS, "%Vpost_layernorm.bias", D_VH),
	GC(C_VHEAD, 0, "%Vhead.probe", D_ONE, D_ONE, D_VH),
	GC(C_VHEAD, F_W, "%Vhead.attention.in_proj_weight", D_V3, D_VH),
	GC(C_VHEAD, F_BIAS, "%Vhead.attention.in_proj_bias", D_V3),
	GC(C_VHEAD, F_W, "%Vhead.attention.out_proj.weight", D_VH, D_VH),
	GC(C_VHEAD, F_BIAS, "%Vhead.attention.out_proj.bias", D_VH),
	GC(C_VHEAD, F_NORM, "%Vhead.layernorm.weight", D_VH),
	GC(C_VHEAD, F_BIAS, "%Vhead.layernorm.bias", D_VH),
	GC(C_VHEAD, F_W, "%Vhead.mlp.fc1.weight", D_VI, D_VH),
	GC(C_VHEAD, F_BIAS, "%Vhead.mlp.fc1.bias", D_VI),
	GC(C_VHEAD, F_W, "%Vhead.mlp.fc2.weight", D_VH, D_VI),
	GC(C_VHEAD, F_BIAS, "%Vhead.mlp.fc2.bias", D_VH),
	END
};
/* Gemma 3 projector: a bare parameter [vision, text] (input dim first). */
static const tmpl t_gemma3_proj[] = {
	G(F_W, "multi_modal_projector.mm_input_projection_weight", D_VH, D_H),
	G(F_NORM, "multi_modal_projector.mm_soft_emb_norm.weight", D_VH),
	END
};

static const tmpl t_clip[] = {
	G(0, "%Vembeddings.class_embedding", D_VH),
	G(0, "%Vembeddings.patch_embedding.weight", D_VH, D_VC, D_VP, D_VP),
	G(0, "%Vembeddings.position_embedding.weight", D_VPOS1, D_VH),
	G(F_NORM, "%Vpre_layrnorm.weight", D_VH), /* sic: CLIP's spelling */
	G(F_BIAS, "%Vpre_layrnorm.bias", D_VH),
	VIT_BLOCK,
	G(F_NORM, "%Vpost_layernorm.weight", D_VH),
	G(F_BIAS, "%Vpost_layernorm.bias", D_VH),
	END
};
static const tmpl t_llava_proj[] = {
	G(F_W, "multi_modal_projector.linear_1.weight", D_H, D_VH),
	GC(C_MMBIAS, F_BIAS, "multi_modal_projector.linear_1.bias", D_H),
	G(F_W, "multi_modal_projector.linear_2.weight", D_H, D_H),
	GC(C_MMBIAS, F_BIAS, "multi_modal_projector.linear_2.bias", D_H),
	END
};

/* Qwen2-VL vision: LayerNorm, fc1/fc2 MLP.  Qwen2.5-VL: RMSNorm, SwiGLU. */
static const tmpl t_qwen2vl_vision[] = {
	G(0, "%Vpatch_embed.proj.weight", D_VH, D_VC, D_VT, D_VP, D_VP),
	VB(0, F_NORM, "%Vblocks.%L.norm1.weight", D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.norm1.bias", D_VH),
	VB(0, F_NORM, "%Vblocks.%L.norm2.weight", D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.norm2.bias", D_VH),
	VB(0, F_W, "%Vblocks.%L.attn.qkv.weight", D_V3, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.attn.qkv.bias", D_V3),
	VB(0, F_W, "%Vblocks.%L.attn.proj.weight", D_VH, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.attn.proj.bias", D_VH),
	VB(0, F_W, "%Vblocks.%L.mlp.fc1.weight", D_VI, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.mlp.fc1.bias", D_VI),
	VB(0, F_W, "%Vblocks.%L.mlp.fc2.weight", D_VH, D_VI),
	VB(0, F_BIAS, "%Vblocks.%L.mlp.fc2.bias", D_VH),
	G(F_NORM, "%Vmerger.ln_q.weight", D_VH),
	G(F_BIAS, "%Vmerger.ln_q.bias", D_VH),
	G(F_W, "%Vmerger.mlp.0.weight", D_VMH, D_VMH),
	G(F_BIAS, "%Vmerger.mlp.0.bias", D_VMH),
	G(F_W, "%Vmerger.mlp.2.weight", D_VOUT, D_VMH),
	G(F_BIAS, "%Vmerger.mlp.2.bias", D_VOUT),
	END
};
static const tmpl t_qwen25vl_vision[] = {
	G(0, "%Vpatch_embed.proj.weight", D_VH, D_VC, D_VT, D_VP, D_VP),
	VB(0, F_NORM, "%Vblocks.%L.norm1.weight", D_VH),
	VB(0, F_NORM, "%Vblocks.%L.norm2.weight", D_VH),
	VB(0, F_W, "%Vblocks.%L.attn.qkv.weight", D_V3, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.attn.qkv.bias", D_V3),
	VB(0, F_W, "%Vblocks.%L.attn.proj.weight", D_VH, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.attn.proj.bias", D_VH),
	VB(0, F_W, "%Vblocks.%L.mlp.gate_proj.weight", D_VI, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.mlp.gate_proj.bias", D_VI),
	VB(0, F_W, "%Vblocks.%L.mlp.up_proj.weight", D_VI, D_VH),
	VB(0, F_BIAS, "%Vblocks.%L.mlp.up_proj.bias", D_VI),
	VB(0, F_W, "%Vblocks.%L.mlp.down_proj.weight", D_VH, D_VI),
	VB(0, F_BIAS, "%Vblocks.%L.mlp.down_proj.bias", D_VH),
	G(F_NORM, "%Vmerger.ln_q.weight", D_VH),
	G(F_W, "%Vmerger.mlp.0.weight", D_VMH, D_VMH),
	G(F_BIAS, "%Vmerger.mlp.0.bias", D_VMH),
	G(F_W, "%Vmerger.mlp.2.weight", D_VOUT, D_VMH),
	G(F_BIAS, "%Vmerger.mlp.2.bias", D_VOUT),
	END
};

/* T5 / Flan-T5: encoder-decoder, relative attention bias in block 0 only. */
#define T5_ATTN(LOOP, P, KIND)                                                      \
	{ LOOP, 0, 0, F_W, P KIND ".q.weight", { D_Q, D_H } },                          \
	{ LOOP, 0, 0, F_W, P KIND ".k.weight", { D_Q, D_H } },                          \
	{ LOOP, 0, 0, F_W, P KIND ".v.weight", { D_Q, D_H } },                          \
	{ LOOP, 0, 0, F_W, P KIND ".o.weight", { D_H, D_Q } }
#define T5_FFN(LOOP, P)                                                             \
	{ LOOP, 0, C_GATED, F_W, P "DenseReluDense.wi_0.weight", { D_I, D_H } },        \
	{ LOOP, 0, C_GATED, F_W, P "DenseReluDense.wi_1.weight", { D_I, D_H } },        \
	{ LOOP, 0, C_NGATED, F_W, P "DenseReluDense.wi.weight", { D_I, D_H } },         \
	{ LOOP, 0, 0, F_W, P "DenseReluDense.wo.weight", { D_H, D_I } },                \
	{ LOOP, 0, 0, F_NORM, P "layer_norm.weight", { D_H } }

static const tmpl t_t5[] = {
	G(0, "shared.weight", D_V, D_H),
	T5_ATTN(LP_ENC, "encoder.block.%L.layer.0.", "SelfAttention"),
	EN(A_FIRST, 0, 0, "encoder.block.%L.layer.0.SelfAttention.relative_attention_bias.weight", D_RB, D_NH),
	EN(0, 0, F_NORM, "encoder.block.%L.layer.0.layer_norm.weight", D_H),
	T5_FFN(LP_ENC, "encoder.block.%L.layer.1."),
	G(F_NORM, "encoder.final_layer_norm.weight", D_H),
	T5_ATTN(LP_DEC, "decoder.block.%L.layer.0.", "SelfAttention"),
	DE(A_FIRST, 0, 0, "decoder.block.%L.layer.0.SelfAttention.relative_attention_bias.weight", D_RB, D_NH),
	DE(0, 0, F_NORM, "decoder.block.%L.layer.0.layer_norm.weight", D_H),
	T5_ATTN(LP_DEC, "decoder.block.%L.layer.1.", "EncDecAttention"),
	DE(0, 0, F_NORM, "decoder.block.%L.layer.1.layer_norm.weight", D_H),
	T5_FFN(LP_DEC, "decoder.block.%L.layer.2."),
	G(F_NORM, "decoder.final_layer_norm.weight", D_H),
	GC(C_UNTIED, 0, "lm_head.weight", D_V, D_H),
	END
};

/* ---- GGUF templates (llama.cpp names, ggml-order shapes) ---------------- */

#define BLK "blk.%L."
static const tmpl g_head[] = {
	/* convert_hf_to_gguf.py stores Llama 3.1's rope scaling as factors. */
	GC(C_ROPE3, F_F32 | F_NORM, "rope_freqs.weight", D_HD2),
	G(0, "token_embd.weight", D_H, D_V),
	END
};
static const tmpl g_tail[] = {
	G(F_NORM, "output_norm.weight", D_H),
	GC(C_UNTIED, 0, "output.weight", D_H, D_V),
	END
};
#define G_ATTN                                                                   \
	LY(0, 0, F_NORM, BLK "attn_norm.weight", D_H),                               \
	LY(0, 0, F_W, BLK "attn_q.weight", D_H, D_Q),                                \
	LY(0, 0, F_W, BLK "attn_k.weight", D_H, D_KV),                               \
	LY(0, 0, F_W, BLK "attn_v.weight", D_H, D_KV),                               \
	LY(0, 0, F_W, BLK "attn_output.weight", D_Q, D_H)
#define G_QKNORM                                                                 \
	LY(0, 0, F_NORM, BLK "attn_q_norm.weight", D_HD),                            \
	LY(0, 0, F_NORM, BLK "attn_k_norm.weight", D_HD)
#define G_FFN(W)                                                                 \
	LY(W, 0, F_W, BLK "ffn_gate.weight", D_H, D_I),                              \
	LY(W, 0, F_W, BLK "ffn_up.weight", D_H, D_I),                                \
	LY(W, 0, F_W, BLK "ffn_down.weight", D_I, D_H)
#define G_EXPS                                                                   \
	LY(A_MOE, 0, F_F32, BLK "ffn_gate_inp.weight", D_H, D_E),                    \
	LY(A_MOE, 0, F_W, BLK "ffn_gate_exps.weight", D_H, D_XI, D_E),               \
	LY(A_MOE, 0, F_W, BLK "ffn_up_exps.weight", D_H, D_XI, D_E),                 \
	LY(A_MOE, 0, F_W, BLK "ffn_down_exps.weight", D_XI, D_H, D_E)

static const tmpl g_llama[] = {
	G_ATTN, LY(0, 0, F_NORM, BLK "ffn_norm.weight", D_H), G_FFN(0), END
};
static const tmpl g_qwen3[] = {
	G_ATTN, G_QKNORM, LY(0, 0, F_NORM, BLK "ffn_norm.weight", D_H), G_FFN(0), END
};
static const tmpl g_qwen3moe[] = {
	G_ATTN, G_QKNORM, LY(0, 0, F_NORM, BLK "ffn_norm.weight", D_H),
	G_FFN(A_DENSE), G_EXPS, END
};
static const tmpl g_gemma3[] = {
	G_ATTN, G_QKNORM,
	LY(0, 0, F_NORM, BLK "post_attention_norm.weight", D_H),
	LY(0, 0, F_NORM, BLK "ffn_norm.weight", D_H),
	G_FFN(0),
	LY(0, 0, F_NORM, BLK "post_ffw_norm.weight", D_H),
	END
};
/* llama.cpp splits kv_b into per-head k_b [nope, kv_lora, heads] and
 * v_b [kv_lora, v_head, heads]; the MTP layer is not converted. */
static const tmpl g_deepseek2[] = {
	LY(0, 0, F_NORM, BLK "attn_norm.weight", D_H),
	LY(0, C_QLORA, F_W, BLK "attn_q_a.weight", D_H, D_QLR),
	LY(0, C_QLORA, F_NORM, BLK "attn_q_a_norm.weight", D_QLR),
	LY(0, C_QLORA, F_W, BLK "attn_q_b.weight", D_QLR, D_QB),
	LY(0, C_NQLORA, F_W, BLK "attn_q.weight", D_H, D_QB),
	LY(0, 0, F_W, BLK "attn_kv_a_mqa.weight", D_H, D_KVA),
	LY(0, 0, F_NORM, BLK "attn_kv_a_norm.weight", D_KVLR),
	LY(0, 0, F_W, BLK "attn_k_b.weight", D_NOPE, D_KVLR, D_NH),
	LY(0, 0, F_W, BLK "attn_v_b.weight", D_KVLR, D_VHD, D_NH),
	LY(0, 0, F_W, BLK "attn_output.weight", D_OI, D_H),
	LY(0, 0, F_NORM, BLK "ffn_norm.weight", D_H),
	G_FFN(A_DENSE),
	G_EXPS,
	LY(A_MOE, C_SCOREB, F_F32, BLK "exp_probs_b.bias", D_E),
	LY(A_MOE, C_SHARED, F_W, BLK "ffn_gate_shexp.weight", D_H, D_SI),
	LY(A_MOE, C_SHARED, F_W, BLK "ffn_up_shexp.weight", D_H, D_SI),
	LY(A_MOE, C_SHARED, F_W, BLK "ffn_down_shexp.weight", D_SI, D_H),
	END
};

/* GGUF metadata: "%A." is the GGUF architecture name. */
enum { GT_U32, GT_F32, GT_BOOL, GT_STR };
enum { GV_DIM, GV_CFG, GV_CONST, GV_FIRST_DENSE, GV_GATING };
typedef struct gkv {
	const char *key;
	uint8_t type, src, dim;
	const char *cfg;    /* GV_CFG: config keys ('|' alternatives) */
	double def;
} gkv;

#define KD(k, d) { "%A." k, GT_U32, GV_DIM, d, NULL, 0 }
#define KCU(k, c, def) { "%A." k, GT_U32, GV_CFG, 0, c, def }
#define KCF(k, c, def) { "%A." k, GT_F32, GV_CFG, 0, c, def }
#define KCB(k, c, def) { "%A." k, GT_BOOL, GV_CFG, 0, c, def }
#define KCONST(k, v) { "%A." k, GT_U32, GV_CONST, 0, NULL, v }
#define KEND { NULL, 0, 0, 0, NULL, 0 }
#define ROPE_THETA "rope_theta|rope_parameters.rope_theta|rope_parameters.full_attention.rope_theta"
#define KV_COMMON(ctx) \
	KD("block_count", D_L),                                                       \
	KCU("context_length", "max_position_embeddings", ctx),                       \
	KD("embedding_length", D_H),                                                  \
	KD("feed_forward_length", D_I),                                               \
	KD("attention.head_count", D_NH),                                             \
	KCF("rope.freq_base", ROPE_THETA, 10000),                                     \
	KCF("attention.layer_norm_rms_epsilon", "rms_norm_eps", 1e-6),                \
	KD("vocab_size", D_V)
#define KV_GQA                                                                    \
	KD("attention.head_count_kv", D_NKV),                                         \
	KD("attention.key_length", D_HD),                                             \
	KD("attention.value_length", D_HD)
#define KV_MOE                                                                    \
	KD("expert_count", D_E),                                                      \
	KCU("expert_used_count", "num_experts_per_tok", 0),                          \
	KD("expert_feed_forward_length", D_XI)

static const gkv k_llama[] = { KV_COMMON(4096), KV_GQA, KD("rope.dimension_count", D_HD), KEND };
static const gkv k_qwen3[] = { KV_COMMON(4096), KV_GQA, KEND };
static const gkv k_qwen3moe[] = { KV_COMMON(4096), KV_GQA, KV_MOE, KEND };
static const gkv k_gemma3[] = {
	KV_COMMON(131072), KV_GQA, /* Gemma3TextConfig default context */
	KCU("attention.sliding_window", "sliding_window", 4096),
	KCF("rope.freq_base_swa", "rope_local_base_freq|rope_parameters.sliding_attention.rope_theta", 10000),
	KEND
};
/* MLA as llama.cpp sees it: one latent "kv head" of kv_lora_rank + rope. */
static const gkv k_deepseek2[] = {
	KV_COMMON(4096), KV_MOE,
	KCONST("attention.head_count_kv", 1),
	KD("attention.key_length", D_KVA),
	KD("attention.value_length", D_KVLR),
	KD("attention.key_length_mla", D_QHD),
	KD("attention.value_length_mla", D_VHD),
	KD("attention.q_lora_rank", D_QLR),
	KD("attention.kv_lora_rank", D_KVLR),
	KD("rope.dimension_count", D_ROPE),
	{ "%A.leading_dense_block_count", GT_U32, GV_FIRST_DENSE, 0, NULL, 0 },
	KD("expert_shared_count", D_NSH),
	KCF("expert_weights_scale", "routed_scaling_factor", 1.0),
	KCB("expert_weights_norm", "norm_topk_prob", 0),
	{ "%A.expert_gating_func", GT_U32, GV_GATING, 0, NULL, 0 },
	KCU("expert_group_count", "n_group", 1),
	KCU("expert_group_used_count", "topk_group", 1),
	KEND
};

/* ---- architectures ------------------------------------------------------ */

enum { MTP_NONE, MTP_INLINE, MTP_SEPARATE };

typedef struct arch_def {
	const char *model_types;  /* '|' separated */
	const tmpl *parts[5];     /* HF templates, in state_dict order */
	const char *top, *text;   /* %T and %P */
	const char *vision, *vision_v5; /* %V before / since transformers 5 */
	bool tie_default;
	uint8_t mtp;
	const char *gguf_arch;
	const tmpl *gguf_layer;
	const gkv *gguf_kv;
	struct { uint8_t dim; int64_t v; } defaults[2]; /* config class defaults the hub file omits */
} arch_def;

/* Gemma3TextConfig's vocab_size default: gemma-3-27b-it's config omits it. */
#define GEMMA3_DEFAULTS { { D_V, 262208 }, { 0, 0 } }
#define NODEF { { 0, 0 }, { 0, 0 } }

static const arch_def archs[] = {
	{ "llama|mistral", { t_embed, t_llama_layer, t_final }, "", "model.", NULL, NULL,
	  false, MTP_NONE, "llama", g_llama, k_llama, NODEF },
	{ "qwen2", { t_embed, t_qwen2_layer, t_final }, "", "model.", NULL, NULL,
	  false, MTP_NONE, NULL, NULL, NULL, NODEF },
	{ "qwen3", { t_embed, t_qwen3_layer, t_final }, "", "model.", NULL, NULL,
	  false, MTP_NONE, "qwen3", g_qwen3, k_qwen3, NODEF },
	{ "qwen3_moe", { t_embed, t_qwen3moe_layer, t_final }, "", "model.", NULL, NULL,
	  false, MTP_NONE, "qwen3moe", g_qwen3moe, k_qwen3moe, NODEF },
	{ "mixtral", { t_embed, t_mixtral_layer, t_final }, "", "model.", NULL, NULL,
	  false, MTP_NONE, NULL, NULL, NULL, NODEF },
	{ "deepseek_v3|deepseek_v2", { t_embed, t_deepseek_layer, t_final }, "", "model.", NULL, NULL,
	  false, MTP_INLINE, "deepseek2", g_deepseek2, k_deepseek2, NODEF },
	{ "gemma3_text", { t_embed, t_gemma3_layer, t_final }, "", "model.", NULL, NULL,
	  true, MTP_NONE, "gemma3", g_gemma3, k_gemma3, GEMMA3_DEFAULTS },
	{ "gemma3", { t_siglip, t_gemma3_proj, t_embed, t_gemma3_layer, t_final },
	  "language_model.", "language_model.model.", "vision_tower.vision_model.", "vision_tower.",
	  true, MTP_NONE, "gemma3", g_gemma3, k_gemma3, GEMMA3_DEFAULTS },
	{ "llava", { t_clip, t_llava_proj, t_embed, t_llama_layer, t_final },
	  "language_model.", "language_model.model.", "vision_tower.vision_model.", "vision_tower.",
	  false, MTP_NONE, NULL, NULL, NULL, NODEF },
	{ "qwen2_vl", { t_qwen2vl_vision, t_embed, t_qwen2_layer, t_final }, "", "model.", "visual.", "visual.",
	  false, MTP_NONE, NULL, NULL, NULL, NODEF },
	{ "qwen2_5_vl", { t_qwen25vl_vision, t_embed, t_qwen2_layer, t_final }, "", "model.", "visual.", "visual.",
	  false, MTP_NONE, NULL, NULL, NULL, NODEF },
	{ "qwen3_5", { t_qwen35_vision, t_embed, t_qwen35_layer, t_final, t_qwen35_mtp },
	  "", "model.language_model.", "model.visual.", "model.visual.",
	  false, MTP_SEPARATE, NULL, NULL, NULL, NODEF },
	{ "qwen3_5_text", { t_embed, t_qwen35_layer, t_final, t_qwen35_mtp }, "", "model.", NULL, NULL,
	  false, MTP_SEPARATE, NULL, NULL, NULL, NODEF },
	{ "t5", { t_t5 }, "", "", NULL, NULL, true, MTP_NONE, NULL, NULL, NULL, NODEF },
	{ "gpt_oss", { t_embed, t_gptoss_layer, t_final }, "", "model.", NULL, NULL,
	  false, MTP_NONE, NULL, NULL, NULL, NODEF },
};

/* ---- small helpers ------------------------------------------------------ */

static bool list_has(const char *list, const char *s)
{
	size_t n = strlen(s);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, '|');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && memcmp(p, s, n) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

/* Looks up a dotted path ("rope_parameters.rope_theta") in obj. */
static const cJSON *json_path(const cJSON *obj, const char *path, size_t len)
{
	char key[128];
	while (obj && len) {
		const char *dot = memchr(path, '.', len);
		size_t n = dot ? (size_t)(dot - path) : len;
		if (n >= sizeof key)
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		obj = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
		if (!dot)
			return obj;
		path += n + 1;
		len -= n + 1;
	}
	return NULL;
}

/* First of the '|' alternatives found in any of objs (in order) that is not null. */
static const cJSON *json_find(const cJSON *const *objs, int n_objs, const char *keys)
{
	for (int o = 0; o < n_objs; o++) {
		if (!objs[o])
			continue;
		for (const char *p = keys; *p;) {
			const char *e = strchr(p, '|');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			const cJSON *v = json_path(objs[o], p, len);
			if (v && !cJSON_IsNull(v))
				return v;
			if (!e)
				break;
			p = e + 1;
		}
	}
	return NULL;
}

/* ---- the generator ------------------------------------------------------ */

enum { INIT_NORMAL, INIT_ONES, INIT_SCALE, INIT_E8M0 };

typedef struct stensor {
	char *name;
	pj_dtype dt;
	uint8_t nd, init;
	int64_t shape[MAXD];
	uint64_t nbytes;
	uint64_t off;      /* within its file's data section */
	uint32_t shard;
} stensor;

typedef struct gen {
	const char *path;        /* config file, for messages */
	char *text;              /* config bytes */
	size_t text_len;
	cJSON *root;
	const cJSON *objs[2];    /* text lookups: text_config, root */
	const cJSON *vision;
	const arch_def *arch;
	int64_t d[D_COUNT];
	uint32_t conds;
	bool v5, gguf;
	pj_dtype base;           /* dtype of ordinary tensors */
	bool fp8, mxfp4;
	int64_t fp8_block[2];
	int n_layers, n_mtp, first_dense, moe_freq, sparse_step, full_interval;
	const cJSON *mlp_only, *layer_types;
	stensor *t;
	size_t n, cap;
} gen;

static void gen_free(gen *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->t[i].name);
	free(g->t);
	cJSON_Delete(g->root);
	free(g->text);
}

static int64_t num_text(const gen *g, const char *keys, int64_t def)
{
	const cJSON *v = json_find(g->objs, 2, keys);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

static bool bool_text(const gen *g, const char *keys, bool def)
{
	const cJSON *v = json_find(g->objs, 2, keys);
	return v && cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static const char *str_text(const gen *g, const char *keys)
{
	const cJSON *v = json_find(g->objs, 2, keys);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* a * b, or 0 (unset) when it leaves the range of a dimension. */
static int64_t mul_dim(int64_t a, int64_t b)
{
	return a > 0 && b > 0 && a <= DIM_MAX / b ? a * b : 0;
}

static void apply_rules(gen *g)
{
	int64_t *d = g->d;
	for (size_t i = 0; i < sizeof dim_rules / sizeof dim_rules[0]; i++) {
		const struct dim_rule *r = &dim_rules[i];
		int64_t a = d[r->a], b = d[r->b], v = 0;
		if (d[r->dim])
			continue;
		switch (r->op) {
		case R_CONST: v = r->k; break;
		case R_COPY: v = a; break;
		case R_MUL: v = mul_dim(a, b); break;
		case R_ADD: v = a && b ? a + b : 0; break;
		case R_DIV: v = b ? a / b : 0; break;
		case R_MULK: v = mul_dim(a, r->k); break;
		case R_SQDIV: v = b ? mul_dim(a / b, a / b) : 0; break;
		case R_ADDK: v = a ? a + r->k : 0; break;
		case R_MULSQ: v = mul_dim(mul_dim(a, b), b); break;
		case R_DIVK: v = a / r->k; break;
		}
		d[r->dim] = v;
	}
}

static pj_status parse_dtype(const char *s, pj_dtype *out)
{
	static const struct { const char *torch; pj_dtype dt; } names[] = {
		{ "bfloat16", PJ_DT_BF16 }, { "float16", PJ_DT_F16 }, { "float32", PJ_DT_F32 },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i].torch) == 0) {
			*out = names[i].dt;
			return PJ_OK;
		}
	return pj_dtype_from_name(s, out) ? PJ_OK : PJ_EUSAGE;
}

static pj_status gen_load(gen *g, const char *config_path, const pj_synth_opts *o, pj_error *err)
{
	memset(g, 0, sizeof *g);
	g->path = config_path;
	g->gguf = o->format == PJ_SYNTH_GGUF;

	FILE *f = fopen(config_path, "rb");
	if (!f)
		return pj_fail(err, PJ_EIO, "%s: %s", config_path, strerror(errno));
	sbuf b = { 0 };
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		sb_add(&b, chunk, n);
	bool bad = ferror(f);
	fclose(f);
	g->text = b.p ? b.p : pj_xstrdup("");
	g->text_len = b.n;
	if (bad)
		return pj_fail(err, PJ_EIO, "%s: read error", config_path);
	g->root = cJSON_ParseWithLength(g->text, g->text_len);
	if (!cJSON_IsObject(g->root))
		return pj_fail(err, PJ_EFORMAT, "%s: not a JSON object", config_path);

	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(g->root, "model_type");
	if (!cJSON_IsString(mt))
		return pj_fail(err, PJ_EFORMAT, "%s: no \"model_type\"", config_path);
	for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
		if (list_has(archs[i].model_types, mt->valuestring))
			g->arch = &archs[i];
	if (!g->arch) {
		sbuf s = { 0 };
		for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
			sb_printf(&s, "%s%s", i ? "|" : "", archs[i].model_types);
		pj_fail(err, PJ_EUNSUPPORTED, "%s: model_type \"%s\" is not supported by the synthetic generator (supported: %s)",
		        config_path, mt->valuestring, s.p);
		free(s.p);
		return PJ_EUNSUPPORTED;
	}
	if (g->gguf && !g->arch->gguf_arch)
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: GGUF output is not available for model_type \"%s\" (only llama, qwen3, qwen3_moe, gemma3, deepseek_v3)",
		               config_path, mt->valuestring);

	g->objs[0] = cJSON_GetObjectItemCaseSensitive(g->root, "text_config");
	g->objs[1] = g->root;
	g->vision = cJSON_GetObjectItemCaseSensitive(g->root, "vision_config");

	const cJSON *tv = cJSON_GetObjectItemCaseSensitive(g->root, "transformers_version");
	g->v5 = cJSON_IsString(tv) && atoi(tv->valuestring) >= 5;

	for (size_t i = 0; i < sizeof dim_keys / sizeof dim_keys[0]; i++) {
		const struct dim_key *k = &dim_keys[i];
		const cJSON *v = k->src == SRC_TEXT ? json_find(g->objs, 2, k->keys)
		                                    : json_find(&g->vision, 1, k->keys);
		if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= DIM_MAX)
			g->d[k->dim] = (int64_t)v->valuedouble;
	}
	for (size_t i = 0; i < sizeof g->arch->defaults / sizeof g->arch->defaults[0]; i++)
		if (g->arch->defaults[i].dim && !g->d[g->arch->defaults[i].dim])
			g->d[g->arch->defaults[i].dim] = g->arch->defaults[i].v;
	apply_rules(g);

	/* Layer plan. */
	g->n_layers = (int)g->d[D_L];
	if (g->n_layers <= 0)
		return pj_fail(err, PJ_EFORMAT, "%s: no \"num_hidden_layers\"", config_path);
	g->first_dense = (int)num_text(g, "first_k_dense_replace", 0);
	g->moe_freq = (int)num_text(g, "moe_layer_freq", 1);
	g->sparse_step = (int)num_text(g, "decoder_sparse_step", 1);
	g->full_interval = (int)num_text(g, "full_attention_interval", 0);
	g->mlp_only = json_find(g->objs, 2, "mlp_only_layers");
	g->layer_types = json_find(g->objs, 2, "layer_types");
	if (g->moe_freq < 1)
		g->moe_freq = 1;
	if (g->sparse_step < 1)
		g->sparse_step = 1;
	/* transformers does not model MTP heads, so its saves carry none. */
	if (g->arch->mtp != MTP_NONE && !g->v5 && !g->gguf)
		g->n_mtp = (int)num_text(g, "num_nextn_predict_layers|mtp_num_hidden_layers", 0);

	/* Conditions. */
	const cJSON *tie = cJSON_GetObjectItemCaseSensitive(g->root, "tie_word_embeddings");
	if (!cJSON_IsBool(tie) && g->objs[0])
		tie = cJSON_GetObjectItemCaseSensitive(g->objs[0], "tie_word_embeddings");
	bool tied = cJSON_IsBool(tie) ? cJSON_IsTrue(tie) : g->arch->tie_default;
	const char *ffp = str_text(g, "feed_forward_proj");
	bool gated = bool_text(g, "is_gated_act", ffp && strncmp(ffp, "gated-", 6) == 0);
	bool vhead = true;
	if (g->vision) {
		const cJSON *vh = cJSON_GetObjectItemCaseSensitive(g->vision, "vision_use_head");
		vhead = !cJSON_IsBool(vh) || cJSON_IsTrue(vh);
	}
	const char *topk = str_text(g, "topk_method");
	const char *rope = str_text(g, "rope_scaling.rope_type|rope_parameters.rope_type");
	const char *mt_s = mt->valuestring;
	struct { uint32_t bit; bool on; } cs[] = {
		{ C_UNTIED, !tied },
		{ C_VHEAD, vhead },
		{ C_GATED, gated },
		{ C_NGATED, !gated },
		{ C_QLORA, g->d[D_QLR] > 0 },
		{ C_NQLORA, g->d[D_QLR] == 0 },
		{ C_ABIAS, bool_text(g, "attention_bias", false) },
		{ C_SHARED, g->d[D_NSH] > 0 },
		{ C_MMBIAS, bool_text(g, "multimodal_projector_bias", true) },
		{ C_SCOREB, strcmp(mt_s, "deepseek_v3") == 0 || (topk && strcmp(topk, "noaux_tc") == 0) },
		{ C_ROPE3, rope && strcmp(rope, "llama3") == 0 },
	};
	for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
		if (cs[i].on)
			g->conds |= cs[i].bit;

	/* Dtypes. */
	g->base = PJ_DT_BF16;
	const char *cfg_dt = str_text(g, "torch_dtype|dtype");
	if (cfg_dt && parse_dtype(cfg_dt, &g->base) != PJ_OK)
		g->base = PJ_DT_BF16;
	if (o->dtype) {
		pj_dtype dt;
		if (parse_dtype(o->dtype, &dt) != PJ_OK ||
		    (dt != PJ_DT_BF16 && dt != PJ_DT_F16 && dt != PJ_DT_F32 && dt != PJ_DT_F8_E4M3 &&
		     dt != PJ_DT_MXFP4))
			return pj_fail(err, PJ_EUSAGE, "unsupported dtype \"%s\" (BF16, F16, F32, F8_E4M3 or MXFP4)", o->dtype);
		if (dt == PJ_DT_F8_E4M3)
			g->fp8 = true;
		else if (dt == PJ_DT_MXFP4)
			g->mxfp4 = true;
		else
			g->base = dt;
	}
	if (g->base == PJ_DT_F8_E4M3)
		g->base = PJ_DT_BF16;
	g->fp8_block[0] = g->fp8_block[1] = 128;
	const cJSON *qc = cJSON_GetObjectItemCaseSensitive(g->root, "quantization_config");
	const cJSON *qm = qc ? cJSON_GetObjectItemCaseSensitive(qc, "quant_method") : NULL;
	/* An explicit --dtype asks for a dequantized copy (as community bf16
	 * re-uploads and convert_hf_to_gguf.py produce); GGUF never holds FP8. */
	if (cJSON_IsString(qm) && strcmp(qm->valuestring, "fp8") == 0 && !o->dtype && !g->gguf) {
		g->fp8 = true;
		const cJSON *bs = cJSON_GetObjectItemCaseSensitive(qc, "weight_block_size");
		if (cJSON_GetArraySize(bs) == 2) {
			for (int i = 0; i < 2; i++) {
				const cJSON *x = cJSON_GetArrayItem(bs, i);
				if (cJSON_IsNumber(x) && x->valuedouble >= 1)
					g->fp8_block[i] = (int64_t)x->valuedouble;
			}
		}
	}
	if (g->gguf && (g->fp8 || g->mxfp4))
		return pj_fail(err, PJ_EUSAGE, "%s: GGUF output takes --dtype BF16, F16 or F32", config_path);
	return PJ_OK;
}

static bool json_int_in(const cJSON *arr, int v)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, arr)
		if (cJSON_IsNumber(x) && (int)x->valuedouble == v)
			return true;
	return false;
}

static unsigned layer_attrs(const gen *g, int loop, int l)
{
	unsigned a = l == 0 ? A_FIRST : 0;
	if (loop == LP_MTP)
		return a | A_FULL | A_DENSE;
	if (loop != LP_L)
		return a;
	bool moe = g->d[D_E] > 0 && l >= g->first_dense && l % g->moe_freq == 0 &&
	           (l + 1) % g->sparse_step == 0 && !json_int_in(g->mlp_only, l);
	a |= moe ? A_MOE : A_DENSE;
	if (l >= g->n_layers)
		a |= A_MTP;
	const cJSON *lt = l < cJSON_GetArraySize(g->layer_types) ? cJSON_GetArrayItem(g->layer_types, l) : NULL;
	if (cJSON_IsString(lt))
		a |= strcmp(lt->valuestring, "linear_attention") == 0 ? A_LIN : A_FULL;
	else if (g->full_interval > 0)
		a |= (l + 1) % g->full_interval == 0 ? A_FULL : A_LIN;
	else
		a |= A_FULL;
	return a;
}

static void expand_name(const gen *g, sbuf *b, const char *pat, int layer, int expert)
{
	const char *vis = g->v5 && g->arch->vision_v5 ? g->arch->vision_v5 : g->arch->vision;
	b->n = 0;
	for (const char *p = pat; *p; p++) {
		if (*p != '%' || !p[1]) {
			sb_add(b, p, 1);
			continue;
		}
		switch (*++p) {
		case 'T': sb_str(b, g->arch->top); break;
		case 'P': sb_str(b, g->arch->text); break;
		case 'V': sb_str(b, vis ? vis : ""); break;
		case 'A': sb_str(b, g->arch->gguf_arch); break;
		case 'L': sb_printf(b, "%d", layer); break;
		case 'E': sb_printf(b, "%d", expert); break;
		default: sb_add(b, p - 1, 2); break;
		}
	}
}

static stensor *push(gen *g)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 1024;
		g->t = pj_xrealloc(g->t, g->cap * sizeof *g->t);
	}
	stensor *t = &g->t[g->n++];
	memset(t, 0, sizeof *t);
	return t;
}

/* gpt-oss release layout of one expert matrix [E, in, out]: U8 blocks of
 * 32 4-bit values [E, out, in/32, 16] and one E8M0 scale per block. */
static pj_status emit_mxfp4(gen *g, const char *name, const int64_t *shape, pj_error *err)
{
	if (shape[1] % 32)
		return pj_fail(err, PJ_EFORMAT, "%s: %s: input dimension %lld is not a multiple of 32 (MXFP4)",
		               g->path, name, (long long)shape[1]);
	for (int k = 0; k < 2; k++) {
		stensor *t = push(g);
		t->name = pj_xasprintf("%s_%s", name, k ? "scales" : "blocks");
		t->dt = PJ_DT_U8;
		t->nd = k ? 3 : 4;
		t->init = k ? INIT_E8M0 : INIT_NORMAL;
		t->shape[0] = shape[0];
		t->shape[1] = shape[2];
		t->shape[2] = shape[1] / 32;
		t->shape[3] = 16;
		t->nbytes = (uint64_t)t->shape[0] * (uint64_t)t->shape[1] * (uint64_t)t->shape[2] * (k ? 1 : 16);
	}
	return PJ_OK;
}

static pj_status emit(gen *g, const tmpl *tp, int layer, int expert, sbuf *nb, pj_error *err)
{
	expand_name(g, nb, tp->name, layer, expert);
	int64_t shape[MAXD];
	int nd = 0;
	unsigned long long nel = 1;
	for (; nd < MAXD && tp->dim[nd]; nd++) {
		shape[nd] = g->d[tp->dim[nd]];
		if (shape[nd] <= 0)
			return pj_fail(err, PJ_EFORMAT, "%s: tensor %s needs %s, which the config does not give",
			               g->path, nb->p, dim_names[tp->dim[nd]]);
		if (pj_mul_u64(nel, (unsigned long long)shape[nd], &nel))
			return pj_fail(err, PJ_ENOMEM, "%s: tensor %s is too large", g->path, nb->p);
	}
	if (g->n >= MAX_TENSORS)
		return pj_fail(err, PJ_ENOMEM, "%s: more than %zu tensors", g->path, MAX_TENSORS);
	if (g->mxfp4 && (tp->flags & F_MX) && nd == 3)
		return emit_mxfp4(g, nb->p, shape, err);
	pj_dtype dt = g->base;
	if (g->gguf) {
		if (nd == 1 || (tp->flags & F_F32))
			dt = PJ_DT_F32;
	} else if ((tp->flags & F_F32) && !g->v5) {
		dt = PJ_DT_F32;
	}
	bool fp8 = g->fp8 && (tp->flags & F_W) && nd == 2;
	if (fp8)
		dt = PJ_DT_F8_E4M3;

	stensor *t = push(g);
	t->name = pj_xstrndup(nb->p, nb->n);
	t->dt = dt;
	t->nd = (uint8_t)nd;
	t->init = (tp->flags & F_NORM) ? INIT_ONES : INIT_NORMAL;
	memcpy(t->shape, shape, sizeof shape);
	if (!pj_dtype_bytes(dt, nel, &t->nbytes))
		return pj_fail(err, PJ_ENOMEM, "%s: tensor %s is too large", g->path, t->name);
	if (fp8) {
		/* Block scales: one F32 per weight_block_size tile, [ceil(out/b0), ceil(in/b1)]. */
		stensor *s = push(g);
		s->name = pj_xasprintf("%s_scale_inv", g->t[g->n - 2].name);
		s->dt = PJ_DT_F32;
		s->nd = 2;
		s->init = INIT_SCALE;
		s->shape[0] = (shape[0] + g->fp8_block[0] - 1) / g->fp8_block[0];
		s->shape[1] = (shape[1] + g->fp8_block[1] - 1) / g->fp8_block[1];
		s->nbytes = (uint64_t)s->shape[0] * (uint64_t)s->shape[1] * 4;
	}
	return PJ_OK;
}

static int loop_count(const gen *g, int loop)
{
	switch (loop) {
	case LP_L: return g->n_layers + (g->arch->mtp == MTP_INLINE ? g->n_mtp : 0);
	case LP_V: return (int)g->d[D_VL];
	case LP_ENC: return (int)g->d[D_L];
	case LP_DEC: return (int)g->d[D_DL];
	case LP_MTP: return g->arch->mtp == MTP_SEPARATE ? g->n_mtp : 0;
	default: return 1;
	}
}

static bool applies(const gen *g, const tmpl *tp, unsigned attrs)
{
	return (tp->cond & ~g->conds) == 0 && (tp->when & ~attrs) == 0;
}

/* Expands one template array: runs of the same loop become one loop, and
 * inside it runs of per-expert templates become an expert loop. */
static pj_status expand(gen *g, const tmpl *ts, sbuf *nb, pj_error *err)
{
	pj_status st;
	for (size_t i = 0; ts[i].loop != LP_END;) {
		size_t j = i;
		while (ts[j].loop == ts[i].loop)
			j++;
		int loop = ts[i].loop, count = loop_count(g, loop);
		if (loop == LP_V && count > 0 && !g->vision)
			return pj_fail(err, PJ_EFORMAT, "%s: no \"vision_config\"", g->path);
		for (int l = 0; l < count; l++) {
			unsigned attrs = layer_attrs(g, loop, l);
			for (size_t k = i; k < j;) {
				if (!(ts[k].flags & F_EXP)) {
					if (applies(g, &ts[k], attrs) && (st = emit(g, &ts[k], l, -1, nb, err)))
						return st;
					k++;
					continue;
				}
				size_t m = k;
				while (m < j && (ts[m].flags & F_EXP))
					m++;
				for (int e = 0; e < g->d[D_E]; e++)
					for (size_t x = k; x < m; x++)
						if (applies(g, &ts[x], attrs) && (st = emit(g, &ts[x], l, e, nb, err)))
							return st;
				k = m;
			}
		}
		i = j;
	}
	return PJ_OK;
}

static pj_status gen_build(gen *g, pj_error *err)
{
	sbuf nb = { 0 };
	pj_status st = PJ_OK;
	if (g->gguf) {
		const tmpl *parts[] = { g_head, g->arch->gguf_layer, g_tail };
		for (size_t i = 0; i < 3 && !st; i++)
			st = expand(g, parts[i], &nb, err);
	} else {
		for (size_t i = 0; i < 5 && g->arch->parts[i] && !st; i++)
			st = expand(g, g->arch->parts[i], &nb, err);
	}
	free(nb.p);
	return st;
}

/* ---- values ------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/* Approximately N(0, 1): Irwin-Hall sum of four 16-bit uniforms.  Integer
 * based, so the bytes are the same on every machine. */
static float gauss(uint64_t *s)
{
	uint64_t r = splitmix64(s);
	int64_t sum = (int64_t)(r & 0xffff) + (int64_t)((r >> 16) & 0xffff) +
	              (int64_t)((r >> 32) & 0xffff) + (int64_t)(r >> 48);
	return (float)((double)(sum - 131070) / 37837.23);
}

static uint16_t f32_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	u += 0x7fff + ((u >> 16) & 1); /* round to nearest even */
	return (uint16_t)(u >> 16);
}

/* Finite, small-magnitude values only (no NaN/Inf handling needed here). */
static uint16_t f32_to_f16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	int32_t e = (int32_t)((u >> 23) & 0xff) - 127 + 15;
	uint32_t m = u & 0x7fffff;
	if (e >= 31)
		return sign | 0x7bff;
	if (e <= 0) {
		if (e < -10)
			return sign;
		m |= 0x800000;
		uint32_t shift = (uint32_t)(14 - e);
		uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return sign | (uint16_t)h;
	}
	uint32_t h = ((uint32_t)e << 10) | (m >> 13), rem = m & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;
	if (h >= 0x7c00)
		h = 0x7bff;
	return sign | (uint16_t)h;
}

/* OCP E4M3FN, saturating at 448. */
static uint8_t f32_to_e4m3(float f)
{
	uint8_t sign = f < 0 ? 0x80 : 0;
	float a = f < 0 ? -f : f;
	if (a >= 448.0f)
		return sign | 0x7e;
	if (a < 0.015625f) { /* subnormal: steps of 2^-9 */
		int m = (int)(a * 512.0f + 0.5f);
		return sign | (uint8_t)(m > 7 ? 0x08 : m);
	}
	int e = 0;
	while (a >= 2.0f) {
		a *= 0.5f;
		e++;
	}
	while (a < 1.0f) {
		a *= 2.0f;
		e--;
	}
	int m = (int)((a - 1.0f) * 8.0f + 0.5f);
	if (m == 8) {
		m = 0;
		e++;
	}
	if (e > 8 || (e == 8 && m > 6))
		return sign | 0x7e;
	return sign | (uint8_t)(((e + 7) << 3) | m);
}

#define FP8_SCALE 1.7857143e-4f /* 0.02 * 4 / 448: 4 sigma maps to E4M3's max */

static void fill(const stensor *t, uint64_t *rng, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float v;
		switch (t->init) {
		case INIT_ONES: v = 1.0f + 0.02f * gauss(rng); break;
		case INIT_SCALE: v = FP8_SCALE; break;
		case INIT_E8M0: v = 0; break;
		default: v = 0.02f * gauss(rng); break;
		}
		switch (t->dt) {
		case PJ_DT_F32: {
			uint32_t u;
			memcpy(&u, &v, 4);
			for (int k = 0; k < 4; k++)
				out[4 * i + k] = (uint8_t)(u >> (8 * k));
			break;
		}
		case PJ_DT_F16:
		case PJ_DT_BF16: {
			uint16_t h = t->dt == PJ_DT_F16 ? f32_to_f16(v) : f32_to_bf16(v);
			out[2 * i] = (uint8_t)h;
			out[2 * i + 1] = (uint8_t)(h >> 8);
			break;
		}
		case PJ_DT_U8:
			/* MXFP4 blocks: any nibbles; scales: 2^-6 .. 2^-9 around 0.02 */
			out[i] = t->init == INIT_E8M0 ? (uint8_t)(118 + (splitmix64(rng) & 3))
			                              : (uint8_t)splitmix64(rng);
			break;
		default:
			out[i] = f32_to_e4m3(v / FP8_SCALE);
			break;
		}
	}
}

static pj_status write_all(int fd, const void *p, size_t n, const char *path, pj_error *err)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return pj_fail(err, PJ_EIO, "%s: write: %s", path, w < 0 ? strerror(errno) : "short write");
		b += w;
		n -= (size_t)w;
	}
	return PJ_OK;
}

/* Writes tensor data for ts[] (already in file order, offsets relative to
 * base) or, when sparse, only extends the file to its full size. */
static pj_status write_data(int fd, const char *path, uint64_t base, stensor *const *ts, size_t n,
                            uint64_t end, const pj_synth_opts *o, pj_error *err)
{
	if (o->sparse) {
		if (ftruncate(fd, (off_t)end) != 0)
			return pj_fail(err, PJ_EIO, "%s: ftruncate: %s", path, strerror(errno));
		return PJ_OK;
	}
	enum { CHUNK = 1 << 20 };
	uint8_t *buf = pj_xmalloc(CHUNK);
	uint64_t pos = base;
	pj_status st = PJ_OK;
	static const uint8_t zeros[64];
	for (size_t i = 0; i < n && !st; i++) {
		const stensor *t = ts[i];
		if (base + t->off > pos) { /* alignment padding */
			st = write_all(fd, zeros, (size_t)(base + t->off - pos), path, err);
			pos = base + t->off;
		}
		uint64_t rng = o->seed ^ fnv1a(t->name);
		size_t esz = pj_dtype_info_of(t->dt)->type_size;
		uint64_t left = t->nbytes;
		while (left && !st) {
			size_t bytes = left < CHUNK ? (size_t)left : CHUNK;
			bytes -= bytes % esz;
			fill(t, &rng, buf, bytes / esz);
			st = write_all(fd, buf, bytes, path, err);
			left -= bytes;
		}
		pos += t->nbytes;
	}
	free(buf);
	if (!st && pos < end)
		st = write_all(fd, zeros, (size_t)(end - pos), path, err);
	return st;
}

static int by_size_then_name(const void *a, const void *b)
{
	const stensor *x = *(stensor *const *)a, *y = *(stensor *const *)b;
	uint32_t sx = pj_dtype_info_of(x->dt)->type_size, sy = pj_dtype_info_of(y->dt)->type_size;
	if (sx != sy)
		return sx > sy ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(stensor *const *)a)->name, (*(stensor *const *)b)->name);
}

static void json_str(sbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_add(b, "\\", 1);
		sb_add(b, s, 1);
	}
	sb_add(b, "\"", 1);
}

static pj_status check_space(const char *dir, uint64_t need, pj_error *err)
{
	struct statvfs vfs;
	if (statvfs(dir, &vfs) != 0)
		return PJ_OK;
	uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	if (need + (64u << 20) > avail)
		return pj_fail(err, PJ_EIO, "%s: %llu bytes of tensor data do not fit (%llu free); use --sparse",
		               dir, (unsigned long long)need, (unsigned long long)avail);
	return PJ_OK;
}

static pj_status mkdir_p(const char *path, pj_error *err)
{
	char *p = pj_xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST) {
			pj_fail(err, PJ_EIO, "%s: %s", p, strerror(errno));
			free(p);
			return PJ_EIO;
		}
		*s = '/';
	}
	pj_status st = PJ_OK;
	if (mkdir(p, 0777) != 0 && errno != EEXIST)
		st = pj_fail(err, PJ_EIO, "%s: %s", p, strerror(errno));
	free(p);
	return st;
}

static pj_status write_file(const char *path, const void *p, size_t n, pj_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return pj_fail(err, PJ_EIO, "%s: %s", path, strerror(errno));
	pj_status st = write_all(fd, p, n, path, err);
	if (close(fd) != 0 && !st)
		st = pj_fail(err, PJ_EIO, "%s: close: %s", path, strerror(errno));
	return st;
}

/* Writes one safetensors file holding ts[0..n): Rust-safetensors layout
 * (tensors sorted by element size, then name; header padded with spaces). */
static pj_status write_safetensors(const char *path, stensor **ts, size_t n, const pj_synth_opts *o, pj_error *err)
{
	qsort(ts, n, sizeof *ts, by_size_then_name);
	sbuf h = { 0 };
	sb_str(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		stensor *t = ts[i];
		t->off = off;
		sb_add(&h, ",", 1);
		json_str(&h, t->name);
		sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", pj_dtype_info_of(t->dt)->st_name);
		for (int d = 0; d < t->nd; d++)
			sb_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
		sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
		          (unsigned long long)(off + t->nbytes));
		off += t->nbytes;
	}
	sb_add(&h, "}", 1);
	while (h.n % 8)
		sb_add(&h, " ", 1);

	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		free(h.p);
		return pj_fail(err, PJ_EIO, "%s: %s", path, strerror(errno));
	}
	uint8_t len[8];
	for (int k = 0; k < 8; k++)
		len[k] = (uint8_t)((uint64_t)h.n >> (8 * k));
	pj_status st = write_all(fd, len, 8, path, err);
	if (!st)
		st = write_all(fd, h.p, h.n, path, err);
	uint64_t base = 8 + h.n;
	if (!st)
		st = write_data(fd, path, base, ts, n, base + off, o, err);
	if (close(fd) != 0 && !st)
		st = pj_fail(err, PJ_EIO, "%s: close: %s", path, strerror(errno));
	free(h.p);
	return st;
}

/* A folder we write into may hold an earlier fixture: drop its weight
 * files so a different shard count does not leave a mixed checkpoint. */
static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		bool weights = strncmp(e->d_name, "model", 5) == 0 &&
		               ((n > 12 && strcmp(e->d_name + n - 12, ".safetensors") == 0) ||
		                strcmp(e->d_name, "model.safetensors.index.json") == 0);
		if (weights) {
			char *p = pj_xasprintf("%s/%s", dir, e->d_name);
			unlink(p);
			free(p);
		}
	}
	closedir(d);
}

static char *shard_name(int k, int n, int digits)
{
	if (n == 1)
		return pj_xstrdup("model.safetensors");
	return pj_xasprintf("model-%05d-of-%0*d.safetensors", k + 1, digits > 0 ? digits : 5, n);
}

static pj_status write_hf(gen *g, const char *out, const pj_synth_opts *o, pj_error *err)
{
	int nsh = o->shards > 0 ? o->shards : 1;
	if ((size_t)nsh > g->n)
		return pj_fail(err, PJ_EUSAGE, "%d shards for %zu tensors", nsh, g->n);
	pj_status st = mkdir_p(out, err);
	if (st)
		return st;
	unsigned long long total = 0;
	for (size_t i = 0; i < g->n; i++)
		if (pj_add_u64(total, g->t[i].nbytes, &total))
			return pj_fail(err, PJ_ENOMEM, "%s: the model is too large", g->path);
	if (!o->sparse && (st = check_space(out, total, err)))
		return st;
	remove_stale(out);

	/* config.json, unless we are writing next to it (the demo). */
	char *cfg = pj_xasprintf("%s/config.json", out);
	struct stat a, b;
	if (!(stat(cfg, &a) == 0 && stat(g->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
		st = write_file(cfg, g->text, g->text_len, err);
	free(cfg);
	if (st)
		return st;

	/* Shards by cumulative size in state_dict order; every shard gets at
	 * least one tensor. */
	uint64_t cum = 0;
	size_t next = 0;
	for (int k = 0; k < nsh; k++) {
		uint64_t limit = (uint64_t)((double)total * (k + 1) / nsh);
		size_t first = next;
		while (next < g->n && (next == first || k == nsh - 1 ||
		                       (cum + g->t[next].nbytes / 2 <= limit && g->n - next > (size_t)(nsh - 1 - k)))) {
			g->t[next].shard = (uint32_t)k;
			cum += g->t[next].nbytes;
			next++;
		}
	}

	stensor **ts = pj_xmalloc(g->n * sizeof *ts);
	size_t pos = 0;
	for (int k = 0; k < nsh && !st; k++) {
		size_t n = 0;
		while (pos + n < g->n && g->t[pos + n].shard == (uint32_t)k) {
			ts[n] = &g->t[pos + n];
			n++;
		}
		char *name = shard_name(k, nsh, o->shard_digits);
		char *path = pj_xasprintf("%s/%s", out, name);
		st = write_safetensors(path, ts, n, o, err);
		free(path);
		free(name);
		pos += n;
	}

	if (!st && nsh > 1) {
		/* model.safetensors.index.json as save_pretrained writes it. */
		for (size_t i = 0; i < g->n; i++)
			ts[i] = &g->t[i];
		qsort(ts, g->n, sizeof *ts, by_name);
		char **names = pj_xcalloc((size_t)nsh, sizeof *names);
		for (int k = 0; k < nsh; k++)
			names[k] = shard_name(k, nsh, o->shard_digits);
		sbuf j = { 0 };
		sb_printf(&j, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {\n",
		          (unsigned long long)total);
		for (size_t i = 0; i < g->n; i++) {
			sb_str(&j, "    ");
			json_str(&j, ts[i]->name);
			sb_str(&j, ": ");
			json_str(&j, names[ts[i]->shard]);
			sb_str(&j, i + 1 < g->n ? ",\n" : "\n");
		}
		sb_str(&j, "  }\n}\n");
		char *path = pj_xasprintf("%s/model.safetensors.index.json", out);
		st = write_file(path, j.p, j.n, err);
		free(path);
		free(j.p);
		for (int k = 0; k < nsh; k++)
			free(names[k]);
		free(names);
	}
	free(ts);
	return st;
}

/* ---- GGUF writer -------------------------------------------------------- */

enum { GGUF_U32 = 4, GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_U64 = 10 };
#define GGUF_ALIGN 32

static void le(sbuf *b, uint64_t v, int bytes)
{
	uint8_t x[8];
	for (int k = 0; k < bytes; k++)
		x[k] = (uint8_t)(v >> (8 * k));
	sb_add(b, x, (size_t)bytes);
}

static void gguf_str(sbuf *b, const char *s)
{
	le(b, strlen(s), 8);
	sb_str(b, s);
}

static void gguf_key(sbuf *b, const gen *g, const char *key, uint32_t type)
{
	sbuf k = { 0 };
	expand_name(g, &k, key, 0, 0);
	gguf_str(b, k.p);
	free(k.p);
	le(b, type, 4);
}

static void gguf_kv_str(sbuf *b, const gen *g, const char *key, const char *v)
{
	gguf_key(b, g, key, GGUF_STRING);
	gguf_str(b, v);
}

static void gguf_kv_u32(sbuf *b, const gen *g, const char *key, uint32_t v)
{
	gguf_key(b, g, key, GGUF_U32);
	le(b, v, 4);
}

static char *model_name(const char *config_path)
{
	const char *s = strrchr(config_path, '/');
	char *base = pj_xstrdup(s ? s + 1 : config_path);
	if (strcmp(base, "config.json") == 0 && s) {
		free(base);
		const char *e = s, *p = s;
		while (p > config_path && p[-1] != '/')
			p--;
		return p < e ? pj_xstrndup(p, (size_t)(e - p)) : pj_xstrdup("synthetic");
	}
	char *dot = strstr(base, ".json");
	if (dot)
		*dot = '\0';
	return base;
}

static pj_status write_gguf(gen *g, const char *out, const pj_synth_opts *o, pj_error *err)
{
	sbuf kv = { 0 };
	uint64_t n_kv = 0;
	char *name = model_name(g->path);
	static const struct { pj_dtype dt; uint32_t ftype; } ftypes[] = {
		{ PJ_DT_F32, 0 }, { PJ_DT_F16, 1 }, { PJ_DT_BF16, 32 },
	};
	uint32_t ftype = 32;
	for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
		if (ftypes[i].dt == g->base)
			ftype = ftypes[i].ftype;

	gguf_kv_str(&kv, g, "general.architecture", g->arch->gguf_arch), n_kv++;
	gguf_kv_str(&kv, g, "general.type", "model"), n_kv++;
	gguf_kv_str(&kv, g, "general.name", name), n_kv++;
	gguf_kv_u32(&kv, g, "general.file_type", ftype), n_kv++;
	gguf_kv_u32(&kv, g, "general.quantization_version", 2), n_kv++;
	free(name);
	for (const gkv *k = g->arch->gguf_kv; k->key; k++) {
		double v = k->def;
		const cJSON *c;
		switch (k->src) {
		case GV_DIM: v = (double)g->d[k->dim]; break;
		case GV_CFG:
			c = json_find(g->objs, 2, k->cfg);
			if (cJSON_IsNumber(c))
				v = c->valuedouble;
			else if (cJSON_IsBool(c))
				v = cJSON_IsTrue(c);
			break;
		case GV_FIRST_DENSE: v = g->first_dense; break;
		case GV_GATING: {
			const char *sf = str_text(g, "scoring_func");
			v = sf && strcmp(sf, "sigmoid") == 0 ? 2 : 1; /* llama.cpp: softmax 1, sigmoid 2 */
			break;
		}
		default: break;
		}
		switch (k->type) {
		case GT_F32: {
			float f = (float)v;
			uint32_t u;
			memcpy(&u, &f, 4);
			gguf_key(&kv, g, k->key, GGUF_F32);
			le(&kv, u, 4);
			break;
		}
		case GT_BOOL:
			gguf_key(&kv, g, k->key, GGUF_BOOL);
			le(&kv, v != 0, 1);
			break;
		default:
			gguf_kv_u32(&kv, g, k->key, (uint32_t)v);
			break;
		}
		n_kv++;
	}

	sbuf h = { 0 };
	sb_add(&h, "GGUF", 4);
	le(&h, 3, 4);
	le(&h, g->n, 8);
	le(&h, n_kv, 8);
	sb_add(&h, kv.p, kv.n);
	free(kv.p);
	uint64_t off = 0;
	stensor **ts = pj_xmalloc(g->n * sizeof *ts);
	for (size_t i = 0; i < g->n; i++) {
		stensor *t = ts[i] = &g->t[i];
		t->off = off;
		gguf_str(&h, t->name);
		le(&h, t->nd, 4);
		for (int d = 0; d < t->nd; d++)
			le(&h, (uint64_t)t->shape[d], 8);
		le(&h, (uint32_t)pj_dtype_info_of(t->dt)->ggml_id, 4);
		le(&h, off, 8);
		off += (t->nbytes + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
	}
	while (h.n % GGUF_ALIGN)
		sb_add(&h, "", 1);

	pj_status st = PJ_OK;
	const char *slash = strrchr(out, '/');
	char *dir = slash ? pj_xstrndup(out, (size_t)(slash - out)) : pj_xstrdup(".");
	if (slash && *dir)
		st = mkdir_p(dir, err);
	if (!st && !o->sparse)
		st = check_space(dir, off, err);
	free(dir);
	int fd = -1;
	if (!st && (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
		st = pj_fail(err, PJ_EIO, "%s: %s", out, strerror(errno));
	if (!st)
		st = write_all(fd, h.p, h.n, out, err);
	if (!st)
		st = write_data(fd, out, h.n, ts, g->n, h.n + off, o, err);
	if (fd >= 0 && close(fd) != 0 && !st)
		st = pj_fail(err, PJ_EIO, "%s: close: %s", out, strerror(errno));
	free(ts);
	free(h.p);
	return st;
}

/* ---- public API --------------------------------------------------------- */

static const pj_synth_opts default_opts = { PJ_SYNTH_HF, false, 1, NULL, 0, 0 };

pj_status pj_synth_write(const char *config_path, const char *out, const pj_synth_opts *o, pj_error *err)
{
	if (!o)
		o = &default_opts;
	gen g;
	pj_status st = gen_load(&g, config_path, o, err);
	if (!st)
		st = gen_build(&g, err);
	if (!st)
		st = g.gguf ? write_gguf(&g, out, o, err) : write_hf(&g, out, o, err);
	gen_free(&g);
	return st;
}

pj_status pj_synth_list(const char *config_path, const pj_synth_opts *o, FILE *out, pj_error *err)
{
	if (!o)
		o = &default_opts;
	gen g;
	pj_status st = gen_load(&g, config_path, o, err);
	if (!st)
		st = gen_build(&g, err);
	for (size_t i = 0; !st && i < g.n; i++) {
		const stensor *t = &g.t[i];
		fprintf(out, "%s\t%s\t", t->name, pj_dtype_name(t->dt));
		for (int d = 0; d < t->nd; d++)
			fprintf(out, "%s%lld", d ? "," : "", (long long)t->shape[d]);
		fputc('\n', out);
	}
	gen_free(&g);
	return st;
}

/* The demo: a small Qwen3-MoE (4 layers, 8 experts top-2, GQA 4/2, vocab
 * 1024), every matrix row a multiple of 256 so all k-quants apply. */
static const char demo_config[] =
	"{\n"
	"  \"architectures\": [\"Qwen3MoeForCausalLM\"],\n"
	"  \"model_type\": \"qwen3_moe\",\n"
	"  \"_name_or_path\": \"pajamas-demo-moe\",\n"
	"  \"attention_bias\": false,\n"
	"  \"decoder_sparse_step\": 1,\n"
	"  \"head_dim\": 64,\n"
	"  \"hidden_act\": \"silu\",\n"
	"  \"hidden_size\": 256,\n"
	"  \"intermediate_size\": 768,\n"
	"  \"max_position_embeddings\": 4096,\n"
	"  \"mlp_only_layers\": [],\n"
	"  \"moe_intermediate_size\": 256,\n"
	"  \"norm_topk_prob\": true,\n"
	"  \"num_attention_heads\": 4,\n"
	"  \"num_experts\": 8,\n"
	"  \"num_experts_per_tok\": 2,\n"
	"  \"num_hidden_layers\": 4,\n"
	"  \"num_key_value_heads\": 2,\n"
	"  \"rms_norm_eps\": 1e-06,\n"
	"  \"rope_theta\": 1000000.0,\n"
	"  \"tie_word_embeddings\": false,\n"
	"  \"torch_dtype\": \"bfloat16\",\n"
	"  \"transformers_version\": \"4.51.0\",\n"
	"  \"vocab_size\": 1024\n"
	"}\n";

static void rm_tree_shallow(const char *dir)
{
	/* The temp folder only ever holds files we wrote (no subfolders). */
	static const char *const names[] = { "config.json", "model.safetensors" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char *p = pj_xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

pj_status pj_synth_write_demo(const char *dir, pj_error *err)
{
	struct stat sb;
	if (stat(dir, &sb) == 0)
		return S_ISDIR(sb.st_mode) ? PJ_OK : pj_fail(err, PJ_EIO, "%s: exists and is not a folder", dir);
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	char *clean = pj_xstrndup(dir, len);
	const char *slash = strrchr(clean, '/');
	if (slash && slash > clean) {
		char *parent = pj_xstrndup(clean, (size_t)(slash - clean));
		pj_status st = mkdir_p(parent, err);
		free(parent);
		if (st) {
			free(clean);
			return st;
		}
	}
	char *tmp = pj_xasprintf("%s.tmp-%ld", clean, (long)getpid());
	char *cfg = pj_xasprintf("%s/config.json", tmp);
	pj_synth_opts o = { PJ_SYNTH_HF, false, 1, "BF16", 20240611, 0 };
	pj_status st = mkdir_p(tmp, err);
	if (!st)
		st = write_file(cfg, demo_config, sizeof demo_config - 1, err);
	if (!st)
		st = pj_synth_write(cfg, tmp, &o, err);
	if (!st && rename(tmp, clean) != 0) {
		/* Lost a race with another writer: theirs is complete, keep it. */
		if (!(stat(clean, &sb) == 0 && S_ISDIR(sb.st_mode)))
			st = pj_fail(err, PJ_EIO, "%s: rename: %s", clean, strerror(errno));
		rm_tree_shallow(tmp);
	} else if (st) {
		rm_tree_shallow(tmp);
		pj_error_prefix(err, "demo model");
	}
	free(cfg);
	free(tmp);
	free(clean);
	return st;
}
