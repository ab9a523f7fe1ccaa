/* info.h - the --info report: architecture, tensor census, per-layer table,
 * KV-cache cost.  Text for people, JSON (versioned schema) for tools. */
#ifndef PJ_INFO_H
#define PJ_INFO_H

#include <stdbool.h>
#include <stdio.h>

#include "model/model.h"

#define PJ_INFO_SCHEMA_VERSION 1

void pj_info_print_text(FILE *out, const pj_model *m);
void pj_info_print_json(FILE *out, const pj_model *m);

#endif
