/* app.h - the interactive browser: the only entry point into src/ui. */
#ifndef PJ_UI_APP_H
#define PJ_UI_APP_H

#include <stdbool.h>
#include <stdio.h>

#include "model/model.h"

typedef struct pj_ui_opts {
	int threads;      /* worker threads, >= 1 */
	bool no_color;    /* --no-color or NO_COLOR set */
	bool no_mouse;
	/* the background check (V): calibration text or ids, chunking */
	const char *calib, *calib_ids;
	int ctx, chunks;
	const char *imatrix;  /* --imatrix FILE, as given (the export passes it on) */
} pj_ui_opts;

/* Runs the TUI until the user quits.  Returns a PJ_EXIT_* status; an
 * importance matrix that cannot be read is reported before the screen
 * opens (PJ_EXIT_MODEL). */
int pj_ui_run(pj_model *m, const pj_ui_opts *opts);

/* Prints the key table (plain text, or troff for the man page's KEYS). */
void pj_ui_print_keys(FILE *out, bool man);

#endif
