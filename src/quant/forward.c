/* forward.c - configuration, weight streaming, threaded kernels and the
 * layer loop of the reference forward pass (see forward.h).
 *
 * Facts about each architecture were read from Hugging Face transformers'
 * modeling files (the reference the tests compare against); no code was
 * copied. */
#include "config.h"
#include "quant/forward_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfconfig.h"
#include "quant/convert.h"

/* ---- the family table ---------------------------------------------------------- */

static const struct fwd_family {
	const char *model_type;     /* HF model_type of the text model */
	unsigned flags;
} FAMILIES[] = {
	{ "llama",       0 },
	{ "mistral",     0 },
	{ "qwen2",       0 },
	{ "qwen3",       0 },
	{ "qwen3_moe",   0 },
	{ "mixtral",     FWD_TOPK_NORM },
	{ "gemma3_text", FWD_NORM_PLUS1 | FWD_EMBED_SCALE | FWD_GELU_TANH },
	{ "gemma3",      FWD_NORM_PLUS1 | FWD_EMBED_SCALE | FWD_GELU_TANH },
	{ "deepseek_v2", FWD_ROPE_INTERLEAVE },
	{ "deepseek_v3", FWD_ROPE_INTERLEAVE | FWD_ROUTE_SIGMOID | FWD_GROUP_TOP2 },
};

static const struct fwd_family *family_of(const char *model_type)
{
	for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
		if (strcmp(FAMILIES[i].model_type, model_type) == 0)
			return &FAMILIES[i];
	return NULL;
}

/* ---- the pool ------------------------------------------------------------------------ */

typedef struct par_job {
	fwd_range_fn fn;
	void *op;
	size_t i0, i1;
} par_job;

static void par_run(void *arg)
{
	par_job *j = arg;
	j->fn(j->op, j->i0, j->i1);
}

void fwd_par_for(pj_fwd *f, size_t n, fwd_range_fn fn, void *op)
{
	if (!n)
		return;
	if (!f->pool || n == 1) {
		fn(op, 0, n);
		return;
	}
	/* A few ranges per thread evens out unequal rows (causal attention). */
	size_t parts = (size_t)f->threads * 4;
	if (parts > n)
		parts = n;
	par_job *jobs = pj_xcalloc(parts, sizeof *jobs);
	for (size_t p = 0; p < parts; p++) {
		jobs[p] = (par_job){ fn, op, n * p / parts, n * (p + 1) / parts };
		pj_pool_submit(f->pool, par_run, &jobs[p]);
	}
	pj_pool_join(f->pool);
	free(jobs);
}

/* ---- kernels ----------------------------------------------------------------------------- */

typedef struct norm_op {
	const float *x, *w;
	float *y;
	size_t d, ld;
	float eps;
	bool plus1;
} norm_op;

static void norm_range(void *arg, size_t i0, size_t i1)
{
	const norm_op *o = arg;
	for (size_t i = i0; i < i1; i++) {
		const float *x = o->x + i * o->ld;
		float *y = o->y + i * o->ld;
		double ss = 0;
		for (size_t k = 0; k < o->d; k++)
			ss += (double)x[k] * x[k];
		const float r = (float)(1.0 / sqrt(ss / (double)o->d + o->eps));
		for (size_t k = 0; k < o->d; k++)
			y[k] = (x[k] * r) * (o->plus1 ? 1.0f + o->w[k] : o->w[k]);
	}
}

void fwd_rmsnorm(pj_fwd *f, const float *x, float *y, size_t n, size_t d, size_t ld, const float *w)
{
	norm_op o = { x, w, y, d, ld, f->c.eps, (f->c.flags & FWD_NORM_PLUS1) != 0 };
	fwd_par_for(f, n, norm_range, &o);
}

/* Inverse frequencies as transformers computes them (f32 powers of theta),
 * then the rope type's rescaling; *attn receives the cos/sin factor (yarn). */
