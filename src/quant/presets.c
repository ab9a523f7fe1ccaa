/* presets.c - llama.cpp's ftype mixes as a rule table, and the brief's
 * architecture-aware presets.
 *
 * The mix rules were read from llama.cpp (src/llama-quant.cpp,
 * llama_tensor_get_type_impl) and written down as data: which type a tensor
 * of a category gets in an ftype, under which conditions.  llama.cpp's
 * if/else chain becomes an ordered list where the first matching row wins;
 * a row with type DEF ("keep the ftype's default type") closes a branch of
 * the chain so that later rows cannot apply, exactly as the `else` did.
 * The golden tests (tests/test_presets.sh) hold every row to llama-quantize's
 * output on five architectures. */
#include "config.h"
#include "presets.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/roles.h"

/* ---- llama.cpp ftype mixes --------------------------------------------------- */

/* llama_ftype values (general.file_type). */
enum {
	FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9, FT_Q2_K = 10, FT_Q3_K_S = 11,
	FT_Q3_K_M = 12, FT_Q3_K_L = 13, FT_Q4_K_S = 14, FT_Q4_K_M = 15, FT_Q5_K_S = 16, FT_Q5_K_M = 17,
	FT_Q6_K = 18, FT_IQ2_XXS = 19, FT_IQ2_XS = 20, FT_Q2_K_S = 21, FT_IQ3_XS = 22, FT_IQ3_XXS = 23,
	FT_IQ1_S = 24, FT_IQ4_NL = 25, FT_IQ3_S = 26, FT_IQ3_M = 27, FT_IQ2_S = 28, FT_IQ2_M = 29,
	FT_IQ4_XS = 30, FT_IQ1_M = 31, FT_TQ1_0 = 36, FT_TQ2_0 = 37, FT_MXFP4_MOE = 38,
};
#define F(x) (1ull << FT_##x)
#define F_ALL (~0ull)
/* The very-low-bit mixes llama.cpp handles in a branch of their own. */
#define F_IQ2G (F(IQ2_XXS) | F(IQ2_XS) | F(IQ1_S) | F(IQ2_S) | F(IQ2_M) | F(IQ1_M))
#define F_NORMAL (~(F_IQ2G | F(MXFP4_MOE)))

#define C(x) (1u << PJ_QC_##x)
#define C_ALL (~0u)
#define C_VLIKE (C(ATTN_V) | C(ATTN_QKV) | C(ATTN_KV_B))   /* category_is_attn_v */

/* Conditions (a row has up to two, both must hold). */
typedef enum cond {
	K_NONE,
	K_GQA4,           /* n_head / n_head_kv >= 4 */
	K_NEXP4,          /* n_expert >= 4 */
	K_NEXP8,          /* n_expert == 8 (llama.cpp's Mixtral-era special case) */
	K_IMAT, K_NO_IMAT,
	K_FALCON, K_NOT_FALCON,
	K_70B,            /* LLaMA-2-70B shaped: 80 layers, GQA */
	K_WV_LT2, K_WV_LT4, K_WV_MORE,     /* attn_v counter: < 2, < 4, use_more_bits */
	K_L_FIRST8, K_L_FIRST16, K_L_MORE, K_L_MID, /* layer of ffn_down/gate/up vs n_layer */
	K_CNT_FIRST8,     /* the raw ffn_down counter < n_layer/8 (the IQ2 branch uses it) */
	K_NX_ODD,         /* row length not a multiple of the default type's block */
	K_DEF_NOT_Q8_0,   /* the default type is not Q8_0 */
	K_STACKED,        /* a 3-D (stacked expert) tensor */
	K_FROM_Q3Q4,      /* the type chosen so far is Q3_K or Q4_K */
} cond;

#define DEF PJ_DT_COUNT   /* keep the ftype's default type */

typedef struct mix_row {
	uint64_t ftypes;
	unsigned cats;
	cond c1, c2;
	pj_dtype type;
} mix_row;

#define R(ft, cat, a, b, t) { ft, cat, K_##a, K_##b, PJ_DT_##t }

