/* test_golden.c - quantization kernels against llama.cpp's bytes.
 *
 * Unit checks first (SHA-256 vectors, f16/bf16 rounding, round trips with
 * error bounds per type, thread-count independence, shape/NaN refusals),
 * then the golden comparison: for every model in ../shared/models and every
 * `<LABEL>-pure.json` / `<LABEL>-pure-imat.json` in ../shared/golden/<model>
 * whose types all have kernels, quantize each tensor of the BF16 GGUF to the
 * type the JSON names and compare the SHA-256 of the bytes.  One TAP line
 * per (model, label); labels with a type we lack are skipped loudly. */
#include "config.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "gguf.h"
#include "quant/fp16.h"
#include "quant/imatrix.h"
#include "quant/q_common.h"
#include "quant/qtypes.h"
#include "quant/sha256.h"
#include "tap.h"

/* ---- small helpers -------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void)   /* uniform in [-1, 1) */
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (float)((rng_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

/* ---- unit checks ---------------------------------------------------------- */

static void test_sha256(void)
{
	char hex[65];
	pj_sha256_hex("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 of empty input");
	pj_sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 of 'abc'");
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	pj_sha256_hex(m, strlen(m), hex);
	is_str(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "sha256 of 448-bit message");
	/* streaming in odd pieces equals one shot */
	static uint8_t big[100000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	uint8_t d1[32], d2[32];
	pj_sha256(big, sizeof big, d1);
	pj_sha256_ctx s;
	pj_sha256_init(&s);
	for (size_t off = 0, step = 1; off < sizeof big; off += step, step = step * 3 % 257 + 1)
		pj_sha256_update(&s, big + off, off + step > sizeof big ? sizeof big - off : step);
	pj_sha256_final(&s, d2);
	ok(memcmp(d1, d2, 32) == 0, "sha256 streaming equals one shot");
}

static void test_fp16(void)
{
	is_int(pj_fp32_to_fp16(1.0f), 0x3c00, "f16(1)");
	is_int(pj_fp32_to_fp16(-2.0f), 0xc000, "f16(-2)");
	is_int(pj_fp32_to_fp16(65504.0f), 0x7bff, "f16(65504) is the largest half");
	is_int(pj_fp32_to_fp16(65520.0f), 0x7c00, "f16(65520) rounds to Inf");
	is_int(pj_fp32_to_fp16(0x1p-24f), 0x0001, "f16 smallest subnormal");
	is_int(pj_fp32_to_fp16(0x1p-25f), 0x0000, "f16 2^-25 ties to even (zero)");
	is_int(pj_fp32_to_fp16(0x1.8p-25f), 0x0001, "f16 1.5*2^-25 rounds up");
	is_int(pj_fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00, "f16 tie to even, down");
	is_int(pj_fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02, "f16 tie to even, up");
	is_int(pj_fp32_to_fp16(-0.0f), 0x8000, "f16(-0)");
	is_int(pj_fp32_to_fp16(NAN), 0x7e00, "f16(NaN) is 0x7e00");
	is_int(pj_fp32_to_bf16(1.0f + 0x1p-8f), 0x3f80, "bf16 tie to even, down");
	is_int(pj_fp32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82, "bf16 tie to even, up");
	uint32_t snan = 0x7f800001u;
	float fs;
	memcpy(&fs, &snan, 4);
	is_int(pj_fp32_to_bf16(fs), 0x7fc0, "bf16 of a signalling NaN is quiet");
	int bad = 0;
	for (uint32_t h = 0; h < 0x10000; h++) {
		const uint16_t hh = (uint16_t)h;
		if ((hh & 0x7c00) == 0x7c00 && (hh & 0x3ff))
			continue;   /* NaN payloads do not round trip (quieted) */
		if (pj_fp32_to_fp16(pj_fp16_to_fp32(hh)) != hh)
			bad++;
	}
	is_int(bad, 0, "every non-NaN half round trips through f32");
}

/* Relative RMS error bound of a round trip on Gaussian-ish data, per type. */
static const struct { pj_dtype t; double max_rel; } ROUND_TRIP[] = {
	{ PJ_DT_F32, 0.0 }, { PJ_DT_F16, 1e-3 }, { PJ_DT_BF16, 5e-3 },
	{ PJ_DT_Q8_0, 0.01 }, { PJ_DT_Q6_K, 0.03 }, { PJ_DT_Q5_0, 0.06 }, { PJ_DT_Q5_1, 0.06 },
	{ PJ_DT_Q5_K, 0.06 }, { PJ_DT_Q4_0, 0.12 }, { PJ_DT_Q4_1, 0.12 }, { PJ_DT_Q4_K, 0.12 },
	{ PJ_DT_IQ4_NL, 0.12 }, { PJ_DT_IQ4_XS, 0.12 }, { PJ_DT_MXFP4, 0.2 }, { PJ_DT_Q3_K, 0.25 },
	{ PJ_DT_Q2_K, 0.45 }, { PJ_DT_IQ3_XXS, 0.3 }, { PJ_DT_IQ3_S, 0.3 }, { PJ_DT_IQ1_M, 0.7 },
	{ PJ_DT_IQ2_S, 0.35 }, { PJ_DT_IQ2_XS, 0.4 }, { PJ_DT_IQ2_XXS, 0.45 }, { PJ_DT_IQ1_S, 0.6 },
};

static void test_round_trips(void)
{
	enum { ROWS = 12, COLS = 512 };
	static float x[ROWS * COLS], y[ROWS * COLS], qw[COLS];
	for (int i = 0; i < ROWS * COLS; i++)
		x[i] = (frand() + frand() + frand()) * 0.02f;
	x[5] = 0.3f;                       /* an outlier */
	for (int i = 0; i < COLS; i++)
		qw[i] = 0.1f + (frand() + 1.0f);
	static uint8_t q1[ROWS * COLS * 4], q3[ROWS * COLS * 4];
	pj_error err;
	for (size_t k = 0; k < sizeof ROUND_TRIP / sizeof ROUND_TRIP[0]; k++) {
		const pj_dtype t = ROUND_TRIP[k].t;
		const char *name = pj_dtype_name(t);
		if (!pj_qtype_supported(t)) {
			printf("ok %d # SKIP round trip %s: no kernel yet\n", ++tap_n, name);
			continue;
		}
		for (int weighted = 0; weighted < 2; weighted++) {
			const float *w = weighted ? qw : NULL;
			if (!weighted && pj_qtype_requires_imatrix(t))
				continue;
			pj_status st = pj_quantize_rows(t, x, q1, ROWS, COLS, w, 1, "rt", &err);
			pj_status st3 = pj_quantize_rows(t, x, q3, ROWS, COLS, w, 3, "rt", &err);
			pj_status sd = pj_dequantize_rows(t, q1, y, ROWS, COLS, &err);
			double num = 0, den = 0;
			for (int i = 0; i < ROWS * COLS; i++) {
				num += (double)(x[i] - y[i]) * (x[i] - y[i]);
				den += (double)x[i] * x[i];
			}
			const double rel = sqrt(num / den);
			const size_t bytes = pj_qtype_row_size(t, COLS) * ROWS;
			ok(st == PJ_OK && sd == PJ_OK && rel <= ROUND_TRIP[k].max_rel,
			   "round trip %s%s: relative RMS error %.4f <= %.3f", name, weighted ? " (weighted)" : "", rel,
			   ROUND_TRIP[k].max_rel);
			ok(st3 == PJ_OK && memcmp(q1, q3, bytes) == 0, "%s%s: 1 and 3 threads give the same bytes", name,
			   weighted ? " (weighted)" : "");
		}
	}
}

/* ---- vector kernels against the scalar ones --------------------------------
 * The q_*_x8.c kernels (in the table) must give the bytes of the scalar
 * reference kernels for any input, not only for the models' weights: rows
 * built to reach the searches' corner cases - all-zero and constant
 * sub-blocks, a lone outlier, values on rounding ties, magnitudes around the
 * all-zero threshold, one-signed sub-blocks, a wide exponent range - with no
 * weights, random weights and weights with zeros.  Runs whichever copy the
 * CPU dispatch picks; PJ_KERNELS=base tests/test_golden checks the other. */
static float pattern_value(int mode, int e)
{
	const float r = frand();
	switch (mode) {
	case 0: return 0.02f * r;
	case 1: return 0.0f;
	case 2: return (e / 16) % 2 ? 0.0f : 0.05f * r;                 /* zero sub-blocks */
	case 3: return (e / 16) % 3 == 0 ? 0.25f : (e / 16) % 3 == 1 ? -0.125f : 0.03f * r;
	case 4: return e % 32 == 7 ? 10.0f * (r < 0 ? -1.f : 1.f) : 0.01f * r;
	case 5: return 0.5f * (float)(int)(r * 17.0f) * 0.0625f;         /* multiples of 1/32 */
	case 6: return r * 1e-15f * (float)(1 + e % 4);                   /* around the threshold */
	case 7: return 0.5f + fabsf(r);                                   /* all positive */
	case 8: return -0.01f - 0.02f * fabsf(r);                         /* all negative */
	default: return r * ldexpf(1.0f, (int)(frand() * 20.0f));         /* wide range */
	}
}

static void test_x8_equivalence(void)
{
	enum { N = 2048, ROWS = 40 };
	static const struct {
		const char *name;
		pj_dtype type;
		pj_qrow_fn ref;
		size_t row_bytes;
	} K[] = {
		{ "Q8_0", PJ_DT_Q8_0, pj_qrow_q8_0, N / 32 * 34 },
		{ "Q2_K", PJ_DT_Q2_K, pj_qrow_q2_k, N / 256 * 84 },
		{ "Q3_K", PJ_DT_Q3_K, pj_qrow_q3_k, N / 256 * 110 },
		{ "Q4_K", PJ_DT_Q4_K, pj_qrow_q4_k, N / 256 * 144 },
		{ "Q5_K", PJ_DT_Q5_K, pj_qrow_q5_k, N / 256 * 176 },
		{ "Q6_K", PJ_DT_Q6_K, pj_qrow_q6_k, N / 256 * 210 },
	};
	float *x = malloc(N * sizeof *x), *w = malloc(N * sizeof *w);
	uint8_t *a = malloc(N * 2), *b = malloc(N * 2);
	for (size_t k = 0; k < sizeof K / sizeof K[0]; k++) {
		const pj_qtype *q = pj_qtype_get(K[k].type);
		int bad = 0, n = 0;
		for (int row = 0; row < ROWS; row++) {
			for (int e = 0; e < N; e++)
				x[e] = pattern_value((row + e / 256) % 10, e);
			for (int e = 0; e < N; e++)
				w[e] = row % 3 == 2 && e % 5 == 0 ? 0.0f : fabsf(frand()) * (row % 2 ? 1.0f : 1e3f);
			for (int wm = 0; wm < 2; wm++) {
				const float *qw = wm ? w : NULL;
				memset(a, 0xAA, N * 2);
				memset(b, 0x55, N * 2);
				K[k].ref(x, a, N, qw);
				q->quantize_row(x, b, N, qw);
				n++;
				if (memcmp(a, b, K[k].row_bytes) != 0)
					bad++;
			}
		}
		ok(bad == 0, "%s vector kernel equals the scalar one on %d edge-case rows (%d differ)", K[k].name, n, bad);
	}
	free(x);
	free(w);
	free(a);
	free(b);
}

static void test_refusals(void)
{
	float x[300 * 2];
	uint8_t out[2048];
	pj_error err = { 0 };
	for (int i = 0; i < 600; i++)
		x[i] = frand();
	pj_status st = pj_quantize_rows(PJ_DT_Q4_K, x, out, 2, 300, NULL, 1, "blk.0.ffn_down.weight", &err);
	ok(st == PJ_EUSAGE, "rows of 300 refused for Q4_K");
	like(err.msg, "not a multiple of the Q4_K block size 256", "message explains the block size");
	like(err.msg, "blk.0.ffn_down.weight", "message names the tensor");
	st = pj_quantize_rows(PJ_DT_Q8_0, x, out, 1, 40, NULL, 1, "t", &err);
	ok(st == PJ_EUSAGE, "rows of 40 refused for Q8_0");
	ok(pj_qtype_row_size(PJ_DT_Q4_0, 48) == 0, "row size of a non-multiple is 0");
	x[77] = NAN;
	st = pj_quantize_rows(PJ_DT_Q8_0, x, out, 2, 256, NULL, 1, "blk.3.attn_q.weight", &err);
	ok(st == PJ_EFORMAT, "NaN input refused for Q8_0");
	like(err.msg, "blk.3.attn_q.weight", "NaN message names the tensor");
	like(err.msg, "row 0, column 77", "NaN message names the element");
	x[77] = INFINITY;
	st = pj_quantize_rows(PJ_DT_Q6_K, x, out, 2, 256, NULL, 1, "w", &err);
	ok(st == PJ_EFORMAT, "Inf input refused for Q6_K");
	uint16_t h[512];
	st = pj_quantize_rows(PJ_DT_F16, x, h, 2, 256, NULL, 1, "w", &err);
	ok(st == PJ_OK && h[77] == 0x7c00, "F16 keeps Inf like ggml's conversion");
	st = pj_quantize_rows(PJ_DT_Q1_0, x, out, 2, 256, NULL, 1, "w", &err);
	ok(st == PJ_EUNSUPPORTED, "a type without a kernel is refused");
	ok(!pj_qtype_requires_imatrix(PJ_DT_Q4_K) && !pj_qtype_requires_imatrix(PJ_DT_IQ1_M) &&
	   !pj_qtype_requires_imatrix(PJ_DT_IQ2_S) && pj_qtype_requires_imatrix(PJ_DT_IQ2_XXS) &&
	   pj_qtype_requires_imatrix(PJ_DT_IQ2_XS) && pj_qtype_requires_imatrix(PJ_DT_IQ1_S),
	   "requires_imatrix follows ggml_quantize_requires_imatrix");
	st = pj_quantize_rows(PJ_DT_IQ2_XXS, x, out, 2, 256, NULL, 1, "w", &err);
	ok(st == PJ_EUSAGE && strstr(err.msg, "importance matrix"), "IQ2_XXS without importance weights refused");
}

/* ---- golden ----------------------------------------------------------------- */

typedef struct golden_ctx {
	const char *model;
	pj_catalog cat;
	pj_gguf g;
	pj_imatrix im;
	bool have_im;
	float *f32;
	size_t f32_cap;
	uint8_t *out;
	size_t out_cap;
} golden_ctx;

static void *grow(void *p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return p;
	free(p);
	*cap = need;
	return pj_xmalloc(need);
}

/* Decodes a source tensor to f32 (F32, F16, BF16 sources). */
static bool source_f32(golden_ctx *c, const pj_tensor *t, pj_error *err)
{
	const int64_t n = pj_tensor_nelem(t);
	const void *data = pj_catalog_data(&c->cat, t, err);
	if (!data)
		return false;
	c->f32 = grow(c->f32, &c->f32_cap, (size_t)n * sizeof(float));
	switch (t->dtype) {
	case PJ_DT_F32: memcpy(c->f32, data, (size_t)n * sizeof(float)); return true;
	case PJ_DT_BF16: pj_bf16_to_fp32_row(data, c->f32, (size_t)n); return true;
	case PJ_DT_F16: pj_fp16_to_fp32_row(data, c->f32, (size_t)n); return true;
	default: pj_fail(err, PJ_EUNSUPPORTED, "%s: source type %s", t->name, pj_dtype_name(t->dtype)); return false;
	}
}

/* Quantizes tensor `name` to `type` (per matrix, with its imatrix slice) and
 * returns the SHA-256 hex in hex. */
static bool quantize_tensor(golden_ctx *c, const char *name, pj_dtype type, bool imat, char hex[65],
                            pj_error *err)
{
	const pj_tensor *t = pj_catalog_find(&c->cat, name);
	if (!t) {
		pj_fail(err, PJ_ENOTFOUND, "tensor %s not in the GGUF", name);
		return false;
	}
	if (!source_f32(c, t, err))
		return false;
	const int64_t ne0 = t->ne[0], nrows = pj_tensor_nrows(t);
	int64_t nmat = 1;
	for (int d = 2; d < t->n_dims; d++)
		nmat *= t->ne[d];
	const int64_t rows_per_mat = nrows / nmat;
	const size_t row_size = pj_qtype_row_size(type, ne0);
	if (!row_size) {
		pj_fail(err, PJ_EUSAGE, "%s: %s rows of %lld", name, pj_dtype_name(type), (long long)ne0);
		return false;
	}
	c->out = grow(c->out, &c->out_cap, row_size * (size_t)nrows);
	const bool same = type == t->dtype;   /* llama.cpp copies, e.g. 1-D F32 */
	for (int64_t m = 0; m < nmat && !same; m++) {
		const float *w = NULL;
		if (imat && pj_qtype_get(type)->block > 1 &&
		    pj_imatrix_weights(&c->im, name, ne0, nmat, m, &w, err) != PJ_OK)
			return false;
		if (pj_quantize_rows(type, c->f32 + m * rows_per_mat * ne0, c->out + (size_t)(m * rows_per_mat) * row_size,
		                     rows_per_mat, ne0, w, 2, name, err) != PJ_OK)
			return false;
	}
	if (same) {
		const void *data = pj_catalog_data(&c->cat, t, err);
		pj_sha256_hex(data, t->nbytes, hex);
	} else {
		pj_sha256_hex(c->out, row_size * (size_t)nrows, hex);
	}
	return true;
}

static int label_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void golden_label(golden_ctx *c, const char *dir, const char *file)
{
	char *path = pj_xasprintf("%s/%s", dir, file);
	char label[256];
	snprintf(label, sizeof label, "%.*s", (int)(strlen(file) - 5), file);
	const bool imat = strstr(label, "-imat") != NULL;
	char *text = tap_slurp(path, NULL);
	free(path);
	cJSON *js = text ? cJSON_Parse(text) : NULL;
	free(text);
	const cJSON *tensors = js ? cJSON_GetObjectItemCaseSensitive(js, "tensors") : NULL;
	if (!cJSON_IsArray(tensors)) {
		ok(0, "%s %s: golden JSON readable", c->model, label);
		cJSON_Delete(js);
		return;
	}
	/* every type must have a kernel, or the label is skipped as a whole */
	const cJSON *it;
	cJSON_ArrayForEach(it, tensors) {
		const char *ty = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "type"));
		pj_dtype dt;
		if (!ty || !pj_dtype_from_name(ty, &dt) || !pj_qtype_supported(dt)) {
			printf("ok %d # SKIP %s %s: no kernel for %s yet\n", ++tap_n, c->model, label, ty ? ty : "?");
			cJSON_Delete(js);
			return;
		}
	}
	if (imat && !c->have_im) {
		printf("ok %d # SKIP %s %s: imatrix.gguf not loaded\n", ++tap_n, c->model, label);
		cJSON_Delete(js);
		return;
	}
	int n = 0, bad = 0, failed = 0;
	char first_bad[1400] = "";
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cJSON_ArrayForEach(it, tensors) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
		const char *ty = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "type"));
		const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "sha256"));
		pj_dtype dt;
		pj_dtype_from_name(ty, &dt);
		char hex[65];
		pj_error err = { 0 };
		n++;
		if (!name || !want || !quantize_tensor(c, name, dt, imat, hex, &err)) {
			failed++;
			if (!*first_bad)
				snprintf(first_bad, sizeof first_bad, "%s (%s): %s", name ? name : "?", ty, err.msg);
			continue;
		}
		if (strcmp(hex, want) != 0) {
			bad++;
			if (bad <= 3)
				tap_diag("%s %s: %s as %s differs", c->model, label, name, ty);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	const double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
	ok(bad == 0 && failed == 0, "%s %s: %d/%d tensors byte-identical (%.2fs)", c->model, label, n - bad - failed, n,
	   secs);
	if (bad || failed)
		tap_diag("%d mismatched, %d failed%s%s", bad, failed, *first_bad ? "; first failure: " : "", first_bad);
	cJSON_Delete(js);
}

