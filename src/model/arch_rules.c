/* arch_rules.c - name tables and per-architecture defaults (see arch_rules.h).
 * Order matters in every table: more specific rows first. */
#include "config.h"
#include "arch_rules.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define R(pat, role) { pat, PJ_ROLE_##role, PJ_ANY_COMP, 0 }
#define RC(pat, role, comp) { pat, PJ_ROLE_##role, PJ_COMP_##comp, 0 }
#define RF(pat, role, flags) { pat, PJ_ROLE_##role, PJ_ANY_COMP, flags }

/* ---- Hugging Face ------------------------------------------------------- */

static const pj_name_scope hf_scopes[] = {
	/* numbered blocks */
	{ "model.language_model.layers.#.", PJ_COMP_TEXT },
	{ "language_model.model.layers.#.", PJ_COMP_TEXT },
	{ "model.text_model.layers.#.", PJ_COMP_TEXT },
	{ "language_model.layers.#.", PJ_COMP_TEXT },
	{ "model.layers.#.", PJ_COMP_TEXT },
	{ "backbone.layers.#.", PJ_COMP_TEXT },
	{ "transformer.h.#.", PJ_COMP_TEXT },
	{ "transformer.blocks.#.", PJ_COMP_TEXT },
	{ "gpt_neox.layers.#.", PJ_COMP_TEXT },
	{ "model.mtp.layers.#.", PJ_COMP_MTP },
	{ "mtp.layers.#.", PJ_COMP_MTP },
	{ "model.vision_tower.vision_model.encoder.layers.#.", PJ_COMP_VISION },
	{ "vision_tower.vision_model.encoder.layers.#.", PJ_COMP_VISION },
	{ "model.vision_tower.encoder.layers.#.", PJ_COMP_VISION },
	{ "vision_tower.encoder.layers.#.", PJ_COMP_VISION },
	{ "vision_tower.transformer.layers.#.", PJ_COMP_VISION },
	{ "model.vision_model.encoder.layers.#.", PJ_COMP_VISION },
	{ "vision_model.encoder.layers.#.", PJ_COMP_VISION },
	{ "model.visual.blocks.#.", PJ_COMP_VISION },
	{ "visual.blocks.#.", PJ_COMP_VISION },
	{ "vision_tower.blocks.#.", PJ_COMP_VISION },
	{ "encoder.block.#.", PJ_COMP_ENCODER },
	{ "decoder.block.#.", PJ_COMP_DECODER },
	{ "model.encoder.layers.#.", PJ_COMP_ENCODER },
	{ "model.decoder.layers.#.", PJ_COMP_DECODER },
	{ "encoder.layers.#.", PJ_COMP_ENCODER },
	{ "decoder.layers.#.", PJ_COMP_DECODER },
	{ "layers.#.", PJ_COMP_TEXT },
	/* everything else, by prefix */
	{ "model.multi_modal_projector.", PJ_COMP_PROJECTOR },
	{ "multi_modal_projector.", PJ_COMP_PROJECTOR },
	{ "model.visual.merger.", PJ_COMP_PROJECTOR },
	{ "visual.merger.", PJ_COMP_PROJECTOR },
	{ "model.mm_projector.", PJ_COMP_PROJECTOR },
	{ "mm_projector.", PJ_COMP_PROJECTOR },
	{ "model.vision_tower.vision_model.", PJ_COMP_VISION },
	{ "vision_tower.vision_model.", PJ_COMP_VISION },
	{ "model.vision_tower.", PJ_COMP_VISION },
	{ "vision_tower.", PJ_COMP_VISION },
	{ "model.visual.", PJ_COMP_VISION },
	{ "visual.", PJ_COMP_VISION },
	{ "model.vision_model.", PJ_COMP_VISION },
	{ "vision_model.", PJ_COMP_VISION },
	{ "model.encoder.", PJ_COMP_ENCODER },
	{ "model.decoder.", PJ_COMP_DECODER },
	{ "encoder.", PJ_COMP_ENCODER },
	{ "decoder.", PJ_COMP_DECODER },
	{ "model.mtp.", PJ_COMP_MTP },
	{ "mtp.", PJ_COMP_MTP },
	{ "model.language_model.", PJ_COMP_TEXT },
	{ "language_model.model.", PJ_COMP_TEXT },
	{ "language_model.", PJ_COMP_TEXT },
	{ "model.", PJ_COMP_TEXT },
	{ "transformer.", PJ_COMP_TEXT },
	{ "backbone.", PJ_COMP_TEXT },
	{ "", PJ_COMP_TEXT },
};

