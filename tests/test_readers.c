/* test_readers.c - model readers: the shared checkpoints, a catalogue of bad
 * inputs (each must fail with its own status and message), the HF cache and
 * lazy tensor data. */
#include "config.h"
#include "tap.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "gguf.h"
#include "model.h"
#include "safetensors.h"

static char tmp[256];

/* ---- small helpers ------------------------------------------------------- */

static char *tpath(const char *name)
{
	return pj_xasprintf("%s/%s", tmp, name);
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, n, f) != n) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

static void write_text(const char *path, const char *s)
{
	write_file(path, s, strlen(s));
}

static void mkdir_p(const char *p)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", p);
	for (char *s = buf + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(buf, 0755);
			*s = '/';
		}
	}
	mkdir(buf, 0755);
}

/* PJ_WRITE_CORPUS=<dir>: also save every case as a fuzz seed in <dir>/<kind>/. */
static void corpus_write(const char *kind, const char *what, const void *data, size_t n)
{
	const char *dir = getenv("PJ_WRITE_CORPUS");
	if (!dir || !*dir)
		return;
	char slug[128], path[1024];
	size_t k = 0;
	for (const char *p = what; *p && k < sizeof slug - 1; p++) {
		if (isalnum((unsigned char)*p))
			slug[k++] = (char)tolower((unsigned char)*p);
		else if (k && slug[k - 1] != '-')
			slug[k++] = '-';
	}
	while (k && slug[k - 1] == '-')
		k--;
	slug[k] = '\0';
	snprintf(path, sizeof path, "%s/%s", dir, kind);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/%s/%s", dir, kind, slug);
	write_file(path, data, n);
}

/* Asserts a failure: status code and a substring of the message. */
static void expect_fail(pj_status got, const pj_error *e, pj_status want, const char *needle, const char *what)
{
	if (got == PJ_OK) {
		ok(0, "%s: rejected", what);
		return;
	}
	char desc[300];
	snprintf(desc, sizeof desc, "%s: %s, '%s'", what, pj_status_name(want), needle);
	int good = got == want && strstr(e->msg, needle) != NULL;
	if (!ok(good, "%s", desc))
		tap_diag("got %s: %s", pj_status_name(got), e->msg);
}

/* ---- safetensors builder ------------------------------------------------- */

/* Writes <8-byte length><json><data_len zero bytes>; hdr_len overrides the length. */
static char *st_write(const char *name, const char *json, size_t data_len, uint64_t hdr_len)
{
	size_t jl = strlen(json);
	uint8_t *b = pj_xcalloc(8 + jl + data_len, 1);
	uint64_t n = hdr_len ? hdr_len : jl;
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(n >> (8 * i));
	memcpy(b + 8, json, jl);
	for (size_t i = 0; i < data_len; i++)
		b[8 + jl + i] = (uint8_t)(i * 7 + 1);
	char *p = tpath(name);
	write_file(p, b, 8 + jl + data_len);
	free(b);
	return p;
}

static void st_case(const char *what, const char *json, size_t data_len, uint64_t hdr_len,
                    pj_status want, const char *needle)
{
	char *p = st_write("case.safetensors", json, data_len, hdr_len);
	size_t n = 0;
	char *raw = tap_slurp(p, &n);
	corpus_write("safetensors", what, raw, n);
	free(raw);
	pj_catalog cat;
	pj_error e = { 0 };
	pj_catalog_init(&cat);
	pj_status s = pj_st_open(p, &cat, &e);
	expect_fail(s, &e, want, needle, what);
	if (s != PJ_OK)
		like(e.msg, "case.safetensors: ", "%s: message names the file", what);
	pj_catalog_free(&cat);
	free(p);
}

#define T1 "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"

static void test_st_good(void)
{
	char *p = st_write("good.safetensors",
	                   "{\"__metadata__\":{\"format\":\"pt\"}," T1 ","
	                   "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
	                   "\"c\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[32,40]},"
	                   "\"z\":{\"dtype\":\"U8\",\"shape\":[0,5],\"data_offsets\":[40,40]}}   ", 40, 0);
	pj_catalog cat;
	pj_error e = { 0 };
	pj_catalog_init(&cat);
	pj_status s = pj_st_open(p, &cat, &e);
	is_int(s, PJ_OK, "valid safetensors opens (%s)", s ? e.msg : "ok");
	is_int(cat.n, 4, "4 tensors, __metadata__ skipped");
	const pj_tensor *a = pj_catalog_find(&cat, "a");
	ok(a && a->n_dims == 2 && a->ne[0] == 3 && a->ne[1] == 2, "shape [2,3] becomes ggml ne {3,2}");
	ok(a && a->dtype == PJ_DT_F32 && a->nbytes == 24, "F32, 24 bytes");
	const pj_tensor *c = pj_catalog_find(&cat, "c");
	ok(c && c->n_dims == 0 && pj_tensor_nelem(c) == 1, "scalar tensor has one element");
	size_t jl = 0;
	char *raw = tap_slurp(p, &jl);
	corpus_write("safetensors", "valid", raw, jl);
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | (uint8_t)raw[i];
	ok(a && a->offset == 8 + hl, "offsets are absolute (8 + header length)");
	const void *d = a ? pj_catalog_data(&cat, a, &e) : NULL;
	ok(d && memcmp(d, raw + 8 + hl, 24) == 0, "pj_catalog_data returns the tensor's bytes");
	const pj_tensor *b = pj_catalog_find(&cat, "b");
	d = b ? pj_catalog_data(&cat, b, &e) : NULL;
	ok(d && memcmp(d, raw + 8 + hl + 24, 8) == 0, "second tensor's bytes too");
	free(raw);
	pj_catalog_free(&cat);
	free(p);
}

