/* imatrix.c - importance-matrix readers (GGUF form on top of the GGUF
 * reader; legacy .dat parsed here), coverage and HF name mapping. */
#include "config.h"
#include "imatrix.h"
#include "report/hf2gguf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "gguf.h"
#include "model/strbuf.h"
#include "quant/sha256.h"

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const pj_imatrix_entry *)a)->name, ((const pj_imatrix_entry *)b)->name);
}

static bool strip_suffix(const char *s, const char *suf, size_t *base_len)
{
	size_t n = strlen(s), m = strlen(suf);
	if (n <= m || strcmp(s + n - m, suf) != 0)
		return false;
	*base_len = n - m;
	return true;
}

void pj_imatrix_free(pj_imatrix *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->n; i++) {
		free(im->e[i].name);
		free(im->e[i].weights);
		free(im->e[i].counts);
	}
	free(im->e);
	for (size_t i = 0; i < im->n_datasets; i++)
		free(im->datasets[i]);
	free(im->datasets);
	free(im->path);
	memset(im, 0, sizeof *im);
}

static pj_status load_gguf(const char *path, pj_imatrix *im, pj_error *err)
{
	pj_catalog cat;
	pj_catalog_init(&cat);
	pj_gguf g;
	pj_status st = pj_gguf_open(path, &g, &cat, err);
	if (st != PJ_OK) {
		pj_catalog_free(&cat);
		return st;
	}
	im->path = pj_xstrdup(path);
	uint64_t u;
	if (pj_gguf_get_u64(&g, "imatrix.chunk_count", &u))
		im->chunk_count = (uint32_t)u;
	if (pj_gguf_get_u64(&g, "imatrix.chunk_size", &u))
		im->chunk_size = (uint32_t)u;
	const pj_gguf_kv *ds = pj_gguf_find(&g, "imatrix.datasets");
	if (ds && ds->type == PJ_GGUF_ARRAY && ds->arr_type == PJ_GGUF_STRING && ds->arr_str) {
		im->datasets = pj_xcalloc(ds->arr_n ? ds->arr_n : 1, sizeof(char *));
		for (uint64_t i = 0; i < ds->arr_n; i++)
			im->datasets[im->n_datasets++] = pj_xstrdup(ds->arr_str[i]);
	} else if (ds && ds->type == PJ_GGUF_STRING && ds->str) {
		im->datasets = pj_xcalloc(1, sizeof(char *));
		im->datasets[im->n_datasets++] = pj_xstrdup(ds->str);
	}

	im->e = pj_xcalloc(cat.n ? cat.n : 1, sizeof *im->e);
	for (size_t i = 0; i < cat.n && st == PJ_OK; i++) {
		const pj_tensor *ts = &cat.t[i];
		size_t bl;
		if (!strip_suffix(ts->name, ".in_sum2", &bl))
			continue;
		char *base = pj_xstrndup(ts->name, bl);
		char *cname = pj_xasprintf("%s.counts", base);
		const pj_tensor *tc = pj_catalog_find(&cat, cname);
		free(cname);
		if (!tc) {
			st = pj_fail(err, PJ_EFORMAT, "%s: '%s' has in_sum2 but no counts", path, base);
			free(base);
			break;
		}
		if (ts->dtype != PJ_DT_F32 || tc->dtype != PJ_DT_F32) {
			st = pj_fail(err, PJ_EFORMAT, "%s: sums and counts of '%s' must be F32", path, base);
			free(base);
			break;
		}
		const int64_t nsum = pj_tensor_nelem(ts), ncnt = pj_tensor_nelem(tc);
		if (ncnt < 1 || nsum < ncnt || nsum % ncnt) {
			st = pj_fail(err, PJ_EFORMAT, "%s: '%s' has %lld sums for %lld counts", path, base,
			             (long long)nsum, (long long)ncnt);
			free(base);
			break;
		}
		const float *sums = pj_catalog_data(&cat, ts, err);
		const float *cnts = sums ? pj_catalog_data(&cat, tc, err) : NULL;
		if (!sums || !cnts) {
			st = PJ_EIO;
			free(base);
			break;
		}
		pj_imatrix_entry *e = &im->e[im->n++];
		e->name = base;
		e->n_mats = ncnt;
		e->n_per_row = nsum / ncnt;
		e->weights = pj_xmalloc((size_t)nsum * sizeof(float));
		e->counts = pj_xmalloc((size_t)ncnt * sizeof(float));
		for (int64_t j = 0; j < ncnt; j++) {
			float c;
			memcpy(&c, &cnts[j], sizeof c);
			if (!isfinite(c) || c < 0) {
				st = pj_fail(err, PJ_EFORMAT, "%s: '%s' count %lld is %g", path, base, (long long)j, (double)c);
				break;
			}
			const float count = (float)lroundf(c);   /* llama.cpp stores counts as integers */
			e->counts[j] = count;
			float *w = e->weights + j * e->n_per_row;
			if (count > 0.0f) {
				for (int64_t k = 0; k < e->n_per_row; k++) {
					float s;
					memcpy(&s, &sums[j * e->n_per_row + k], sizeof s);
					w[k] = s / count;
				}
			} else {
				e->n_zero_counts++;
				for (int64_t k = 0; k < e->n_per_row; k++)
					w[k] = 1;
			}
		}
		for (int64_t k = 0; st == PJ_OK && k < nsum; k++)
			if (!isfinite(e->weights[k]))
				st = pj_fail(err, PJ_EFORMAT, "%s: '%s' holds a non-finite value", path, base);
	}
	pj_gguf_free(&g);
	pj_catalog_free(&cat);
	if (st == PJ_OK && im->n == 0)
		st = pj_fail(err, PJ_EFORMAT, "%s: no importance data (no '*.in_sum2' tensors)", path);
	if (st != PJ_OK) {
		pj_imatrix_free(im);
		return st;
	}
	qsort(im->e, im->n, sizeof *im->e, entry_cmp);
	return PJ_OK;
}

