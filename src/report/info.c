/* info.c - the --info report.
 *
 * One pass builds a census (by component and role) and a per-layer table
 * from the catalog and pj_arch; the text and JSON printers format the same
 * data.  Estimated sizes follow llama.cpp's rules where they matter for a
 * size figure: 1-D tensors stay F32, and a row length that is not a multiple
 * of the type's block falls back the way llama-quantize does (k-quants ->
 * Q5_0/Q8_0 style 32-blocks, then F16). */
#include "config.h"
#include "info.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "model/dtype.h"
#include "model/roles.h"
#include "quant/convert.h"
#include "quant/presets.h"
#include "report/hf2gguf.h"

/* Size estimates shown in --info: the three targets a user weighs first. */
static const pj_dtype estimate_types[] = { PJ_DT_F16, PJ_DT_Q8_0, PJ_DT_Q4_K };
#define N_EST (sizeof estimate_types / sizeof estimate_types[0])

/* Context lengths for the KV-cache table (plus the model's own maximum). */
static const int64_t kv_contexts[] = { 4096, 32768, 131072 };
#define N_KV_CTX (sizeof kv_contexts / sizeof kv_contexts[0])

static const char *const gguf_expert_note =
	"GGUF stores each MoE layer's experts as one 3-D tensor per projection "
	"(ffn_gate_exps, ffn_up_exps, ffn_down_exps) with a single type: experts are "
	"listed one by one, but a type applies to the stacked tensor on export.";

/* Fallback when ne[0] is not a multiple of the block (llama-quantize's table,
 * simplified to the three estimate types). */
static pj_dtype fallback_type(pj_dtype t)
{
	switch (t) {
	case PJ_DT_Q4_K: return PJ_DT_Q5_0;
	case PJ_DT_Q8_0: return PJ_DT_F16;
	default: return PJ_DT_F16;
	}
}

static bool is_param(const pj_tensor *t)
{
	return t->role != PJ_ROLE_WEIGHT_SCALE;
}

/* Uses the detected parameter count, so packed MXFP4 blocks (two values a
 * byte) are estimated by what they hold, not by their stored bytes. */
uint64_t pj_info_estimate_bytes(const pj_tensor *t, pj_dtype target)
{
	uint64_t n = t->params, out;
	int64_t rows = pj_tensor_nrows(t);
	uint64_t row_len = rows > 0 ? n / (uint64_t)rows : 0;
	if (t->n_dims < 2)
		return n * 4; /* 1-D tensors (norms, biases) stay F32 */
	for (int guard = 0; guard < 4; guard++) {
		const pj_dtype_info *d = pj_dtype_info_of(target);
		if (row_len % d->block == 0 && pj_dtype_bytes(target, n, &out))
			return out;
		target = fallback_type(target);
	}
	return n * 2;
}

typedef struct census_row {
	pj_component comp;
	pj_role role;
	uint64_t count, params, bytes;
	uint64_t est[N_EST];
} census_row;

typedef struct census {
	census_row *rows;
	size_t n;
	uint64_t src_bytes, est_total[N_EST], n_params_tensors, scale_bytes;
} census;

static int census_cmp(const void *a, const void *b)
{
	const census_row *x = a, *y = b;
	if (x->comp != y->comp)
		return (int)x->comp - (int)y->comp;
	return (int)x->role - (int)y->role;
}

static void census_build(const pj_model *m, census *c)
{
	memset(c, 0, sizeof *c);
	/* dense table comp x role, then compacted */
	census_row *grid = pj_xcalloc((size_t)PJ_COMP_COUNT * PJ_ROLE_COUNT, sizeof *grid);
	for (size_t i = 0; i < m->cat.n; i++) {
		const pj_tensor *t = &m->cat.t[i];
		unsigned comp = (unsigned)t->comp < PJ_COMP_COUNT ? (unsigned)t->comp : 0;
		unsigned role = (unsigned)t->role < PJ_ROLE_COUNT ? (unsigned)t->role : 0;
		census_row *r = &grid[comp * PJ_ROLE_COUNT + role];
		r->comp = (pj_component)comp;
		r->role = (pj_role)role;
		r->count++;
		r->bytes += t->nbytes;
		c->src_bytes += t->nbytes;
		if (!is_param(t)) {
			c->scale_bytes += t->nbytes;
			continue;
		}
		r->params += t->params;
		for (size_t k = 0; k < N_EST; k++) {
			uint64_t b = pj_info_estimate_bytes(t, estimate_types[k]);
			r->est[k] += b;
			c->est_total[k] += b;
		}
	}
	for (size_t i = 0; i < (size_t)PJ_COMP_COUNT * PJ_ROLE_COUNT; i++) {
		if (!grid[i].count)
			continue;
		c->rows = pj_xrealloc(c->rows, (c->n + 1) * sizeof *c->rows);
		c->rows[c->n++] = grid[i];
	}
	free(grid);
	qsort(c->rows, c->n, sizeof *c->rows, census_cmp);
}

