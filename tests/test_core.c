/* test_core.c - the shared core: dtype table, roles table, catalog, errors. */
#include "config.h"

#include "model/catalog.h"
#include "model/dtype.h"
#include "model/error.h"
#include "model/roles.h"
#include "tap.h"

static void test_dtypes(void)
{
	pj_dtype t;
	uint64_t b;
	/* block sizes and bytes per block of ggml's types, as ggml defines them */
	static const struct { const char *name; uint32_t ggml, block, size; } want[] = {
		{ "F32", 0, 1, 4 }, { "F16", 1, 1, 2 }, { "Q4_0", 2, 32, 18 }, { "Q4_1", 3, 32, 20 },
		{ "Q5_0", 6, 32, 22 }, { "Q5_1", 7, 32, 24 }, { "Q8_0", 8, 32, 34 }, { "Q2_K", 10, 256, 84 },
		{ "Q3_K", 11, 256, 110 }, { "Q4_K", 12, 256, 144 }, { "Q5_K", 13, 256, 176 },
		{ "Q6_K", 14, 256, 210 }, { "IQ2_XXS", 16, 256, 66 }, { "IQ3_XXS", 18, 256, 98 },
		{ "IQ1_S", 19, 256, 50 }, { "IQ4_NL", 20, 32, 18 }, { "IQ3_S", 21, 256, 110 },
		{ "IQ4_XS", 23, 256, 136 }, { "IQ1_M", 29, 256, 56 }, { "BF16", 30, 1, 2 },
		{ "TQ1_0", 34, 256, 54 }, { "TQ2_0", 35, 256, 66 }, { "MXFP4", 39, 32, 17 },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		bool found = pj_dtype_from_ggml(want[i].ggml, &t);
		ok(found && strcmp(pj_dtype_name(t), want[i].name) == 0 &&
		           pj_dtype_info_of(t)->block == want[i].block && pj_dtype_info_of(t)->type_size == want[i].size,
		   "ggml type %u is %s, %u elements in %u bytes", want[i].ggml, want[i].name, want[i].block, want[i].size);
	}
	ok(!pj_dtype_from_ggml(4, &t) && !pj_dtype_from_ggml(31, &t) && !pj_dtype_from_ggml(1000, &t),
	   "removed and unknown ggml ids are rejected");
	ok(pj_dtype_from_safetensors("F8_E4M3", &t) && t == PJ_DT_F8_E4M3, "safetensors F8_E4M3 known");
	ok(!pj_dtype_from_safetensors("Q4_K", &t), "ggml-only types have no safetensors name");
	ok(pj_dtype_from_name("q4_k", &t) && t == PJ_DT_Q4_K, "names are case-insensitive");
	ok(pj_dtype_bytes(PJ_DT_Q4_K, 4096, &b) && b == 16 * 144, "Q4_K bytes of 4096 elements");
	ok(!pj_dtype_bytes(PJ_DT_Q4_K, 4000, &b), "Q4_K refuses a count that is not a multiple of 256");
	ok(!pj_dtype_bytes(PJ_DT_F64, UINT64_MAX / 2, &b), "byte count overflow is detected");
	ok(pj_dtype_bpw(PJ_DT_Q4_K) == 4.5 && pj_dtype_bpw(PJ_DT_Q8_0) == 8.5, "bits per weight");
}

static void test_roles(void)
{
	pj_role r;
	ok(pj_role_from_name("ffn_down_exps", &r) && r == PJ_ROLE_EXP_DOWN, "role names round-trip");
	is_str(pj_role_group_name(pj_role_info_of(PJ_ROLE_ROUTER)->group), "router", "router group");
	is_str(pj_component_name(PJ_COMP_VISION), "vision", "component names");
	/* names are unique: they are keys in JSON and plan files */
	int dups = 0;
	for (int i = 0; i < PJ_ROLE_COUNT; i++)
		for (int j = i + 1; j < PJ_ROLE_COUNT; j++)
			dups += strcmp(pj_role_name((pj_role)i), pj_role_name((pj_role)j)) == 0;
	is_int(dups, 0, "role names are unique");
}

static void test_catalog(void)
{
	pj_catalog c;
	pj_error err = { 0 };
	pj_catalog_init(&c);
	uint32_t f = pj_catalog_add_file(&c, "/nonexistent/x.safetensors", 1000);
	int64_t ne[2] = { 256, 1024 };
	char name[64];
	int fails = 0;
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof name, "model.layers.%d.mlp.down_proj.weight", i);
		fails += pj_catalog_add(&c, "x.safetensors", name, strlen(name), PJ_DT_BF16, 2, ne, f, 0, 0, &err) != PJ_OK;
	}
	is_int(fails, 0, "5000 distinct tensors added");
	ok(pj_catalog_find(&c, "model.layers.4321.mlp.down_proj.weight") == &c.t[4321], "lookup by name");
	ok(pj_catalog_find(&c, "model.layers.5000.mlp.down_proj.weight") == NULL, "missing name not found");
	const char *dup = "model.layers.7.mlp.down_proj.weight";
	is_int(pj_catalog_add(&c, "b.safetensors", dup, strlen(dup), PJ_DT_BF16, 2, ne, f, 0, 0, &err), PJ_EFORMAT,
	       "duplicate name rejected");
	like(err.msg, "b.safetensors: duplicate tensor name 'model.layers.7.mlp.down_proj.weight'", "message names file and tensor");
	char buf[64];
	is_str(pj_tensor_shape_str(&c.t[0], buf, sizeof buf), "256x1024", "shape printed in ggml order");
	is_int(pj_tensor_nelem(&c.t[0]), 256 * 1024, "element count");
	is_int(pj_tensor_nrows(&c.t[0]), 1024, "row count");
	int64_t ne9[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	is_int(pj_catalog_add(&c, "x", "nine", 4, PJ_DT_F32, 9, ne9, f, 0, 0, &err), PJ_EFORMAT, "too many dimensions rejected");
	/* data of a tensor in a file that does not exist: error, no crash */
	ok(pj_catalog_data(&c, &c.t[0], &err) == NULL, "data of a missing file fails cleanly");
	like(err.msg, "/nonexistent/x.safetensors", "message names the file");
	pj_catalog_free(&c);
}

static void test_errors(void)
{
	pj_error e = { 0 };
	is_int(pj_fail(&e, PJ_EIO, "a.gguf: %s", "short read"), PJ_EIO, "pj_fail returns its code");
	pj_error_prefix(&e, "loading %s", "model");
	is_str(e.msg, "loading model: a.gguf: short read", "prefix keeps the inner message");
	unsigned long long r;
	ok(pj_mul_u64(1ULL << 40, 1ULL << 30, &r) != 0, "multiplication overflow detected");
	ok(pj_add_u64(5, 6, &r) == 0 && r == 11, "addition");
}

int main(void)
{
	test_dtypes();
	test_roles();
	test_catalog();
	test_errors();
	return done_testing();
}
