/* eval_plan.h - a plan (quant/plan.h) as the forward pass's weights
 * provider, so a check measures exactly what an export writes: each tensor
 * the plan quantizes is taken as the export reads it, quantized to its
 * planned type (with the importance matrix's weights when one is given, as
 * batch export passes them), dequantized, and put back in the layout the
 * forward pass reads.
 *
 * The plan is built on the catalog the export writes: the model's own for
 * GGUF input, the converter's GGUF view (report/hf2gguf.h) for a Hugging
 * Face folder.  For HF input each HF tensor maps to its GGUF tensor through
 * the converter's name table: a per-expert tensor to its matrix of the
 * stack, llama's q/k rows through the converter's rope permutation and back,
 * DeepSeek's kv_b to the per-head attn_k_b (transposed) and attn_v_b pair
 * and back; tensors the plan keeps come from the source as they are. */
#ifndef PJ_EVAL_PLAN_H
#define PJ_EVAL_PLAN_H

#include "quant/forward.h"
#include "quant/imatrix.h"
#include "quant/plan.h"
#include "report/hf2gguf.h"

typedef struct pj_eval_plan {
	const pj_plan *plan;
	pj_hf2gguf *hf;          /* HF input: the view the plan was built on; NULL for GGUF input */
	const pj_imatrix *im;    /* NULL: unweighted */
	pj_hf_arch arch;
	int n_head, n_kv;        /* llama's q/k permutation */
	unsigned threads;
} pj_eval_plan;

pj_status pj_eval_plan_init(pj_eval_plan *p, pj_model *m, const pj_plan *plan, pj_hf2gguf *hf, const pj_imatrix *im,
                            unsigned threads, pj_error *err);
pj_status pj_eval_plan_load(void *ctx, pj_model *m, const pj_tensor *t, float *dst, pj_error *err);
uint64_t pj_eval_plan_key(void *ctx, const pj_tensor *t);
/* The planned type of t (pj_fwd_weights.type); of its first part when it
 * maps to several export tensors. */
pj_dtype pj_eval_plan_type(void *ctx, const pj_tensor *t);

#endif
