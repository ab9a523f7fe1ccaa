/* plan.c - the plan: base preset, rules, overrides, protections, shape
 * fallbacks, sizes; llama.cpp's tables shared with batch mode; the
 * llama-quantize export; KV-cache sizes.
 *
 * The llama.cpp facts (src/llama-quant.cpp, read for the rules): which
 * tensors are never quantized (tensor_allows_quantization), the per-type
 * shape fallback (tensor_type_fallback), which types need an importance
 * matrix (tensor_requires_imatrix), the ftype numbers and their default
 * types (llama_ftype_get_default_type), and the tensor order
 * (llama_model_loader's weights_map). */
#include "config.h"
#include "plan.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/roles.h"
#include "model/strbuf.h"
#include "quant/presets.h"
#include "quant/qtypes.h"
#include "quant/sha256.h"

/* ---- tables ------------------------------------------------------------------- */

static const char *const PROV_NAMES[PJ_PROV_COUNT] = {
#define PJ_PROV_NAME(id, name) name,
	PJ_PROVENANCES(PJ_PROV_NAME)
#undef PJ_PROV_NAME
};

const char *pj_provenance_name(pj_provenance p)
{
	return (unsigned)p < PJ_PROV_COUNT ? PROV_NAMES[p] : "?";
}

/* llama-quantize's type names -> llama_ftype value (general.file_type) and
 * the tensor type of that ftype's --pure run (llama_ftype_get_default_type).
 * "Q3_K"/"Q4_K"/"Q5_K" are llama-quantize's aliases for the _M mixes. */
static const pj_ftype FTYPES[] = {
#define X(n, v, t) { n, v, PJ_DT_##t },
	X("F32", 0, F32) X("F16", 1, F16) X("BF16", 32, BF16) X("Q4_0", 2, Q4_0)
	X("Q4_1", 3, Q4_1) X("Q5_0", 8, Q5_0) X("Q5_1", 9, Q5_1) X("Q8_0", 7, Q8_0)
	X("Q2_K", 10, Q2_K) X("Q2_K_S", 21, Q2_K) X("Q3_K_S", 11, Q3_K) X("Q3_K_M", 12, Q3_K)
	X("Q3_K_L", 13, Q3_K) X("Q3_K", 12, Q3_K) X("Q4_K_S", 14, Q4_K) X("Q4_K_M", 15, Q4_K)
	X("Q4_K", 15, Q4_K) X("Q5_K_S", 16, Q5_K) X("Q5_K_M", 17, Q5_K) X("Q5_K", 17, Q5_K)
	X("Q6_K", 18, Q6_K) X("IQ2_XXS", 19, IQ2_XXS) X("IQ2_XS", 20, IQ2_XS) X("IQ2_S", 28, IQ2_XS)
	X("IQ2_M", 29, IQ2_S) X("IQ3_XS", 22, IQ3_S) X("IQ3_XXS", 23, IQ3_XXS) X("IQ3_S", 26, IQ3_S)
	X("IQ3_M", 27, IQ3_S) X("IQ1_S", 24, IQ1_S) X("IQ1_M", 31, IQ1_M) X("IQ4_NL", 25, IQ4_NL)
	X("IQ4_XS", 30, IQ4_XS) X("TQ1_0", 36, TQ1_0) X("TQ2_0", 37, TQ2_0) X("MXFP4_MOE", 38, MXFP4)
	/* not a llama-quantize name (it writes NVFP4 only through --tensor-type);
	 * 39 is llama.h's LLAMA_FTYPE_MOSTLY_NVFP4, which its loader reports */
	X("NVFP4", 39, NVFP4)
#undef X
};
#define LLAMA_FTYPE_MOSTLY_Q2_K_S 21

const pj_ftype *pj_ftype_all(size_t *n)
{
	*n = sizeof FTYPES / sizeof FTYPES[0];
	return FTYPES;
}

const pj_ftype *pj_ftype_find(const char *name)
{
	for (size_t i = 0; i < sizeof FTYPES / sizeof FTYPES[0]; i++)
		if (strcasecmp(FTYPES[i].name, name) == 0)
			return &FTYPES[i];
	return NULL;
}

/* Tensors llama.cpp never quantizes (tensor_allows_quantization): copied in
 * their source type.  Besides these: fewer than two (non-trivial) dimensions
 * and names not ending in "weight". */
typedef enum { M_SUBSTR, M_EXACT } match_kind;
static const struct keep_rule {
	match_kind how;
	const char *text;
	const char *why;
} KEEP[] = {
	{ M_SUBSTR, "_norm.weight",             "norm" },
	{ M_SUBSTR, "ffn_gate_inp.weight",      "expert router" },
	{ M_SUBSTR, "ffn_gate_tid2eid.weight",  "token-to-expert table" },
	{ M_SUBSTR, "altup",                    "tiny (altup)" },
	{ M_SUBSTR, "laurel",                   "tiny (laurel)" },
	{ M_SUBSTR, "per_layer_model_proj",     "small projection" },
	{ M_EXACT,  "position_embd.weight",     "position embedding" },
	{ M_EXACT,  "token_types.weight",       "token types" },
	{ M_SUBSTR, "ssm_conv1d",               "SSM conv1d" },
	{ M_SUBSTR, "shortconv.conv.weight",    "short conv" },
	{ M_SUBSTR, "indexer.k_proj.weight",    "tiny indexer" },
	{ M_SUBSTR, "indexer.q_proj.weight",    "tiny indexer" },
	{ M_SUBSTR, "time_mix_first.weight",    "RWKV" },
	{ M_SUBSTR, "time_mix_w0.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_w1.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_w2.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_v0.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_v1.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_v2.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_a0.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_a1.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_a2.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_g1.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_g2.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_decay_w1.weight", "RWKV" },
	{ M_SUBSTR, "time_mix_decay_w2.weight", "RWKV" },
	{ M_SUBSTR, "time_mix_lerp_fused.weight", "RWKV" },
	{ M_SUBSTR, "attn_rel_b.weight",        "relative position bias" },
	{ M_SUBSTR, ".position_embd",           "vision position embedding" },
	{ M_SUBSTR, "sam.pos_embd",             "vision" },
	{ M_SUBSTR, "sam.neck.",                "vision" },
	{ M_SUBSTR, "sam.net_",                 "vision" },
	{ M_SUBSTR, ".rel_pos",                 "vision" },
	{ M_SUBSTR, ".patch_embd",              "vision patch embedding" },
	{ M_SUBSTR, ".patch_merger",            "vision patch merger" },
	{ M_SUBSTR, "a.rvq.codebook",           "audio codebook" },
	{ M_SUBSTR, "mm.a.code_embd",           "audio codebook" },
};

