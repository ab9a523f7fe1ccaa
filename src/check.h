/* check.h - `pajamas-tui --batch (--preset P | --pure TYPE | --plan FILE)
 * [--rule RE=TYPE]... [--imatrix F] --check (--calib FILE | --calib-ids
 * F.i32) [--ctx N] [--chunks N] [--json] MODEL`: builds the plan exactly as
 * the export would (quant/plan.h, on the converter's GGUF view for HF
 * input), measures its perplexity and KL divergence against the source
 * weights on calibration text, and prints the report: PPL / KLD figures
 * (conventions: src/quant/eval.h), MoE routing counts per block, experts
 * never routed, router flip rate, and per-block KLD attribution where it is
 * cheap (src/quant/check_session.h). */
#ifndef PJ_CHECK_H
#define PJ_CHECK_H

#include <stdbool.h>

typedef struct pj_check_opts {
	const char *model;
	const char *pure;       /* TYPE: a llama-quantize type name */
	const char *preset;     /* a preset (quant/presets.h) or "auto" */
	const char *plan;       /* a plan file */
	const char **rules;     /* --rule, in order */
	int n_rules;
	const char *calib;      /* text file, tokenized with the model's vocabulary */
	const char *calib_ids;  /* pre-tokenized little-endian int32 ids */
	const char *imatrix;    /* importance weights for the quantization, as the export uses them */
	int ctx;                /* 0: 512, llama-perplexity's default */
	int chunks;             /* 0: all whole chunks */
	int per_layer;          /* KLD with one block quantized: 0 with --json when cheap (<= 7 blocks), 1 always, -1 never */
	bool json;
	bool act_llama;         /* --act llama: llama.cpp's activation rounding */
	int threads;
} pj_check_opts;

/* Returns a PJ_EXIT_* status (cli.h); the report goes to stdout. */
int pj_check_main(const pj_check_opts *o);

#endif