/* KV-cache bytes at F16 for ctx tokens: local layers cache at most their window. */
uint64_t pj_info_kv_bytes(const pj_arch *a, int64_t ctx)
{
	uint64_t total = 0;
	for (int i = 0; i < a->n_layer_entries; i++) {
		const pj_layer *l = &a->layers[i];
		int64_t tokens = ctx;
		if (l->attn == PJ_ATTN_LOCAL && l->window > 0 && l->window < tokens)
			tokens = l->window;
		total += l->kv_bytes_per_token_f16 * (uint64_t)tokens;
	}
	return total;
}

static void human_bytes(uint64_t b, char *buf, size_t len)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;
	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else
		snprintf(buf, len, "%.2f %s", v, units[u]);
}

static void human_count(uint64_t n, char *buf, size_t len)
{
	if (n >= 1000000000ULL)
		snprintf(buf, len, "%.2fB", n / 1e9);
	else if (n >= 1000000ULL)
		snprintf(buf, len, "%.2fM", n / 1e6);
	else if (n >= 1000ULL)
		snprintf(buf, len, "%.1fK", n / 1e3);
	else
		snprintf(buf, len, "%" PRIu64, n);
}

static bool has_stacked_experts(const pj_model *m)
{
	for (size_t i = 0; i < m->cat.n; i++)
		if (m->cat.t[i].n_experts > 0)
			return true;
	return false;
}

const char *pj_info_gating_warning(const char *arch, bool has_gating_key, const pj_catalog *cat)
{
	if (!arch || strcmp(arch, "deepseek2") != 0 || has_gating_key)
		return NULL;
	for (size_t i = 0; i < cat->n; i++)
		if (strstr(cat->t[i].name, "exp_probs_b"))
			return "llama.cpp will route with softmax; the model uses sigmoid: export with --override-kv "
			       PJ_GATING_KEY "=int:2";
	return NULL;
}

const char *pj_info_hf_gating(const pj_hf2gguf *h, bool *has_gating_key)
{
	size_t n;
	const pj_gguf_wkv *kv = pj_hf2gguf_kv(h, &n);
	const char *arch = NULL;
	*has_gating_key = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(kv[i].key, "general.architecture") == 0 && kv[i].type == PJ_GGUF_STRING)
			arch = kv[i].s;
		*has_gating_key |= strcmp(kv[i].key, PJ_GATING_KEY) == 0;
	}
	return arch;
}

/* The same for a GGUF model as it is, or for a folder as our export would
 * write it (no warning when it cannot be exported). */
static const char *model_gating_warning(const pj_model *m)
{
	if (m->gguf)
		return pj_info_gating_warning(pj_gguf_get_str(m->gguf, "general.architecture"),
		                              pj_gguf_find(m->gguf, PJ_GATING_KEY) != NULL, &m->cat);
	bool bias = false;   /* no score-correction bias: no need to read the tokenizer */
	for (size_t i = 0; i < m->cat.n && !bias; i++)
		bias = strstr(m->cat.t[i].name, "e_score_correction_bias") != NULL;
	pj_hf2gguf *h;
	pj_error err;
	/* open reads config, tokenizer and catalog only: m stays as it is */
	if (!bias || m->format != PJ_FMT_HF || pj_hf2gguf_open((pj_model *)m, PJ_DT_COUNT, &h, &err) != PJ_OK)
		return NULL;
	bool gating;
	const char *arch = pj_info_hf_gating(h, &gating);
	const char *w = pj_info_gating_warning(arch, gating, pj_hf2gguf_catalog(h));
	pj_hf2gguf_free(h);
	return w;
}