/* llama_tensor_get_type_impl, branch by branch. */
static const mix_row MIX[] = {
	/* output.weight, and token_embd.weight when the embeddings are tied */
	R(F(MXFP4_MOE), C(OUTPUT), NONE, NONE, Q8_0),
	R(F_ALL, C(OUTPUT), FALCON, NONE, Q8_0),
	R(F_ALL, C(OUTPUT), NX_ODD, NONE, Q8_0),
	R(F(IQ2_XXS) | F(IQ2_XS) | F(IQ3_XXS) | F(IQ1_S) | F(IQ2_S) | F(IQ2_M) | F(IQ1_M), C(OUTPUT), NONE, NONE, Q5_K),
	R(F_ALL, C(OUTPUT), DEF_NOT_Q8_0, NONE, Q6_K),
	R(F_ALL, C(OUTPUT), NONE, NONE, COUNT),
	/* MXFP4_MOE: stacked experts MXFP4, everything else Q8_0 */
	R(F(MXFP4_MOE), C_ALL, STACKED, NONE, MXFP4),
	R(F(MXFP4_MOE), C_ALL, NONE, NONE, Q8_0),
	/* token_embd.weight (untied) */
	R(F(IQ2_XXS) | F(IQ2_XS) | F(IQ1_S) | F(IQ1_M), C(TOKEN_EMBD), NONE, NONE, Q2_K),
	R(F(IQ2_S) | F(IQ2_M) | F(IQ3_XXS), C(TOKEN_EMBD), NONE, NONE, IQ3_S),
	R(F(TQ1_0) | F(TQ2_0), C(TOKEN_EMBD), NONE, NONE, Q4_K),
	R(F_ALL, C(TOKEN_EMBD), NONE, NONE, COUNT),
	/* the 1-2 bit mixes */
	R(F_IQ2G, C_VLIKE, GQA4, NONE, Q4_K),
	R(F_IQ2G, C_VLIKE, NEXP4, NONE, Q4_K),
	R(F(IQ2_S) | F(IQ2_M), C_VLIKE, NONE, NONE, IQ3_S),
	R(F_IQ2G, C_VLIKE, NONE, NONE, Q2_K),
	R(F_IQ2G, C(ATTN_K), NEXP8, NONE, Q4_K),
	R(F(IQ2_S) | F(IQ2_M), C(FFN_DOWN), CNT_FIRST8, NONE, IQ3_S),
	R(F_IQ2G, C(FFN_DOWN), CNT_FIRST8, NONE, Q2_K),
	R(F_IQ2G, C(ATTN_OUTPUT), NEXP8, NONE, Q5_K),
	R(F(IQ1_S) | F(IQ1_M), C(ATTN_OUTPUT), NONE, NONE, IQ2_XXS),
	R(F(IQ2_S) | F(IQ2_M), C(ATTN_OUTPUT), NONE, NONE, IQ3_S),
	R(F_IQ2G, C_ALL, NONE, NONE, COUNT),
	/* attn_v (and fused qkv, MLA kv_b: llama.cpp treats them alike; its
	 * later attn_qkv branch is unreachable for that reason) */
	R(F(Q2_K), C_VLIKE, GQA4, NONE, Q4_K),
	R(F(Q2_K), C_VLIKE, NONE, NONE, Q3_K),
	R(F(Q2_K_S), C_VLIKE, GQA4, NONE, Q4_K),
	R(F(IQ3_XXS), C_VLIKE, GQA4, NONE, Q4_K),
	R(F(IQ3_XXS), C_VLIKE, NO_IMAT, NONE, IQ3_S),
	R(F(IQ3_XXS), C_VLIKE, NONE, NONE, IQ3_XXS),
	R(F(IQ3_XS) | F(IQ3_S), C_VLIKE, GQA4, NONE, Q4_K),
	R(F(IQ3_M), C_VLIKE, NONE, NONE, Q4_K),
	R(F(Q3_K_M), C_VLIKE, WV_LT2, NONE, Q5_K),
	R(F(Q3_K_M), C_VLIKE, NONE, NONE, Q4_K),
	R(F(Q3_K_L), C_VLIKE, NONE, NONE, Q5_K),
	R(F(IQ4_NL) | F(IQ4_XS), C_VLIKE, GQA4, NONE, Q5_K),
	R(F(Q4_K_M) | F(Q5_K_M), C_VLIKE, WV_MORE, NONE, Q6_K),
	R(F(Q4_K_S), C_VLIKE, WV_LT4, NONE, Q5_K),
	R(F_ALL, C_VLIKE, NONE, NONE, COUNT),
	/* attn_k, attn_q */
	R(F_ALL, C(ATTN_K), NEXP8, NONE, Q8_0),
	R(F(IQ3_XS), C(ATTN_K) | C(ATTN_Q), NONE, NONE, IQ3_XXS),
	R(F(IQ3_XXS), C(ATTN_K) | C(ATTN_Q), NONE, NONE, IQ2_S),
	R(F_ALL, C(ATTN_K) | C(ATTN_Q), NONE, NONE, COUNT),
	/* ffn_down (layer: from the name in MoE models, else the counter) */
	R(F(Q2_K), C(FFN_DOWN), NONE, NONE, Q3_K),
	R(F(Q2_K_S), C(FFN_DOWN), L_FIRST8, NONE, Q4_K),
	R(F(Q2_K_S), C(FFN_DOWN), NONE, NONE, COUNT),
	R(F(IQ3_XXS), C(FFN_DOWN), NO_IMAT, L_FIRST8, Q4_K),
	R(F(IQ3_XXS), C(FFN_DOWN), NO_IMAT, NONE, Q3_K),
	R(F(Q3_K_M), C(FFN_DOWN), L_FIRST16, NONE, Q5_K),
	R(F(Q3_K_M), C(FFN_DOWN), NOT_FALCON, NONE, Q4_K),
	R(F(Q3_K_M), C(FFN_DOWN), L_MORE, NONE, Q4_K),
	R(F(Q3_K_M), C(FFN_DOWN), NONE, NONE, Q3_K),
	R(F(IQ3_M), C(FFN_DOWN), L_FIRST8, NONE, Q4_K),
	R(F(IQ3_M), C(FFN_DOWN), NEXP8, L_MORE, Q4_K),
	R(F(Q3_K_L), C(FFN_DOWN), FALCON, NONE, Q4_K),
	R(F(Q3_K_L), C(FFN_DOWN), NONE, NONE, Q5_K),
	R(F(Q4_K_M), C(FFN_DOWN), FALCON, L_FIRST16, Q6_K),
	R(F(Q4_K_M), C(FFN_DOWN), FALCON, L_MORE, Q5_K),
	R(F(Q4_K_M), C(FFN_DOWN), FALCON, NONE, Q4_K),
	R(F(Q4_K_M), C(FFN_DOWN), L_MORE, NONE, Q6_K),
	R(F(Q4_K_M), C(FFN_DOWN), NONE, NONE, COUNT),
	R(F(IQ4_NL) | F(IQ4_XS), C(FFN_DOWN), L_FIRST8, NO_IMAT, Q5_K),
	R(F(Q5_K_M), C(FFN_DOWN), L_MORE, NONE, Q6_K),
	R(F(Q4_K_S), C(FFN_DOWN), NOT_FALCON, L_FIRST8, Q5_K),
	R(F(Q4_0), C(FFN_DOWN), IMAT, L_FIRST8, Q4_1),
	R(F(Q5_0), C(FFN_DOWN), IMAT, L_FIRST8, Q5_1),
	R(F_ALL, C(FFN_DOWN), NONE, NONE, COUNT),
	/* attn_output */
	R(F(Q2_K) | F(IQ3_XS) | F(IQ3_XXS) | F(Q3_K_S) | F(Q3_K_M) | F(IQ4_NL) | F(Q4_K_S) | F(Q4_K_M) | F(IQ3_S) |
	  F(IQ3_M) | F(IQ4_XS), C(ATTN_OUTPUT), NOT_FALCON, NEXP8, Q5_K),
	R(F_ALL, C(ATTN_OUTPUT), NOT_FALCON, NEXP8, COUNT),
	R(F(Q2_K), C(ATTN_OUTPUT), NOT_FALCON, NONE, Q3_K),
	R(F(IQ3_XXS), C(ATTN_OUTPUT), NOT_FALCON, NONE, IQ3_S),
	R(F(Q3_K_M) | F(IQ3_M), C(ATTN_OUTPUT), NOT_FALCON, NONE, Q4_K),
	R(F(Q3_K_L), C(ATTN_OUTPUT), NOT_FALCON, NONE, Q5_K),
	R(F(Q3_K_L), C(ATTN_OUTPUT), FALCON, NONE, Q4_K),
	R(F_ALL, C(ATTN_OUTPUT), NONE, NONE, COUNT),
	/* ffn_gate, ffn_up */
	R(F(IQ3_XS), C(FFN_GATE) | C(FFN_UP), L_MID, NONE, IQ3_XXS),
};

