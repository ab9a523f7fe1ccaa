/* cli.c - options table, --help/--version, and dispatch to --info, the demo
 * model and the TUI.  The option table drives getopt_long and --help; the
 * man page's OPTIONS section is checked against it by tests/cli.sh. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "model/synth.h"
#include "report/info.h"
#include "ui/app.h"
#include "batch.h"
#include "check.h"

enum { OPT_LIST_KEYS = 512, OPT_INFO = 256, OPT_JSON, OPT_DEMO, OPT_NO_COLOR, OPT_NO_MOUSE, OPT_WRITE_DEMO, OPT_BATCH, OPT_PURE,
       OPT_IMATRIX, OPT_PRESET, OPT_PLAN, OPT_RULE, OPT_DRY_RUN, OPT_EMIT_PLAN, OPT_EMIT_TTF,
       OPT_OVERRIDE_KV };

/* --check and its calibration options (src/check.c) */
enum { OPT_CHECK = 640, OPT_CALIB, OPT_CALIB_IDS, OPT_CTX, OPT_CHUNKS, OPT_ACT };

/* X(long name, short, has_arg, id, ARG name, help) */
#define PJ_OPTIONS(X)                                                                          \
	X("info",       0,   0, OPT_INFO,     NULL,  "print the architecture report and tensor census, then exit") \
	X("json",       0,   0, OPT_JSON,     NULL,  "with --info: print JSON (schema version 1, see the man page)") \
	X("demo",       0,   0, OPT_DEMO,     NULL,  "open the built-in demo model (generated on first use, no download)") \
	X("write-demo", 0,   1, OPT_WRITE_DEMO, "DIR", "write the demo model (an HF folder) to DIR and exit") \
	X("threads",    'j', 1, 'j',          "N",   "background worker threads (default: number of CPUs)") \
	X("no-color",   0,   0, OPT_NO_COLOR, NULL,  "monochrome display (also when NO_COLOR is set)") \
	X("no-mouse",   0,   0, OPT_NO_MOUSE, NULL,  "do not capture the mouse") \
	X("batch",      0,   0, OPT_BATCH,    NULL,  "no UI: plan MODEL and write -o OUT (needs --preset, --pure or --plan)") \
	X("preset",     0,   1, OPT_PRESET,   "P",   "with --batch: start from preset P (Q4_K_M, ..., dense-q4, moe-balanced, auto)") \
	X("pure",       0,   1, OPT_PURE,     "TYPE", "with --batch: every quantizable tensor in TYPE, like llama-quantize --pure") \
	X("plan",       0,   1, OPT_PLAN,     "FILE", "with --batch: start from a plan file (see PLAN FILES in the man page)") \
	X("rule",       0,   1, OPT_RULE,     "RE=TYPE", "with --batch: tensors matching RE get TYPE (repeatable; first match wins)") \
	X("override-kv", 0,  1, OPT_OVERRIDE_KV, "KEY=TYPE:VALUE", "with --batch: set metadata KEY in the output, TYPE int, float, bool or str (as llama-quantize; repeatable)") \
	X("dry-run",    0,   0, OPT_DRY_RUN,  NULL,  "with --batch: print each tensor's type and bytes and the totals; write nothing") \
	X("emit-plan",  0,   1, OPT_EMIT_PLAN, "FILE", "with --batch: save the plan as a plan file") \
	X("emit-tensor-type-file", 0, 1, OPT_EMIT_TTF, "FILE", "with --batch: save the plan for llama-quantize --tensor-type-file") \
	X("imatrix",    0,   1, OPT_IMATRIX,  "FILE", "importance matrix (llama-imatrix GGUF or legacy .dat) for the planner and --batch") \
	X("check",      0,   0, OPT_CHECK,    NULL,  "with --batch: measure the plan's perplexity and KL divergence vs the source weights") \
	X("calib",      0,   1, OPT_CALIB,    "FILE", "with --check: calibration text, tokenized with the model's vocabulary") \
	X("calib-ids",  0,   1, OPT_CALIB_IDS, "FILE", "with --check: calibration text as little-endian int32 token ids") \
	X("ctx",        0,   1, OPT_CTX,      "N",   "with --check: tokens per chunk (default 512, as llama-perplexity)") \
	X("chunks",     0,   1, OPT_CHUNKS,   "N",   "with --check: evaluate only the first N chunks (default: all)") \
	X("act",        0,   1, OPT_ACT,      "MODE", "with --check: activations f32 (default, as transformers) or llama (rounded as llama.cpp's CPU matmuls)") \
	X("output",     'o', 1, 'o',          "FILE", "with --batch: the GGUF to write (never the input)") \
	X("list-keys",  0,   2, OPT_LIST_KEYS, "FORMAT", "list the TUI's key bindings and exit (FORMAT text or man)") \
	X("help",       'h', 0, 'h',          NULL,  "show this help and exit") \
	X("version",    'V', 0, 'V',          NULL,  "show version information and exit")

