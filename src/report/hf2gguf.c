/* hf2gguf.c - what convert_hf_to_gguf.py writes for an HF folder, computed
 * here (see hf2gguf.h).  The converter's rules were read from llama.cpp's
 * conversion/{base,llama,qwen,gemma,deepseek}.py and gguf-py (facts only).
 *
 * Metadata follows the converter's dict semantics: setting a key that is
 * already there replaces its value in place (its position stays), which is
 * why e.g. deepseek2.attention.key_length sits where the generic head_dim
 * value was first written. */
#include "config.h"
#include "hf2gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model.h"
#include "model/strbuf.h"
#include "quant/convert.h"
#include "quant/fp16.h"

/* gguf-py TokenType */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef enum { R_COPY, R_STACK, R_KB, R_VB } recipe_kind;

typedef struct xtensor {
	recipe_kind kind;
	const pj_tensor *src;        /* R_COPY, R_KB, R_VB */
	const pj_tensor *scale;      /* FP8 block scales of src, or NULL */
	const pj_tensor **exp;       /* R_STACK: one source per expert */
	const pj_tensor **exp_scale;
	int n_exp;
	int permute_heads;           /* llama q/k rope permutation: head groups (0: none) */
	bool plus_one;               /* Gemma (1 + w) norm */
	int64_t keep_rows;           /* rows written (Gemma drops out-of-vocabulary rows) */
	int64_t nope, vdim;          /* R_KB/R_VB: per-head split of kv_b */
} xtensor;

struct pj_hf2gguf {
	pj_model *m;
	pj_hf_arch arch;
	const char *garch;
	pj_dtype outtype;
	unsigned ftype;
	const cJSON *root, *text;
	pj_gguf_wkv *kv;
	size_t n_kv, cap_kv;
	void **mem;                  /* everything the kv values point to */
	size_t n_mem, cap_mem;
	pj_catalog cat;
	xtensor *x;
	size_t cap_x;
	float *tmp;
	size_t tmp_cap;
	int64_t fp8_block;
};

/* ---- small helpers ------------------------------------------------------------ */

static void *keep(pj_hf2gguf *h, void *p)
{
	if (h->n_mem == h->cap_mem) {
		h->cap_mem = h->cap_mem ? 2 * h->cap_mem : 64;
		h->mem = pj_xrealloc(h->mem, h->cap_mem * sizeof *h->mem);
	}
	h->mem[h->n_mem++] = p;
	return p;
}

static char *kstr(pj_hf2gguf *h, const char *s) { return keep(h, pj_xstrdup(s)); }

static char *akey(pj_hf2gguf *h, const char *suffix)
{
	return keep(h, pj_xasprintf("%s.%s", h->garch, suffix));
}

/* The dict semantics of GGUFWriter.kv_data: replace in place, else append. */
static pj_gguf_wkv *kv_slot(pj_hf2gguf *h, const char *key)
{
	for (size_t i = 0; i < h->n_kv; i++)
		if (strcmp(h->kv[i].key, key) == 0) {
			const char *k = h->kv[i].key;
			memset(&h->kv[i], 0, sizeof h->kv[i]);
			h->kv[i].key = k;
			return &h->kv[i];
		}
	if (h->n_kv == h->cap_kv) {
		h->cap_kv = h->cap_kv ? 2 * h->cap_kv : 64;
		h->kv = pj_xrealloc(h->kv, h->cap_kv * sizeof *h->kv);
	}
	pj_gguf_wkv *kv = &h->kv[h->n_kv++];
	memset(kv, 0, sizeof *kv);
	kv->key = kstr(h, key);
	return kv;
}

static void kv_u32(pj_hf2gguf *h, const char *key, uint64_t v)
{
	pj_gguf_wkv *kv = kv_slot(h, key);
	kv->type = PJ_GGUF_UINT32;
	kv->u = v;
}

static void kv_f32(pj_hf2gguf *h, const char *key, double v)
{
	pj_gguf_wkv *kv = kv_slot(h, key);
	kv->type = PJ_GGUF_FLOAT32;
	kv->f = v;
}

static void kv_bool(pj_hf2gguf *h, const char *key, bool v)
{
	pj_gguf_wkv *kv = kv_slot(h, key);
	kv->type = PJ_GGUF_BOOL;
	kv->u = v;
}

static void kv_str(pj_hf2gguf *h, const char *key, const char *v)
{
	pj_gguf_wkv *kv = kv_slot(h, key);
	kv->type = PJ_GGUF_STRING;
	kv->s = kstr(h, v);
}

static void kv_arr(pj_hf2gguf *h, const char *key, pj_gguf_type t, uint64_t n, void *data)
{
	pj_gguf_wkv *kv = kv_slot(h, key);
	kv->type = PJ_GGUF_ARRAY;
	kv->arr_type = t;
	kv->arr_n = n;
	kv->arr = keep(h, data);
}

static void kv_arr_str(pj_hf2gguf *h, const char *key, uint64_t n, char **s, uint64_t *len)
{
	pj_gguf_wkv *kv = kv_slot(h, key);
	kv->type = PJ_GGUF_ARRAY;
	kv->arr_type = PJ_GGUF_STRING;
	kv->arr_n = n;
	for (uint64_t i = 0; i < n; i++)
		keep(h, s[i]);
	kv->arr_s = (const char *const *)keep(h, s);
	kv->arr_s_len = len ? keep(h, len) : NULL;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	sbuf b = { 0 };
	sb_read(&b, f, SIZE_MAX);
	fclose(f);
	if (len)
		*len = b.n;
	return b.p;
}

static cJSON *read_json(const char *dir, const char *name, bool *present, pj_error *err, pj_status *st)
{
	char *path = pj_xasprintf("%s/%s", dir, name);
	size_t n;
	char *buf = read_file(path, &n);
	cJSON *j = NULL;
	*present = buf != NULL;
	if (buf) {
		j = cJSON_ParseWithLength(buf, n);
		if (!j)
			*st = pj_fail(err, PJ_EFORMAT, "%s: not valid JSON", path);
	}
	free(buf);
	free(path);
	return j;
}

static const cJSON *obj_get(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

/* The converter's hparams: config.json with text_config merged over it. */
static const cJSON *hp(const pj_hf2gguf *h, const char *k)
{
	const cJSON *v = h->text != h->root ? obj_get(h->text, k) : NULL;
	return v ? v : obj_get(h->root, k);
}

/* find_hparam: the first alias present wins, even when its value is null. */
static const cJSON *find_hp(const pj_hf2gguf *h, const char *keys)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", keys);
	for (char *save = NULL, *k = strtok_r(buf, "|", &save); k; k = strtok_r(NULL, "|", &save)) {
		const cJSON *v = hp(h, k);
		if (v)
			return cJSON_IsNull(v) ? NULL : v;
	}
	return NULL;
}

static bool num_of(const cJSON *v, double *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return false;
	*out = v->valuedouble;
	return true;
}

static bool int_of(const cJSON *v, int64_t *out)
{
	double d;
	if (!num_of(v, &d) || d != floor(d) || d < -9e15 || d > 9e15)
		return false;
	*out = (int64_t)d;
	return true;
}

static bool hp_int(const pj_hf2gguf *h, const char *keys, int64_t *out) { return int_of(find_hp(h, keys), out); }

static pj_status need_int(const pj_hf2gguf *h, const char *keys, int64_t *out, pj_error *err)
{
	if (hp_int(h, keys, out))
		return PJ_OK;
	return pj_fail(err, PJ_EFORMAT, "%s/config.json: no integer %s (needed for %s)", h->m->path, keys, h->garch);
}

/* ---- tensors ------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && strcmp(s + n - k, suf) == 0;
}

/* The converter's output type: F32 for 1-D tensors, norms, routers and
 * anything not named *.weight; the outtype otherwise. */
static pj_dtype out_type(const pj_hf2gguf *h, const char *name, int n_dims)
{
	static const char *const F32_SUFFIX[] = { "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_inp_shexp.weight",
		                                      "position_embd.weight", "token_types.weight" };
	if (n_dims <= 1 || !ends_with(name, ".weight"))
		return PJ_DT_F32;
	for (size_t i = 0; i < sizeof F32_SUFFIX / sizeof F32_SUFFIX[0]; i++)
		if (ends_with(name, F32_SUFFIX[i]))
			return PJ_DT_F32;
	return h->outtype;
}

