/* test_plan.c - the plan module: llama.cpp tables, rules (order, anchoring,
 * roles, layers), protections, shape fallbacks, sizes, KV-cache sizes,
 * plan files (round trip, another model, errors) and the llama-quantize
 * export.  Uses the shared models; skips loudly without them. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model.h"
#include "quant/plan.h"
#include "quant/plan_json.h"
#include "quant/presets.h"
#include "tap.h"

static char shared[1024];

static pj_model *open_model(const char *name)
{
	char path[1400];
	snprintf(path, sizeof path, "%s/models/%s/gguf/%s-BF16.gguf", shared, name, name);
	pj_model *m = NULL;
	pj_error err = { 0 };
	if (pj_model_open(path, &m, &err) != PJ_OK) {
		tap_diag("%s", err.msg);
		return NULL;
	}
	return m;
}

static pj_dtype type_of(const pj_plan *p, const char *name)
{
	const pj_plan_entry *e = pj_plan_find(p, name);
	return e ? e->type : PJ_DT_COUNT;
}

static void test_tables(void)
{
	const pj_ftype *ft = pj_ftype_find("q4_k_m");
	ok(ft && ft->ftype == 15 && ft->type == PJ_DT_Q4_K, "Q4_K_M: ftype 15, default Q4_K");
	ok(pj_ftype_find("MXFP4_MOE")->type == PJ_DT_MXFP4, "MXFP4_MOE: MXFP4");
	bool okf;
	is_int(pj_plan_shape_fallback(PJ_DT_Q4_K, 128, &okf), PJ_DT_Q5_0, "Q4_K on 128 columns falls back to Q5_0");
	is_int(pj_plan_shape_fallback(PJ_DT_IQ4_XS, 96, &okf), PJ_DT_IQ4_NL, "IQ4_XS on 96 columns: IQ4_NL");
	is_int(pj_plan_shape_fallback(PJ_DT_Q6_K, 40, &okf), PJ_DT_F16, "Q6_K on 40 columns: F16 (Q8_0 does not fit)");
	is_int(pj_plan_shape_fallback(PJ_DT_Q4_K, 512, &okf), PJ_DT_Q4_K, "a fitting row keeps its type");
	pj_plan_shape_fallback(PJ_DT_MXFP4, 48, &okf);
	ok(!okf, "MXFP4 on 48 columns: no fallback (llama.cpp refuses)");
	ok(pj_plan_type_needs_imatrix("blk.0.attn_q.weight", PJ_DT_IQ3_XXS, 23), "IQ3_XXS needs an imatrix");
	ok(!pj_plan_type_needs_imatrix("output.weight", PJ_DT_IQ3_XXS, 23), "output.weight is exempt");
	ok(pj_plan_order_cmp("output.weight", "blk.0.attn_q.weight") < 0 &&
	   pj_plan_order_cmp("blk.2.x", "blk.10.a") < 0, "llama.cpp order: non-layer first, then layer number");
	const pj_dtype fp8 = pj_precision_type(PJ_PREC_FP8, PJ_DT_BF16, NULL);
	const char *note = NULL;
	pj_precision_type(PJ_PREC_FP8, PJ_DT_BF16, &note);
	ok(fp8 == PJ_DT_Q8_0 && note && strstr(note, "FP8 has no GGUF type"), "FP8 -> Q8_0, with the reason");
	ok(pj_precision_type(PJ_PREC_FP16, PJ_DT_BF16, NULL) == PJ_DT_BF16 &&
	   pj_precision_type(PJ_PREC_FP16, PJ_DT_F32, NULL) == PJ_DT_F16, "FP16 -> BF16 from BF16, else F16");
}

static void test_rules(pj_model *llama, pj_model *moe)
{
	pj_error err = { 0 };
	pj_plan p;
	ok(pj_plan_init(&p, llama, "Q4_K_M", false, &err) == PJ_OK, "plan Q4_K_M on llama");
	is_int(type_of(&p, "output.weight"), PJ_DT_Q6_K, "Q4_K_M: output.weight Q6_K");
	ok(pj_plan_add_rule(&p, "attn_v=Q8_0", &err) == PJ_OK && pj_plan_add_rule(&p, "attn=Q5_K", &err) == PJ_OK &&
	   pj_plan_add_rule(&p, "^blk\\.1\\.ffn_up\\.weight$=Q6_K", &err) == PJ_OK &&
	   pj_plan_add_rule(&p, "^ffn_up=Q2_K", &err) == PJ_OK && pj_plan_add_rule(&p, "norm=Q4_0", &err) == PJ_OK,
	   "rules parse");
	ok(pj_plan_apply(&p, &err) == PJ_OK, "apply");
	is_int(type_of(&p, "blk.0.attn_v.weight"), PJ_DT_Q8_0, "first matching rule wins (attn_v)");
	is_int(type_of(&p, "blk.0.attn_q.weight"), PJ_DT_Q5_K, "the next rule takes the rest (attn_q)");
	const pj_plan_entry *e = pj_plan_find(&p, "blk.0.attn_q.weight");
	char why[PJ_REASON_MAX];
	ok(e->prov == PJ_PROV_RULE && e->rule == 1, "provenance: rule 2");
	is_int(type_of(&p, "blk.1.ffn_up.weight"), PJ_DT_Q6_K, "anchored rule matches its tensor");
	is_int(type_of(&p, "blk.2.ffn_up.weight"), PJ_DT_Q4_K, "anchored rule matches nothing else");
	is_int(type_of(&p, "blk.0.attn_norm.weight"), PJ_DT_F32, "norms stay F32 whatever a rule says");
	ok(p.n_warnings == 1 && strstr(p.warnings[0], "'^ffn_up=Q2_K' matches no tensor"),
	   "a rule matching nothing warns (search semantics, but ^ anchors)");
	is_int(pj_plan_add_rule(&p, "x=Q9_X", &err), PJ_EUSAGE, "unknown type: PJ_EUSAGE");
	like(err.msg, "unknown type 'Q9_X'", "message names the type");
	is_int(pj_plan_add_rule(&p, "x(=Q8_0", &err), PJ_EUSAGE, "bad regex: PJ_EUSAGE");
	is_int(pj_plan_add_rule(&p, "noequals", &err), PJ_EUSAGE, "no '=': PJ_EUSAGE");
	is_int(pj_plan_add_rule(&p, "role:nope=Q8_0", &err), PJ_EUSAGE, "unknown role: PJ_EUSAGE");

	/* the export: anchored, escaped, every quantized tensor */
	size_t bad = 9;
	char *ttf = pj_plan_tensor_type_file(&p, &bad);
	like(ttf, "^blk\\.0\\.attn_v\\.weight$=q8_0\n", "tensor-type file: anchored escaped name, ggml type name");
	like(ttf, "^output\\.weight$=q6_K\n", "k-quant names as llama.cpp spells them");
	ok(!strstr(ttf, "norm") && bad == 0, "kept tensors are not listed");
	size_t lines = 0;
	for (const char *c = ttf; *c; c++)
		lines += *c == '\n';
	is_int(lines, p.n_quantized, "one line per quantized tensor");
	free(ttf);
	char *cmd = pj_plan_command(&p, "tt.txt", "im.gguf", "in.gguf", "out dir/o.gguf");
	is_str(cmd, "llama-quantize --tensor-type-file tt.txt --imatrix im.gguf in.gguf 'out dir/o.gguf' Q4_K_M",
	       "the llama-quantize command line");
	free(cmd);
	pj_plan_free(&p);

	/* role and layer rules */
	ok(pj_plan_init(&p, llama, "pure:Q8_0", false, &err) == PJ_OK, "pure Q8_0");
	pj_plan_add_rule(&p, "role:attn_v@0-1=Q4_K", &err);
	pj_plan_add_rule(&p, "layer:3=Q6_K", &err);
	pj_plan_apply(&p, &err);
	ok(type_of(&p, "blk.0.attn_v.weight") == PJ_DT_Q4_K && type_of(&p, "blk.1.attn_v.weight") == PJ_DT_Q4_K &&
	   type_of(&p, "blk.2.attn_v.weight") == PJ_DT_Q8_0, "role rule with a layer range");
	ok(type_of(&p, "blk.3.ffn_down.weight") == PJ_DT_Q6_K && type_of(&p, "blk.3.attn_v.weight") == PJ_DT_Q6_K,
	   "layer rule");
	/* sizes: Q8_0 is 34 bytes per 32 */
	e = pj_plan_find(&p, "blk.0.attn_q.weight");
	is_int(e->bytes, 256 * 256 / 32 * 34, "attn_q 256x256 at Q8_0: exact bytes");
	uint64_t sum = 0, src = 0;
	for (size_t i = 0; i < p.n; i++)
		sum += p.e[i].bytes, src += p.e[i].t->nbytes;
	ok(sum == p.out_bytes && src == p.src_bytes, "totals are the sums");
	ok(pj_plan_bpw(&p) > 8.0 && pj_plan_bpw(&p) < 9.5 && pj_plan_ratio(&p) < 0.6, "bpw and ratio");
	/* manual override, pinned or not */
	pj_plan_set_manual(&p, "blk.2.attn_k.weight", PJ_DT_Q5_K, false, &err);
	pj_plan_set_manual(&p, "no.such.tensor", PJ_DT_Q5_K, false, &err);
	pj_plan_apply(&p, &err);
	e = pj_plan_find(&p, "blk.2.attn_k.weight");
	ok(e->type == PJ_DT_Q5_K && e->prov == PJ_PROV_MANUAL, "manual override");
	ok(p.n_warnings == 1 && strstr(p.warnings[0], "no.such.tensor"), "override for a missing tensor warns");
	pj_plan_free(&p);

	/* protections on the router; shape fallbacks on deepseek-style shapes */
	ok(pj_plan_init(&p, moe, "Q4_K_M", false, &err) == PJ_OK, "plan on qwen3moe");
	e = pj_plan_find(&p, "blk.0.ffn_gate_inp.weight");
	ok(e && e->type == PJ_DT_F32 && e->prov == PJ_PROV_SOURCE, "router kept (llama.cpp never quantizes it)");
	pj_plan_add_rule(&p, "ffn_gate_inp=Q4_0", &err);
	pj_plan_apply(&p, &err);
	e = pj_plan_find(&p, "blk.0.ffn_gate_inp.weight");
	ok(e->type == PJ_DT_Q8_0 && strstr(pj_plan_reason(&p, e, why), "protected"), "router never below Q8_0 from a rule");
	pj_plan_set_manual(&p, "blk.0.ffn_gate_inp.weight", PJ_DT_Q4_0, true, &err);
	pj_plan_apply(&p, &err);
	e = pj_plan_find(&p, "blk.0.ffn_gate_inp.weight");
	ok(e->type == PJ_DT_Q4_0 && e->pinned, "... unless pinned by hand");
	bad = 0;
	free(pj_plan_tensor_type_file(&p, &bad));
	ok(bad == 3, "routers the official tool cannot retype are counted");
	pj_plan_free(&p);
	is_int(pj_plan_init(&p, moe, "nope", false, &err), PJ_EUSAGE, "unknown preset: PJ_EUSAGE");
	like(err.msg, "moe-balanced", "the message lists the presets");
	ok(pj_plan_init(&p, moe, "auto", false, &err) == PJ_OK && strcmp(p.preset->name, "moe-balanced") == 0,
	   "auto on qwen3moe: moe-balanced");
	like(p.base_reason, "family moe", "auto says why");
	e = pj_plan_find(&p, "blk.1.ffn_down_exps.weight");
	like(pj_plan_reason(&p, e, why), "routing not measured", "the expert tier states its assumption");
	pj_plan_free(&p);
}