/* Applied after MIX to attn_v-like tensors of the ordinary mixes, in order. */
static const mix_row MIX_POST[] = {
	/* 70B: 8 heads share attn_v, so it is 8x smaller than attn_q - cheap to upgrade */
	R(F_NORMAL, C_VLIKE, 70B, FROM_Q3Q4, Q5_K),
	R(F_NORMAL, C_VLIKE, NEXP8, NONE, Q8_0),
};
#undef R

typedef struct mix_ctx {
	unsigned ftype;
	pj_dtype deflt;
	bool imatrix, falcon, bailing, is_70b, gguf;
	int n_expert, n_gqa, n_layer, n_wv;
	int i_wv, i_down, i_gate, i_up;
} mix_ctx;

static bool more_bits(int i, int n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* llama.cpp's layer_info: the block from the name in MoE models (experts
 * are not counted in order there), else the running counter. */
static int layer_info(const mix_ctx *x, const pj_plan_entry *e)
{
	int counter = e->cat == PJ_QC_FFN_DOWN ? x->i_down : e->cat == PJ_QC_FFN_GATE ? x->i_gate : x->i_up;
	return x->n_expert > 1 ? e->layer : counter;
}

static bool cond_holds(cond c, const mix_ctx *x, const pj_plan_entry *e, pj_dtype cur)
{
	const int n = x->n_layer;
	switch (c) {
	case K_NONE: return true;
	case K_GQA4: return x->n_gqa >= 4;
	case K_NEXP4: return x->n_expert >= 4;
	case K_NEXP8: return x->n_expert == 8;
	case K_IMAT: return x->imatrix;
	case K_NO_IMAT: return !x->imatrix;
	case K_FALCON: return x->falcon;
	case K_NOT_FALCON: return !x->falcon;
	case K_70B: return x->is_70b;
	case K_WV_LT2: return x->i_wv < 2;
	case K_WV_LT4: return x->i_wv < 4;
	case K_WV_MORE: return more_bits(x->i_wv, x->n_wv);
	case K_L_FIRST8: return layer_info(x, e) < n / 8;
	case K_L_FIRST16: return layer_info(x, e) < n / 16;
	case K_L_MORE: return more_bits(layer_info(x, e), n);
	case K_L_MID: {
		int i = layer_info(x, e);
		return i >= n / 8 && i < 7 * n / 8;
	}
	case K_CNT_FIRST8: return x->i_down < n / 8;
	case K_NX_ODD: return e->t->ne[0] % pj_dtype_info_of(x->deflt)->block != 0;
	case K_DEF_NOT_Q8_0: return x->deflt != PJ_DT_Q8_0;
	case K_STACKED:
		/* bailingmoe3's MLA projections are 3-D too: there only experts count.
		 * Hugging Face experts are one 2-D tensor each: the role says. */
		if (!x->gguf)
			return pj_role_info_of(e->t->role)->group == PJ_RG_EXPERT;
		return e->t->ne[2] > 1 && (!x->bailing || e->cat == PJ_QC_FFN_UP || e->cat == PJ_QC_FFN_GATE ||
		                           e->cat == PJ_QC_FFN_DOWN);
	case K_FROM_Q3Q4: return cur == PJ_DT_Q3_K || cur == PJ_DT_Q4_K;
	}
	return false;
}

