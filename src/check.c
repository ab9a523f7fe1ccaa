/* check.c - the batch --check report: a plan's PPL / KLD against the source
 * weights (src/quant/eval.h), MoE routing and per-block attribution
 * (src/quant/check_session.h), as text or JSON on stdout. */
#include "config.h"
#include "check.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch.h"
#include "cli.h"
#include "model/model.h"
#include "model/strbuf.h"
#include "model/tokenizer.h"
#include "quant/check_session.h"
#include "quant/eval.h"
#include "quant/eval_plan.h"
#include "quant/imatrix.h"
#include "quant/plan.h"
#include "quant/plan_json.h"
#include "quant/presets.h"
#include "quant/qtypes.h"
#include "report/hf2gguf.h"

static int fail(const char *msg, int rc)
{
	fprintf(stderr, "pajamas-tui: %s\n", msg);
	return rc;
}

/* Reads the whole file for option OPT (its messages name the option);
 * NULL with msg set when it cannot be opened or read. */
static char *read_file(const char *opt, const char *path, size_t *n, char *msg, size_t len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(msg, len, "%s %s: cannot open", opt, path);
		return NULL;
	}
	sbuf b = { 0 };
	sb_read(&b, fp, SIZE_MAX);
	const bool bad = ferror(fp);
	fclose(fp);
	if (bad) {
		snprintf(msg, len, "%s %s: read error", opt, path);
		free(b.p);
		return NULL;
	}
	*n = b.n;
	return b.p;
}

/* Pre-tokenized ids: little-endian int32s; a trailing partial id is ignored. */
static int32_t *read_ids(const char *path, size_t *n, char *msg, size_t len)
{
	size_t bytes = 0;
	char *p = read_file("--calib-ids", path, &bytes, msg, len);
	*n = bytes / sizeof(int32_t);
	return (int32_t *)p; /* malloc'ed: aligned for int32_t */
}

/* The brief's target for the router flip rate. */
#define FLIP_TARGET 0.05

typedef struct report {
	const pj_check_opts *o;
	const char *label;
	double bpw;
	int32_t bos;
	const char *calib;         /* "ids FILE" or "text FILE (N tokens)" */
	pj_eval_result r;
	pj_check_session *s;
	double *layer_kld;         /* [n_layers], NAN where not measured */
} report;

static void print_text(const report *rp)
{
	const pj_eval_result *r = &rp->r;
	printf("check: %s, plan %s (%.2f bpw), %zu chunks of %zu tokens, %zu scored (second half of each chunk), "
	       "BOS %s\n", rp->o->model, rp->label, rp->bpw, r->n_chunks, r->n_ctx, r->count,
	       rp->bos >= 0 ? "added" : "not added");
	printf("calibration              : %s\n", rp->calib);
	printf("PPL(base)                : %10.6f ± %.6f\n", r->ppl_base, r->ppl_base_err);
	printf("PPL(plan)                : %10.6f ± %.6f\n", r->ppl_plan, r->ppl_plan_err);
	printf("ln(PPL(plan)/PPL(base))  : %10.6f ± %.6f\n", r->ln_ppl_ratio, r->ln_ppl_ratio_err);
	printf("Mean KLD                 : %10.6f ± %.6f\n", r->kld_mean, r->kld_stderr);
	printf("KLD 99.9%% / 99%% / 95%%    : %10.6f  %10.6f  %10.6f\n", r->kld_p99_9, r->kld_p99, r->kld_p95);
	printf("Median KLD               : %10.6f\n", r->kld_median);
	printf("Same top token           : %9.3f%% ± %.3f%%\n", 100 * r->top1_agreement, 100 * r->top1_err);
	printf("RMS Δp                   : %9.3f%% ± %.3f%%\n", 100 * r->rms_dp, 100 * r->rms_dp_err);
	const pj_check_session *s = rp->s;
	const int L = pj_check_session_n_layers(s), E = pj_check_session_n_experts(s);
	if (r->moe) {
		printf("Router flip rate         : %9.3f%%  (target < %.0f%%: %s)\n", 100 * r->flip_rate, 100 * FLIP_TARGET,
		       r->flip_rate < FLIP_TARGET ? "met" : "NOT met");
		printf("Expert routing (base weights, %zu tokens, top-%d of %d experts per block):\n",
		       pj_check_session_tokens(s), pj_check_session_top_k(s), E);
		for (int l = 0; l < L; l++) {
			const pj_check_layer *ly = pj_check_session_layer(s, l);
			if (!ly->moe)
				continue;
			printf("  block %3d: flips %6.2f%%  counts", l, 100 * ly->flip_rate);
			for (int e = 0; e < E; e++)
				printf(" %llu", (unsigned long long)ly->counts[e]);
			if (ly->n_unused) {
				printf("  never routed:");
				for (int e = 0; e < E; e++)
					if (!ly->counts[e])
						printf(" %d", e);
			}
			putchar('\n');
		}
	}
	bool any = false;
	for (int l = 0; l < L && !any; l++)
		any = rp->layer_kld[l] == rp->layer_kld[l];
	if (any) {
		printf("KLD with one block quantized:");
		for (int l = 0; l < L; l++)
			if (rp->layer_kld[l] == rp->layer_kld[l])
				printf(" %d:%.6f", l, rp->layer_kld[l]);
		putchar('\n');
	}
}