static void rope_inv_freq(const fwd_rope *r, int rot, float *inv, double *attn)
{
	const int half = rot / 2;
	*attn = 1.0;
	for (int i = 0; i < half; i++)
		inv[i] = 1.0f / powf((float)r->theta, (float)(2 * i) / (float)rot);
	for (int i = 0; r->factors && i < half; i++)
		inv[i] /= r->factors[i];
	if (r->type == FWD_ROPE_LINEAR) {
		for (int i = 0; i < half; i++)
			inv[i] /= (float)r->factor;
	} else if (r->type == FWD_ROPE_LLAMA3) {
		const double lo_wl = r->orig_ctx / r->low_freq_factor, hi_wl = r->orig_ctx / r->high_freq_factor;
		for (int i = 0; i < half; i++) {
			const double wl = 2 * M_PI / inv[i];
			if (wl > lo_wl) {
				inv[i] = (float)(inv[i] / r->factor);
			} else if (wl >= hi_wl) {
				const double s = (r->orig_ctx / wl - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
				inv[i] = (float)((1 - s) * inv[i] / r->factor + s * inv[i]);
			}
		}
	} else if (r->type == FWD_ROPE_YARN) {
		/* Blend interpolated and extrapolated frequencies over the
		 * correction range of dimensions; scale cos/sin by mscale. */
		const double fast = r->beta_fast, slow = r->beta_slow;
		double lo = rot * log(r->orig_ctx / (fast * 2 * M_PI)) / (2 * log(r->theta));
		double hi = rot * log(r->orig_ctx / (slow * 2 * M_PI)) / (2 * log(r->theta));
		if (r->truncate) {
			lo = floor(lo);
			hi = ceil(hi);
		}
		if (lo < 0)
			lo = 0;
		if (hi > rot - 1)
			hi = rot - 1;
		if (lo == hi)
			hi += 0.001;
		for (int i = 0; i < half; i++) {
			float ramp = (float)(((float)i - lo) / (hi - lo));
			ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
			const float extra = 1 - ramp;
			const float base = 1.0f / inv[i];
			const float interp = 1.0f / ((float)r->factor * base);
			inv[i] = interp * (1 - extra) + inv[i] * extra;
		}
		if (r->attn_factor > 0)
			*attn = r->attn_factor;
		else if (r->mscale > 0 && r->mscale_all_dim > 0)
			*attn = (0.1 * r->mscale * log(r->factor) + 1) / (0.1 * r->mscale_all_dim * log(r->factor) + 1);
		else
			*attn = r->factor <= 1 ? 1.0 : 0.1 * log(r->factor) + 1;
	}
}

float *fwd_rope_table(const fwd_rope *r, int rot, size_t n_ctx)
{
	const int half = rot / 2;
	float *inv = pj_xmalloc(sizeof(float) * (size_t)(half ? half : 1));
	double attn;
	rope_inv_freq(r, rot, inv, &attn);
	float *cs = pj_xmalloc(sizeof(float) * 2 * (size_t)(half ? half : 1) * n_ctx);
	for (size_t p = 0; p < n_ctx; p++)
		for (int i = 0; i < half; i++) {
			const float ang = (float)p * inv[i];   /* f32 product, as position @ inv_freq */
			cs[(p * (size_t)half + (size_t)i) * 2] = (float)(cos(ang) * attn);
			cs[(p * (size_t)half + (size_t)i) * 2 + 1] = (float)(sin(ang) * attn);
		}
	free(inv);
	return cs;
}

typedef struct rope_op {
	float *x;
	size_t n_ctx, ld, hs, off;
	int nh, rot;
	const float *cs;
	bool interleave;
} rope_op;

static void rope_range(void *arg, size_t i0, size_t i1)
{
	const rope_op *o = arg;
	const int half = o->rot / 2;
	for (size_t t = i0; t < i1; t++) {
		const float *cs = o->cs + (t % o->n_ctx) * (size_t)half * 2;
		for (int h = 0; h < o->nh; h++) {
			float *v = o->x + t * o->ld + (size_t)h * o->hs + o->off;
			for (int i = 0; i < half; i++) {
				const float c = cs[2 * i], s = cs[2 * i + 1];
				float *a = o->interleave ? &v[2 * i] : &v[i];
				float *b = o->interleave ? &v[2 * i + 1] : &v[i + half];
				const float x0 = *a, x1 = *b;
				*a = x0 * c - x1 * s;
				*b = x1 * c + x0 * s;
			}
		}
	}
}

void fwd_rope_apply(pj_fwd *f, float *x, size_t n_tok, size_t n_ctx, size_t ld, int nh, size_t hs, size_t off,
                    const float *cs, int rot)
{
	rope_op o = { x, n_ctx, ld, hs, off, nh, rot, cs, (f->c.flags & FWD_ROPE_INTERLEAVE) != 0 };
	fwd_par_for(f, n_tok, rope_range, &o);
}

typedef struct glu_op {
	const float *g, *u;
	float *y;
	fwd_act act;
} glu_op;

static float act_apply(fwd_act a, float x)
{
	switch (a) {
	case FWD_ACT_GELU_TANH: {
		const float k = 0.7978845608028654f;   /* sqrt(2/pi) */
		return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
	}
	case FWD_ACT_GELU:
		return (float)(0.5 * x * (1.0 + erf(x / M_SQRT2)));
	case FWD_ACT_SILU:
	default:
		return x / (1.0f + expf(-x));
	}
}

static void glu_range(void *arg, size_t i0, size_t i1)
{
	const glu_op *o = arg;
	for (size_t i = i0; i < i1; i++)
		o->y[i] = act_apply(o->act, o->g[i]) * o->u[i];
}

void fwd_glu(pj_fwd *f, const float *g, const float *u, float *y, size_t n)
{
	glu_op o = { g, u, y, f->c.act };
	/* elementwise work is cheap: ranges of 4096 values per item */
	if (n < 65536) {
		glu_range(&o, 0, n);
		return;
	}
	fwd_par_for(f, n, glu_range, &o);
}

/* One query row: scores over the visible keys, softmax, weighted values. */
static void attn_row(const fwd_attn *a, size_t s, int h, size_t i, float *sc)
{
	const int kvh = h / (a->n_heads / a->n_kv);
	const size_t base = s * a->n_ctx;
	const float *q = a->q + (base + i) * a->q_ld + (size_t)h * (size_t)a->qk_dim;
	const size_t j0 = a->window && i + 1 > (size_t)a->window ? i + 1 - (size_t)a->window : 0;
	float mx = -INFINITY;
	for (size_t j = j0; j <= i; j++) {
		const float *k = a->k + (base + j) * a->k_ld + (size_t)kvh * (size_t)a->qk_dim;
		float d = fwd_dot(k, q, (size_t)a->qk_dim) * a->scale;
		if (a->softcap > 0)
			d = tanhf(d / a->softcap) * a->softcap;
		sc[j - j0] = d;
		if (d > mx)
			mx = d;
	}
	double sum = 0;
	for (size_t j = j0; j <= i; j++) {
		sc[j - j0] = expf(sc[j - j0] - mx);
		sum += sc[j - j0];
	}
	const float inv = (float)(1.0 / sum);
	float *out = a->out + (base + i) * a->out_ld + (size_t)h * (size_t)a->v_dim;
	memset(out, 0, sizeof(float) * (size_t)a->v_dim);
	for (size_t j = j0; j <= i; j++) {
		const float p = sc[j - j0] * inv;
		fwd_axpy(p, a->v + (base + j) * a->v_ld + (size_t)kvh * (size_t)a->v_dim, out, (size_t)a->v_dim);
	}
}

static void attn_range(void *arg, size_t i0, size_t i1)
{
	const fwd_attn *a = arg;
	float *sc = pj_xmalloc(sizeof(float) * a->n_ctx);
	for (size_t it = i0; it < i1; it++) {
		const size_t i = it % a->n_ctx;
		const int h = (int)((it / a->n_ctx) % (size_t)a->n_heads);
		const size_t s = it / (a->n_ctx * (size_t)a->n_heads);
		attn_row(a, s, h, i, sc);
	}
	free(sc);
}

void fwd_attention(pj_fwd *f, const fwd_attn *a)
{
	fwd_par_for(f, a->n_seq * (size_t)a->n_heads * a->n_ctx, attn_range, (void *)a);
}

/* ---- configuration ------------------------------------------------------------------- */

static double cfg_num(const cJSON *o, const char *keys, double dflt)
{
	double v;
	return o && pj_cfg_num(o, keys, &v) ? v : dflt;
}

static void rope_parse(const cJSON *o, double theta_dflt, double orig_ctx, fwd_rope *r)
{
	memset(r, 0, sizeof *r);
	r->theta = cfg_num(o, "rope_theta|base", theta_dflt);
	r->factor = cfg_num(o, "factor", 1.0);
	r->orig_ctx = cfg_num(o, "original_max_position_embeddings", orig_ctx);
	r->beta_fast = cfg_num(o, "beta_fast", 32);
	r->beta_slow = cfg_num(o, "beta_slow", 1);
	r->mscale = cfg_num(o, "mscale", 0);
	r->mscale_all_dim = cfg_num(o, "mscale_all_dim", 0);
	r->attn_factor = cfg_num(o, "attention_factor", 0);
	r->low_freq_factor = cfg_num(o, "low_freq_factor", 1);
	r->high_freq_factor = cfg_num(o, "high_freq_factor", 4);
	bool tr = true;
	r->truncate = o && pj_cfg_bool(o, "truncate", &tr) ? tr : true;
	const char *type = o ? pj_cfg_str(o, "rope_type|type") : NULL;
	r->type = FWD_ROPE_DEFAULT;
	if (type && strcmp(type, "linear") == 0)
		r->type = FWD_ROPE_LINEAR;
	else if (type && strcmp(type, "yarn") == 0)
		r->type = FWD_ROPE_YARN;
	else if (type && strcmp(type, "llama3") == 0)
		r->type = FWD_ROPE_LLAMA3;
}

/* transformers 5 keeps rope settings in rope_parameters (per layer type for
 * Gemma 3); 4.x used rope_theta + rope_scaling (+ rope_local_base_freq). */
static void rope_config(const pj_hfcfg *h, fwd_cfg *c)
{
	const cJSON *t = h->text;
	double ctx = cfg_num(t, PJ_CFG_CTX, 4096);
	const cJSON *rp = pj_cfg_get(t, "rope_parameters");
	if (cJSON_IsObject(rp) && pj_cfg_get(rp, "full_attention")) {
		rope_parse(pj_cfg_get(rp, "full_attention"), 10000, ctx, &c->rope_global);
		const cJSON *sl = pj_cfg_get(rp, "sliding_attention");
		if (cJSON_IsObject(sl)) {
			rope_parse(sl, 10000, ctx, &c->rope_local);
			c->has_local_rope = true;
		}
		return;
	}
	if (cJSON_IsObject(rp)) {
		rope_parse(rp, 10000, ctx, &c->rope_global);
		return;
	}
	const cJSON *rs = pj_cfg_get(t, "rope_scaling");
	rope_parse(cJSON_IsObject(rs) ? rs : NULL, cfg_num(t, "rope_theta", 10000), ctx, &c->rope_global);
	c->rope_global.theta = cfg_num(t, "rope_theta", 10000);
	double local;
	if (pj_cfg_num(t, "rope_local_base_freq", &local)) {
		rope_parse(NULL, local, ctx, &c->rope_local);
		c->has_local_rope = true;
	}
}

static int cfg_int(const pj_hfcfg *h, const char *keys, int dflt)
{
	int64_t v;
	return pj_hfcfg_text_int(h, keys, 0, INT32_MAX, &v) ? (int)v : dflt;
}

static pj_status act_config(const pj_hfcfg *h, fwd_cfg *c, pj_error *err)
{
	const char *act = pj_hfcfg_text_str(h, "hidden_activation|hidden_act");
	c->act = c->flags & FWD_GELU_TANH ? FWD_ACT_GELU_TANH : FWD_ACT_SILU;
	if (!act)
		return PJ_OK;
	if (strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0)
		c->act = FWD_ACT_SILU;
	else if (strcmp(act, "gelu_pytorch_tanh") == 0 || strcmp(act, "gelu_new") == 0 ||
	         strcmp(act, "gelu_fast") == 0)
		c->act = FWD_ACT_GELU_TANH;
	else if (strcmp(act, "gelu") == 0)
		c->act = FWD_ACT_GELU;
	else
		return pj_fail(err, PJ_EUNSUPPORTED, "activation '%s' is not supported by the forward pass", act);
	return PJ_OK;
}

static void moe_config(const pj_hfcfg *h, fwd_cfg *c)
{
	const cJSON *t = h->text;
	c->n_experts = cfg_int(h, PJ_CFG_EXPERTS, 0);
	c->top_k = cfg_int(h, PJ_CFG_EXPERTS_ACT, 0);
	c->n_group = cfg_int(h, "n_group", 1);
	c->topk_group = cfg_int(h, "topk_group", 1);
	bool b = false;
	c->norm_topk = (c->flags & FWD_TOPK_NORM) || (pj_hfcfg_text_bool(h, "norm_topk_prob", &b) && b);
	c->routed_scale = (float)cfg_num(t, "routed_scaling_factor", 1.0);
	/* DeepSeek-V2 configs name their scoring; V3 defaults to sigmoid. */
	const char *sf = pj_hfcfg_text_str(h, "scoring_func");
	if (sf && strcmp(sf, "sigmoid") == 0)
		c->flags |= FWD_ROUTE_SIGMOID;
	else if (sf && strcmp(sf, "softmax") == 0)
		c->flags &= ~(unsigned)FWD_ROUTE_SIGMOID;
	const char *tm = pj_hfcfg_text_str(h, "topk_method");
	if (tm && strcmp(tm, "noaux_tc") == 0)
		c->flags |= FWD_GROUP_TOP2;
	else if (tm)
		c->flags &= ~(unsigned)FWD_GROUP_TOP2;
}

static double yarn_mscale(double factor, double m)
{
	return factor <= 1 ? 1.0 : 0.1 * m * log(factor) + 1.0;
}

static pj_status hf_config(pj_model *m, fwd_cfg *c, pj_error *err)
{
	pj_hfcfg h;
	pj_hfcfg_init(&h, m->config);
	const struct fwd_family *fam = family_of(m->arch.model_type);
	if (!fam)
		return pj_fail(err, PJ_EUNSUPPORTED,
		               "%s: the forward pass does not know model_type '%s' (llama, mistral, qwen2, qwen3, "
		               "qwen3_moe, mixtral, gemma3, deepseek_v2, deepseek_v3)",
		               m->name, m->arch.model_type);
	c->flags = fam->flags;
	c->hidden = cfg_int(&h, PJ_CFG_HIDDEN, 0);
	c->n_layers = cfg_int(&h, PJ_CFG_LAYERS, 0);
	c->n_heads = cfg_int(&h, PJ_CFG_HEADS, 0);
	c->n_kv = cfg_int(&h, PJ_CFG_KV_HEADS, c->n_heads);
	c->vocab = cfg_int(&h, PJ_CFG_VOCAB, 0);
	if (c->hidden <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv <= 0 || c->n_heads % c->n_kv)
		return pj_fail(err, PJ_EFORMAT, "%s: config.json lacks consistent sizes (hidden, layers, heads)", m->name);
	c->head_dim = cfg_int(&h, "head_dim", c->hidden / c->n_heads);
	c->eps = (float)cfg_num(h.text, "rms_norm_eps|layer_norm_epsilon|layer_norm_eps", 1e-6);
	pj_status st = act_config(&h, c, err);
	if (st)
		return st;
	c->embed_scale = c->flags & FWD_EMBED_SCALE ? sqrtf((float)c->hidden) : 1.0f;
	c->attn_softcap = (float)cfg_num(h.text, "attn_logit_softcapping", 0);
	c->final_softcap = (float)cfg_num(h.text, "final_logit_softcapping", 0);
	rope_config(&h, c);
	c->rot_dim = (int)(c->head_dim * cfg_num(h.text, "partial_rotary_factor", 1.0));
	c->rot_dim &= ~1;
	/* Gemma scales queries by query_pre_attn_scalar^-1/2, not head_dim^-1/2. */
	c->attn_scale = (float)(1.0 / sqrt(cfg_num(h.text, "query_pre_attn_scalar", c->head_dim)));
	moe_config(&h, c);

	c->q_lora = cfg_int(&h, "q_lora_rank", 0);
	c->kv_lora = cfg_int(&h, "kv_lora_rank", 0);
	c->nope = cfg_int(&h, "qk_nope_head_dim", 0);
	c->rope_dim = cfg_int(&h, "qk_rope_head_dim", 0);
	c->v_dim = cfg_int(&h, "v_head_dim", 0);
	if (c->kv_lora) {
		double s = 1.0 / sqrt((double)(c->nope + c->rope_dim));
		const fwd_rope *r = &c->rope_global;
		/* DeepSeek: yarn with mscale_all_dim also sharpens the softmax */
		if (r->type == FWD_ROPE_YARN && r->mscale_all_dim > 0) {
			const double ms = yarn_mscale(r->factor, r->mscale_all_dim);
			s *= ms * ms;
		}
		c->mla_scale = (float)s;
	}
	c->window = pj_xcalloc((size_t)c->n_layers, sizeof *c->window);
	for (int l = 0; l < c->n_layers; l++) {
		const pj_layer *pl = pj_arch_layer(&m->arch, PJ_COMP_TEXT, l);
		if (pl && pl->attn == PJ_ATTN_LOCAL)
			c->window[l] = pl->window;
	}
	return PJ_OK;
}

/* ---- spare weight buffers ----------------------------------------------------------- */

/* A block's weights are ~100 MB of f32 on a mid-size model: fresh pages for
 * each block cost page faults and zeroing (15% of a check's time), so the
 * buffers of one block are kept for the next.  A spare is taken (the
 * smallest that fits) or freed like any malloc'd buffer. */
static float *spare_take(pj_fwd *f, size_t n)
{
	int best = -1;
	for (int i = 0; i < FWD_SPARE; i++)
		if (f->spare[i] && f->spare_n[i] >= n && (best < 0 || f->spare_n[i] < f->spare_n[best]))
			best = i;
	if (best < 0)
		return pj_xmalloc(sizeof(float) * (n ? n : 1));
	float *p = f->spare[best];
	f->spare[best] = NULL;
	return p;
}

/* Keeps p (at least n floats) for a later block; the smallest spare goes
 * when all slots are taken. */
static void spare_give(pj_fwd *f, float *p, size_t n)
{
	if (!p)
		return;
	int slot = 0;
	for (int i = 0; i < FWD_SPARE; i++) {
		if (!f->spare[i]) {
			slot = i;
			break;
		}
		if (f->spare_n[i] < f->spare_n[slot])
			slot = i;
	}
	if (f->spare[slot] && f->spare_n[slot] >= n) {
		free(p);
		return;
	}
	free(f->spare[slot]);
	f->spare[slot] = p;
	f->spare_n[slot] = n;
}

static void spare_drop(pj_fwd *f)
{
	for (int i = 0; i < FWD_SPARE; i++) {
		free(f->spare[i]);
		f->spare[i] = NULL;
	}
}

/* ---- open ---------------------------------------------------------------------------- */

pj_status pj_fwd_open(pj_model *m, unsigned threads, pj_fwd **out, pj_error *err)
{
	*out = NULL;
	pj_fwd *f = pj_xcalloc(1, sizeof *f);
	f->m = m;
	pj_status st = m->format == PJ_FMT_GGUF ? fwd_gguf_config(m, &f->c, err) : hf_config(m, &f->c, err);
	if (st) {
		pj_fwd_free(f);
		return st;
	}
	f->threads = threads ? threads : 1;
	if (f->threads > 1)
		f->pool = pj_pool_new(f->threads, 0);
	*out = f;
	return PJ_OK;
}

void pj_fwd_free(pj_fwd *f)
{
	if (!f)
		return;
	pj_pool_free(f->pool);
	free(f->c.window);
	free(f->c.rope_factors);
	free(f->cs_global);
	free(f->cs_local);
	spare_drop(f);
	free(f);
}

int pj_fwd_hidden_size(const pj_fwd *f) { return f->c.hidden; }
int pj_fwd_vocab(const pj_fwd *f) { return f->c.vocab; }
int pj_fwd_n_layers(const pj_fwd *f) { return f->c.n_layers; }

/* ---- weights --------------------------------------------------------------------------- */

pj_status pj_fwd_load_source(void *ctx, pj_model *m, const pj_tensor *t, float *dst, pj_error *err)
{
	(void)ctx;
	const void *src = pj_catalog_data(&m->cat, t, err);
	if (!src)
		return err ? err->code : PJ_EIO;
	if (t->dtype == PJ_DT_F8_E4M3 || t->dtype == PJ_DT_F8_E5M2) {
		char name[512];
		snprintf(name, sizeof name, "%s_scale_inv", t->name);
		const pj_tensor *s = pj_catalog_find(&m->cat, name);
		if (s) {
			const void *sd = pj_catalog_data(&m->cat, s, err);
			if (!sd)
				return err ? err->code : PJ_EIO;
			const int64_t rows = pj_tensor_nrows(t), cols = t->ne[0];
			return pj_convert_fp8_block_scaled(t->dtype, src, s->dtype, sd, (uint64_t)pj_tensor_nelem(s), rows,
			                                   cols, 128, 0, rows, dst, t->name, err);
		}
	}
	return pj_convert_rows_f32(t->dtype, src, dst, pj_tensor_nrows(t), t->ne[0], t->name, err);
}

/* Keys: the type the values were rounded through in the low bits, bit 16
 * for importance weights, bit 17 for "the source as it is" (a source in
 * Q8_0 and a round trip through Q8_0 are different values). */
uint64_t pj_fwd_source_key(void *ctx, const pj_tensor *t)
{
	(void)ctx;
	return (1ull << 17) | (uint64_t)t->dtype;
}

uint64_t pj_fwd_type_key(const pj_tensor *t, pj_dtype type, bool imatrix)
{
	if (type == t->dtype)
		return pj_fwd_source_key(NULL, t);
	return (uint64_t)type | (imatrix ? 1ull << 16 : 0);
}

static pj_status load_into(pj_fwd *f, const pj_fwd_weights *w, const pj_tensor *t, float *dst, float **out,
                           pj_error *err)
{
	*out = dst;
	pj_status st = w->load(w->ctx, f->m, t, dst, err);
	if (st) {
		free(dst);
		*out = NULL;
	}
	return st;
}

static pj_status load_one(pj_fwd *f, const pj_fwd_weights *w, const pj_tensor *t, float **out, pj_error *err)
{
	return load_into(f, w, t, pj_xmalloc(sizeof(float) * (size_t)pj_tensor_nelem(t)), out, err);
}

/* load_one for a block's matrices: into a spare buffer. */
static pj_status load_spare(pj_fwd *f, const pj_fwd_weights *w, const pj_tensor *t, float **out, pj_error *err)
{
	return load_into(f, w, t, spare_take(f, (size_t)pj_tensor_nelem(t)), out, err);
}

static int exp_slot(pj_role r)
{
	switch (r) {
	case PJ_ROLE_EXP_GATE: return FWD_EG;
	case PJ_ROLE_EXP_UP: return FWD_EU;
	case PJ_ROLE_EXP_DOWN: return FWD_ED;
	default: return -1;
	}
}

/* "x.bias" belongs to the projection whose weight is "x.weight". */
static void attach_bias(fwd_layer *L, const pj_tensor *b)
{
	const size_t n = strlen(b->name);
	if (n < 5 || strcmp(b->name + n - 5, ".bias") != 0)
		return;
	for (int r = 0; r < PJ_ROLE_COUNT; r++) {
		const pj_tensor *t = L->t[r];
		if (t && strncmp(t->name, b->name, n - 4) == 0 && strcmp(t->name + n - 4, "weight") == 0) {
			L->bt[r] = b;
			return;
		}
	}
}

static void layer_free(pj_fwd *f, fwd_layer *L)
{
	for (int r = 0; r < PJ_ROLE_COUNT; r++) {
		spare_give(f, L->w[r], L->t[r] ? (size_t)pj_tensor_nelem(L->t[r]) : 0);
		free(L->b[r]);
	}
	for (int k = 0; k < FWD_NEXP; k++) {
		if (L->stacked[k])
			spare_give(f, L->estack[k], (size_t)pj_tensor_nelem(L->et[k][0]));
		else
			for (int e = 0; L->ew[k] && e < L->n_experts; e++)
				spare_give(f, L->ew[k][e], (size_t)pj_tensor_nelem(L->et[k][e]));
		free(L->ew[k]);
		free(L->et[k]);
	}
	memset(L, 0, sizeof *L);
}

/* Finds the tensors of text block `layer` (-1: the model-level ones). */
static pj_status layer_find(pj_fwd *f, int layer, fwd_layer *L, pj_error *err)
{
	memset(L, 0, sizeof *L);
	const pj_catalog *cat = &f->m->cat;
	const pj_tensor *bias[64];
	size_t nb = 0;
	L->n_experts = f->c.n_experts;
	for (size_t i = 0; i < cat->n; i++) {
		const pj_tensor *t = &cat->t[i];
		if (t->comp != PJ_COMP_TEXT || t->layer != layer || t->role == PJ_ROLE_WEIGHT_SCALE)
			continue;
		const int k = exp_slot(t->role);
		if (k >= 0) {
			if (!L->et[k])
				L->et[k] = pj_xcalloc((size_t)(L->n_experts ? L->n_experts : 1), sizeof *L->et[k]);
			if (t->n_experts > 0) {
				L->stacked[k] = true;
				L->et[k][0] = t;
			} else if (t->expert >= 0 && t->expert < L->n_experts) {
				L->et[k][t->expert] = t;
			} else {
				return pj_fail(err, PJ_EFORMAT, "%s: expert %d outside 0..%d", t->name, t->expert,
				               L->n_experts - 1);
			}
		} else if (t->role == PJ_ROLE_BIAS) {
			if (nb < sizeof bias / sizeof bias[0])
				bias[nb++] = t;
		} else if (t->role != PJ_ROLE_UNKNOWN) {
			L->t[t->role] = t;
		}
	}
	for (size_t i = 0; i < nb; i++)
		attach_bias(L, bias[i]);
	return PJ_OK;
}

void pj_fwd_set_act(pj_fwd *f, pj_fwd_act a)
{
	f->act = a;
}

static pj_dtype vec_dot_of(const pj_fwd_weights *w, const pj_tensor *t)
{
	return fwd_act_vec_dot_type(w->type ? w->type(w->ctx, t) : t->dtype);
}

static pj_status layer_load(pj_fwd *f, const pj_fwd_weights *w, fwd_layer *L, pj_error *err)
{
	pj_status st = PJ_OK;
	for (int r = 0; r < PJ_ROLE_COUNT && !st; r++) {
		if (!L->t[r])
			continue;
		L->vd[r] = vec_dot_of(w, L->t[r]);
		st = load_spare(f, w, L->t[r], &L->w[r], err);
		if (!st && L->bt[r])
			st = load_one(f, w, L->bt[r], &L->b[r], err);
	}
	for (int k = 0; k < FWD_NEXP && !st; k++) {
		if (!L->et[k])
			continue;
		L->ew[k] = pj_xcalloc((size_t)L->n_experts, sizeof *L->ew[k]);
		if (L->et[k][0])
			L->evd[k] = vec_dot_of(w, L->et[k][0]);
		if (L->stacked[k]) {
			const pj_tensor *t = L->et[k][0];
			if (t->n_experts != L->n_experts)
				return pj_fail(err, PJ_EFORMAT, "%s: %d experts, config says %d", t->name, t->n_experts,
				               L->n_experts);
			st = load_spare(f, w, t, &L->estack[k], err);
			for (int e = 0; !st && e < L->n_experts; e++)
				L->ew[k][e] = L->estack[k] + (size_t)e * (size_t)(t->ne[0] * t->ne[1]);
			continue;
		}
		for (int e = 0; e < L->n_experts && !st; e++) {
			if (!L->et[k][e])
				return pj_fail(err, PJ_EFORMAT, "layer %d: expert %d lacks a %s tensor", L->t[PJ_ROLE_ATTN_NORM]
				               ? L->t[PJ_ROLE_ATTN_NORM]->layer : -1, e, pj_role_name(k == FWD_EG ? PJ_ROLE_EXP_GATE
				               : k == FWD_EU ? PJ_ROLE_EXP_UP : PJ_ROLE_EXP_DOWN));
			st = load_spare(f, w, L->et[k][e], &L->ew[k][e], err);
		}
	}
	return st ? st : fwd_layout_fix(f, L, err);
}

/* ---- the layer loop ---------------------------------------------------------------------- */

static pj_status need(const fwd_layer *L, pj_role r, int layer, pj_error *err)
{
	if (L->w[r])
		return PJ_OK;
	return pj_fail(err, PJ_EFORMAT, "text block %d has no %s tensor", layer, pj_role_name(r));
}

static void add_rows(float *x, const float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] += y[i];
}

