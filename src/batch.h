/* batch.h - headless mode: `pajamas-tui --batch --pure TYPE [--imatrix F] -o OUT MODEL`.
 *
 * Writes a GGUF in which every tensor llama-quantize would quantize gets
 * TYPE (with llama.cpp's shape fallbacks), the others are copied, exactly as
 * `llama-quantize --pure [--imatrix F] MODEL OUT TYPE` writes it: same
 * metadata, same tensor order, same bytes.  Progress goes to stderr when it
 * is a terminal; a one-line summary is always printed (stderr). */
#ifndef PJ_BATCH_H
#define PJ_BATCH_H

#include <stdbool.h>

typedef struct pj_batch_opts {
	const char *model;     /* input (GGUF file or split set) */
	const char *pure;      /* TYPE: a llama-quantize type name (Q4_K_S, Q8_0, IQ4_XS, ...) */
	const char *imatrix;   /* NULL or an imatrix (GGUF or legacy .dat) */
	const char *output;    /* -o */
	int threads;           /* >= 1 */
} pj_batch_opts;

/* Returns a PJ_EXIT_* status (cli.h). */
int pj_batch_main(const pj_batch_opts *o);

#endif