static pj_status add_out(pj_hf2gguf *h, const char *name, int n_dims, const int64_t *ne, const xtensor *x,
                         pj_error *err)
{
	pj_dtype t = out_type(h, name, n_dims);
	uint64_t n = 1, nb;
	for (int d = 0; d < n_dims; d++)
		n *= (uint64_t)ne[d];
	pj_dtype_bytes(t, n, &nb);
	pj_status st = pj_catalog_add(&h->cat, h->m->path, name, strlen(name), t, n_dims, ne, 0, 0, nb, err);
	if (st)
		return st;
	if (h->cat.n > h->cap_x) {
		h->cap_x = h->cap_x ? 2 * h->cap_x : 256;
		h->x = pj_xrealloc(h->x, h->cap_x * sizeof *h->x);
	}
	h->x[h->cat.n - 1] = *x;
	return PJ_OK;
}

/* Tensors the converter never writes. */
static bool skipped(const pj_hf2gguf *h, const char *name)
{
	static const char *const DROP_SUFFIX[] = { ".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq",
		                                       ".activation_scale", "_activation_scale" };
	static const char *const MM[] = { "visual.", "vision.", "audio.", "vision_", "audio_", "projector.",
		                              "patch_embed", "multi_modal_projector", "vision_tower" };
	for (size_t i = 0; i < sizeof DROP_SUFFIX / sizeof DROP_SUFFIX[0]; i++)
		if (ends_with(name, DROP_SUFFIX[i]))
			return true;
	for (size_t i = 0; i < sizeof MM / sizeof MM[0]; i++)
		if (strstr(name, MM[i]))
			return true;
	if (h->arch == PJ_HF_DEEPSEEK2) {
		int64_t nl;
		int l;
		/* multi-token-prediction layers follow the decoder and are not exported */
		if (hp_int(h, "num_hidden_layers", &nl) && sscanf(name, "model.layers.%d.", &l) == 1 && l >= nl)
			return true;
		cJSON *tie = (cJSON *)hp(h, "tie_word_embeddings");
		if (cJSON_IsTrue(tie) && strcmp(name, "lm_head.weight") == 0)
			return true;
	}
	return false;
}

/* Index of source tensors in the converter's order: shards by file name,
 * then each shard's header order (our catalog's order within a file). */
static int src_cmp(const void *a, const void *b, void *ctx)
{
	const pj_catalog *c = ctx;
	const pj_tensor *x = *(const pj_tensor *const *)a, *y = *(const pj_tensor *const *)b;
	int r = strcmp(c->files[x->file].path, c->files[y->file].path);
	if (r)
		return r;
	return x < y ? -1 : x > y;
}

static const pj_catalog *sort_ctx;
static int src_cmp_q(const void *a, const void *b) { return src_cmp(a, b, (void *)sort_ctx); }

typedef struct layer_exp {
	const pj_tensor **t;        /* [3][n_exp] */
	int seen;
} layer_exp;

static pj_status build_tensors(pj_hf2gguf *h, pj_error *err)
{
	pj_catalog *src = &h->m->cat;
	const pj_tensor **order = pj_xcalloc(src->n ? src->n : 1, sizeof *order);
	for (size_t i = 0; i < src->n; i++)
		order[i] = &src->t[i];
	sort_ctx = src;
	qsort(order, src->n, sizeof *order, src_cmp_q);

	int64_t n_layers = 0, n_head = 0, n_head_kv = 0, n_exp = 0;
	pj_status st = need_int(h, "n_layers|num_hidden_layers|n_layer|num_layers", &n_layers, err);
	if (!st && !hp_int(h, "n_heads|num_attention_heads", &n_head))
		n_head = 0;
	if (!st && !hp_int(h, "n_kv_heads|num_key_value_heads", &n_head_kv))
		n_head_kv = n_head;
	if (!st)
		hp_int(h, h->arch == PJ_HF_DEEPSEEK2 ? "n_routed_experts" : "num_local_experts|num_experts", &n_exp);
	/* FP8 block scales (quantization_config.quant_method == "fp8") */
	const cJSON *qc = hp(h, "quantization_config");
	const cJSON *qm = obj_get(qc, "quant_method");
	bool fp8 = cJSON_IsString(qm) && strcmp(qm->valuestring, "fp8") == 0;
	if (fp8) {
		const cJSON *bs = obj_get(qc, "weight_block_size");
		int64_t b0 = 0, b1 = 0;
		if (cJSON_GetArraySize(bs) != 2 || !int_of(cJSON_GetArrayItem(bs, 0), &b0) ||
		    !int_of(cJSON_GetArrayItem(bs, 1), &b1) || b0 != b1 || b0 < 1)
			st = pj_fail(err, PJ_EUNSUPPORTED, "%s: fp8 quantization_config without a square weight_block_size",
			             h->m->path);
		h->fp8_block = b0;
	}
	layer_exp *le = pj_xcalloc((size_t)(n_layers > 0 ? n_layers : 1), sizeof *le);
	char g[512];
	for (size_t i = 0; i < src->n && !st; i++) {
		const pj_tensor *t = order[i];
		const char *name = t->name;
		if (skipped(h, name))
			continue;
		if (fp8 && ends_with(name, "_scale_inv"))
			continue;    /* consumed with its weight */
		const pj_tensor *scale = NULL;
		if (fp8 && (t->dtype == PJ_DT_F8_E4M3 || t->dtype == PJ_DT_F8_E5M2)) {
			char *sn = pj_xasprintf("%s_scale_inv", name);
			scale = pj_catalog_find(src, sn);
			free(sn);
			if (!scale) {
				st = pj_fail(err, PJ_EFORMAT, "%s: FP8 tensor %s has no _scale_inv", h->m->path, name);
				break;
			}
		}
		int expert, slot;
		if (!pj_hf_tensor_name(h->arch, name, g, sizeof g, &expert, &slot)) {
			st = pj_fail(err, PJ_EUNSUPPORTED, "%s: cannot map tensor %s to a %s GGUF name", h->m->path, name,
			             h->garch);
			break;
		}
		int layer = -1;
		sscanf(name, "model.layers.%d.", &layer);
		xtensor x = { .kind = R_COPY, .src = t, .scale = scale };
		int n_dims = t->n_dims;
		int64_t ne[4] = { t->ne[0], t->ne[1], t->ne[2], t->ne[3] };
		if (expert >= 0) {
			if (layer < 0 || layer >= n_layers || n_exp < 1 || expert >= n_exp || n_dims != 2) {
				st = pj_fail(err, PJ_EFORMAT, "%s: expert tensor %s does not fit %lld layers x %lld experts",
				             h->m->path, name, (long long)n_layers, (long long)n_exp);
				break;
			}
			layer_exp *L = &le[layer];
			if (!L->t)
				L->t = pj_xcalloc((size_t)(3 * 2 * n_exp), sizeof *L->t);
			if (L->t[slot * n_exp + expert]) {
				st = pj_fail(err, PJ_EFORMAT, "%s: %s appears twice", h->m->path, name);
				break;
			}
			L->t[slot * n_exp + expert] = t;
			L->t[(3 + slot) * n_exp + expert] = scale;
			/* the converter stacks a layer's experts once all of them arrived */
			if (++L->seen < 3 * n_exp)
				continue;
			for (int s = 0; s < 3 && !st; s++) {
				char en[512];
				const pj_tensor *e0 = L->t[s * n_exp];
				for (int e = 0; e < n_exp; e++) {
					const pj_tensor *te = L->t[s * n_exp + e];
					if (!te || te->ne[0] != e0->ne[0] || te->ne[1] != e0->ne[1])
						st = pj_fail(err, PJ_EFORMAT, "%s: layer %d: experts of unequal shapes", h->m->path, layer);
				}
				if (st)
					break;
				/* the stack's GGUF name, from expert 0's own name */
				int e_, s_;
				pj_hf_tensor_name(h->arch, e0->name, en, sizeof en, &e_, &s_);
				xtensor xs = { .kind = R_STACK, .n_exp = (int)n_exp };
				xs.exp = pj_xcalloc((size_t)n_exp, sizeof *xs.exp);
				xs.exp_scale = pj_xcalloc((size_t)n_exp, sizeof *xs.exp_scale);
				for (int e = 0; e < n_exp; e++) {
					xs.exp[e] = L->t[s * n_exp + e];
					xs.exp_scale[e] = L->t[(3 + s) * n_exp + e];
				}
				int64_t sne[4] = { e0->ne[0], e0->ne[1], n_exp, 1 };
				st = add_out(h, en, 3, sne, &xs, err);
				if (st) {
					free(xs.exp);
					free(xs.exp_scale);
				}
			}
			free(L->t);
			L->t = NULL;
			L->seen = 0;
			continue;
		}
		if (h->arch == PJ_HF_DEEPSEEK2 && ends_with(name, "kv_b_proj.weight")) {
			int64_t nope, vd, kvh = n_head_kv;
			if ((st = need_int(h, "qk_nope_head_dim", &nope, err)) || (st = need_int(h, "v_head_dim", &vd, err)))
				break;
			if (n_dims != 2 || kvh < 1 || t->ne[1] != kvh * (nope + vd)) {
				st = pj_fail(err, PJ_EFORMAT, "%s: %s is not %lld heads x (%lld + %lld) rows", h->m->path, name,
				             (long long)kvh, (long long)nope, (long long)vd);
				break;
			}
			const int64_t L = t->ne[0];
			char kb[512], vb[512];
			snprintf(kb, sizeof kb, "blk.%d.attn_k_b.weight", layer);
			snprintf(vb, sizeof vb, "blk.%d.attn_v_b.weight", layer);
			xtensor xk = { .kind = R_KB, .src = t, .scale = scale, .nope = nope, .vdim = vd, .n_exp = (int)kvh };
			xtensor xv = xk;
			xv.kind = R_VB;
			int64_t kne[4] = { nope, L, kvh, 1 }, vne[4] = { L, vd, kvh, 1 };
			if (!(st = add_out(h, kb, 3, kne, &xk, err)))
				st = add_out(h, vb, 3, vne, &xv, err);
			continue;
		}
		if (h->arch == PJ_HF_LLAMA && n_head > 0) {
			if (ends_with(name, "q_proj.weight") || ends_with(name, "q_proj.bias"))
				x.permute_heads = (int)n_head;
			else if (ends_with(name, "k_proj.weight") || ends_with(name, "k_proj.bias"))
				x.permute_heads = (int)n_head_kv;
			int64_t rows = n_dims == 1 ? ne[0] : ne[1];
			if (x.permute_heads && rows % (2 * x.permute_heads)) {
				st = pj_fail(err, PJ_EFORMAT, "%s: %s: %lld rows do not split into %d rope heads", h->m->path,
				             name, (long long)rows, x.permute_heads);
				break;
			}
		}
		if (h->arch == PJ_HF_GEMMA3)
			x.plus_one = ends_with(name, "norm.weight");
		if (h->arch == PJ_HF_GEMMA3 && strstr(name, "embed_tokens.weight") && n_dims == 2) {
			/* the converter keeps as many rows as the tokenizer has tokens */
			int64_t nv = -1;
			bool pres;
			pj_status js = PJ_OK;
			cJSON *tj = read_json(h->m->path, "tokenizer.json", &pres, err, &js);
			if (js) {
				st = js;
				break;
			}
			if (tj)
				nv = cJSON_GetArraySize(obj_get(obj_get(tj, "model"), "vocab")) +
				     cJSON_GetArraySize(obj_get(tj, "added_tokens"));
			cJSON_Delete(tj);
			if (nv > 0 && nv < ne[1])
				ne[1] = x.keep_rows = nv;
		}
		st = add_out(h, g, n_dims, ne, &x, err);
	}
	for (int64_t l = 0; l < n_layers; l++) {
		if (le[l].t && !st)
			st = pj_fail(err, PJ_EFORMAT, "%s: layer %lld: %d of %lld expert tensors present", h->m->path,
			             (long long)l, le[l].seen, (long long)(3 * n_exp));
		free(le[l].t);
	}
	free(le);
	free(order);
	return st;
}