static void print_json(const report *rp)
{
	const pj_check_opts *o = rp->o;
	const pj_eval_result *r = &rp->r;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "model", o->model);
	cJSON_AddStringToObject(j, "plan", rp->label);
	if (o->pure)
		cJSON_AddStringToObject(j, "type", o->pure);
	cJSON_AddNumberToObject(j, "plan_bpw", rp->bpw);
	cJSON_AddStringToObject(j, "calibration", rp->calib);
	cJSON_AddNumberToObject(j, "ctx", (double)r->n_ctx);
	cJSON_AddNumberToObject(j, "chunks", (double)r->n_chunks);
	cJSON_AddNumberToObject(j, "tokens_scored", (double)r->count);
	cJSON_AddBoolToObject(j, "bos", rp->bos >= 0);
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
	const pj_check_session *s = rp->s;
	const int L = pj_check_session_n_layers(s), E = pj_check_session_n_experts(s);
	if (r->moe) {
		cJSON *mo = cJSON_AddObjectToObject(j, "moe");
		cJSON_AddNumberToObject(mo, "experts", E);
		cJSON_AddNumberToObject(mo, "top_k", pj_check_session_top_k(s));
		cJSON_AddNumberToObject(mo, "tokens", (double)pj_check_session_tokens(s));
		cJSON_AddNumberToObject(mo, "router_flip_rate", r->flip_rate);
		cJSON_AddNumberToObject(mo, "router_flip_rate_target", FLIP_TARGET);
		cJSON_AddBoolToObject(mo, "router_flip_rate_ok", r->flip_rate < FLIP_TARGET);
		int unused = 0;
		for (int l = 0; l < L; l++)
			unused += pj_check_session_layer(s, l)->n_unused;
		cJSON_AddNumberToObject(mo, "unused_experts", unused);
	}
	cJSON *pl = cJSON_AddArrayToObject(j, "per_layer");
	for (int l = 0; l < L; l++) {
		const pj_check_layer *ly = pj_check_session_layer(s, l);
		cJSON *e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "layer", l);
		cJSON_AddBoolToObject(e, "changed", ly->changed);
		if (rp->layer_kld[l] == rp->layer_kld[l])
			cJSON_AddNumberToObject(e, "kld_alone", rp->layer_kld[l]);
		else
			cJSON_AddNullToObject(e, "kld_alone");
		if (ly->moe) {
			cJSON *c = cJSON_AddArrayToObject(e, "expert_counts");
			cJSON *u = cJSON_AddArrayToObject(e, "unused_experts");
			for (int x = 0; x < E; x++) {
				cJSON_AddItemToArray(c, cJSON_CreateNumber((double)ly->counts[x]));
				if (!ly->counts[x])
					cJSON_AddItemToArray(u, cJSON_CreateNumber(x));
			}
			cJSON_AddNumberToObject(e, "router_flip_rate", ly->flip_rate);
		}
		cJSON_AddItemToArray(pl, e);
	}
	char *txt = cJSON_Print(j);
	puts(txt);
	free(txt);
	cJSON_Delete(j);
}

