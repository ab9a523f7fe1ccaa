/* imatrix.c - GGUF importance-matrix reader on top of the GGUF reader. */
#include "config.h"
#include "imatrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "gguf.h"

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

pj_status pj_imatrix_load(const char *path, pj_imatrix *im, pj_error *err)
{
	memset(im, 0, sizeof *im);
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

const pj_imatrix_entry *pj_imatrix_find(const pj_imatrix *im, const char *tensor)
{
	if (!im || !im->n)
		return NULL;
	pj_imatrix_entry key = { .name = (char *)tensor };
	return bsearch(&key, im->e, im->n, sizeof *im->e, entry_cmp);
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
