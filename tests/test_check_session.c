/* test_check_session.c - check sessions on the shared models: MoE routing
 * statistics (qwen3moe, deepseek3), incremental re-checks (counted block
 * evaluations, results identical to a fresh full check), per-block
 * attribution, caches in temporary files. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "quant/check_session.h"
#include "quant/eval.h"
#include "quant/forward.h"
#include "fwd_test_util.h"
#include "tap.h"

#define CTX 128
#define CHUNKS 4

/* A test plan: `all` for every quantizable tensor of blocks >= from (from
 * -1: the embedding and head too), and one tensor named `edit` in `etype`. */
typedef struct tplan {
	pj_dtype all;
	int from;
	const char *edit;
	pj_dtype etype;
	unsigned threads;
} tplan;

static pj_dtype tplan_type(const tplan *p, const pj_tensor *t)
{
	if (p->edit && strcmp(t->name, p->edit) == 0)
		return pj_eval_pure_type(p->etype, t);
	if (p->all != PJ_DT_COUNT && (p->from < 0 || t->layer >= p->from))
		return pj_eval_pure_type(p->all, t);
	return t->dtype;
}

static pj_status tplan_load(void *ctx, pj_model *m, const pj_tensor *t, float *dst, pj_error *err)
{
	const tplan *p = ctx;
	pj_eval_pure one = { tplan_type(p, t), p->threads };
	if (one.type == t->dtype)
		return pj_fwd_load_source(NULL, m, t, dst, err);
	return pj_eval_pure_load(&one, m, t, dst, err);
}

static uint64_t tplan_key(void *ctx, const pj_tensor *t)
{
	const pj_dtype q = tplan_type(ctx, t);
	return q == t->dtype || q == PJ_DT_F32 ? pj_fwd_source_key(NULL, t) : pj_fwd_type_key(t, q, false);
}

static pj_check_session *open_session(const char *shared, const char *name, pj_model **m, size_t cache_ram)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/models/%s", shared, name);
	pj_error err = { 0 };
	*m = NULL;
	if (pj_model_open(dir, m, &err) != PJ_OK) {
		tap_diag("%s: %s", name, err.msg);
		return NULL;
	}
	int32_t *ids = fwt_ref(shared, name, "eval_ids.i32", sizeof(int32_t) * CTX * CHUNKS);
	pj_check_session_opts o = { .eval = { .n_ctx = CTX, .n_chunks = CHUNKS, .bos = -1, .threads = 2 },
	                            .cache_ram = cache_ram };
	pj_check_session *s = NULL;
	if (!ids || pj_check_session_open(*m, ids, CTX * CHUNKS, &o, &s, &err) != PJ_OK) {
		tap_diag("%s: %s", name, ids ? err.msg : "no ids");
		pj_model_close(*m);
		*m = NULL;
	}
	free(ids);
	return s;
}

/* Flips of block `layer`, recounted from pj_fwd_layer's routes: base and
 * plan run separately up to that block; only the scored positions (ctx/2 ..
 * ctx-2 of each chunk) count.  *all receives the count over every token. */
static uint64_t recount_flips(pj_model *m, const int32_t *ids, const pj_fwd_weights *plan, int layer,
                              uint64_t *all)
{
	pj_fwd *f = NULL;
	pj_error err = { 0 };
	const size_t n = CTX * CHUNKS;
	if (pj_fwd_open(m, 2, &f, &err) != PJ_OK)
		return UINT64_MAX;
	const int k = pj_fwd_top_k(f);
	const size_t d = (size_t)pj_fwd_hidden_size(f);
	float *x = malloc(sizeof(float) * n * d);
	int32_t *route[2] = { malloc(sizeof(int32_t) * n * (size_t)k), malloc(sizeof(int32_t) * n * (size_t)k) };
	pj_status st = PJ_OK;
	for (int pass = 0; pass < 2 && !st; pass++) {
		const pj_fwd_weights *w = pass ? plan : NULL;
		st = pj_fwd_embed(f, w, ids, n, x, &err);
		for (int l = 0; l <= layer && !st; l++)
			st = pj_fwd_layer(f, w, l, x, CHUNKS, CTX, l == layer ? route[pass] : NULL, &err);
	}
	uint64_t scored = 0;
	*all = 0;
	for (size_t t = 0; !st && t < n; t++) {
		bool same = true;
		for (int i = 0; i < k; i++) {
			bool found = false;
			for (int j = 0; j < k; j++)
				found |= route[0][t * (size_t)k + (size_t)i] == route[1][t * (size_t)k + (size_t)j];
			same &= found;
		}
		const size_t pos = t % CTX;
		*all += !same;
		scored += !same && pos >= CTX / 2 && pos <= CTX - 2;
	}
	if (st)
		tap_diag("recount: %s", err.msg);
	free(x);
	free(route[0]);
	free(route[1]);
	pj_fwd_free(f);
	return st ? UINT64_MAX : scored;
}

