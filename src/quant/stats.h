/* stats.h - per-tensor statistics, and the background job that computes
 * them for a whole catalog.
 *
 * What is measured, over the finite elements of a tensor (NaN and +-Inf are
 * only counted):
 *   min, max, max |x|, mean |x|, RMS = sqrt(mean x^2),
 *   NaN count, Inf count,
 *   outlier fraction = share of finite elements with |x| > 6 * RMS.
 * The outlier threshold is relative so that it means the same thing for an
 * embedding and for a norm vector; 6 RMS is where a Gaussian would put about
 * 2e-9 of its mass, so a visible fraction flags heavy tails, which are what
 * hurt low-bit block quantization (one outlier sets a block's scale).
 * Outliers need the RMS first, so a tensor is read in two passes.
 * Block-quantized tensors (a quantized GGUF) are dequantized with the
 * kernel table's decoders first: their figures are those of the values
 * the file stores.
 *
 * A stacked expert tensor (GGUF ffn_*_exps, n_experts > 1) is measured one
 * expert slice at a time; each slice gets its own result, and the tensor's
 * result is their merge.  Its outliers are therefore counted per expert,
 * against that expert's RMS.
 *
 * Statistics are kept as mergeable sums, so a layer's or a group's figures
 * are the merge of its tensors'. */
#ifndef PJ_STATS_H
#define PJ_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "dtype.h"
#include "error.h"
#include "pool.h"

#define PJ_STATS_OUTLIER_RMS 6.0

typedef enum pj_tstats_state {
	PJ_TS_PENDING = 0,   /* not computed (yet) */
	PJ_TS_DONE,
	PJ_TS_PARTIAL,       /* cancelled part-way: covers only `n` elements */
	PJ_TS_UNSUPPORTED,   /* no decoder for the element type (yet) */
	PJ_TS_ERROR,         /* the data could not be read */
} pj_tstats_state;

typedef struct pj_tstats {
	pj_tstats_state state;
	uint64_t n;                /* elements examined (== nelem when DONE) */
	uint64_t n_finite, n_nan, n_inf;
	uint64_t n_outlier;        /* finite elements with |x| > 6 RMS */
	uint64_t n_outlier_seen;   /* finite elements checked for that */
	float min, max;            /* over finite elements; meaningless if n_finite == 0 */
	double sum_abs, sum_sq;    /* over finite elements */
} pj_tstats;

/* Derived figures; NaN when not known. */
double pj_tstats_max_abs(const pj_tstats *s);
double pj_tstats_mean_abs(const pj_tstats *s);
double pj_tstats_rms(const pj_tstats *s);
double pj_tstats_outlier_frac(const pj_tstats *s);

/* Accumulates s into acc.  Start acc zeroed with state PJ_TS_PENDING and
 * pass first = true for the first merge.  The state stays DONE only if
 * every part was DONE (likewise UNSUPPORTED, PENDING); otherwise PARTIAL. */
void pj_tstats_merge(pj_tstats *acc, const pj_tstats *s, bool first);

/* How a computation may be stopped and where it reports bytes done. */
typedef struct pj_stats_ctl {
	const atomic_bool *cancel;  /* NULL: never */
	const pj_pool *pool;        /* its pool-wide cancel also stops us; may be NULL */
	pj_progress *progress;      /* units_done += bytes read; may be NULL */
} pj_stats_ctl;

/* Statistics of n elements of type t at data, in cancellable chunks.
 * Returns PJ_OK (state DONE), PJ_ECANCELED (state PARTIAL, figures cover
 * what was read) or PJ_EUNSUPPORTED (state UNSUPPORTED). */
pj_status pj_stats_compute(pj_dtype t, const void *data, uint64_t n, const pj_stats_ctl *ctl,
                           pj_tstats *out);

/* ---- the background job ------------------------------------------------- */

typedef struct pj_stats_sink {
	/* Called on a worker thread as each tensor (expert = -1) or expert
	 * slice (expert >= 0) is finished or cut short.  Must be thread-safe
	 * and quick: copy the result and return. */
	void (*result)(void *ctx, size_t tensor, int expert, const pj_tstats *s);
	/* Called once, after the last result, on a worker thread (or on the
	 * caller's thread when there was nothing to do). */
	void (*finished)(void *ctx);
	void *ctx;
} pj_stats_sink;

typedef struct pj_stats_job pj_stats_job;

/* Computes statistics of the n tensors order[0..n) of cat (tensor indices,
 * measured in that order, so a UI can pass its display order) on pool.
 * Returns at once; progress is polled through pj_stats_job_progress():
 * items are tensors, units are bytes. */
pj_stats_job *pj_stats_job_start(pj_pool *pool, pj_catalog *cat, const size_t *order, size_t n,
                                 const pj_stats_sink *sink);
/* Asks the job to stop: tensors being read are reported PARTIAL, the rest
 * stay PENDING (never reported). */
void pj_stats_job_cancel(pj_stats_job *j);
const pj_progress *pj_stats_job_progress(const pj_stats_job *j);
/* Cancels if still running, waits for its jobs to leave (milliseconds:
 * they check between chunks), frees.  NULL is a no-op. */
void pj_stats_job_free(pj_stats_job *j);

#endif
