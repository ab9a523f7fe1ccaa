/* imatrix.h - llama.cpp importance matrices (GGUF form, as llama-imatrix writes).
 *
 * For each weight tensor W the file holds `<W>.in_sum2` (F32, ne = [n_per_row,
 * n_mats]: sums of squared activations per input column, one row per expert
 * for stacked experts, else one) and `<W>.counts` (F32, [1, n_mats]: how many
 * activations were summed).  The importance weights llama-quantize uses are
 * in_sum2 / count, per expert; an expert with count 0 gets weight 1 for every
 * column (llama.cpp's rule for rarely routed experts). */
#ifndef PJ_IMATRIX_H
#define PJ_IMATRIX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct pj_imatrix_entry {
	char *name;              /* the weight tensor's name (suffix removed) */
	int64_t n_per_row;       /* columns */
	int64_t n_mats;          /* experts (1 for a plain matrix) */
	float *weights;          /* n_mats * n_per_row importance weights */
	float *counts;           /* n_mats counts (rounded as llama.cpp rounds them) */
	int64_t n_zero_counts;   /* experts that never saw input */
} pj_imatrix_entry;

typedef struct pj_imatrix {
	char *path;
	pj_imatrix_entry *e;     /* sorted by name */
	size_t n;
	uint32_t chunk_count, chunk_size;
	char **datasets;
	size_t n_datasets;
} pj_imatrix;

pj_status pj_imatrix_load(const char *path, pj_imatrix *im, pj_error *err);
void pj_imatrix_free(pj_imatrix *im);
const pj_imatrix_entry *pj_imatrix_find(const pj_imatrix *im, const char *tensor);

/* The weights for matrix i2 (expert index, 0 for 2-D) of tensor `name` with
 * ne0 columns and ne2 matrices, exactly as llama-quantize picks them:
 * *out = NULL when the file has no entry; an entry whose size is not
 * ne0 * ne2 is an error, except for token_embd.weight (then NULL). */
pj_status pj_imatrix_weights(const pj_imatrix *im, const char *name, int64_t ne0, int64_t ne2, int64_t i2,
                             const float **out, pj_error *err);

#endif