static pj_status layer_forward(pj_fwd *f, const fwd_layer *L, int layer, float *x, size_t n_seq, size_t n_ctx,
                               const float *rope_cs, pj_error *err)
{
	const size_t n_tok = n_seq * n_ctx, d = (size_t)f->c.hidden;
	pj_status st;
	if ((st = need(L, PJ_ROLE_ATTN_NORM, layer, err)) || (st = need(L, PJ_ROLE_FFN_NORM, layer, err)))
		return st;
	float *h = pj_xmalloc(sizeof(float) * n_tok * d);
	float *o = pj_xmalloc(sizeof(float) * n_tok * d);
	fwd_rmsnorm(f, x, h, n_tok, d, d, L->w[PJ_ROLE_ATTN_NORM]);
	st = fwd_attn_block(f, L, layer, h, n_seq, n_ctx, rope_cs, o, err);
	if (!st) {
		/* Gemma: the block's output is normed before the residual add */
		if (L->w[PJ_ROLE_ATTN_POST_NORM])
			fwd_rmsnorm(f, o, o, n_tok, d, d, L->w[PJ_ROLE_ATTN_POST_NORM]);
		add_rows(x, o, n_tok * d);
		fwd_rmsnorm(f, x, h, n_tok, d, d, L->w[PJ_ROLE_FFN_NORM]);
		st = fwd_ffn_block(f, L, h, n_tok, o, err);
	}
	if (!st) {
		if (L->w[PJ_ROLE_FFN_POST_NORM])
			fwd_rmsnorm(f, o, o, n_tok, d, d, L->w[PJ_ROLE_FFN_POST_NORM]);
		add_rows(x, o, n_tok * d);
	}
	free(h);
	free(o);
	if (st)
		pj_error_prefix(err, "text block %d", layer);
	return st;
}