/* ---- reading data ------------------------------------------------------------------- */

static float *scratch(pj_hf2gguf *h, size_t n)
{
	if (h->tmp_cap < n) {
		free(h->tmp);
		h->tmp = pj_xmalloc(n * sizeof(float));
		h->tmp_cap = n;
	}
	return h->tmp;
}

/* Rows row0..row0+nrows-1 of a source tensor (2-D view; 1-D is one row). */
static pj_status src_rows(pj_hf2gguf *h, const pj_tensor *t, const pj_tensor *scale, int64_t row0, int64_t nrows,
                          float *dst, pj_error *err)
{
	pj_catalog *c = &h->m->cat;
	const uint8_t *d = pj_catalog_data(c, t, err);
	if (!d)
		return err->code ? err->code : PJ_EIO;
	const int64_t cols = t->ne[0], rows = pj_tensor_nrows(t);
	if (scale) {
		const uint8_t *s = pj_catalog_data(c, scale, err);
		if (!s)
			return err->code ? err->code : PJ_EIO;
		return pj_convert_fp8_block_scaled(t->dtype, d, scale->dtype, s, (uint64_t)pj_tensor_nelem(scale), rows,
		                                   cols, h->fp8_block, row0, nrows, dst, t->name, err);
	}
	const size_t rb = (size_t)(t->nbytes / (uint64_t)(rows ? rows : 1));
	return pj_convert_rows_f32(t->dtype, d + (size_t)row0 * rb, dst, nrows, cols, t->name, err);
}

int64_t pj_hf2gguf_n_mats(const pj_hf2gguf *h, size_t i)
{
	const pj_tensor *t = &h->cat.t[i];
	return t->ne[2] * t->ne[3];
}

pj_status pj_hf2gguf_read_mat(pj_hf2gguf *h, size_t i, int64_t mat, float *dst, pj_error *err)
{
	if (i >= h->cat.n || mat < 0 || mat >= pj_hf2gguf_n_mats(h, i))
		return pj_fail(err, PJ_EUSAGE, "hf2gguf: no matrix %lld of tensor %zu", (long long)mat, i);
	const pj_tensor *o = &h->cat.t[i];
	const xtensor *x = &h->x[i];
	const int64_t n = o->ne[0] * o->ne[1];
	pj_status st = PJ_OK;
	switch (x->kind) {
	case R_COPY: {
		const pj_tensor *t = x->src;
		const int64_t cols = t->n_dims == 1 ? 1 : t->ne[0];
		const int64_t rows = x->keep_rows ? x->keep_rows : (t->n_dims == 1 ? t->ne[0] : pj_tensor_nrows(t));
		if (!x->permute_heads) {
			st = t->n_dims == 1 ? src_rows(h, t, x->scale, 0, 1, dst, err)
			                    : src_rows(h, t, x->scale, 0, rows, dst, err);
			break;
		}
		float *tmp = scratch(h, (size_t)n);
		if ((st = t->n_dims == 1 ? src_rows(h, t, x->scale, 0, 1, tmp, err)
		                         : src_rows(h, t, x->scale, 0, rows, tmp, err)))
			break;
		/* reshape(heads, 2, rows/heads/2, cols).swapaxes(1, 2): the two rope
		 * halves of each head become interleaved pairs */
		const int64_t hd = rows / x->permute_heads, half = hd / 2;
		for (int64_t hh = 0; hh < x->permute_heads; hh++)
			for (int64_t r = 0; r < half; r++)
				for (int j = 0; j < 2; j++)
					memcpy(dst + (hh * hd + 2 * r + j) * cols, tmp + (hh * hd + j * half + r) * cols,
					       (size_t)cols * sizeof(float));
		break;
	}
	case R_STACK:
		st = src_rows(h, x->exp[mat], x->exp_scale[mat], 0, pj_tensor_nrows(x->exp[mat]), dst, err);
		break;
	case R_KB: {
		/* head `mat`: its first nope rows of kv_b, transposed */
		const int64_t L = x->src->ne[0];
		float *tmp = scratch(h, (size_t)(x->nope * L));
		if ((st = src_rows(h, x->src, x->scale, mat * (x->nope + x->vdim), x->nope, tmp, err)))
			break;
		for (int64_t r = 0; r < L; r++)
			for (int64_t c = 0; c < x->nope; c++)
				dst[r * x->nope + c] = tmp[c * L + r];
		break;
	}
	case R_VB:
		st = src_rows(h, x->src, x->scale, mat * (x->nope + x->vdim) + x->nope, x->vdim, dst, err);
		break;
	}
	if (st)
		return st;
	const pj_dtype sdt = x->kind == R_STACK ? x->exp[mat]->dtype : x->src->dtype;
	for (int64_t k = 0; x->plus_one && k < n; k++) {
		dst[k] += 1.0f;
		/* the converter computes in f16 when the source is f16 (it widens
		 * only other types to f32 before its transformations) */
		if (sdt == PJ_DT_F16)
			dst[k] = pj_fp16_to_fp32(pj_fp32_to_fp16(dst[k]));
	}
	/* the values the converter's file holds */
	if (o->dtype == PJ_DT_BF16)
		for (int64_t k = 0; k < n; k++)
			dst[k] = pj_bf16_to_fp32(pj_fp32_to_bf16(dst[k]));
	else if (o->dtype == PJ_DT_F16)
		for (int64_t k = 0; k < n; k++)
			dst[k] = pj_fp16_to_fp32(pj_fp32_to_fp16(dst[k]));
	return PJ_OK;
}

/* ---- general.* ------------------------------------------------------------------------ */