static const pj_name_rule hf_block[] = {
	/* not parameters: FP8 block scales (DeepSeek-V3), MXFP4 scales (gpt-oss) */
	R("*.weight_scale_inv", WEIGHT_SCALE),
	R("*.weight_scale", WEIGHT_SCALE),
	R("*.input_scale", WEIGHT_SCALE),
	R("*_scales", WEIGHT_SCALE),
	/* linear attention / SSM mixers, biases included (Qwen3-Next/3.5 Gated DeltaNet, Mamba) */
	R("linear_attn.*", ATTN_LINEAR),
	R("mamba.*", ATTN_LINEAR),
	R("mixer.*", ATTN_LINEAR),
	/* biases that are roles of their own; every other bias is "bias" */
	R("mlp.gate.e_score_correction_bias", EXP_SCORE_BIAS),
	R("mlp.router.e_score_correction_bias", EXP_SCORE_BIAS),
	R("mlp.experts.gate_up_proj_bias", EXP_BIAS),
	R("mlp.experts.down_proj_bias", EXP_BIAS),
	R("*.bias", BIAS),
	R("*_bias", BIAS),

	/* attention */
	R("self_attn.q_proj.weight", ATTN_Q),
	R("self_attn.k_proj.weight", ATTN_K),
	R("self_attn.v_proj.weight", ATTN_V),
	R("self_attn.o_proj.weight", ATTN_OUTPUT),
	R("self_attn.out_proj.weight", ATTN_OUTPUT),
	R("self_attn.qkv_proj.weight", ATTN_QKV),
	R("self_attn.query_key_value.weight", ATTN_QKV),
	R("self_attention.query_key_value.weight", ATTN_QKV),
	R("attention.query_key_value.weight", ATTN_QKV),
	R("self_attn.dense.weight", ATTN_OUTPUT),
	R("self_attention.dense.weight", ATTN_OUTPUT),
	R("attention.dense.weight", ATTN_OUTPUT),
	R("attn.c_attn.weight", ATTN_QKV),
	R("attn.c_proj.weight", ATTN_OUTPUT),
	R("attn.qkv.weight", ATTN_QKV),
	R("attn.proj.weight", ATTN_OUTPUT),
	R("attn.q_proj.weight", ATTN_Q),
	R("attn.k_proj.weight", ATTN_K),
	R("attn.v_proj.weight", ATTN_V),
	R("attn.o_proj.weight", ATTN_OUTPUT),
	R("attn.out_proj.weight", ATTN_OUTPUT),
	R("self_attn.q_norm.weight", ATTN_Q_NORM),
	R("self_attn.k_norm.weight", ATTN_K_NORM),
	R("self_attn.q_layernorm.weight", ATTN_Q_NORM),
	R("self_attn.k_layernorm.weight", ATTN_K_NORM),
	R("self_attn.sinks", ATTN_SINKS),
	/* multi-head latent attention (DeepSeek V2/V3, Kimi K2) */
	R("self_attn.q_a_proj.weight", MLA_Q_A),
	R("self_attn.q_a_layernorm.weight", MLA_Q_A_NORM),
	R("self_attn.q_b_proj.weight", MLA_Q_B),
	R("self_attn.kv_a_proj_with_mqa.weight", MLA_KV_A),
	R("self_attn.kv_a_layernorm.weight", MLA_KV_A_NORM),
	R("self_attn.kv_b_proj.weight", MLA_KV_B),
	/* T5: sub-layer 0 self-attention, 1 cross-attention (decoder) or FFN */
	R("layer.0.SelfAttention.q.weight", ATTN_Q),
	R("layer.0.SelfAttention.k.weight", ATTN_K),
	R("layer.0.SelfAttention.v.weight", ATTN_V),
	R("layer.0.SelfAttention.o.weight", ATTN_OUTPUT),
	R("layer.0.SelfAttention.relative_attention_bias.weight", ATTN_REL_BIAS),
	R("layer.0.layer_norm.weight", ATTN_NORM),
	R("layer.1.EncDecAttention.q.weight", CROSS_Q),
	R("layer.1.EncDecAttention.k.weight", CROSS_K),
	R("layer.1.EncDecAttention.v.weight", CROSS_V),
	R("layer.1.EncDecAttention.o.weight", CROSS_OUTPUT),
	R("layer.1.EncDecAttention.relative_attention_bias.weight", ATTN_REL_BIAS),
	RC("layer.1.layer_norm.weight", CROSS_NORM, DECODER),
	R("layer.1.layer_norm.weight", FFN_NORM),
	R("layer.2.layer_norm.weight", FFN_NORM),
	R("layer.*.DenseReluDense.wi_0.weight", FFN_GATE),
	R("layer.*.DenseReluDense.wi_1.weight", FFN_UP),
	R("layer.*.DenseReluDense.wi.weight", FFN_UP),
	R("layer.*.DenseReluDense.wo.weight", FFN_DOWN),
	/* BART / Whisper style cross-attention */
	R("encoder_attn.q_proj.weight", CROSS_Q),
	R("encoder_attn.k_proj.weight", CROSS_K),
	R("encoder_attn.v_proj.weight", CROSS_V),
	R("encoder_attn.out_proj.weight", CROSS_OUTPUT),
	R("encoder_attn_layer_norm.weight", CROSS_NORM),
	R("self_attn_layer_norm.weight", ATTN_NORM),
	R("final_layer_norm.weight", FFN_NORM),

	/* norms: Llama's post_attention_layernorm is the pre-FFN norm; Gemma 2/3
	 * have real post-norms and a separate pre_feedforward_layernorm */
	R("input_layernorm.weight", ATTN_NORM),
	RF("post_attention_layernorm.weight", ATTN_POST_NORM, PJ_NR_SANDWICH),
	R("post_attention_layernorm.weight", FFN_NORM),
	R("pre_feedforward_layernorm.weight", FFN_NORM),
	R("post_feedforward_layernorm.weight", FFN_POST_NORM),
	R("ln_1.weight", ATTN_NORM),
	R("ln_2.weight", FFN_NORM),
	R("layer_norm1.weight", ATTN_NORM),
	R("layer_norm2.weight", FFN_NORM),
	R("norm1.weight", ATTN_NORM),
	R("norm2.weight", FFN_NORM),

	/* routed experts: one tensor per expert ('#' = expert) ... */
	R("*experts.#.gate_proj.weight", EXP_GATE),
	R("*experts.#.up_proj.weight", EXP_UP),
	R("*experts.#.down_proj.weight", EXP_DOWN),
	R("*experts.#.w1.weight", EXP_GATE),
	R("*experts.#.w3.weight", EXP_UP),
	R("*experts.#.w2.weight", EXP_DOWN),
	/* ... or stacked [experts, out, in] (transformers 5, gpt-oss, Llama 4,
	 * Granite-MoE); the FFN may be called mlp, feed_forward or block_sparse_moe */
	RF("*experts.gate_up_proj_blocks", EXP_GATE_UP, PJ_NR_PACKED4),
	RF("*experts.down_proj_blocks", EXP_DOWN, PJ_NR_PACKED4),
	R("*experts.gate_up_proj", EXP_GATE_UP),
	R("*experts.gate_proj", EXP_GATE),
	R("*experts.up_proj", EXP_UP),
	R("*experts.down_proj", EXP_DOWN),
	R("block_sparse_moe.input_linear.weight", EXP_GATE_UP),
	R("block_sparse_moe.output_linear.weight", EXP_DOWN),
	/* shared experts (DeepSeek: shared_experts, Qwen2-MoE / Llama 4: shared_expert) */
	R("*shared_experts.gate_proj.weight", SHEXP_GATE),
	R("*shared_experts.up_proj.weight", SHEXP_UP),
	R("*shared_experts.down_proj.weight", SHEXP_DOWN),
	R("*shared_expert.gate_proj.weight", SHEXP_GATE),
	R("*shared_expert.up_proj.weight", SHEXP_UP),
	R("*shared_expert.down_proj.weight", SHEXP_DOWN),
	R("*shared_expert_gate.weight", SHEXP_ROUTER),
	/* routers */
	R("mlp.gate.weight", ROUTER),
	R("block_sparse_moe.gate.weight", ROUTER),
	R("*.router.weight", ROUTER),
	R("*.router.layer.weight", ROUTER),
	/* dense FFN */
	R("*.gate_proj.weight", FFN_GATE),
	R("*.up_proj.weight", FFN_UP),
	R("*.down_proj.weight", FFN_DOWN),
	R("*.gate_up_proj.weight", FFN_GATE_UP),
	R("mlp.fc1.weight", FFN_UP),
	R("mlp.fc2.weight", FFN_DOWN),
	R("mlp.c_fc.weight", FFN_UP),
	R("mlp.c_proj.weight", FFN_DOWN),
	R("mlp.dense_h_to_4h.weight", FFN_UP),
	R("mlp.dense_4h_to_h.weight", FFN_DOWN),
	R("fc1.weight", FFN_UP),
	R("fc2.weight", FFN_DOWN),

	/* MTP block of DeepSeek-V3 / GLM-4.5 (model.layers.<n_layers>.*) */
	R("enorm.weight", NEXTN_NORM),
	R("hnorm.weight", NEXTN_NORM),
	R("eh_proj.weight", NEXTN_EH_PROJ),
	R("embed_tokens.weight", TOKEN_EMBD),
	R("shared_head.head.weight", OUTPUT),
	R("shared_head.norm.weight", OUTPUT_NORM),

	/* vision towers vary: anything attention/MLP/norm-like */
	RC("*attn*", V_ATTN, VISION),
	RC("*attention*", V_ATTN, VISION),
	RC("*mlp*", V_FFN, VISION),
	RC("*norm*", V_NORM, VISION),
};