static pj_status embed(pj_fwd *f, const pj_fwd_weights *w, const int32_t *ids, size_t n_tok, float *x,
                       pj_error *err)
{
	fwd_layer G;
	pj_status st = layer_find(f, -1, &G, err);
	const pj_tensor *t = G.t[PJ_ROLE_TOKEN_EMBD];
	if (!st && !t)
		st = pj_fail(err, PJ_EFORMAT, "%s: no token embedding tensor", f->m->name);
	float *e = NULL;
	if (!st)
		st = load_one(f, w, t, &e, err);
	const size_t d = (size_t)f->c.hidden;
	for (size_t i = 0; !st && i < n_tok; i++) {
		if (ids[i] < 0 || ids[i] >= t->ne[1]) {
			st = pj_fail(err, PJ_EUSAGE, "token id %d outside the vocabulary (0..%lld)", ids[i],
			             (long long)t->ne[1] - 1);
			break;
		}
		for (size_t k = 0; k < d; k++)
			x[i * d + k] = e[(size_t)ids[i] * d + k] * f->c.embed_scale;
	}
	free(e);
	return st;
}

static bool cancelled(const pj_fwd_opts *o)
{
	return o && o->progress && atomic_load_explicit(&o->progress->cancel, memory_order_relaxed);
}

