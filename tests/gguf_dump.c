/* gguf_dump.c - test helper: a GGUF's metadata as text, one key a line, so
 * shell tests can check values (not only bytes) and show readable diffs.
 *
 *   gguf_dump FILE.gguf        "key TYPE value" per key, in file order;
 *                              arrays: "key ARRAY[TYPE] n=N first..." with
 *                              up to 4 leading elements
 *   gguf_dump --tensors FILE   "name TYPE ne0xne1x..." per tensor, file order
 *
 * Strings are printed with \\, \n, \t and non-printable bytes escaped. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "gguf.h"

static void put_str(const char *s, uint64_t n)
{
	putchar('"');
	for (uint64_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '"')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void put_num(pj_gguf_type t, const uint8_t *p)
{
	uint64_t u = 0;
	static const int SZ[] = { [PJ_GGUF_UINT8] = 1, [PJ_GGUF_INT8] = 1, [PJ_GGUF_UINT16] = 2, [PJ_GGUF_INT16] = 2,
		                      [PJ_GGUF_UINT32] = 4, [PJ_GGUF_INT32] = 4, [PJ_GGUF_FLOAT32] = 4, [PJ_GGUF_BOOL] = 1,
		                      [PJ_GGUF_UINT64] = 8, [PJ_GGUF_INT64] = 8, [PJ_GGUF_FLOAT64] = 8 };
	int sz = SZ[t];
	for (int i = 0; i < sz; i++)
		u |= (uint64_t)p[i] << (8 * i);
	switch (t) {
	case PJ_GGUF_INT8: printf("%d", (int8_t)u); break;
	case PJ_GGUF_INT16: printf("%d", (int16_t)u); break;
	case PJ_GGUF_INT32: printf("%" PRId32, (int32_t)u); break;
	case PJ_GGUF_INT64: printf("%" PRId64, (int64_t)u); break;
	case PJ_GGUF_FLOAT32: {
		uint32_t w = (uint32_t)u;
		float f;
		memcpy(&f, &w, 4);
		printf("%.9g", f);
		break;
	}
	case PJ_GGUF_FLOAT64: {
		double d;
		memcpy(&d, &u, 8);
		printf("%.17g", d);
		break;
	}
	case PJ_GGUF_BOOL: fputs(u ? "true" : "false", stdout); break;
	default: printf("%" PRIu64, u); break;
	}
}

int main(int argc, char **argv)
{
	int tensors = argc == 3 && strcmp(argv[1], "--tensors") == 0;
	if (argc != 2 && !tensors) {
		fprintf(stderr, "usage: gguf_dump [--tensors] FILE.gguf\n");
		return 2;
	}
	pj_catalog cat;
	pj_catalog_init(&cat);
	pj_gguf g;
	pj_error err = { 0 };
	if (pj_gguf_open(argv[argc - 1], &g, &cat, &err) != PJ_OK) {
		fprintf(stderr, "gguf_dump: %s\n", err.msg);
		return 1;
	}
	if (tensors) {
		for (size_t i = 0; i < cat.n; i++) {
			const pj_tensor *t = &cat.t[i];
			printf("%s %s ", t->name, pj_dtype_name(t->dtype));
			for (int d = 0; d < t->n_dims; d++)
				printf(d ? "x%lld" : "%lld", (long long)t->ne[d]);
			putchar('\n');
		}
	}
	for (uint64_t i = 0; !tensors && i < g.n_kv; i++) {
		const pj_gguf_kv *kv = &g.kv[i];
		if (kv->type == PJ_GGUF_ARRAY) {
			printf("%s ARRAY[%s] n=%" PRIu64, kv->key, pj_gguf_type_name(kv->arr_type), kv->arr_n);
			for (uint64_t k = 0; k < kv->arr_n && k < 4; k++) {
				putchar(' ');
				if (kv->arr_type == PJ_GGUF_STRING) {
					put_str(kv->arr_str[k], kv->arr_str_len[k]);
				} else {
					static const int SZ[] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
					put_num(kv->arr_type, kv->arr_data + k * (uint64_t)SZ[kv->arr_type]);
				}
			}
		} else {
			printf("%s %s ", kv->key, pj_gguf_type_name(kv->type));
			if (kv->type == PJ_GGUF_STRING) {
				put_str(kv->str, kv->str_len);
			} else {
				uint8_t b[8];
				uint64_t u = kv->type == PJ_GGUF_INT8 || kv->type == PJ_GGUF_INT16 || kv->type == PJ_GGUF_INT32 ||
				                     kv->type == PJ_GGUF_INT64
				                 ? (uint64_t)kv->v.i
				                 : kv->v.u;
				if (kv->type == PJ_GGUF_FLOAT32) {
					float f = (float)kv->v.f;
					uint32_t w;
					memcpy(&w, &f, 4);
					u = w;
				} else if (kv->type == PJ_GGUF_FLOAT64) {
					memcpy(&u, &kv->v.f, 8);
				}
				for (int k = 0; k < 8; k++)
					b[k] = (uint8_t)(u >> (8 * k));
				put_num(kv->type, b);
			}
		}
		putchar('\n');
	}
	pj_gguf_free(&g);
	pj_catalog_free(&cat);
	return 0;
}