static const pj_name_rule hf_top[] = {
	R("*.weight_scale_inv", WEIGHT_SCALE),
	R("*.weight_scale", WEIGHT_SCALE),
	R("*.input_scale", WEIGHT_SCALE),
	R("*_scales", WEIGHT_SCALE),
	R("*.bias", BIAS),
	/* vision tower */
	RC("embeddings.patch_embedding.weight", V_PATCH_EMBD, VISION),
	RC("patch_embed.proj.weight", V_PATCH_EMBD, VISION),
	RC("patch_conv.weight", V_PATCH_EMBD, VISION),
	RC("embeddings.position_embedding.weight", V_POS_EMBD, VISION),
	RC("embeddings.class_embedding", V_POS_EMBD, VISION),
	RC("pos_embed*", V_POS_EMBD, VISION),
	RC("head.*", V_HEAD, VISION),
	RC("*norm*", V_NORM, VISION),
	RC("*layrnorm*", V_NORM, VISION), /* CLIP's spelling */
	/* projector: norms, the rest are projections */
	RC("*norm*", MM_NORM, PROJECTOR),
	RC("ln_q.weight", MM_NORM, PROJECTOR),
	RC("*", MM_PROJ, PROJECTOR),
	/* Qwen3.5 MTP head */
	RC("fc.weight", NEXTN_EH_PROJ, MTP),
	RC("pre_fc_norm_*", NEXTN_NORM, MTP),
	/* text model */
	R("embed_tokens.weight", TOKEN_EMBD),
	R("shared.weight", TOKEN_EMBD),
	R("wte.weight", TOKEN_EMBD),
	R("tok_embeddings.weight", TOKEN_EMBD),
	R("word_embeddings.weight", TOKEN_EMBD),
	R("embed_in.weight", TOKEN_EMBD),
	R("embeddings.weight", TOKEN_EMBD),
	R("wpe.weight", POS_EMBD),
	R("embed_positions.weight", POS_EMBD),
	R("lm_head.weight", OUTPUT),
	R("embed_out.weight", OUTPUT),
	R("output.weight", OUTPUT),
	R("norm.weight", OUTPUT_NORM),
	R("final_layer_norm.weight", OUTPUT_NORM),
	R("final_layernorm.weight", OUTPUT_NORM),
	R("ln_f.weight", OUTPUT_NORM),
	R("norm_f.weight", OUTPUT_NORM),
};

