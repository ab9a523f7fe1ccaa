/* mcache.h - the on-disk cache of error measurements.
 *
 * Measuring a tensor costs a quantize + dequantize per candidate type, so
 * results are kept across runs, keyed by what they depend on and nothing
 * else:
 *   tensor key = SHA-256(format version, SHA-256 of the tensor's raw bytes
 *                        (then, for block-scaled FP8, its scales' bytes and
 *                        block size), dtype, shape)
 *   result key = SHA-256(format version, tensor key, candidate type,
 *                        SHA-256 of the importance weights used, or "none")
 * The tensor name and the model's path are not part of the key: a renamed
 * or re-downloaded file with the same bytes hits, a changed one misses.
 * Per-tensor statistics are stored under the tensor key.
 *
 * The file is <dir>/measure.pjmc: a 64-byte header (magic, version, lengths,
 * SHA-256 of the payload) followed by one zstd frame with its own XXH64
 * content checksum.  Anything that does not check out - magic, version,
 * lengths, either checksum, record kinds - makes the whole file ignored:
 * the cache starts empty, the caller gets a warning, and the next save
 * rewrites the file.  Saves are atomic (temporary file + rename), so a
 * crash leaves the old file or the new one, never half of one.  Two
 * processes saving at once do not corrupt anything; the last one wins and
 * the other's new entries are lost (they are only a cache).
 *
 * All functions are thread-safe (one mutex); measurement workers look up
 * and store concurrently.  Library code: nothing is printed. */
#ifndef PJ_MCACHE_H
#define PJ_MCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"
#include "quant/stats.h"

/* Bump whenever a kernel, the error formula or the record layout changes:
 * an older file is then ignored (with a warning) instead of trusted. */
#define PJ_MCACHE_VERSION 1
#define PJ_MCACHE_FILE "measure.pjmc"

typedef struct pj_mcache pj_mcache;

/* A cached measurement of one candidate type. */
typedef struct pj_mcache_result {
	double rel_err;       /* sum w(x-q)^2 / sum w x^2 */
	double max_abs_err;
	bool weighted;        /* importance weights were applied */
} pj_mcache_result;

/* Opens (or starts) the cache in dir; NULL means the default,
 * $XDG_CACHE_HOME/pajamas-tui/measure or ~/.cache/pajamas-tui/measure.
 * The directory is created.  A missing file is an empty cache; an
 * unreadable or corrupt one is too, and *warning (when warning is
 * non-NULL) receives a malloc'd message saying why it was ignored.
 * Fails only when the directory cannot be used. */
pj_status pj_mcache_open(const char *dir, pj_mcache **out, char **warning, pj_error *err);
/* Frees the cache without saving.  NULL is a no-op. */
void pj_mcache_close(pj_mcache *c);
/* Writes the file when something was added since the last load/save. */
pj_status pj_mcache_save(pj_mcache *c, pj_error *err);
const char *pj_mcache_path(const pj_mcache *c);

/* Key derivation (see the top of this file). */
void pj_mcache_tensor_key(const uint8_t content_sha[32], pj_dtype dtype, int n_dims, const int64_t *ne,
                          uint8_t out[32]);
void pj_mcache_result_key(const uint8_t tensor_key[32], pj_dtype cand, const uint8_t *imatrix_sha,
                          uint8_t out[32]);

bool pj_mcache_get_result(pj_mcache *c, const uint8_t key[32], pj_mcache_result *out);
void pj_mcache_put_result(pj_mcache *c, const uint8_t key[32], const pj_mcache_result *r);
/* Statistics come back with state DONE. */
bool pj_mcache_get_stats(pj_mcache *c, const uint8_t key[32], pj_tstats *out);
void pj_mcache_put_stats(pj_mcache *c, const uint8_t key[32], const pj_tstats *s);

typedef struct pj_mcache_counts {
	uint64_t hits, misses, puts;
	size_t entries;
} pj_mcache_counts;
void pj_mcache_get_counts(pj_mcache *c, pj_mcache_counts *out);

#endif
