/* info.h - the --info report: architecture, tensor census, per-layer table,
 * KV-cache cost.  Text for people, JSON (versioned schema) for tools. */
#ifndef PJ_INFO_H
#define PJ_INFO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/model.h"

#define PJ_INFO_SCHEMA_VERSION 1

void pj_info_print_text(FILE *out, const pj_model *m);
void pj_info_print_json(FILE *out, const pj_model *m);

/* Bytes a tensor would take at `target` (1-D stays F32; shape fallbacks). */
uint64_t pj_info_estimate_bytes(const pj_tensor *t, pj_dtype target);
/* KV-cache bytes at F16 for ctx tokens, sliding-window layers capped. */
uint64_t pj_info_kv_bytes(const pj_arch *a, int64_t ctx);

#endif
