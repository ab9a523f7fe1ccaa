#!/bin/sh
# bench/check_bench.sh - speed and memory of --check: a full check (base +
# plan) and an incremental re-check after editing one tensor of the last
# block, through the check-session API (src/quant/check_session.h).
#
# Models: a >= 1 GB qwen3-shaped BF16 Hugging Face folder written by
# pj-fixture (the shared Qwen3-8B config cut to hidden 1536, 16 layers, ff
# 6144, 12/4 heads of 128, tied embeddings: 786M weights, 1.57 GB, random
# values), and the shared qwen3moe model.  The driver:
#   open   - base run over CHUNKS chunks of CTX tokens, caches filled
#   full   - plan: every quantizable tensor Q4_K (pure), every block runs
#   edit   - the same plan with the last block's ffn_down in Q8_0: one block
#            and the head run
# Tokens/s = chunk tokens / seconds; a full check = open + full (both
# passes).  Each phase also gives the CPU seconds of the process (on a
# shared machine wall time depends on the other load; CPU time much less).
# Peak RSS: VmHWM.  The caches go to temporary files beyond CACHE_MB
# (default 256) of RAM.
#
# Peer: when LLAMA_PERPLEXITY (default /tmp/llama-peer/build/bin/
# llama-perplexity) exists, it and `pajamas-tui --batch --check` (a one-pass
# --pure BF16 check and a full --pure Q8_0 one) run on the same GGUF, text
# (data/eval.txt), threads and ctx: the fixture's shape as a GGUF with
# GPT-2's vocabulary grafted on (bench/gguf_graft_vocab.py; vocab 50257), and
# the shared trained qwen3.  PPL(base) and times are printed side by side.
#
# usage: bench/check_bench.sh [WORKDIR]
#   env: BUILD (configured, built tree; default /tmp/b-chk), THREADS (2),
#        CTX (256), CHUNKS (2), CACHE_MB (256), PJ_SHARED, LLAMA_PERPLEXITY,
#        PEER_CTX (512), PEER_CHUNKS (4)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/lib.sh"
build=${BUILD:-/tmp/b-chk}
work=${1:-/tmp/pj-check-bench}
threads=${THREADS:-2}
ctx=${CTX:-256}
chunks=${CHUNKS:-2}
cache_mb=${CACHE_MB:-256}
shared=${PJ_SHARED:-$src/../shared}
mkdir -p "$work"

cfg=$work/qwen3-bench.json
model=$work/qwen3-bench-BF16
make_qwen3_config "$shared" "$cfg" 1536 6144 16 12 4
(cd "$build" && make -s pj-fixture libpajamas.a >/dev/null)
if [ ! -s "$model/config.json" ]; then
	"$build/pj-fixture" --config "$cfg" --out "$model" --dtype BF16 --seed 1
fi
echo "model: $model ($(du -sbL "$model" | cut -f1) bytes)"

cat > "$work/check_driver.c" <<'EOD'
/* check_driver MODEL THREADS CTX CHUNKS CACHE_MB EDIT_TENSOR */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model/model.h"
#include "quant/check_session.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static long hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

typedef struct plan { pj_eval_pure pure; const char *edit; } plan;

static pj_dtype type_of(const plan *p, const pj_tensor *t)
{
	if (p->edit && strcmp(t->name, p->edit) == 0)
		return pj_eval_pure_type(PJ_DT_Q8_0, t);
	return pj_eval_pure_type(p->pure.type, t);
}

static pj_status load(void *ctx, pj_model *m, const pj_tensor *t, float *dst, pj_error *err)
{
	const plan *p = ctx;
	pj_eval_pure one = { type_of(p, t), p->pure.threads };
	return one.type == t->dtype ? pj_fwd_load_source(NULL, m, t, dst, err) : pj_eval_pure_load(&one, m, t, dst, err);
}

static uint64_t key(void *ctx, const pj_tensor *t)
{
	const pj_dtype q = type_of(ctx, t);
	return q == t->dtype ? pj_fwd_source_key(NULL, t) : pj_fwd_type_key(t, q, false);
}