static const char *format_name(const pj_model *m)
{
	return m->format == PJ_FMT_GGUF ? "gguf" : "hf-safetensors";
}

/* ---- requantization -------------------------------------------------------- */

void pj_requant_count(const pj_catalog *cat, const pj_plan *p, pj_requant *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < cat->n; i++) {
		const pj_dtype d = cat->t[i].dtype;
		if (!pj_convert_is_requant(d) || (unsigned)d >= PJ_DT_COUNT)
			continue;
		out->n_quantized++;
		out->by_type[d]++;
	}
	for (size_t i = 0; p && i < p->n; i++) {
		const pj_plan_entry *e = &p->e[i];
		const pj_dtype d = e->t->dtype;
		if (e->type == d || !pj_convert_is_requant(d) || (unsigned)d >= PJ_DT_COUNT)
			continue;
		out->n_requant++;
		out->requant_by_type[d]++;
	}
}

const char *pj_requant_types(const size_t *by, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = 0;
	for (unsigned d = 0; d < PJ_DT_COUNT && off < len; d++)
		if (by[d])
			off += (size_t)snprintf(buf + off, len - off, "%s%s x%zu", off ? ", " : "",
			                        pj_dtype_name((pj_dtype)d), by[d]);
	return buf;
}

const char *pj_requant_warning(const pj_requant *r, char *buf, size_t len)
{
	char types[160];
	buf[0] = 0;
	if (r->n_requant)
		snprintf(buf, len,
		         "the plan requantizes %zu already quantized tensor%s (%s): each is dequantized and quantized again, "
		         "and the errors compound - start from the original BF16/F16 weights when you have them",
		         r->n_requant, r->n_requant == 1 ? "" : "s",
		         pj_requant_types(r->requant_by_type, types, sizeof types));
	else if (r->n_quantized)
		snprintf(buf, len,
		         "%zu tensor%s already quantized (%s): kept in their type they are copied, any other type "
		         "requantizes them (dequantized and quantized again: the errors compound)",
		         r->n_quantized, r->n_quantized == 1 ? " is" : "s are",
		         pj_requant_types(r->by_type, types, sizeof types));
	return buf;
}

/* What the auto preset's plan would requantize (the plan only when there is
 * something quantized: it costs a pass over the tensors). */
static void requant_auto(const pj_model *m, pj_requant *r, char *preset, size_t len)
{
	pj_requant_count(&m->cat, NULL, r);
	snprintf(preset, len, "auto");
	if (!r->n_quantized)
		return;
	pj_plan p;
	pj_error err = { 0 };
	if (pj_plan_init(&p, m, "auto", false, &err) != PJ_OK)
		return;
	pj_requant_count(&m->cat, &p, r);
	snprintf(preset, len, "auto (%s)", p.preset ? p.preset->name : pj_plan_ftype_name(&p));
	pj_plan_free(&p);
}

/* ---- text ---------------------------------------------------------------- */