static void test_st_bad(void)
{
	st_case("header length too big", "{}", 0, PJ_ST_MAX_HEADER + 1ull, PJ_EFORMAT,
	        "larger than the 104857600-byte limit");
	st_case("header length too small", "{}", 0, 1, PJ_EFORMAT, "header length 1 is too small");
	st_case("header length larger than the file", "{}", 10, 5000, PJ_EFORMAT,
	        "header length 5000 is larger than the file");
	st_case("truncated inside the header", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]", 0, 200, PJ_EFORMAT,
	        "is larger than the file");
	st_case("invalid JSON", "{\"a\": {\"dtype\": }}", 0, 0, PJ_EFORMAT,
	        "header is not valid JSON (error near header byte 16, file byte 24)");
	st_case("JSON not an object", "[1, 2, 3]", 0, 0, PJ_EFORMAT, "header is an array, expected a JSON object");
	st_case("trailing garbage", "{} x", 0, 0, PJ_EFORMAT, "trailing bytes after the JSON");
	st_case("unknown dtype", "{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0,
	        PJ_EUNSUPPORTED, "tensor 'a': unknown dtype 'F12'");
	st_case("dtype not a string", "{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0,
	        PJ_EFORMAT, "dtype is a number, expected a string");
	st_case("shape not an array", "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16, 0,
	        PJ_EFORMAT, "tensor 'a': shape is a number, expected an array");
	st_case("shape missing", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, 0,
	        PJ_EFORMAT, "shape is missing");
	st_case("negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,16]}}", 16, 0,
	        PJ_EFORMAT, "tensor 'a': dimension 1 is negative");
	st_case("float dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", 16, 0,
	        PJ_EFORMAT, "dimension 0 is not a non-negative integer");
	st_case("string dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, 0,
	        PJ_EFORMAT, "dimension 0 is not a non-negative integer (a string");
	st_case("too many dimensions",
	        "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, 0,
	        PJ_EUNSUPPORTED, "tensor 'a' has 9 dimensions (at most 8 supported)");
	st_case("element count overflow",
	        "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]}}", 1, 0,
	        PJ_ENOMEM, "element count overflows");
	st_case("element count overflow behind a zero dimension",
	        "{\"a\":{\"dtype\":\"U8\",\"shape\":[0,4294967296,4294967296],\"data_offsets\":[0,0]}}", 1, 0,
	        PJ_ENOMEM, "element count overflows");
	st_case("offsets reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, 0,
	        PJ_EFORMAT, "data_offsets are reversed (begin 8 > end 4)");
	st_case("offsets not integers", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 8, 0,
	        PJ_EFORMAT, "data_offsets must be non-negative integers");
	st_case("offsets not a pair", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8, 0,
	        PJ_EFORMAT, "data_offsets must be an array [begin, end]");
	st_case("offsets past the end of the file", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
	        8, 0, PJ_EFORMAT, "tensor 'a' ends at byte");
	st_case("byte count != shape x dtype", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}",
	        16, 0, PJ_EFORMAT, "data_offsets span 8 bytes, but 4 elements of F32 need 16");
	st_case("overlapping tensors",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, 0,
	        PJ_EFORMAT, "tensors 'a' and 'b' overlap");
	st_case("duplicate tensor names",
	        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, 0,
	        PJ_EFORMAT, "duplicate tensor name 'a'");
	st_case("tensor not an object", "{\"a\":[1,2]}", 0, 0, PJ_EFORMAT, "tensor 'a' is an array, expected an object");
	st_case("__metadata__ with a number", "{\"__metadata__\":{\"n\":1}}", 0, 0, PJ_EFORMAT,
	        "__metadata__ value 'n' is a number");

	/* A file too short for the length prefix. */
	char *p = tpath("short.safetensors");
	write_file(p, "\x02\0\0", 3);
	pj_catalog cat;
	pj_error e = { 0 };
	pj_catalog_init(&cat);
	expect_fail(pj_st_open(p, &cat, &e), &e, PJ_EFORMAT, "too short for a safetensors header",
	            "file shorter than 8 bytes");
	pj_catalog_free(&cat);
	free(p);
}