static void progress(const pj_fwd_opts *o)
{
	if (o && o->progress)
		pj_progress_add(o->progress, 1, 0);
}

static const pj_fwd_weights SOURCE = { pj_fwd_load_source, NULL, pj_fwd_source_key, NULL };

pj_status pj_fwd_embed(pj_fwd *f, const pj_fwd_weights *w, const int32_t *ids, size_t n_tok, float *x,
                       pj_error *err)
{
	return embed(f, w ? w : &SOURCE, ids, n_tok, x, err);
}

/* The rope tables are the same for every layer: made once per n_ctx. */
static void rope_tables(pj_fwd *f, size_t n_ctx)
{
	if (f->cs_global && f->cs_ctx == n_ctx)
		return;
	free(f->cs_global);
	free(f->cs_local);
	const int rot = f->c.kv_lora ? f->c.rope_dim : f->c.rot_dim;
	f->cs_global = fwd_rope_table(&f->c.rope_global, rot, n_ctx);
	f->cs_local = f->c.has_local_rope ? fwd_rope_table(&f->c.rope_local, rot, n_ctx) : NULL;
	f->cs_ctx = n_ctx;
}

pj_status pj_fwd_layer(pj_fwd *f, const pj_fwd_weights *w, int layer, float *x, size_t n_seq, size_t n_ctx,
                       int32_t *route, pj_error *err)
{
	if (layer < 0 || layer >= f->c.n_layers)
		return pj_fail(err, PJ_EUSAGE, "no text block %d", layer);
	rope_tables(f, n_ctx);
	fwd_layer L;
	pj_status st = layer_find(f, layer, &L, err);
	if (!st)
		st = layer_load(f, w ? w : &SOURCE, &L, err);
	L.route = route;
	const float *cs = f->c.window[layer] && f->cs_local ? f->cs_local : f->cs_global;
	if (!st)
		st = layer_forward(f, &L, layer, x, n_seq, n_ctx, cs, err);
	layer_free(f, &L);
	return st;
}

