/* eval_int.h - what eval.c shares with check_session.c: the chunked token
 * stream and the accumulation of per-position statistics. */
#ifndef PJ_EVAL_INT_H
#define PJ_EVAL_INT_H

#include "quant/eval.h"
#include "quant/forward_int.h"

/* The chunked token stream, BOS rules applied (see eval.h); malloc'd. */
int32_t *pj_eval_chunks(const int32_t *ids, size_t n_ids, const pj_eval_opts *o, size_t *n_chunks);

/* Running sums over scored positions, in position order. */
typedef struct pj_eval_acc {
	double s[16];      /* eval.c's sums */
	void *ps;          /* per-row scratch */
	double *kld;       /* per-position KLD, for the percentiles */
} pj_eval_acc;

void pj_eval_acc_init(pj_eval_acc *a, size_t n_max);
void pj_eval_acc_free(pj_eval_acc *a);
/* Adds n positions: base and plan logits [n][vocab], the true next tokens. */
void pj_eval_acc_rows(pj_fwd *f, pj_eval_acc *a, const float *lb, const float *lp, const int32_t *next, size_t n);
/* Fills the PPL / KLD / top-1 / RMS dp fields of r (sorts the KLD array). */
void pj_eval_acc_finish(pj_eval_acc *a, pj_eval_result *r);

#endif
