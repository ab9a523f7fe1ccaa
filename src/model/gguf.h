/* gguf.h - GGUF v2/v3 reader: metadata and tensor table.
 *
 * The header (metadata + tensor infos) is parsed from memory; values point
 * into a private copy of the header bytes kept in pj_gguf.  Tensor data is
 * not touched: tensors go into a pj_catalog with absolute offsets. */
#ifndef PJ_GGUF_H
#define PJ_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "error.h"

typedef enum pj_gguf_type {
	PJ_GGUF_UINT8 = 0, PJ_GGUF_INT8 = 1, PJ_GGUF_UINT16 = 2, PJ_GGUF_INT16 = 3,
	PJ_GGUF_UINT32 = 4, PJ_GGUF_INT32 = 5, PJ_GGUF_FLOAT32 = 6, PJ_GGUF_BOOL = 7,
	PJ_GGUF_STRING = 8, PJ_GGUF_ARRAY = 9, PJ_GGUF_UINT64 = 10, PJ_GGUF_INT64 = 11,
	PJ_GGUF_FLOAT64 = 12, PJ_GGUF_TYPE_COUNT
} pj_gguf_type;

typedef struct pj_gguf_kv {
	char *key;
	pj_gguf_type type;
	union {                     /* scalars, converted losslessly */
		uint64_t u;             /* UINT8/16/32/64, BOOL */
		int64_t i;              /* INT8/16/32/64 */
		double f;               /* FLOAT32/64 */
	} v;
	const char *str;            /* STRING: NUL-terminated (copy owned by pj_gguf) */
	uint64_t str_len;
	pj_gguf_type arr_type;      /* ARRAY: element type */
	uint64_t arr_n;             /* ARRAY: element count */
	const uint8_t *arr_data;    /* ARRAY of numbers: raw little-endian elements */
	const char **arr_str;       /* ARRAY of strings: arr_n NUL-terminated strings */
	uint64_t *arr_str_len;
	uint64_t raw_off, raw_len;  /* the value's bytes in the file (for copying on export) */
} pj_gguf_kv;

typedef struct pj_gguf {
	char *path;
	uint32_t version;
	uint64_t n_kv;
	pj_gguf_kv *kv;
	uint64_t n_tensors;
	uint32_t alignment;         /* general.alignment or 32 */
	uint64_t data_offset;       /* start of the tensor data section */
	uint64_t file_size;
	void *arena;                /* private allocations (strings) */
} pj_gguf;

/* Parses a GGUF header held in buf[0..len) from a file of file_size bytes
 * (len may be smaller than file_size: only the header has to be present).
 * `label` names the file in messages.  Tensors are added to cat (may be NULL)
 * under file index file_idx.  On failure nothing in *out needs freeing. */
pj_status pj_gguf_parse(const char *label, const uint8_t *buf, size_t len, uint64_t file_size,
                        pj_gguf *out, pj_catalog *cat, uint32_t file_idx, pj_error *err);
/* Opens and parses a file (maps it; the header is read from the mapping). */
pj_status pj_gguf_open(const char *path, pj_gguf *out, pj_catalog *cat, pj_error *err);
void pj_gguf_free(pj_gguf *g);

const pj_gguf_kv *pj_gguf_find(const pj_gguf *g, const char *key);
/* Typed getters: false when missing or of an incompatible type. */
bool pj_gguf_get_u64(const pj_gguf *g, const char *key, uint64_t *out);
bool pj_gguf_get_i64(const pj_gguf *g, const char *key, int64_t *out);
bool pj_gguf_get_f64(const pj_gguf *g, const char *key, double *out);
bool pj_gguf_get_bool(const pj_gguf *g, const char *key, bool *out);
const char *pj_gguf_get_str(const pj_gguf *g, const char *key);
/* "<general.architecture>.<suffix>" convenience: */
bool pj_gguf_arch_u64(const pj_gguf *g, const char *suffix, uint64_t *out);
const char *pj_gguf_type_name(pj_gguf_type t);

#endif
