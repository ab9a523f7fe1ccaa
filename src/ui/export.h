/* export.h - the GGUF export as a background child process.
 *
 * The UI exports with batch mode's own writer by running this program as
 * `pajamas-tui --batch --plan PLAN [--imatrix FILE] -o OUT MODEL` with stderr
 * on a pipe (the planner's --imatrix, as given: the file then equals
 * `--batch --preset P --imatrix FILE -o OUT` for the same plan): the
 * bytes written are exactly batch mode's, a crash there cannot take the
 * planner down, and the UI thread only polls a file descriptor.  Progress
 * comes from batch mode's plain progress lines ("NN% i/n tensors, name").
 * Cancelling sends SIGTERM: batch mode's handler removes its temporary
 * file, so a cancelled export leaves no file behind (the writer only
 * renames a complete, checked file into place).
 * No curses here. */
#ifndef PJ_UI_EXPORT_H
#define PJ_UI_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct pj_export {
	pid_t pid;             /* 0: not running */
	int fd;                /* read end of the child's stderr, -1 when closed */
	char line[512];        /* the partial line being read */
	size_t len;
	int pct;               /* last progress figure, 0..100 */
	size_t i, n;           /* tensors */
	char last[256];        /* last line the child printed */
	char *out;             /* the output path */
	char *plan_file;       /* the temporary plan file (removed at the end) */
	bool cancelled, finished, ok;
	int status;            /* waitpid status once finished */
	double t0, t1;
} pj_export;

/* Starts the child (imatrix NULL: none).  plan_file is removed when the
 * export ends.  On failure returns false with a message in err. */
bool pj_export_start(pj_export *e, const char *model, const char *plan_file, const char *imatrix, const char *out,
                     int threads, char *err, size_t err_len);
/* Reads what the child printed; reaps it at end of file.  Returns true
 * when this call saw it finish (e->ok says how). */
bool pj_export_poll(pj_export *e);
void pj_export_cancel(pj_export *e);
/* Cancels a running export and waits for the child (quitting). */
void pj_export_stop(pj_export *e);
static inline bool pj_export_running(const pj_export *e)
{
	return e->pid > 0 && !e->finished;
}

#endif
