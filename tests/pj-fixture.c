/* pj-fixture - synthetic model fixtures for tests and benchmarks, over
 * synth.c, plus two small helpers the shell tests use instead of python:
 * --json-get (a value out of a JSON document) and --compare (two models
 * opened with the real readers hold the same tensors). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "model.h"
#include "synth.h"

enum { EXIT_USAGE = 2 };

static const char usage_text[] =
	"Usage: pj-fixture --config FILE --out PATH [OPTION]...\n"
	"  or:  pj-fixture --demo DIR\n"
	"  or:  pj-fixture --list FILE [--gguf] [--dtype TYPE]\n"
	"  or:  pj-fixture --json-get KEY FILE\n"
	"  or:  pj-fixture --compare MODEL_A MODEL_B [--headers-only]\n"
	"Write a synthetic model with the tensor names and shapes of the real\n"
	"checkpoint that a Hugging Face config.json describes.\n"
	"\n"
	"  -c, --config FILE     config.json to build from\n"
	"  -o, --out PATH        output folder (HF) or .gguf file (--gguf)\n"
	"  -g, --gguf            write one GGUF v3 file instead of an HF folder\n"
	"  -s, --sparse          write headers only and leave the data as holes\n"
	"                        (full-size files that use no disk)\n"
	"  -n, --shards N        split the safetensors into N shards with an index\n"
	"      --shard-digits N  digits of the shard count in file names (default 5;\n"
	"                        6 gives DeepSeek-V3's model-00001-of-000163)\n"
	"  -t, --dtype TYPE      BF16, F16, F32, F8_E4M3 (adds *_scale_inv), or\n"
	"                        MXFP4 (gpt-oss experts as released: *_blocks and\n"
	"                        *_scales); default: the config's torch_dtype (FP8\n"
	"                        as released for quant_method fp8), else BF16\n"
	"      --seed N          seed of the random values (default 0)\n"
	"      --demo DIR        write the built-in demo model to DIR\n"
	"      --list FILE       print the tensors FILE describes (name, dtype,\n"
	"                        shape) without writing anything\n"
	"      --json-get KEY FILE  print the value at KEY (dotted path, array\n"
	"                        indexes as numbers: params.total, census.0.role)\n"
	"                        in JSON FILE ('-' = stdin); arrays print one item\n"
	"                        per line\n"
	"      --compare A B     open two models and check that they hold the same\n"
	"                        tensors (names, dtypes, shapes and data bytes)\n"
	"      --headers-only    with --compare: skip the data bytes\n"
	"  -h, --help            show this help and exit\n"
	"      --version         show the version and exit\n"
	"\n"
	"Exit status: 0 success, 1 failure (I/O, mismatch, key not found), 2 usage.\n";

static _Noreturn void PJ_PRINTF(1, 2) usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "pj-fixture: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pj-fixture --help' for more information.\n");
	exit(EXIT_USAGE);
}

static long parse_num(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0)
		usage_error("invalid number for %s", what);
	return v;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, n = 0, r;
	char *p = pj_xmalloc(cap);
	while ((r = fread(p + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			p = pj_xrealloc(p, cap *= 2);
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return p;
}

static void print_scalar(const cJSON *v)
{
	if (cJSON_IsString(v)) {
		puts(v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 9.2e18)
			printf("%lld\n", (long long)d);
		else
			printf("%.17g\n", d);
	} else if (cJSON_IsBool(v)) {
		puts(cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsNull(v)) {
		puts("null");
	} else {
		char *s = cJSON_PrintUnformatted(v);
		puts(s ? s : "");
		free(s);
	}
}

static int json_get(const char *key, const char *path)
{
	size_t len;
	char *text = read_all(path, &len);
	if (!text) {
		fprintf(stderr, "pj-fixture: %s: %s\n", path, strerror(errno));
		return 1;
	}
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	if (!root) {
		fprintf(stderr, "pj-fixture: %s: not valid JSON\n", path);
		return 1;
	}
	const cJSON *v = root;
	char *k = pj_xstrdup(key), *save = NULL;
	for (char *part = strtok_r(k, ".", &save); part && v; part = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(v)) {
			char *end;
			long i = strtol(part, &end, 10);
			v = *end ? NULL : cJSON_GetArrayItem(v, (int)i);
		} else {
			v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, part) : NULL;
		}
	}
	free(k);
	int rc = 0;
	if (!v) {
		fprintf(stderr, "pj-fixture: %s: no key %s\n", path, key);
		rc = 1;
	} else if (cJSON_IsArray(v)) {
		const cJSON *x;
		cJSON_ArrayForEach(x, v)
			print_scalar(x);
	} else {
		print_scalar(v);
	}
	cJSON_Delete(root);
	return rc;
}

static int compare(const char *a_path, const char *b_path, bool headers_only)
{
	pj_error err;
	pj_model *a = NULL, *b = NULL;
	if (pj_model_open(a_path, &a, &err)) {
		fprintf(stderr, "pj-fixture: %s\n", err.msg);
		return 1;
	}
	if (pj_model_open(b_path, &b, &err)) {
		fprintf(stderr, "pj-fixture: %s\n", err.msg);
		pj_model_close(a);
		return 1;
	}
	int diffs = 0;
	if (a->cat.n != b->cat.n) {
		fprintf(stderr, "pj-fixture: %zu tensors in %s, %zu in %s\n", a->cat.n, a_path, b->cat.n, b_path);
		diffs++;
	}
	for (size_t i = 0; i < a->cat.n && diffs < 10; i++) {
		const pj_tensor *x = &a->cat.t[i], *y = pj_catalog_find(&b->cat, x->name);
		if (!y) {
			fprintf(stderr, "pj-fixture: %s: only in %s\n", x->name, a_path);
			diffs++;
			continue;
		}
		if (x->dtype != y->dtype || x->n_dims != y->n_dims || x->nbytes != y->nbytes ||
		    memcmp(x->ne, y->ne, sizeof x->ne) != 0) {
			char s1[96], s2[96];
			fprintf(stderr, "pj-fixture: %s: %s %s vs %s %s\n", x->name, pj_dtype_name(x->dtype),
			        pj_tensor_shape_str(x, s1, sizeof s1), pj_dtype_name(y->dtype),
			        pj_tensor_shape_str(y, s2, sizeof s2));
			diffs++;
			continue;
		}
		if (headers_only)
			continue;
		const void *px = pj_catalog_data(&a->cat, x, &err), *py = px ? pj_catalog_data(&b->cat, y, &err) : NULL;
		if (!px || !py) {
			fprintf(stderr, "pj-fixture: %s\n", err.msg);
			diffs++;
		} else if (memcmp(px, py, x->nbytes) != 0) {
			fprintf(stderr, "pj-fixture: %s: data differs\n", x->name);
			diffs++;
		}
	}
	pj_model_close(a);
	pj_model_close(b);
	return diffs ? 1 : 0;
}

int main(int argc, char **argv)
{
	enum { O_SEED = 256, O_DEMO, O_LIST, O_JSON_GET, O_COMPARE, O_HEADERS_ONLY, O_VERSION, O_DIGITS };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "gguf", no_argument, NULL, 'g' },
		{ "sparse", no_argument, NULL, 's' },
		{ "shards", required_argument, NULL, 'n' },
		{ "shard-digits", required_argument, NULL, O_DIGITS },
		{ "dtype", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, O_SEED },
		{ "demo", required_argument, NULL, O_DEMO },
		{ "list", required_argument, NULL, O_LIST },
		{ "json-get", required_argument, NULL, O_JSON_GET },
		{ "compare", required_argument, NULL, O_COMPARE },
		{ "headers-only", no_argument, NULL, O_HEADERS_ONLY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	pj_synth_opts o = { PJ_SYNTH_HF, false, 1, NULL, 0, 0 };
	const char *config = NULL, *out = NULL, *demo = NULL, *list = NULL, *json_key = NULL, *cmp = NULL;
	bool headers_only = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:o:gsn:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'o': out = optarg; break;
		case 'g': o.format = PJ_SYNTH_GGUF; break;
		case 's': o.sparse = true; break;
		case 'n':
			o.shards = (int)parse_num(optarg, "--shards");
			if (o.shards < 1 || o.shards > 99999)
				usage_error("--shards must be between 1 and 99999, not %s", optarg);
			break;
		case O_DIGITS:
			o.shard_digits = (int)parse_num(optarg, "--shard-digits");
			if (o.shard_digits < 1 || o.shard_digits > 9)
				usage_error("--shard-digits must be between 1 and 9, not %s", optarg);
			break;
		case 't': o.dtype = optarg; break;
		case O_SEED: o.seed = strtoull(optarg, NULL, 0); break;
		case O_DEMO: demo = optarg; break;
		case O_LIST: list = optarg; break;
		case O_JSON_GET: json_key = optarg; break;
		case O_COMPARE: cmp = optarg; break;
		case O_HEADERS_ONLY: headers_only = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case O_VERSION: printf("pj-fixture (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 0;
		default:
			fprintf(stderr, "Try 'pj-fixture --help' for more information.\n");
			return EXIT_USAGE;
		}
	}
	int modes = !!demo + !!list + !!json_key + !!cmp + !!(config || out);
	if (modes != 1)
		usage_error("%s", modes ? "give only one of --config/--demo/--list/--json-get/--compare"
		                        : "nothing to do: give --config FILE --out PATH, or --demo DIR");

	if (json_key) {
		if (optind != argc - 1)
			usage_error("%s", "--json-get KEY needs exactly one FILE");
		return json_get(json_key, argv[optind]);
	}
	if (cmp) {
		if (optind != argc - 1)
			usage_error("%s", "--compare A needs exactly one more model B");
		return compare(cmp, argv[optind], headers_only);
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);

	pj_error err;
	pj_status st;
	if (demo) {
		st = pj_synth_write_demo(demo, &err);
	} else if (list) {
		st = pj_synth_list(list, &o, stdout, &err);
	} else {
		if (!config || !out)
			usage_error("%s", config ? "--out PATH is required" : "--config FILE is required");
		if (o.format == PJ_SYNTH_GGUF && o.shards != 1)
			usage_error("%s", "--shards applies to HF output only");
		st = pj_synth_write(config, out, &o, &err);
	}
	if (st) {
		fprintf(stderr, "pj-fixture: %s\n", err.msg);
		return st == PJ_EUSAGE ? EXIT_USAGE : 1;
	}
	return 0;
}
