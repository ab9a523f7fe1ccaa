/* eval_plan.c - a plan as a weights provider (see eval_plan.h). */
#include "config.h"
#include "quant/eval_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfconfig.h"
#include "quant/convert.h"
#include "quant/qtypes.h"

/* Where an HF (or GGUF) tensor's planned values come from. */
typedef struct pmap {
	int n;                      /* export tensors it is made of (0: the source as it is) */
	const pj_tensor *g[2];      /* in the export catalog; kv_b: attn_k_b, attn_v_b */
	pj_dtype type[2];
	size_t gi[2];
	int expert;                 /* its matrix of a stack, -1 */
	int permute;                /* llama q/k: heads of the converter's rope permutation */
	bool kvb;
} pmap;

static bool ends_with(const char *s, const char *suf)
{
	const size_t n = strlen(s), k = strlen(suf);
	return n >= k && strcmp(s + n - k, suf) == 0;
}

static const pj_catalog *export_cat(const pj_eval_plan *p)
{
	return p->hf ? pj_hf2gguf_catalog(p->hf) : p->plan->cat;
}

static bool add_part(const pj_eval_plan *p, const char *name, pmap *pm)
{
	const pj_plan_entry *e = pj_plan_find(p->plan, name);
	const pj_catalog *cat = export_cat(p);
	const pj_tensor *g = pj_catalog_find(cat, name);
	if (!e || !g)
		return false;
	pm->g[pm->n] = g;
	pm->gi[pm->n] = (size_t)(g - cat->t);
	pm->type[pm->n] = e->type;
	pm->n++;
	return true;
}

static void map_tensor(const pj_eval_plan *p, const pj_tensor *t, pmap *pm)
{
	memset(pm, 0, sizeof *pm);
	pm->expert = -1;
	if (!p->hf) {
		if (add_part(p, t->name, pm) && pm->type[0] == t->dtype)
			pm->n = 0;
		return;
	}
	char g[512];
	int slot;
	if (p->arch == PJ_HF_DEEPSEEK2 && ends_with(t->name, "kv_b_proj.weight") && t->layer >= 0) {
		pm->kvb = true;
		snprintf(g, sizeof g, "blk.%d.attn_k_b.weight", t->layer);
		if (add_part(p, g, pm)) {
			snprintf(g, sizeof g, "blk.%d.attn_v_b.weight", t->layer);
			if (!add_part(p, g, pm))
				pm->n = 0;
		}
	} else if (pj_hf_tensor_name(p->arch, t->name, g, sizeof g, &pm->expert, &slot)) {
		add_part(p, g, pm);
		if (p->arch == PJ_HF_LLAMA && ends_with(t->name, "q_proj.weight"))
			pm->permute = p->n_head;
		else if (p->arch == PJ_HF_LLAMA && ends_with(t->name, "k_proj.weight"))
			pm->permute = p->n_kv;
	}
	/* kept in the converter's type, which is the source's: the source */
	bool same = pm->n > 0;
	for (int i = 0; i < pm->n; i++)
		same &= pm->type[i] == pm->g[i]->dtype && pm->g[i]->dtype == t->dtype;
	if (same || t->n_dims < 2)
		pm->n = 0;
}

pj_status pj_eval_plan_init(pj_eval_plan *p, pj_model *m, const pj_plan *plan, pj_hf2gguf *hf, const pj_imatrix *im,
                            unsigned threads, pj_error *err)
{
	memset(p, 0, sizeof *p);
	p->plan = plan;
	p->hf = hf;
	p->im = im;
	p->threads = threads ? threads : 1;
	if (!hf)
		return PJ_OK;
	const cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m->config, "architectures"), 0);
	const char *garch;
	if (!cJSON_IsString(a0) || !pj_hf_arch_lookup(a0->valuestring, &p->arch, &garch))
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: no export mapping for this architecture", m->name);
	pj_hfcfg h;
	pj_hfcfg_init(&h, m->config);
	int64_t v;
	p->n_head = pj_hfcfg_text_int(&h, PJ_CFG_HEADS, 1, INT32_MAX, &v) ? (int)v : 0;
	p->n_kv = pj_hfcfg_text_int(&h, PJ_CFG_KV_HEADS, 1, INT32_MAX, &v) ? (int)v : p->n_head;
	return PJ_OK;
}

static bool weighted(const pj_eval_plan *p, const pj_tensor *g, pj_dtype type)
{
	const pj_qtype *q = pj_qtype_get(type);
	return p->im && type != g->dtype && q && q->block > 1 && pj_imatrix_find(p->im, g->name);
}

uint64_t pj_eval_plan_key(void *ctx, const pj_tensor *t)
{
	const pj_eval_plan *p = ctx;
	pmap pm;
	map_tensor(p, t, &pm);
	if (!pm.n)
		return pj_fwd_source_key(NULL, t);
	if (pm.n == 1)
		return pj_fwd_type_key(t, pm.type[0], weighted(p, pm.g[0], pm.type[0]));
	uint64_t k = 0;
	for (int i = 0; i < pm.n; i++)
		k = k * 1000003u + pj_fwd_type_key(t, pm.type[i], weighted(p, pm.g[i], pm.type[i]));
	return k & ~(1ull << 17);
}

