/* safetensors.h - safetensors reader (single file and sharded index).
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON, then data.
 * Offsets in the JSON are relative to the data section (8 + N). */
#ifndef PJ_SAFETENSORS_H
#define PJ_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "error.h"

/* Largest header we accept (the format's own limit is 100 MB). */
#define PJ_ST_MAX_HEADER (100u * 1024u * 1024u)

/* Parses a header JSON (json[0..len), without the 8-byte length) of a file
 * of file_size bytes, adding its tensors to cat under file index file_idx.
 * Validates dtypes, shapes, byte counts, bounds and overlaps. */
pj_status pj_st_parse_header(const char *label, const char *json, size_t len, uint64_t file_size,
                             pj_catalog *cat, uint32_t file_idx, pj_error *err);
/* Reads the header of one .safetensors file with pread (no mmap). */
pj_status pj_st_open(const char *path, pj_catalog *cat, pj_error *err);
/* Reads model.safetensors.index.json in dir and every shard it names;
 * checks that each tensor named in weight_map is in the shard it names. */
pj_status pj_st_open_index(const char *dir, const char *index_path, pj_catalog *cat, pj_error *err);

#endif
