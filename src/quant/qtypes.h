/* qtypes.h - the quantization targets: one table row per ggml type we can
 * write, with its row quantizer and dequantizer.
 *
 * Output bytes equal llama.cpp's (llama-quantize / ggml_quantize_chunk) for
 * the same f32 input and the same importance weights: the kernels repeat the
 * reference arithmetic operation by operation.  Rows are independent, so the
 * threaded entry point gives the same bytes for any thread count.
 *
 * Importance weights ("imatrix") are per column: n_per_row floats applied to
 * every row.  For a stacked 3-D expert tensor call once per expert with that
 * expert's slice (see pj_imatrix_weights in imatrix.h). */
#ifndef PJ_QTYPES_H
#define PJ_QTYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"

typedef struct pj_qtype {
	pj_dtype type;
	const char *name;
	uint32_t block;              /* elements per block */
	uint32_t type_size;          /* bytes per block */
	bool uses_imatrix;           /* importance weights change the result */
	bool requires_imatrix;       /* llama.cpp refuses to quantize without them */
	/* One row of n elements (a multiple of block); qw is NULL or n weights. */
	void (*quantize_row)(const float *x, void *y, int64_t n, const float *qw);
	void (*dequantize_row)(const void *x, float *y, int64_t n);
} pj_qtype;

/* NULL when t is not a quantization target. */
const pj_qtype *pj_qtype_get(pj_dtype t);
/* All targets, in table order; *n receives the count. */
const pj_qtype *pj_qtype_all(size_t *n);

bool pj_qtype_supported(pj_dtype t);
bool pj_qtype_requires_imatrix(pj_dtype t);
/* Bytes of one row of n_per_row elements (0 when n_per_row is not a multiple
 * of the block or t is unsupported). */
size_t pj_qtype_row_size(pj_dtype t, int64_t n_per_row);

/* Quantizes nrows rows of n_per_row floats into dst (nrows * row_size bytes).
 * Fails, naming `what` (a tensor name, may be NULL), when t is unsupported,
 * n_per_row is not a multiple of the block, the type needs an importance
 * matrix and imatrix is NULL, or - for block-quantized targets - the input
 * holds NaN or Inf (llama.cpp would write a block it then rejects).
 * nthreads <= 1 runs on the calling thread; the bytes do not depend on it. */
pj_status pj_quantize_rows(pj_dtype t, const float *src, void *dst, int64_t nrows, int64_t n_per_row,
                           const float *imatrix, unsigned nthreads, const char *what, pj_error *err);

/* The same from rows stored as src_type (any type pj_convert_supported()
 * accepts: F32, F16, BF16, ...), decoded chunk by chunk inside the worker
 * threads instead of into one f32 copy of the whole matrix.  Same bytes as
 * decoding first and calling pj_quantize_rows(). */
pj_status pj_quantize_rows_from(pj_dtype t, pj_dtype src_type, const void *src, void *dst, int64_t nrows,
                                int64_t n_per_row, const float *imatrix, unsigned nthreads, const char *what,
                                pj_error *err);

/* Dequantizes nrows rows back to floats. */
pj_status pj_dequantize_rows(pj_dtype t, const void *src, float *dst, int64_t nrows, int64_t n_per_row,
                             pj_error *err);

#endif
