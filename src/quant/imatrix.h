/* imatrix.h - llama.cpp importance matrices: the GGUF form llama-imatrix
 * writes today and the legacy `.dat` form (pj_imatrix_load reads both).
 *
 * For each weight tensor W the file holds `<W>.in_sum2` (F32, ne = [n_per_row,
 * n_mats]: sums of squared activations per input column, one row per expert
 * for stacked experts, else one) and `<W>.counts` (F32, [1, n_mats]: how many
 * activations were summed).  The importance weights llama-quantize uses are
 * in_sum2 / count, per expert; an expert with count 0 gets weight 1 for every
 * column (llama.cpp's rule for rarely routed experts). */
#ifndef PJ_IMATRIX_H
#define PJ_IMATRIX_H

#include <stdbool.h>
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

/* Legacy `.dat` (llama-imatrix before the GGUF form; still written with
 * --output-format dat).  Little-endian int32 everywhere:
 *     n_entries
 *     n_entries x { name_len, name[name_len], ncall, nval, float values[nval] }
 *     optional: last_call, dataset_len, dataset[dataset_len]
 * values hold (sum / count) * ncall per column, ncall = ceil(max count / chunk
 * size); the loader divides by ncall as llama-quantize does.  There is one
 * ncall per tensor, not one count per expert, so for a stacked expert tensor
 * the entry has n_mats = 1 and n_per_row = n_experts * columns (slices are
 * cut at use, see pj_imatrix_weights), counts[0] = ncall, and
 * n_zero_counts = 0: an expert that saw no input was stored as all 1.0, which
 * pj_imatrix_coverage_of() reports as inferred.  Because (s/c)*ncall/ncall
 * rounds unless ncall is a power of two, weights equal the GGUF form's
 * bit for bit only then (dense entries with ncall 32 here; expert entries
 * differ in the last bits - llama-quantize sees the same difference). */

typedef struct pj_imatrix {
	char *path;
	pj_imatrix_entry *e;     /* sorted by name */
	size_t n;
	uint32_t chunk_count, chunk_size;
	char **datasets;
	size_t n_datasets;
	bool legacy;             /* read from a .dat file (chunk_count = its last_call) */
} pj_imatrix;

/* Reads either form (told apart by the GGUF magic).  Malformed files are
 * refused with a message naming the file and the entry. */
pj_status pj_imatrix_load(const char *path, pj_imatrix *im, pj_error *err);
void pj_imatrix_free(pj_imatrix *im);
const pj_imatrix_entry *pj_imatrix_find(const pj_imatrix *im, const char *tensor);
/* Hex SHA-256 of what quantization uses: every entry's name, shape and
 * weights (not the file's bytes).  Identifies the imatrix a saved session
 * was planned with. */
void pj_imatrix_sha256_hex(const pj_imatrix *im, char hex[65]);

/* The weights for matrix i2 (expert index, 0 for 2-D) of tensor `name` with
 * ne0 columns and ne2 matrices, exactly as llama-quantize picks them:
 * *out = NULL when the file has no entry; an entry whose size is not
 * ne0 * ne2 is an error, except for token_embd.weight (then NULL). */
pj_status pj_imatrix_weights(const pj_imatrix *im, const char *name, int64_t ne0, int64_t ne2, int64_t i2,
                             const float **out, pj_error *err);

/* ---- coverage ------------------------------------------------------------ */

/* A tensor that will be quantized with importance weights: its GGUF name,
 * columns and stacked matrices (experts; 1 for 2-D). */
typedef struct pj_imatrix_query {
	const char *name;
	int64_t ne0, ne2;
} pj_imatrix_query;

typedef struct pj_imatrix_zero {
	char *tensor;
	int64_t expert;
} pj_imatrix_zero;

typedef struct pj_imatrix_coverage {
	size_t n_wanted, n_found;
	char **missing;          /* tensors with no entry: quantized unweighted */
	size_t n_missing;
	pj_imatrix_zero *zero;   /* experts that saw no input: uniform weights (1.0) */
	size_t n_zero;
	bool zero_inferred;      /* legacy .dat: zero experts found by their all-1.0 slice */
	char **unused;           /* entries no queried tensor uses */
	size_t n_unused;
} pj_imatrix_coverage;

void pj_imatrix_coverage_of(const pj_imatrix *im, const pj_imatrix_query *q, size_t n,
                            pj_imatrix_coverage *out);
void pj_imatrix_coverage_free(pj_imatrix_coverage *c);

/* ---- Hugging Face names ---------------------------------------------------- */

/* Maps an HF tensor name to the GGUF name its imatrix entry has
 * ("model.layers.3.mlp.experts.5.down_proj.weight" -> "blk.3.ffn_down_exps.weight",
 * *expert = 5; *expert = -1 for a tensor that is not one expert of a stack).
 * False when the name is not one the table knows. */
bool pj_imatrix_hf_to_gguf(const char *hf, char *out, size_t outsz, int *expert);
/* pj_imatrix_weights for a tensor under its GGUF or HF name: a 2-D matrix of
 * ne0 columns, or one expert of a stacked entry when the HF name says so.
 * n_experts is the stack size of that entry (ignored for non-expert names). */
pj_status pj_imatrix_weights_any(const pj_imatrix *im, const char *name, int64_t ne0, int64_t n_experts,
                                 const float **out, pj_error *err);
/* pj_imatrix_weights for matrix i2 of ne2 of a tensor under its GGUF name,
 * or under an HF name mapped to its GGUF entry: one expert of a stacked
 * entry (its own slice; the stack size is the entry's values / ne0) when
 * the HF name names an expert.  An HF tensor whose mapped entry does not
 * fit it (e.g. DeepSeek's kv_b_proj, split in the GGUF) gets NULL: its
 * entry belongs to another layout. */
pj_status pj_imatrix_weights_for(const pj_imatrix *im, const char *name, int64_t ne0, int64_t ne2, int64_t i2,
                                 const float **out, pj_error *err);

#endif
