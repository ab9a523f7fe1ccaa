/* test_imatrix.c - importance matrices: the legacy .dat reader (synthetic
 * round trip, malformed files), .dat vs GGUF on the shared models, coverage,
 * HF name mapping; and the source conversions the batch path adds (FP8 with
 * 128x128 block scales, dequantized quantized sources). */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "gguf.h"
#include "quant/convert.h"
#include "quant/imatrix.h"
#include "quant/qtypes.h"
#include "tap.h"

static char tmpdir[] = "/tmp/pj-imatrix-XXXXXX";

/* ---- a tiny .dat writer ------------------------------------------------------ */

typedef struct dbuf {
	uint8_t b[65536];
	size_t n;
} dbuf;

static void d_i32(dbuf *d, int32_t v)
{
	memcpy(d->b + d->n, &v, 4);
	d->n += 4;
}
static void d_f32(dbuf *d, float v)
{
	memcpy(d->b + d->n, &v, 4);
	d->n += 4;
}
static void d_str(dbuf *d, const char *s)
{
	memcpy(d->b + d->n, s, strlen(s));
	d->n += strlen(s);
}

static char *write_tmp(const char *name, const void *p, size_t n)
{
	char *path = pj_xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	fwrite(p, 1, n, f);
	fclose(f);
	return path;
}

/* Two entries (a 2-D one with ncall 4, a 2-expert one with ncall 3) and the
 * trailer. */
static void make_dat(dbuf *d, bool trailer)
{
	d->n = 0;
	d_i32(d, 2);
	d_i32(d, 19);
	d_str(d, "blk.0.attn_q.weight");
	d_i32(d, 4);
	d_i32(d, 4);
	for (int i = 0; i < 4; i++)
		d_f32(d, (float)(i + 1) * 4.0f);
	d_i32(d, 26);
	d_str(d, "blk.0.ffn_down_exps.weight");
	d_i32(d, 3);
	d_i32(d, 6);                  /* 2 experts x 3 columns */
	const float v[6] = { 3, 6, 9, 3, 3, 3 };   /* expert 1 never routed: stored 1.0 * ncall */
	for (int i = 0; i < 6; i++)
		d_f32(d, v[i]);
	if (trailer) {
		d_i32(d, 7);
		d_i32(d, 9);
		d_str(d, "calib.txt");
	}
}

static void test_dat_synthetic(void)
{
	dbuf d;
	make_dat(&d, true);
	char *path = write_tmp("ok.dat", d.b, d.n);
	pj_imatrix im;
	pj_error err = { 0 };
	if (!ok(pj_imatrix_load(path, &im, &err) == PJ_OK, "synthetic .dat loads")) {
		tap_diag("%s", err.msg);
		free(path);
		return;
	}
	ok(im.legacy && im.n == 2 && im.chunk_count == 7, "legacy flag, 2 entries, last_call 7 as chunk count");
	ok(im.n_datasets == 1 && strcmp(im.datasets[0], "calib.txt") == 0, "dataset name read from the trailer");
	const pj_imatrix_entry *e = pj_imatrix_find(&im, "blk.0.attn_q.weight");
	ok(e && e->n_per_row == 4 && e->weights[0] == 1.0f && e->weights[3] == 4.0f, "values divided by ncall");
	const float *w = NULL;
	ok(pj_imatrix_weights(&im, "blk.0.ffn_down_exps.weight", 3, 2, 1, &w, &err) == PJ_OK && w && w[0] == 1.0f &&
	   w[2] == 1.0f, "expert slice cut at use (no per-expert counts in .dat)");
	e = pj_imatrix_find(&im, "blk.0.ffn_down_exps.weight");
	ok(e && e->n_mats == 1 && e->n_zero_counts == 0 && e->counts[0] == 3.0f,
	   "documented: a .dat expert entry has one ncall, no per-expert counts");

	pj_imatrix_query q[] = {
		{ "blk.0.attn_q.weight", 4, 1 },
		{ "blk.0.ffn_down_exps.weight", 3, 2 },
		{ "blk.0.attn_k.weight", 4, 1 },
	};
	pj_imatrix_coverage c;
	pj_imatrix_coverage_of(&im, q, 3, &c);
	ok(c.n_wanted == 3 && c.n_found == 2 && c.n_missing == 1 && strcmp(c.missing[0], "blk.0.attn_k.weight") == 0,
	   "coverage lists the tensor without data");
	ok(c.n_zero == 1 && c.zero[0].expert == 1 && c.zero_inferred, "coverage infers the unrouted expert (all 1.0)");
	pj_imatrix_coverage_free(&c);
	pj_imatrix_free(&im);
	free(path);

	make_dat(&d, false);
	path = write_tmp("notrailer.dat", d.b, d.n);
	ok(pj_imatrix_load(path, &im, &err) == PJ_OK && im.chunk_count == 0 && im.n_datasets == 0,
	   "a .dat without the trailer (older llama-imatrix) loads");
	pj_imatrix_free(&im);
	free(path);
}