int main(int argc, char **argv)
{
	if (argc != 7)
		return 2;
	const unsigned th = (unsigned)atoi(argv[2]);
	const int ctx = atoi(argv[3]), chunks = atoi(argv[4]);
	pj_model *m = NULL;
	pj_error err = { 0 };
	if (pj_model_open(argv[1], &m, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	/* random ids below 1000: every vocabulary has them */
	const size_t n = (size_t)ctx * (size_t)chunks;
	int32_t *ids = malloc(sizeof *ids * n);
	srand(1);
	for (size_t i = 0; i < n; i++)
		ids[i] = rand() % 1000;
	pj_check_session_opts o = { .eval = { .n_ctx = ctx, .n_chunks = chunks, .bos = -1, .threads = th },
	                            .cache_ram = (size_t)atol(argv[5]) << 20 };
	pj_check_session *s = NULL;
	double t0 = now(), u0 = cpu();
	if (pj_check_session_open(m, ids, n, &o, &s, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	double t1 = now(), u1 = cpu();
	plan p1 = { { PJ_DT_Q4_K, th }, NULL }, p2 = { { PJ_DT_Q4_K, th }, argv[6] };
	const pj_fwd_weights w1 = { load, &p1, key, NULL }, w2 = { load, &p2, key, NULL };
	pj_eval_result r1, r2;
	if (pj_check_session_run(s, &w1, &r1, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	double t2 = now(), u2 = cpu();
	pj_check_counters c0, c1;
	pj_check_session_counters(s, &c0);
	if (pj_check_session_run(s, &w2, &r2, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	double t3 = now(), u3 = cpu();
	pj_check_session_counters(s, &c1);
	const double full = t2 - t0, inc = t3 - t2;
	printf("tokens %zu (%d x %d), threads %u\n", n, chunks, ctx, th);
	printf("base pass (open)   : %8.2f s (cpu %7.2f s)  PPL(base) %.4f\n", t1 - t0, u1 - u0, r1.ppl_base);
	printf("plan pass (Q4_K)   : %8.2f s (cpu %7.2f s)  KLD %.6f\n", t2 - t1, u2 - u1, r1.kld_mean);
	printf("full check         : %8.2f s (cpu %7.2f s)  %8.1f tokens/s\n", full, u2 - u0, n / full);
	printf("re-check (1 edit)  : %8.2f s (cpu %7.2f s)  %8.1f tokens/s  KLD %.6f, %llu block(s) run\n", inc,
	       u3 - u2, n / inc, r2.kld_mean, (unsigned long long)(c1.plan_layers - c0.plan_layers));
	printf("speed-up           : %8.1fx\n", full / inc);
	printf("caches             : %.1f MiB RAM, %.1f MiB temp files\n", c1.cache_ram / 1048576.0,
	       c1.cache_file / 1048576.0);
	printf("peak RSS (VmHWM)   : %.1f MiB\n", hwm_kb() / 1024.0);
	pj_check_session_free(s);
	pj_model_close(m);
	free(ids);
	return 0;
}
EOD
libs="$(pkg-config --libs libcjson libzstd 2>/dev/null || echo -lcjson -lzstd) -lm -pthread"
cc -O2 -I"$build" -I"$src/src" -I"$src/src/model" "$work/check_driver.c" "$build/libpajamas.a" $libs -o "$work/check_driver"

echo "== qwen3-shaped fixture (1.57 GB BF16), ctx $ctx x $chunks chunks, $threads threads"
"$work/check_driver" "$model" "$threads" "$ctx" "$chunks" "$cache_mb" model.layers.15.mlp.down_proj.weight
echo "== shared qwen3moe, ctx 256 x 8 chunks, $threads threads"
"$work/check_driver" "$shared/models/qwen3moe" "$threads" 256 8 "$cache_mb" model.layers.2.mlp.experts.0.down_proj.weight

peer=${LLAMA_PERPLEXITY:-/tmp/llama-peer/build/bin/llama-perplexity}
pctx=${PEER_CTX:-512}
pchunks=${PEER_CHUNKS:-4}
if [ ! -x "$peer" ]; then
	echo "== no llama-perplexity at $peer: no peer figures"
	exit 0
fi
(cd "$build" && make -s pajamas-tui pj-fixture >/dev/null)
# the fixture as a GGUF with GPT-2's vocabulary (llama-perplexity tokenizes)
pgguf=$work/qwen3-bench-gpt2vocab-BF16.gguf
if [ ! -s "$pgguf" ]; then
	sed -e 's/"vocab_size": [0-9]*/"vocab_size": 50257/' "$cfg" > "$work/qwen3-bench-gpt2vocab.json"
	"$build/pj-fixture" --config "$work/qwen3-bench-gpt2vocab.json" --out "$work/fix.gguf" --gguf --dtype BF16 --seed 1
	python3 "$src/bench/gguf_graft_vocab.py" "$work/fix.gguf" "$shared/data/tokenizers/ggml-vocab-gpt-2.gguf" "$pgguf"
	rm -f "$work/fix.gguf"
fi
# --pure BF16 on a BF16 GGUF: the plan equals the base, the session reuses
# the base pass, so it is one forward pass like llama-perplexity's.
peer_run() {
	echo "== $2: $1, data/eval.txt, ctx $pctx x $pchunks chunks, $threads threads"
	for plan in BF16 Q8_0; do
		/usr/bin/time -f "pajamas-tui --check --pure $plan: %e s wall, %U+%S s cpu, %M KiB peak RSS" \
			"$build/pajamas-tui" --batch --pure $plan --check --calib "$shared/data/eval.txt" --ctx "$pctx" \
			--chunks "$pchunks" -j "$threads" "$1" > "$work/ours-$plan.txt"
		grep -E "PPL\(base\)" "$work/ours-$plan.txt"
	done
	/usr/bin/time -o "$work/peer.time" -f "llama-perplexity: %e s wall, %U+%S s cpu, %M KiB peak RSS" \
		"$peer" -m "$1" -f "$shared/data/eval.txt" -c "$pctx" --chunks "$pchunks" -t "$threads" \
		> "$work/peer.txt" 2>&1 || tail -5 "$work/peer.txt"
	cat "$work/peer.time"
	grep -E "Final estimate" "$work/peer.txt" ||
		echo "llama-perplexity, last running PPL: $(grep -o '\[[0-9]*\][0-9.]*' "$work/peer.txt" | tail -1)"
}
peer_run "$pgguf" "fixture with GPT-2's vocabulary (vocab 50257, 630M weights)"
peer_run "$shared/models/qwen3/gguf/qwen3-BF16.gguf" "shared trained qwen3"