static bool is_lower_word(const char *w)
{
	bool cased = false;
	for (const char *p = w; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			return false;
		if (*p >= 'a' && *p <= 'z')
			cased = true;
	}
	return cased;
}

/* ^(v\d+(\.\d+)*|\d.*)$ */
static bool is_version_word(const char *w)
{
	if (*w >= '0' && *w <= '9')
		return true;
	if (*w != 'v' || !(w[1] >= '0' && w[1] <= '9'))
		return false;
	const char *p = w + 1;
	for (;;) {
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
		if (!*p)
			return true;
		if (*p++ != '.')
			return false;
	}
}

/* gguf-py Metadata.id_to_title: '-' -> ' ', lower-case words title-cased
 * (str.title: a letter after a non-letter goes upper, others lower) unless
 * they look like versions or numbers. */
static char *id_to_title(const char *s)
{
	char *buf = pj_xstrdup(s);
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = ' ';
	char *out = pj_xcalloc(strlen(buf) + 1, 1);
	size_t n = 0;
	for (char *save = NULL, *w = strtok_r(buf, " \t\n\r\f\v", &save); w; w = strtok_r(NULL, " \t\n\r\f\v", &save)) {
		if (n)
			out[n++] = ' ';
		bool title = is_lower_word(w) && !is_version_word(w);
		bool prev_letter = false;
		for (char *p = w; *p; p++) {
			char c = *p;
			bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
			if (title && letter)
				c = prev_letter ? (char)(c | 0x20) : (char)(c & ~0x20);
			prev_letter = letter;
			out[n++] = c;
		}
	}
	free(buf);
	return out;
}

/* gguf-py model_weight_count_rounded_notation / size_label */
static void rounded_notation(uint64_t n, char *out, size_t outsz)
{
	double v;
	const char *suf;
	if (n > 1000000000000ull) {
		v = (double)n * 1e-12;
		suf = "T";
	} else if (n > 1000000000ull) {
		v = (double)n * 1e-9;
		suf = "B";
	} else if (n > 1000000ull) {
		v = (double)n * 1e-6;
		suf = "M";
	} else {
		v = (double)n * 1e-3;
		suf = "K";
	}
	char r[64];
	snprintf(r, sizeof r, "%.0f", nearbyint(v));
	const char *digits = r;
	while (*digits == '0')
		digits++;
	int fix = 2 - (int)strlen(digits);
	snprintf(out, outsz, "%.*f%s", fix > 0 ? fix : 0, v, suf);
}

static void size_label(const pj_hf2gguf *h, char *out, size_t outsz)
{
	uint64_t total = 0, shared = 0, expert = 0, e_sum = 0, n_e = 0;
	for (size_t i = 0; i < h->cat.n; i++) {
		const pj_tensor *t = &h->cat.t[i];
		uint64_t size = (uint64_t)pj_tensor_nelem(t);
		if (strstr(t->name, "_exps.")) {
			/* torch shape[-3] (shape[-2] for biases): the expert count */
			int64_t ec = strstr(t->name, ".bias") ? t->ne[1] : t->ne[2];
			expert += size / (uint64_t)(ec > 0 ? ec : 1);
			e_sum += (uint64_t)ec;
			n_e++;
		} else {
			shared += size;
		}
		total += size;
	}
	if (n_e) {
		char p[32];
		rounded_notation(shared + expert, p, sizeof p);
		snprintf(out, outsz, "%llux%s", (unsigned long long)(e_sum / n_e), p);
	} else {
		rounded_notation(total, out, outsz);
	}
}

static void meta_general(pj_hf2gguf *h)
{
	kv_str(h, "general.architecture", h->garch);
	kv_str(h, "general.type", "model");
	/* Name: config's _name_or_path when it is a hub id, else the folder
	 * name (gguf-py's Metadata heuristics).  Model cards (README.md front
	 * matter) and the finer name parsing (basename, finetune, version,
	 * size from the name) are not reproduced. */
	char *name = NULL, *org = NULL;
	const cJSON *np = obj_get(h->root, "_name_or_path");
	if (cJSON_IsString(np)) {
		const char *s = np->valuestring, *slash = strchr(s, '/');
		if (!slash || !strchr(slash + 1, '/')) {
			name = id_to_title(slash ? slash + 1 : s);
			if (slash && slash > s && s[0] != '.') {
				char *o = pj_xstrndup(s, (size_t)(slash - s));
				org = id_to_title(o);
				free(o);
			}
		}
	}
	if (!name) {
		const char *base = strrchr(h->m->path, '/');
		base = base && base[1] ? base + 1 : h->m->path;
		name = id_to_title(base);
	}
	kv_str(h, "general.name", name);
	if (org)
		kv_str(h, "general.organization", org);
	free(name);
	free(org);
	char sl[64];
	size_label(h, sl, sizeof sl);
	kv_str(h, "general.size_label", sl);
}

/* ---- <arch>.* ------------------------------------------------------------------------------ */

static void put_int(pj_hf2gguf *h, const char *suffix, const char *keys)
{
	int64_t v;
	if (hp_int(h, keys, &v))
		kv_u32(h, akey(h, suffix), (uint64_t)v);
}

static void put_num(pj_hf2gguf *h, const char *suffix, const char *keys)
{
	double v;
	if (num_of(find_hp(h, keys), &v))
		kv_f32(h, akey(h, suffix), v);
}

/* TextModel: rope_parameters (or rope_scaling), with top-level rope_theta
 * mirrored in when it has no full/sliding split. */
typedef struct rope_info {
	const cJSON *params;         /* the full-attention parameters */
	double theta, swa_theta;
	bool has_theta, has_swa;
} rope_info;

static void rope_of(const pj_hf2gguf *h, rope_info *r)
{
	memset(r, 0, sizeof *r);
	const cJSON *rp = hp(h, "rope_parameters");
	if (!rp)
		rp = hp(h, "rope_scaling");
	if (!cJSON_IsObject(rp))
		rp = NULL;
	const cJSON *full = obj_get(rp, "full_attention"), *sliding = obj_get(rp, "sliding_attention");
	r->params = full ? full : rp;
	if (!full && !sliding) {
		r->has_swa = num_of(find_hp(h, "local_rope_theta|rope_local_theta|rope_theta_local|swa_rope_theta|"
		                               "rope_local_base_freq"), &r->swa_theta);
		r->has_theta = num_of(obj_get(rp, "rope_theta"), &r->theta);
		if (!obj_get(rp, "rope_theta"))
			r->has_theta = num_of(find_hp(h, "global_rope_theta|rope_global_theta|rope_theta_global|rope_theta|"
			                                 "rotary_emb_base"), &r->theta);
	} else {
		r->has_theta = num_of(obj_get(r->params, "rope_theta"), &r->theta);
		r->has_swa = num_of(obj_get(sliding, "rope_theta"), &r->swa_theta);
	}
}