/* ---- GGUF (llama.cpp tensor names) ------------------------------------- */

static const pj_name_scope gguf_scopes[] = {
	{ "blk.#.", PJ_COMP_TEXT },
	{ "v.blk.#.", PJ_COMP_VISION },
	{ "enc.blk.#.", PJ_COMP_ENCODER },
	{ "dec.blk.#.", PJ_COMP_DECODER },
	{ "mm.", PJ_COMP_PROJECTOR },
	{ "resampler.", PJ_COMP_PROJECTOR },
	{ "v.", PJ_COMP_VISION },
	{ "enc.", PJ_COMP_ENCODER },
	{ "dec.", PJ_COMP_DECODER },
	{ "", PJ_COMP_TEXT },
};

static const pj_name_rule gguf_block[] = {
	R("exp_probs_b.bias", EXP_SCORE_BIAS),
	R("exp_probs_b", EXP_SCORE_BIAS),
	R("ffn_gate_exps.bias", EXP_BIAS),
	R("ffn_up_exps.bias", EXP_BIAS),
	R("ffn_down_exps.bias", EXP_BIAS),
	R("ffn_gate_up_exps.bias", EXP_BIAS),
	R("*.bias", BIAS),
	R("*.scale", WEIGHT_SCALE),

	R("attn_norm.weight", ATTN_NORM),
	R("post_attention_norm.weight", ATTN_POST_NORM),
	R("attn_post_norm.weight", ATTN_POST_NORM),
	R("attn_q_norm.weight", ATTN_Q_NORM),
	R("attn_k_norm.weight", ATTN_K_NORM),
	R("attn_q.weight", ATTN_Q),
	R("attn_k.weight", ATTN_K),
	R("attn_v.weight", ATTN_V),
	R("attn_qkv.weight", ATTN_QKV),
	R("attn_output.weight", ATTN_OUTPUT),
	R("attn_out.weight", ATTN_OUTPUT),
	R("attn_o.weight", ATTN_OUTPUT),
	R("attn_sinks.weight", ATTN_SINKS),
	R("attn_sinks", ATTN_SINKS),
	R("attn_rel_b.weight", ATTN_REL_BIAS),
	R("attn_q_a.weight", MLA_Q_A),
	R("attn_q_a_norm.weight", MLA_Q_A_NORM),
	R("attn_q_b.weight", MLA_Q_B),
	R("attn_kv_a_mqa.weight", MLA_KV_A),
	R("attn_kv_a_norm.weight", MLA_KV_A_NORM),
	R("attn_kv_b.weight", MLA_KV_B),
	R("attn_k_b.weight", MLA_K_B),
	R("attn_v_b.weight", MLA_V_B),
	R("cross_attn_q.weight", CROSS_Q),
	R("cross_attn_k.weight", CROSS_K),
	R("cross_attn_v.weight", CROSS_V),
	R("cross_attn_o.weight", CROSS_OUTPUT),
	R("cross_attn_out.weight", CROSS_OUTPUT),
	R("cross_attn_norm.weight", CROSS_NORM),
	R("cross_attn_rel_b.weight", ATTN_REL_BIAS),
	R("ssm_*", ATTN_LINEAR),
	R("time_mix_*", ATTN_LINEAR),
	R("ln1.weight", ATTN_NORM),
	R("ln2.weight", FFN_NORM),

	R("ffn_norm.weight", FFN_NORM),
	R("post_ffw_norm.weight", FFN_POST_NORM),
	R("ffn_post_norm.weight", FFN_POST_NORM),
	R("ffn_gate_exps.weight", EXP_GATE),
	R("ffn_up_exps.weight", EXP_UP),
	R("ffn_down_exps.weight", EXP_DOWN),
	R("ffn_gate_up_exps.weight", EXP_GATE_UP),
	R("ffn_gate.#.weight", EXP_GATE), /* pre-2024 files: one tensor per expert */
	R("ffn_up.#.weight", EXP_UP),
	R("ffn_down.#.weight", EXP_DOWN),
	R("ffn_gate_inp_shexp.weight", SHEXP_ROUTER),
	R("ffn_gate_inp.weight", ROUTER),
	R("ffn_gate_shexp.weight", SHEXP_GATE),
	R("ffn_up_shexp.weight", SHEXP_UP),
	R("ffn_down_shexp.weight", SHEXP_DOWN),
	R("ffn_gate.weight", FFN_GATE),
	R("ffn_up.weight", FFN_UP),
	R("ffn_down.weight", FFN_DOWN),

	R("nextn.eh_proj.weight", NEXTN_EH_PROJ),
	R("nextn.enorm.weight", NEXTN_NORM),
	R("nextn.hnorm.weight", NEXTN_NORM),
	R("nextn.embed_tokens.weight", TOKEN_EMBD),
	R("nextn.shared_head_head.weight", OUTPUT),
	R("nextn.shared_head_norm.weight", OUTPUT_NORM),
};