void pj_info_print_text(FILE *out, const pj_model *m)
{
	const pj_arch *a = &m->arch;
	char b1[64], b2[64], summary[256];
	census c;
	census_build(m, &c);

	fprintf(out, "Model:        %s\n", m->name);
	fprintf(out, "Path:         %s\n", m->path);
	fprintf(out, "Format:       %s, %zu file%s, %zu tensors\n", format_name(m), m->cat.n_files,
	        m->cat.n_files == 1 ? "" : "s", m->cat.n);
	fprintf(out, "Architecture: %s (model_type %s)\n", a->arch, a->model_type);
	fprintf(out, "Summary:      %s\n", pj_arch_summary(a, summary, sizeof summary));
	fprintf(out, "Traits:      ");
	for (unsigned i = 0; i < PJ_TRAIT_COUNT; i++)
		if (a->traits & (1u << i))
			fprintf(out, " %s", pj_trait_name(i));
	fprintf(out, "\nFamily:       %s - %s\n", pj_family_name(a->family), a->family_reason);
	char why[256];
	const pj_preset *ps = pj_preset_auto(m, why, sizeof why);
	fprintf(out, "Preset:       %s - %s\n", ps ? ps->name : "?", why);
	fprintf(out, "Dimensions:   %d layers, hidden %d, heads %d, kv heads %d, head dim %d, vocab %d, context %" PRId64 "\n",
	        a->n_layers, a->hidden, a->n_heads, a->n_kv_heads, a->head_dim, a->vocab, a->ctx_len);
	if (a->traits & PJ_TRAIT(MOE))
		fprintf(out, "MoE:          %d routed experts, %d active, %d shared, %d leading dense layer%s, %d MoE layers, expert FFN %d\n",
		        a->n_experts, a->n_experts_active, a->n_shared_experts, a->first_dense,
		        a->first_dense == 1 ? "" : "s", a->n_moe_layers, a->expert_ff);
	if (a->traits & (PJ_TRAIT(HYBRID) | PJ_TRAIT(LINEAR)) || a->n_local_layers)
		fprintf(out, "Attention:    %d local (window %d), %d global, %d linear; local:global %s\n",
		        a->n_local_layers, a->sliding_window, a->n_global_layers, a->n_linear_layers,
		        a->local_global[0] ? a->local_global : "-");
	if (a->traits & PJ_TRAIT(MLA))
		fprintf(out, "MLA:          q_lora_rank %d, kv_lora_rank %d, rope dim %d, nope dim %d, v head dim %d\n",
		        a->q_lora_rank, a->kv_lora_rank, a->qk_rope_head_dim, a->qk_nope_head_dim, a->v_head_dim);
	if (a->traits & PJ_TRAIT(MULTIMODAL))
		fprintf(out, "Vision:       %s, %d blocks, hidden %d, projector %s\n",
		        a->vision_type[0] ? a->vision_type : "vision tower", a->vision_layers, a->vision_hidden,
		        a->has_projector ? "yes" : "no");
	if (a->traits & PJ_TRAIT(ENCDEC))
		fprintf(out, "Enc-dec:      %d encoder blocks, %d decoder blocks (with cross-attention)\n",
		        a->encoder_layers, a->decoder_layers);
	human_count(a->params_total, b1, sizeof b1);
	human_count(a->params_active, b2, sizeof b2);
	fprintf(out, "Parameters:   %" PRIu64 " (%s) total, %" PRIu64 " (%s) active per token\n",
	        a->params_total, b1, a->params_active, b2);
	for (int k = 0; k < PJ_COMP_COUNT; k++)
		if (a->params_by_comp[k])
			fprintf(out, "              %-10s %" PRIu64 "\n", pj_component_name((pj_component)k), a->params_by_comp[k]);
	human_bytes(c.src_bytes, b1, sizeof b1);
	fprintf(out, "Size:         %s at source dtype", b1);
	for (size_t k = 0; k < N_EST; k++) {
		human_bytes(c.est_total[k], b2, sizeof b2);
		fprintf(out, "%s %s %s", k ? "," : "; estimated", pj_dtype_name(estimate_types[k]), b2);
	}
	fprintf(out, "\n");
	if (c.scale_bytes) {
		human_bytes(c.scale_bytes, b1, sizeof b1);
		fprintf(out, "              (%s of block-scale tensors (FP8 weight_scale_inv, MXFP4 scales) are not parameters: they belong to the weights)\n", b1);
	}
	pj_requant rq;
	char rq_types[160], rq_preset[64], rq_warn[400];
	requant_auto(m, &rq, rq_preset, sizeof rq_preset);
	if (rq.n_quantized)
		fprintf(out, "Quantized:    %zu of %zu tensors are stored quantized (%s); preset %s requantizes %zu of them\n",
		        rq.n_quantized, m->cat.n, pj_requant_types(rq.by_type, rq_types, sizeof rq_types), rq_preset,
		        rq.n_requant);

	fprintf(out, "\nKV cache at F16: %" PRIu64 " bytes per token (before sliding-window caps)\n",
	        a->kv_bytes_per_token_f16);
	for (size_t k = 0; k <= N_KV_CTX; k++) {
		int64_t ctx = k < N_KV_CTX ? kv_contexts[k] : a->ctx_len;
		if (ctx <= 0 || (k == N_KV_CTX && (ctx == 4096 || ctx == 32768 || ctx == 131072)))
			continue;
		human_bytes(pj_info_kv_bytes(a, ctx), b1, sizeof b1);
		fprintf(out, "  context %7" PRId64 ": %s%s\n", ctx, b1, k == N_KV_CTX ? " (model maximum)" : "");
	}

	fprintf(out, "\nTensor census (shapes in ggml order; estimates keep 1-D tensors in F32)\n");
	fprintf(out, "  %-9s %-20s %7s %14s %11s", "component", "role", "tensors", "params", "source");
	for (size_t k = 0; k < N_EST; k++)
		fprintf(out, " %11s", pj_dtype_name(estimate_types[k]));
	fprintf(out, "\n");
	for (size_t i = 0; i < c.n; i++) {
		const census_row *r = &c.rows[i];
		human_bytes(r->bytes, b1, sizeof b1);
		fprintf(out, "  %-9s %-20s %7" PRIu64 " %14" PRIu64 " %11s", pj_component_name(r->comp),
		        pj_role_name(r->role), r->count, r->params, b1);
		for (size_t k = 0; k < N_EST; k++) {
			human_bytes(r->est[k], b2, sizeof b2);
			fprintf(out, " %11s", r->params ? b2 : "-");
		}
		fprintf(out, "\n");
	}

	fprintf(out, "\nLayers\n  %-9s %5s %-8s %7s %-5s %7s %6s %14s %12s\n", "component", "index", "attn",
	        "window", "ffn", "experts", "shared", "params", "KV B/token");
	for (int i = 0; i < a->n_layer_entries; i++) {
		const pj_layer *l = &a->layers[i];
		char attn[24];
		snprintf(attn, sizeof attn, "%s%s", pj_attn_kind_name(l->attn), l->cross_attn ? "+x" : "");
		fprintf(out, "  %-9s %5d %-8s %7d %-5s %7d %6d %14" PRIu64 " %12" PRIu64 "\n",
		        pj_component_name((pj_component)l->comp), l->index, attn, l->window,
		        pj_ffn_kind_name(l->ffn), l->n_experts, l->n_shared, l->params, l->kv_bytes_per_token_f16);
	}
	if ((a->traits & PJ_TRAIT(MOE)) || has_stacked_experts(m))
		fprintf(out, "\nNote: %s\n", gguf_expert_note);
	for (size_t i = 0; i < m->n_warnings; i++)
		fprintf(out, "Warning: %s\n", m->warnings[i]);
	if (rq.n_quantized)
		fprintf(out, "Warning: %s\n", pj_requant_warning(&rq, rq_warn, sizeof rq_warn));
	const char *gw = model_gating_warning(m);
	if (gw)
		fprintf(out, "Warning: %s\n", gw);
	free(c.rows);
}