/* Shape fallback (tensor_type_fallback): when a row is not a multiple of the
 * target's block, the type on the right; if that does not fit either, F16. */
static const struct { pj_dtype from, to; } FALLBACK[] = {
	{ PJ_DT_IQ1_S, PJ_DT_IQ4_NL },   { PJ_DT_IQ1_M, PJ_DT_IQ4_NL },  { PJ_DT_IQ2_XXS, PJ_DT_IQ4_NL },
	{ PJ_DT_IQ2_XS, PJ_DT_IQ4_NL },  { PJ_DT_IQ2_S, PJ_DT_IQ4_NL },  { PJ_DT_IQ3_XXS, PJ_DT_IQ4_NL },
	{ PJ_DT_IQ3_S, PJ_DT_IQ4_NL },   { PJ_DT_IQ4_XS, PJ_DT_IQ4_NL },
	{ PJ_DT_Q2_K, PJ_DT_Q4_0 },      { PJ_DT_Q3_K, PJ_DT_Q4_0 },     { PJ_DT_TQ1_0, PJ_DT_Q4_0 },
	{ PJ_DT_TQ2_0, PJ_DT_Q4_0 },     { PJ_DT_Q4_K, PJ_DT_Q5_0 },     { PJ_DT_Q5_K, PJ_DT_Q5_1 },
	{ PJ_DT_Q6_K, PJ_DT_Q8_0 },
};

/* Types llama.cpp refuses to write without importance weights
 * (tensor_requires_imatrix); Q2_K only inside a Q2_K_S file.  token_embd
 * and output are exempt (they never get imatrix data). */
static const pj_dtype NEEDS_IMATRIX[] = {
	PJ_DT_IQ3_XXS, PJ_DT_IQ2_XXS, PJ_DT_IQ2_XS, PJ_DT_IQ2_S, PJ_DT_IQ1_M, PJ_DT_IQ1_S,
};

/* llama.cpp's categories from a GGUF name (tensor_get_category: first
 * substring that matches, in this order). */
static const struct { const char *text; match_kind how; pj_qcat cat; } CATEGORY[] = {
	{ "output.weight", M_EXACT, PJ_QC_OUTPUT },
	{ "token_embd.weight", M_EXACT, PJ_QC_TOKEN_EMBD },
	{ "per_layer_token_embd.weight", M_EXACT, PJ_QC_TOKEN_EMBD },
	{ "attn_qkv.weight", M_SUBSTR, PJ_QC_ATTN_QKV },
	{ "attn_kv_b.weight", M_SUBSTR, PJ_QC_ATTN_KV_B },
	{ "attn_v.weight", M_SUBSTR, PJ_QC_ATTN_V },
	{ "attn_k.weight", M_SUBSTR, PJ_QC_ATTN_K },
	{ "attn_q.weight", M_SUBSTR, PJ_QC_ATTN_Q },
	{ "attn_output.weight", M_SUBSTR, PJ_QC_ATTN_OUTPUT },
	{ "ffn_up", M_SUBSTR, PJ_QC_FFN_UP },
	{ "ffn_gate", M_SUBSTR, PJ_QC_FFN_GATE },
	{ "ffn_down", M_SUBSTR, PJ_QC_FFN_DOWN },
};

/* The same categories from detected roles (Hugging Face names). */
static const struct { pj_role role; pj_qcat cat; } ROLE_CATEGORY[] = {
	{ PJ_ROLE_TOKEN_EMBD, PJ_QC_TOKEN_EMBD }, { PJ_ROLE_OUTPUT, PJ_QC_OUTPUT },
	{ PJ_ROLE_ATTN_QKV, PJ_QC_ATTN_QKV },     { PJ_ROLE_MLA_KV_B, PJ_QC_ATTN_KV_B },
	{ PJ_ROLE_ATTN_V, PJ_QC_ATTN_V },         { PJ_ROLE_CROSS_V, PJ_QC_ATTN_V },
	{ PJ_ROLE_ATTN_K, PJ_QC_ATTN_K },         { PJ_ROLE_CROSS_K, PJ_QC_ATTN_K },
	{ PJ_ROLE_ATTN_Q, PJ_QC_ATTN_Q },         { PJ_ROLE_CROSS_Q, PJ_QC_ATTN_Q },
	{ PJ_ROLE_ATTN_OUTPUT, PJ_QC_ATTN_OUTPUT }, { PJ_ROLE_CROSS_OUTPUT, PJ_QC_ATTN_OUTPUT },
	{ PJ_ROLE_FFN_UP, PJ_QC_FFN_UP },         { PJ_ROLE_EXP_UP, PJ_QC_FFN_UP },
	{ PJ_ROLE_SHEXP_UP, PJ_QC_FFN_UP },       { PJ_ROLE_FFN_GATE, PJ_QC_FFN_GATE },
	{ PJ_ROLE_EXP_GATE, PJ_QC_FFN_GATE },     { PJ_ROLE_SHEXP_GATE, PJ_QC_FFN_GATE },
	{ PJ_ROLE_FFN_GATE_UP, PJ_QC_FFN_GATE },  { PJ_ROLE_EXP_GATE_UP, PJ_QC_FFN_GATE },
	{ PJ_ROLE_FFN_DOWN, PJ_QC_FFN_DOWN },     { PJ_ROLE_EXP_DOWN, PJ_QC_FFN_DOWN },
	{ PJ_ROLE_SHEXP_DOWN, PJ_QC_FFN_DOWN },
};

