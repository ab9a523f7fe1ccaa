/* measure.h - error measurement: how much each candidate type would hurt
 * each tensor.  The planner's raw signal.
 *
 * For a tensor and a candidate type the tensor is converted to f32 rows,
 * quantized with the same kernels the export uses, dequantized, and
 * compared with the source:
 *   rel_err     = sum w (x - q)^2 / sum w x^2
 *   max_abs_err = max |x - q|
 * over the finite elements, where w are the importance matrix's per-column
 * weights for that tensor (each expert's own slice for stacked experts; an
 * HF per-expert tensor gets its row of the GGUF name's stacked entry) and
 * 1 when there is no importance matrix or no entry for the tensor.  The same
 * weights go to the quantizer for the types that use them, as llama.cpp
 * does.  Per-tensor statistics (stats.h: max |x|, outlier fraction, NaN and
 * Inf counts) come with every measurement.
 *
 * One job measures every candidate of a tensor in one pass over its data:
 * each chunk of rows is read and converted once, then every candidate runs
 * on it.  Chunks are spread over the pool's threads; chunk boundaries depend
 * only on the tensor's shape, each chunk's sums are accumulated row by row
 * in double, and chunk sums are combined in row order at the end, so results
 * are bit-identical for any thread count.
 *
 * Types whose block does not divide the row length, that need an importance
 * matrix the tensor does not have (those ggml refuses without one, and
 * IQ1_M, which llama-quantize refuses), or that cannot take the tensor's
 * NaN/Inf values are reported "not applicable" with the reason; fallbacks
 * are the plan's business.  Already quantized sources are dequantized first
 * (a requantization: the error is measured against the dequantized values,
 * not the lost original).  DeepSeek-style FP8 with a `<W>_scale_inv` tensor
 * is measured on the values times their block's scale (block size read off
 * the two shapes, pj_convert_fp8_block_of), as the export converts it.
 *
 * With a cache (mcache.h) a tensor's raw bytes are hashed first - a full
 * read of the tensor, on the worker threads, about as costly as one
 * conversion pass - and results found in the cache are not recomputed.
 * Block scales and their block size are hashed with the weight's bytes. */
#ifndef PJ_MEASURE_H
#define PJ_MEASURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "dtype.h"
#include "error.h"
#include "quant/imatrix.h"
#include "quant/mcache.h"
#include "quant/pool.h"
#include "quant/stats.h"

#define PJ_MEASURE_MAX_TYPES 20

typedef enum pj_mstate {
	PJ_MS_PENDING = 0,   /* not measured (yet) */
	PJ_MS_DONE,
	PJ_MS_PARTIAL,       /* cancelled part-way: figures cover rows_done rows */
	PJ_MS_NA,            /* not applicable; see reason */
	PJ_MS_ERROR,         /* could not be measured; see reason */
} pj_mstate;

const char *pj_mstate_name(pj_mstate s);

typedef struct pj_mresult {
	pj_dtype type;
	pj_mstate state;
	bool cached;          /* taken from the cache, not computed now */
	bool weighted;        /* importance weights were applied */
	double rel_err;       /* NaN unless DONE or PARTIAL */
	double max_abs_err;
	uint64_t bytes;       /* the tensor's size in this type; 0 when NA */
	double bpw;           /* bits per weight; NaN when NA */
	char reason[96];      /* for NA and ERROR */
} pj_mresult;

typedef struct pj_mtensor {
	size_t tensor;        /* catalog index */
	pj_mstate state;      /* PENDING, DONE, PARTIAL or ERROR */
	bool weighted;        /* the imatrix has weights for this tensor */
	uint64_t rows, rows_done;
	pj_tstats stats;
	size_t n;             /* candidates, in the order they were asked for */
	pj_mresult r[PJ_MEASURE_MAX_TYPES];
	char reason[160];     /* for ERROR: why the tensor could not be read */
} pj_mtensor;

/* The default candidates: F16 Q8_0 Q6_K Q5_K Q4_K Q3_K Q2_K IQ4_XS IQ4_NL
 * Q4_0, plus IQ3_XXS IQ3_S IQ1_M IQ2_S IQ2_XS IQ2_XXS IQ1_S when an
 * importance matrix is given (the IQ3 and IQ2_S kernels run without one, but
 * are only worth their bits with one, so they are offered only then; asked
 * for explicitly, they are measured).
 * Returns the count (at most PJ_MEASURE_MAX_TYPES). */
size_t pj_measure_default_types(bool with_imatrix, pj_dtype *out);

typedef struct pj_measure_opts {
	const pj_dtype *types;      /* NULL: the default candidates */
	size_t n_types;
	const pj_imatrix *imatrix;  /* NULL: unweighted */
	pj_mcache *cache;           /* NULL: no cache (and no hashing) */
} pj_measure_opts;

/* Counters of one job, for the UI and for tests. */
typedef struct pj_measure_counts {
	uint64_t computed;          /* (tensor, type) results computed */
	uint64_t cached;            /* ... taken from the cache */
	uint64_t kernel_calls;      /* pj_quantize_rows calls */
	uint64_t bytes_hashed;
} pj_measure_counts;

/* ---- the background job --------------------------------------------------- */

typedef struct pj_measure_sink {
	/* Called on a worker thread when tensor order[i] is finished (or cut
	 * short).  Thread-safe and quick: copy and return.  May be NULL. */
	void (*result)(void *ctx, size_t i, const pj_mtensor *m);
	/* Called once after the last result.  May be NULL. */
	void (*finished)(void *ctx);
	void *ctx;
} pj_measure_sink;

typedef struct pj_measure_job pj_measure_job;

/* Measures tensors order[0..n) of cat on pool, in that order (so a UI can
 * pass its display order).  Returns at once; fails (NULL, err set) only on
 * a bad argument (too many or unknown candidate types).  Progress: items
 * are tensors, units are elements.  sink may be NULL: poll instead. */
pj_measure_job *pj_measure_job_start(pj_pool *pool, pj_catalog *cat, const size_t *order, size_t n,
                                     const pj_measure_opts *opts, const pj_measure_sink *sink,
                                     pj_error *err);
/* Tensors being measured are reported PARTIAL, the rest stay PENDING. */
void pj_measure_job_cancel(pj_measure_job *j);
const pj_progress *pj_measure_job_progress(const pj_measure_job *j);
/* Copies the result of order[i] (state PENDING until it is in). */
void pj_measure_job_get(pj_measure_job *j, size_t i, pj_mtensor *out);
void pj_measure_job_counts(pj_measure_job *j, pj_measure_counts *out);
/* Blocks until every runner has left. */
void pj_measure_job_wait(pj_measure_job *j);
/* Cancels if still running, waits, frees.  NULL is a no-op. */
void pj_measure_job_free(pj_measure_job *j);

/* ---- batch mode -------------------------------------------------------------- */

/* Measures synchronously on `threads` threads; out[i] receives order[i]'s
 * result.  The cache (if any) is updated in memory; save it with
 * pj_mcache_save().  counts may be NULL. */
pj_status pj_measure_run(pj_catalog *cat, const size_t *order, size_t n, const pj_measure_opts *opts,
                         unsigned threads, pj_mtensor *out, pj_measure_counts *counts, pj_error *err);

/* The result for type t in m, or NULL. */
const pj_mresult *pj_mtensor_find(const pj_mtensor *m, pj_dtype t);

#endif
