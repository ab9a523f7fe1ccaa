/* batch.h - headless mode:
 *   pajamas-tui --batch [--preset P | --pure TYPE | --plan FILE] [--rule 're=type']...
 *               [--imatrix F] [--threads N] [--dry-run] [--emit-plan FILE]
 *               [--emit-tensor-type-file FILE] [--override-kv KEY=TYPE:VALUE]... -o OUT MODEL
 *
 * Builds the plan (quant/plan.h) and writes the GGUF: with --pure TYPE
 * exactly what `llama-quantize --pure [--imatrix F] MODEL OUT TYPE` writes,
 * with --preset FTYPE exactly what `llama-quantize [--imatrix F] MODEL OUT
 * FTYPE` writes (same metadata, tensor order and bytes).  --dry-run prints
 * the per-tensor table and totals on stdout and writes nothing.  Progress
 * goes to stderr (a bar on a terminal, plain lines otherwise), with a
 * one-line summary. */
#ifndef PJ_BATCH_H
#define PJ_BATCH_H

#include <stdbool.h>

#include "quant/plan.h"

typedef struct pj_batch_opts {
	const char *model;     /* input (GGUF file or split set) */
	const char *pure;      /* TYPE: a llama-quantize type name (Q4_K_S, Q8_0, IQ4_XS, ...) */
	const char *preset;    /* a preset (quant/presets.h) or "auto" */
	const char *plan;      /* a plan file (quant/plan_json.h) */
	const char **rules;    /* --rule, in order */
	int n_rules;
	bool dry_run;
	const char *emit_plan; /* write the plan file here */
	const char *emit_ttf;  /* write llama-quantize --tensor-type-file content here */
	const char *imatrix;   /* NULL or an imatrix (GGUF or legacy .dat) */
	const char *output;    /* -o */
	const char **kv_overrides; /* --override-kv KEY=TYPE:VALUE, in order */
	int n_kv_overrides;
	int threads;           /* >= 1 */
} pj_batch_opts;

/* Returns a PJ_EXIT_* status (cli.h). */
int pj_batch_main(const pj_batch_opts *o);

/* The plan a command line names, built as export builds it so that --check
 * measures what export writes: the plan file (its warning to stderr), else
 * the --pure type or the preset as base; then the rules, applied.  On
 * failure nothing is left to free. */
pj_status pj_batch_plan(pj_plan *p, pj_model *m, const pj_catalog *cat, bool gguf_names, bool have_im,
                        const char *plan, const char *pure, const char *preset, const char **rules, int n_rules,
                        pj_error *err);
/* The PJ_EXIT_* status of a pj_batch_plan failure. */
int pj_batch_plan_rc(pj_status st);

#endif