/* ---- helpers -------------------------------------------------------------------- */

int pj_plan_n_dims(const pj_tensor *t)
{
	for (int d = PJ_MAX_DIMS - 1; d >= 1; d--)
		if (t->ne[d] > 1)
			return d + 1;
	return 1;
}

static bool match(match_kind how, const char *name, const char *text)
{
	return how == M_EXACT ? strcmp(name, text) == 0 : strstr(name, text) != NULL;
}

const char *pj_plan_keep_reason(const pj_tensor *t, bool gguf_names)
{
	if (pj_plan_n_dims(t) < 2)
		return "1-D";
	const size_t n = strlen(t->name);
	if (n < 6 || strcmp(t->name + n - 6, "weight") != 0)
		return "not a weight";
	for (size_t i = 0; i < sizeof KEEP / sizeof KEEP[0]; i++)
		if (match(KEEP[i].how, t->name, KEEP[i].text))
			return KEEP[i].why;
	if (!gguf_names) {
		const pj_role_group g = pj_role_info_of(t->role)->group;
		if (g == PJ_RG_NORM)
			return "norm";
		if (t->role == PJ_ROLE_ROUTER || t->role == PJ_ROLE_EXP_SCORE_BIAS)
			return "expert router";
		if (t->role == PJ_ROLE_WEIGHT_SCALE)
			return "FP8 block scale";
		if (t->role == PJ_ROLE_POS_EMBD || t->role == PJ_ROLE_V_POS_EMBD || t->role == PJ_ROLE_V_PATCH_EMBD)
			return "position/patch embedding";
	}
	return NULL;
}

pj_dtype pj_plan_shape_fallback(pj_dtype want, int64_t ne0, bool *ok)
{
	*ok = true;
	const pj_dtype_info *di = pj_dtype_info_of(want);
	if (!di->quantized || ne0 % di->block == 0)
		return want;
	for (size_t i = 0; i < sizeof FALLBACK / sizeof FALLBACK[0]; i++)
		if (FALLBACK[i].from == want) {
			pj_dtype fb = FALLBACK[i].to;
			/* llama.cpp: "must use F16 due to unusual shape" */
			return ne0 % pj_dtype_info_of(fb)->block ? PJ_DT_F16 : fb;
		}
	*ok = false;
	return PJ_DT_F16;
}

static bool is_embd_or_output(const char *name)
{
	return strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0 ||
	       strcmp(name, "output.weight") == 0;
}

bool pj_plan_type_needs_imatrix(const char *tensor, pj_dtype type, unsigned ftype)
{
	/* the type first: the name compares are the dearer part, once per entry */
	bool needs = false;
	if (type == PJ_DT_Q2_K)
		needs = ftype == LLAMA_FTYPE_MOSTLY_Q2_K_S;
	for (size_t i = 0; i < sizeof NEEDS_IMATRIX / sizeof NEEDS_IMATRIX[0] && !needs; i++)
		needs = NEEDS_IMATRIX[i] == type;
	return needs && !is_embd_or_output(tensor);
}

int pj_plan_layer_of(const char *name)
{
	int l = -1;
	if (sscanf(name, "blk.%d.", &l) != 1)
		l = -1;
	return l;
}