typedef struct run {
	const pj_check_opts *o;
	pj_model *m;
	pj_hf2gguf *hf;
	pj_imatrix im;
	bool have_im, have_plan;
	pj_plan plan;
	char label[200];
	int32_t *ids;
	size_t n_ids;
	char calib[600];
} run;

/* The plan exactly as batch export builds it (same catalog, base, rules). */
static int build_plan(run *r, pj_error *err)
{
	const pj_check_opts *o = r->o;
	if (r->m->format != PJ_FMT_GGUF) {
		const pj_ftype *ft = o->pure ? pj_ftype_find(o->pure) : NULL;
		const pj_dtype t = ft ? ft->type : PJ_DT_COUNT;
		const bool conv = t == PJ_DT_F32 || t == PJ_DT_F16 || t == PJ_DT_BF16;
		if (pj_hf2gguf_open(r->m, conv ? t : PJ_DT_COUNT, &r->hf, err) != PJ_OK)
			return fail(err->msg, err->code == PJ_EUNSUPPORTED ? PJ_EXIT_USAGE : PJ_EXIT_MODEL);
	}
	const pj_catalog *cat = r->hf ? pj_hf2gguf_catalog(r->hf) : &r->m->cat;
	pj_status st = pj_batch_plan(&r->plan, r->m, cat, true, r->have_im, o->plan, o->pure, o->preset, o->rules,
	                             o->n_rules, err);
	if (st)
		return fail(err->msg, pj_batch_plan_rc(st));
	r->have_plan = true;
	if (o->plan)
		snprintf(r->label, sizeof r->label, "file %s", o->plan);
	else
		snprintf(r->label, sizeof r->label, "%s (%s)", o->pure ? o->pure : r->plan.preset->name,
		         o->pure ? "pure" : "preset");
	if (o->n_rules) {
		const size_t k = strlen(r->label);
		snprintf(r->label + k, sizeof r->label - k, " + %d rule%s", o->n_rules, o->n_rules > 1 ? "s" : "");
	}
	return PJ_EXIT_OK;
}

/* Calibration ids: pre-tokenized, or the text through the model's vocabulary. */
static int calib_ids(run *r, int32_t *bos, pj_error *err)
{
	char msg[1400];
	const pj_check_opts *o = r->o;
	pj_eval_model_bos(r->m, bos);
	if (o->calib_ids) {
		if (!(r->ids = read_ids(o->calib_ids, &r->n_ids, msg, sizeof msg)))
			return fail(msg, PJ_EXIT_USAGE);
		snprintf(r->calib, sizeof r->calib, "ids %s (%zu tokens)", o->calib_ids, r->n_ids);
		return PJ_EXIT_OK;
	}
	size_t n;
	char *text = read_file("--calib", o->calib, &n, msg, sizeof msg);
	if (!text)
		return fail(msg, PJ_EXIT_USAGE);
	pj_tokenizer *tk = NULL;
	pj_status st = pj_tokenizer_load(r->m, &tk, err);
	/* no BOS from the tokenizer: the chunking adds it (eval.h), as
	 * llama-perplexity replaces each chunk's first token */
	if (!st)
		st = pj_tokenizer_encode(tk, text, n, 0, &r->ids, &r->n_ids, err);
	if (!st)
		*bos = pj_tokenizer_adds_bos(tk) ? pj_tokenizer_bos(tk) : -1;
	pj_tokenizer_free(tk);
	free(text);
	if (st)
		return fail(err->msg, st == PJ_EIO ? PJ_EXIT_USAGE : PJ_EXIT_MODEL);
	snprintf(r->calib, sizeof r->calib, "text %s (%zu tokens)", o->calib, r->n_ids);
	return PJ_EXIT_OK;
}

static int run_rc(pj_status st)
{
	return st == PJ_EUSAGE ? PJ_EXIT_USAGE : st == PJ_EIO ? PJ_EXIT_RUNTIME : PJ_EXIT_MODEL;
}