static void test_fallback(pj_model *ds)
{
	pj_error err = { 0 };
	pj_plan p;
	ok(pj_plan_init(&p, ds, "pure:Q4_K_S", false, &err) == PJ_OK, "pure Q4_K_S on deepseek3");
	const pj_plan_entry *e = pj_plan_find(&p, "blk.1.attn_k_b.weight");
	char why[PJ_REASON_MAX];
	ok(e && e->fell_back && e->requested == PJ_DT_Q4_K && e->type == PJ_DT_Q5_0,
	   "attn_k_b (32 columns): Q4_K falls back to Q5_0, the request recorded");
	like(pj_plan_reason(&p, e, why), "falls back to Q5_0", "the reason says so");
	ok(p.n_fallback >= 3, "fallbacks counted");
	pj_plan_free(&p);
}

static void test_kv(pj_model *gemma, pj_model *ds)
{
	/* gemma3: 6 layers (5 local, window 32), 1 kv head of 64: K+V = 128 per token and layer */
	is_int(pj_plan_kv_bytes(&gemma->arch, 4096, PJ_DT_F16), 5 * 32 * 256 + 4096 * 256,
	       "gemma3 KV at 4096, f16: local layers capped at the window");
	is_int(pj_plan_kv_bytes(&gemma->arch, 4096, PJ_DT_Q8_0), 5 * 32 * 136 + 4096 * 136, "gemma3 KV, q8_0");
	is_int(pj_plan_kv_bytes(&gemma->arch, 4096, PJ_DT_Q4_0), 5 * 32 * 72 + 4096 * 72, "gemma3 KV, q4_0");
	is_int(pj_plan_kv_bytes(&gemma->arch, 16, PJ_DT_F16), 6 * 16 * 256, "below the window every layer caches all");
	/* deepseek3 MLA: latent 128 + rope 32 = 160 per token, 3 layers */
	is_int(pj_plan_kv_bytes(&ds->arch, 4096, PJ_DT_F16), 3 * 4096 * 320, "deepseek3 MLA KV, f16: latent + rope");
	is_int(pj_plan_kv_bytes(&ds->arch, 4096, PJ_DT_Q8_0), 3 * 4096 * 170, "deepseek3 MLA KV, q8_0");
	is_int(pj_plan_kv_bytes(&ds->arch, 4096, PJ_DT_Q4_0), 3 * 4096 * 90, "deepseek3 MLA KV, q4_0");
}

