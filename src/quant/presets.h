/* presets.h - the bases a plan starts from.
 *
 * Two kinds, one table:
 *   - llama.cpp's ftype mixes (Q4_K_M, Q2_K, IQ4_XS, MXFP4_MOE, ...): the
 *     same type for every tensor as llama-quantize picks (llama_tensor_get_type
 *     in src/llama-quant.cpp), with and without an importance matrix.  Its
 *     rules are data here: rows of {ftypes, categories, conditions, type},
 *     first match wins;
 *   - architecture-aware presets from the product brief (docs/seed-strategy.md)
 *     for each family at two or three size points, its precisions mapped to
 *     GGUF types (INT8 -> Q8_0, INT4 -> Q4_K, INT3 -> Q3_K, FP16 -> F16, or
 *     BF16 when the source is BF16, MXFP4 -> MXFP4, FP8 -> Q8_0 since GGUF
 *     has no FP8 type).
 * "auto" picks the detected family's default preset and says why. */
#ifndef PJ_PRESETS_H
#define PJ_PRESETS_H

#include <stdbool.h>
#include <stddef.h>

#include "model/arch.h"
#include "quant/plan.h"

/* The brief's precisions. */
typedef enum pj_precision {
	PJ_PREC_INT8, PJ_PREC_INT4, PJ_PREC_INT3, PJ_PREC_FP16, PJ_PREC_MXFP4, PJ_PREC_FP8, PJ_PREC_COUNT
} pj_precision;

const char *pj_precision_name(pj_precision p);
/* The GGUF type for a precision (src: the tensor's source type, for FP16 ->
 * F16 or BF16) and a note when it is not the precision itself. */
pj_dtype pj_precision_type(pj_precision p, pj_dtype src, const char **note);

typedef enum pj_preset_kind { PJ_PRESET_FTYPE, PJ_PRESET_ARCH } pj_preset_kind;

struct pj_arule;

typedef struct pj_preset {
	const char *name;
	pj_preset_kind kind;
	const char *ftype;            /* FTYPE: the llama-quantize name; ARCH: the ftype written */
	int family;                   /* ARCH: pj_family; FTYPE: -1 */
	const char *description;      /* what it does and what it assumes */
	const struct pj_arule *rules; /* ARCH: first match wins */
	size_t n_rules;
} pj_preset;

const pj_preset *pj_preset_find(const char *name);    /* case-insensitive */
const pj_preset *pj_preset_all(size_t *n);
/* The preset "auto" resolves to for this model; why says why (family and
 * reason, size point). */
const pj_preset *pj_preset_auto(const pj_model *m, char *why, size_t why_len);

/* Sets base_type and reason of every quantizable entry of p (p->e in
 * llama.cpp order, p->has_imatrix set).  Kept entries are left alone. */
void pj_preset_apply(const pj_preset *ps, pj_plan *p);
/* The text of a reason a preset gave (PJ_WHY_MIX*, PJ_WHY_ARCH) into buf. */
void pj_preset_reason(const pj_plan_entry *e, char *buf, size_t n);

#endif