int pj_check_main(const pj_check_opts *o)
{
	const int n_base = !!o->pure + !!o->preset + !!o->plan;
	if (n_base == 0)
		return fail("--check needs a plan: --preset P, --pure TYPE or --plan FILE", PJ_EXIT_USAGE);
	if (n_base > 1)
		return fail("--preset, --pure and --plan exclude each other", PJ_EXIT_USAGE);
	if (!o->calib_ids && !o->calib)
		return fail("--check needs calibration text: --calib FILE (text) or --calib-ids FILE.i32 "
		            "(little-endian int32 token ids)", PJ_EXIT_USAGE);
	if (o->calib_ids && o->calib)
		return fail("--calib and --calib-ids exclude each other", PJ_EXIT_USAGE);

	run r = { .o = o };
	pj_error err = { 0 };
	if (pj_model_open(o->model, &r.m, &err) != PJ_OK)
		return fail(err.msg, err.code == PJ_EUSAGE ? PJ_EXIT_USAGE : PJ_EXIT_MODEL);
	int rc = PJ_EXIT_OK;
	pj_check_session *s = NULL;
	report rp = { .o = o };
	if (o->imatrix) {
		if (pj_imatrix_load(o->imatrix, &r.im, &err) != PJ_OK) {
			rc = fail(err.msg, PJ_EXIT_MODEL);
			goto out;
		}
		r.have_im = true;
	}
	if ((rc = build_plan(&r, &err)) != PJ_EXIT_OK || (rc = calib_ids(&r, &rp.bos, &err)) != PJ_EXIT_OK)
		goto out;
	const unsigned threads = o->threads > 0 ? (unsigned)o->threads : 1;
	pj_eval_plan ep;
	pj_status st = pj_eval_plan_init(&ep, r.m, &r.plan, r.hf, r.have_im ? &r.im : NULL, threads, &err);
	const pj_fwd_weights w = { pj_eval_plan_load, &ep, pj_eval_plan_key, pj_eval_plan_type };
	pj_check_session_opts so = { .eval = { .n_ctx = o->ctx ? o->ctx : 512, .n_chunks = o->chunks, .bos = rp.bos,
	                                       .threads = threads,
	                                       .act = o->act_llama ? PJ_FWD_ACT_LLAMA : PJ_FWD_ACT_F32 } };
	if (!st)
		st = pj_check_session_open(r.m, r.ids, r.n_ids, &so, &s, &err);
	if (!st)
		st = pj_check_session_run(s, &w, &rp.r, &err);
	const int L = s ? pj_check_session_n_layers(s) : 0;
	rp.layer_kld = pj_xmalloc(sizeof(double) * (size_t)(L ? L : 1));
	for (int l = 0; l < L; l++)
		rp.layer_kld[l] = NAN;
	/* one block alone costs the blocks after it: cheap for a few blocks,
	 * and only the JSON report (per_layer) carries it unless asked */
	if (!st && (o->per_layer > 0 || (o->per_layer == 0 && o->json && L <= 7))) {
		pj_layer_kld *pts = NULL;
		size_t n = 0;
		st = pj_check_session_layer_points(s, &w, &pts, &n, &err);
		for (int l = 0; !st && l < L; l++)
			rp.layer_kld[l] = 0;   /* blocks equal to the base */
		for (size_t i = 0; !st && i < n; i++)
			rp.layer_kld[pts[i].layer] = pts[i].kld;
		free(pts);
	}
	if (st) {
		rc = fail(err.msg, run_rc(st));
		goto out;
	}
	rp.label = r.label;
	rp.bpw = pj_plan_bpw(&r.plan);
	rp.calib = r.calib;
	rp.s = s;
	if (o->json)
		print_json(&rp);
	else
		print_text(&rp);
	if (fflush(stdout) != 0)
		rc = PJ_EXIT_RUNTIME;
out:
	free(rp.layer_kld);
	pj_check_session_free(s);
	if (r.have_plan)
		pj_plan_free(&r.plan);
	pj_hf2gguf_free(r.hf);
	if (r.have_im)
		pj_imatrix_free(&r.im);
	pj_model_close(r.m);
	free(r.ids);
	return rc;
}
