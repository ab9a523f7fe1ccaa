/* info.h - the --info report: architecture, tensor census, per-layer table,
 * KV-cache cost.  Text for people, JSON (versioned schema) for tools. */
#ifndef PJ_INFO_H
#define PJ_INFO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/model.h"
#include "quant/plan.h"

#define PJ_INFO_SCHEMA_VERSION 1

void pj_info_print_text(FILE *out, const pj_model *m);
void pj_info_print_json(FILE *out, const pj_model *m);

/* Bytes a tensor would take at `target` (1-D stays F32; shape fallbacks). */
uint64_t pj_info_estimate_bytes(const pj_tensor *t, pj_dtype target);
/* KV-cache bytes at F16 for ctx tokens, sliding-window layers capped. */
uint64_t pj_info_kv_bytes(const pj_arch *a, int64_t ctx);

/* ---- expert routing ------------------------------------------------------- */

#define PJ_GATING_KEY "deepseek2.expert_gating_func"
/* A deepseek2 model with a score-correction bias (exp_probs_b) was trained
 * with sigmoid routing; without PJ_GATING_KEY llama.cpp routes it with
 * softmax (the converter writes the key only when config.json names
 * scoring_func).  The warning, with the fix, or NULL.  arch may be NULL. */
const char *pj_info_gating_warning(const char *arch, bool has_gating_key, const pj_catalog *cat);
struct pj_hf2gguf;
/* For a Hugging Face folder the GGUF is what hf2gguf.h would write: its
 * architecture (NULL: none) and whether it has PJ_GATING_KEY. */
const char *pj_info_hf_gating(const struct pj_hf2gguf *h, bool *has_gating_key);

/* ---- requantization ---------------------------------------------------------- */

/* Tensors already stored in a ggml quantized type (a llama-quantize GGUF
 * as the source): a plan that gives them another type dequantizes them and
 * quantizes again, and the second rounding error adds to the first.  The
 * batch export warns per tensor; --info and the UI say it with these. */
typedef struct pj_requant {
	size_t n_quantized;               /* tensors stored quantized */
	size_t n_requant;                 /* ... that the plan gives another type */
	size_t by_type[PJ_DT_COUNT];      /* n_quantized per stored type */
	size_t requant_by_type[PJ_DT_COUNT];
} pj_requant;

/* Counts over cat; with a plan (on the same catalog), also what it
 * requantizes (kept in their own type they are copied, not requantized). */
void pj_requant_count(const pj_catalog *cat, const pj_plan *p, pj_requant *out);
/* "Q8_0 x196, Q6_K x1" from a by-type count. */
const char *pj_requant_types(const size_t *by, char *buf, size_t len);
/* One line for people: what the plan requantizes, else what is stored
 * quantized (and that another type would requantize it); "" for neither. */
const char *pj_requant_warning(const pj_requant *r, char *buf, size_t len);

#endif