static void golden_model(const char *shared, const char *model, const char *only)
{
	golden_ctx c;
	memset(&c, 0, sizeof c);
	c.model = model;
	char path[4096], dir[4096];
	snprintf(path, sizeof path, "%s/models/%s/gguf/%s-BF16.gguf", shared, model, model);
	snprintf(dir, sizeof dir, "%s/golden/%s", shared, model);
	pj_error err = { 0 };
	pj_catalog_init(&c.cat);
	if (pj_gguf_open(path, &c.g, &c.cat, &err) != PJ_OK) {
		ok(0, "%s: open BF16 GGUF", model);
		tap_diag("%s", err.msg);
		pj_catalog_free(&c.cat);
		return;
	}
	char *impath = pj_xasprintf("%s/imatrix.gguf", dir);
	if (pj_imatrix_load(impath, &c.im, &err) == PJ_OK)
		c.have_im = true;
	else
		tap_diag("%s: %s", model, err.msg);
	free(impath);

	DIR *d = opendir(dir);
	char **labels = NULL;
	size_t nl = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *s = de->d_name;
		size_t len = strlen(s);
		bool pure = len > 10 && strcmp(s + len - 10, "-pure.json") == 0;
		bool pimat = len > 15 && strcmp(s + len - 15, "-pure-imat.json") == 0;
		if (!pure && !pimat)
			continue;
		if (only && strncmp(s, only, strlen(only)) != 0)
			continue;
		labels = pj_xrealloc(labels, (nl + 1) * sizeof *labels);
		labels[nl++] = pj_xstrdup(s);
	}
	if (d)
		closedir(d);
	qsort(labels, nl, sizeof *labels, label_cmp);
	for (size_t i = 0; i < nl; i++) {
		golden_label(&c, dir, labels[i]);
		free(labels[i]);
	}
	free(labels);
	free(c.f32);
	free(c.out);
	if (c.have_im)
		pj_imatrix_free(&c.im);
	pj_gguf_free(&c.g);
	pj_catalog_free(&c.cat);
}

