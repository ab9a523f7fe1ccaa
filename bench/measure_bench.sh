#!/bin/sh
# bench/measure_bench.sh - measurement throughput on a >= 1 GB BF16 model.
#
# Builds a qwen3-shaped BF16 GGUF with pj-fixture (the shared Qwen3-8B config
# cut to hidden 1536, 16 layers, ff 6144, 12/4 heads of 128, tied embeddings:
# 786M weights, 1.57 GB), then measures all 10 default candidate types of
# every tensor on $THREADS threads with a small driver over pj_measure_run():
#   run 1: empty cache - every result computed, tensor bytes hashed for the key
#   run 2: same cache  - every result cached; what is left is the hash pass
#          (a full read of every tensor), i.e. the cost of using the cache
# Wall time, weights/s, CPU time and peak RSS come from /usr/bin/time -v when
# present, else from the driver (VmHWM from /proc/self/status).
#
# Peer: with GGML_DIR pointing at a built ggml tree (cmake -B build; the
# libraries under $GGML_DIR/build/src), the same file is quantized by ggml's
# own ggml_quantize_chunk (the function llama-quantize calls, rows split over
# $THREADS threads as llama-quantize splits them) for each of $PEER_TYPES.
#
# usage: bench/measure_bench.sh [WORKDIR]
#   env: BUILD (a configured, built tree; default /tmp/b-measure),
#        THREADS (2), PEER_TYPES ("Q8_0 Q6_K Q4_K"), PJ_SHARED, GGML_DIR
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/lib.sh"
build=${BUILD:-/tmp/b-measure}
work=${1:-/tmp/pj-measure-bench}
threads=${THREADS:-2}
shared=${PJ_SHARED:-$src/../shared}
peer_types=${PEER_TYPES:-"Q8_0 Q6_K Q4_K"}
mkdir -p "$work"

# ---- the model --------------------------------------------------------------
cfg=$work/qwen3-bench.json
model=$work/qwen3-bench-BF16.gguf
make_qwen3_config "$shared" "$cfg" 1536 6144 16 12 4
(cd "$build" && make -s pj-fixture libpajamas.a >/dev/null)
if [ ! -s "$model" ]; then
	"$build/pj-fixture" --config "$cfg" --out "$model" --gguf --dtype BF16 --seed 1
fi
echo "model: $model ($(stat -c %s "$model") bytes)"

# ---- the driver ---------------------------------------------------------------
cat > "$work/measure_driver.c" <<'EOF'
/* measure_driver MODEL THREADS CACHE_DIR|- [TYPE,TYPE...]: pj_measure_run over
 * every tensor (default candidates, or the listed ones; "-": no cache) */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model.h"