/* Malformed .dat: each is refused with a message naming the file. */
static void test_dat_malformed(void)
{
	dbuf good;
	make_dat(&good, true);
	static const struct {
		const char *what;
		size_t at;           /* byte offset to patch (or cut at, when cut) */
		int32_t value;
		bool cut;
		const char *needle;
	} BAD[] = {
		{ "name longer than the file", 51, 300, false, "name length 300" },
		{ "truncated in the values", 40, 0, true, "absurd" },
		{ "truncated in the trailer", 0, 0, false, "trailing" },    /* special: cut 3 bytes at end */
		{ "absurd entry count", 0, 1000000, false, "entries cannot fit" },
		{ "negative entry count", 0, -5, false, "entries cannot fit" },
		{ "negative name length", 4, -19, false, "name length -19" },
		{ "absurd value count", 31, 1 << 30, false, "absurd counts" },
		{ "negative ncall", 27, -1, false, "absurd counts" },
		{ "zero value count", 31, 0, false, "absurd counts" },
	};
	for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
		dbuf d = good;
		if (BAD[i].cut)
			d.n = BAD[i].at;
		else if (i == 2)
			d.n -= 3;
		else
			memcpy(d.b + BAD[i].at, &BAD[i].value, 4);
		char name[64];
		snprintf(name, sizeof name, "bad%zu.dat", i);
		char *path = write_tmp(name, d.b, d.n);
		pj_imatrix im;
		pj_error err = { 0 };
		pj_status st = pj_imatrix_load(path, &im, &err);
		ok(st == PJ_EFORMAT && strstr(err.msg, path) && strstr(err.msg, BAD[i].needle), "%s refused: %s",
		   BAD[i].what, err.msg);
		free(path);
	}
	/* a NaN value, and a duplicated name */
	dbuf d = good;
	float nan = NAN;
	memcpy(d.b + 35, &nan, 4);
	char *path = write_tmp("nan.dat", d.b, d.n);
	pj_imatrix im;
	pj_error err = { 0 };
	ok(pj_imatrix_load(path, &im, &err) == PJ_EFORMAT && strstr(err.msg, "non-finite"), "NaN value refused");
	free(path);
	path = write_tmp("empty.dat", "", 0);
	ok(pj_imatrix_load(path, &im, &err) == PJ_EFORMAT && strstr(err.msg, path), "empty file refused: %s", err.msg);
	free(path);
	path = pj_xasprintf("%s/missing.dat", tmpdir);
	ok(pj_imatrix_load(path, &im, &err) == PJ_EIO && strstr(err.msg, path), "missing file: message names it");
	free(path);
}

/* ---- the shared models ------------------------------------------------------------ */

