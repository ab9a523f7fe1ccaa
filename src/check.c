/* check.c - the batch --check report: a pure plan's PPL / KLD against the
 * source weights (src/quant/eval.h), as text or JSON on stdout. */
#include "config.h"
#include "check.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "model/model.h"
#include "quant/eval.h"
#include "quant/qtypes.h"

static int fail(const char *msg, int rc)
{
	fprintf(stderr, "pajamas-tui: %s\n", msg);
	return rc;
}

/* llama-quantize ftype names whose tensor type is not their own name. */
static const struct { const char *name; pj_dtype type; } ALIASES[] = {
	{ "Q2_K_S", PJ_DT_Q2_K }, { "Q3_K_S", PJ_DT_Q3_K }, { "Q3_K_M", PJ_DT_Q3_K }, { "Q3_K_L", PJ_DT_Q3_K },
	{ "Q4_K_S", PJ_DT_Q4_K }, { "Q4_K_M", PJ_DT_Q4_K }, { "Q5_K_S", PJ_DT_Q5_K }, { "Q5_K_M", PJ_DT_Q5_K },
	{ "IQ2_M", PJ_DT_IQ2_S }, { "IQ2_S", PJ_DT_IQ2_XS }, { "IQ3_XS", PJ_DT_IQ3_S }, { "IQ3_M", PJ_DT_IQ3_S },
	{ "MXFP4_MOE", PJ_DT_MXFP4 },
};

static bool type_of(const char *name, pj_dtype *out)
{
	for (size_t i = 0; i < sizeof ALIASES / sizeof ALIASES[0]; i++)
		if (strcasecmp(ALIASES[i].name, name) == 0) {
			*out = ALIASES[i].type;
			return true;
		}
	return pj_dtype_from_name(name, out) && pj_qtype_supported(*out);
}

static int32_t *read_ids(const char *path, size_t *n, char *msg, size_t len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(msg, len, "--calib-ids %s: cannot open", path);
		return NULL;
	}
	int32_t *ids = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		if (*n == cap)
			ids = pj_xrealloc(ids, sizeof *ids * (cap = cap * 2 + 4096));
		size_t got = fread(ids + *n, sizeof *ids, cap - *n, fp);
		*n += got;
		if (got == 0)
			break;
	}
	const bool bad = ferror(fp) || fgetc(fp) != EOF;
	fclose(fp);
	if (bad) {
		snprintf(msg, len, "--calib-ids %s: read error", path);
		free(ids);
		return NULL;
	}
	return ids;
}

static void print_text(const pj_check_opts *o, const char *type, int32_t bos, const pj_eval_result *r)
{
	printf("check: %s, pure %s, %zu chunks of %zu tokens, %zu scored (second half of each chunk), BOS %s\n",
	       o->model, type, r->n_chunks, r->n_ctx, r->count, bos >= 0 ? "added" : "not added");
	printf("PPL(base)                : %10.6f ± %.6f\n", r->ppl_base, r->ppl_base_err);
	printf("PPL(plan)                : %10.6f ± %.6f\n", r->ppl_plan, r->ppl_plan_err);
	printf("ln(PPL(plan)/PPL(base))  : %10.6f ± %.6f\n", r->ln_ppl_ratio, r->ln_ppl_ratio_err);
	printf("Mean KLD                 : %10.6f ± %.6f\n", r->kld_mean, r->kld_stderr);
	printf("KLD 99.9%% / 99%% / 95%%    : %10.6f  %10.6f  %10.6f\n", r->kld_p99_9, r->kld_p99, r->kld_p95);
	printf("Median KLD               : %10.6f\n", r->kld_median);
	printf("Same top token           : %9.3f%% ± %.3f%%\n", 100 * r->top1_agreement, 100 * r->top1_err);
	printf("RMS Δp                   : %9.3f%% ± %.3f%%\n", 100 * r->rms_dp, 100 * r->rms_dp_err);
}

