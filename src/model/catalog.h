/* catalog.h - the format-independent tensor catalog.
 *
 * Every reader (safetensors, GGUF) fills one pj_catalog; everything above
 * src/model works on it only.
 *
 * Shape order: ne[] is in ggml order, innermost first.  ne[0] is the length
 * of one contiguous row (the dimension quantization blocks run along), ne[1]
 * the number of rows, ne[2] the expert index of a stacked 3-D expert tensor.
 * A PyTorch/safetensors shape [out, in] is stored as ne = {in, out}.  Human
 * output prints ggml order too ("256 x 1024" = rows of 256), like gguf-dump.
 *
 * Tensor data is never read until asked for: files are mapped lazily, on the
 * first pj_catalog_data() call for a tensor of that file. */
#ifndef PJ_CATALOG_H
#define PJ_CATALOG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"
#include "roles.h"

#define PJ_MAX_DIMS 8

typedef struct pj_tensor {
	char *name;                 /* as stored in the file */
	int n_dims;
	int64_t ne[PJ_MAX_DIMS];    /* ggml order, unused dims are 1 */
	pj_dtype dtype;
	uint64_t nbytes;
	uint32_t file;              /* index into pj_catalog.files */
	uint64_t offset;            /* absolute offset of the data in that file */

	/* Filled by architecture detection (arch.c). */
	pj_role role;
	pj_component comp;
	int32_t layer;              /* block index within its component, -1 if none */
	int32_t expert;             /* expert index of a per-expert tensor, -1 otherwise */
	int32_t n_experts;          /* experts stacked in this tensor (3-D), 0 otherwise */
	uint64_t params;            /* parameters held (0 for scale tensors; packed 4-bit
	                               blocks count two per byte) */
} pj_tensor;

typedef struct pj_file {
	char *path;
	uint64_t size;
	const uint8_t *map;         /* NULL until first data access */
} pj_file;

typedef struct pj_catalog {
	pj_tensor *t;
	size_t n, cap;
	pj_file *files;
	size_t n_files;
	/* open-addressing name index: slots hold tensor index + 1, 0 = empty */
	uint32_t *index;
	size_t index_cap;
	pthread_mutex_t map_lock;
} pj_catalog;

void pj_catalog_init(pj_catalog *c);
void pj_catalog_free(pj_catalog *c);
uint32_t pj_catalog_add_file(pj_catalog *c, const char *path, uint64_t size);
/* Adds a tensor (name copied).  Fails on a duplicate name, with a message
 * naming `where` (file) and the tensor. */
pj_status pj_catalog_add(pj_catalog *c, const char *where, const char *name, size_t name_len,
                         pj_dtype dtype, int n_dims, const int64_t *ne, uint32_t file,
                         uint64_t offset, uint64_t nbytes, pj_error *err);
const pj_tensor *pj_catalog_find(const pj_catalog *c, const char *name);
ptrdiff_t pj_catalog_find_index(const pj_catalog *c, const char *name);
/* Pointer to the tensor's bytes, mapping its file on first use (thread-safe). */
const void *pj_catalog_data(pj_catalog *c, const pj_tensor *t, pj_error *err);

int64_t pj_tensor_nelem(const pj_tensor *t);
int64_t pj_tensor_nrows(const pj_tensor *t);   /* product of ne[1..] */
/* Formats ne as "256x1024x8" into buf. */
const char *pj_tensor_shape_str(const pj_tensor *t, char *buf, size_t len);

#endif
