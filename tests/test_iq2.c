/* test_iq2.c - the IQ2_XXS, IQ2_XS, IQ2_S and IQ1_S kernels against ggml.
 *
 * llama-quantize aborts on these types for the shared models (output.weight
 * has no importance data, which ggml asserts), so no golden file covers
 * IQ2_XXS, IQ2_XS and IQ1_S; IQ2_S alone appears in the IQ2_M and IQ3_XXS
 * mixes (test_presets.sh checks those bytes).  tests/data/peer-iq2.txt holds
 * SHA-256 digests from ggml itself (its header says how they were made): the
 * quantized bytes and their dequantized floats for tensors of the five
 * shared BF16 GGUFs, with the importance weights llama-quantize passes, and
 * for synthetic rows reaching the corner cases (empty sub-blocks, values
 * below the kernels' thresholds, zero weights, ties, wide ranges). */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "gguf.h"
#include "quant/fp16.h"
#include "quant/imatrix.h"
#include "quant/qtypes.h"
#include "quant/sha256.h"
#include "tap.h"

static const pj_dtype TYPES[] = { PJ_DT_IQ2_XXS, PJ_DT_IQ2_XS, PJ_DT_IQ2_S, PJ_DT_IQ1_S };
#define NTYPES (sizeof TYPES / sizeof TYPES[0])

/* ---- synthetic rows (the same formulas as the driver) --------------------- */

enum { SYN_ROWS = 16, SYN_COLS = 512 };

static void synth(float *x, float *w)
{
	uint32_t st = 0x2545F491u;
	for (int r = 0; r < SYN_ROWS; r++)
		for (int c = 0; c < SYN_COLS; c++) {
			st = st * 1664525u + 1013904223u;
			const float base = (float)((int32_t)(st >> 8) - (1 << 23)) * 0x1p-23f;
			float v;
			switch (r % 8) {
			case 0: v = base * 0.02f; break;                               /* weights-like */
			case 1: v = c % 64 < 16 ? 0.0f : base; break;                  /* empty sub-blocks */
			case 2: v = c < 256 ? base * 1e-10f : base * 1e-13f; break;    /* below the thresholds */
			case 3: v = c % 8 == 0 ? base : base * 1e-3f; break;           /* outliers */
			case 4: v = ldexpf(base, c % 64 - 32); break;                  /* wide range */
			case 5: v = (float)((int)(st >> 29) - 4) * 0.25f; break;       /* ties, equal values */
			case 6: v = -fabsf(base); break;                               /* all negative */
			default: v = base; break;
			}
			x[(size_t)r * SYN_COLS + c] = v;
		}
	for (int c = 0; c < SYN_COLS; c++)
		w[c] = (c >= 64 && c < 96) || c % 37 == 0 ? 0.0f : 0.3f * (float)(1 + c % 5);
}

/* ---- unit checks ------------------------------------------------------------ */

static void test_table(void)
{
	static const struct { pj_dtype t; unsigned size; bool req; } WANT[] = {
		{ PJ_DT_IQ2_XXS, 66, true }, { PJ_DT_IQ2_XS, 74, true }, { PJ_DT_IQ2_S, 82, false }, { PJ_DT_IQ1_S, 50, true },
	};
	for (size_t i = 0; i < NTYPES; i++) {
		const pj_qtype *q = pj_qtype_get(WANT[i].t);
		ok(q && q->block == 256 && q->type_size == WANT[i].size && q->uses_imatrix &&
		   q->requires_imatrix == WANT[i].req && q->type_size == pj_dtype_info_of(WANT[i].t)->type_size,
		   "%s: 256-element blocks of %u bytes, importance weights %s", pj_dtype_name(WANT[i].t), WANT[i].size,
		   WANT[i].req ? "required (ggml asserts them)" : "optional");
	}
	/* an all-zero block decodes to zeros; a zero row quantizes to it */
	float x[512] = { 0 }, w[512], y[512];
	uint8_t q[2 * 82], zero[2 * 82] = { 0 };
	for (int i = 0; i < 512; i++)
		w[i] = 1.0f;
	pj_error err = { 0 };
	for (size_t i = 0; i < NTYPES; i++) {
		memset(q, 0xAB, sizeof q);
		const size_t bytes = pj_qtype_row_size(TYPES[i], 512);
		bool ok_ = pj_quantize_rows(TYPES[i], x, q, 1, 512, w, 1, "z", &err) == PJ_OK && !memcmp(q, zero, bytes);
		ok_ = ok_ && pj_dequantize_rows(TYPES[i], q, y, 1, 512, &err) == PJ_OK;
		for (int k = 0; ok_ && k < 512; k++)
			ok_ = y[k] == 0.0f;
		ok(ok_, "%s: a zero row gives zero bytes and decodes to zeros", pj_dtype_name(TYPES[i]));
	}
}