static void print_json(const pj_check_opts *o, const char *type, int32_t bos, const pj_eval_result *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "model", o->model);
	cJSON_AddStringToObject(j, "plan", "pure");
	cJSON_AddStringToObject(j, "type", type);
	cJSON_AddNumberToObject(j, "ctx", (double)r->n_ctx);
	cJSON_AddNumberToObject(j, "chunks", (double)r->n_chunks);
	cJSON_AddNumberToObject(j, "tokens_scored", (double)r->count);
	cJSON_AddBoolToObject(j, "bos", bos >= 0);
	const struct { const char *k; double v; } f[] = {
		{ "ppl_base", r->ppl_base }, { "ppl_base_stderr", r->ppl_base_err },
		{ "ppl_plan", r->ppl_plan }, { "ppl_plan_stderr", r->ppl_plan_err },
		{ "ln_ppl_ratio", r->ln_ppl_ratio }, { "ln_ppl_ratio_stderr", r->ln_ppl_ratio_err },
		{ "kld_mean", r->kld_mean }, { "kld_stderr", r->kld_stderr }, { "kld_max", r->kld_max },
		{ "kld_p99_9", r->kld_p99_9 }, { "kld_p99", r->kld_p99 }, { "kld_p95", r->kld_p95 },
		{ "kld_median", r->kld_median },
		{ "top1_agreement", r->top1_agreement }, { "top1_agreement_stderr", r->top1_err },
		{ "rms_dp", r->rms_dp }, { "rms_dp_stderr", r->rms_dp_err },
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		cJSON_AddNumberToObject(j, f[i].k, f[i].v);
	char *s = cJSON_Print(j);
	puts(s);
	free(s);
	cJSON_Delete(j);
}

int pj_check_main(const pj_check_opts *o)
{
	char msg[1400];
	pj_dtype type;
	if (!o->pure)
		return fail("--check needs --pure TYPE (presets and plan files come later)", PJ_EXIT_USAGE);
	if (!type_of(o->pure, &type)) {
		snprintf(msg, sizeof msg, "--pure: '%s' is not a type the check can quantize to", o->pure);
		return fail(msg, PJ_EXIT_USAGE);
	}
	if (o->calib && !o->calib_ids)
		return fail("--calib: the tokenizer is not built in yet; pass pre-tokenized ids with --calib-ids FILE.i32",
		            PJ_EXIT_USAGE);
	if (!o->calib_ids)
		return fail("--check needs calibration text: --calib-ids FILE.i32 (little-endian int32 token ids)",
		            PJ_EXIT_USAGE);
	if (o->imatrix)
		fprintf(stderr, "pajamas-tui: warning: --check quantizes without the importance matrix for now\n");
	size_t n_ids;
	int32_t *ids = read_ids(o->calib_ids, &n_ids, msg, sizeof msg);
	if (!ids)
		return fail(msg, PJ_EXIT_USAGE);

	pj_error err = { 0 };
	pj_model *m = NULL;
	if (pj_model_open(o->model, &m, &err) != PJ_OK) {
		free(ids);
		return fail(err.msg, err.code == PJ_EUSAGE ? PJ_EXIT_USAGE : PJ_EXIT_MODEL);
	}
	pj_eval_opts eo = { .n_ctx = o->ctx ? o->ctx : 512, .n_chunks = o->chunks,
	                    .threads = o->threads > 0 ? (unsigned)o->threads : 1 };
	pj_eval_model_bos(m, &eo.bos);
	pj_eval_pure pure = { type, eo.threads };
	const pj_fwd_weights w = { pj_eval_pure_load, &pure, pj_eval_pure_key };
	pj_eval_result r;
	pj_status st = pj_eval_run(m, ids, n_ids, &w, &eo, &r, &err);
	int rc = PJ_EXIT_OK;
	if (st) {
		rc = fail(err.msg, st == PJ_EUSAGE ? PJ_EXIT_USAGE
		                   : st == PJ_EIO ? PJ_EXIT_RUNTIME : PJ_EXIT_MODEL);
	} else {
		if (o->json)
			print_json(o, pj_dtype_name(type), eo.bos, &r);
		else
			print_text(o, pj_dtype_name(type), eo.bos, &r);
		if (fflush(stdout) != 0)
			rc = PJ_EXIT_RUNTIME;
	}
	pj_model_close(m);
	free(ids);
	return rc;
}