int pj_plan_order_cmp(const char *a, const char *b)
{
	int la = pj_plan_layer_of(a), lb = pj_plan_layer_of(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

static int entry_cmp(const void *a, const void *b)
{
	const pj_plan_entry *x = a, *y = b;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return strcmp(x->t->name, y->t->name);
}

static pj_qcat category_of(const pj_tensor *t, bool gguf_names)
{
	if (gguf_names) {
		for (size_t i = 0; i < sizeof CATEGORY / sizeof CATEGORY[0]; i++)
			if (match(CATEGORY[i].how, t->name, CATEGORY[i].text))
				return CATEGORY[i].cat;
		return PJ_QC_OTHER;
	}
	for (size_t i = 0; i < sizeof ROLE_CATEGORY / sizeof ROLE_CATEGORY[0]; i++)
		if (ROLE_CATEGORY[i].role == t->role)
			return ROLE_CATEGORY[i].cat;
	return PJ_QC_OTHER;
}

static void warn(pj_plan *p, const char *fmt, ...) PJ_PRINTF(2, 3);
static void warn(pj_plan *p, const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	p->warnings = pj_xrealloc(p->warnings, (p->n_warnings + 1) * sizeof *p->warnings);
	p->warnings[p->n_warnings++] = pj_xstrdup(buf);
}

static void clear_warnings(pj_plan *p)
{
	for (size_t i = 0; i < p->n_warnings; i++)
		free(p->warnings[i]);
	free(p->warnings);
	p->warnings = NULL;
	p->n_warnings = 0;
}

/* A type name as a rule or plan file may spell it: any ggml type. */
static bool parse_type(const char *s, pj_dtype *out)
{
	return pj_dtype_from_name(s, out) && pj_dtype_info_of(*out)->ggml_id >= 0;
}

/* ---- building ------------------------------------------------------------------- */

static pj_status resolve_base(pj_plan *p, const char *base, pj_error *err)
{
	if (strncasecmp(base, "pure:", 5) == 0) {
		const pj_ftype *ft = pj_ftype_find(base + 5);
		if (!ft)
			return pj_fail(err, PJ_EUSAGE, "pure: unknown type '%s'", base + 5);
		p->pure = true;
		p->pure_type = ft->type;
		p->ftype = ft->ftype;
		snprintf(p->base_reason, sizeof p->base_reason, "pure %s: every quantizable tensor %s", ft->name,
		         pj_dtype_name(ft->type));
		return PJ_OK;
	}
	const pj_preset *ps;
	if (strcasecmp(base, "auto") == 0)
		ps = pj_preset_auto(p->m, p->base_reason, sizeof p->base_reason);
	else
		ps = pj_preset_find(base);
	if (!ps) {
		size_t n;
		const pj_preset *all = pj_preset_all(&n);
		char list[1000];
		int k = 0;
		for (size_t i = 0; i < n && k < (int)sizeof list - 24; i++)
			k += snprintf(list + k, sizeof list - (size_t)k, " %s", all[i].name);
		return pj_fail(err, PJ_EUSAGE, "unknown preset '%s'; one of: auto%s", base, list);
	}
	if (strcasecmp(base, "auto") != 0)
		snprintf(p->base_reason, sizeof p->base_reason, "%s: %s", ps->name, ps->description);
	p->preset = ps;
	p->ftype = pj_ftype_find(ps->ftype)->ftype;
	return PJ_OK;
}

pj_status pj_plan_init(pj_plan *p, const pj_model *m, const char *base, bool has_imatrix, pj_error *err)
{
	return pj_plan_init_cat(p, m, &m->cat, m->format == PJ_FMT_GGUF, base, has_imatrix, err);
}

pj_status pj_plan_init_cat(pj_plan *p, const pj_model *m, const pj_catalog *cat, bool gguf_names, const char *base,
                           bool has_imatrix, pj_error *err)
{
	pj_status st = pj_plan_build_cat(p, m, cat, gguf_names, base, has_imatrix, err);
	return st ? st : pj_plan_apply(p, err);
}

pj_status pj_plan_build_cat(pj_plan *p, const pj_model *m, const pj_catalog *cat, bool gguf_names, const char *base,
                            bool has_imatrix, pj_error *err)
{
	memset(p, 0, sizeof *p);
	p->m = m;
	p->cat = cat;
	p->gguf_names = gguf_names;
	p->has_imatrix = has_imatrix;
	p->base = pj_xstrdup(base);
	pj_status st = resolve_base(p, base, err);
	if (st) {
		pj_plan_free(p);
		return st;
	}
	const bool gguf = gguf_names;
	p->n = cat->n;
	p->e = pj_xcalloc(p->n ? p->n : 1, sizeof *p->e);
	for (size_t i = 0; i < p->n; i++) {
		pj_plan_entry *e = &p->e[i];
		const pj_tensor *t = &cat->t[i];
		e->t = t;
		e->n_dims = pj_plan_n_dims(t);
		e->layer = gguf ? pj_plan_layer_of(t->name) : t->layer;
		e->cat = category_of(t, gguf);
		e->kept = pj_plan_keep_reason(t, gguf);
		e->quantizable = e->kept == NULL;
		e->rule = -1;
	}
	qsort(p->e, p->n, sizeof *p->e, entry_cmp);
	return PJ_OK;
}

void pj_plan_free(pj_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_rules; i++) {
		free(p->rules[i].text);
		if (p->rules[i].kind == PJ_RULE_REGEX) {
			free(p->rules[i].pattern);
			regfree(&p->rules[i].re);
		}
	}
	free(p->rules);
	for (size_t i = 0; i < p->n_ov; i++)
		free(p->ov[i].tensor);
	free(p->ov);
	clear_warnings(p);
	cJSON_Delete(p->target);
	free(p->e);
	free(p->base);
	memset(p, 0, sizeof *p);
}

/* "A" or "A-B" -> inclusive range. */
static bool parse_range(const char *s, int *lo, int *hi)
{
	char *end;
	long a = strtol(s, &end, 10);
	if (end == s || a < 0 || a > 1000000)
		return false;
	long b = a;
	if (*end == '-') {
		const char *s2 = end + 1;
		b = strtol(s2, &end, 10);
		if (end == s2 || b < a || b > 1000000)
			return false;
	}
	if (*end)
		return false;
	*lo = (int)a;
	*hi = (int)b;
	return true;
}

pj_status pj_plan_add_rule(pj_plan *p, const char *text, pj_error *err)
{
	const char *eq = strrchr(text, '=');
	if (!eq || eq == text || !eq[1])
		return pj_fail(err, PJ_EUSAGE, "rule '%s': expected PATTERN=TYPE", text);
	pj_plan_rule r;
	memset(&r, 0, sizeof r);
	r.layer_lo = r.layer_hi = -1;
	if (!parse_type(eq + 1, &r.type))
		return pj_fail(err, PJ_EUSAGE, "rule '%s': unknown type '%s'", text, eq + 1);
	char *lhs = pj_xstrndup(text, (size_t)(eq - text));
	if (strncmp(lhs, "role:", 5) == 0) {
		r.kind = PJ_RULE_ROLE;
		char *at = strchr(lhs + 5, '@');
		if (at) {
			*at = 0;
			if (!parse_range(at + 1, &r.layer_lo, &r.layer_hi)) {
				pj_fail(err, PJ_EUSAGE, "rule '%s': bad layer range '%s'", text, at + 1);
				free(lhs);
				return PJ_EUSAGE;
			}
		}
		if (!pj_role_from_name(lhs + 5, &r.role)) {
			pj_fail(err, PJ_EUSAGE, "rule '%s': unknown role '%s'", text, lhs + 5);
			free(lhs);
			return PJ_EUSAGE;
		}
		free(lhs);
	} else if (strncmp(lhs, "layer:", 6) == 0) {
		r.kind = PJ_RULE_LAYER;
		if (!parse_range(lhs + 6, &r.layer_lo, &r.layer_hi)) {
			pj_fail(err, PJ_EUSAGE, "rule '%s': bad layer range '%s'", text, lhs + 6);
			free(lhs);
			return PJ_EUSAGE;
		}
		free(lhs);
	} else {
		r.kind = PJ_RULE_REGEX;
		int rc = regcomp(&r.re, lhs, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[200];
			regerror(rc, &r.re, msg, sizeof msg);
			pj_fail(err, PJ_EUSAGE, "rule '%s': bad regular expression: %s", text, msg);
			free(lhs);
			return PJ_EUSAGE;
		}
		r.pattern = lhs;
	}
	r.text = pj_xstrdup(text);
	p->rules = pj_xrealloc(p->rules, (p->n_rules + 1) * sizeof *p->rules);
	p->rules[p->n_rules++] = r;
	return PJ_OK;
}

pj_status pj_plan_set_manual(pj_plan *p, const char *tensor, pj_dtype type, bool pinned, pj_error *err)
{
	if (pj_dtype_info_of(type)->ggml_id < 0)
		return pj_fail(err, PJ_EUSAGE, "%s: %s is not a GGUF type", tensor, pj_dtype_name(type));
	for (size_t i = 0; i < p->n_ov; i++)
		if (strcmp(p->ov[i].tensor, tensor) == 0) {
			p->ov[i].type = type;
			p->ov[i].pinned = pinned;
			return PJ_OK;
		}
	p->ov = pj_xrealloc(p->ov, (p->n_ov + 1) * sizeof *p->ov);
	p->ov[p->n_ov++] = (pj_plan_override){ .tensor = pj_xstrdup(tensor), .type = type, .pinned = pinned };
	return PJ_OK;
}

bool pj_plan_clear_manual(pj_plan *p, const char *tensor)
{
	for (size_t i = 0; i < p->n_ov; i++)
		if (strcmp(p->ov[i].tensor, tensor) == 0) {
			free(p->ov[i].tensor);
			memmove(&p->ov[i], &p->ov[i + 1], (p->n_ov - i - 1) * sizeof *p->ov);
			p->n_ov--;
			return true;
		}
	return false;
}

static bool rule_matches(const pj_plan_rule *r, const pj_plan_entry *e)
{
	switch (r->kind) {
	case PJ_RULE_REGEX: return regexec(&r->re, e->t->name, 0, NULL, 0) == 0;
	case PJ_RULE_ROLE:
	case PJ_RULE_LAYER:
		if (r->kind == PJ_RULE_ROLE && e->t->role != r->role)
			return false;
		return r->layer_lo < 0 || (e->t->layer >= r->layer_lo && e->t->layer <= r->layer_hi);
	}
	return false;
}

/* The type a kept tensor is written in: its own, except that 16-bit 1-D
 * tensors, norms and routers become F32 as llama.cpp's converter writes them. */
static pj_dtype kept_type(const pj_plan_entry *e)
{
	const pj_dtype s = e->t->dtype;
	const bool small = e->n_dims < 2 || strcmp(e->kept, "norm") == 0 || strcmp(e->kept, "expert router") == 0;
	return small && (s == PJ_DT_F16 || s == PJ_DT_BF16) ? PJ_DT_F32 : s;
}

static bool is_router(const pj_plan_entry *e)
{
	return e->t->role == PJ_ROLE_ROUTER || e->t->role == PJ_ROLE_EXP_SCORE_BIAS ||
	       strstr(e->t->name, "ffn_gate_inp.weight") || strstr(e->t->name, "exp_probs_b");
}

bool pj_plan_overridable(const pj_plan_entry *e)
{
	return e->quantizable || (is_router(e) && e->n_dims >= 2);
}

static const pj_plan_override *override_for(pj_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_ov; i++)
		if (strcmp(p->ov[i].tensor, name) == 0) {
			p->ov[i].matched = true;
			return &p->ov[i];
		}
	return NULL;
}