static bool row_matches(const mix_row *r, const mix_ctx *x, const pj_plan_entry *e, pj_qcat cat, pj_dtype cur)
{
	return (r->ftypes & (1ull << x->ftype)) && (r->cats & (1u << cat)) && cond_holds(r->c1, x, e, cur) &&
	       cond_holds(r->c2, x, e, cur);
}

#define N_MIX (sizeof MIX / sizeof MIX[0])
_Static_assert(N_MIX < 256, "mix_rows holds row numbers in bytes");

/* MIX's rows for this ftype, per category, in order: an entry then tests
 * the conditions of a handful of rows instead of scanning the table. */
typedef struct mix_rows {
	uint8_t n[PJ_QC_COUNT];
	uint8_t row[PJ_QC_COUNT][N_MIX];
} mix_rows;

static void mix_rows_init(mix_rows *m, unsigned ftype)
{
	memset(m->n, 0, sizeof m->n);
	for (size_t r = 0; r < N_MIX; r++)
		for (unsigned c = 0; c < PJ_QC_COUNT; c++)
			if ((MIX[r].ftypes & (1ull << ftype)) && (MIX[r].cats & (1u << c)))
				m->row[c][m->n[c]++] = (uint8_t)r;
}

static const char *const COND_TEXT[] = {
	[K_NONE] = "", [K_GQA4] = "GQA >= 4", [K_NEXP4] = ">= 4 experts", [K_NEXP8] = "8 experts",
	[K_IMAT] = "with imatrix", [K_NO_IMAT] = "without imatrix", [K_FALCON] = "falcon",
	[K_NOT_FALCON] = "", [K_70B] = "70B", [K_WV_LT2] = "first 2 attn_v", [K_WV_LT4] = "first 4 attn_v",
	[K_WV_MORE] = "use_more_bits layer", [K_L_FIRST8] = "first 1/8 of layers",
	[K_L_FIRST16] = "first 1/16 of layers", [K_L_MORE] = "use_more_bits layer",
	[K_L_MID] = "middle layers", [K_CNT_FIRST8] = "first 1/8 of ffn_down", [K_NX_ODD] = "odd row length",
	[K_DEF_NOT_Q8_0] = "", [K_STACKED] = "stacked experts", [K_FROM_Q3Q4] = "",
};

static void note_row(pj_plan_entry *e, const pj_ftype *ft, const mix_row *r, pj_dtype t)
{
	e->why = (pj_reason){ .why = PJ_WHY_MIX, .src = ft, .type = t, .c1 = (uint8_t)r->c1, .c2 = (uint8_t)r->c2 };
}

/* Model facts the mixes depend on, from the GGUF header when there is one
 * (llama.cpp reads those keys), else from detection. */
static void mix_ctx_init(mix_ctx *x, const pj_plan *p, const pj_ftype *ft)
{
	const pj_model *m = p->m;
	const pj_arch *a = &m->arch;
	memset(x, 0, sizeof *x);
	x->ftype = ft->ftype;
	x->deflt = ft->type;
	x->imatrix = p->has_imatrix;
	x->gguf = p->gguf_names;
	const char *arch = a->arch[0] ? a->arch : a->model_type;
	x->falcon = strcmp(arch, "falcon") == 0;
	x->bailing = strcmp(arch, "bailingmoe3") == 0;
	int n_head = a->n_heads, n_head_kv = a->n_kv_heads, n_layer = a->n_layers + a->n_mtp_layers;
	x->n_expert = a->n_experts;
	if (a->traits & PJ_TRAIT(MLA))
		n_head_kv = 1;   /* the converter writes MLA's latent as one kv head */
	uint64_t v;
	if (m->gguf) {
		if (pj_gguf_arch_u64(m->gguf, "block_count", &v))
			n_layer = (int)v;
		if (pj_gguf_arch_u64(m->gguf, "attention.head_count", &v))
			n_head = (int)v;
		if (pj_gguf_arch_u64(m->gguf, "attention.head_count_kv", &v))
			n_head_kv = (int)v;
		x->n_expert = pj_gguf_arch_u64(m->gguf, "expert_count", &v) ? (int)v : 0;
	}
	x->n_gqa = n_head_kv > 0 ? n_head / n_head_kv : 0;
	x->n_layer = n_layer;
	x->is_70b = strcmp(arch, "llama") == 0 && n_layer == 80 && n_head != n_head_kv;
	for (size_t i = 0; i < p->n; i++)
		x->n_wv += (C_VLIKE >> p->e[i].cat) & 1;
}

static void apply_mix(const pj_preset *ps, pj_plan *p)
{
	const pj_ftype *ft = pj_ftype_find(ps->ftype);
	mix_ctx x;
	mix_ctx_init(&x, p, ft);
	mix_rows rows;
	mix_rows_init(&rows, x.ftype);
	bool tied = true;
	for (size_t i = 0; i < p->n; i++)
		if (p->e[i].cat == PJ_QC_OUTPUT)
			tied = false;
	const bool mixes = pj_dtype_info_of(ft->type)->quantized;
	for (size_t i = 0; i < p->n; i++) {
		pj_plan_entry *e = &p->e[i];
		if (!e->quantizable)
			continue;
		e->base_type = ft->type;
		e->why = (pj_reason){ .why = PJ_WHY_MIX_DEFAULT, .src = ft, .type = ft->type };
		if (!mixes)
			continue;
		const pj_qcat cat = tied && e->cat == PJ_QC_TOKEN_EMBD ? PJ_QC_OUTPUT : e->cat;
		pj_dtype t = ft->type;
		for (size_t k = 0; k < rows.n[cat]; k++) {
			const mix_row *r = &MIX[rows.row[cat][k]];
			if (!cond_holds(r->c1, &x, e, t) || !cond_holds(r->c2, &x, e, t))
				continue;
			if (r->type != DEF) {
				t = r->type;
				note_row(e, ft, r, t);
			}
			break;
		}
		for (size_t r = 0; r < sizeof MIX_POST / sizeof MIX_POST[0]; r++)
			if (row_matches(&MIX_POST[r], &x, e, cat, t)) {
				t = MIX_POST[r].type;
				note_row(e, ft, &MIX_POST[r], t);
			}
		e->base_type = t;
		/* llama.cpp counts as it goes, after the decision */
		x.i_wv += (C_VLIKE >> cat) & 1;
		x.i_down += cat == PJ_QC_FFN_DOWN;
		x.i_gate += cat == PJ_QC_FFN_GATE;
		x.i_up += cat == PJ_QC_FFN_UP;
	}
}

