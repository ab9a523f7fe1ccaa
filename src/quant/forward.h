/* forward.h - a CPU reference forward pass, layer-streamed, for checking a
 * quantization plan on real text (perplexity, KL divergence: eval.h).
 *
 * Layer streaming: every sequence of the batch goes through layer L before
 * layer L+1 is loaded, and a layer's weights are freed before the next one
 * is read, so peak memory is about one layer's weights (as f32) plus the
 * activations of all tokens - a model larger than RAM can be checked.
 *
 * Where the weights come from is the caller's choice (pj_fwd_weights): the
 * source checkpoint (pj_fwd_load_source), or a plan's quantize-then-
 * dequantize view of each tensor.  The forward pass itself never knows.
 *
 * Arithmetic is f32 with f32 accumulators (norm sums and softmax sums in
 * double), following the Hugging Face transformers implementation of each
 * architecture (eager attention), so the logits equal transformers' fp32
 * logits up to summation order.  Work is split across threads by output
 * rows; every row is computed by one thread with the same code whatever the
 * split, so results do not depend on the thread count.
 *
 * Supported: Hugging Face folders of llama / mistral, qwen2, qwen3,
 * qwen3_moe, mixtral, gemma3 (text), deepseek_v2 / deepseek_v3, and GGUF
 * files of llama (incl. mixtral), qwen2, qwen3, qwen3moe, gemma3 and
 * deepseek2.  GGUF hyper-parameters come from the metadata; the layout
 * differences of the converter (llama's permuted q/k rows, stacked experts,
 * kv_b split into attn_k_b/attn_v_b, Gemma's norm offset folded into the
 * weights) are undone on load (forward_gguf.c), so both inputs compute the
 * same thing. */
#ifndef PJ_FORWARD_H
#define PJ_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"
#include "model.h"
#include "quant/pool.h"

/* The weights provider: fills dst with tensor t as f32, pj_tensor_nelem(t)
 * values in ggml order (rows of ne[0]).  Called from the thread that runs
 * the forward pass, one tensor at a time; it may use its own threads. */
typedef struct pj_fwd_weights {
	pj_status (*load)(void *ctx, pj_model *m, const pj_tensor *t, float *dst, pj_error *err);
	void *ctx;
	/* Optional: a value that identifies what load() gives for t, equal
	 * for equal values (the type it is rounded through, and whether
	 * importance weights shaped it): a check session reuses cached
	 * activations of layers whose keys did not change.  NULL: never
	 * reused.  The source's key is pj_fwd_source_key(). */
	uint64_t (*key)(void *ctx, const pj_tensor *t);
	/* Optional: the type t is stored in (its planned type), for the
	 * activation rounding of PJ_FWD_ACT_LLAMA.  NULL: t->dtype. */
	pj_dtype (*type)(void *ctx, const pj_tensor *t);
} pj_fwd_weights;

/* The key of the source values of t; a provider that passes t through
 * unchanged must give this key for it. */
uint64_t pj_fwd_source_key(void *ctx, const pj_tensor *t);
/* The key of t rounded through `type` (a quantized round trip), with or
 * without importance weights. */
uint64_t pj_fwd_type_key(const pj_tensor *t, pj_dtype type, bool imatrix);

/* The source weights, decoded (BF16/F16/F32/FP8 with block scales/quantized
 * GGUF types).  ctx is unused. */
pj_status pj_fwd_load_source(void *ctx, pj_model *m, const pj_tensor *t, float *dst, pj_error *err);

typedef struct pj_fwd pj_fwd;

/* Prepares m for forward passes: reads the configuration, checks that the
 * architecture and its tensors are supported.  threads >= 1. */
pj_status pj_fwd_open(pj_model *m, unsigned threads, pj_fwd **out, pj_error *err);
void pj_fwd_free(pj_fwd *f);

/* Activations: PJ_FWD_ACT_F32 (default) multiplies f32 activations by the
 * weights, as transformers does; PJ_FWD_ACT_LLAMA rounds each matmul's
 * input rows through the vec_dot type of the weight's type (Q8_K for
 * k-quants, Q8_0, BF16, ...) and keys/values through f16, as llama.cpp's
 * CPU backend with its default F16 KV cache does (forward_act.c). */
typedef enum { PJ_FWD_ACT_F32, PJ_FWD_ACT_LLAMA } pj_fwd_act;
void pj_fwd_set_act(pj_fwd *f, pj_fwd_act a);

int pj_fwd_hidden_size(const pj_fwd *f);
int pj_fwd_vocab(const pj_fwd *f);
int pj_fwd_n_layers(const pj_fwd *f);

typedef struct pj_fwd_opts {
	const pj_fwd_weights *weights;   /* NULL: pj_fwd_load_source */
	pj_progress *progress;           /* NULL, or items = layers + 1; cancel is honoured
	                                    between layers (PJ_ECANCELED) */
} pj_fwd_opts;

/* Runs n_seq independent sequences of n_ctx tokens each (ids[s * n_ctx + i],
 * position i) through the embeddings, every layer and the final norm.
 * out receives n_seq * n_ctx rows of hidden-size floats: the normed final
 * hidden states, ready for the output head. */
pj_status pj_fwd_hidden(pj_fwd *f, const int32_t *ids, size_t n_seq, size_t n_ctx, const pj_fwd_opts *o,
                        float *out, pj_error *err);

/* ---- one stage at a time (check sessions cache what enters each layer) ---- */

/* x[n_tok][hidden] = the (scaled) token embeddings of ids. */
pj_status pj_fwd_embed(pj_fwd *f, const pj_fwd_weights *w, const int32_t *ids, size_t n_tok, float *x,
                       pj_error *err);
/* Runs text block `layer` in place on x (n_seq sequences of n_ctx tokens).
 * route: NULL, or n_seq * n_ctx * top_k expert ids receiving each token's
 * selected experts (in selection order) when the layer is an MoE layer;
 * left untouched otherwise. */
pj_status pj_fwd_layer(pj_fwd *f, const pj_fwd_weights *w, int layer, float *x, size_t n_seq, size_t n_ctx,
                       int32_t *route, pj_error *err);
/* out = the final norm of x (out may equal x). */
pj_status pj_fwd_final_norm(pj_fwd *f, const pj_fwd_weights *w, const float *x, size_t n_tok, float *out,
                            pj_error *err);
/* The tensors the stage reads: layer -1 the embedding, 0..n-1 a block,
 * n_layers the final norm and the output head.  Returns how many (all of
 * them, even when more than max). */
size_t pj_fwd_stage_tensors(pj_fwd *f, int stage, const pj_tensor **out, size_t max);
/* MoE: experts per layer and selected per token (0 for dense models);
 * whether a block routes (has a router). */
int pj_fwd_n_experts(const pj_fwd *f);
int pj_fwd_top_k(const pj_fwd *f);
bool pj_fwd_layer_is_moe(pj_fwd *f, int layer);

/* The output head (lm_head, or the tied embedding), loaded once. */
typedef struct pj_fwd_head pj_fwd_head;
pj_status pj_fwd_head_load(pj_fwd *f, const pj_fwd_weights *w, pj_fwd_head **out, pj_error *err);
void pj_fwd_head_free(pj_fwd_head *h);
/* logits[n][vocab] from hidden[n][hidden] (final soft-capping applied). */
void pj_fwd_logits(pj_fwd *f, const pj_fwd_head *h, const float *hidden, size_t n, float *logits);

#endif