bool pj_plan_apply_entry(const pj_plan *p, pj_plan_entry *e, const pj_plan_override *ov, pj_provenance who)
{
	const pj_tensor *t = e->t;
	pj_dtype want = e->requested;
	if (ov) {
		if (pj_plan_overridable(e)) {
			want = ov->type;
			e->prov = who;
			e->pinned = ov->pinned;
			e->rule = -1;
			e->why = (pj_reason){ .why = PJ_WHY_OVERRIDE, .who = (uint8_t)who, .pinned = ov->pinned };
		} else {
			e->why = (pj_reason){ .why = PJ_WHY_OVERRIDE_KEPT, .type = want };
		}
	}
	/* protection: the router chooses the experts; never below Q8_0 */
	if (want != e->base_type && !e->pinned && pj_dtype_bpw(want) < pj_dtype_bpw(PJ_DT_Q8_0) && is_router(e)) {
		e->why = (pj_reason){ .why = PJ_WHY_ROUTER, .type = want };
		want = PJ_DT_Q8_0;
	}
	const bool quantized_base = p->pure ? pj_dtype_info_of(p->pure_type)->quantized : true;
	bool ok = true;
	e->requested = want;
	e->type = want;
	e->fell_back = false;
	if (e->prov != PJ_PROV_SOURCE && (quantized_base || pj_dtype_info_of(want)->quantized)) {
		e->type = pj_plan_shape_fallback(want, t->ne[0], &ok);
		e->fell_back = e->type != want;
	}
	e->needs_imatrix = e->quantizable && pj_plan_type_needs_imatrix(t->name, e->type, p->ftype);
	uint64_t nb = t->nbytes;
	if (e->type != t->dtype && !pj_dtype_bytes(e->type, (uint64_t)pj_tensor_nelem(t), &nb))
		nb = 0;
	e->bytes = nb;
	return ok;
}

