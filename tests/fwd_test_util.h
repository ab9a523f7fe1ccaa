/* fwd_test_util.h - what the forward-pass tests share: the shared models'
 * reference files (transformers' fp32 run, ../shared/models/<m>/reference),
 * scoring logits against them, and random rows.  static inline, so that a
 * test that takes one part builds clean under -Werror. */
#ifndef PJ_FWD_TEST_UTIL_H
#define PJ_FWD_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"

/* The reference files' layout: eval_ids.i32 holds REF_CHUNKS chunks of
 * REF_CTX ids, nll_f32.bin their REF_CTX - 1 predictions each, and
 * logits_chunk0_f32.bin the first REF_LOGIT_POS positions of chunk 0. */
#define REF_CTX 256
#define REF_CHUNKS 8
#define REF_LOGIT_POS 128

/* `want` bytes of a file, or NULL where it is absent or shorter. */
static inline void *fwt_slurp(const char *path, size_t want)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	void *buf = malloc(want);
	size_t got = fread(buf, 1, want, fp);
	fclose(fp);
	if (got != want) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The first `want` bytes of shared model `name`'s reference/<file>. */
static inline void *fwt_ref(const char *shared, const char *name, const char *file, size_t want)
{
	char p[4400];
	snprintf(p, sizeof p, "%s/models/%s/reference/%s", shared, name, file);
	return fwt_slurp(p, want);
}

/* ../shared with model `name`'s reference files, or NULL after skip_all()
 * said which is missing (the caller returns 0). */
static inline const char *fwt_shared(const char *name)
{
	const char *shared = tap_shared_dir();
	if (!shared) {
		skip_all("../shared (PJ_SHARED) is absent");
		return NULL;
	}
	char probe[4400];
	snprintf(probe, sizeof probe, "%s/models/%s/reference/eval_ids.i32", shared, name);
	FILE *fp = fopen(probe, "rb");
	if (!fp) {
		skip_all("../shared (PJ_SHARED) with the reference models is absent");
		return NULL;
	}
	fclose(fp);
	return shared;
}

/* -log softmax(logits)[tok], in double. */
static inline double fwt_nll_of(const float *lg, int vocab, int tok)
{
	float mx = lg[0];
	for (int i = 1; i < vocab; i++)
		mx = lg[i] > mx ? lg[i] : mx;
	double s = 0;
	for (int i = 0; i < vocab; i++)
		s += exp((double)lg[i] - mx);
	return log(s) + mx - lg[tok];
}

/* Distance of a run's logits and NLL from the reference's. */
typedef struct fwt_score {
	double max_err, max_ref;   /* max |dlogit|, max |logit| over chunk 0's first REF_LOGIT_POS */
	double sum_dn, max_dn;     /* |dNLL| over every prediction */
} fwt_score;

static inline void fwt_score_logits(fwt_score *s, const float *lg, const float *ref_lg, int vocab)
{
	for (size_t i = 0; i < (size_t)REF_LOGIT_POS * vocab; i++) {
		s->max_err = fmax(s->max_err, fabs((double)lg[i] - ref_lg[i]));
		s->max_ref = fmax(s->max_ref, fabs((double)ref_lg[i]));
	}
}

/* Chunk c's REF_CTX - 1 predictions; lg: its logits, [REF_CTX][vocab]. */
static inline void fwt_score_chunk(fwt_score *s, const float *lg, int vocab, const int32_t *ids, const float *ref_nll,
                                   int c)
{
	for (int t = 0; t < REF_CTX - 1; t++) {
		double dn = fabs(fwt_nll_of(lg + (size_t)t * vocab, vocab, ids[c * REF_CTX + t + 1]) -
		                 ref_nll[c * (REF_CTX - 1) + t]);
		s->sum_dn += dn;
		s->max_dn = fmax(s->max_dn, dn);
	}
}

/* The tolerances (fp32 on both sides; only summation order differs). */
static inline void fwt_score_check(const fwt_score *s, const char *label)
{
	const double mean_dn = s->sum_dn / (REF_CHUNKS * (REF_CTX - 1));
	ok(s->max_err <= 1e-3 * s->max_ref, "%s: chunk-0 logits within 1e-3 * max|logit|", label);
	tap_diag("%s: max |dlogit| %.3g (max |logit| %.3g, ratio %.3g)", label, s->max_err, s->max_ref,
	         s->max_err / s->max_ref);
	ok(mean_dn <= 1e-3 && s->max_dn <= 1e-2, "%s: NLL of 8 chunks: mean |dNLL| <= 1e-3, max <= 1e-2", label);
	tap_diag("%s: mean |dNLL| %.3g, max %.3g", label, mean_dn, s->max_dn);
}

/* n floats uniform in [-half, half) from an LCG started at `state`. */
static inline float *fwt_rnd(size_t n, uint32_t state, float half)
{
	float *v = malloc(sizeof(float) * n);
	for (size_t i = 0; i < n; i++) {
		state = state * 1664525u + 1013904223u;
		v[i] = ((float)(state >> 8) / (float)(1u << 24) * 2.0f - 1.0f) * half;
	}
	return v;
}

#endif