static pj_status params_base(pj_hf2gguf *h, pj_error *err)
{
	int64_t v;
	pj_status st = need_int(h, "n_layers|num_hidden_layers|n_layer|num_layers", &v, err);
	if (st)
		return st;
	kv_u32(h, akey(h, "block_count"), (uint64_t)v);
	put_int(h, "context_length", "max_position_embeddings|n_ctx|n_positions|max_length|max_sequence_length|model_max_length");
	put_int(h, "embedding_length", "hidden_size|n_embd|dim");
	put_int(h, "feed_forward_length", "intermediate_size|n_inner|hidden_dim");
	put_int(h, "attention.head_count", "num_attention_heads|n_head|n_heads");
	if (h->arch == PJ_HF_DEEPSEEK2)
		kv_u32(h, akey(h, "attention.head_count_kv"), 1);   /* MLA is exported as MQA */
	else
		put_int(h, "attention.head_count_kv", "num_key_value_heads|n_kv_heads");
	if (cJSON_IsFalse(hp(h, "is_causal")))
		kv_bool(h, akey(h, "attention.causal"), false);

	rope_info r;
	rope_of(h, &r);
	const cJSON *rt = obj_get(r.params, "rope_type");
	if (cJSON_IsString(rt)) {
		double factor;
		bool has_factor = num_of(obj_get(r.params, "factor"), &factor);
		const char *t = rt->valuestring;
		if (strcmp(t, "linear") == 0 && has_factor) {
			kv_str(h, akey(h, "rope.scaling.type"), "linear");
			kv_f32(h, akey(h, "rope.scaling.factor"), factor);
		} else if (strcmp(t, "yarn") == 0 && has_factor) {
			int64_t oc;
			double d;
			kv_str(h, akey(h, "rope.scaling.type"), "yarn");
			kv_f32(h, akey(h, "rope.scaling.factor"), factor);
			if (!int_of(obj_get(r.params, "original_max_position_embeddings"), &oc))
				return pj_fail(err, PJ_EFORMAT, "%s: yarn rope without original_max_position_embeddings", h->m->path);
			kv_u32(h, akey(h, "rope.scaling.original_context_length"), (uint64_t)oc);
			if (num_of(obj_get(r.params, "extrapolation_factor"), &d))
				kv_f32(h, akey(h, "rope.scaling.yarn_ext_factor"), d);
			const cJSON *af = obj_get(r.params, "attention_factor");
			if (num_of(af ? af : obj_get(r.params, "attn_factor"), &d))
				kv_f32(h, akey(h, "rope.scaling.yarn_attn_factor"), d);
			if (num_of(obj_get(r.params, "beta_fast"), &d))
				kv_f32(h, akey(h, "rope.scaling.yarn_beta_fast"), d);
			if (num_of(obj_get(r.params, "beta_slow"), &d))
				kv_f32(h, akey(h, "rope.scaling.yarn_beta_slow"), d);
		} else if (strcmp(t, "su") == 0 || strcmp(t, "longrope") == 0) {
			kv_str(h, akey(h, "rope.scaling.type"), "longrope");
		} else if (strcasecmp(t, "llama3") == 0) {
			return pj_fail(err, PJ_EUNSUPPORTED, "%s: llama3 rope scaling (rope_freqs tensor) is not supported yet",
			               h->m->path);
		}
	}
	if (r.has_theta)
		kv_f32(h, akey(h, "rope.freq_base"), r.theta);
	if (r.has_swa)
		kv_f32(h, akey(h, "rope.freq_base_swa"), r.swa_theta);
	if (h->arch == PJ_HF_DEEPSEEK2 && !find_hp(h, "rms_norm_eps|norm_eps"))
		kv_f32(h, akey(h, "attention.layer_norm_rms_epsilon"), 1e-6);
	put_num(h, "attention.layer_norm_rms_epsilon", "rms_norm_eps|norm_eps");
	put_num(h, "attention.layer_norm_epsilon", "layer_norm_eps|layer_norm_epsilon|norm_epsilon");
	/* transformers' DeepseekV3Config exposes num_local_experts for
	 * n_routed_experts: the converter's file has expert_count here */
	put_int(h, "expert_count", h->arch == PJ_HF_DEEPSEEK2 ? "num_local_experts|num_experts|n_routed_experts"
	                                                     : "num_local_experts|num_experts");
	put_int(h, "expert_used_count", "num_experts_per_tok|num_experts_per_token|top_k_experts");
	if (hp_int(h, "n_group", &v))
		kv_u32(h, akey(h, "expert_group_count"), (uint64_t)v);
	if (hp_int(h, "topk_group", &v))
		kv_u32(h, akey(h, "expert_group_used_count"), (uint64_t)v);
	const cJSON *sf = find_hp(h, "score_function|scoring_func|score_func|moe_router_activation|moe_router_activation_func");
	if (sf) {
		if (cJSON_IsString(sf) && strcmp(sf->valuestring, "sigmoid") == 0)
			kv_u32(h, akey(h, "expert_gating_func"), 2);
		else if (cJSON_IsString(sf) && strcmp(sf->valuestring, "softmax") == 0)
			kv_u32(h, akey(h, "expert_gating_func"), 1);
		else
			return pj_fail(err, PJ_EUNSUPPORTED, "%s: unsupported expert scoring function", h->m->path);
	}
	if (int_of(hp(h, "head_dim"), &v)) {
		kv_u32(h, akey(h, "attention.key_length"), (uint64_t)v);
		kv_u32(h, akey(h, "attention.value_length"), (uint64_t)v);
	}
	kv_u32(h, "general.file_type", h->ftype);
	return PJ_OK;
}

static pj_status params_arch(pj_hf2gguf *h, pj_error *err)
{
	int64_t v, heads, hidden;
	double d;
	switch (h->arch) {
	case PJ_HF_LLAMA:
		put_int(h, "vocab_size", "vocab_size");
		if (!int_of(hp(h, "head_dim"), &v)) {
			pj_status st = need_int(h, "hidden_size", &hidden, err);
			if (!st)
				st = need_int(h, "num_attention_heads", &heads, err);
			if (st)
				return st;
			v = heads ? hidden / heads : 0;
		}
		kv_u32(h, akey(h, "rope.dimension_count"), (uint64_t)v);
		break;
	case PJ_HF_QWEN3MOE:
		put_int(h, "expert_feed_forward_length", "moe_intermediate_size");
		put_int(h, "expert_shared_feed_forward_length", "shared_expert_intermediate_size");
		break;
	case PJ_HF_GEMMA3: {
		/* Gemma3Model sets these again, with defaults for absent keys */
		kv_u32(h, akey(h, "context_length"), hp_int(h, "max_position_embeddings", &v) ? (uint64_t)v : 131072);
		kv_u32(h, akey(h, "attention.head_count"), hp_int(h, "num_attention_heads", &v) ? (uint64_t)v : 8);
		kv_f32(h, akey(h, "attention.layer_norm_rms_epsilon"), num_of(hp(h, "rms_norm_eps"), &d) ? d : 1e-6);
		int64_t hd = hp_int(h, "head_dim", &v) ? v : 256;
		kv_u32(h, akey(h, "attention.key_length"), (uint64_t)hd);
		kv_u32(h, akey(h, "attention.value_length"), (uint64_t)hd);
		rope_info r;
		rope_of(h, &r);
		kv_f32(h, akey(h, "rope.freq_base"), r.has_theta ? r.theta : 1000000.0);
		if (num_of(hp(h, "final_logit_softcapping"), &d) && d != 0)
			kv_f32(h, akey(h, "final_logit_softcapping"), d);
		const cJSON *pat = hp(h, "sliding_window_pattern");
		if (!(int_of(pat, &v) && v == 1)) {
			if (!hp_int(h, "sliding_window", &v))
				return pj_fail(err, PJ_EFORMAT, "%s: gemma3 config without sliding_window", h->m->path);
			kv_u32(h, akey(h, "attention.sliding_window"), (uint64_t)v);
		}
		kv_u32(h, akey(h, "attention.head_count_kv"), hp_int(h, "num_key_value_heads", &v) ? (uint64_t)v : 4);
		break;
	}
	case PJ_HF_DEEPSEEK2: {
		int64_t kvr = 512, rope, nope, vd, fk;
		bool moe = hp(h, "n_routed_experts") && !cJSON_IsNull(hp(h, "n_routed_experts"));
		if (!hp_int(h, "first_k_dense_replace", &fk)) {
			pj_status st = need_int(h, "num_hidden_layers", &fk, err);
			if (st)
				return st;
			if (moe)
				fk = 0;
		}
		kv_u32(h, akey(h, "leading_dense_block_count"), (uint64_t)fk);
		put_int(h, "vocab_size", "vocab_size");
		if (hp_int(h, "q_lora_rank", &v))
			kv_u32(h, akey(h, "attention.q_lora_rank"), (uint64_t)v);
		hp_int(h, "kv_lora_rank", &kvr);
		pj_status st = need_int(h, "qk_rope_head_dim", &rope, err);
		if (!st)
			st = need_int(h, "qk_nope_head_dim", &nope, err);
		if (!st)
			st = need_int(h, "v_head_dim", &vd, err);
		if (st)
			return st;
		kv_u32(h, akey(h, "attention.kv_lora_rank"), (uint64_t)kvr);
		kv_u32(h, akey(h, "attention.key_length"), (uint64_t)(kvr + rope));
		kv_u32(h, akey(h, "attention.value_length"), (uint64_t)kvr);
		kv_u32(h, akey(h, "attention.key_length_mla"), (uint64_t)(nope + rope));
		kv_u32(h, akey(h, "attention.value_length_mla"), (uint64_t)vd);
		if ((st = need_int(h, "moe_intermediate_size|intermediate_size", &v, err)))
			return st;
		kv_u32(h, akey(h, "expert_feed_forward_length"), (uint64_t)v);
		if (hp_int(h, "n_routed_experts", &v))
			kv_u32(h, akey(h, "expert_count"), (uint64_t)v);
		kv_u32(h, akey(h, "expert_shared_count"), hp_int(h, "n_shared_experts", &v) ? (uint64_t)v : 0);
		if (num_of(hp(h, "routed_scaling_factor"), &d))
			kv_f32(h, akey(h, "expert_weights_scale"), d);
		if (cJSON_IsTrue(hp(h, "norm_topk_prob")))
			kv_bool(h, akey(h, "expert_weights_norm"), true);
		kv_u32(h, akey(h, "rope.dimension_count"), (uint64_t)rope);
		rope_info r;
		rope_of(h, &r);
		if (num_of(obj_get(hp(h, "rope_parameters") ? hp(h, "rope_parameters") : hp(h, "rope_scaling"),
		                   "mscale_all_dim"), &d))
			kv_f32(h, akey(h, "rope.scaling.yarn_log_multiplier"), 0.1 * d);
		break;
	}
	default:
		break;
	}
	return PJ_OK;
}