/* ---- the digests ------------------------------------------------------------- */

typedef struct model_ctx {
	char name[64];
	pj_catalog cat;
	pj_gguf g;
	pj_imatrix im;
	bool open, have_im;
} model_ctx;

static void model_close(model_ctx *m)
{
	if (!m->open)
		return;
	if (m->have_im)
		pj_imatrix_free(&m->im);
	pj_gguf_free(&m->g);
	pj_catalog_free(&m->cat);
	m->open = m->have_im = false;
}

static bool model_open(model_ctx *m, const char *shared, const char *name, pj_error *err)
{
	if (m->open && !strcmp(m->name, name))
		return true;
	model_close(m);
	snprintf(m->name, sizeof m->name, "%s", name);
	char *path = pj_xasprintf("%s/models/%s/gguf/%s-BF16.gguf", shared, name, name);
	pj_catalog_init(&m->cat);
	pj_status st = pj_gguf_open(path, &m->g, &m->cat, err);
	free(path);
	if (st != PJ_OK) {
		pj_catalog_free(&m->cat);
		return false;
	}
	m->open = true;
	path = pj_xasprintf("%s/golden/%s/imatrix.gguf", shared, name);
	m->have_im = pj_imatrix_load(path, &m->im, err) == PJ_OK;
	free(path);
	return m->have_im;
}

/* Quantizes rows (per stacked matrix, with its weights when imat) and
 * returns the digests of the bytes and of their dequantized floats. */
static bool digest(pj_dtype t, const float *x, int64_t ne0, int64_t nmat, int64_t rows_per_mat, const pj_imatrix *im,
                   const char *name, const float *wsyn, char hq[65], char hd[65], pj_error *err)
{
	const int64_t nrows = nmat * rows_per_mat;
	const size_t rs = pj_qtype_row_size(t, ne0);
	uint8_t *q = pj_xmalloc(rs * (size_t)nrows);
	float *y = pj_xmalloc(sizeof(float) * (size_t)(ne0 * nrows));
	bool good = true;
	for (int64_t m = 0; good && m < nmat; m++) {
		const float *w = wsyn;
		if (im && pj_imatrix_weights(im, name, ne0, nmat, m, &w, err) != PJ_OK)
			good = false;
		else if (pj_quantize_rows(t, x + m * rows_per_mat * ne0, q + (size_t)(m * rows_per_mat) * rs, rows_per_mat,
		                          ne0, w, 2, name, err) != PJ_OK)
			good = false;
	}
	if (good)
		good = pj_dequantize_rows(t, q, y, nrows, ne0, err) == PJ_OK;
	if (good) {
		pj_sha256_hex(q, rs * (size_t)nrows, hq);
		pj_sha256_hex(y, sizeof(float) * (size_t)(ne0 * nrows), hd);
	}
	free(q);
	free(y);
	return good;
}

/* Checks one line "model tensor type weights ne0 rows sha(bytes) sha(f32)":
 * 1 when it could be checked, 0 on an error (why says it), -1 when it needs
 * the shared models and they are absent. */