static const pj_name_rule gguf_top[] = {
	R("*.bias", BIAS),
	RC("patch_embd.weight", V_PATCH_EMBD, VISION),
	RC("position_embd.weight", V_POS_EMBD, VISION),
	RC("class_embd", V_POS_EMBD, VISION),
	RC("*norm*", V_NORM, VISION),
	RC("pre_ln.weight", V_NORM, VISION),
	RC("post_ln.weight", V_NORM, VISION),
	RC("*norm*", MM_NORM, PROJECTOR),
	RC("*", MM_PROJ, PROJECTOR),
	R("token_embd.weight", TOKEN_EMBD),
	R("rope_freqs.weight", ROPE_FREQS),
	R("position_embd.weight", POS_EMBD),
	R("output.weight", OUTPUT),
	R("output_norm.weight", OUTPUT_NORM),
};

const pj_name_tables pj_hf_names = {
	hf_scopes, N(hf_scopes), hf_block, N(hf_block), hf_top, N(hf_top),
};

const pj_name_tables pj_gguf_names = {
	gguf_scopes, N(gguf_scopes), gguf_block, N(gguf_block), gguf_top, N(gguf_top),
};

/* ---- roles inside vision towers and projectors ------------------------- */

static const struct {
	pj_component comp;
	pj_role_group group;
	pj_role role;
} comp_roles[] = {
	{ PJ_COMP_VISION, PJ_RG_ATTN, PJ_ROLE_V_ATTN },
	{ PJ_COMP_VISION, PJ_RG_FFN, PJ_ROLE_V_FFN },
	{ PJ_COMP_VISION, PJ_RG_NORM, PJ_ROLE_V_NORM },
	{ PJ_COMP_PROJECTOR, PJ_RG_ATTN, PJ_ROLE_MM_PROJ },
	{ PJ_COMP_PROJECTOR, PJ_RG_FFN, PJ_ROLE_MM_PROJ },
	{ PJ_COMP_PROJECTOR, PJ_RG_NORM, PJ_ROLE_MM_NORM },
};

