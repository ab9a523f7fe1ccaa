/* check_job.c - the planner's quality check on a thread of its own. */
#include "config.h"
#include "check_job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/strbuf.h"
#include "model/tokenizer.h"
#include "quant/eval_plan.h"
#include "quant/plan_json.h"
#include "report/hf2gguf.h"

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_all(const char *path, size_t *n, pj_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		pj_fail(err, PJ_EIO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	sbuf b = { 0 };
	sb_read(&b, f, SIZE_MAX);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b.p);
		pj_fail(err, PJ_EIO, "%s: read error", path);
		return NULL;
	}
	*n = b.n;
	return b.p;
}

/* The calibration ids, once per UI run. */
static pj_status load_ids(pj_check_job *j, pj_error *err)
{
	if (j->ids)
		return PJ_OK;
	pj_eval_model_bos(j->m, &j->bos);
	size_t n = 0;
	if (j->calib_ids) {
		char *raw = read_all(j->calib_ids, &n, err);
		if (!raw)
			return err->code;
		j->n_ids = n / sizeof(int32_t);
		j->ids = pj_xmalloc((j->n_ids ? j->n_ids : 1) * sizeof *j->ids);
		memcpy(j->ids, raw, j->n_ids * sizeof *j->ids);
		free(raw);
		return PJ_OK;
	}
	char *text = read_all(j->calib, &n, err);
	if (!text)
		return err->code;
	pj_tokenizer *tk = NULL;
	pj_status st = pj_tokenizer_load(j->m, &tk, err);
	if (!st)
		st = pj_tokenizer_encode(tk, text, n, 0, &j->ids, &j->n_ids, err);
	if (!st)
		j->bos = pj_tokenizer_adds_bos(tk) ? pj_tokenizer_bos(tk) : -1;
	pj_tokenizer_free(tk);
	free(text);
	return st;
}

static void *check_main(void *arg)
{
	pj_check_job *j = arg;
	pj_error err = { 0 };
	pj_hf2gguf *hf = NULL;
	pj_plan plan;
	bool have_plan = false;
	char tmp[64] = "";
	pj_status st = load_ids(j, &err);
	/* The plan as batch mode builds it: on the converter's GGUF view for
	 * HF input (plan files name tensors as an export writes them). */
	if (!st && j->m->format != PJ_FMT_GGUF)
		st = pj_hf2gguf_open(j->m, PJ_DT_COUNT, &hf, &err);
	if (!st) {
		const char *td = getenv("TMPDIR");
		snprintf(tmp, sizeof tmp, "%s/pj-check-plan.XXXXXX", td && *td && strlen(td) < 40 ? td : "/tmp");
		int fd = mkstemp(tmp);
		size_t len = strlen(j->plan_text);
		if (fd < 0 || write(fd, j->plan_text, len) != (ssize_t)len)
			st = pj_fail(&err, PJ_EIO, "cannot write the plan for the check: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (!st) {
		char *warning = NULL;
		const pj_catalog *cat = hf ? pj_hf2gguf_catalog(hf) : &j->m->cat;
		st = pj_plan_json_load_cat(&plan, j->m, cat, true, tmp, j->im != NULL, &warning, &err);
		free(warning);
		have_plan = st == PJ_OK;
	}
	if (tmp[0])
		unlink(tmp);
	pj_eval_plan ep;
	if (!st)
		st = pj_eval_plan_init(&ep, j->m, &plan, hf, j->im, j->threads, &err);
	const pj_fwd_weights w = { pj_eval_plan_load, &ep, pj_eval_plan_key, pj_eval_plan_type };
	if (!st && !j->cs) {
		pj_check_session_opts so = { .eval = { .n_ctx = j->ctx ? j->ctx : 512, .n_chunks = j->chunks,
		                                       .bos = j->bos, .threads = j->threads,
		                                       .progress = &j->progress } };
		st = pj_check_session_open(j->m, j->ids, j->n_ids, &so, &j->cs, &err);
	}
	if (!st)
		st = pj_check_session_run(j->cs, &w, &j->r, &err);
	if (have_plan)
		pj_plan_free(&plan);
	pj_hf2gguf_free(hf);
	j->st = st;
	if (st)
		snprintf(j->err, sizeof j->err, "%.500s", err.msg);
	j->t1 = mono();
	atomic_store(&j->finished, true);
	if (j->wake_fd >= 0) {
		ssize_t r = write(j->wake_fd, "c", 1);
		(void)r;
	}
	return NULL;
}

bool pj_check_job_start(pj_check_job *j, pj_model *m, char *plan_text, const char *calib, const char *calib_ids,
                        int ctx, int chunks, unsigned threads, int wake_fd, char *err, size_t err_len)
{
	if (pj_check_job_running(j)) {
		snprintf(err, err_len, "a check is running (c cancels it)");
		free(plan_text);
		return false;
	}
	pj_check_job_join(j);
	free(j->plan_text);
	j->m = m;
	j->plan_text = plan_text;
	j->calib = calib;
	j->calib_ids = calib_ids;
	j->ctx = ctx;
	j->chunks = chunks;
	j->threads = threads ? threads : 1;
	j->wake_fd = wake_fd;
	j->st = PJ_OK;
	j->err[0] = '\0';
	memset(&j->r, 0, sizeof j->r);
	pj_progress_init(&j->progress, 0, 0);
	atomic_store(&j->finished, false);
	j->t0 = mono();
	int rc = pthread_create(&j->th, NULL, check_main, j);
	if (rc != 0) {
		snprintf(err, err_len, "cannot start the check: %s", strerror(rc));
		return false;
	}
	j->started = true;
	return true;
}

void pj_check_job_join(pj_check_job *j)
{
	if (j->started && atomic_load(&j->finished)) {
		pthread_join(j->th, NULL);
		j->started = false;
	}
}

void pj_check_job_cancel(pj_check_job *j)
{
	if (pj_check_job_running(j))
		atomic_store(&j->progress.cancel, true);
}

void pj_check_job_free(pj_check_job *j)
{
	if (j->started) {
		atomic_store(&j->progress.cancel, true);
		pthread_join(j->th, NULL);
		j->started = false;
	}
	pj_check_session_free(j->cs);
	j->cs = NULL;
	free(j->ids);
	j->ids = NULL;
	free(j->plan_text);
	j->plan_text = NULL;
}

double pj_check_job_expert_freq(pj_check_job *j, const pj_tensor *t, int e)
{
	if (!j->cs || pj_check_job_running(j) || (t->expert < 0 && !(t->n_experts > 1)))
		return -1;
	double f[1024];
	int n = pj_check_session_tensor_freq(j->cs, t, f, 1024);
	if (n <= 0)
		return -1;
	if (n == 1)
		return f[0];
	if (e >= 0)
		return e < n ? f[e] : -1;
	double s = 0;
	for (int i = 0; i < n; i++)
		s += f[i];
	return s / n;
}