/* ---- JSON ---------------------------------------------------------------- */

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
	cJSON_AddNumberToObject(o, k, (double)v);
}

void pj_info_print_json(FILE *out, const pj_model *m)
{
	const pj_arch *a = &m->arch;
	char summary[256];
	census c;
	census_build(m, &c);

	cJSON *root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "schema_version", PJ_INFO_SCHEMA_VERSION);

	cJSON *mo = cJSON_AddObjectToObject(root, "model");
	cJSON_AddStringToObject(mo, "name", m->name);
	cJSON_AddStringToObject(mo, "path", m->path);
	cJSON_AddStringToObject(mo, "format", format_name(m));
	add_u64(mo, "files", m->cat.n_files);
	add_u64(mo, "tensors", m->cat.n);

	cJSON *ar = cJSON_AddObjectToObject(root, "arch");
	cJSON_AddStringToObject(ar, "architecture", a->arch);
	cJSON_AddStringToObject(ar, "model_type", a->model_type);
	cJSON_AddStringToObject(ar, "family", pj_family_name(a->family));
	cJSON_AddStringToObject(ar, "family_reason", a->family_reason);
	{
		char why[256];
		const pj_preset *ps = pj_preset_auto(m, why, sizeof why);
		cJSON_AddStringToObject(ar, "auto_preset", ps ? ps->name : "");
		cJSON_AddStringToObject(ar, "auto_preset_reason", why);
	}
	cJSON *traits = cJSON_AddArrayToObject(ar, "traits");
	for (unsigned i = 0; i < PJ_TRAIT_COUNT; i++)
		if (a->traits & (1u << i))
			cJSON_AddItemToArray(traits, cJSON_CreateString(pj_trait_name(i)));
	cJSON_AddStringToObject(ar, "summary", pj_arch_summary(a, summary, sizeof summary));
	cJSON_AddBoolToObject(ar, "unknown", a->unknown);
	add_u64(ar, "n_layers", (uint64_t)a->n_layers);
	add_u64(ar, "hidden", (uint64_t)a->hidden);
	add_u64(ar, "heads", (uint64_t)a->n_heads);
	add_u64(ar, "kv_heads", (uint64_t)a->n_kv_heads);
	add_u64(ar, "head_dim", (uint64_t)a->head_dim);
	add_u64(ar, "vocab", (uint64_t)a->vocab);
	cJSON_AddNumberToObject(ar, "context_length", (double)a->ctx_len);
	cJSON *moe = cJSON_AddObjectToObject(ar, "moe");
	add_u64(moe, "experts", (uint64_t)a->n_experts);
	add_u64(moe, "active", (uint64_t)a->n_experts_active);
	add_u64(moe, "shared", (uint64_t)a->n_shared_experts);
	add_u64(moe, "first_dense", (uint64_t)a->first_dense);
	add_u64(moe, "moe_layers", (uint64_t)a->n_moe_layers);
	add_u64(moe, "expert_ff", (uint64_t)a->expert_ff);
	cJSON *hy = cJSON_AddObjectToObject(ar, "hybrid");
	add_u64(hy, "window", (uint64_t)a->sliding_window);
	add_u64(hy, "local_layers", (uint64_t)a->n_local_layers);
	add_u64(hy, "global_layers", (uint64_t)a->n_global_layers);
	add_u64(hy, "linear_layers", (uint64_t)a->n_linear_layers);
	cJSON_AddStringToObject(hy, "pattern", a->local_global);
	cJSON *mla = cJSON_AddObjectToObject(ar, "mla");
	add_u64(mla, "q_lora_rank", (uint64_t)a->q_lora_rank);
	add_u64(mla, "kv_lora_rank", (uint64_t)a->kv_lora_rank);
	add_u64(mla, "rope_dim", (uint64_t)a->qk_rope_head_dim);
	add_u64(mla, "nope_dim", (uint64_t)a->qk_nope_head_dim);
	add_u64(mla, "v_head_dim", (uint64_t)a->v_head_dim);
	cJSON *vi = cJSON_AddObjectToObject(ar, "vision");
	cJSON_AddStringToObject(vi, "type", a->vision_type);
	add_u64(vi, "layers", (uint64_t)a->vision_layers);
	add_u64(vi, "hidden", (uint64_t)a->vision_hidden);
	cJSON_AddBoolToObject(vi, "projector", a->has_projector);
	add_u64(ar, "encoder_layers", (uint64_t)a->encoder_layers);
	add_u64(ar, "decoder_layers", (uint64_t)a->decoder_layers);

	cJSON *pa = cJSON_AddObjectToObject(root, "params");
	add_u64(pa, "total", a->params_total);
	add_u64(pa, "active", a->params_active);
	cJSON *bc = cJSON_AddObjectToObject(pa, "by_component");
	for (int k = 0; k < PJ_COMP_COUNT; k++)
		if (a->params_by_comp[k])
			add_u64(bc, pj_component_name((pj_component)k), a->params_by_comp[k]);

	cJSON *sz = cJSON_AddObjectToObject(root, "size");
	add_u64(sz, "source_bytes", c.src_bytes);
	add_u64(sz, "scale_bytes", c.scale_bytes);
	cJSON *est = cJSON_AddObjectToObject(sz, "estimated_bytes");
	for (size_t k = 0; k < N_EST; k++)
		add_u64(est, pj_dtype_name(estimate_types[k]), c.est_total[k]);

	cJSON *ce = cJSON_AddArrayToObject(root, "census");
	for (size_t i = 0; i < c.n; i++) {
		const census_row *r = &c.rows[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "component", pj_component_name(r->comp));
		cJSON_AddStringToObject(o, "role", pj_role_name(r->role));
		cJSON_AddStringToObject(o, "group", pj_role_group_name(pj_role_info_of(r->role)->group));
		add_u64(o, "tensors", r->count);
		add_u64(o, "params", r->params);
		add_u64(o, "source_bytes", r->bytes);
		cJSON *e = cJSON_AddObjectToObject(o, "estimated_bytes");
		for (size_t k = 0; k < N_EST; k++)
			add_u64(e, pj_dtype_name(estimate_types[k]), r->est[k]);
		cJSON_AddItemToArray(ce, o);
	}

	cJSON *ly = cJSON_AddArrayToObject(root, "layers");
	for (int i = 0; i < a->n_layer_entries; i++) {
		const pj_layer *l = &a->layers[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "component", pj_component_name((pj_component)l->comp));
		add_u64(o, "index", (uint64_t)l->index);
		cJSON_AddStringToObject(o, "attention", pj_attn_kind_name(l->attn));
		add_u64(o, "window", (uint64_t)l->window);
		cJSON_AddBoolToObject(o, "cross_attention", l->cross_attn);
		cJSON_AddStringToObject(o, "ffn", pj_ffn_kind_name(l->ffn));
		add_u64(o, "experts", (uint64_t)l->n_experts);
		add_u64(o, "shared_experts", (uint64_t)l->n_shared);
		add_u64(o, "params", l->params);
		add_u64(o, "kv_bytes_per_token_f16", l->kv_bytes_per_token_f16);
		cJSON_AddItemToArray(ly, o);
	}

	cJSON *kv = cJSON_AddObjectToObject(root, "kv_cache");
	add_u64(kv, "bytes_per_token_f16", a->kv_bytes_per_token_f16);
	cJSON *at = cJSON_AddArrayToObject(kv, "at_context_f16");
	for (size_t k = 0; k <= N_KV_CTX; k++) {
		int64_t ctx = k < N_KV_CTX ? kv_contexts[k] : a->ctx_len;
		if (ctx <= 0)
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "context", (double)ctx);
		add_u64(o, "bytes", pj_info_kv_bytes(a, ctx));
		cJSON_AddItemToArray(at, o);
	}

	pj_requant rq;
	char rq_preset[64], rq_warn[400];
	requant_auto(m, &rq, rq_preset, sizeof rq_preset);
	cJSON *re = cJSON_AddObjectToObject(root, "requant");
	add_u64(re, "quantized_tensors", rq.n_quantized);
	cJSON *rb = cJSON_AddObjectToObject(re, "by_type");
	add_u64(re, "auto_requantizes", rq.n_requant);
	cJSON *ra = cJSON_AddObjectToObject(re, "auto_requantizes_by_type");
	for (unsigned d = 0; d < PJ_DT_COUNT; d++) {
		if (rq.by_type[d])
			add_u64(rb, pj_dtype_name((pj_dtype)d), rq.by_type[d]);
		if (rq.requant_by_type[d])
			add_u64(ra, pj_dtype_name((pj_dtype)d), rq.requant_by_type[d]);
	}

	cJSON *notes = cJSON_AddArrayToObject(root, "notes");
	if ((a->traits & PJ_TRAIT(MOE)) || has_stacked_experts(m))
		cJSON_AddItemToArray(notes, cJSON_CreateString(gguf_expert_note));
	cJSON *w = cJSON_AddArrayToObject(root, "warnings");
	for (size_t i = 0; i < m->n_warnings; i++)
		cJSON_AddItemToArray(w, cJSON_CreateString(m->warnings[i]));
	if (rq.n_quantized)
		cJSON_AddItemToArray(w, cJSON_CreateString(pj_requant_warning(&rq, rq_warn, sizeof rq_warn)));
	const char *gw = model_gating_warning(m);
	if (gw)
		cJSON_AddItemToArray(w, cJSON_CreateString(gw));

	char *s = cJSON_Print(root);
	fputs(s, out);
	fputc('\n', out);
	cJSON_free(s);
	cJSON_Delete(root);
	free(c.rows);
}