/* One entry: base and rules here, then override, protections and fallback
 * (pj_plan_apply_entry).  Returns false when the type has no shape fallback
 * (llama.cpp refuses such a tensor). */
static bool plan_entry(pj_plan *p, pj_plan_entry *e, const bool quantized_base)
{
	e->pinned = false;
	e->rule = -1;
	pj_dtype want;
	if (!e->quantizable) {
		want = e->base_type = kept_type(e);
		e->prov = PJ_PROV_SOURCE;
		e->why = (pj_reason){ .why = PJ_WHY_KEPT };
	} else {
		want = e->base_type;
		e->prov = PJ_PROV_PRESET;
	}
	/* rules apply where llama-quantize applies --tensor-type (a quantized
	 * base), plus to routers, which the plan may raise to Q8_0 or more */
	const bool ruleable = e->quantizable ? quantized_base : pj_plan_overridable(e);
	for (size_t r = 0; r < p->n_rules; r++) {
		if (!rule_matches(&p->rules[r], e))
			continue;
		p->rules[r].n_matched++;
		if (ruleable) {
			want = p->rules[r].type;
			e->prov = PJ_PROV_RULE;
			e->rule = (int)r;
			e->why = (pj_reason){ .why = PJ_WHY_RULE, .rule = (int)r };
		} else if (e->kept) {
			e->why = (pj_reason){ .why = PJ_WHY_RULE_KEPT, .rule = (int)r };
		} else {
			e->why = (pj_reason){ .why = PJ_WHY_RULE_IGNORED, .rule = (int)r, .type = e->base_type };
		}
		break;
	}
	e->requested = want;
	return pj_plan_apply_entry(p, e, override_for(p, e->t->name), PJ_PROV_MANUAL);
}

pj_status pj_plan_apply(pj_plan *p, pj_error *err)
{
	clear_warnings(p);
	for (size_t r = 0; r < p->n_rules; r++)
		p->rules[r].n_matched = 0;
	for (size_t i = 0; i < p->n_ov; i++)
		p->ov[i].matched = false;
	/* the base: pure type or preset */
	if (p->pure) {
		for (size_t i = 0; i < p->n; i++)
			if (p->e[i].quantizable) {
				p->e[i].base_type = p->pure_type;
				p->e[i].why = (pj_reason){ .why = PJ_WHY_PURE, .type = p->pure_type };
			}
	} else {
		pj_preset_apply(p->preset, p);
	}
	const bool quantized_base = p->pure ? pj_dtype_info_of(p->pure_type)->quantized : true;
	p->src_bytes = p->out_bytes = p->n_elements = 0;
	p->n_quantized = p->n_fallback = p->n_need_imatrix = 0;
	pj_status st = PJ_OK;
	/* every tensor the type cannot hold is named: rules may rescue them */
	const pj_plan_entry *unfit = NULL;
	char names[600] = "";
	size_t n_unfit = 0, k = 0;
	for (size_t i = 0; i < p->n; i++) {
		pj_plan_entry *e = &p->e[i];
		if (!plan_entry(p, e, quantized_base)) {
			unfit = unfit ? unfit : e;
			if (n_unfit++ && n_unfit <= 6 && k < sizeof names)
				k += (size_t)snprintf(names + k, sizeof names - k, ", %s", e->t->name);
		}
		if (pj_dtype_info_of(e->type)->ggml_id < 0 && !st)
			st = pj_fail(err, PJ_EUNSUPPORTED, "%s: %s is not a GGUF type", e->t->name, pj_dtype_name(e->type));
		p->src_bytes += e->t->nbytes;
		p->out_bytes += e->bytes;
		p->n_elements += (uint64_t)pj_tensor_nelem(e->t);
		p->n_quantized += e->type != e->t->dtype;
		p->n_fallback += e->fell_back;
		p->n_need_imatrix += e->needs_imatrix;
	}
	if (unfit) {
		const pj_dtype_info *di = pj_dtype_info_of(unfit->requested);
		char more[48] = "";
		if (n_unfit > 6)
			snprintf(more, sizeof more, " and %zu more", n_unfit - 6);
		st = pj_fail(err, PJ_EUNSUPPORTED, "%s%s%s: rows of %lld are not a multiple of %u and %s has no fallback type "
		             "(a rule can give %s another type)", unfit->t->name, names, more, (long long)unfit->t->ne[0],
		             di->block, di->name, n_unfit > 1 ? "them" : "it");
	}
	for (size_t r = 0; r < p->n_rules; r++)
		if (!p->rules[r].n_matched)
			warn(p, "rule '%s' matches no tensor", p->rules[r].text);
	for (size_t i = 0; i < p->n_ov; i++)
		if (!p->ov[i].matched)
			warn(p, "override for %s: the model has no such tensor", p->ov[i].tensor);
	return st;
}

