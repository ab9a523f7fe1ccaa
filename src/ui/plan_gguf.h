/* plan_gguf.h - the session's plan as batch mode reads it for an export or
 * a check.
 *
 * For GGUF input that is the plan file itself.  For Hugging Face input the
 * planner names tensors as the folder does ("model.layers.0.mlp..."), while
 * batch mode and the check plan the converter's GGUF tensors
 * ("blk.0.ffn_down_exps.weight"), so rules and overrides written against
 * HF names would not match.  The plan is therefore baked: its base, plus
 * one override per quantizable tensor with the type the planner shows,
 * under the GGUF name; per-expert tensors that the converter stacks into
 * one tensor take the largest type any of their experts has (a GGUF stack
 * has one type: never less precision than asked for), and *n_merged counts
 * the stacks where the experts disagreed.  No curses here. */
#ifndef PJ_UI_PLAN_GGUF_H
#define PJ_UI_PLAN_GGUF_H

#include <stddef.h>

#include "quant/session.h"

/* malloc'd plan file text; NULL (err set) when a name cannot be mapped. */
char *pj_plan_gguf_json(pj_session *s, size_t *n_merged, char *err, size_t err_len);

#endif
