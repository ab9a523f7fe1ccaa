/* gguf_hashes.c - test helper: one line per tensor or metadata key, so shell
 * tests can compare a written GGUF with a golden JSON (or another GGUF) with
 * sort + diff.
 *
 *   gguf_hashes FILE.gguf       "name type sha256" per tensor (data bytes)
 *   gguf_hashes --json G.json   the same lines from a golden JSON
 *   gguf_hashes --kv FILE.gguf  "key type sha256" per metadata key (raw value bytes)
 *   gguf_hashes --order FILE    tensor names in file order */
#include "config.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "gguf.h"
#include "quant/sha256.h"

static int die(const char *msg)
{
	fprintf(stderr, "gguf_hashes: %s\n", msg);
	return 1;
}

static int from_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return die("cannot open the JSON");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	size_t got = fread(buf, 1, (size_t)n, f);
	fclose(f);
	buf[got] = 0;
	cJSON *js = cJSON_Parse(buf);
	free(buf);
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(js, "tensors"), *it;
	if (!cJSON_IsArray(ts)) {
		cJSON_Delete(js);
		return die("no tensors array");
	}
	cJSON_ArrayForEach(it, ts) {
		printf("%s %s %s\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "type")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "sha256")));
	}
	cJSON_Delete(js);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--json") == 0)
		return from_json(argv[2]);
	const bool kv = argc == 3 && strcmp(argv[1], "--kv") == 0;
	const bool order = argc == 3 && strcmp(argv[1], "--order") == 0;
	if (argc != 2 && !kv && !order)
		return die("usage: gguf_hashes [--json|--kv|--order] FILE");
	const char *path = argv[argc - 1];
	pj_catalog cat;
	pj_catalog_init(&cat);
	pj_gguf g;
	pj_error err = { 0 };
	if (pj_gguf_open(path, &g, &cat, &err) != PJ_OK)
		return die(err.msg);
	int rc = 0;
	char hex[65];
	if (kv) {
		int fd = open(path, O_RDONLY);
		for (uint64_t i = 0; fd >= 0 && i < g.n_kv; i++) {
			const pj_gguf_kv *k = &g.kv[i];
			uint8_t *b = malloc(k->raw_len ? (size_t)k->raw_len : 1);
			if (pread(fd, b, (size_t)k->raw_len, (off_t)k->raw_off) != (ssize_t)k->raw_len)
				rc = die("short read");
			pj_sha256_hex(b, (size_t)k->raw_len, hex);
			printf("%s %s %s\n", k->key, pj_gguf_type_name(k->type), hex);
			free(b);
		}
		if (fd >= 0)
			close(fd);
	} else {
		for (size_t i = 0; i < cat.n; i++) {
			const pj_tensor *t = &cat.t[i];
			if (order) {
				printf("%s\n", t->name);
				continue;
			}
			const void *d = pj_catalog_data(&cat, t, &err);
			if (!d) {
				rc = die(err.msg);
				break;
			}
			pj_sha256_hex(d, (size_t)t->nbytes, hex);
			printf("%s %s %s\n", t->name, pj_dtype_name(t->dtype), hex);
		}
	}
	pj_gguf_free(&g);
	pj_catalog_free(&cat);
	return rc;
}