static void compare_forms(const char *shared, const char *model)
{
	char *pg = pj_xasprintf("%s/golden/%s/imatrix.gguf", shared, model);
	char *pd = pj_xasprintf("%s/golden/%s/imatrix.dat", shared, model);
	pj_imatrix g, d;
	pj_error err = { 0 };
	bool okg = pj_imatrix_load(pg, &g, &err) == PJ_OK;
	if (!okg)
		tap_diag("%s", err.msg);
	bool okd = okg && pj_imatrix_load(pd, &d, &err) == PJ_OK;
	if (!ok(okg && okd, "%s: imatrix.gguf and imatrix.dat load", model)) {
		tap_diag("%s", err.msg);
		if (okg)
			pj_imatrix_free(&g);
		free(pg);
		free(pd);
		return;
	}
	ok(g.n == d.n, "%s: same entries (%zu GGUF, %zu .dat)", model, g.n, d.n);
	size_t same = 0, experts = 0, near = 0, n_zero_gguf = 0;
	double worst = 0;
	for (size_t i = 0; i < g.n; i++) {
		const pj_imatrix_entry *a = &g.e[i], *b = pj_imatrix_find(&d, a->name);
		const int64_t n = a->n_per_row * a->n_mats;
		if (!b || b->n_per_row * b->n_mats != n)
			continue;
		if (a->n_mats > 1) {
			/* per-expert counts are lost: values equal up to rounding of (s/c)*ncall/ncall */
			experts++;
			n_zero_gguf += (size_t)a->n_zero_counts;
			double rel = 0;
			for (int64_t k = 0; k < n; k++) {
				double den = fabs(a->weights[k]) > 1e-30 ? fabs(a->weights[k]) : 1e-30;
				double r = fabs((double)a->weights[k] - b->weights[k]) / den;
				rel = r > rel ? r : rel;
			}
			worst = rel > worst ? rel : worst;
			near += rel < 1e-6 && b->n_mats == 1 && b->n_zero_counts == 0;
		} else if (memcmp(a->weights, b->weights, (size_t)n * sizeof(float)) == 0) {
			same++;
		}
	}
	ok(same + experts == g.n, "%s: %zu dense entries bit-identical, %zu expert entries", model, same, experts);
	if (experts)
		ok(near == experts, "%s: expert entries agree to %.2g relative (documented: .dat has no per-expert counts)",
		   model, worst);
	else
		ok(1, "%s: no expert entries", model);
	/* the unrouted experts the GGUF counts show are found again in the .dat as all-1.0 slices */
	pj_imatrix_query *q = pj_xcalloc(g.n, sizeof *q);
	for (size_t i = 0; i < g.n; i++)
		q[i] = (pj_imatrix_query){ g.e[i].name, g.e[i].n_per_row, g.e[i].n_mats };
	pj_imatrix_coverage cg, cd;
	pj_imatrix_coverage_of(&g, q, g.n, &cg);
	pj_imatrix_coverage_of(&d, q, g.n, &cd);
	ok(cg.n_zero == n_zero_gguf && cd.n_zero == cg.n_zero && cg.n_missing == 0 && cd.n_missing == 0,
	   "%s: coverage lists %zu zero-count experts from the GGUF, %zu inferred from the .dat", model, cg.n_zero,
	   cd.n_zero);
	for (size_t i = 0; i < cg.n_zero && i < 3; i++)
		tap_diag("%s: %s expert %lld saw no input", model, cg.zero[i].tensor, (long long)cg.zero[i].expert);
	pj_imatrix_coverage_free(&cg);
	pj_imatrix_coverage_free(&cd);
	free(q);
	tap_diag("%s: GGUF %u chunks of %u; .dat last_call %u", model, g.chunk_count, g.chunk_size, d.chunk_count);
	pj_imatrix_free(&g);
	pj_imatrix_free(&d);
	free(pg);
	free(pd);
}

/* Coverage against a model's own tensors: output.weight is never an
 * imatrix input in these files (llama-imatrix skips it by default). */
static void coverage_model(const char *shared, const char *model)
{
	char *pm = pj_xasprintf("%s/models/%s/gguf/%s-BF16.gguf", shared, model, model);
	char *pg = pj_xasprintf("%s/golden/%s/imatrix.gguf", shared, model);
	pj_catalog cat;
	pj_catalog_init(&cat);
	pj_gguf gg;
	pj_imatrix im;
	pj_error err = { 0 };
	if (pj_gguf_open(pm, &gg, &cat, &err) != PJ_OK || pj_imatrix_load(pg, &im, &err) != PJ_OK) {
		ok(0, "%s: open model and imatrix: %s", model, err.msg);
		pj_catalog_free(&cat);
		free(pm);
		free(pg);
		return;
	}
	pj_imatrix_query *q = pj_xcalloc(cat.n, sizeof *q);
	size_t n = 0;
	for (size_t i = 0; i < cat.n; i++) {
		const pj_tensor *t = &cat.t[i];
		if (t->n_dims >= 2 && strcmp(t->name, "token_embd.weight") != 0 && !strstr(t->name, "ffn_gate_inp"))
			q[n++] = (pj_imatrix_query){ t->name, t->ne[0], t->ne[2] };
	}
	pj_imatrix_coverage c;
	pj_imatrix_coverage_of(&im, q, n, &c);
	bool listed = false, routers_only = true;
	for (size_t i = 0; i < c.n_missing; i++)
		listed |= strcmp(c.missing[i], "output.weight") == 0;
	for (size_t i = 0; i < c.n_unused; i++)   /* routers have data but are never quantized */
		routers_only &= strstr(c.unused[i], "ffn_gate_inp") != NULL;
	ok(c.n_found + c.n_missing == c.n_wanted && (listed || !pj_catalog_find(&cat, "output.weight")) &&
	   routers_only,
	   "%s: coverage %zu/%zu, missing listed (%s%s), %zu unused entries (routers)", model, c.n_found, c.n_wanted,
	   c.n_missing ? c.missing[0] : "none", c.n_missing > 1 ? ", ..." : "", c.n_unused);
	pj_imatrix_coverage_free(&c);
	free(q);
	pj_imatrix_free(&im);
	pj_gguf_free(&gg);
	pj_catalog_free(&cat);
	free(pm);
	free(pg);
}