/* Two shards plus an index, then broken variants of the index. */
static void test_st_index(void)
{
	char *dir = tpath("sharded");
	mkdir_p(dir);
	char *s1 = st_write("sharded/model-00001-of-00002.safetensors",
	                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0);
	char *s2 = st_write("sharded/model-00002-of-00002.safetensors",
	                    "{\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
	                    "\"extra\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}", 8, 0);
	char *idx = tpath("sharded/model.safetensors.index.json");
	struct { const char *what, *json; pj_status want; const char *needle; } cases[] = {
		{ "index: valid", "{\"metadata\":{},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
		  "\"b\":\"model-00002-of-00002.safetensors\"}}", PJ_OK, NULL },
		{ "index: shard missing", "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
		  "\"c\":\"model-00003-of-00004.safetensors\"}}", PJ_ENOTFOUND,
		  "shard 'model-00003-of-00004.safetensors' named by the index does not exist" },
		{ "index: tensor absent from its shard", "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\","
		  "\"b\":\"model-00002-of-00002.safetensors\"}}", PJ_EFORMAT,
		  "tensor 'a' is mapped to model-00002-of-00002.safetensors, which does not contain it" },
		{ "index: no weight_map", "{\"metadata\":{}}", PJ_EFORMAT, "\"weight_map\" is missing" },
		{ "index: shard path escapes", "{\"weight_map\":{\"a\":\"../x.safetensors\"}}", PJ_EFORMAT,
		  "not a file in this folder" },
		{ "index: invalid JSON", "{\"weight_map\":", PJ_EFORMAT, "not valid JSON" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_text(idx, cases[i].json);
		pj_catalog cat;
		pj_error e = { 0 };
		pj_catalog_init(&cat);
		pj_status s = pj_st_open_index(dir, idx, &cat, &e);
		if (cases[i].want == PJ_OK) {
			is_int(s, PJ_OK, "%s (%s)", cases[i].what, s ? e.msg : "ok");
			is_int(cat.n, 3, "index: tensors of both shards, unindexed ones accepted");
			ok(cat.n_files == 2, "index: each shard opened once");
		} else {
			expect_fail(s, &e, cases[i].want, cases[i].needle, cases[i].what);
			like(e.msg, "model.safetensors.index.json: ", "%s: message names the index", cases[i].what);
		}
		pj_catalog_free(&cat);
	}
	/* The same tensor in two shards is caught by the catalog. */
	char *s3 = st_write("sharded/model-00002-of-00002.safetensors",
	                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0);
	write_text(idx, cases[0].json);
	pj_catalog cat;
	pj_error e = { 0 };
	pj_catalog_init(&cat);
	expect_fail(pj_st_open_index(dir, idx, &cat, &e), &e, PJ_EFORMAT, "duplicate tensor name 'a'",
	            "index: same tensor in two shards");
	pj_catalog_free(&cat);
	free(s1);
	free(s2);
	free(s3);
	free(idx);
	free(dir);
}

/* ---- GGUF builder -------------------------------------------------------- */

typedef struct gb {
	uint8_t *d;
	size_t n, cap;
} gb;

static void gb_raw(gb *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->d = pj_xrealloc(b->d, b->cap);
	}
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void gb_le(gb *b, uint64_t v, int n)
{
	uint8_t t[8];
	for (int i = 0; i < n; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	gb_raw(b, t, (size_t)n);
}

static void gb_str(gb *b, const char *s)
{
	gb_le(b, strlen(s), 8);
	gb_raw(b, s, strlen(s));
}

static void gb_key(gb *b, const char *key, uint32_t type)
{
	gb_str(b, key);
	gb_le(b, type, 4);
}

enum {
	V_OK, V_MAGIC, V_VER1, V_VER99, V_VER2, V_HUGE_NKV, V_HUGE_NT, V_HUGE_STR, V_HUGE_ARR, V_HUGE_STRARR,
	V_BAD_VTYPE, V_BAD_ATYPE, V_NESTED, V_BAD_GTYPE, V_ALIGN0, V_ALIGN3, V_ALIGN_STR, V_NDIMS5,
	V_NE0_BLOCK, V_NEG_DIM, V_MISALIGNED, V_PAST_EOF, V_OVERLAP, V_DUP_KEY, V_DUP_TENSOR,
	V_EMPTY_KEY, V_NUL_KEY, V_ELEM_OVERFLOW, V_ALIGN64, V_ZERO_DIM,
};

/* Section ends of the last built file, for truncation tests. */
static size_t sec_kv_start, sec_ti_start, sec_ti_end, sec_data;

/* A tiny GGUF with every metadata type and two tensors (F32 32x2, Q8_0 32),
 * broken in one way by `v`.  `pfx` prefixes tensor names (split sets). */
static void tiny_gguf(gb *b, int v, const char *pfx)
{
	gb kv = { 0 }, ti = { 0 };
	uint64_t nkv = 0;
	uint32_t align = v == V_ALIGN64 ? 64 : 32;

	gb_key(&kv, "general.architecture", PJ_GGUF_STRING), nkv++;
	gb_str(&kv, "llama");
	gb_key(&kv, v == V_EMPTY_KEY ? "" : "t.u8", v == V_BAD_VTYPE ? 13 : PJ_GGUF_UINT8), nkv++;
	gb_le(&kv, 200, 1);
	gb_key(&kv, "t.i8", PJ_GGUF_INT8), nkv++;
	gb_le(&kv, (uint8_t)-5, 1);
	gb_key(&kv, "t.u16", PJ_GGUF_UINT16), nkv++;
	gb_le(&kv, 60000, 2);
	gb_key(&kv, "t.i16", PJ_GGUF_INT16), nkv++;
	gb_le(&kv, (uint16_t)-300, 2);
	gb_key(&kv, "t.u32", PJ_GGUF_UINT32), nkv++;
	gb_le(&kv, 4000000000u, 4);
	gb_key(&kv, "t.i32", PJ_GGUF_INT32), nkv++;
	gb_le(&kv, (uint32_t)-70000, 4);
	gb_key(&kv, "t.f32", PJ_GGUF_FLOAT32), nkv++;
	gb_le(&kv, 0x3fc00000u, 4); /* 1.5f */
	gb_key(&kv, "t.bool", PJ_GGUF_BOOL), nkv++;
	gb_le(&kv, 1, 1);
	if (v == V_NUL_KEY) {
		gb_le(&kv, 3, 8);
		gb_raw(&kv, "a\0b", 3);
		gb_le(&kv, PJ_GGUF_UINT8, 4);
	} else {
		gb_key(&kv, "t.str", PJ_GGUF_STRING);
	}
	nkv++;
	if (v == V_HUGE_STR) {
		gb_le(&kv, 1ull << 32, 8);
		gb_raw(&kv, "xyz", 3);
	} else {
		gb_str(&kv, "hello");
	}
	gb_key(&kv, "t.u64", PJ_GGUF_UINT64), nkv++;
	gb_le(&kv, 1ull << 40, 8);
	gb_key(&kv, "t.i64", PJ_GGUF_INT64), nkv++;
	gb_le(&kv, (uint64_t)-(1ll << 40), 8);
	gb_key(&kv, "t.f64", PJ_GGUF_FLOAT64), nkv++;
	gb_le(&kv, 0x4004000000000000ull, 8); /* 2.5 */
	gb_key(&kv, "t.arr_i32", PJ_GGUF_ARRAY), nkv++;
	gb_le(&kv, v == V_BAD_ATYPE ? 77 : v == V_NESTED ? PJ_GGUF_ARRAY : PJ_GGUF_INT32, 4);
	gb_le(&kv, v == V_HUGE_ARR ? 1ull << 40 : 3, 8);
	gb_le(&kv, 1, 4), gb_le(&kv, (uint32_t)-2, 4), gb_le(&kv, 3, 4);
	gb_key(&kv, "t.arr_str", PJ_GGUF_ARRAY), nkv++;
	gb_le(&kv, PJ_GGUF_STRING, 4);
	gb_le(&kv, v == V_HUGE_STRARR ? 1ull << 62 : 2, 8);
	gb_str(&kv, "one"), gb_str(&kv, "two");
	if (align != 32 || v == V_ALIGN0 || v == V_ALIGN3) {
		gb_key(&kv, "general.alignment", PJ_GGUF_UINT32), nkv++;
		gb_le(&kv, v == V_ALIGN0 ? 0 : v == V_ALIGN3 ? 3 : align, 4);
	}
	if (v == V_ALIGN_STR) {
		gb_key(&kv, "general.alignment", PJ_GGUF_STRING), nkv++;
		gb_str(&kv, "32");
	}
	if (v == V_DUP_KEY) {
		gb_key(&kv, "t.u32", PJ_GGUF_UINT32), nkv++;
		gb_le(&kv, 1, 4);
	}

	char name[64];
	snprintf(name, sizeof name, "%sa", pfx);
	gb_str(&ti, name);
	gb_le(&ti, v == V_NDIMS5 ? 5 : 2, 4);
	gb_le(&ti, 32, 8);
	gb_le(&ti, v == V_NEG_DIM ? (uint64_t)-2 : v == V_ELEM_OVERFLOW ? 1ull << 62 : v == V_ZERO_DIM ? 0 : 2, 8);
	if (v == V_NDIMS5)
		gb_le(&ti, 1, 8), gb_le(&ti, 1, 8), gb_le(&ti, 1, 8);
	gb_le(&ti, v == V_BAD_GTYPE ? 99 : 0, 4); /* F32 */
	gb_le(&ti, 0, 8);
	snprintf(name, sizeof name, "%s%s", pfx, v == V_DUP_TENSOR ? "a" : "b");
	gb_str(&ti, name);
	gb_le(&ti, 1, 4);
	gb_le(&ti, v == V_NE0_BLOCK ? 48 : 32, 8);
	gb_le(&ti, 8, 4); /* Q8_0 */
	uint64_t boff = v == V_MISALIGNED ? 260 : v == V_OVERLAP ? 224 : v == V_PAST_EOF ? 288 : 256;
	gb_le(&ti, align == 64 ? 256 : boff, 8);

	gb_raw(b, v == V_MAGIC ? "GGML" : "GGUF", 4);
	gb_le(b, v == V_VER1 ? 1 : v == V_VER99 ? 99 : v == V_VER2 ? 2 : 3, 4);
	gb_le(b, v == V_HUGE_NT ? 1ull << 40 : 2, 8);
	gb_le(b, v == V_HUGE_NKV ? 1ull << 40 : nkv, 8);
	sec_kv_start = b->n;
	gb_raw(b, kv.d, kv.n);
	sec_ti_start = b->n;
	gb_raw(b, ti.d, ti.n);
	sec_ti_end = b->n;
	while (b->n % align)
		gb_le(b, 0, 1);
	sec_data = b->n;
	for (int i = 0; i < 256 + 34; i++)
		gb_le(b, (uint64_t)(i * 13 + 5), 1);
	free(kv.d);
	free(ti.d);
}

static pj_status gguf_mem(const uint8_t *d, size_t n, pj_gguf *g, pj_catalog *cat, pj_error *e)
{
	pj_catalog_init(cat);
	return pj_gguf_parse("t.gguf", d, n, n, g, cat, 0, e);
}

static void gguf_case(const char *what, int v, pj_status want, const char *needle)
{
	gb b = { 0 };
	tiny_gguf(&b, v, "");
	corpus_write("gguf", what, b.d, b.n);
	pj_gguf g;
	pj_catalog cat;
	pj_error e = { 0 };
	pj_status s = gguf_mem(b.d, b.n, &g, &cat, &e);
	expect_fail(s, &e, want, needle, what);
	if (s)
		ok(strncmp(e.msg, "t.gguf: ", 8) == 0, "%s: message starts with the file label", what);
	else
		pj_gguf_free(&g);
	pj_catalog_free(&cat);
	free(b.d);
}

static void test_gguf_good(void)
{
	gb b = { 0 };
	tiny_gguf(&b, V_OK, "");
	pj_gguf g;
	pj_catalog cat;
	pj_error e = { 0 };
	pj_status s = gguf_mem(b.d, b.n, &g, &cat, &e);
	corpus_write("gguf", "valid v3", b.d, b.n);
	is_int(s, PJ_OK, "tiny GGUF parses (%s)", s ? e.msg : "ok");
	if (s) {
		pj_catalog_free(&cat);
		free(b.d);
		return;
	}
	uint64_t u;
	int64_t i;
	double f;
	bool bo;
	is_int(g.n_kv, 15, "15 metadata keys");
	is_str(pj_gguf_get_str(&g, "general.architecture"), "llama", "string value");
	ok(pj_gguf_get_u64(&g, "t.u8", &u) && u == 200, "UINT8");
	ok(pj_gguf_get_i64(&g, "t.i8", &i) && i == -5, "INT8 sign-extended");
	ok(pj_gguf_get_u64(&g, "t.u16", &u) && u == 60000, "UINT16");
	ok(pj_gguf_get_i64(&g, "t.i16", &i) && i == -300, "INT16");
	ok(pj_gguf_get_u64(&g, "t.u32", &u) && u == 4000000000u, "UINT32");
	ok(pj_gguf_get_i64(&g, "t.i32", &i) && i == -70000, "INT32");
	ok(pj_gguf_get_f64(&g, "t.f32", &f) && f == 1.5, "FLOAT32");
	ok(pj_gguf_get_bool(&g, "t.bool", &bo) && bo, "BOOL");
	ok(pj_gguf_get_u64(&g, "t.u64", &u) && u == 1ull << 40, "UINT64");
	ok(pj_gguf_get_i64(&g, "t.i64", &i) && i == -(1ll << 40), "INT64");
	ok(pj_gguf_get_f64(&g, "t.f64", &f) && f == 2.5, "FLOAT64");
	ok(!pj_gguf_get_u64(&g, "t.i8", &u) && !pj_gguf_get_bool(&g, "t.u8", &bo), "incompatible getters refuse");
	const pj_gguf_kv *kv = pj_gguf_find(&g, "t.arr_i32");
	ok(kv && kv->arr_type == PJ_GGUF_INT32 && kv->arr_n == 3 && kv->arr_data &&
	   kv->arr_data[4] == 0xfe, "INT32 array, raw little-endian data");
	kv = pj_gguf_find(&g, "t.arr_str");
	ok(kv && kv->arr_n == 2 && !strcmp(kv->arr_str[0], "one") && !strcmp(kv->arr_str[1], "two") &&
	   kv->arr_str_len[1] == 3, "string array");
	kv = pj_gguf_find(&g, "t.str");
	ok(kv && kv->raw_len == 8 + 5 && !memcmp(b.d + kv->raw_off + 8, "hello", 5), "raw_off/raw_len locate the value");
	ok(pj_gguf_arch_u64(&g, "nope", &u) == false, "arch getter on a missing key");
	is_int(g.alignment, 32, "default alignment 32");
	is_int(g.data_offset, sec_data, "data section starts after the padded header");
	is_int(cat.n, 2, "two tensors");
	const pj_tensor *t = pj_catalog_find(&cat, "b");
	ok(t && t->dtype == PJ_DT_Q8_0 && t->nbytes == 34 && t->offset == sec_data + 256, "Q8_0 tensor, absolute offset");
	t = pj_catalog_find(&cat, "a");
	ok(t && t->n_dims == 2 && t->ne[0] == 32 && t->ne[1] == 2 && t->nbytes == 256, "F32 32x2 tensor");
	pj_gguf_free(&g);
	pj_catalog_free(&cat);

	/* Version 2, alignment 64. */
	b.n = 0;
	tiny_gguf(&b, V_VER2, "");
	corpus_write("gguf", "valid v2", b.d, b.n);
	s = gguf_mem(b.d, b.n, &g, &cat, &e);
	is_int(s, PJ_OK, "GGUF v2 parses");
	if (!s)
		pj_gguf_free(&g);
	pj_catalog_free(&cat);
	b.n = 0;
	tiny_gguf(&b, V_ALIGN64, "");
	corpus_write("gguf", "valid align 64", b.d, b.n);
	s = gguf_mem(b.d, b.n, &g, &cat, &e);
	ok(s == PJ_OK && g.alignment == 64 && g.data_offset % 64 == 0, "general.alignment 64 honoured");
	if (!s)
		pj_gguf_free(&g);
	pj_catalog_free(&cat);
	b.n = 0;
	tiny_gguf(&b, V_ZERO_DIM, "");
	corpus_write("gguf", "valid empty tensor", b.d, b.n);
	s = gguf_mem(b.d, b.n, &g, &cat, &e);
	t = s ? NULL : pj_catalog_find(&cat, "a");
	ok(t && t->nbytes == 0 && t->ne[1] == 0, "a tensor with a 0 dimension is accepted (as ggml does)");
	if (!s)
		pj_gguf_free(&g);
	pj_catalog_free(&cat);
	free(b.d);
}

static void test_gguf_bad(void)
{
	gguf_case("bad magic", V_MAGIC, PJ_EFORMAT, "not a GGUF file (magic is 47 47 4d 4c");
	gguf_case("version 1", V_VER1, PJ_EUNSUPPORTED, "GGUF version 1 is not supported");
	gguf_case("version 99", V_VER99, PJ_EUNSUPPORTED, "unsupported GGUF version 99");
	gguf_case("huge n_kv", V_HUGE_NKV, PJ_EFORMAT, "header: n_kv 1099511627776 cannot fit in the remaining");
	gguf_case("huge n_tensors", V_HUGE_NT, PJ_EFORMAT, "n_tensors 1099511627776 cannot fit in the remaining");
	gguf_case("huge string length", V_HUGE_STR, PJ_EFORMAT,
	          "metadata key #9 ('t.str'): string length 4294967296 exceeds the remaining");
	gguf_case("huge array length", V_HUGE_ARR, PJ_EFORMAT,
	          "metadata key #13 ('t.arr_i32'): array length 1099511627776 exceeds the remaining");
	gguf_case("huge string array length", V_HUGE_STRARR, PJ_EFORMAT,
	          "('t.arr_str'): array length 4611686018427387904 exceeds the remaining");
	gguf_case("unknown value type", V_BAD_VTYPE, PJ_EFORMAT, "metadata key #1 ('t.u8'): unknown value type 13");
	gguf_case("unknown array element type", V_BAD_ATYPE, PJ_EFORMAT, "unknown array element type 77");
	gguf_case("nested array", V_NESTED, PJ_EUNSUPPORTED, "nested arrays (arrays of arrays) are not supported");
	gguf_case("empty key", V_EMPTY_KEY, PJ_EFORMAT, "metadata key #1: empty key");
	gguf_case("key with a NUL byte", V_NUL_KEY, PJ_EFORMAT, "key contains a NUL byte");
	gguf_case("duplicate key", V_DUP_KEY, PJ_EFORMAT, "duplicate metadata key 't.u32'");
	gguf_case("alignment 0", V_ALIGN0, PJ_EFORMAT, "general.alignment is 0, must be a nonzero power of two");
	gguf_case("alignment 3", V_ALIGN3, PJ_EFORMAT, "general.alignment is 3, must be a nonzero power of two");
	gguf_case("alignment of type string", V_ALIGN_STR, PJ_EFORMAT, "general.alignment has type STRING");
	gguf_case("unknown ggml type", V_BAD_GTYPE, PJ_EUNSUPPORTED, "tensor info #0 ('a'): unknown ggml type 99");
	gguf_case("n_dims 5", V_NDIMS5, PJ_EFORMAT, "tensor info #0 ('a'): n_dims is 5, at most 4 allowed");
	gguf_case("negative dimension", V_NEG_DIM, PJ_EFORMAT, "ne[1] is negative (-2)");
	gguf_case("element count overflow", V_ELEM_OVERFLOW, PJ_EFORMAT, "('a'): element count overflows");
	gguf_case("ne[0] not a multiple of the block", V_NE0_BLOCK, PJ_EFORMAT,
	          "tensor info #1 ('b'): ne[0] = 48 is not a multiple of the Q8_0 block size 32");
	gguf_case("misaligned data offset", V_MISALIGNED, PJ_EFORMAT,
	          "tensor 'b': data offset 260 is not a multiple of the alignment 32");
	gguf_case("tensor past the end of the file", V_PAST_EOF, PJ_EFORMAT, "tensor 'b' ends at byte");
	gguf_case("overlapping tensors", V_OVERLAP, PJ_EFORMAT, "tensors 'a' and 'b' overlap");
	gguf_case("duplicate tensor name", V_DUP_TENSOR, PJ_EFORMAT, "duplicate tensor name 'a'");

	/* Truncation inside each section. */
	gb b = { 0 };
	tiny_gguf(&b, V_OK, "");
	const uint8_t *f64 = memmem(b.d, b.n, "t.f64", 5);
	size_t f64_at = f64 ? (size_t)(f64 - b.d) : 0;
	struct { const char *what; size_t len; const char *needle; } cut[] = {
		{ "truncated in the header", 12, "t.gguf: header: truncated" },
		{ "truncated in the metadata", f64_at + 14, "t.gguf: metadata key #12 ('t.f64'): truncated" },
		{ "truncated in a string array", sec_ti_start - 3, "('t.arr_str'): string length" },
		{ "truncated in the tensor infos", sec_ti_start + 60, "t.gguf: tensor info #1 ('b'): truncated" },
		{ "truncated in the padding", sec_ti_end + 1, "data section starts at byte" },
		{ "truncated in the data", b.n - 10, "tensor 'b' ends at byte" },
	};
	for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
		pj_gguf g;
		pj_catalog cat;
		pj_error e = { 0 };
		corpus_write("gguf", cut[i].what, b.d, cut[i].len);
		expect_fail(gguf_mem(b.d, cut[i].len, &g, &cat, &e), &e, PJ_EFORMAT, cut[i].needle, cut[i].what);
		pj_catalog_free(&cat);
	}
	/* Every prefix of a valid file must fail cleanly (ASan checks the reads). */
	size_t bad = 0;
	for (size_t n = 0; n < b.n; n++) {
		pj_gguf g;
		pj_catalog cat;
		pj_error e = { 0 };
		pj_status s = gguf_mem(b.d, n, &g, &cat, &e);
		if (s == PJ_OK) {
			bad++;
			pj_gguf_free(&g);
		}
		pj_catalog_free(&cat);
	}
	is_int(bad, 0, "all %zu truncations of the tiny GGUF are rejected", b.n);
	free(b.d);
}

/* GGUF files on disk: single file and split sets through pj_model_open. */
static void test_gguf_files(void)
{
	gb b = { 0 };
	tiny_gguf(&b, V_OK, "s0.");
	char *p1 = tpath("set-00001-of-00002.gguf");
	write_file(p1, b.d, b.n);
	pj_model *m = NULL;
	pj_error e = { 0 };
	expect_fail(pj_model_open(p1, &m, &e), &e, PJ_ENOTFOUND, "split 2 of 2 is missing",
	            "split set with a missing split");
	b.n = 0;
	tiny_gguf(&b, V_OK, "s1.");
	char *p2 = tpath("set-00002-of-00002.gguf");
	write_file(p2, b.d, b.n);
	pj_status s = pj_model_open(p2, &m, &e);
	is_int(s, PJ_OK, "complete split set opens from any split (%s)", s ? e.msg : "ok");
	if (!s) {
		is_int(m->n_gguf, 2, "two splits");
		is_int(m->cat.n, 4, "tensors of both splits in one catalog");
		is_int(m->format, PJ_FMT_GGUF, "format GGUF");
		like(m->path, "set-00001-of-00002.gguf", "path is the first split");
		const pj_tensor *t = pj_catalog_find(&m->cat, "s1.b");
		ok(t && t->file == 1, "second split's tensor refers to the second file");
		pj_model_close(m);
	}
	/* Same tensor names in both splits. */
	b.n = 0;
	tiny_gguf(&b, V_OK, "s0.");
	write_file(p2, b.d, b.n);
	expect_fail(pj_model_open(p1, &m, &e), &e, PJ_EFORMAT, "duplicate tensor name 's0.a'",
	            "split set: a tensor in two splits");

	/* A single file: bad magic through the file API. */
	char *p3 = tpath("bad.gguf");
	write_file(p3, "GGML\3\0\0\0", 8);
	pj_gguf g;
	expect_fail(pj_gguf_open(p3, &g, NULL, &e), &e, PJ_EFORMAT, "bad.gguf: not a GGUF file",
	            "pj_gguf_open: bad magic");
	free(p1);
	free(p2);
	free(p3);
	free(b.d);
}

/* ---- model folders, HF cache --------------------------------------------- */

#define CFG "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\"}"

static void make_hf_folder(const char *dir)
{
	mkdir_p(dir);
	char *p = pj_xasprintf("%s/config.json", dir);
	write_text(p, CFG);
	free(p);
	p = pj_xasprintf("%s/model.safetensors", dir);
	const char *json = "{" T1 "}";
	uint8_t buf[256] = { 0 };
	size_t jl = strlen(json);
	buf[0] = (uint8_t)jl;
	memcpy(buf + 8, json, jl);
	write_file(p, buf, 8 + jl + 24);
	free(p);
}

static void test_folders(void)
{
	char *dir = tpath("hf");
	make_hf_folder(dir);
	pj_model *m = NULL;
	pj_error e = { 0 };
	pj_status s = pj_model_open(dir, &m, &e);
	is_int(s, PJ_OK, "tiny HF folder opens (%s)", s ? e.msg : "ok");
	if (!s) {
		is_str(m->name, "hf", "name is the folder name");
		ok(m->config && cJSON_IsObject(m->config), "config.json parsed");
		is_int(m->cat.n, 1, "one tensor");
		pj_model_close(m);
	}
	char *cfg = pj_xasprintf("%s/config.json", dir);
	write_text(cfg, "{\"a\": 1,\n \"b\": }");
	expect_fail(pj_model_open(dir, &m, &e), &e, PJ_EFORMAT, "config.json: not valid JSON (error near byte",
	            "broken config.json");
	unlink(cfg);
	expect_fail(pj_model_open(dir, &m, &e), &e, PJ_ENOTFOUND, "no config.json", "folder without config.json");
	free(cfg);
	free(dir);

	/* Several shards and no index: all of them, sorted, with a warning. */
	dir = tpath("multi");
	make_hf_folder(dir);
	char *p = tpath("multi/model.safetensors");
	char *q = tpath("multi/a.safetensors");
	rename(p, q);
	free(st_write("multi/b.safetensors", "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 0));
	s = pj_model_open(dir, &m, &e);
	is_int(s, PJ_OK, "folder with two unindexed shards opens (%s)", s ? e.msg : "ok");
	if (!s) {
		ok(m->cat.n == 2 && m->cat.n_files == 2 && strstr(m->cat.files[0].path, "a.safetensors"),
		   "both shards, in sorted order");
		ok(m->n_warnings == 1 && strstr(m->warnings[0], "no model.safetensors.index.json"),
		   "warned about the missing index");
		pj_model_close(m);
	}
	free(p);
	free(q);
	free(dir);

	/* A folder holding just one GGUF. */
	dir = tpath("gguf-only");
	mkdir_p(dir);
	gb b = { 0 };
	tiny_gguf(&b, V_OK, "");
	p = tpath("gguf-only/x.gguf");
	write_file(p, b.d, b.n);
	s = pj_model_open(dir, &m, &e);
	ok(s == PJ_OK && m->format == PJ_FMT_GGUF && m->n_warnings == 1, "folder with one .gguf opens it, with a warning");
	if (!s)
		pj_model_close(m);
	free(b.d);
	free(p);
	free(dir);

	expect_fail(pj_model_open("/nonexistent/model/dir", &m, &e), &e, PJ_ENOTFOUND, "no such file or folder",
	            "missing path");
	p = tpath("notes.txt");
	write_text(p, "hi");
	expect_fail(pj_model_open(p, &m, &e), &e, PJ_EUSAGE, "not a model", "plain file");
	free(p);
}

static void set_mtime(const char *p, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };
	utimensat(AT_FDCWD, p, ts, 0);
}

static void test_hf_cache(void)
{
	char *hub = tpath("hub");
	setenv("HF_HUB_CACHE", hub, 1);
	unsetenv("HF_HOME");
	char *snap = tpath("hub/models--org--tiny/snapshots/abc123");
	make_hf_folder(snap);
	char *ref = tpath("hub/models--org--tiny/refs");
	mkdir_p(ref);
	char *main_ref = tpath("hub/models--org--tiny/refs/main");
	write_text(main_ref, "  abc123\n");
	char *other = tpath("hub/models--org--tiny/snapshots/zzz999");
	make_hf_folder(other);

	char *out = NULL;
	pj_error e = { 0 };
	pj_status s = pj_hf_cache_resolve("org/tiny", &out, &e);
	ok(s == PJ_OK && out && strcmp(out, snap) == 0, "refs/main (whitespace trimmed) picks the snapshot");
	free(out);
	pj_model *m = NULL;
	s = pj_model_open("org/tiny", &m, &e);
	is_int(s, PJ_OK, "pj_model_open resolves a hub id (%s)", s ? e.msg : "ok");
	if (!s) {
		is_str(m->name, "org/tiny", "name is the hub id");
		pj_model_close(m);
	}

	/* No refs/main: the newest snapshot. */
	unlink(main_ref);
	set_mtime(snap, 2000000000);
	set_mtime(other, 1000000000);
	s = pj_hf_cache_resolve("org/tiny", &out, &e);
	ok(s == PJ_OK && out && strcmp(out, snap) == 0, "without refs/main the newest snapshot wins");
	free(out);

	write_text(main_ref, "deadbeef");
	expect_fail(pj_hf_cache_resolve("org/tiny", &out, &e), &e, PJ_ENOTFOUND, "names revision 'deadbeef'",
	            "refs/main naming a missing snapshot");
	expect_fail(pj_hf_cache_resolve("org/missing", &out, &e), &e, PJ_ENOTFOUND,
	            "not in the Hugging Face cache (searched ", "model not in the cache");
	like(e.msg, "models--org--missing", "message lists the places searched");
	expect_fail(pj_hf_cache_resolve("a/b/c", &out, &e), &e, PJ_EUSAGE, "not a Hugging Face model id", "id with two slashes");
	expect_fail(pj_hf_cache_resolve("../etc", &out, &e), &e, PJ_EUSAGE, "not a Hugging Face model id", "id with ..");
	expect_fail(pj_hf_cache_resolve("/abs", &out, &e), &e, PJ_EUSAGE, "not a Hugging Face model id", "id with a leading /");
	expect_fail(pj_hf_cache_resolve("noslash", &out, &e), &e, PJ_EUSAGE, "not a Hugging Face model id", "id without /");
	expect_fail(pj_model_open("org/missing", &m, &e), &e, PJ_ENOTFOUND, "not in the Hugging Face cache",
	            "pj_model_open of an uncached id");
	unsetenv("HF_HUB_CACHE");
	free(hub);
	free(snap);
	free(ref);
	free(main_ref);
	free(other);
}

/* ---- the shared checkpoints ---------------------------------------------- */

struct shared_model {
	const char *name;
	size_t n_hf, n_gguf;
};

static const struct shared_model shared_models[] = {
	{ "llama", 39, 39 }, { "qwen3", 46, 46 }, { "qwen3moe", 102, 39 }, { "gemma3", 80, 80 },
	{ "deepseek3", 91, 52 }, { "random-gemma3mm", 78, 0 }, { "random-llava", 64, 0 },
	{ "random-mixtral", 41, 0 }, { "random-qwen2vl", 58, 0 }, { "random-t5", 51, 0 },
};

static bool shape_is(const pj_tensor *t, int nd, int64_t a, int64_t b, int64_t c)
{
	return t && t->n_dims == nd && t->ne[0] == a && (nd < 2 || t->ne[1] == b) && (nd < 3 || t->ne[2] == c);
}

/* Reads a tensor's bytes with pread and compares them with pj_catalog_data. */
static bool data_matches(pj_catalog *cat, const pj_tensor *t)
{
	pj_error e = { 0 };
	const uint8_t *d = pj_catalog_data(cat, t, &e);
	if (!d)
		return false;
	int fd = open(cat->files[t->file].path, O_RDONLY);
	uint8_t *buf = pj_xmalloc(t->nbytes);
	bool good = fd >= 0 && pread(fd, buf, t->nbytes, (off_t)t->offset) == (ssize_t)t->nbytes &&
	            memcmp(buf, d, t->nbytes) == 0;
	if (fd >= 0)
		close(fd);
	free(buf);
	return good;
}

static void check_hf(const char *shared, const struct shared_model *sm)
{
	char *dir = pj_xasprintf("%s/models/%s", shared, sm->name);
	pj_model *m = NULL;
	pj_error e = { 0 };
	pj_status s = pj_model_open(dir, &m, &e);
	is_int(s, PJ_OK, "%s: HF folder opens (%s)", sm->name, s ? e.msg : "ok");
	free(dir);
	if (s)
		return;
	is_int(m->cat.n, sm->n_hf, "%s: %zu safetensors tensors", sm->name, sm->n_hf);
	ok(m->format == PJ_FMT_HF && m->config && !strcmp(m->name, sm->name), "%s: HF format, config, name", sm->name);
	size_t bf16 = 0;
	for (size_t i = 0; i < m->cat.n; i++)
		bf16 += m->cat.t[i].dtype == PJ_DT_BF16;
	ok(bf16 > m->cat.n / 2, "%s: mostly BF16 (%zu of %zu)", sm->name, bf16, m->cat.n);
	if (!strcmp(sm->name, "llama")) {
		ok(shape_is(pj_catalog_find(&m->cat, "model.embed_tokens.weight"), 2, 256, 1024, 0),
		   "llama: embed_tokens [1024,256] -> ne 256x1024");
		ok(shape_is(pj_catalog_find(&m->cat, "model.layers.0.self_attn.k_proj.weight"), 2, 256, 128, 0),
		   "llama: GQA k_proj is 256x128");
		ok(shape_is(pj_catalog_find(&m->cat, "model.layers.3.mlp.down_proj.weight"), 2, 768, 256, 0),
		   "llama: down_proj is 768x256");
		ok(shape_is(pj_catalog_find(&m->cat, "model.norm.weight"), 1, 256, 0, 0), "llama: norm is 1-D 256");
		const pj_tensor *t = pj_catalog_find(&m->cat, "model.layers.1.self_attn.q_proj.weight");
		ok(t && data_matches(&m->cat, t), "llama: pj_catalog_data bytes equal the file's (safetensors)");
	}
	if (!strcmp(sm->name, "qwen3moe"))
		ok(shape_is(pj_catalog_find(&m->cat, "model.layers.0.mlp.experts.7.down_proj.weight"), 2, 256, 256, 0),
		   "qwen3moe: per-expert down_proj 256x256");
	pj_model_close(m);
}

static const cJSON *jget(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* Compares the GGUF tensor table and some metadata with <name>-BF16.header.json. */
static void check_gguf(const char *shared, const struct shared_model *sm)
{
	char *path = pj_xasprintf("%s/models/%s/gguf/%s-BF16.gguf", shared, sm->name, sm->name);
	char *hjp = pj_xasprintf("%s/models/%s/gguf/%s-BF16.header.json", shared, sm->name, sm->name);
	pj_model *m = NULL;
	pj_error e = { 0 };
	pj_status s = pj_model_open(path, &m, &e);
	is_int(s, PJ_OK, "%s: GGUF opens (%s)", sm->name, s ? e.msg : "ok");
	char *text = tap_slurp(hjp, NULL);
	cJSON *hj = text ? cJSON_Parse(text) : NULL;
	free(text);
	ok(hj != NULL, "%s: header.json parsed", sm->name);
	if (s || !hj) {
		if (!s)
			pj_model_close(m);
		cJSON_Delete(hj);
		free(path);
		free(hjp);
		return;
	}
	is_int(m->cat.n, sm->n_gguf, "%s: %zu GGUF tensors", sm->name, sm->n_gguf);
	const cJSON *tensors = jget(hj, "tensors");
	is_int(cJSON_GetArraySize(tensors), m->cat.n, "%s: same tensor count as header.json", sm->name);
	size_t good = 0, n = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, tensors) {
		n++;
		const pj_tensor *ct = pj_catalog_find(&m->cat, cJSON_GetStringValue(jget(t, "name")));
		const cJSON *shape = jget(t, "shape");
		bool same = ct && cJSON_GetArraySize(shape) == ct->n_dims &&
		            !strcmp(pj_dtype_name(ct->dtype), cJSON_GetStringValue(jget(t, "type"))) &&
		            (uint64_t)jget(t, "offset")->valuedouble == ct->offset &&
		            (uint64_t)jget(t, "nbytes")->valuedouble == ct->nbytes;
		for (int i = 0; same && i < ct->n_dims; i++)
			same = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble == ct->ne[i];
		if (same)
			good++;
		else
			tap_diag("mismatch: %s", cJSON_GetStringValue(jget(t, "name")));
	}
	ok(n && good == n, "%s: names, shapes, types, offsets, sizes equal header.json (%zu/%zu)", sm->name, good, n);
	const cJSON *kv = jget(hj, "kv");
	is_int(m->gguf->n_kv, cJSON_GetArraySize(kv) - 3, "%s: metadata key count", sm->name);
	is_str(pj_gguf_get_str(m->gguf, "general.architecture"),
	       cJSON_GetStringValue(jget(jget(kv, "general.architecture"), "value")), "%s: general.architecture", sm->name);
	const cJSON *tok = jget(jget(kv, "tokenizer.ggml.tokens"), "value");
	const pj_gguf_kv *tk = pj_gguf_find(m->gguf, "tokenizer.ggml.tokens");
	ok(tk && tok && tk->arr_type == PJ_GGUF_STRING && tk->arr_n == (uint64_t)jget(tok, "len")->valuedouble &&
	   !strcmp(tk->arr_str[1], cJSON_GetStringValue(cJSON_GetArrayItem(jget(tok, "head"), 1))),
	   "%s: tokenizer.ggml.tokens string array", sm->name);
	if (!strcmp(sm->name, "llama")) {
		const pj_tensor *ct = pj_catalog_find(&m->cat, "token_embd.weight");
		ok(ct && data_matches(&m->cat, ct), "llama: pj_catalog_data bytes equal the file's (GGUF)");
		uint64_t u;
		ok(pj_gguf_arch_u64(m->gguf, "block_count", &u) && u == 4, "llama: llama.block_count = 4");
	}
	if (!strcmp(sm->name, "qwen3moe"))
		ok(shape_is(pj_catalog_find(&m->cat, "blk.0.ffn_down_exps.weight"), 3, 256, 256, 8),
		   "qwen3moe: stacked experts 256x256x8");
	cJSON_Delete(hj);
	pj_model_close(m);
	free(path);
	free(hjp);
}

static void test_shared(void)
{
	const char *shared = tap_shared_dir();
	if (!shared) {
		skip("shared test data (../shared/models) is absent: real checkpoints NOT tested");
		return;
	}
	for (size_t i = 0; i < sizeof shared_models / sizeof shared_models[0]; i++) {
		check_hf(shared, &shared_models[i]);
		if (shared_models[i].n_gguf)
			check_gguf(shared, &shared_models[i]);
	}
	/* Vocab-only GGUF files have no tensors. */
	char *p = pj_xasprintf("%s/data/tokenizers/ggml-vocab-gpt-2.gguf", shared);
	pj_gguf g;
	pj_error e = { 0 };
	pj_status s = pj_gguf_open(p, &g, NULL, &e);
	ok(s == PJ_OK && g.n_tensors == 0 && pj_gguf_get_str(&g, "tokenizer.ggml.model"),
	   "vocab-only GGUF opens (%s)", s ? e.msg : "ok");
	if (!s)
		pj_gguf_free(&g);
	free(p);
}

/* ---- cleanup ------------------------------------------------------------- */

static void rm_rf(const char *p)
{
	struct stat st;
	if (lstat(p, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(p);
		for (struct dirent *de; d && (de = readdir(d));) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char *c = pj_xasprintf("%s/%s", p, de->d_name);
			rm_rf(c);
			free(c);
		}
		if (d)
			closedir(d);
		rmdir(p);
	} else {
		unlink(p);
	}
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmp, sizeof tmp, "%s/pj-readers-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 2;
	}
	test_st_good();
	test_st_bad();
	test_st_index();
	test_gguf_good();
	test_gguf_bad();
	test_gguf_files();
	test_folders();
	test_hf_cache();
	test_shared();
	rm_rf(tmp);
	return done_testing();
}
