/* check.h - `pajamas-tui --batch --pure TYPE --check [--calib-ids F.i32]
 * [--ctx N] [--chunks N] [--json] MODEL`: measures the plan's perplexity and
 * KL divergence against the source weights on calibration text and prints
 * the report (conventions: src/quant/eval.h). */
#ifndef PJ_CHECK_H
#define PJ_CHECK_H

#include <stdbool.h>

typedef struct pj_check_opts {
	const char *model;
	const char *pure;       /* TYPE: a llama-quantize type name */
	const char *calib;      /* text file (needs the tokenizer) */
	const char *calib_ids;  /* pre-tokenized little-endian int32 ids */
	const char *imatrix;    /* not applied by the check yet (warned) */
	int ctx;                /* 0: 512, llama-perplexity's default */
	int chunks;             /* 0: all whole chunks */
	bool json;
	int threads;
} pj_check_opts;

/* Returns a PJ_EXIT_* status (cli.h); the report goes to stdout. */
int pj_check_main(const pj_check_opts *o);

#endif
