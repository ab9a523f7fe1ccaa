/* test_forward_gguf.c - the forward pass on GGUF input: each shared model's
 * BF16 conversion (../shared/models/<m>/gguf/<m>-BF16.gguf) against
 * transformers' fp32 reference, with the tolerances of test_forward.c:
 *   logits of chunk 0, positions 0..127: max |Δlogit| <= 1e-3 * max |logit|
 *   NLL of all 8 chunks x 255 predictions: mean |ΔNLL| <= 1e-3 (and max <= 1e-2)
 * and against the Hugging Face folder it was converted from: BF16 values
 * are the same and the layout is undone on load (llama's q/k permutation,
 * DeepSeek's split kv_b, Gemma's folded norm offset), so the logits of a
 * chunk are identical bit for bit. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "quant/eval.h"
#include "quant/forward.h"
#include "fwd_test_util.h"
#include "tap.h"

#define CTX REF_CTX
#define CHUNKS REF_CHUNKS


/* Logits of n_seq chunks of CTX tokens: [n_seq][CTX][vocab]. */
static float *run_logits(const char *path, const int32_t *ids, int n_seq, int *vocab, pj_error *err)
{
	pj_model *m = NULL;
	pj_fwd *f = NULL;
	pj_fwd_head *head = NULL;
	float *hid = NULL, *lg = NULL;
	pj_status st = pj_model_open(path, &m, err);
	if (!st)
		st = pj_fwd_open(m, 2, &f, err);
	if (!st) {
		const size_t D = (size_t)pj_fwd_hidden_size(f), V = (size_t)pj_fwd_vocab(f);
		*vocab = (int)V;
		hid = malloc(sizeof(float) * CTX * (size_t)n_seq * D);
		st = pj_fwd_hidden(f, ids, (size_t)n_seq, CTX, NULL, hid, err);
		if (!st)
			st = pj_fwd_head_load(f, NULL, &head, err);
		if (!st) {
			lg = malloc(sizeof(float) * CTX * (size_t)n_seq * V);
			pj_fwd_logits(f, head, hid, CTX * (size_t)n_seq, lg);
		}
	}
	pj_fwd_head_free(head);
	free(hid);
	pj_fwd_free(f);
	pj_model_close(m);
	return lg;
}

static void check_model(const char *shared, const char *name)
{
	char dir[4200], gguf[4400], p[4400];
	snprintf(dir, sizeof dir, "%s/models/%s", shared, name);
	snprintf(gguf, sizeof gguf, "%s/gguf/%s-BF16.gguf", dir, name);
	FILE *fp = fopen(gguf, "rb");
	if (!fp) {
		snprintf(p, sizeof p, "%s: no BF16 GGUF in the shared data", name);
		skip(p);
		return;
	}
	fclose(fp);
	int32_t *ids = fwt_ref(shared, name, "eval_ids.i32", sizeof(int32_t) * CTX * CHUNKS);
	float *ref_nll = fwt_ref(shared, name, "nll_f32.bin", sizeof(float) * CHUNKS * (CTX - 1));
	float *ref_lg = NULL, *lg = NULL, *hf = NULL;
	pj_error err = { 0 };
	int V = 0, Vh = 0;
	if (!ok(ids && ref_nll, "%s: reference files read", name))
		goto out;
	lg = run_logits(gguf, ids, CHUNKS, &V, &err);
	if (!ok(lg != NULL, "%s: the forward pass runs on %s-BF16.gguf", name, name)) {
		tap_diag("%s", err.msg);
		goto out;
	}
	ref_lg = fwt_ref(shared, name, "logits_chunk0_f32.bin", sizeof(float) * REF_LOGIT_POS * (size_t)V);
	if (!ok(ref_lg != NULL, "%s: reference logits read (vocab %d)", name, V))
		goto out;
	fwt_score sc = { 0 };
	fwt_score_logits(&sc, lg, ref_lg, V);
	for (int c = 0; c < CHUNKS; c++)
		fwt_score_chunk(&sc, lg + (size_t)c * CTX * (size_t)V, V, ids, ref_nll, c);
	snprintf(p, sizeof p, "%s GGUF", name);
	fwt_score_check(&sc, p);

	/* the folder it came from: one chunk is enough to see the layout */
	hf = run_logits(dir, ids, 1, &Vh, &err);
	if (ok(hf != NULL && Vh == V, "%s: the Hugging Face folder runs too", name)) {
		size_t diff = 0;
		for (size_t i = 0; i < (size_t)CTX * V; i++)
			diff += memcmp(&hf[i], &lg[i], sizeof(float)) != 0;
		ok(diff == 0, "%s: GGUF and HF folder give identical chunk-0 logits (%zu of %zu differ)", name, diff,
		   (size_t)CTX * V);
	} else {
		tap_diag("%s", err.msg);
	}
out:
	free(hf);
	free(lg);
	free(ids);
	free(ref_nll);
	free(ref_lg);
}

/* What cannot be computed is refused with a reason, not miscomputed. */
static void check_refusals(const char *shared)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/data/tokenizers/ggml-vocab-llama-spm.gguf", shared);
	pj_model *m = NULL;
	pj_error err = { 0 };
	if (pj_model_open(path, &m, &err) != PJ_OK) {
		skip("vocab-only GGUF absent or unreadable");
		return;
	}
	pj_fwd *f = NULL;
	ok(pj_fwd_open(m, 1, &f, &err) != PJ_OK && f == NULL, "a vocab-only GGUF is refused");
	tap_diag("%s", err.msg);
	pj_fwd_free(f);
	pj_model_close(m);
}

int main(void)
{
	const char *shared = fwt_shared("llama");
	if (!shared)
		return 0;
	static const char *const models[] = { "llama", "qwen3", "qwen3moe", "gemma3", "deepseek3" };
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
		check_model(shared, models[i]);
	check_refusals(shared);
	return done_testing();
}
