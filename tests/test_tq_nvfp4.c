/* test_tq_nvfp4.c - the TQ1_0, TQ2_0 and NVFP4 kernels against ggml.
 *
 * No golden file covers these types, so tests/data/peer-tq-nvfp4.txt holds
 * SHA-256 digests from ggml itself (its header says how they were made):
 * per tensor of three shared BF16 GGUFs the quantized bytes and their
 * dequantized floats, plus synthetic rows reaching the corner cases (zero
 * rows, rounding ties, scales beyond FP8 and f16 range, subnormals) and
 * dequantization of arbitrary bytes.  Unit checks first: table rows,
 * exact ternary round trips, an NVFP4 error bound, ignored weights, shapes. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "gguf.h"
#include "quant/fp16.h"
#include "quant/qtypes.h"
#include "quant/sha256.h"
#include "tap.h"

static const pj_dtype TYPES[] = { PJ_DT_TQ1_0, PJ_DT_TQ2_0, PJ_DT_NVFP4 };
#define NTYPES (sizeof TYPES / sizeof TYPES[0])

/* ---- the inputs the digests were made from (same formulas as the driver) -- */

static void synth_rows(float *x, int rows, int cols)
{
	uint32_t st = 0x12345678u;
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++) {
			st = st * 1664525u + 1013904223u;
			const float base = (float)((int32_t)(st >> 8) - (1 << 23)) * 0x1p-23f;
			float v;
			switch (r % 8) {
			case 1: v = base * (float)(64 * r); break;                            /* E4M3 top range */
			case 3: v = 0.0f; break;                                              /* all zero */
			case 5: v = ldexpf((float)((int)(st >> 29) - 4) * 0.25f, r - 48); break; /* ties */
			case 7: v = ldexpf(base, -130); break;                                /* subnormal */
			default: v = ldexpf(base, r - 48); break;                             /* 2^-48 .. 2^15 */
			}
			x[(size_t)r * cols + c] = v;
		}
}

/* pseudo-random blocks; the f16 scale of a TQ block (at d_off) kept finite */
static void synth_bytes(uint8_t *b, size_t n, size_t blk, size_t d_off)
{
	uint32_t st = 0x9E3779B9u;
	for (size_t i = 0; i < n; i++) {
		st = st * 1664525u + 1013904223u;
		b[i] = (uint8_t)(st >> 24);
	}
	if (d_off)
		for (size_t i = d_off + 1; i < n; i += blk)
			if ((b[i] & 0x7C) == 0x7C)
				b[i] &= (uint8_t)~0x40;
}

/* ---- unit checks ---------------------------------------------------------- */

static void test_table(void)
{
	for (size_t k = 0; k < NTYPES; k++) {
		const pj_qtype *q = pj_qtype_get(TYPES[k]);
		const pj_dtype_info *di = pj_dtype_info_of(TYPES[k]);
		ok(q && q->block == di->block && q->type_size == di->type_size && !q->uses_imatrix && !q->requires_imatrix,
		   "%s: kernel row (%u elements in %u bytes, no importance weights)", di->name, q ? q->block : 0,
		   q ? q->type_size : 0);
	}
}

static uint32_t rng = 0x2545F491u;
static float frand(void)   /* [-1, 1) */
{
	rng = rng * 1664525u + 1013904223u;
	return (float)((int32_t)(rng >> 8) - (1 << 23)) * 0x1p-23f;
}

static void test_round_trips(void)
{
	enum { ROWS = 8, COLS = 512 };
	static float x[ROWS * COLS], y[ROWS * COLS], qw[COLS];
	static uint8_t q1[ROWS * COLS], q2[ROWS * COLS];
	pj_error err;
	/* ternary input with an f16-exact scale comes back exactly */
	for (int i = 0; i < ROWS * COLS; i++) {
		const float r = frand();
		x[i] = r < -0.3f ? -0.375f : r > 0.3f ? 0.375f : 0.0f;
	}
	for (int tq = 0; tq < 2; tq++) {
		const pj_dtype t = TYPES[tq];
		pj_status st = pj_quantize_rows(t, x, q1, ROWS, COLS, NULL, 1, "rt", &err);
		pj_status sd = pj_dequantize_rows(t, q1, y, ROWS, COLS, &err);
		ok(st == PJ_OK && sd == PJ_OK && memcmp(x, y, sizeof x) == 0, "%s: ternary rows round-trip exactly",
		   pj_dtype_name(t));
	}
	for (int i = 0; i < ROWS * COLS; i++)
		x[i] = (frand() + frand() + frand()) * 0.02f;
	for (int i = 0; i < COLS; i++)
		qw[i] = 0.1f + (frand() + 1.0f);
	for (size_t k = 0; k < NTYPES; k++) {
		const pj_dtype t = TYPES[k];
		const size_t bytes = pj_qtype_row_size(t, COLS) * ROWS;
		pj_status s1 = pj_quantize_rows(t, x, q1, ROWS, COLS, NULL, 1, "rt", &err);
		pj_status s2 = pj_quantize_rows(t, x, q2, ROWS, COLS, qw, 3, "rt", &err);
		ok(s1 == PJ_OK && s2 == PJ_OK && memcmp(q1, q2, bytes) == 0,
		   "%s: importance weights and thread count leave the bytes alone", pj_dtype_name(t));
	}
	/* NVFP4: relative RMS error of Gaussian-ish rows */
	pj_dequantize_rows(PJ_DT_NVFP4, q1, y, ROWS, COLS, &err);
	double num = 0, den = 0;
	for (int i = 0; i < ROWS * COLS; i++) {
		num += (double)(x[i] - y[i]) * (x[i] - y[i]);
		den += (double)x[i] * x[i];
	}
	ok(sqrt(num / den) < 0.12, "NVFP4 round trip: relative RMS error %.4f < 0.12", sqrt(num / den));
}