pj_status pj_fwd_final_norm(pj_fwd *f, const pj_fwd_weights *w, const float *x, size_t n_tok, float *out,
                            pj_error *err)
{
	spare_drop(f);   /* the blocks are done: no spares held beside the head */
	fwd_layer G;
	pj_status st = layer_find(f, -1, &G, err);
	if (!st && !G.t[PJ_ROLE_OUTPUT_NORM])
		st = pj_fail(err, PJ_EFORMAT, "%s: no final norm tensor", f->m->name);
	float *nw = NULL;
	if (!st)
		st = load_one(f, w ? w : &SOURCE, G.t[PJ_ROLE_OUTPUT_NORM], &nw, err);
	if (!st)
		fwd_rmsnorm(f, x, out, n_tok, (size_t)f->c.hidden, (size_t)f->c.hidden, nw);
	free(nw);
	return st;
}

static bool has_role(const pj_fwd *f, int layer, pj_role r)
{
	const pj_catalog *cat = &f->m->cat;
	for (size_t i = 0; i < cat->n; i++)
		if (cat->t[i].comp == PJ_COMP_TEXT && cat->t[i].layer == layer && cat->t[i].role == r)
			return true;
	return false;
}

size_t pj_fwd_stage_tensors(pj_fwd *f, int stage, const pj_tensor **out, size_t max)
{
	const bool tied = !has_role(f, -1, PJ_ROLE_OUTPUT);
	const pj_catalog *cat = &f->m->cat;
	const bool model_level = stage < 0 || stage >= f->c.n_layers;
	size_t n = 0;
	for (size_t i = 0; i < cat->n; i++) {
		const pj_tensor *t = &cat->t[i];
		if (t->comp != PJ_COMP_TEXT)
			continue;
		if (model_level) {
			if (t->layer != -1)
				continue;
			/* the embedding stage reads the embedding; the last one the
			 * final norm and the head (the embedding again when tied) */
			const bool head = t->role == PJ_ROLE_OUTPUT_NORM || t->role == PJ_ROLE_OUTPUT;
			const bool emb = t->role == PJ_ROLE_TOKEN_EMBD;
			if (stage < 0 ? !emb : !(head || (emb && tied)))
				continue;
		} else if (t->layer != stage) {
			continue;
		}
		if (n < max)
			out[n] = t;
		n++;
	}
	return n;
}