/* ---- tokenizer ------------------------------------------------------------------------------ */

static bool looks_special(const char *t)
{
	size_t n = strlen(t);
	if (!strcmp(t, "<pad>") || !strcmp(t, "<mask>") || !strcmp(t, "<2mass>") || !strcmp(t, "[@BOS@]"))
		return true;
	if (n >= 4 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>"))
		return true;
	/* "<｜" ... "｜>" (fullwidth bars, DeepSeek) */
	if (n >= 8 && !strncmp(t, "<\xef\xbd\x9c", 4) && !strcmp(t + n - 4, "\xef\xbd\x9c>"))
		return true;
	return n >= 8 && !strncmp(t, "<unused", 7) && t[n - 1] == '>';
}

/* "▁" -> " " (user-defined tokens are pre-normalized) */
static char *unspace(const char *s)
{
	char *o = pj_xstrdup(s), *w = o;
	for (const char *p = s; *p;) {
		if (!strncmp(p, "\xe2\x96\x81", 3)) {
			*w++ = ' ';
			p += 3;
		} else {
			*w++ = *p++;
		}
	}
	*w = 0;
	return o;
}

static const char *const SPECIAL_TYPES[] = { "bos", "eos", "unk", "sep", "pad", "cls", "mask", "eot", "eom" };
#define N_SPECIAL (sizeof SPECIAL_TYPES / sizeof SPECIAL_TYPES[0])
static const char *const SPECIAL_KEY[N_SPECIAL] = {
	"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
	"tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.cls_token_id",
	"tokenizer.ggml.mask_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id",
};

/* gguf-py SpecialVocab: insertion-ordered maps, first id wins. */
typedef struct special_vocab {
	int n_types;                 /* 7, or more when eot/eom were added */
	int id_order[N_SPECIAL], n_ids;
	int64_t id[N_SPECIAL];
	int add_order[N_SPECIAL], n_add;
	bool add[N_SPECIAL];
	const char *chat_template;   /* points into a JSON tree or h's arena */
} special_vocab;

static void sv_set_id(special_vocab *sv, int typ, const cJSON *v, int64_t n_vocab)
{
	int64_t id;
	if (!int_of(v, &id) || id < 0 || (n_vocab > 0 && id >= n_vocab))
		return;
	for (int i = 0; i < sv->n_ids; i++)
		if (sv->id_order[i] == typ)
			return;
	sv->id[typ] = id;
	sv->id_order[sv->n_ids++] = typ;
}

static void sv_set_add(special_vocab *sv, int typ, bool v)
{
	sv->add[typ] = v;
	for (int i = 0; i < sv->n_add; i++)
		if (sv->add_order[i] == typ)
			return;
	sv->add_order[sv->n_add++] = typ;
}

static const char *tc_token(const cJSON *tc, const char *field)
{
	const cJSON *e = obj_get(tc, field);
	if (cJSON_IsString(e))
		return e->valuestring;
	const cJSON *c = obj_get(e, "content");
	return cJSON_IsObject(e) && cJSON_IsString(c) ? c->valuestring : NULL;
}

static void special_vocab_load(pj_hf2gguf *h, const cJSON *tok, const cJSON *tc, int64_t n_vocab, special_vocab *sv)
{
	memset(sv, 0, sizeof *sv);
	sv->n_types = 7;
	const cJSON *added = obj_get(tok, "added_tokens");
	if (tok && tc) {
		/* crude TemplateProcessing parse, as gguf-py: a leading special
		 * token that is bos/cls means add_bos, a trailing eos means add_eos */
		const char *bos = tc_token(tc, "bos_token"), *cls = tc_token(tc, "cls_token");
		const char *eos = tc_token(tc, "eos_token");
		if (!bos && cls)
			bos = cls;
		const cJSON *pp = obj_get(tok, "post_processor");
		const cJSON *procs = obj_get(pp, "processors"), *p;
		cJSON one = { 0 };
		if (!procs && pp) {
			one.child = (cJSON *)pp;
			procs = &one;
		}
		for (p = procs ? procs->child : NULL; p; p = procs == &one ? NULL : p->next) {
			const cJSON *ty = obj_get(p, "type");
			if (!cJSON_IsString(ty))
				continue;
			if (!strcmp(ty->valuestring, "RobertaProcessing")) {
				sv_set_add(sv, 0, true);
				sv_set_add(sv, 1, true);
				sv_set_add(sv, 3, true);
				continue;
			}
			if (strcmp(ty->valuestring, "TemplateProcessing") != 0)
				continue;
			const cJSON *single = obj_get(p, "single");
			int n = cJSON_GetArraySize(single);
			if (n > 1) {
				const cJSON *f = obj_get(obj_get(cJSON_GetArrayItem(single, 0), "SpecialToken"), "id");
				if (cJSON_IsString(f))
					sv_set_add(sv, 0, (bos && !strcmp(f->valuestring, bos)) || (cls && !strcmp(f->valuestring, cls)));
				const cJSON *l = obj_get(obj_get(cJSON_GetArrayItem(single, n - 1), "SpecialToken"), "id");
				if (cJSON_IsString(l))
					sv_set_add(sv, 1, eos && !strcmp(l->valuestring, eos));
			}
		}
	}
	if (!tc)
		goto config;
	const cJSON *ct = obj_get(tc, "chat_template");
	if (cJSON_IsString(ct)) {
		sv->chat_template = ct->valuestring;
	} else {
		char *path = pj_xasprintf("%s/chat_template.jinja", h->m->path);
		char *t = read_file(path, NULL);
		free(path);
		if (t)
			sv->chat_template = keep(h, t);
	}
	for (int typ = 0; typ < sv->n_types; typ++) {
		char f[32];
		snprintf(f, sizeof f, "add_%s_token", SPECIAL_TYPES[typ]);
		const cJSON *a = obj_get(tc, f);
		if (cJSON_IsBool(a))
			sv_set_add(sv, typ, cJSON_IsTrue(a));
		snprintf(f, sizeof f, "%s_token", SPECIAL_TYPES[typ]);
		const char *content = tc_token(tc, f);
		if (!content)
			continue;
		const cJSON *at;
		cJSON_ArrayForEach(at, added) {
			const cJSON *c = obj_get(at, "content");
			if (cJSON_IsString(c) && !strcmp(c->valuestring, content)) {
				sv_set_id(sv, typ, obj_get(at, "id"), n_vocab);
				break;
			}
		}
	}
config:
	for (int typ = 0; typ < sv->n_types; typ++) {
		char f[32];
		snprintf(f, sizeof f, "%s_token_id", SPECIAL_TYPES[typ]);
		const cJSON *v = obj_get(h->root, f);
		if (!v && obj_get(h->root, "text_config"))
			v = obj_get(obj_get(h->root, "text_config"), f);
		sv_set_id(sv, typ, v, n_vocab);
	}
}

static void special_vocab_write(pj_hf2gguf *h, const special_vocab *sv)
{
	for (int i = 0; i < sv->n_ids; i++)
		kv_u32(h, SPECIAL_KEY[sv->id_order[i]], (uint64_t)sv->id[sv->id_order[i]]);
	for (int i = 0; i < sv->n_add; i++) {
		int typ = sv->add_order[i];
		/* gguf-py has writers for add_bos, add_eos and add_sep only */
		if (typ == 0 || typ == 1 || typ == 3) {
			char k[64];
			snprintf(k, sizeof k, "tokenizer.ggml.add_%s_token", SPECIAL_TYPES[typ]);
			kv_bool(h, k, sv->add[typ]);
		}
	}
	if (sv->chat_template)
		kv_str(h, "tokenizer.chat_template", sv->chat_template);
}

/* GPT-2 style BPE from tokenizer.json (TextModel._set_vocab_gpt2). */
static pj_status vocab_gpt2(pj_hf2gguf *h, const cJSON *tok, const cJSON *tc, pj_error *err)
{
	const cJSON *model = obj_get(tok, "model"), *vocab = obj_get(model, "vocab"), *added = obj_get(tok, "added_tokens");
	const cJSON *mt = obj_get(model, "type");
	if (!cJSON_IsString(mt) || strcmp(mt->valuestring, "BPE") != 0 || !cJSON_IsObject(vocab))
		return pj_fail(err, PJ_EUNSUPPORTED, "%s/tokenizer.json: not a BPE tokenizer", h->m->path);
	const char *pre = pj_hf_bpe_pre_name(obj_get(tok, "pre_tokenizer"));
	if (!pre)
		return pj_fail(err, PJ_EUNSUPPORTED,
		               "%s/tokenizer.json: BPE pre-tokenizer not recognized (the converter refuses it too)",
		               h->m->path);
	int64_t n_vocab = 0, max_id = -1;
	const cJSON *it;
	/* the fast tokenizer's vocab holds the added tokens too */
	cJSON_ArrayForEach(it, vocab) {
		int64_t id;
		if (int_of(it, &id) && id > max_id)
			max_id = id;
		n_vocab++;
	}
	cJSON_ArrayForEach(it, added) {
		int64_t id;
		if (int_of(obj_get(it, "id"), &id) && id > max_id)
			max_id = id;
	}
	if (!hp_int(h, "vocab_size", &n_vocab))
		n_vocab = max_id + 1;
	if (max_id >= n_vocab || n_vocab < 1 || n_vocab > (1 << 26))
		return pj_fail(err, PJ_EFORMAT, "%s: token id %lld does not fit vocab_size %lld", h->m->path,
		               (long long)max_id, (long long)n_vocab);
	char **tokens = pj_xcalloc((size_t)n_vocab, sizeof *tokens);
	int32_t *types = pj_xcalloc((size_t)n_vocab, sizeof *types);
	cJSON_ArrayForEach(it, vocab) {
		int64_t id;
		if (int_of(it, &id) && id >= 0 && !tokens[id]) {
			tokens[id] = pj_xstrdup(it->string);
			types[id] = TT_NORMAL;
		}
	}
	cJSON_ArrayForEach(it, added) {
		int64_t id;
		const cJSON *c = obj_get(it, "content");
		if (!int_of(obj_get(it, "id"), &id) || id < 0 || !cJSON_IsString(c))
			continue;
		/* added tokens are assumed to decode back to themselves; the
		 * converter round-trips non-normalized ones through the HF tokenizer */
		bool special = cJSON_IsTrue(obj_get(it, "special")) || looks_special(c->valuestring);
		free(tokens[id]);
		tokens[id] = special ? pj_xstrdup(c->valuestring) : unspace(c->valuestring);
		types[id] = special ? TT_CONTROL : TT_USER_DEFINED;
	}
	for (int64_t i = 0; i < n_vocab; i++)
		if (!tokens[i]) {
			tokens[i] = pj_xasprintf("[PAD%lld]", (long long)i);
			types[i] = TT_UNUSED;
		}
	kv_str(h, "tokenizer.ggml.model", "gpt2");
	kv_str(h, "tokenizer.ggml.pre", pre);
	kv_arr_str(h, "tokenizer.ggml.tokens", (uint64_t)n_vocab, tokens, NULL);
	kv_arr(h, "tokenizer.ggml.token_type", PJ_GGUF_INT32, (uint64_t)n_vocab, types);

	/* merges: "a b" strings, or [a, b] pairs whose spaces become U+0120 */
	const cJSON *merges = obj_get(model, "merges");
	int nm = cJSON_GetArraySize(merges);
	if (nm > 0) {
		char **ms = pj_xcalloc((size_t)nm, sizeof *ms);
		int k = 0;
		cJSON_ArrayForEach(it, merges) {
			if (cJSON_IsString(it)) {
				ms[k++] = pj_xstrdup(it->valuestring);
			} else if (cJSON_GetArraySize(it) == 2 && cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
			           cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
				const char *a = cJSON_GetArrayItem(it, 0)->valuestring, *b = cJSON_GetArrayItem(it, 1)->valuestring;
				char *m = pj_xmalloc(3 * (strlen(a) + strlen(b)) + 2), *w = m;
				for (int part = 0; part < 2; part++) {
					for (const char *p = part ? b : a; *p; p++) {
						if (*p == ' ') {
							*w++ = (char)0xc4;
							*w++ = (char)0xa0;
						} else {
							*w++ = *p;
						}
					}
					if (!part)
						*w++ = ' ';
				}
				*w = 0;
				ms[k++] = m;
			} else {
				for (int j = 0; j < k; j++)
					free(ms[j]);
				free(ms);
				return pj_fail(err, PJ_EFORMAT, "%s/tokenizer.json: unknown merges format", h->m->path);
			}
		}
		kv_arr_str(h, "tokenizer.ggml.merges", (uint64_t)k, ms, NULL);
	}
	special_vocab sv;
	special_vocab_load(h, tok, tc, 0, &sv);
	special_vocab_write(h, &sv);
	return PJ_OK;
}

/* ---- SentencePiece tokenizer.model (protobuf) ------------------------------------------------ */

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int s = 0; s < 64 && *p < end; s += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* Skips a field of wire type wt; false when malformed. */
static bool pb_skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t v;
	switch (wt) {
	case 0: return pb_varint(p, end, &v);
	case 1: if (end - *p < 8) return false; *p += 8; return true;
	case 5: if (end - *p < 4) return false; *p += 4; return true;
	case 2:
		if (!pb_varint(p, end, &v) || v > (uint64_t)(end - *p))
			return false;
		*p += v;
		return true;
	default: return false;
	}
}