static const struct option long_options[] = {
#define PJ_OPT_LONG(name, sh, arg, id, argname, help) { name, arg, NULL, id },
	PJ_OPTIONS(PJ_OPT_LONG)
#undef PJ_OPT_LONG
	{ NULL, 0, NULL, 0 }
};

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: pajamas-tui [--imatrix FILE] [OPTION]... MODEL\n"
	        "       pajamas-tui --info [--json] MODEL\n"
	        "       pajamas-tui --demo\n"
	        "       pajamas-tui --batch (--preset P | --pure TYPE | --plan FILE) --check (--calib FILE | --calib-ids FILE)\n"
	        "                   [--ctx N] [--chunks N] [--act f32|llama] [--json] MODEL\n"
	        "       pajamas-tui --batch [--preset P | --pure TYPE | --plan FILE] [--rule RE=TYPE]...\n"
	        "                   [--imatrix FILE] [--dry-run] [--emit-plan FILE]\n"
	        "                   [--emit-tensor-type-file FILE] [--override-kv KEY=TYPE:VALUE]...\n"
	        "                   -o OUT MODEL\n"
	        "Plan, check and export a mixed-precision quantization of a language model.\n"
	        "\n"
	        "MODEL is a Hugging Face folder (config.json + *.safetensors, sharded or not),\n"
	        "a .gguf file (or the first file of a -00001-of-0000N.gguf split set), or an\n"
	        "id org/name found in the local Hugging Face cache. No network is ever used.\n"
	        "\n"
	        "Options:\n");
#define PJ_OPT_HELP(name, sh, arg, id, argname, help)                                      \
	do {                                                                                 \
		char lhs[80], rhs[40] = "";                                                  \
		if (argname)                                                                 \
			snprintf(rhs, sizeof rhs, arg == 2 ? "[=%s]" : "=%s", (const char *)argname); \
		if (sh)                                                                      \
			snprintf(lhs, sizeof lhs, "-%c, --%s%s", sh, name, rhs);             \
		else                                                                         \
			snprintf(lhs, sizeof lhs, "    --%s%s", name, rhs);                  \
		fprintf(out, "  %-24s %s\n", lhs, help);                                     \
	} while (0);
	PJ_OPTIONS(PJ_OPT_HELP)
#undef PJ_OPT_HELP
	fprintf(out,
	        "\n"
	        "Tensor shapes are printed in ggml order: the first number is the row length.\n"
	        "GGUF stores a MoE layer's experts as one 3-D tensor per projection with one\n"
	        "type, so per-expert types cannot be exported; experts are shown one by one.\n"
	        "\n"
	        "Exit status:\n"
	        "  0  success\n"
	        "  1  the model could not be opened or is malformed (the message names the file)\n"
	        "  2  invalid command line\n"
	        "  3  terminal, I/O or internal failure\n"
	        "\n"
	        "Environment: HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, NO_COLOR.\n"
	        "Full documentation: man pajamas-tui\n");
}

static int threads_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* Demo model lives in $XDG_CACHE_HOME/pajamas-tui/demo (or ~/.cache/...). */
static char *demo_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	if (xdg && *xdg)
		return pj_xasprintf("%s/pajamas-tui/demo-v1", xdg);
	return pj_xasprintf("%s/.cache/pajamas-tui/demo-v1", home && *home ? home : "/tmp");
}

/* A count option: an integer from lo to hi. */
static bool parse_count(const char *opt, const char *arg, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long n = strtol(arg, &end, 10);
	if (errno || end == arg || *end || n < lo || n > hi) {
		fprintf(stderr, "pajamas-tui: --%s: '%s' is not a number from %ld to %ld\n", opt, arg, lo, hi);
		return false;
	}
	*out = (int)n;
	return true;
}