/* ---- legacy .dat ----------------------------------------------------------- */

typedef struct dat_rd {
	const char *path;
	const uint8_t *p;
	size_t len, pos;
	pj_error *err;
} dat_rd;

static bool dat_i32(dat_rd *r, int32_t *v)
{
	if (r->len - r->pos < 4)
		return false;
	uint32_t u = (uint32_t)r->p[r->pos] | (uint32_t)r->p[r->pos + 1] << 8 | (uint32_t)r->p[r->pos + 2] << 16 |
	             (uint32_t)r->p[r->pos + 3] << 24;
	memcpy(v, &u, sizeof *v);
	r->pos += 4;
	return true;
}

static pj_status dat_trunc(dat_rd *r, const char *what, int32_t i)
{
	return pj_fail(r->err, PJ_EFORMAT, "%s: truncated legacy imatrix: %s of entry %d missing at byte %zu",
	               r->path, what, (int)i, r->pos);
}

/* Reads the whole file: .dat files hold one float per column per tensor,
 * megabytes even for big models. */
static pj_status slurp_file(const char *path, uint8_t **out, size_t *len, pj_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return pj_fail(err, PJ_EIO, "%s: cannot open: %s", path, strerror(errno));
	sbuf b = { 0 };
	sb_read(&b, f, SIZE_MAX);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b.p);
		return pj_fail(err, PJ_EIO, "%s: read error", path);
	}
	*out = (uint8_t *)b.p;
	*len = b.n;
	return PJ_OK;
}

