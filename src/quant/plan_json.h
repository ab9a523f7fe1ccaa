/* plan_json.h - plan files: a plan's base, rules and overrides as JSON.
 *
 * Schema "pajamas-plan", version 1 (documented in the man page, PLAN FILES):
 *
 *   {
 *     "schema": "pajamas-plan",
 *     "version": 1,
 *     "model": { "name": "qwen3-BF16.gguf", "header_sha256": "<64 hex>" },
 *     "base": "Q4_K_M",
 *     "rules": [ "ffn_down=Q6_K", "role:attn_v@0-3=Q8_0" ],
 *     "overrides": { "blk.0.attn_v.weight": { "type": "Q8_0", "pinned": true } },
 *     "target": { ... }                      (optional, kept as is)
 *   }
 *
 * header_sha256 is pj_plan_header_sha256(): the tensor table's content hash
 * (names, types, shapes).  Saving, loading and saving again gives the same
 * bytes.  A plan made for another model loads with a warning; its rules and
 * the overrides naming tensors this model has apply. */
#ifndef PJ_PLAN_JSON_H
#define PJ_PLAN_JSON_H

#include <stdbool.h>

#include "quant/plan.h"

#define PJ_PLAN_SCHEMA "pajamas-plan"
#define PJ_PLAN_VERSION 1

/* The plan file text (malloc'd, ends in a newline). */
char *pj_plan_json_dump(const pj_plan *p);
/* Writes it to path (temporary file + rename: never a half-written plan). */
pj_status pj_plan_json_save(const pj_plan *p, const char *path, pj_error *err);

/* Builds a plan for m from plan file text (label names it in messages).
 * *warning (when non-NULL) receives a malloc'd message when the file was
 * made for another model, else NULL.  Malformed files, another schema or a
 * newer version, unknown presets or types: PJ_EFORMAT / PJ_EUSAGE. */
pj_status pj_plan_json_parse(pj_plan *p, const pj_model *m, const char *text, const char *label, bool has_imatrix,
                             char **warning, pj_error *err);
pj_status pj_plan_json_load(pj_plan *p, const pj_model *m, const char *path, bool has_imatrix, char **warning,
                            pj_error *err);
/* The same with the model's header_sha256 (pj_plan_header_sha256 of the
 * plan's catalog, 64 hex digits) already known, e.g. cached by a session:
 * the tensor table is not hashed again.  header_sha256 NULL: computed. */
char *pj_plan_json_dump_keyed(const pj_plan *p, const char *header_sha256);
pj_status pj_plan_json_save_keyed(const pj_plan *p, const char *header_sha256, const char *path, pj_error *err);
pj_status pj_plan_json_parse_keyed(pj_plan *p, const pj_model *m, const char *text, const char *label,
                                   bool has_imatrix, const char *header_sha256, char **warning, pj_error *err);
pj_status pj_plan_json_load_keyed(pj_plan *p, const pj_model *m, const char *path, bool has_imatrix,
                                  const char *header_sha256, char **warning, pj_error *err);
/* Loading for another catalog of m's tensors (see pj_plan_init_cat). */
pj_status pj_plan_json_load_cat(pj_plan *p, const pj_model *m, const pj_catalog *cat, bool gguf_names,
                                const char *path, bool has_imatrix, char **warning, pj_error *err);

#endif