pj_dtype pj_eval_plan_type(void *ctx, const pj_tensor *t)
{
	const pj_eval_plan *p = ctx;
	pmap pm;
	map_tensor(p, t, &pm);
	return pm.n ? pm.type[0] : t->dtype;
}

/* One matrix of an export tensor, through its planned type and back. */
static pj_status round_trip(const pj_eval_plan *p, pj_model *m, const pmap *pm, int part, int64_t mat, float *buf,
                            pj_error *err)
{
	const pj_tensor *g = pm->g[part];
	const pj_dtype type = pm->type[part];
	const int64_t ne0 = g->ne[0], rows = g->ne[1];
	pj_status st;
	if (p->hf) {
		st = pj_hf2gguf_read_mat(p->hf, pm->gi[part], mat, buf, err);
	} else {
		const uint8_t *src = pj_catalog_data(&m->cat, g, err);
		if (!src)
			return err->code ? err->code : PJ_EIO;
		const size_t in_mat = (size_t)(g->nbytes / (uint64_t)(g->ne[2] * g->ne[3]));
		st = pj_convert_rows_f32(g->dtype, src + (size_t)mat * in_mat, buf, rows, ne0, g->name, err);
	}
	if (st || type == g->dtype || type == PJ_DT_F32)
		return st;
	const float *imw = NULL;
	if (weighted(p, g, type) && (st = pj_imatrix_weights(p->im, g->name, ne0, g->ne[2], mat % g->ne[2], &imw, err)))
		return st;
	const size_t rs = pj_qtype_row_size(type, ne0);
	if (!rs)
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: cannot quantize to %s", g->name, pj_dtype_name(type));
	void *q = pj_xmalloc(rs * (size_t)rows);
	st = pj_quantize_rows(type, buf, q, rows, ne0, imw, p->threads, g->name, err);
	if (!st)
		st = pj_dequantize_rows(type, q, buf, rows, ne0, err);
	free(q);
	return st;
}

pj_status pj_eval_plan_load(void *ctx, pj_model *m, const pj_tensor *t, float *dst, pj_error *err)
{
	const pj_eval_plan *p = ctx;
	pmap pm;
	map_tensor(p, t, &pm);
	if (!pm.n)
		return pj_fwd_load_source(NULL, m, t, dst, err);
	const pj_tensor *g = pm.g[0];
	const int64_t ne0 = g->ne[0], rows = g->ne[1];
	float *buf = pj_xmalloc(sizeof(float) * (size_t)(ne0 * rows));
	pj_status st = PJ_OK;
	if (pm.kvb) {
		/* attn_k_b head h: [L rows][nope], kv_b's first nope rows of the
		 * head transposed; attn_v_b head h: its last vd rows */
		const int64_t nope = g->ne[0], L = g->ne[1], H = g->ne[2], vd = pm.g[1]->ne[1];
		float *vb = pj_xmalloc(sizeof(float) * (size_t)(L * vd));
		for (int64_t h = 0; !st && h < H; h++) {
			float *head = dst + (size_t)(h * (nope + vd) * L);
			if (!(st = round_trip(p, m, &pm, 0, h, buf, err)))
				for (int64_t r = 0; r < L; r++)
					for (int64_t c = 0; c < nope; c++)
						head[c * L + r] = buf[r * nope + c];
			if (!st && !(st = round_trip(p, m, &pm, 1, h, vb, err)))
				memcpy(head + nope * L, vb, sizeof(float) * (size_t)(vd * L));
		}
		free(vb);
	} else if (!p->hf) {
		/* GGUF input: every matrix of a 3-D tensor (stacked experts,
		 * attn_k_b/attn_v_b heads), in file order */
		const int64_t n_mat = g->ne[2] * g->ne[3];
		for (int64_t i = 0; !st && i < n_mat; i++)
			if (!(st = round_trip(p, m, &pm, 0, i, buf, err)))
				memcpy(dst + (size_t)(i * ne0 * rows), buf, sizeof(float) * (size_t)(ne0 * rows));
	} else if (pm.expert >= 0 || !pm.permute) {
		st = round_trip(p, m, &pm, 0, pm.expert >= 0 ? pm.expert : 0, buf, err);
		if (!st)
			memcpy(dst, buf, sizeof(float) * (size_t)(ne0 * rows));
	} else {
		/* undo reshape(heads, 2, hd/2, cols).swapaxes(1, 2) */
		st = round_trip(p, m, &pm, 0, 0, buf, err);
		const int64_t hd = rows / pm.permute, half = hd / 2;
		for (int64_t hh = 0; !st && hh < pm.permute; hh++)
			for (int64_t r = 0; r < half; r++)
				for (int j = 0; j < 2; j++)
					memcpy(dst + (hh * hd + j * half + r) * ne0, buf + (hh * hd + 2 * r + j) * ne0,
					       sizeof(float) * (size_t)ne0);
	}
	free(buf);
	if (st)
		pj_error_prefix(err, "%s", t->name);
	return st;
}