/* ---- HF names ------------------------------------------------------------------------- */

static void test_hf_names(void)
{
	static const struct { const char *hf, *gguf; int expert; } MAP[] = {
		{ "model.layers.3.self_attn.q_proj.weight", "blk.3.attn_q.weight", -1 },
		{ "model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight", -1 },
		{ "model.layers.12.mlp.experts.5.down_proj.weight", "blk.12.ffn_down_exps.weight", 5 },
		{ "model.layers.1.block_sparse_moe.experts.7.w3.weight", "blk.1.ffn_up_exps.weight", 7 },
		{ "model.layers.2.mlp.shared_experts.up_proj.weight", "blk.2.ffn_up_shexp.weight", -1 },
		{ "model.layers.2.self_attn.kv_a_proj_with_mqa.weight", "blk.2.attn_kv_a_mqa.weight", -1 },
		{ "lm_head.weight", "output.weight", -1 },
	};
	for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++) {
		char out[256];
		int e = -2;
		bool m = pj_imatrix_hf_to_gguf(MAP[i].hf, out, sizeof out, &e);
		ok(m && strcmp(out, MAP[i].gguf) == 0 && e == MAP[i].expert, "HF %s -> %s", MAP[i].hf, MAP[i].gguf);
	}
	char out[64];
	int e;
	ok(!pj_imatrix_hf_to_gguf("model.layers.x.self_attn.q_proj.weight", out, sizeof out, &e) &&
	   !pj_imatrix_hf_to_gguf("model.norm.weight", out, sizeof out, &e), "unknown HF names are not mapped");

	/* weights through an HF expert name = that expert's slice of the GGUF entry */
	dbuf d;
	make_dat(&d, false);
	char *path = write_tmp("hf.dat", d.b, d.n);
	pj_imatrix im;
	pj_error err = { 0 };
	const float *w = NULL;
	ok(pj_imatrix_load(path, &im, &err) == PJ_OK &&
	   pj_imatrix_weights_any(&im, "model.layers.0.mlp.experts.0.down_proj.weight", 3, 2, &w, &err) == PJ_OK &&
	   w && w[1] == 2.0f, "HF expert name finds its slice of the stacked entry");
	ok(pj_imatrix_weights_any(&im, "model.layers.0.self_attn.q_proj.weight", 4, 1, &w, &err) == PJ_OK && w &&
	   w[0] == 1.0f, "HF dense name finds the GGUF entry");
	/* the measurement's lookup: stack size from the entry, GGUF names as they are */
	const float *w1 = NULL;
	ok(pj_imatrix_weights_for(&im, "model.layers.0.mlp.experts.1.down_proj.weight", 3, 1, 0, &w, &err) == PJ_OK &&
	   pj_imatrix_weights(&im, "blk.0.ffn_down_exps.weight", 3, 2, 1, &w1, &err) == PJ_OK && w && w == w1,
	   "weights_for: an HF expert gets its own slice (stack size from the entry)");
	ok(pj_imatrix_weights_for(&im, "blk.0.ffn_down_exps.weight", 3, 2, 1, &w, &err) == PJ_OK && w == w1,
	   "weights_for: a GGUF stacked tensor, matrix by matrix");
	ok(pj_imatrix_weights_for(&im, "model.layers.0.mlp.experts.2.down_proj.weight", 3, 1, 0, &w, &err) ==
	   PJ_EUSAGE && strstr(err.msg, "experts.2"), "weights_for: an expert past the stack is refused: %s", err.msg);
	ok(pj_imatrix_weights_for(&im, "model.layers.0.self_attn.q_proj.weight", 5, 1, 0, &w, &err) == PJ_OK && !w,
	   "weights_for: an HF tensor its mapped entry does not fit is unweighted");
	ok(pj_imatrix_weights_for(&im, "model.layers.9.self_attn.q_proj.weight", 4, 1, 0, &w, &err) == PJ_OK && !w &&
	   pj_imatrix_weights_for(&im, "model.norm.weight", 4, 1, 0, &w, &err) == PJ_OK && !w,
	   "weights_for: no entry, no weights");
	pj_imatrix_free(&im);
	free(path);
}

/* ---- conversions ------------------------------------------------------------------------- */

static uint8_t e4m3_of(float f)   /* nearest E4M3 by search: fine for a test */
{
	uint8_t best = 0;
	float bd = INFINITY;
	for (int v = 0; v < 256; v++) {
		float x = pj_fp8_e4m3_to_f32((uint8_t)v);
		if (isnan(x))
			continue;
		if (fabsf(x - f) < bd) {
			bd = fabsf(x - f);
			best = (uint8_t)v;
		}
	}
	return best;
}