int pj_fwd_n_experts(const pj_fwd *f) { return f->c.n_experts; }
int pj_fwd_top_k(const pj_fwd *f) { return f->c.n_experts > 0 ? f->c.top_k : 0; }

bool pj_fwd_layer_is_moe(pj_fwd *f, int layer)
{
	return has_role(f, layer, PJ_ROLE_ROUTER);
}

pj_status pj_fwd_hidden(pj_fwd *f, const int32_t *ids, size_t n_seq, size_t n_ctx, const pj_fwd_opts *o,
                        float *out, pj_error *err)
{
	const pj_fwd_weights *w = o && o->weights ? o->weights : &SOURCE;
	const size_t n_tok = n_seq * n_ctx;
	float *x = pj_xmalloc(sizeof(float) * (n_tok ? n_tok : 1) * (size_t)f->c.hidden);
	pj_status st = embed(f, w, ids, n_tok, x, err);
	progress(o);
	for (int l = 0; !st && l < f->c.n_layers; l++) {
		if (cancelled(o)) {
			st = pj_fail(err, PJ_ECANCELED, "cancelled");
			break;
		}
		st = pj_fwd_layer(f, w, l, x, n_seq, n_ctx, NULL, err);
		progress(o);
	}
	if (!st)
		st = pj_fwd_final_norm(f, w, x, n_tok, out, err);
	free(x);
	return st;
}