const char *pj_plan_reason(const pj_plan *p, const pj_plan_entry *e, char *buf)
{
	const size_t n = PJ_REASON_MAX;
	const pj_reason *r = &e->why;
	const char *ty = pj_dtype_name(r->type);
	const char *rule = r->rule >= 0 && (size_t)r->rule < p->n_rules ? p->rules[r->rule].text : "?";
	buf[0] = 0;
	switch ((pj_why)r->why) {
	case PJ_WHY_NONE: break;
	case PJ_WHY_KEPT: snprintf(buf, n, "kept: %s (llama.cpp never quantizes it)", e->kept); break;
	case PJ_WHY_PURE: snprintf(buf, n, "pure %s", ty); break;
	case PJ_WHY_MIX_DEFAULT:
	case PJ_WHY_MIX:
	case PJ_WHY_ARCH: pj_preset_reason(e, buf, n); break;
	case PJ_WHY_RULE: snprintf(buf, n, "rule %d: %s", r->rule + 1, rule); break;
	case PJ_WHY_RULE_KEPT: snprintf(buf, n, "kept: %s (rule %d does not apply)", e->kept, r->rule + 1); break;
	case PJ_WHY_RULE_IGNORED:
		snprintf(buf, n, "rule %d ignored: a %s base is not quantized (as in llama-quantize)", r->rule + 1, ty);
		break;
	case PJ_WHY_OVERRIDE:
		snprintf(buf, n, "%s%s", pj_provenance_name((pj_provenance)r->who), r->pinned ? ", pinned" : "");
		break;
	case PJ_WHY_OVERRIDE_KEPT:
		snprintf(buf, n, "kept: %s (override ignored: %s stays %s)", e->kept,
		         e->n_dims < 2 ? "1-D tensors" : "this tensor", ty);
		break;
	case PJ_WHY_ROUTER:
		snprintf(buf, n, "router protected: %s requested, Q8_0 is the floor (pin to force)", ty);
		break;
	}
	if (e->fell_back) {
		size_t k = strlen(buf);
		snprintf(buf + k, n - k, "; rows of %lld: %s falls back to %s", (long long)e->t->ne[0],
		         pj_dtype_name(e->requested), pj_dtype_name(e->type));
	}
	return buf;
}

const pj_plan_entry *pj_plan_find(const pj_plan *p, const char *tensor)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->e[i].t->name, tensor) == 0)
			return &p->e[i];
	return NULL;
}

double pj_plan_bpw(const pj_plan *p)
{
	return p->n_elements ? (double)p->out_bytes * 8.0 / (double)p->n_elements : 0.0;
}

double pj_plan_ratio(const pj_plan *p)
{
	return p->src_bytes ? (double)p->out_bytes / (double)p->src_bytes : 0.0;
}