pj_role pj_role_in_component(pj_role r, pj_component c)
{
	pj_role_group g = pj_role_info_of(r)->group;
	for (size_t i = 0; i < N(comp_roles); i++)
		if (comp_roles[i].comp == c && comp_roles[i].group == g)
			return comp_roles[i].role;
	return r;
}

/* ---- per-architecture defaults ----------------------------------------- */

static const pj_arch_rule arch_rules[] = {
	/* names                              pattern window full-interval flags norm [ctx] */
	{ "llama|llama4_text|granite|olmo|internlm2|exaone|deepseek|minicpm|stablelm",
	  0, 0, 0, 0, "rmsnorm", 0 },
	{ "mistral|mixtral|phi3|phimoe|starcoder2", 0, 0, 0, PJ_AR_SWA_ALL, "rmsnorm", 0 },
	{ "qwen2|qwen2_moe|qwen2moe|qwen3|qwen3_moe|qwen3moe|qwen2_vl|qwen2_vl_text|qwen2vl|"
	  "qwen2_5_vl|qwen2_5_vl_text|qwen25vl|qwen3_vl|qwen3_vl_text|qwen3vl|qwen3_vl_moe|"
	  "qwen3_vl_moe_text|qwen3vlmoe",
	  0, 0, 0, PJ_AR_SWA_OPTIN, "rmsnorm", 0 },
	{ "qwen3_next|qwen3next|qwen3_5|qwen3_5_text|qwen3_5_moe|qwen3_5_moe_text|qwen35|qwen35moe",
	  0, 0, 4, 0, "rmsnorm(1+w)", 0 },
	{ "gemma", 0, 0, 0, 0, "rmsnorm(1+w)", 0 },
	{ "gemma2", 2, 4096, 0, PJ_AR_SANDWICH, "rmsnorm(1+w)", 0 },
	{ "gemma3|gemma3_text", 6, 4096, 0, PJ_AR_SANDWICH, "rmsnorm(1+w)", 131072 },
	{ "gpt_oss|gpt-oss", 2, 128, 0, 0, "rmsnorm", 0 },
	{ "cohere2", 4, 4096, 0, 0, "layernorm", 0 },
	{ "olmo2", 0, 0, 0, PJ_AR_SANDWICH, "rmsnorm", 0 },
	{ "deepseek_v2|deepseek_v3|deepseek2|kimi_k2|glm4_moe|glm4moe", 0, 0, 0, 0, "rmsnorm", 0 },
	{ "t5|mt5|umt5|t5encoder", 0, 0, 0, PJ_AR_ENCDEC, "rmsnorm(t5)", 0 },
	{ "bart|mbart|marian|pegasus", 0, 0, 0, PJ_AR_ENCDEC, "layernorm", 0 },
	{ "gpt2|gpt_neox|gptneox|falcon|bloom|phi|phi2|opt", 0, 0, 0, 0, "layernorm", 0 },
	{ "llava|llava_next|llava_onevision|mistral3|pixtral|idefics3|smolvlm|internvl|mllama|llama4",
	  0, 0, 0, 0, "rmsnorm", 0 },
	{ "clip|clip_vision_model|siglip_vision_model|siglip", 0, 0, 0, 0, "layernorm", 0 },
};