/* ---- the brief's precisions ---------------------------------------------------- */

static const char *const PREC_NAMES[PJ_PREC_COUNT] = { "INT8", "INT4", "INT3", "FP16", "MXFP4", "FP8" };

const char *pj_precision_name(pj_precision p)
{
	return (unsigned)p < PJ_PREC_COUNT ? PREC_NAMES[p] : "?";
}

pj_dtype pj_precision_type(pj_precision p, pj_dtype src, const char **note)
{
	static const pj_dtype MAP[PJ_PREC_COUNT] = { PJ_DT_Q8_0, PJ_DT_Q4_K, PJ_DT_Q3_K, PJ_DT_F16, PJ_DT_MXFP4, PJ_DT_Q8_0 };
	if (note)
		*note = p == PJ_PREC_FP8 ? "FP8 has no GGUF type: Q8_0" : NULL;
	if (p == PJ_PREC_FP16 && src == PJ_DT_BF16)
		return PJ_DT_BF16;
	return (unsigned)p < PJ_PREC_COUNT ? MAP[p] : PJ_DT_Q8_0;
}

/* ---- architecture-aware presets ------------------------------------------------ */

typedef enum where { W_ANY, W_EDGE, W_GLOBAL, W_LOCAL } where;

/* A row: tensors of these roles (none listed: any role) in this role group
 * (-1: any) and component (-1: any), at these blocks, get this precision. */
typedef struct pj_arule {
	pj_role roles[8];
	int group;
	int comp;
	where at;
	pj_precision prec;
	const char *why;
} pj_arule;

#define ROLES(...) { __VA_ARGS__ }
#define RL(x) PJ_ROLE_##x
#define ANY_ROLE { PJ_ROLE_UNKNOWN }
#define G(x) PJ_RG_##x
#define P(x) PJ_PREC_##x
#define EMB_OUT ROLES(RL(TOKEN_EMBD), RL(OUTPUT))
#define ATTN_ROLES ROLES(RL(ATTN_Q), RL(ATTN_K), RL(ATTN_V), RL(ATTN_QKV), RL(ATTN_OUTPUT))
#define GATE_UP ROLES(RL(FFN_GATE), RL(FFN_UP), RL(FFN_GATE_UP))