/* ---- identity and export -------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(const pj_tensor *const *)a)->name, (*(const pj_tensor *const *)b)->name);
}

void pj_plan_header_sha256(const pj_catalog *cat, char hex[65])
{
	const pj_tensor **v = pj_xcalloc(cat->n ? cat->n : 1, sizeof *v);
	for (size_t i = 0; i < cat->n; i++)
		v[i] = &cat->t[i];
	qsort(v, cat->n, sizeof *v, name_cmp);
	pj_sha256_ctx s;
	pj_sha256_init(&s);
	for (size_t i = 0; i < cat->n; i++) {
		char line[64];
		pj_sha256_update(&s, v[i]->name, strlen(v[i]->name));
		int k = snprintf(line, sizeof line, "\t%s\t", pj_dtype_name(v[i]->dtype));
		pj_sha256_update(&s, line, (size_t)k);
		for (int d = 0; d < v[i]->n_dims; d++) {
			k = snprintf(line, sizeof line, d ? ",%lld" : "%lld", (long long)v[i]->ne[d]);
			pj_sha256_update(&s, line, (size_t)k);
		}
		pj_sha256_update(&s, "\n", 1);
	}
	free(v);
	uint8_t dig[32];
	pj_sha256_final(&s, dig);
	pj_sha256_to_hex(dig, hex);
}

/* ggml_type_name spelling: lower case, the k-quants' "_K" upper case. */
static void ggml_name(pj_dtype t, char *buf, size_t len)
{
	snprintf(buf, len, "%s", pj_dtype_name(t));
	for (char *c = buf; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	size_t n = strlen(buf);
	if (n > 2 && strcmp(buf + n - 2, "_k") == 0)
		buf[n - 1] = 'K';
}

char *pj_plan_tensor_type_file(const pj_plan *p, size_t *n_unreproducible)
{
	sbuf b = { 0 };
	sb_str(&b, "");
	size_t bad = 0;
	for (size_t i = 0; i < p->n; i++) {
		const pj_plan_entry *e = &p->e[i];
		if (!e->quantizable) {
			bad += e->type != kept_type(e) && e->type != e->t->dtype;
			continue;
		}
		char ty[16];
		ggml_name(e->type, ty, sizeof ty);
		sb_str(&b, "^");
		sb_regex_escaped(&b, e->t->name);
		sb_printf(&b, "$=%s\n", ty);
	}
	if (n_unreproducible)
		*n_unreproducible = bad;
	return b.p;
}

const char *pj_plan_ftype_name(const pj_plan *p)
{
	size_t n;
	const pj_ftype *all = pj_ftype_all(&n);
	if (p->preset)
		return p->preset->ftype;
	for (size_t i = 0; i < n; i++)
		if (all[i].ftype == p->ftype)
			return all[i].name;
	return "Q8_0";
}

/* Single-quotes a word for a POSIX shell when it needs it. */
static void sh_word(sbuf *b, const char *w)
{
	if (*w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") == strlen(w)) {
		sb_printf(b, " %s", w);
		return;
	}
	sb_str(b, " '");
	for (const char *c = w; *c; c++)
		if (*c == '\'')
			sb_str(b, "'\\''");
		else
			sb_add(b, c, 1);
	sb_str(b, "'");
}

static int query_cmp(const void *a, const void *b)
{
	return strcmp(((const pj_imatrix_query *)a)->name, ((const pj_imatrix_query *)b)->name);
}

void pj_plan_imatrix_coverage(const pj_plan *p, const pj_imatrix *im, bool all, pj_imatrix_coverage *out)
{
	pj_imatrix_query *q = pj_xcalloc(p->n ? p->n : 1, sizeof *q);
	char **names = pj_xcalloc(p->n ? p->n : 1, sizeof *names);
	size_t nq = 0;
	for (size_t i = 0; i < p->n; i++) {
		const pj_plan_entry *e = &p->e[i];
		const pj_qtype *qt = pj_qtype_get(e->type);
		const bool weighted = all ? e->quantizable && e->n_dims >= 2
		                          : e->type != e->t->dtype && qt && qt->block > 1;
		if (!weighted || strcmp(e->t->name, "token_embd.weight") == 0)
			continue;
		char g[512];
		int expert = -1;
		if (p->gguf_names || !pj_imatrix_hf_to_gguf(e->t->name, g, sizeof g, &expert)) {
			q[nq++] = (pj_imatrix_query){ e->t->name, e->t->ne[0], e->t->ne[2] * e->t->ne[3] };
			continue;
		}
		if (strcmp(g, "token_embd.weight") == 0)
			continue;
		/* an HF expert: its stack, as big as the entry says */
		const pj_imatrix_entry *ie = pj_imatrix_find(im, g);
		const int64_t vals = ie ? ie->n_per_row * ie->n_mats : 0, ne0 = e->t->ne[0];
		names[nq] = pj_xstrdup(g);
		q[nq] = (pj_imatrix_query){ names[nq], ne0, expert >= 0 && ne0 > 0 && vals % ne0 == 0 ? vals / ne0 : 1 };
		nq++;
	}
	if (!p->gguf_names && nq) {
		/* one query per stack */
		qsort(q, nq, sizeof *q, query_cmp);
		size_t k = 1;
		for (size_t i = 1; i < nq; i++)
			if (strcmp(q[i].name, q[k - 1].name) != 0)
				q[k++] = q[i];
		nq = k;
	}
	pj_imatrix_coverage_of(im, q, nq, out);
	for (size_t i = 0; i < p->n; i++)
		free(names[i]);
	free(names);
	free(q);
}

/* Whether im holds data for e: under HF names, for its GGUF entry. */
static bool has_importance(const pj_plan *p, const pj_imatrix *im, const pj_plan_entry *e)
{
	char g[512];
	int expert = -1;
	if (!im)
		return false;
	if (p->gguf_names || !pj_imatrix_hf_to_gguf(e->t->name, g, sizeof g, &expert))
		return pj_imatrix_find(im, e->t->name) != NULL;
	return pj_imatrix_find(im, g) != NULL;
}

bool pj_plan_entry_unweightable(const pj_plan *p, const pj_imatrix *im, const pj_plan_entry *e)
{
	return e->type != e->t->dtype && pj_qtype_requires_imatrix(e->type) && !has_importance(p, im, e);
}

size_t pj_plan_unweightable(const pj_plan *p, const pj_imatrix *im, size_t *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (!pj_plan_entry_unweightable(p, im, &p->e[i]))
			continue;
		if (n < max)
			out[n] = i;
		n++;
	}
	return n;
}

/* Plan ftypes llama-quantize has no name for ("invalid ftype"). */
static const char *const NOT_QUANTIZE_FTYPES[] = { "NVFP4" };

const char *pj_plan_quantize_base(const pj_plan *p)
{
	const char *name = pj_plan_ftype_name(p);
	for (size_t i = 0; i < sizeof NOT_QUANTIZE_FTYPES / sizeof NOT_QUANTIZE_FTYPES[0]; i++)
		if (strcasecmp(name, NOT_QUANTIZE_FTYPES[i]) == 0)
			return "Q8_0";
	return name;
}

char *pj_plan_command(const pj_plan *p, const char *ttf, const char *imatrix, const char *in, const char *out)
{
	sbuf b = { 0 };
	sb_str(&b, "llama-quantize");
	if (ttf) {
		sb_str(&b, " --tensor-type-file");
		sh_word(&b, ttf);
	}
	if (imatrix) {
		sb_str(&b, " --imatrix");
		sh_word(&b, imatrix);
	}
	sh_word(&b, in);
	sh_word(&b, out);
	sh_word(&b, pj_plan_quantize_base(p));
	return b.p;
}

/* ---- KV cache ----------------------------------------------------------------------- */

uint64_t pj_plan_kv_bytes(const pj_arch *a, int64_t ctx, pj_dtype cache_type)
{
	const pj_dtype_info *d = pj_dtype_info_of(cache_type);
	uint64_t total = 0;
	for (int i = 0; i < a->n_layer_entries; i++) {
		const pj_layer *l = &a->layers[i];
		if (!l->kv_bytes_per_token_f16)
			continue;
		int64_t tokens = ctx;
		if (l->attn == PJ_ATTN_LOCAL && l->window > 0 && l->window < tokens)
			tokens = l->window;
		/* elements per token: K and V rows (or the latent), blocks rounded up */
		const uint64_t elems = l->kv_bytes_per_token_f16 / 2;
		const uint64_t per_tok = (elems + d->block - 1) / d->block * d->type_size;
		total += per_tok * (uint64_t)tokens;
	}
	return total;
}