static bool name_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p += len;
		if (*p == '|')
			p++;
	}
	return false;
}

const pj_arch_rule *pj_arch_rule_find(const char *name)
{
	if (!name || !*name)
		return NULL;
	for (size_t i = 0; i < N(arch_rules); i++)
		if (name_in_list(arch_rules[i].names, name))
			return &arch_rules[i];
	return NULL;
}

/* ---- the matcher ------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool pj_name_match(const char *pat, const char *s, int64_t *caps, int max_caps, int *n_caps,
                   const char **rest)
{
	for (;;) {
		if (*pat == '\0') {
			if (rest) {
				*rest = s;
				return true;
			}
			return *s == '\0';
		}
		if (*pat == '*') {
			/* shortest run first; patterns hold at most one or two stars */
			for (const char *t = s;; t++) {
				int saved = *n_caps;
				if (pj_name_match(pat + 1, t, caps, max_caps, n_caps, rest))
					return true;
				*n_caps = saved;
				if (*t == '\0')
					return false;
			}
		}
		if (*pat == '#') {
			if (!is_digit(*s))
				return false;
			int64_t v = 0;
			for (; is_digit(*s); s++) {
				v = v * 10 + (*s - '0');
				if (v > PJ_NAME_MAX_INDEX)
					return false;
			}
			if (*n_caps < max_caps)
				caps[*n_caps] = v;
			(*n_caps)++;
			pat++;
			continue;
		}
		if (*pat != *s)
			return false;
		pat++;
		s++;
	}
}
