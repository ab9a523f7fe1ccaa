/* targets.c - fuzz entry points for the model readers.  Each call parses one
 * input as a whole file, walks what it got and frees everything: no crash,
 * no leak, whatever the bytes. */
#include "config.h"
#include "targets.h"

#include "catalog.h"
#include "gguf.h"
#include "safetensors.h"

/* Touches every tensor the way callers would. */
static void walk_catalog(const pj_catalog *cat)
{
	char buf[128];
	for (size_t i = 0; i < cat->n; i++) {
		const pj_tensor *t = &cat->t[i];
		pj_tensor_shape_str(t, buf, sizeof buf);
		(void)pj_tensor_nelem(t);
		(void)pj_tensor_nrows(t);
		if (pj_catalog_find(cat, t->name) != t)
			__builtin_trap();   /* the name index must find every tensor */
	}
}

int pj_fuzz_safetensors(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | data[i];
	if (n > size - 8)
		return 0;   /* pj_st_open rejects this before reading the header */
	pj_catalog cat;
	pj_error err;
	pj_catalog_init(&cat);
	uint32_t fi = pj_catalog_add_file(&cat, "fuzz.safetensors", size);
	if (pj_st_parse_header("fuzz.safetensors", (const char *)data + 8, (size_t)n, size, &cat, fi, &err) == PJ_OK)
		walk_catalog(&cat);
	pj_catalog_free(&cat);
	return 0;
}

static void walk_gguf(const pj_gguf *g)
{
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const pj_gguf_kv *kv = &g->kv[i];
		uint64_t u;
		int64_t s;
		double f;
		bool b;
		if (pj_gguf_find(g, kv->key) == NULL)
			__builtin_trap();
		(void)pj_gguf_get_u64(g, kv->key, &u);
		(void)pj_gguf_get_i64(g, kv->key, &s);
		(void)pj_gguf_get_f64(g, kv->key, &f);
		(void)pj_gguf_get_bool(g, kv->key, &b);
		const char *str = pj_gguf_get_str(g, kv->key);
		if (str && str[kv->str_len] != '\0')
			__builtin_trap();
		for (uint64_t j = 0; kv->arr_str && j < kv->arr_n; j++)
			if (kv->arr_str[j][kv->arr_str_len[j]] != '\0')
				__builtin_trap();
	}
	uint64_t u;
	(void)pj_gguf_arch_u64(g, "block_count", &u);
}

int pj_fuzz_gguf(const uint8_t *data, size_t size)
{
	pj_catalog cat;
	pj_error err;
	pj_gguf g;
	pj_catalog_init(&cat);
	uint32_t fi = pj_catalog_add_file(&cat, "fuzz.gguf", size);
	if (pj_gguf_parse("fuzz.gguf", data, size, size, &g, &cat, fi, &err) == PJ_OK) {
		walk_gguf(&g);
		walk_catalog(&cat);
		pj_gguf_free(&g);
	}
	pj_catalog_free(&cat);
	return 0;
}