static const pj_arule DENSE_Q8[] = {
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "W8A16: INT8 throughout (<1% perplexity)" },
};
static const pj_arule DENSE_Q4[] = {
	{ EMB_OUT, -1, -1, W_ANY, P(INT8), "embedding/output: INT8" },
	{ ANY_ROLE, -1, -1, W_EDGE, P(INT8), "first/last layer: INT8" },
	{ ATTN_ROLES, -1, -1, W_ANY, P(INT8), "attention projections: INT8 minimum" },
	{ ROLES(RL(FFN_DOWN)), -1, -1, W_ANY, P(INT8), "FFN output: INT8" },
	{ ANY_ROLE, G(FFN), -1, W_ANY, P(INT4), "FFN intermediate: INT4 (most robust)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT4), "W4A16 default" },
};
static const pj_arule DENSE_Q3[] = {
	{ EMB_OUT, -1, -1, W_ANY, P(INT8), "embedding/output: INT8" },
	{ ANY_ROLE, -1, -1, W_EDGE, P(INT4), "first/last layer: INT4" },
	{ ATTN_ROLES, -1, -1, W_ANY, P(INT4), "attention: INT4" },
	{ ROLES(RL(FFN_DOWN)), -1, -1, W_ANY, P(INT4), "FFN output: INT4" },
	{ ANY_ROLE, G(FFN), -1, W_ANY, P(INT3), "FFN intermediate: INT3 (extreme compression)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT4), "INT3/INT4 mix default" },
};

#define MOE_COMMON                                                                                         \
	{ EMB_OUT, -1, -1, W_ANY, P(INT8), "embedding/output: INT8" },                                     \
	{ ANY_ROLE, G(ROUTER), -1, W_ANY, P(INT8), "router: INT8 minimum (selection accuracy)" },          \
	{ ANY_ROLE, G(SHARED), -1, W_ANY, P(INT8), "shared experts: INT8 (always active)" },               \
	{ ANY_ROLE, G(ATTN), -1, W_ANY, P(INT8), "attention (non-MoE): INT8" },                            \
	{ ANY_ROLE, G(MLA), -1, W_ANY, P(INT8), "MLA attention: INT8" },                                   \
	{ ANY_ROLE, G(FFN), -1, W_ANY, P(INT8), "dense FFN blocks: INT8" }

static const pj_arule MOE_Q8[] = {
	{ ANY_ROLE, -1, -1, W_ANY, P(FP8), "FP8 uniform (<1% degradation)" },
};
static const pj_arule MOE_BALANCED[] = {
	MOE_COMMON,
	{ ANY_ROLE, G(EXPERT), -1, W_ANY, P(INT4), "routed experts: medium-frequency tier INT4 (routing not measured)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "default INT8" },
};
static const pj_arule MOE_MXFP4[] = {
	MOE_COMMON,
	{ ANY_ROLE, G(EXPERT), -1, W_ANY, P(MXFP4), "routed experts: MXFP4 (ultra-large MoE)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "default INT8" },
};
static const pj_arule MOE_SMALL[] = {
	MOE_COMMON,
	{ ANY_ROLE, G(EXPERT), -1, W_ANY, P(INT3), "routed experts: low-frequency tier INT3 (routing not measured)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "default INT8" },
};

static const pj_arule HYBRID_Q8[] = {
	{ ROLES(RL(ATTN_Q), RL(ATTN_K), RL(ATTN_V), RL(ATTN_QKV)), -1, -1, W_GLOBAL, P(FP16),
	  "global-attention Q/K/V: FP16 (long-range, more sensitive)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "INT8 throughout" },
};
static const pj_arule HYBRID_BALANCED[] = {
	{ EMB_OUT, -1, -1, W_ANY, P(INT8), "embedding/output: INT8" },
	{ ANY_ROLE, G(ATTN), -1, W_GLOBAL, P(INT8), "global-attention layer: INT8" },
	{ ANY_ROLE, G(ATTN), -1, W_LOCAL, P(INT8), "local-attention layer: INT8" },
	{ ANY_ROLE, G(FFN), -1, W_ANY, P(INT4), "FFN: INT4 (standard robustness)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT4), "default INT4" },
};
static const pj_arule HYBRID_SMALL[] = {
	{ EMB_OUT, -1, -1, W_ANY, P(INT8), "embedding/output: INT8" },
	{ ANY_ROLE, G(ATTN), -1, W_GLOBAL, P(INT8), "global-attention layer: INT8" },
	{ ANY_ROLE, G(ATTN), -1, W_LOCAL, P(INT4), "local-attention layer: INT4 (windowed context)" },
	{ ANY_ROLE, G(FFN), -1, W_ANY, P(INT4), "FFN: INT4" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT4), "default INT4" },
};

#define MLA_COMPRESS ROLES(RL(MLA_Q_A), RL(MLA_KV_A))
#define MLA_DECOMPRESS ROLES(RL(MLA_Q_B), RL(MLA_KV_B), RL(MLA_K_B), RL(MLA_V_B))
static const pj_arule MLA_Q8[] = {
	{ MLA_COMPRESS, -1, -1, W_ANY, P(FP16), "MLA compression matrices: FP16 (small, sensitive)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "INT8 throughout" },
};
static const pj_arule MLA_BALANCED[] = {
	{ MLA_COMPRESS, -1, -1, W_ANY, P(FP16), "MLA compression matrices: FP16 (small, sensitive)" },
	{ MLA_DECOMPRESS, -1, -1, W_ANY, P(INT8), "MLA decompression matrices: INT8" },
	{ ANY_ROLE, G(EXPERT), -1, W_ANY, P(INT4), "routed experts: medium-frequency tier INT4 (routing not measured)" },
	{ ANY_ROLE, G(SHARED), -1, W_ANY, P(INT8), "shared experts: INT8" },
	{ ANY_ROLE, G(FFN), -1, W_ANY, P(INT4), "FFN: INT4" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "default INT8 (query, output projection, embeddings)" },
};

static const pj_arule MM_Q8[] = {
	{ ROLES(RL(V_PATCH_EMBD)), -1, -1, W_ANY, P(FP16), "patch embedding: FP16" },
	{ ANY_ROLE, G(PROJECTOR), -1, W_ANY, P(FP16), "fusion projector: FP16 (cross-modal bridge)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "INT8 throughout" },
};
static const pj_arule MM_BALANCED[] = {
	{ ROLES(RL(V_PATCH_EMBD)), -1, -1, W_ANY, P(FP16), "patch embedding: FP16" },
	{ ANY_ROLE, G(VISION), -1, W_ANY, P(INT8), "vision encoder: INT8" },
	{ ANY_ROLE, G(PROJECTOR), -1, W_ANY, P(INT8), "fusion adapter: INT8" },
	{ EMB_OUT, -1, -1, W_ANY, P(INT8), "embedding/output: INT8" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT4), "language model: INT4" },
};

#define CROSS_KV ROLES(RL(CROSS_K), RL(CROSS_V))
static const pj_arule ENCDEC_Q8[] = {
	{ ROLES(RL(OUTPUT)), -1, -1, W_ANY, P(FP16), "output logits: FP16 (generation quality)" },
	{ CROSS_KV, -1, -1, W_ANY, P(FP16), "cross-attention K/V: FP16 (the most sensitive bridge)" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "INT8 throughout" },
};
static const pj_arule ENCDEC_BALANCED[] = {
	{ ROLES(RL(OUTPUT)), -1, -1, W_ANY, P(FP16), "output logits: FP16 (generation quality)" },
	{ CROSS_KV, -1, -1, W_ANY, P(FP16), "cross-attention K/V: FP16" },
	{ ANY_ROLE, G(FFN), PJ_COMP_ENCODER, W_ANY, P(INT4), "encoder FFN: INT4 (encoder is robust)" },
	{ ANY_ROLE, G(FFN), PJ_COMP_DECODER, W_ANY, P(INT4), "decoder FFN: INT4" },
	{ ANY_ROLE, -1, -1, W_ANY, P(INT8), "attention and the rest: INT8" },
};

#define N(a) a, sizeof a / sizeof a[0]
#define FT(name, desc) { name, PJ_PRESET_FTYPE, name, -1, desc, NULL, 0 }
#define AP(name, ft, fam, desc, rules) { name, PJ_PRESET_ARCH, ft, PJ_FAMILY_##fam, desc, N(rules) }

static const pj_preset PRESETS[] = {
	FT("Q2_K", "llama.cpp Q2_K mix"),
	FT("Q3_K_S", "llama.cpp Q3_K_S mix"),
	FT("Q3_K_M", "llama.cpp Q3_K_M mix"),
	FT("Q3_K_L", "llama.cpp Q3_K_L mix"),
	FT("Q4_K_S", "llama.cpp Q4_K_S mix"),
	FT("Q4_K_M", "llama.cpp Q4_K_M mix (the common default)"),
	FT("Q5_K_S", "llama.cpp Q5_K_S mix"),
	FT("Q5_K_M", "llama.cpp Q5_K_M mix"),
	FT("Q6_K", "llama.cpp Q6_K mix"),
	FT("Q8_0", "llama.cpp Q8_0"),
	FT("Q4_0", "llama.cpp Q4_0 mix"),
	FT("Q4_1", "llama.cpp Q4_1 mix"),
	FT("Q5_0", "llama.cpp Q5_0 mix"),
	FT("Q5_1", "llama.cpp Q5_1 mix"),
	FT("IQ4_XS", "llama.cpp IQ4_XS mix"),
	FT("IQ4_NL", "llama.cpp IQ4_NL mix"),
	FT("IQ3_M", "llama.cpp IQ3_M mix (needs an imatrix for good results)"),
	FT("IQ3_XXS", "llama.cpp IQ3_XXS mix (needs an imatrix)"),
	FT("IQ2_M", "llama.cpp IQ2_M mix (needs an imatrix)"),
	FT("MXFP4_MOE", "llama.cpp MXFP4_MOE: stacked experts MXFP4, the rest Q8_0"),
	AP("dense-q8", "Q8_0", DENSE, "dense decoder, W8A16: INT8 everywhere (brief: <7B, highest quality)", DENSE_Q8),
	AP("dense-q4", "Q4_K_M", DENSE,
	   "dense decoder, W4A16: FFN gate/up INT4; attention, FFN down, first/last layer, embeddings INT8 (brief: 7-70B)",
	   DENSE_Q4),
	AP("dense-q3", "Q3_K_M", DENSE,
	   "dense decoder, INT3/INT4 mix: FFN gate/up INT3, the rest INT4, embeddings INT8 (brief: >70B)", DENSE_Q3),
	AP("moe-q8", "Q8_0", MOE, "MoE, FP8 uniform (no GGUF FP8: Q8_0 everywhere)", MOE_Q8),
	AP("moe-balanced", "Q4_K_M", MOE,
	   "MoE, expert-aware INT8/INT4: router, shared experts, attention, embeddings INT8; all routed experts treated "
	   "as medium frequency (INT4) until a check measures routing",
	   MOE_BALANCED),
	AP("moe-mxfp4", "MXFP4_MOE", MOE,
	   "MoE for ultra-large models: routed experts MXFP4, router, shared experts, attention INT8", MOE_MXFP4),
	AP("moe-small", "Q3_K_M", MOE,
	   "MoE, aggressive: all routed experts treated as low frequency (INT3) until a check measures routing; "
	   "router, shared experts, attention INT8",
	   MOE_SMALL),
	AP("hybrid-q8", "Q8_0", HYBRID,
	   "hybrid local/global attention: INT8, global-attention Q/K/V FP16; KV cache q8_0 recommended", HYBRID_Q8),
	AP("hybrid-balanced", "Q4_K_M", HYBRID,
	   "hybrid local/global attention: attention INT8 in every layer, FFN INT4; KV cache q8_0 (llama.cpp has one "
	   "cache type for all layers, so the brief's INT4 local cache is not available)",
	   HYBRID_BALANCED),
	AP("hybrid-small", "Q4_K_M", HYBRID,
	   "hybrid local/global attention: local-attention layers INT4, global INT8, FFN INT4", HYBRID_SMALL),
	AP("mla-q8", "Q8_0", MLA, "multi-head latent attention: INT8, compression matrices FP16; latent KV cache q8_0",
	   MLA_Q8),
	AP("mla-balanced", "Q4_K_M", MLA,
	   "multi-head latent attention: compression FP16, decompression INT8, routed experts INT4 (routing not "
	   "measured), FFN INT4",
	   MLA_BALANCED),
	AP("multimodal-q8", "Q8_0", MULTIMODAL, "vision-language: INT8, patch embedding and projector FP16", MM_Q8),
	AP("multimodal-balanced", "Q4_K_M", MULTIMODAL,
	   "vision-language: vision encoder and adapter INT8, patch embedding FP16, language model INT4", MM_BALANCED),
	AP("encdec-q8", "Q8_0", ENCDEC, "encoder-decoder: INT8, cross-attention K/V and output FP16", ENCDEC_Q8),
	AP("encdec-balanced", "Q4_K_M", ENCDEC,
	   "encoder-decoder: FFNs INT4, attention INT8, cross-attention K/V and output FP16", ENCDEC_BALANCED),
};

const pj_preset *pj_preset_all(size_t *n)
{
	*n = sizeof PRESETS / sizeof PRESETS[0];
	return PRESETS;
}

const pj_preset *pj_preset_find(const char *name)
{
	for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++)
		if (strcasecmp(PRESETS[i].name, name) == 0)
			return &PRESETS[i];
	return NULL;
}

/* "auto": the family's balanced point; dense models by size as the brief's
 * selection matrix does (<7B INT8, 7-70B INT4, >70B INT3/INT4). */
const pj_preset *pj_preset_auto(const pj_model *m, char *why, size_t why_len)
{
	static const char *const BY_FAMILY[PJ_FAMILY_COUNT] = {
		[PJ_FAMILY_DENSE] = "dense-q4", [PJ_FAMILY_MOE] = "moe-balanced",
		[PJ_FAMILY_HYBRID] = "hybrid-balanced", [PJ_FAMILY_MLA] = "mla-balanced",
		[PJ_FAMILY_MULTIMODAL] = "multimodal-balanced", [PJ_FAMILY_ENCDEC] = "encdec-balanced",
	};
	const pj_arch *a = &m->arch;
	const char *name = (unsigned)a->family < PJ_FAMILY_COUNT ? BY_FAMILY[a->family] : "dense-q4";
	const char *size_note = "";
	if (a->family == PJ_FAMILY_DENSE) {
		if (a->params_total < 7000000000ull) {
			name = "dense-q8";
			size_note = ", under 7B parameters: INT8";
		} else if (a->params_total > 70000000000ull) {
			name = "dense-q3";
			size_note = ", over 70B parameters: INT3/INT4";
		} else {
			size_note = ", 7-70B parameters: INT4";
		}
	}
	snprintf(why, why_len, "auto: family %s (%s)%s -> %s", pj_family_name(a->family), a->family_reason, size_note,
	         name);
	return pj_preset_find(name);
}

static bool arule_matches(const pj_arule *r, const pj_arch *a, const pj_tensor *t)
{
	if (r->roles[0] != PJ_ROLE_UNKNOWN) {
		bool any = false;
		for (size_t i = 0; i < 8 && r->roles[i] != PJ_ROLE_UNKNOWN; i++)
			any |= r->roles[i] == t->role;
		if (!any)
			return false;
	}
	if (r->group >= 0 && pj_role_info_of(t->role)->group != (pj_role_group)r->group)
		return false;
	if (r->comp >= 0 && (int)t->comp != r->comp)
		return false;
	if (r->at == W_ANY)
		return true;
	if (t->layer < 0)
		return false;
	if (r->at == W_EDGE) {
		int n = (unsigned)t->comp < 8 ? a->layer_count[t->comp] : 0;
		return t->layer == 0 || (n > 0 && t->layer == n - 1);
	}
	const pj_layer *l = pj_arch_layer(a, t->comp, t->layer);
	if (!l)
		return false;
	return r->at == W_GLOBAL ? l->attn == PJ_ATTN_GLOBAL : l->attn == PJ_ATTN_LOCAL;
}

static void apply_arch(const pj_preset *ps, pj_plan *p)
{
	const pj_arch *a = &p->m->arch;
	for (size_t i = 0; i < p->n; i++) {
		pj_plan_entry *e = &p->e[i];
		if (!e->quantizable)
			continue;
		for (size_t r = 0; r < ps->n_rules; r++) {
			const pj_arule *ar = &ps->rules[r];
			if (!arule_matches(ar, a, e->t))
				continue;
			const char *note;
			e->base_type = pj_precision_type(ar->prec, e->t->dtype, &note);
			e->why = (pj_reason){ .why = PJ_WHY_ARCH, .src = ar, .preset = ps, .type = e->base_type };
			break;
		}
	}
}

void pj_preset_apply(const pj_preset *ps, pj_plan *p)
{
	if (ps->kind == PJ_PRESET_FTYPE)
		apply_mix(ps, p);
	else
		apply_arch(ps, p);
}

static void arch_reason(const pj_plan_entry *e, char *buf, size_t n)
{
	const pj_preset *ps = e->why.preset;
	const pj_arule *ar = e->why.src;
	const char *note;
	pj_precision_type(ar->prec, e->t->dtype, &note);
	snprintf(buf, n, "%s: %s -> %s%s%s", ps->name, ar->why, pj_dtype_name(e->why.type), note ? "; " : "",
	         note ? note : "");
}

void pj_preset_reason(const pj_plan_entry *e, char *buf, size_t n)
{
	const pj_reason *r = &e->why;
	if (r->why == PJ_WHY_ARCH) {
		arch_reason(e, buf, n);
		return;
	}
	const char *ft = ((const pj_ftype *)r->src)->name, *ty = pj_dtype_name(r->type);
	const char *a = COND_TEXT[r->c1], *b = COND_TEXT[r->c2];
	if (r->why == PJ_WHY_MIX_DEFAULT)
		snprintf(buf, n, "%s mix: default %s", ft, ty);
	else if (*a && *b)
		snprintf(buf, n, "%s mix: %s (%s, %s)", ft, ty, a, b);
	else if (*a || *b)
		snprintf(buf, n, "%s mix: %s (%s)", ft, ty, *a ? a : b);
	else
		snprintf(buf, n, "%s mix: %s", ft, ty);
}
