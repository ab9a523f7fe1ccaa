/* eval.h - checking a plan on text: perplexity and KL divergence of the
 * plan's weights against the base (source) weights, with the conventions of
 * llama.cpp's llama-perplexity --kl-divergence, so the figures compare:
 *
 *  - Chunks: the token stream is cut into n_chunks chunks of n_ctx tokens
 *    (only whole chunks; n_chunks 0 = all).  Each chunk is evaluated on its
 *    own from position 0 (empty cache).
 *  - BOS: when the model's vocabulary adds BOS (GGUF tokenizer.ggml.add_bos_token,
 *    HF tokenizer_config.json add_bos_token), the stream starts with BOS and
 *    the first token of every chunk is replaced by BOS, as llama-perplexity
 *    does; otherwise the ids are used as they are.
 *  - Scoring: only the second half of each chunk is scored: the logits at
 *    positions n_ctx/2 .. n_ctx-2 predict tokens n_ctx/2+1 .. n_ctx-1, i.e.
 *    n_ctx - 1 - n_ctx/2 predictions per chunk; every position has at least
 *    n_ctx/2 tokens of context.
 *  - PPL = exp(mean NLL); ln ratio = mean(NLL_plan - NLL_base); the
 *    uncertainties are llama-perplexity's (standard error of the mean; the
 *    ratio's uses the covariance of the two NLL series).
 *  - KLD(base || plan) per position, summed over the whole vocabulary in
 *    double.  llama-perplexity stores base log-probabilities as 16-bit
 *    values and drops terms with p_base < e^-16, so its KLD differs from ours
 *    in the 5th-6th decimal; with equal weights ours is exactly 0.
 *  - Percentiles: sorted per-position KLD, linear interpolation at
 *    fraction * (n - 1); the median averages the two middle values for even n.
 *  - Top-1 agreement: argmax of base and plan logits equal (first index on
 *    ties).  RMS Δp: sqrt(mean((p_plan(tok) - p_base(tok))^2)) of the true
 *    next token's probability. */
#ifndef PJ_EVAL_H
#define PJ_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"
#include "model.h"
#include "quant/forward.h"

typedef struct pj_eval_opts {
	int n_ctx;               /* tokens per chunk, >= 4 */
	int n_chunks;            /* 0: every whole chunk */
	int32_t bos;             /* -1: no BOS; else the BOS id (see pj_eval_model_bos) */
	unsigned threads;        /* >= 1 */
	pj_fwd_act act;          /* activation rounding (forward.h) */
	pj_progress *progress;   /* NULL, or items = 2 * (layers + 1) */
} pj_eval_opts;

typedef struct pj_eval_result {
	size_t n_chunks, n_ctx, count;   /* count: scored predictions */
	double ppl_base, ppl_base_err, ppl_plan, ppl_plan_err;
	double ln_ppl_ratio, ln_ppl_ratio_err;
	double kld_mean, kld_stderr, kld_max, kld_p99_9, kld_p99, kld_p95, kld_median;
	double top1_agreement, top1_err; /* fractions */
	double rms_dp, rms_dp_err;       /* probability units (not %) */
	/* MoE models: the fraction of (token, MoE layer) pairs whose top-k
	 * expert set differs between base and plan, over the scored
	 * positions only (the second half of each chunk, as the other
	 * figures); details per layer in check_session.h */
	bool moe;
	double flip_rate;
} pj_eval_result;

/* The model's BOS rule: *bos = its BOS id when the vocabulary adds BOS,
 * else -1. */
void pj_eval_model_bos(const pj_model *m, int32_t *bos);

/* Runs the base weights (source) and the plan's weights over the same
 * chunks of ids[0..n_ids) and compares them.  plan NULL compares the base
 * with itself. */
pj_status pj_eval_run(pj_model *m, const int32_t *ids, size_t n_ids, const pj_fwd_weights *plan,
                      const pj_eval_opts *o, pj_eval_result *r, pj_error *err);

/* A "pure" plan as a weights provider: every tensor llama-quantize --pure
 * would quantize (2-D and up, not norms, routers, score biases, position
 * embeddings) is quantized to `type` and dequantized; when its rows do not
 * divide into the type's blocks, llama.cpp's fallback type (then F16) is used.
 * Other tensors come from the source as they are. */
typedef struct pj_eval_pure {
	pj_dtype type;
	unsigned threads;
} pj_eval_pure;
pj_status pj_eval_pure_load(void *ctx, pj_model *m, const pj_tensor *t, float *dst, pj_error *err);
uint64_t pj_eval_pure_key(void *ctx, const pj_tensor *t);
/* The type the pure plan gives t (its source type when it stays as is). */
pj_dtype pj_eval_pure_type(pj_dtype type, const pj_tensor *t);

#endif