static pj_status load_dat(const char *path, const uint8_t *buf, size_t len, pj_imatrix *im, pj_error *err)
{
	dat_rd r = { .path = path, .p = buf, .len = len, .err = err };
	int32_t n;
	if (!dat_i32(&r, &n))
		return pj_fail(err, PJ_EFORMAT, "%s: not an imatrix (neither GGUF nor a legacy .dat: %zu bytes)", path, len);
	/* smallest entry: name_len + 1 name byte + ncall + nval + 1 value = 17 bytes */
	if (n < 1 || (size_t)n > (len - 4) / 17)
		return pj_fail(err, PJ_EFORMAT, "%s: not a legacy imatrix: %d entries cannot fit in %zu bytes", path, (int)n,
		               len);
	im->legacy = true;
	im->e = pj_xcalloc((size_t)n, sizeof *im->e);
	for (int32_t i = 0; i < n; i++) {
		int32_t nlen, ncall, nval;
		if (!dat_i32(&r, &nlen))
			return dat_trunc(&r, "name length", i);
		if (nlen < 1 || (size_t)nlen > r.len - r.pos || nlen > 4096)
			return pj_fail(err, PJ_EFORMAT, "%s: legacy imatrix entry %d: name length %d is impossible (%zu bytes left)",
			               path, (int)i, (int)nlen, r.len - r.pos);
		char *name = pj_xstrndup((const char *)r.p + r.pos, (size_t)nlen);
		r.pos += (size_t)nlen;
		pj_imatrix_entry *e = &im->e[im->n++];
		e->name = name;
		if (strlen(name) != (size_t)nlen)
			return pj_fail(err, PJ_EFORMAT, "%s: legacy imatrix entry %d: name holds a NUL byte", path, (int)i);
		if (!dat_i32(&r, &ncall))
			return dat_trunc(&r, "call count", i);
		if (!dat_i32(&r, &nval))
			return dat_trunc(&r, "value count", i);
		if (ncall < 0 || nval < 1 || (size_t)nval > (r.len - r.pos) / 4)
			return pj_fail(err, PJ_EFORMAT,
			               "%s: legacy imatrix entry %d ('%s'): absurd counts (ncall %d, %d values, %zu bytes left)",
			               path, (int)i, name, (int)ncall, (int)nval, r.len - r.pos);
		e->n_mats = 1;
		e->n_per_row = nval;
		e->weights = pj_xmalloc((size_t)nval * sizeof(float));
		e->counts = pj_xmalloc(sizeof(float));
		e->counts[0] = (float)ncall;
		for (int32_t k = 0; k < nval; k++) {
			int32_t bits = 0;
			dat_i32(&r, &bits);   /* cannot fail: nval * 4 bytes checked above */
			float v;
			memcpy(&v, &bits, sizeof v);
			if (!isfinite(v))
				return pj_fail(err, PJ_EFORMAT, "%s: legacy imatrix entry %d ('%s') holds a non-finite value", path,
				               (int)i, name);
			e->weights[k] = ncall > 0 ? v / (float)ncall : v;   /* llama-quantize's division */
		}
	}
	/* newer .dat files end with last_call and the dataset name */
	size_t left = r.len - r.pos;
	if (left) {
		int32_t last_call, dlen;
		if (left < 8 || !dat_i32(&r, &last_call) || !dat_i32(&r, &dlen) || last_call < 0 || dlen < 0 ||
		    (size_t)dlen != r.len - r.pos)
			return pj_fail(err, PJ_EFORMAT, "%s: legacy imatrix: %zu trailing bytes are not last_call + dataset name",
			               path, left);
		im->chunk_count = (uint32_t)last_call;
		if (dlen) {
			im->datasets = pj_xcalloc(1, sizeof(char *));
			im->datasets[im->n_datasets++] = pj_xstrndup((const char *)r.p + r.pos, (size_t)dlen);
		}
	}
	qsort(im->e, im->n, sizeof *im->e, entry_cmp);
	for (size_t i = 1; i < im->n; i++)
		if (strcmp(im->e[i - 1].name, im->e[i].name) == 0)
			return pj_fail(err, PJ_EFORMAT, "%s: legacy imatrix: '%s' appears twice", path, im->e[i].name);
	return PJ_OK;
}