static void test_shapes(void)
{
	static float x[2 * 320];
	static uint8_t out[2 * 320];
	pj_error err;
	ok(pj_quantize_rows(PJ_DT_TQ1_0, x, out, 2, 128, NULL, 1, "w", &err) == PJ_EUSAGE &&
	   strstr(err.msg, "block size 256"), "TQ1_0 refuses rows of 128 (%s)", err.msg);
	ok(pj_qtype_row_size(PJ_DT_TQ2_0, 320) == 0 && pj_qtype_row_size(PJ_DT_TQ2_0, 512) == 132,
	   "TQ2_0 row sizes: 320 elements none, 512 elements 132 bytes");
	ok(pj_qtype_row_size(PJ_DT_NVFP4, 320) == 180 && pj_qtype_row_size(PJ_DT_NVFP4, 32) == 0,
	   "NVFP4 row sizes: 320 elements 180 bytes, 32 elements none");
	x[70] = NAN;
	ok(pj_quantize_rows(PJ_DT_NVFP4, x, out, 2, 64, NULL, 1, "w", &err) == PJ_EFORMAT, "NVFP4 refuses NaN input");
}

/* ---- the digests -------------------------------------------------------------------- */

typedef struct line {
	char model[64], tensor[160], type[16], qsha[72], dsha[72];
	long long ne0, rows;
} line;

static bool parse(const char *s, line *l)
{
	return sscanf(s, "%63s %159s %15s %lld %lld %71s %71s", l->model, l->tensor, l->type, &l->ne0, &l->rows,
	              l->qsha, l->dsha) == 7;
}

/* Digests of rows x quantized to t and of those bytes dequantized; false
 * when a call failed. */
static bool hashes(pj_dtype t, const float *x, long long rows, long long ne0, char q[65], char d[65])
{
	pj_error err;
	const size_t bytes = pj_qtype_row_size(t, ne0) * (size_t)rows;
	uint8_t *out = malloc(bytes ? bytes : 1);
	float *y = malloc((size_t)(rows * ne0) * sizeof *y);
	bool good = out && y && pj_quantize_rows(t, x, out, rows, ne0, NULL, 2, "t", &err) == PJ_OK &&
	            pj_dequantize_rows(t, out, y, rows, ne0, &err) == PJ_OK;
	if (good) {
		pj_sha256_hex(out, bytes, q);
		pj_sha256_hex(y, (size_t)(rows * ne0) * sizeof *y, d);
	}
	free(out);
	free(y);
	return good;
}

static void check_synthetic(const line *l, pj_dtype t)
{
	float *x = malloc((size_t)(l->rows * l->ne0) * sizeof *x);
	synth_rows(x, (int)l->rows, (int)l->ne0);
	char q[65], d[65];
	const bool good = hashes(t, x, l->rows, l->ne0, q, d);
	ok(good && strcmp(q, l->qsha) == 0, "synthetic %s: bytes equal ggml's", l->type);
	ok(good && strcmp(d, l->dsha) == 0, "synthetic %s: dequantized floats equal ggml's", l->type);
	free(x);
}

static void check_bytes(const line *l, pj_dtype t)
{
	const pj_qtype *q = pj_qtype_get(t);
	const size_t n = (size_t)l->ne0 / q->block * q->type_size;
	const size_t d_off = t == PJ_DT_TQ1_0 ? 52 : t == PJ_DT_TQ2_0 ? 64 : 0;
	uint8_t *b = malloc(n);
	float *y = malloc((size_t)l->ne0 * sizeof *y);
	synth_bytes(b, n, q->type_size, d_off);
	pj_error err;
	char d[65] = "";
	if (pj_dequantize_rows(t, b, y, 1, l->ne0, &err) == PJ_OK)
		pj_sha256_hex(y, (size_t)l->ne0 * sizeof *y, d);
	is_str(d, l->dsha, "%s: any bytes dequantize as in ggml", l->type);
	free(b);
	free(y);
}

/* per type, over one model's lines */
typedef struct tally {
	int n, bad_q, bad_d, failed, na;
} tally;

