/* check_job.h - the quality check as a background job of the planner: the
 * current plan's perplexity and KL divergence against the source weights
 * on the calibration text (quant/check_session.h, eval.h's conventions),
 * exactly as `--batch --check` measures a plan (the same eval_plan
 * provider, so what is checked is what an export writes).
 *
 * The plan is handed over as plan-file text, so the job owns its own plan
 * and the user keeps editing.  The check session (the base run's cached
 * activations) is kept between checks of one UI run: a second check only
 * recomputes from the first block whose tensors changed.  After a check,
 * the base's MoE routing counts give each expert's routing frequency.
 *
 * One thread of its own (the forward pass spreads over `threads`); when it
 * is done it writes one byte to wake_fd.  No curses here. */
#ifndef PJ_UI_CHECK_JOB_H
#define PJ_UI_CHECK_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "model/model.h"
#include "quant/check_session.h"
#include "quant/eval.h"
#include "quant/imatrix.h"
#include "quant/pool.h"

typedef struct pj_check_job {
	/* set by pj_check_job_start, read-only while running */
	pj_model *m;
	char *plan_text;
	const char *calib, *calib_ids;
	int ctx, chunks;
	unsigned threads;
	int wake_fd;
	const pj_imatrix *im;     /* --imatrix (NULL: none): set once by the owner */
	/* the worker's */
	pthread_t th;
	bool started;
	atomic_bool finished;
	pj_progress progress;
	pj_check_session *cs;     /* kept between checks */
	int32_t *ids;
	size_t n_ids;
	int32_t bos;
	/* results, valid once finished */
	pj_status st;
	char err[512];
	pj_eval_result r;
	double t0, t1;
} pj_check_job;

/* Starts a check of plan_text (malloc'd; the job frees it).  false: a
 * check is running, or the thread could not start (err says). */
bool pj_check_job_start(pj_check_job *j, pj_model *m, char *plan_text, const char *calib, const char *calib_ids,
                        int ctx, int chunks, unsigned threads, int wake_fd, char *err, size_t err_len);
static inline bool pj_check_job_running(const pj_check_job *j)
{
	return j->started && !atomic_load((atomic_bool *)&j->finished);
}
/* Joins a finished job (call once it reports finished). */
void pj_check_job_join(pj_check_job *j);
void pj_check_job_cancel(pj_check_job *j);
/* Cancels, joins, frees everything. */
void pj_check_job_free(pj_check_job *j);
/* Routing frequency (0..1) of tensor t's expert(s); -1 when unknown. For a
 * stacked tensor, expert e's (e < 0: the mean). */
double pj_check_job_expert_freq(pj_check_job *j, const pj_tensor *t, int e);

#endif