typedef struct sp_piece {
	const uint8_t *s;
	size_t n;
	float score;
	int type;
} sp_piece;

/* ModelProto.pieces (field 1): SentencePiece { piece = 1; score = 2; type = 3 } */
static pj_status sp_parse(const uint8_t *buf, size_t len, sp_piece **out, size_t *n_out, const char *path, pj_error *err)
{
	const uint8_t *p = buf, *end = buf + len;
	sp_piece *v = NULL;
	size_t n = 0, cap = 0;
	while (p < end) {
		uint64_t key;
		if (!pb_varint(&p, end, &key))
			goto bad;
		if (key >> 3 != 1 || (key & 7) != 2) {
			if (!pb_skip(&p, end, key & 7))
				goto bad;
			continue;
		}
		uint64_t ml;
		if (!pb_varint(&p, end, &ml) || ml > (uint64_t)(end - p))
			goto bad;
		const uint8_t *q = p, *qe = p + ml;
		p = qe;
		sp_piece sp = { .s = (const uint8_t *)"", .type = 1 };
		while (q < qe) {
			uint64_t k;
			if (!pb_varint(&q, qe, &k))
				goto bad;
			if (k == ((1 << 3) | 2)) {
				uint64_t sl;
				if (!pb_varint(&q, qe, &sl) || sl > (uint64_t)(qe - q))
					goto bad;
				sp.s = q;
				sp.n = (size_t)sl;
				q += sl;
			} else if (k == ((2 << 3) | 5)) {
				if (qe - q < 4)
					goto bad;
				uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
				memcpy(&sp.score, &u, 4);
				q += 4;
			} else if (k == ((3 << 3) | 0)) {
				uint64_t t;
				if (!pb_varint(&q, qe, &t))
					goto bad;
				sp.type = (int)t;
			} else if (!pb_skip(&q, qe, k & 7)) {
				goto bad;
			}
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			v = pj_xrealloc(v, cap * sizeof *v);
		}
		v[n++] = sp;
	}
	*out = v;
	*n_out = n;
	return PJ_OK;
bad:
	free(v);
	return pj_fail(err, PJ_EFORMAT, "%s: malformed SentencePiece model", path);
}