static void test_json(pj_model *llama, pj_model *qwen3)
{
	pj_error err = { 0 };
	pj_plan p, q;
	pj_plan_init(&p, llama, "Q4_K_M", false, &err);
	pj_plan_add_rule(&p, "ffn_down=Q6_K", &err);
	pj_plan_add_rule(&p, "role:attn_v@0-1=Q8_0", &err);
	pj_plan_set_manual(&p, "blk.0.attn_k.weight", PJ_DT_Q5_K, true, &err);
	pj_plan_set_manual(&p, "output.weight", PJ_DT_Q8_0, false, &err);
	pj_plan_apply(&p, &err);
	char *a = pj_plan_json_dump(&p);
	like(a, "\"schema\":\t\"pajamas-plan\"", "schema named");
	like(a, "\"header_sha256\":", "model identity");
	char *warn = NULL;
	ok(pj_plan_json_parse(&q, llama, a, "a.json", false, &warn, &err) == PJ_OK && !warn, "the dump parses back");
	char *b = pj_plan_json_dump(&q);
	is_str(b, a, "round trip: save, load, save gives the same bytes");
	ok(type_of(&q, "blk.0.attn_k.weight") == PJ_DT_Q5_K && type_of(&q, "blk.3.ffn_down.weight") == PJ_DT_Q6_K &&
	   q.out_bytes == p.out_bytes, "the loaded plan is the same plan");
	pj_plan_free(&q);
	free(b);
	/* with a target, kept as is */
	const char *t = "{\"schema\":\"pajamas-plan\",\"version\":1,\"base\":\"Q8_0\",\"rules\":[],\"overrides\":{},"
	                "\"target\":{\"bpw\":4.5,\"kld\":0.01}}";
	ok(pj_plan_json_parse(&q, llama, t, "t.json", false, NULL, &err) == PJ_OK, "a plan with a target");
	b = pj_plan_json_dump(&q);
	like(b, "\"bpw\":\t4.5", "target kept");
	pj_plan q2;
	pj_plan_json_parse(&q2, llama, b, "t2.json", false, NULL, &err);
	char *c = pj_plan_json_dump(&q2);
	is_str(c, b, "round trip with a target");
	free(c);
	free(b);
	pj_plan_free(&q2);
	pj_plan_free(&q);
	/* another model: warns, applies what matches */
	ok(pj_plan_json_parse(&q, qwen3, a, "a.json", false, &warn, &err) == PJ_OK, "loads on another model");
	like(warn, "made for another model", "... with a warning");
	like(warn, "1 of 2 overrides", "... saying how much applies (qwen3 ties output to token_embd)");
	ok(type_of(&q, "blk.0.attn_k.weight") == PJ_DT_Q5_K, "matching overrides applied");
	free(warn);
	pj_plan_free(&q);
	char h1[65], h2[65], h3[65];
	pj_plan_header_sha256(&llama->cat, h1);
	pj_plan_header_sha256(&llama->cat, h2);
	pj_plan_header_sha256(&qwen3->cat, h3);
	ok(strcmp(h1, h2) == 0 && strcmp(h1, h3) != 0 && strlen(h1) == 64, "header hash: stable, differs by model");
	/* errors */
	is_int(pj_plan_json_parse(&q, llama, "{\"schema\":\"x\"}", "x.json", false, NULL, &err), PJ_EFORMAT,
	       "another schema: PJ_EFORMAT");
	is_int(pj_plan_json_parse(&q, llama, "{\"schema\":\"pajamas-plan\",\"version\":2,\"base\":\"Q8_0\"}", "v.json",
	                          false, NULL, &err), PJ_EUNSUPPORTED, "a newer version: refused");
	is_int(pj_plan_json_parse(&q, llama, "{\"schema\":\"pajamas-plan\",\"version\":1,\"base\":\"Q8_0\","
	                          "\"overrides\":{\"output.weight\":{\"type\":\"Q7_K\"}}}", "u.json", false, NULL, &err),
	       PJ_EUSAGE, "unknown override type: PJ_EUSAGE");
	like(err.msg, "unknown type 'Q7_K'", "... named");
	is_int(pj_plan_json_parse(&q, llama, "[1", "b.json", false, NULL, &err), PJ_EFORMAT, "not JSON: PJ_EFORMAT");
	free(a);
	pj_plan_free(&p);
}

int main(void)
{
	const char *env = getenv("PJ_SHARED");
	snprintf(shared, sizeof shared, "%s", env && *env ? env : PJ_SRCDIR "/../shared");
	test_tables();
	char probe[1100];
	struct stat st;
	snprintf(probe, sizeof probe, "%s/models/llama", shared);
	if (stat(probe, &st) != 0) {
		skip("shared models absent (PJ_SHARED): rules, sizes, KV cache and plan files on real models not checked");
		return done_testing();
	}
	pj_model *llama = open_model("llama"), *qwen3 = open_model("qwen3"), *moe = open_model("qwen3moe");
	pj_model *gemma = open_model("gemma3"), *ds = open_model("deepseek3");
	if (!llama || !qwen3 || !moe || !gemma || !ds) {
		ok(0, "the shared models open");
		return done_testing();
	}
	test_rules(llama, moe);
	test_fallback(ds);
	test_kv(gemma, ds);
	test_json(llama, qwen3);
	pj_model_close(llama);
	pj_model_close(qwen3);
	pj_model_close(moe);
	pj_model_close(gemma);
	pj_model_close(ds);
	return done_testing();
}