/* ---- the head ------------------------------------------------------------------------------ */

struct pj_fwd_head {
	float *w;
	pj_dtype vd;
};

pj_status pj_fwd_head_load(pj_fwd *f, const pj_fwd_weights *w, pj_fwd_head **out, pj_error *err)
{
	*out = NULL;
	fwd_layer G;
	pj_status st = layer_find(f, -1, &G, err);
	if (st)
		return st;
	/* Tied embeddings: the token embedding doubles as the head. */
	const pj_tensor *t = G.t[PJ_ROLE_OUTPUT] ? G.t[PJ_ROLE_OUTPUT] : G.t[PJ_ROLE_TOKEN_EMBD];
	if (!t)
		return pj_fail(err, PJ_EFORMAT, "%s: no output head", f->m->name);
	if (t->ne[0] != f->c.hidden || t->ne[1] != f->c.vocab)
		return pj_fail(err, PJ_EFORMAT, "%s: %lld x %lld, expected %d x %d", t->name, (long long)t->ne[0],
		               (long long)t->ne[1], f->c.hidden, f->c.vocab);
	pj_fwd_head *h = pj_xcalloc(1, sizeof *h);
	h->vd = vec_dot_of(w ? w : &SOURCE, t);
	st = load_one(f, w ? w : &SOURCE, t, &h->w, err);
	if (st) {
		free(h);
		return st;
	}
	*out = h;
	return PJ_OK;
}

void pj_fwd_head_free(pj_fwd_head *h)
{
	if (!h)
		return;
	free(h->w);
	free(h);
}

void pj_fwd_logits(pj_fwd *f, const pj_fwd_head *h, const float *hidden, size_t n, float *logits)
{
	const size_t v = (size_t)f->c.vocab;
	fwd_matmul_t(f, h->vd, hidden, n, (size_t)f->c.hidden, h->w, NULL, v, logits, v);
	const float cap = f->c.final_softcap;
	if (cap > 0)
		for (size_t i = 0; i < n * v; i++)
			logits[i] = tanhf(logits[i] / cap) * cap;
}