int pj_cli_main(int argc, char **argv)
{
	/* Only LC_CTYPE: numbers must keep a decimal point (JSON). */
	setlocale(LC_CTYPE, "");

	bool info = false, json = false, demo = false, batch = false;
	pj_batch_opts bo = { 0 };
	const char **rules = NULL, **kvs = NULL;
	pj_check_opts co = { 0 };
	bool check = false, act = false;
	const char *write_demo = NULL;
	pj_ui_opts ui = { .threads = threads_default(), .no_color = false, .no_mouse = false };
	const char *nc = getenv("NO_COLOR");
	if (nc && *nc)
		ui.no_color = true;

	int c;
	while ((c = getopt_long(argc, argv, "hVj:o:", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_INFO: info = true; break;
		case OPT_JSON: json = true; break;
		case OPT_DEMO: demo = true; break;
		case OPT_WRITE_DEMO: write_demo = optarg; break;
		case OPT_NO_COLOR: ui.no_color = true; break;
		case OPT_NO_MOUSE: ui.no_mouse = true; break;
		case OPT_BATCH: batch = true; break;
		case OPT_PURE: bo.pure = optarg; break;
		case OPT_IMATRIX: bo.imatrix = optarg; break;
		case OPT_PRESET: bo.preset = optarg; break;
		case OPT_PLAN: bo.plan = optarg; break;
		case OPT_RULE:
			rules = pj_xrealloc(rules, (size_t)(bo.n_rules + 1) * sizeof *rules);
			rules[bo.n_rules++] = optarg;
			bo.rules = rules;
			break;
		case OPT_OVERRIDE_KV:
			kvs = pj_xrealloc(kvs, (size_t)(bo.n_kv_overrides + 1) * sizeof *kvs);
			kvs[bo.n_kv_overrides++] = optarg;
			bo.kv_overrides = kvs;
			break;
		case OPT_DRY_RUN: bo.dry_run = true; break;
		case OPT_EMIT_PLAN: bo.emit_plan = optarg; break;
		case OPT_EMIT_TTF: bo.emit_ttf = optarg; break;
		case OPT_CHECK: check = true; break;
		case OPT_CALIB: co.calib = optarg; break;
		case OPT_CALIB_IDS: co.calib_ids = optarg; break;
		case OPT_CTX:
			if (!parse_count("ctx", optarg, 4, 1 << 20, &co.ctx))
				return PJ_EXIT_USAGE;
			break;
		case OPT_CHUNKS:
			if (!parse_count("chunks", optarg, 1, 1 << 30, &co.chunks))
				return PJ_EXIT_USAGE;
			break;
		case OPT_ACT:
			if (strcmp(optarg, "f32") != 0 && strcmp(optarg, "llama") != 0) {
				fprintf(stderr, "pajamas-tui: --act: MODE is 'f32' or 'llama', not '%s'\n", optarg);
				return PJ_EXIT_USAGE;
			}
			co.act_llama = strcmp(optarg, "llama") == 0;
			act = true;
			break;
		case 'o': bo.output = optarg; break;
		case 'j': {
			char *end;
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1 || n > 1024) {
				fprintf(stderr, "pajamas-tui: --threads: '%s' is not a number from 1 to 1024\n", optarg);
				return PJ_EXIT_USAGE;
			}
			ui.threads = (int)n;
			break;
		}
		case OPT_LIST_KEYS:
			if (optarg && strcmp(optarg, "text") != 0 && strcmp(optarg, "man") != 0) {
				fprintf(stderr, "pajamas-tui: --list-keys: FORMAT is 'text' or 'man', not '%s'\n", optarg);
				return PJ_EXIT_USAGE;
			}
			pj_ui_print_keys(stdout, optarg && strcmp(optarg, "man") == 0);
			return PJ_EXIT_OK;
		case 'h': usage(stdout); return PJ_EXIT_OK;
		case 'V':
			printf("pajamas-tui %s\n"
			       "Copyright (C) 2026 the pajamas-tui authors.\n"
			       "License: MIT. This is free software: you are free to change and redistribute it.\n"
			       "There is NO WARRANTY, to the extent permitted by law.\n", PACKAGE_VERSION);
			return PJ_EXIT_OK;
		default:
			fprintf(stderr, "Try 'pajamas-tui --help' for more information.\n");
			return PJ_EXIT_USAGE;
		}
	}

	/* (without --batch they are the planner's: its background check) */
	if ((!check || !batch) && act) {
		fprintf(stderr, "pajamas-tui: --act is only valid with --batch --check\n");
		return PJ_EXIT_USAGE;
	}
	if (!check && batch && (co.calib || co.calib_ids || co.ctx || co.chunks)) {
		fprintf(stderr, "pajamas-tui: --calib, --calib-ids, --ctx and --chunks are only valid with --check\n");
		return PJ_EXIT_USAGE;
	}
	if (check && !batch) {
		fprintf(stderr, "pajamas-tui: --check is only valid with --batch\n");
		return PJ_EXIT_USAGE;
	}
	if (!batch && (bo.pure || bo.output || bo.preset || bo.plan || bo.n_rules || bo.dry_run ||
	               bo.emit_plan || bo.emit_ttf || bo.n_kv_overrides)) {
		fprintf(stderr, "pajamas-tui: --preset, --pure, --plan, --rule, --dry-run, --emit-plan, "
		        "--emit-tensor-type-file, --override-kv and -o are only valid with --batch\n");
		free(rules);
		free(kvs);
		return PJ_EXIT_USAGE;
	}
	/* --check prints its report; with -o the plan is exported afterwards */
	if (batch && check) {
		if (optind + 1 != argc) {
			fprintf(stderr, "pajamas-tui: --batch takes exactly one MODEL argument\n");
			return PJ_EXIT_USAGE;
		}
		co.model = argv[optind];
		co.pure = bo.pure;
		co.preset = bo.preset;
		co.plan = bo.plan;
		co.rules = bo.rules;
		co.n_rules = bo.n_rules;
		co.imatrix = bo.imatrix;
		co.json = json;
		co.threads = ui.threads;
		const int crc = pj_check_main(&co);
		if (crc != PJ_EXIT_OK || !bo.output)
			return crc;
	}
	if (batch) {
		if (optind + 1 != argc) {
			fprintf(stderr, "pajamas-tui: --batch takes exactly one MODEL argument\n");
			free(rules);
			free(kvs);
			return PJ_EXIT_USAGE;
		}
		bo.model = argv[optind];
		bo.threads = ui.threads;
		int brc = pj_batch_main(&bo);
		free(rules);
		free(kvs);
		return brc;
	}

	pj_error err = { 0 };
	if (write_demo) {
		if (pj_synth_write_demo(write_demo, &err) != PJ_OK) {
			fprintf(stderr, "pajamas-tui: %s\n", err.msg);
			return PJ_EXIT_RUNTIME;
		}
		return PJ_EXIT_OK;
	}

	char *model_arg = NULL;
	if (demo) {
		if (optind != argc) {
			fprintf(stderr, "pajamas-tui: --demo takes no MODEL argument\n");
			return PJ_EXIT_USAGE;
		}
		model_arg = demo_dir();
		struct stat st;
		char *cfg = pj_xasprintf("%s/config.json", model_arg);
		if (stat(cfg, &st) != 0 && pj_synth_write_demo(model_arg, &err) != PJ_OK) {
			fprintf(stderr, "pajamas-tui: cannot create the demo model: %s\n", err.msg);
			free(cfg);
			free(model_arg);
			return PJ_EXIT_RUNTIME;
		}
		free(cfg);
	} else {
		if (optind + 1 != argc) {
			fprintf(stderr, optind == argc ? "pajamas-tui: missing MODEL argument\n"
			                               : "pajamas-tui: only one MODEL argument is allowed\n");
			fprintf(stderr, "Try 'pajamas-tui --help' for more information.\n");
			return PJ_EXIT_USAGE;
		}
		model_arg = pj_xstrdup(argv[optind]);
	}
	if (json && !info) {
		fprintf(stderr, "pajamas-tui: --json is only valid with --info\n");
		free(model_arg);
		return PJ_EXIT_USAGE;
	}
	if (info && bo.imatrix) {
		fprintf(stderr, "pajamas-tui: --imatrix is for the planner and --batch, not --info\n");
		free(model_arg);
		return PJ_EXIT_USAGE;
	}

	pj_model *m = NULL;
	if (pj_model_open(model_arg, &m, &err) != PJ_OK) {
		fprintf(stderr, "pajamas-tui: %s\n", err.msg);
		free(model_arg);
		return err.code == PJ_EUSAGE ? PJ_EXIT_USAGE : PJ_EXIT_MODEL;
	}
	free(model_arg);

	int rc;
	if (info) {
		if (json)
			pj_info_print_json(stdout, m);
		else
			pj_info_print_text(stdout, m);
		rc = fflush(stdout) == 0 ? PJ_EXIT_OK : PJ_EXIT_RUNTIME;
	} else {
		for (size_t i = 0; i < m->n_warnings; i++)
			fprintf(stderr, "pajamas-tui: warning: %s\n", m->warnings[i]);
		ui.calib = co.calib;
		ui.calib_ids = co.calib_ids;
		ui.ctx = co.ctx;
		ui.chunks = co.chunks;
		ui.imatrix = bo.imatrix;
		rc = pj_ui_run(m, &ui);
	}
	pj_model_close(m);
	return rc;
}
