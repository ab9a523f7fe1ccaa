/* hfconfig.h - typed, tolerant accessors over a Hugging Face config.json.
 *
 * Real configs put the same fact under different keys (num_experts,
 * n_routed_experts, num_local_experts, ...) and in different places (top
 * level, text_config for multimodal wrappers, T5's own names).  Every getter
 * takes a '|'-separated alias list and returns the first alias that holds a
 * value of the right type; null, a wrong type or an out-of-range number count
 * as "absent", never as an error, so arbitrary JSON cannot crash a caller. */
#ifndef PJ_HFCONFIG_H
#define PJ_HFCONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Where a multimodal / encoder-decoder config keeps each part. */
typedef struct pj_hfcfg {
	const cJSON *root;    /* config.json itself (NULL: empty config) */
	const cJSON *text;    /* text_config / llm_config / language_config, else root */
	const cJSON *vision;  /* vision_config / visual / vision_tower_config, or NULL */
} pj_hfcfg;

/* root may be NULL or any JSON value (non-objects behave as empty). */
void pj_hfcfg_init(pj_hfcfg *c, const cJSON *root);

/* Raw lookups in one object.  keys: "a|b|c" (first present alias wins). */
const cJSON *pj_cfg_get(const cJSON *obj, const char *keys);
/* Integral number in [lo, hi]; fractional or non-finite values are absent. */
bool pj_cfg_int(const cJSON *obj, const char *keys, int64_t lo, int64_t hi, int64_t *out);
bool pj_cfg_num(const cJSON *obj, const char *keys, double *out);
bool pj_cfg_bool(const cJSON *obj, const char *keys, bool *out);
const char *pj_cfg_str(const cJSON *obj, const char *keys);   /* NULL when absent */
const cJSON *pj_cfg_array(const cJSON *obj, const char *keys); /* NULL when absent */

/* Text-model lookups: text_config first, then the top level (older VL
 * configs keep the text keys at the top). */
bool pj_hfcfg_text_int(const pj_hfcfg *c, const char *keys, int64_t lo, int64_t hi, int64_t *out);
bool pj_hfcfg_text_bool(const pj_hfcfg *c, const char *keys, bool *out);
const char *pj_hfcfg_text_str(const pj_hfcfg *c, const char *keys);
const cJSON *pj_hfcfg_text_array(const pj_hfcfg *c, const char *keys);
const cJSON *pj_hfcfg_text_get(const pj_hfcfg *c, const char *keys);
/* Vision-tower lookups (vision_config only). */
bool pj_hfcfg_vision_int(const pj_hfcfg *c, const char *keys, int64_t lo, int64_t hi, int64_t *out);

/* Common alias lists, shared by detection and the synthetic model writer. */
#define PJ_CFG_LAYERS      "num_hidden_layers|n_layer|n_layers|num_layers"
#define PJ_CFG_HIDDEN      "hidden_size|d_model|n_embd|model_dim|dim"
#define PJ_CFG_HEADS       "num_attention_heads|num_heads|n_head|n_heads"
#define PJ_CFG_KV_HEADS    "num_key_value_heads|num_kv_heads|n_head_kv|multi_query_group_num"
#define PJ_CFG_HEAD_DIM    "head_dim|d_kv|kv_channels|attention_head_dim"
#define PJ_CFG_FF          "intermediate_size|d_ff|ffn_dim|n_inner|ffn_hidden_size"
#define PJ_CFG_VOCAB       "vocab_size|padded_vocab_size|n_vocab"
#define PJ_CFG_CTX         "max_position_embeddings|n_positions|max_sequence_length|seq_length|n_ctx|max_seq_len"
#define PJ_CFG_EXPERTS     "n_routed_experts|num_experts|num_local_experts|moe_num_experts|n_experts"
#define PJ_CFG_EXPERTS_ACT "num_experts_per_tok|num_experts_per_token|experts_per_token|moe_topk|moe_top_k|num_selected_experts"
#define PJ_CFG_SHARED      "n_shared_experts|num_shared_experts|shared_expert_count"
#define PJ_CFG_EXPERT_FF   "moe_intermediate_size|expert_intermediate_size|moe_ffn_hidden_size"
#define PJ_CFG_SWA_PATTERN "sliding_window_pattern|_sliding_window_pattern"
#define PJ_CFG_NEXTN       "num_nextn_predict_layers|mtp_num_hidden_layers|num_mtp_layers"
#define PJ_CFG_V_LAYERS    "num_hidden_layers|depth|num_layers|n_layers"
#define PJ_CFG_V_HIDDEN    "embed_dim|hidden_size|width"
/* T5 names the FFN "gated-gelu" in feed_forward_proj and the function in dense_act_fn */
#define PJ_CFG_ACT         "hidden_act|hidden_activation|activation_function|dense_act_fn|feed_forward_proj"

#endif
