/* gguf_write.h - streaming, crash-safe GGUF v3 writer.
 *
 * The whole header (metadata + tensor infos) is known before the first data
 * byte is written: callers describe every output tensor (name, shape, type,
 * byte size) up front, then stream the data one tensor after the other.  No
 * seeking back; the writer holds two staging buffers of 16 MiB: a thread of
 * its own writes one (O_DIRECT where the file system takes it) while the
 * caller fills the other.
 *
 * Metadata is copied from a source GGUF in its order, byte for byte (the
 * reader records each value's raw bytes), minus the keys in `drop` and the
 * keys in `set`; the `set` keys are then appended in their order.  This is
 * exactly what ggml's gguf_set_kv + gguf_set_val_* (remove, then append) do,
 * so the output header equals llama-quantize's for the same edits.
 *
 * Safety: data goes to a temporary file in the target folder (same file
 * system, so the final rename is atomic).  Commit fsyncs the file, renames it
 * over the target, fsyncs the folder, then re-opens the result with
 * pj_gguf_open() and checks every tensor info.  Any failure, or abort, or a
 * signal handled with pj_gguf_write_signal_cleanup(), leaves no partial file.
 * The source file is never a valid target.
 *
 * One writer may be active per process (the signal cleanup knows one temp
 * path); library code, so nothing is printed: messages go to pj_error. */
#ifndef PJ_GGUF_WRITE_H
#define PJ_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"
#include "gguf.h"

/* A key the writer sets (appended after the copied metadata).  Any GGUF
 * value type: unsigned integers and BOOL take u, signed ones i, floats f,
 * STRING s (s_len bytes, or strlen(s) when s_len is 0), ARRAY arr_n elements
 * of arr_type: raw little-endian numbers in arr, or strings in arr_s (with
 * optional lengths arr_s_len). */
typedef struct pj_gguf_wkv {
	const char *key;
	pj_gguf_type type;
	uint64_t u;              /* UINT8/16/32/64, BOOL */
	int64_t i;               /* INT8/16/32/64 */
	const char *s;           /* STRING */
	double f;                /* FLOAT32/64 */
	size_t s_len;
	pj_gguf_type arr_type;   /* ARRAY: element type (not ARRAY) */
	uint64_t arr_n;
	const void *arr;         /* ARRAY of numbers */
	const char *const *arr_s;        /* ARRAY of STRING */
	const uint64_t *arr_s_len;       /* NULL: strlen */
} pj_gguf_wkv;

/* One output tensor, in file order. */
typedef struct pj_gguf_wtensor {
	const char *name;
	int n_dims;              /* as written; ggml writes ggml_n_dims() (trailing 1s dropped) */
	int64_t ne[4];
	pj_dtype type;           /* must have a ggml id */
	uint64_t nbytes;         /* data bytes, before padding */
} pj_gguf_wtensor;

typedef struct pj_gguf_wspec {
	const pj_gguf *src;              /* metadata to copy (NULL: none); src->path is read */
	const char *const *drop;         /* NULL-terminated keys not copied, may be NULL */
	const pj_gguf_wkv *set;
	size_t n_set;
	const pj_gguf_wtensor *t;
	size_t n_t;
	uint32_t alignment;              /* 0: general.alignment of src, else 32 */
} pj_gguf_wspec;

typedef struct pj_gguf_writer pj_gguf_writer;

/* Creates the temporary file and writes the header.  Fails (nothing left on
 * disk) when out_path is the source file, its folder is not writable, a
 * tensor has no ggml type or a size does not match its shape and type. */
pj_status pj_gguf_write_begin(pj_gguf_writer **w, const char *out_path, const pj_gguf_wspec *spec,
                              pj_error *err);
/* Appends n data bytes of the current tensor (a tensor may come in pieces;
 * padding is added when its last byte arrives). */
pj_status pj_gguf_write_data(pj_gguf_writer *w, const void *data, size_t n, pj_error *err);
/* The same without a copy: room for n bytes of the current tensor in the
 * writer's buffer (NULL on a write error, or when n is more than the tensor
 * has left), valid until the next call on w.  Fill it, then append it with
 * pj_gguf_write_advance(w, n).  Pieces up to pj_gguf_write_span() bytes
 * (4 MiB) never make the buffers grow and keep the writer thread busy. */
size_t pj_gguf_write_span(const pj_gguf_writer *w);
void *pj_gguf_write_reserve(pj_gguf_writer *w, size_t n, pj_error *err);
pj_status pj_gguf_write_advance(pj_gguf_writer *w, size_t n, pj_error *err);
/* Checks that every tensor is complete, syncs, renames and validates; frees w
 * on success and on failure (then the temporary file is removed). */
pj_status pj_gguf_write_commit(pj_gguf_writer *w, pj_error *err);
/* Removes the temporary file and frees w.  NULL is a no-op. */
void pj_gguf_write_abort(pj_gguf_writer *w);
/* Bytes the header takes (with padding) and the whole file would take. */
uint64_t pj_gguf_write_header_size(const pj_gguf_writer *w);
uint64_t pj_gguf_write_file_size(const pj_gguf_writer *w);

/* Async-signal-safe: unlinks the temporary file of the active writer, if
 * any.  Call it from a SIGINT/SIGTERM handler before re-raising. */
void pj_gguf_write_signal_cleanup(void);

#endif