static pj_status vocab_spm(pj_hf2gguf *h, const char *path, const cJSON *tc, pj_error *err)
{
	size_t len;
	char *buf = read_file(path, &len);
	if (!buf)
		return pj_fail(err, PJ_EIO, "%s: cannot read", path);
	sp_piece *pc = NULL;
	size_t np = 0;
	pj_status st = sp_parse((const uint8_t *)buf, len, &pc, &np, path, err);
	if (st) {
		free(buf);
		return st;
	}
	int64_t n_vocab;
	if (!hp_int(h, "vocab_size_per_layer_input|vocab_size", &n_vocab) || n_vocab < 1)
		n_vocab = (int64_t)np;
	char **tokens = pj_xcalloc((size_t)n_vocab, sizeof *tokens);
	uint64_t *tlen = pj_xcalloc((size_t)n_vocab, sizeof *tlen);
	float *scores = pj_xcalloc((size_t)n_vocab, sizeof *scores);
	int32_t *types = pj_xcalloc((size_t)n_vocab, sizeof *types);
	for (int64_t i = 0; i < n_vocab; i++) {
		if (i < (int64_t)np) {
			/* SentencePiece's IsUnknown/IsControl/IsUnused/IsByte, else
			 * NORMAL: user-defined pieces count as normal here */
			static const int MAP[7] = { TT_NORMAL, TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_NORMAL, TT_UNUSED, TT_BYTE };
			tokens[i] = pj_xstrndup((const char *)pc[i].s, pc[i].n);
			tlen[i] = pc[i].n;
			scores[i] = pc[i].score;
			types[i] = pc[i].type >= 0 && pc[i].type < 7 ? MAP[pc[i].type] : TT_NORMAL;
		} else {
			tokens[i] = pj_xasprintf("[PAD%lld]", (long long)i);
			tlen[i] = strlen(tokens[i]);
			scores[i] = -10000.0f;
			types[i] = TT_UNUSED;
		}
	}
	free(pc);
	free(buf);
	bool pres;
	cJSON *at = read_json(h->m->path, "added_tokens.json", &pres, err, &st);
	const cJSON *it;
	cJSON_ArrayForEach(it, at) {
		int64_t id;
		if (int_of(it, &id) && id >= 0 && id < n_vocab) {
			free(tokens[id]);
			tokens[id] = pj_xstrdup(it->string);
			tlen[id] = strlen(tokens[id]);
			scores[id] = -1000.0f;
			types[id] = TT_USER_DEFINED;
		}
	}
	cJSON_Delete(at);
	cJSON_ArrayForEach(it, obj_get(tc, "added_tokens_decoder")) {
		char *e;
		long long id = strtoll(it->string, &e, 10);
		const cJSON *c = obj_get(it, "content");
		if (*e || id < 0 || id >= n_vocab || !cJSON_IsString(c))
			continue;
		bool special = cJSON_IsTrue(obj_get(it, "special")) || looks_special(c->valuestring);
		free(tokens[id]);
		tokens[id] = special ? pj_xstrdup(c->valuestring) : unspace(c->valuestring);
		tlen[id] = strlen(tokens[id]);
		types[id] = special ? TT_CONTROL : TT_USER_DEFINED;
		scores[id] = -1000.0f;
	}
	kv_str(h, "tokenizer.ggml.model", "llama");
	kv_str(h, "tokenizer.ggml.pre", "default");
	kv_arr_str(h, "tokenizer.ggml.tokens", (uint64_t)n_vocab, tokens, tlen);
	kv_arr(h, "tokenizer.ggml.scores", PJ_GGUF_FLOAT32, (uint64_t)n_vocab, scores);
	kv_arr(h, "tokenizer.ggml.token_type", PJ_GGUF_INT32, (uint64_t)n_vocab, types);
	bool tpres;
	pj_status js = PJ_OK;
	cJSON *tok = read_json(h->m->path, "tokenizer.json", &tpres, err, &js);
	special_vocab sv;
	special_vocab_load(h, tok, tc, n_vocab, &sv);
	special_vocab_write(h, &sv);
	cJSON_Delete(tok);
	return js;
}

static pj_status vocab(pj_hf2gguf *h, pj_error *err)
{
	bool pres;
	pj_status st = PJ_OK;
	cJSON *tc = read_json(h->m->path, "tokenizer_config.json", &pres, err, &st);
	if (st)
		return st;
	if (h->arch == PJ_HF_LLAMA) {
		const cJSON *ap = obj_get(tc, "add_prefix_space");
		if (cJSON_IsBool(ap))
			kv_bool(h, "tokenizer.ggml.add_space_prefix", cJSON_IsTrue(ap));
	}
	char *spm = pj_xasprintf("%s/tokenizer.model", h->m->path);
	FILE *f = fopen(spm, "rb");
	bool have_spm = f != NULL;
	if (f)
		fclose(f);
	/* llama, qwen2/3 and gemma3 prefer tokenizer.model; qwen3moe and
	 * deepseek2 use tokenizer.json only */
	if (have_spm && h->arch != PJ_HF_QWEN3MOE && h->arch != PJ_HF_DEEPSEEK2) {
		st = vocab_spm(h, spm, tc, err);
		if (!st && h->arch == PJ_HF_GEMMA3)
			kv_bool(h, "tokenizer.ggml.add_space_prefix", false);
	} else {
		cJSON *tok = read_json(h->m->path, "tokenizer.json", &pres, err, &st);
		if (!st && !tok)
			st = pj_fail(err, PJ_ENOTFOUND, "%s: no tokenizer.json or tokenizer.model", h->m->path);
		if (!st && h->arch == PJ_HF_LLAMA && cJSON_IsTrue(obj_get(obj_get(tok, "model"), "byte_fallback")))
			st = pj_fail(err, PJ_EUNSUPPORTED,
			             "%s: SentencePiece-style BPE tokenizer.json without tokenizer.model is not supported yet",
			             h->m->path);
		if (!st)
			st = vocab_gpt2(h, tok, tc, err);
		cJSON_Delete(tok);
	}
	free(spm);
	cJSON_Delete(tc);
	return st;
}

/* ---- public ------------------------------------------------------------------------------------ */

static unsigned ftype_of(pj_dtype t)
{
	return t == PJ_DT_F32 ? 0 : t == PJ_DT_F16 ? 1 : 32;
}

/* The converter's --outtype auto: the first tensor of 2+ dimensions that is
 * BF16 or F16 decides; F16 otherwise. */
static pj_dtype auto_outtype(const pj_model *m)
{
	for (size_t i = 0; i < m->cat.n; i++) {
		const pj_tensor *t = &m->cat.t[i];
		if (t->n_dims < 2)
			continue;
		if (t->dtype == PJ_DT_BF16 || t->dtype == PJ_DT_F16)
			return t->dtype;
	}
	return PJ_DT_F16;
}

pj_status pj_hf2gguf_open(pj_model *m, pj_dtype outtype, pj_hf2gguf **out, pj_error *err)
{
	*out = NULL;
	if (m->format != PJ_FMT_HF || !cJSON_IsObject(m->config))
		return pj_fail(err, PJ_EUSAGE, "%s: not a Hugging Face model folder", m->path);
	const cJSON *arches = cJSON_GetObjectItemCaseSensitive(m->config, "architectures");
	const cJSON *a0 = cJSON_GetArrayItem(arches, 0);
	pj_hf2gguf *h = pj_xcalloc(1, sizeof *h);
	h->m = m;
	h->root = m->config;
	const cJSON *tcfg = obj_get(m->config, "text_config");
	h->text = cJSON_IsObject(tcfg) ? tcfg : m->config;
	if (!cJSON_IsString(a0) || !pj_hf_arch_lookup(a0->valuestring, &h->arch, &h->garch)) {
		pj_status st = pj_fail(err, PJ_EUNSUPPORTED,
		                       "%s: export of architecture %s is not supported (llama, mistral, mixtral, qwen2, "
		                       "qwen3, qwen3moe, gemma3 text, deepseek-v2/v3 are)",
		                       m->path, cJSON_IsString(a0) ? a0->valuestring : "(none)");
		free(h);
		return st;
	}
	if (outtype == PJ_DT_COUNT)
		outtype = auto_outtype(m);
	if (outtype != PJ_DT_F32 && outtype != PJ_DT_F16 && outtype != PJ_DT_BF16) {
		free(h);
		return pj_fail(err, PJ_EUSAGE, "hf2gguf: outtype %s (F32, F16 or BF16)", pj_dtype_name(outtype));
	}
	h->outtype = outtype;
	h->ftype = ftype_of(outtype);
	pj_catalog_init(&h->cat);
	pj_status st = build_tensors(h, err);
	if (!st) {
		meta_general(h);
		st = params_base(h, err);
	}
	if (!st)
		st = params_arch(h, err);
	if (!st) {
		kv_u32(h, "general.quantization_version", 2);
		st = vocab(h, err);
	}
	if (st) {
		pj_hf2gguf_free(h);
		return st;
	}
	*out = h;
	return PJ_OK;
}

void pj_hf2gguf_free(pj_hf2gguf *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->cat.n; i++) {
		free(h->x[i].exp);
		free(h->x[i].exp_scale);
	}
	free(h->x);
	pj_catalog_free(&h->cat);
	for (size_t i = 0; i < h->n_mem; i++)
		free(h->mem[i]);
	free(h->mem);
	free(h->kv);
	free(h->tmp);
	free(h);
}

pj_dtype pj_hf2gguf_outtype(const pj_hf2gguf *h) { return h->outtype; }
unsigned pj_hf2gguf_file_type(const pj_hf2gguf *h) { return h->ftype; }

const pj_gguf_wkv *pj_hf2gguf_kv(const pj_hf2gguf *h, size_t *n)
{
	*n = h->n_kv;
	return h->kv;
}

const pj_catalog *pj_hf2gguf_catalog(const pj_hf2gguf *h) { return &h->cat; }