pj_status pj_imatrix_load(const char *path, pj_imatrix *im, pj_error *err)
{
	memset(im, 0, sizeof *im);
	char magic[4] = { 0 };
	FILE *f = fopen(path, "rb");
	if (!f)
		return pj_fail(err, PJ_EIO, "%s: cannot open: %s", path, strerror(errno));
	const size_t nm = fread(magic, 1, sizeof magic, f);
	fclose(f);
	if (nm == 4 && memcmp(magic, "GGUF", 4) == 0)
		return load_gguf(path, im, err);
	uint8_t *buf = NULL;
	size_t len = 0;
	pj_status st = slurp_file(path, &buf, &len, err);
	if (st)
		return st;
	st = load_dat(path, buf, len, im, err);
	free(buf);
	if (st) {
		pj_imatrix_free(im);
		return st;
	}
	im->path = pj_xstrdup(path);
	return PJ_OK;
}

const pj_imatrix_entry *pj_imatrix_find(const pj_imatrix *im, const char *tensor)
{
	if (!im || !im->n)
		return NULL;
	pj_imatrix_entry key = { .name = (char *)tensor };
	return bsearch(&key, im->e, im->n, sizeof *im->e, entry_cmp);
}

void pj_imatrix_sha256_hex(const pj_imatrix *im, char hex[65])
{
	pj_sha256_ctx s;
	pj_sha256_init(&s);
	for (size_t i = 0; i < im->n; i++) {
		const pj_imatrix_entry *e = &im->e[i];
		const int64_t shape[2] = { e->n_per_row, e->n_mats };
		pj_sha256_update(&s, e->name, strlen(e->name) + 1);
		pj_sha256_update(&s, shape, sizeof shape);
		pj_sha256_update(&s, e->weights, (size_t)(e->n_per_row * e->n_mats) * sizeof(float));
	}
	uint8_t d[32];
	pj_sha256_final(&s, d);
	pj_sha256_to_hex(d, hex);
}

pj_status pj_imatrix_weights(const pj_imatrix *im, const char *name, int64_t ne0, int64_t ne2, int64_t i2,
                             const float **out, pj_error *err)
{
	*out = NULL;
	const pj_imatrix_entry *e = pj_imatrix_find(im, name);
	if (!e)
		return PJ_OK;
	if (e->n_per_row * e->n_mats != ne0 * ne2) {
		if (strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0)
			return PJ_OK;
		return pj_fail(err, PJ_EFORMAT, "imatrix size %lld is different from tensor size %lld for %s",
		               (long long)(e->n_per_row * e->n_mats), (long long)(ne0 * ne2), name);
	}
	if (i2 < 0 || i2 >= ne2)
		return pj_fail(err, PJ_EUSAGE, "%s: matrix %lld out of range", name, (long long)i2);
	*out = e->weights + i2 * ne0;
	return PJ_OK;
}

/* ---- coverage ---------------------------------------------------------------- */

static bool slice_all_ones(const float *w, int64_t n)
{
	for (int64_t k = 0; k < n; k++)
		if (w[k] != 1.0f)
			return false;
	return true;
}

void pj_imatrix_coverage_of(const pj_imatrix *im, const pj_imatrix_query *q, size_t n, pj_imatrix_coverage *out)
{
	memset(out, 0, sizeof *out);
	out->zero_inferred = im->legacy;
	bool *used = pj_xcalloc(im->n ? im->n : 1, sizeof *used);
	for (size_t i = 0; i < n; i++) {
		out->n_wanted++;
		const pj_imatrix_entry *e = pj_imatrix_find(im, q[i].name);
		if (!e) {
			out->missing = pj_xrealloc(out->missing, (out->n_missing + 1) * sizeof *out->missing);
			out->missing[out->n_missing++] = pj_xstrdup(q[i].name);
			continue;
		}
		out->n_found++;
		used[e - im->e] = true;
		if (q[i].ne2 <= 1 || e->n_per_row * e->n_mats != q[i].ne0 * q[i].ne2)
			continue;
		for (int64_t x = 0; x < q[i].ne2; x++) {
			/* GGUF form: the count says it; .dat: the writer stored 1.0 for every column */
			bool zero = im->legacy ? slice_all_ones(e->weights + x * q[i].ne0, q[i].ne0)
			                       : e->n_mats == q[i].ne2 && e->counts[x] == 0.0f;
			if (!zero)
				continue;
			out->zero = pj_xrealloc(out->zero, (out->n_zero + 1) * sizeof *out->zero);
			out->zero[out->n_zero].tensor = pj_xstrdup(q[i].name);
			out->zero[out->n_zero++].expert = x;
		}
	}
	for (size_t i = 0; i < im->n; i++) {
		if (used[i])
			continue;
		out->unused = pj_xrealloc(out->unused, (out->n_unused + 1) * sizeof *out->unused);
		out->unused[out->n_unused++] = pj_xstrdup(im->e[i].name);
	}
	free(used);
}