static void check_routing(const char *shared, const char *name)
{
	pj_model *m;
	pj_check_session *s = open_session(shared, name, &m, 0);
	if (!ok(s != NULL, "%s: session opens", name))
		return;
	const int L = pj_check_session_n_layers(s), E = pj_check_session_n_experts(s), K = pj_check_session_top_k(s);
	const size_t n_tok = pj_check_session_tokens(s);
	int n_moe = 0, sums_ok = 1;
	for (int l = 0; l < L; l++) {
		const pj_check_layer *ly = pj_check_session_layer(s, l);
		if (!ly->moe)
			continue;
		n_moe++;
		uint64_t sum = 0;
		int unused = 0;
		for (int e = 0; e < E; e++) {
			sum += ly->counts[e];
			unused += ly->counts[e] == 0;
		}
		sums_ok &= sum == n_tok * (uint64_t)K && unused == ly->n_unused;
	}
	ok(n_moe > 0 && K > 0 && E >= K, "%s: %d MoE blocks, %d experts, top-%d", name, n_moe, E, K);
	ok(sums_ok, "%s: routing counts of every MoE block sum to tokens x top-k (%zu x %d)", name, n_tok, K);

	/* per-tensor frequencies: the experts of one block sum to top-k */
	double fsum = 0, freq[256];
	int nf = 0;
	for (size_t i = 0; i < m->cat.n; i++) {
		const pj_tensor *t = &m->cat.t[i];
		if (t->role != PJ_ROLE_EXP_DOWN || t->layer != L - 1)
			continue;
		int k = pj_check_session_tensor_freq(s, t, freq, 256);
		for (int j = 0; j < k && j < 256; j++)
			fsum += freq[j];
		nf += k;
	}
	ok(nf == E && fabs(fsum - K) < 1e-9, "%s: per-tensor expert frequencies of the last block sum to top-k (%g)",
	   name, fsum);

	pj_eval_result r;
	pj_error err = { 0 };
	pj_status st = pj_check_session_run(s, NULL, &r, &err);
	ok(st == PJ_OK && r.moe && r.flip_rate == 0 && r.kld_mean == 0, "%s: base vs base: flip rate exactly 0", name);
	tplan q2 = { PJ_DT_Q2_K, -1, NULL, PJ_DT_COUNT, 2 };
	const pj_fwd_weights w = { tplan_load, &q2, tplan_key, NULL };
	st = pj_check_session_run(s, &w, &r, &err);
	ok(st == PJ_OK && r.flip_rate > 0 && r.flip_rate < 1, "%s: Q2_K: flip rate in (0, 1): %.4f", name, r.flip_rate);
	double wsum = 0;
	for (int l = 0; l < L; l++) {
		const pj_check_layer *ly = pj_check_session_layer(s, l);
		if (ly->moe)
			wsum += ly->flip_rate / n_moe;
	}
	ok(fabs(wsum - r.flip_rate) < 1e-12, "%s: overall flip rate = mean of the blocks' rates", name);
	/* the flips of the last MoE block are those of the scored positions */
	int last = -1;
	for (int l = 0; l < L; l++)
		if (pj_check_session_layer(s, l)->moe)
			last = l;
	int32_t *ids = fwt_ref(shared, name, "eval_ids.i32", sizeof(int32_t) * CTX * CHUNKS);
	uint64_t all = 0, scored = ids ? recount_flips(m, ids, &w, last, &all) : UINT64_MAX;
	const pj_check_layer *ll = pj_check_session_layer(s, last);
	const double n_scored = CHUNKS * (CTX - 1 - CTX / 2);
	ok(scored != UINT64_MAX && ll->flips == scored && ll->flip_rate == scored / n_scored,
	   "%s: block %d: %llu flips of %g scored positions (recounted: %llu; %llu over all tokens)", name, last,
	   (unsigned long long)ll->flips, n_scored, (unsigned long long)scored, (unsigned long long)all);
	free(ids);
	pj_check_session_free(s);
	pj_model_close(m);
}

static int results_equal(const pj_eval_result *a, const pj_eval_result *b)
{
	return a->ppl_base == b->ppl_base && a->ppl_plan == b->ppl_plan && a->kld_mean == b->kld_mean &&
	       a->kld_stderr == b->kld_stderr && a->kld_max == b->kld_max && a->kld_p99 == b->kld_p99 &&
	       a->kld_median == b->kld_median && a->top1_agreement == b->top1_agreement && a->rms_dp == b->rms_dp &&
	       a->ln_ppl_ratio == b->ln_ppl_ratio && a->flip_rate == b->flip_rate && a->count == b->count;
}