static void test_fp8_block_scales(void)
{
	enum { R = 200, C = 300, B = 128, BR = 2, BC = 3 };
	static uint8_t w[R * C];
	static float out[R * C];
	float scale[BR * BC];
	for (int i = 0; i < BR * BC; i++)
		scale[i] = 0.5f + (float)i * 0.25f;
	for (int i = 0; i < R * C; i++)
		w[i] = e4m3_of((float)((i * 37) % 41 - 20) / 4.0f);
	pj_error err = { 0 };
	pj_status st = pj_convert_fp8_block_scaled(PJ_DT_F8_E4M3, w, PJ_DT_F32, scale, BR * BC, R, C, B, 0, R, out,
	                                           "w", &err);
	int bad = 0;
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++)
			bad += out[r * C + c] != pj_fp8_e4m3_to_f32(w[r * C + c]) * scale[(r / B) * BC + c / B];
	ok(st == PJ_OK && bad == 0, "FP8 E4M3 x 128x128 block scales (200x300, partial edge blocks): %d wrong", bad);
	/* a slice of rows (the streaming path) gives the same values */
	static float part[10 * C];
	st = pj_convert_fp8_block_scaled(PJ_DT_F8_E4M3, w, PJ_DT_F32, scale, BR * BC, R, C, B, 125, 10, part, "w", &err);
	ok(st == PJ_OK && memcmp(part, out + 125 * C, sizeof part) == 0, "rows 125..134 (crossing a block) match");
	st = pj_convert_fp8_block_scaled(PJ_DT_F8_E4M3, w, PJ_DT_F32, scale, 4, R, C, B, 0, R, out, "blk.0.w", &err);
	ok(st == PJ_EFORMAT && strstr(err.msg, "blk.0.w") && strstr(err.msg, "scale_inv"),
	   "wrong scale_inv shape refused: %s", err.msg);
	st = pj_convert_fp8_block_scaled(PJ_DT_BF16, w, PJ_DT_F32, scale, 6, R, C, B, 0, R, out, "w", &err);
	ok(st == PJ_EUSAGE, "block scales only for FP8 sources");
	ok(pj_convert_fp8_block_of(R, C, BR, BC) == 128 && pj_convert_fp8_block_of(4, 256, 1, 1) == 256 &&
	   pj_convert_fp8_block_of(64, 64, 2, 2) == 32 && pj_convert_fp8_block_of(R, C, 5, 1) == 0,
	   "block size read off the shapes: 128 first, else the smallest that fits");
}

static void test_requant_source(void)
{
	enum { R = 4, C = 256 };
	float x[R * C], y[R * C], z[R * C];
	uint8_t q[R * 300];
	for (int i = 0; i < R * C; i++)
		x[i] = sinf((float)i * 0.1f);
	pj_error err = { 0 };
	ok(pj_quantize_rows(PJ_DT_Q8_0, x, q, R, C, NULL, 1, "t", &err) == PJ_OK &&
	   pj_dequantize_rows(PJ_DT_Q8_0, q, y, R, C, &err) == PJ_OK &&
	   pj_convert_rows_f32(PJ_DT_Q8_0, q, z, R, C, "t", &err) == PJ_OK && memcmp(y, z, sizeof y) == 0,
	   "quantized source (Q8_0) converts through the kernel table's dequantizer");
	ok(pj_convert_is_requant(PJ_DT_Q4_K) && !pj_convert_is_requant(PJ_DT_BF16) &&
	   pj_convert_rows_supported(PJ_DT_Q6_K) && pj_convert_rows_supported(PJ_DT_BF16),
	   "requantization is recognised (callers warn)");
	ok(pj_convert_rows_f32(PJ_DT_Q4_K, q, z, 1, 100, "blk.1.x", &err) != PJ_OK && strstr(err.msg, "blk.1.x"),
	   "a row that is not whole blocks is refused, naming the tensor");
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_dat_synthetic();
	test_dat_malformed();
	test_hf_names();
	test_fp8_block_scales();
	test_requant_source();
	const char *shared = tap_shared_dir();
	if (!shared) {
		skip("imatrix.gguf vs imatrix.dat: ../shared (PJ_SHARED) is absent");
	} else {
		compare_forms(shared, "llama");
		compare_forms(shared, "qwen3moe");
		coverage_model(shared, "llama");
		coverage_model(shared, "qwen3moe");
	}
	char *cmd = pj_xasprintf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmpdir);
	free(cmd);
	return done_testing();
}