#include "quant/mcache.h"
#include "quant/measure.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key));
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	pj_error err = { 0 };
	pj_model *m;
	if (pj_model_open(argv[1], &m, &err) != PJ_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	pj_mcache *c = NULL;
	char *warn = NULL;
	if (strcmp(argv[3], "-") != 0 && pj_mcache_open(argv[3], &c, &warn, &err) != PJ_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	if (warn)
		fprintf(stderr, "warning: %s\n", warn);
	size_t n = m->cat.n;
	size_t *order = malloc(n * sizeof *order);
	pj_mtensor *out = malloc(n * sizeof *out);
	unsigned long long weights = 0;
	for (size_t i = 0; i < n; i++) {
		order[i] = i;
		weights += (unsigned long long)pj_tensor_nelem(&m->cat.t[i]);
	}
	pj_measure_opts o = { .cache = c };
	pj_dtype types[PJ_MEASURE_MAX_TYPES];
	if (argc > 4) {
		char *list = strdup(argv[4]), *save = NULL;
		for (char *tok = strtok_r(list, ",", &save); tok && o.n_types < PJ_MEASURE_MAX_TYPES;
		     tok = strtok_r(NULL, ",", &save))
			if (pj_dtype_from_name(tok, &types[o.n_types]))
				o.n_types++;
		free(list);
		o.types = types;
	}
	pj_measure_counts k;
	double t0 = now();
	if (pj_measure_run(&m->cat, order, n, &o, (unsigned)atoi(argv[2]), out, &k, &err) != PJ_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	double t1 = now();
	if (c && pj_mcache_save(c, &err) != PJ_OK)
		fprintf(stderr, "warning: %s\n", err.msg);
	double t2 = now();
	size_t st[5] = { 0 };
	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < out[i].n; r++)
			st[out[i].r[r].state]++;
	printf("tensors %zu weights %llu measure_s %.2f weights_per_s %.3g save_s %.3f\n", n, weights, t1 - t0,
	       (double)weights / (t1 - t0), t2 - t1);
	printf("results done %zu n/a %zu error %zu pending %zu; computed %llu cached %llu kernel_calls %llu "
	       "bytes_hashed %llu\n", st[PJ_MS_DONE], st[PJ_MS_NA], st[PJ_MS_ERROR], st[PJ_MS_PENDING],
	       (unsigned long long)k.computed, (unsigned long long)k.cached, (unsigned long long)k.kernel_calls,
	       (unsigned long long)k.bytes_hashed);
	/* element-weighted mean relative error per type, a sanity line */
	for (size_t r = 0; r < out[0].n; r++) {
		double num = 0, den = 0;
		for (size_t i = 0; i < n; i++) {
			const pj_mresult *x = &out[i].r[r];
			if (x->state != PJ_MS_DONE)
				continue;
			double ne = (double)pj_tensor_nelem(&m->cat.t[i]);
			num += x->rel_err * ne;
			den += ne;
		}
		printf("  %-7s mean rel err %.3e\n", pj_dtype_name(out[0].r[r].type), den ? num / den : 0.0);
	}
	/* the peak includes the mapped model file (file-backed pages) */
	printf("VmHWM_MiB %.1f (now: RssFile %.1f MiB, RssAnon %.1f MiB)\n", status_kib("VmHWM:") / 1024.0,
	       status_kib("RssFile:") / 1024.0, status_kib("RssAnon:") / 1024.0);
	free(order);
	free(out);
	free(warn);
	pj_mcache_close(c);
	pj_model_close(m);
	return 0;
}
EOF
libs="$(pkg-config --libs libcjson libzstd 2>/dev/null || echo -lcjson -lzstd) -lm -pthread"
cc -O2 -std=gnu11 -I"$src/src" -I"$src/src/model" -I"$build" -o "$work/measure_driver" \
	"$work/measure_driver.c" "$build/libpajamas.a" $libs

timed() { # timed LABEL CMD...: GNU time's wall, CPU and max RSS
	label=$1; shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -v "$@" 2> "$work/time.$label" | tee "$work/out.$label"
		grep -E 'Elapsed|User time|System time|Maximum resident' "$work/time.$label" | sed 's/^\t*/  /'
	else
		"$@" | tee "$work/out.$label"
	fi
}

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(cd "$src" && git rev-parse --short HEAD 2>/dev/null || echo ?)"
rm -rf "$work/cache"
echo "== run 1: $threads threads, empty cache (compute + hash)"
timed cold "$work/measure_driver" "$model" "$threads" "$work/cache"
echo "== run 2: $threads threads, same cache (hash only)"
timed warm "$work/measure_driver" "$model" "$threads" "$work/cache"
echo "cache file: $(stat -c %s "$work/cache/measure.pjmc") bytes"
# one type at a time, without cache, to set beside the peer's per-type figures
for t in $peer_types; do
	echo "== run 3: $threads threads, $t only, no cache"
	timed "one-$t" "$work/measure_driver" "$model" "$threads" - "$t"
done

# ---- peer: ggml's quantizer ------------------------------------------------------
if [ -z "${GGML_DIR:-}" ]; then
	echo "== peer: skipped (set GGML_DIR to a built ggml tree)"
	exit 0
fi
cat > "$work/ggml_peer.c" <<'EOF'
/* ggml_peer MODEL TYPE THREADS: every 2-D+ tensor -> f32 -> ggml_quantize_chunk,
 * its rows split evenly over the threads (llama-quantize hands out chunks of
 * rows; the kernel work is the same). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "ggml.h"
#include "gguf.h"

typedef struct job { enum ggml_type t; const float *x; char *y; int64_t r0, r1, ne0; } job;

static void *work(void *a)
{
	job *j = a;
	/* start is an element index; src and dst are the bases */
	ggml_quantize_chunk(j->t, j->x, j->y, j->r0 * j->ne0, j->r1 - j->r0, j->ne0, NULL);
	return NULL;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	struct ggml_context *ctx = NULL;
	struct gguf_init_params p = { .no_alloc = false, .ctx = &ctx };
	struct gguf_context *g = gguf_init_from_file(argv[1], p);
	if (!g)
		return 1;
	enum ggml_type qt = GGML_TYPE_COUNT;
	for (int i = 0; i < GGML_TYPE_COUNT; i++)
		if (ggml_type_name(i) && strcasecmp(ggml_type_name(i), argv[2]) == 0)
			qt = i;
	if (qt == GGML_TYPE_COUNT)
		return 2;
	int nt = atoi(argv[3]);
	ggml_quantize_init(qt);
	double t0 = now(), tq = 0;
	long long n = 0;
	for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
		struct ggml_tensor *t = ggml_get_tensor(ctx, gguf_get_tensor_name(g, i));
		if (ggml_n_dims(t) < 2)
			continue;
		int64_t ne0 = t->ne[0], rows = ggml_nrows(t), ne = ggml_nelements(t);
		float *x = malloc(ne * sizeof *x);
		ggml_bf16_to_fp32_row(t->data, x, ne);
		char *y = malloc(ggml_row_size(qt, ne0) * rows);
		double a = now();
		pthread_t tid[64];
		job jobs[64];
		for (int k = 0; k < nt; k++) {
			jobs[k] = (job){ qt, x, y, rows * k / nt, rows * (k + 1) / nt, ne0 };
			pthread_create(&tid[k], NULL, work, &jobs[k]);
		}
		for (int k = 0; k < nt; k++)
			pthread_join(tid[k], NULL);
		tq += now() - a;
		n += ne;
		free(x);
		free(y);
	}
	printf("ggml %s: %lld weights, quantize %.2f s, total %.2f s (%.3g weights/s)\n", argv[2], n, tq, now() - t0,
	       n / tq);
	return 0;
}
EOF
gb=$GGML_DIR/build
cc -O2 -I"$GGML_DIR/include" -o "$work/ggml_peer" "$work/ggml_peer.c" \
	-L"$gb/src" -Wl,-rpath,"$gb/src" -lggml-base -lm -pthread
echo "== peer: ggml_quantize_chunk, $threads threads (one type per run)"
for t in $peer_types; do
	timed "peer-$t" "$work/ggml_peer" "$model" "$t" "$threads"
done