static void check_incremental(const char *shared, const char *name, const char *last_tensor, size_t cache_ram)
{
	pj_model *m;
	pj_check_session *s = open_session(shared, name, &m, cache_ram);
	if (!ok(s != NULL, "%s: session opens (cache_ram %zu)", name, cache_ram))
		return;
	const int L = pj_check_session_n_layers(s);
	pj_check_counters c0, c1;
	pj_check_session_counters(s, &c0);
	ok(c0.base_layers == (uint64_t)L, "%s: opening runs each of the %d blocks once", name, L);
	if (cache_ram == 1)
		ok(c0.cache_ram == 0 && c0.cache_file > 0, "%s: caches in temporary files (%zu bytes)", name, c0.cache_file);

	pj_error err = { 0 };
	pj_eval_result r1, r2, full;
	tplan p1 = { PJ_DT_Q4_K, -1, NULL, PJ_DT_COUNT, 2 };
	const pj_fwd_weights w1 = { tplan_load, &p1, tplan_key, NULL };
	pj_status st = pj_check_session_run(s, &w1, &r1, &err);
	pj_check_session_counters(s, &c1);
	ok(st == PJ_OK && c1.plan_layers - c0.plan_layers == (uint64_t)L && c1.last_start == -1,
	   "%s: first plan: every block runs", name);

	/* edit one tensor of the last block */
	tplan p2 = p1;
	p2.edit = last_tensor;
	p2.etype = PJ_DT_Q8_0;
	const pj_fwd_weights w2 = { tplan_load, &p2, tplan_key, NULL };
	pj_check_session_counters(s, &c0);
	st = pj_check_session_run(s, &w2, &r2, &err);
	pj_check_session_counters(s, &c1);
	ok(st == PJ_OK && c1.plan_layers - c0.plan_layers == 1 && c1.last_start == L - 1 && !c1.last_from_base,
	   "%s: editing %s re-runs 1 block (ran %llu, from stage %d)", name, last_tensor,
	   (unsigned long long)(c1.plan_layers - c0.plan_layers), c1.last_start);
	ok(r2.kld_mean != r1.kld_mean, "%s: the edit changes the figures", name);

	/* the same plan again: nothing runs */
	pj_eval_result r3;
	pj_check_session_counters(s, &c0);
	st = pj_check_session_run(s, &w2, &r3, &err);
	pj_check_session_counters(s, &c1);
	ok(st == PJ_OK && c1.plan_layers == c0.plan_layers && results_equal(&r2, &r3),
	   "%s: the same plan twice: no block runs, same result", name);

	/* a fresh session checking the edited plan in full */
	pj_model *m2;
	pj_check_session *s2 = open_session(shared, name, &m2, SIZE_MAX);
	st = s2 ? pj_check_session_run(s2, &w2, &full, &err) : PJ_EIO;
	ok(st == PJ_OK && results_equal(&r2, &full), "%s: incremental result identical to a full check (KLD %.6g)", name,
	   full.kld_mean);

	/* only the last block differs from the base: a run from the base's cache
	 * equals the attribution of that block */
	tplan p3 = { PJ_DT_Q4_K, L - 1, NULL, PJ_DT_COUNT, 2 };
	const pj_fwd_weights w3 = { tplan_load, &p3, tplan_key, NULL };
	pj_eval_result r4, r5;
	pj_check_session_counters(s, &c0);
	st = pj_check_session_run(s, &w3, &r4, &err);
	pj_check_session_counters(s, &c1);
	ok(st == PJ_OK && c1.last_from_base && c1.plan_layers - c0.plan_layers == 1,
	   "%s: a plan that changes only the last block starts from the base's cache", name);
	st = pj_check_session_layer_only(s, &w3, L - 1, &r5, &err);
	r5.flip_rate = r4.flip_rate;   /* attribution does not count flips */
	ok(st == PJ_OK && results_equal(&r4, &r5) && r5.kld_mean > 0,
	   "%s: KLD with only the last block quantized = that plan's full figure (%.6g)", name, r5.kld_mean);

	pj_layer_kld *pts = NULL;
	size_t npts = 0;
	pj_check_session_counters(s, &c0);
	st = pj_check_session_layer_points(s, &w3, &pts, &npts, &err);
	ok(st == PJ_OK && npts == 1 && pts[0].layer == L - 1 && pts[0].kld == r5.kld_mean,
	   "%s: layer points of that plan: one point, the measured KLD", name);
	free(pts);
	st = pj_check_session_layer_points(s, &w1, &pts, &npts, &err);
	int pos = 1;
	for (size_t i = 0; i < npts; i++)
		pos &= pts[i].kld > 0 && pts[i].layer == (int)i;
	ok(st == PJ_OK && npts == (size_t)L && pos, "%s: Q4_K everywhere: %zu layer points, all > 0", name, npts);
	for (size_t i = 0; i < npts; i++)
		tap_diag("%s: block %d alone: KLD %.6f", name, pts[i].layer, pts[i].kld);
	free(pts);
	pj_check_session_free(s2);
	pj_model_close(m2);
	pj_check_session_free(s);
	pj_model_close(m);
}

int main(void)
{
	const char *shared = fwt_shared("qwen3moe");
	if (!shared)
		return 0;
	check_routing(shared, "qwen3moe");
	check_routing(shared, "deepseek3");
	check_incremental(shared, "qwen3", "model.layers.3.mlp.down_proj.weight", SIZE_MAX);
	check_incremental(shared, "qwen3moe", "model.layers.2.self_attn.o_proj.weight", 1);
	return done_testing();
}