static void check_model(const char *shared, const line *ls, size_t nl)
{
	char *path = pj_xasprintf("%s/models/%s/gguf/%s-BF16.gguf", shared, ls[0].model, ls[0].model);
	pj_catalog cat;
	pj_gguf g;
	pj_error err = { 0 };
	pj_catalog_init(&cat);
	const pj_status st = pj_gguf_open(path, &g, &cat, &err);
	free(path);
	if (st != PJ_OK) {
		ok(0, "%s: open BF16 GGUF", ls[0].model);
		tap_diag("%s", err.msg);
		pj_catalog_free(&cat);
		return;
	}
	tally tl[NTYPES];
	memset(tl, 0, sizeof tl);
	float *x = NULL;
	const char *have = "";
	for (size_t i = 0; i < nl; i++) {
		const line *l = &ls[i];
		pj_dtype t;
		size_t k = 0;
		if (!pj_dtype_from_name(l->type, &t))
			continue;
		while (k < NTYPES && TYPES[k] != t)
			k++;
		if (k == NTYPES)
			continue;
		tally *c = &tl[k];
		c->n++;
		if (strcmp(l->qsha, "n/a") == 0) {
			c->na++;
			if (pj_qtype_row_size(t, l->ne0) != 0) {
				c->failed++;
				tap_diag("%s %s: rows of %lld accepted for %s, ggml has no such row", l->model, l->tensor, l->ne0,
				         l->type);
			}
			continue;
		}
		const pj_tensor *tn = pj_catalog_find(&cat, l->tensor);
		if (!tn || tn->ne[0] != l->ne0 || pj_tensor_nrows(tn) != l->rows || tn->dtype != PJ_DT_BF16) {
			c->failed++;
			tap_diag("%s %s: not the BF16 tensor the digests were made from", l->model, l->tensor);
			continue;
		}
		if (strcmp(have, l->tensor) != 0) {
			const void *data = pj_catalog_data(&cat, tn, &err);
			free(x);
			x = malloc((size_t)(l->rows * l->ne0) * sizeof *x);
			if (!data) {
				c->failed++;
				have = "";
				continue;
			}
			pj_bf16_to_fp32_row(data, x, (size_t)(l->rows * l->ne0));
			have = l->tensor;
		}
		char q[65], d[65];
		if (!hashes(t, x, l->rows, l->ne0, q, d)) {
			c->failed++;
			continue;
		}
		if (strcmp(q, l->qsha) != 0 && c->bad_q++ < 2)
			tap_diag("%s %s as %s: bytes differ", l->model, l->tensor, l->type);
		if (strcmp(d, l->dsha) != 0 && c->bad_d++ < 2)
			tap_diag("%s %s as %s: dequantized floats differ", l->model, l->tensor, l->type);
	}
	free(x);
	for (size_t k = 0; k < NTYPES; k++) {
		const tally *c = &tl[k];
		ok(c->n > 0 && c->bad_q == 0 && c->bad_d == 0 && c->failed == 0,
		   "%s %s: %d tensors byte-identical to ggml and dequantized alike (%d with rows too short for the block)",
		   ls[0].model, pj_dtype_name(TYPES[k]), c->n - c->na - c->bad_q - c->failed, c->na);
	}
	pj_gguf_free(&g);
	pj_catalog_free(&cat);
}

static void test_digests(void)
{
	FILE *f = fopen(PJ_SRCDIR "/tests/data/peer-tq-nvfp4.txt", "r");
	ok(f != NULL, "tests/data/peer-tq-nvfp4.txt readable");
	if (!f)
		return;
	line *ls = NULL;
	size_t nl = 0;
	char buf[1024];
	while (fgets(buf, sizeof buf, f)) {
		if (buf[0] == '#' || buf[0] == '\n')
			continue;
		ls = realloc(ls, (nl + 1) * sizeof *ls);
		if (!parse(buf, &ls[nl])) {
			ok(0, "digest line parses: %s", buf);
			continue;
		}
		nl++;
	}
	fclose(f);
	const char *shared = tap_shared_dir();
	for (size_t i = 0; i < nl;) {
		const line *l = &ls[i];
		pj_dtype t;
		if (strcmp(l->model, "synthetic") == 0 || strcmp(l->model, "bytes") == 0) {
			if (pj_dtype_from_name(l->type, &t))
				(l->model[0] == 's' ? check_synthetic : check_bytes)(l, t);
			else
				ok(0, "known type %s", l->type);
			i++;
			continue;
		}
		size_t j = i;
		while (j < nl && strcmp(ls[j].model, l->model) == 0)
			j++;
		if (shared)
			check_model(shared, ls + i, j - i);
		else
			skip("model digests: ../shared absent (set PJ_SHARED)");
		i = j;
	}
	free(ls);
}

int main(void)
{
	test_table();
	test_round_trips();
	test_shapes();
	test_digests();
	return done_testing();
}