static void test_imatrix(const char *shared)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/golden/qwen3moe/imatrix.gguf", shared);
	pj_imatrix im;
	pj_error err = { 0 };
	if (!ok(pj_imatrix_load(path, &im, &err) == PJ_OK, "qwen3moe imatrix.gguf loads")) {
		tap_diag("%s", err.msg);
		return;
	}
	ok(im.n > 0 && im.chunk_count == 64 && im.chunk_size == 256, "imatrix: %zu entries, %u chunks of %u", im.n,
	   im.chunk_count, im.chunk_size);
	const pj_imatrix_entry *e = pj_imatrix_find(&im, "blk.0.ffn_down_exps.weight");
	ok(e && e->n_mats == 8 && e->n_per_row > 0, "per-expert entry for ffn_down_exps (8 experts)");
	const float *w = NULL;
	ok(pj_imatrix_weights(&im, "blk.0.attn_q.weight", 256, 1, 0, &w, &err) == PJ_OK && w,
	   "weights for a dense matrix");
	ok(pj_imatrix_weights(&im, "blk.0.attn_q.weight", 512, 1, 0, &w, &err) == PJ_EFORMAT,
	   "size mismatch is an error");
	ok(pj_imatrix_weights(&im, "no.such.weight", 256, 1, 0, &w, &err) == PJ_OK && !w, "missing entry gives NULL");
	pj_imatrix_free(&im);
	snprintf(path, sizeof path, "%s/models/llama/config.json", shared);
	ok(pj_imatrix_load(path, &im, &err) != PJ_OK, "a non-GGUF file is refused: %s", err.msg);
}

int main(int argc, char **argv)
{
	/* optional filters for manual runs: test_golden [model [label-prefix]] */
	const char *only_model = argc > 1 ? argv[1] : NULL;
	const char *only_label = argc > 2 ? argv[2] : NULL;

	if (!only_model) {
		test_sha256();
		test_fp16();
		test_round_trips();
		test_x8_equivalence();
		test_refusals();
	}

	const char *shared = tap_shared_dir();
	if (!shared) {
		skip("golden comparison: ../shared (PJ_SHARED) is absent");
		return done_testing();
	}
	if (!only_model)
		test_imatrix(shared);
	static const char *MODELS[] = { "llama", "qwen3", "qwen3moe", "gemma3", "deepseek3" };
	for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
		if (!only_model || strcmp(only_model, MODELS[i]) == 0)
			golden_model(shared, MODELS[i], only_label);
	return done_testing();
}
