/* check_session.h - checking many plans against one base on the same text,
 * recomputing only what a plan edit changed.
 *
 * Opening a session runs the base (source) weights once over the chunks
 * (eval.h's conventions) and keeps:
 *   - the activations entering every block (and leaving the last one),
 *     n_chunks * n_ctx * hidden floats per block boundary;
 *   - the base logits of the scored positions (what KLD compares against);
 *   - which experts each token picked in every MoE block (routing counts).
 * Each pj_check_session_run(plan) then keeps the same for the plan, and
 * the next run starts at the first stage (embedding, a block, or the final
 * norm + head) whose tensors' keys (pj_fwd_weights.key) differ from the
 * last plan's - or from the base's, when that reaches further - so editing
 * a tensor of the last block recomputes one block and the head.
 *
 * Memory: the caches are malloc'd while they fit in cache_ram bytes; larger
 * ones live in unlinked temporary files, mmap'd (the kernel pages them out,
 * so a model whose activations exceed RAM can still be re-checked).  The
 * plan's output head is kept (f32, same rule) while its key is unchanged.
 *
 * Library code: nothing is printed. */
#ifndef PJ_CHECK_SESSION_H
#define PJ_CHECK_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant/eval.h"

typedef struct pj_check_session pj_check_session;

typedef struct pj_check_session_opts {
	pj_eval_opts eval;        /* chunks, BOS, threads, progress (items: stages computed) */
	size_t cache_ram;         /* bytes of caches kept in RAM; beyond that, temp files.
	                             0: PJ_CHECK_CACHE_RAM_DEFAULT; SIZE_MAX: RAM only */
	const char *cache_dir;    /* temp files go here (NULL: $TMPDIR, else /tmp) */
} pj_check_session_opts;

#define PJ_CHECK_CACHE_RAM_DEFAULT ((size_t)1 << 30)

/* Runs the base over the chunks of ids[0..n_ids) and caches it. */
pj_status pj_check_session_open(pj_model *m, const int32_t *ids, size_t n_ids, const pj_check_session_opts *o,
                                pj_check_session **out, pj_error *err);
void pj_check_session_free(pj_check_session *s);

/* Checks a plan (NULL: the base itself) against the base: r as
 * pj_eval_run() gives it, flip rate included. */
pj_status pj_check_session_run(pj_check_session *s, const pj_fwd_weights *plan, pj_eval_result *r,
                               pj_error *err);

/* ---- MoE routing ------------------------------------------------------------ */

typedef struct pj_check_layer {
	bool moe;                 /* the block routes to experts */
	const uint64_t *counts;   /* [n_experts]: base tokens routed to each expert */
	int n_unused;             /* experts the base never routed to on this text */
	uint64_t flips;           /* scored positions (second half of each chunk) whose expert
	                             set differs in the last run's plan */
	double flip_rate;         /* flips / scored positions */
	bool changed;             /* the last run's plan differs from the base in this block */
} pj_check_layer;

int pj_check_session_n_layers(const pj_check_session *s);
int pj_check_session_n_experts(const pj_check_session *s);
int pj_check_session_top_k(const pj_check_session *s);
/* Tokens routed per MoE block (every token of every chunk); the counts of
 * a block sum to tokens * top_k. */
size_t pj_check_session_tokens(const pj_check_session *s);
const pj_check_layer *pj_check_session_layer(const pj_check_session *s, int layer);
/* The fraction of tokens that picked expert e in block `layer` (0..1;
 * -1 when the block has no experts or e is out of range). */
double pj_check_session_expert_freq(const pj_check_session *s, int layer, int expert);
/* The routing frequency of the expert(s) tensor t belongs to: one value for
 * a per-expert tensor, n_experts for a stacked one (written to freq, at most
 * max); returns how many, 0 for tensors of no expert. */
int pj_check_session_tensor_freq(const pj_check_session *s, const pj_tensor *t, double *freq, int max);

/* ---- attribution ---------------------------------------------------------------- */

/* KLD (and the other figures) of the base with only block `layer` taken from
 * plan: starts from the cached base activations entering that block, so it
 * costs n_layers - layer blocks and one head. */
pj_status pj_check_session_layer_only(pj_check_session *s, const pj_fwd_weights *plan, int layer,
                                      pj_eval_result *r, pj_error *err);

/* Measured points for refitting a predictor: (layer, mean KLD with only that
 * block from plan) for every block whose tensors differ from the base
 * (blocks equal to the base measure 0 and are left out).  *out is malloc'd. */
typedef struct pj_layer_kld {
	int layer;
	double kld;
} pj_layer_kld;
pj_status pj_check_session_layer_points(pj_check_session *s, const pj_fwd_weights *plan, pj_layer_kld **out,
                                        size_t *n, pj_error *err);

/* ---- counters (tests, benchmarks) ------------------------------------------------ */

typedef struct pj_check_counters {
	uint64_t base_layers;     /* block evaluations with the base weights */
	uint64_t plan_layers;     /* ... with plan weights (runs) */
	uint64_t attr_layers;     /* ... by attribution */
	int last_start;           /* stage the last run started at: -1 embedding, L = n_layers the head only,
	                             L + 1 nothing recomputed */
	bool last_from_base;      /* it started from the base's cache (else the last plan's) */
	size_t cache_ram, cache_file;  /* bytes of caches in RAM and in temp files */
} pj_check_counters;
void pj_check_session_counters(const pj_check_session *s, pj_check_counters *c);

#endif