void pj_imatrix_coverage_free(pj_imatrix_coverage *c)
{
	for (size_t i = 0; i < c->n_missing; i++)
		free(c->missing[i]);
	for (size_t i = 0; i < c->n_zero; i++)
		free(c->zero[i].tensor);
	for (size_t i = 0; i < c->n_unused; i++)
		free(c->unused[i]);
	free(c->missing);
	free(c->zero);
	free(c->unused);
	memset(c, 0, sizeof *c);
}

/* ---- HF <-> GGUF names ---------------------------------------------------------- */

/* The HF -> GGUF name table is hf2gguf's (one table for export and
 * imatrix lookups).  An imatrix names tensors as the converter's file does:
 * DeepSeek's table is a superset of the Qwen MoE and dense names, llama's
 * adds Mixtral's block_sparse_moe experts.  Only matrix weights can have
 * entries, so norms and biases are not mapped here. */
bool pj_imatrix_hf_to_gguf(const char *hf, char *out, size_t outsz, int *expert)
{
	static const pj_hf_arch TRY[] = { PJ_HF_DEEPSEEK2, PJ_HF_LLAMA };
	int slot;
	for (size_t i = 0; i < sizeof TRY / sizeof TRY[0]; i++) {
		if (!pj_hf_tensor_name(TRY[i], hf, out, outsz, expert, &slot))
			continue;
		size_t n = strlen(out);
		if (strstr(out, "norm") || n < 7 || strcmp(out + n - 7, ".weight") != 0)
			break;
		return true;
	}
	*expert = -1;
	return false;
}

pj_status pj_imatrix_weights_any(const pj_imatrix *im, const char *name, int64_t ne0, int64_t n_experts,
                                 const float **out, pj_error *err)
{
	*out = NULL;
	if (pj_imatrix_find(im, name))
		return pj_imatrix_weights(im, name, ne0, 1, 0, out, err);
	char g[512];
	int expert;
	if (!pj_imatrix_hf_to_gguf(name, g, sizeof g, &expert))
		return PJ_OK;
	if (expert < 0)
		return pj_imatrix_weights(im, g, ne0, 1, 0, out, err);
	if (expert >= n_experts)
		return pj_fail(err, PJ_EUSAGE, "%s: expert %d of a stack of %lld", name, expert, (long long)n_experts);
	return pj_imatrix_weights(im, g, ne0, n_experts, expert, out, err);
}

pj_status pj_imatrix_weights_for(const pj_imatrix *im, const char *name, int64_t ne0, int64_t ne2, int64_t i2,
                                 const float **out, pj_error *err)
{
	*out = NULL;
	if (!im || pj_imatrix_find(im, name))
		return pj_imatrix_weights(im, name, ne0, ne2, i2, out, err);
	char g[512];
	int expert;
	if (!pj_imatrix_hf_to_gguf(name, g, sizeof g, &expert))
		return PJ_OK;
	const pj_imatrix_entry *e = pj_imatrix_find(im, g);
	const int64_t vals = e ? e->n_per_row * e->n_mats : 0;
	if (!e || ne0 <= 0 || vals % ne0)
		return PJ_OK;
	if (expert < 0)
		return vals == ne0 * ne2 ? pj_imatrix_weights(im, g, ne0, ne2, i2, out, err) : PJ_OK;
	if (ne2 != 1 || i2 != 0 || expert >= vals / ne0)
		return pj_fail(err, PJ_EUSAGE, "%s: expert %d of a stack of %lld in %s", name, expert,
		               (long long)(vals / ne0), g);
	return pj_imatrix_weights(im, g, ne0, vals / ne0, expert, out, err);
}