static int check_line(model_ctx *m, const char *shared, const char *line, int *bad_q, int *bad_dq, char *why,
                       size_t why_len)
{
	char model[64], tensor[128], type[16], wts[16], wq[65], wd[65];
	long long ne0, rows;
	if (sscanf(line, "%63s %127s %15s %15s %lld %lld %64s %64s", model, tensor, type, wts, &ne0, &rows, wq, wd) != 8) {
		snprintf(why, why_len, "unreadable line: %s", line);
		return 0;
	}
	pj_dtype t;
	if (!pj_dtype_from_name(type, &t)) {
		snprintf(why, why_len, "unknown type %s", type);
		return 0;
	}
	const bool imat = !strcmp(wts, "imatrix");
	pj_error err = { 0 };
	char hq[65], hd[65];
	bool good;
	if (!strcmp(model, "synthetic")) {
		static float x[SYN_ROWS * SYN_COLS], w[SYN_COLS];
		synth(x, w);
		good = digest(t, x, SYN_COLS, 1, SYN_ROWS, NULL, "synthetic", imat ? w : NULL, hq, hd, &err);
	} else if (!shared) {
		return -1;
	} else {
		good = model_open(m, shared, model, &err);
		const pj_tensor *tn = good ? pj_catalog_find(&m->cat, tensor) : NULL;
		if (good && (!tn || tn->dtype != PJ_DT_BF16 || tn->ne[0] != ne0 || pj_tensor_nrows(tn) != rows)) {
			pj_fail(&err, PJ_EFORMAT, "%s %s: not a BF16 tensor of %lld x %lld", model, tensor, ne0, rows);
			good = false;
		}
		if (good) {
			int64_t nmat = 1;
			for (int d = 2; d < tn->n_dims; d++)
				nmat *= tn->ne[d];
			float *x = pj_xmalloc(sizeof(float) * (size_t)(ne0 * rows));
			const void *data = pj_catalog_data(&m->cat, tn, &err);
			good = data != NULL;
			if (good) {
				pj_bf16_to_fp32_row(data, x, (size_t)(ne0 * rows));
				good = digest(t, x, ne0, nmat, rows / nmat, imat ? &m->im : NULL, tensor, NULL, hq, hd, &err);
			}
			free(x);
		}
	}
	if (!good) {
		snprintf(why, why_len, "%s %s %s: %s", model, tensor, type, err.msg);
		return 0;
	}
	if (strcmp(hq, wq) != 0 && (*bad_q)++ < 3)
		tap_diag("%s %s %s (%s): bytes differ from ggml's", model, tensor, type, wts);
	if (strcmp(hd, wd) != 0 && (*bad_dq)++ < 3)
		tap_diag("%s %s %s (%s): dequantized floats differ from ggml's", model, tensor, type, wts);
	return 1;
}

static void test_digests(const char *shared)
{
	const char *path = PJ_SRCDIR "/tests/data/peer-iq2.txt";
	FILE *f = fopen(path, "r");
	if (!ok(f != NULL, "digest file %s readable", path))
		return;
	model_ctx m;
	memset(&m, 0, sizeof m);
	char line[512];
	/* one TAP line per (source, type, weights) */
	char key[96] = "", why[1400] = "";
	int n = 0, bad_q = 0, bad_dq = 0, failed = 0, skipped = 0, total = 0;
	for (;;) {
		const bool more = fgets(line, sizeof line, f) != NULL;
		if (more && (line[0] == '#' || line[0] == '\n'))
			continue;
		char model[64] = "", tensor[128], type[16] = "", wts[16] = "", k[96];
		if (more)
			sscanf(line, "%63s %127s %15s %15s", model, tensor, type, wts);
		snprintf(k, sizeof k, "%s %s (%s)", model, type, wts);
		if ((!more || strcmp(k, key) != 0) && n > 0) {
			if (skipped == n) {
				printf("ok %d # SKIP %s: ../shared (PJ_SHARED) is absent\n", ++tap_n, key);
			} else {
				ok(bad_q == 0 && bad_dq == 0 && failed == 0,
				   "%s: %d tensors, bytes and dequantized floats equal ggml's", key, n - bad_q - failed);
				if (failed)
					tap_diag("%d failed: %s", failed, why);
			}
			n = bad_q = bad_dq = failed = skipped = 0;
		}
		if (!more)
			break;
		snprintf(key, sizeof key, "%s", k);
		n++;
		const int r = check_line(&m, shared, line, &bad_q, &bad_dq, why, sizeof why);
		failed += r == 0;
		skipped += r < 0;
		total += r > 0;
	}
	fclose(f);
	model_close(&m);
	ok(total >= (shared ? 150 : 5), "%d digests checked", total);
}

int main(void)
{
	test_table();
	test_digests(tap_shared_dir());   /* NULL: the synthetic rows only */
	return done_testing();
}
