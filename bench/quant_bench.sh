#!/bin/sh
# bench/quant_bench.sh - batch quantization speed on a >= 1 GB BF16 model.
#
# Builds (once) a qwen3-shaped BF16 GGUF with pj-fixture: the shared Qwen3-8B
# config cut to hidden 1536, 16 layers, ff 6144, 12/4 heads, tied embeddings
# (786M weights, 1.57 GB; the same file as bench/measure_bench.sh), then times
#   pajamas-tui --batch --pure TYPE -j THREADS -o OUT MODEL
# for each of $TYPES, $RUNS times, and prints wall, CPU (user + sys) and peak
# RSS of every run (GNU time), and the minimum and median wall and CPU per
# type (the machine may be shared: CPU time is the steadier figure).
#
# Peer (optional; this script never builds ggml or llama.cpp):
#   PEER_DIR   a folder with the peer's output for the same model, one file
#              per type named TYPE.gguf (e.g. from llama-quantize --pure, or a
#              driver over ggml_quantize_chunk).  Each of our outputs is
#              compared with it: whole file (cmp), and tensor by tensor
#              (name, type, SHA-256 of the data; tests/gguf_hashes), since a
#              peer that is not llama-quantize writes other metadata.
#   PEER_CMD   a command run (and timed like ours, $RUNS times) to make those
#              files, with {in}, {type}, {threads} and {out} replaced, e.g.
#              PEER_CMD='/path/peer {in} {type} {threads} {out}'.
#
# usage: bench/quant_bench.sh [WORKDIR]
#   env: BUILD (a configured, built tree; default /tmp/b-speed), THREADS (2),
#        RUNS (3), TYPES ("Q8_0 Q6_K Q4_K"), PJ_SHARED, PEER_DIR, PEER_CMD
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/lib.sh"
build=${BUILD:-/tmp/b-speed}
work=${1:-/tmp/pj-quant-bench}
threads=${THREADS:-2}
runs=${RUNS:-3}
types=${TYPES:-"Q8_0 Q6_K Q4_K"}
shared=${PJ_SHARED:-$src/../shared}
mkdir -p "$work"

# ---- the model --------------------------------------------------------------
cfg=$work/qwen3-bench.json
model=$work/qwen3-bench-BF16.gguf
if [ ! -s "$model" ]; then
	make_qwen3_config "$shared" "$cfg" 1536 6144 16 12 4
	(cd "$build" && make -s pj-fixture >/dev/null)
	"$build/pj-fixture" --config "$cfg" --out "$model" --gguf --dtype BF16 --seed 1
fi
(cd "$build" && make -s pajamas-tui tests/gguf_hashes >/dev/null)
echo "model: $model ($(stat -c %s "$model") bytes)"
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
     "$(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
echo "== date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(cd "$src" && git rev-parse --short HEAD 2>/dev/null || echo ?)"

# one timed run: prints "wall_s cpu_s maxrss_mib" (GNU time, else wall only)
timed() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%e %U %S %M' -o "$work/time.out" "$@" > "$work/run.log" 2>&1 ||
			{ cat "$work/run.log" >&2; return 1; }
		awk '{ printf "%.2f %.2f %.1f\n", $1, $2 + $3, $4 / 1024 }' "$work/time.out"
	else
		t0=$(date +%s%N)
		"$@" > "$work/run.log" 2>&1 || { cat "$work/run.log" >&2; return 1; }
		t1=$(date +%s%N)
		echo "$(( (t1 - t0) / 10000000 ))" | awk '{ printf "%.2f - -\n", $1 / 100 }'
	fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# bench LABEL CMD...: $runs runs, one line each, then the medians
bench() {
	label=$1; shift
	: > "$work/walls"
	i=1
	while [ "$i" -le "$runs" ]; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		r=$(timed "$@")
		echo "$r" | cut -d' ' -f1 >> "$work/walls"
		echo "$r" | cut -d' ' -f2 >> "$work/cpus.$label"
		printf '  %-14s run %d: wall %6s s  cpu %6s s  max RSS %8s MiB  (load %s)\n' "$label" "$i" \
		       $(echo "$r" | cut -d' ' -f1) $(echo "$r" | cut -d' ' -f2) $(echo "$r" | cut -d' ' -f3) "$load"
		i=$((i + 1))
	done
	printf '  %-14s wall min %s median %s s, cpu min %s median %s s\n' "$label" \
	       "$(sort -n "$work/walls" | head -1)" "$(median < "$work/walls")" \
	       "$(sort -n "$work/cpus.$label" | head -1)" "$(median < "$work/cpus.$label")"
}

for t in $types; do
	rm -f "$work/cpus.ours-$t" "$work/cpus.peer-$t"
	echo "== $t, $threads threads"
	out=$work/ours-$t.gguf
	bench "ours-$t" "$build/pajamas-tui" --batch --pure "$t" -j "$threads" -o "$out" "$model"
	if [ -n "${PEER_CMD:-}" ] && [ -n "${PEER_DIR:-}" ]; then
		mkdir -p "$PEER_DIR"
		cmd=$(echo "$PEER_CMD" | sed -e "s#{in}#$model#g" -e "s#{type}#$t#g" -e "s#{threads}#$threads#g" \
		                             -e "s#{out}#$PEER_DIR/$t.gguf#g")
		# shellcheck disable=SC2086
		bench "peer-$t" $cmd
	fi
	if [ -n "${PEER_DIR:-}" ] && [ -s "$PEER_DIR/$t.gguf" ]; then
		if cmp -s "$out" "$PEER_DIR/$t.gguf"; then
			echo "  $t: output file identical to the peer's ($PEER_DIR/$t.gguf)"
		else
			"$build/tests/gguf_hashes" "$out" | sort > "$work/h.ours"
			"$build/tests/gguf_hashes" "$PEER_DIR/$t.gguf" | sort > "$work/h.peer"
			if cmp -s "$work/h.ours" "$work/h.peer"; then
				echo "  $t: all $(wc -l < "$work/h.ours") tensors identical to the peer's" \
				     "(names, types, data bytes; the files differ in metadata)"
			else
				echo "  $t: DIFFERENT tensors from the peer's:"
				diff "$work/h.ours" "$work/h.peer" | head -20
				exit 1
			fi
		fi
	elif [ -n "${PEER_DIR:-}" ]; then
		echo "  $t: no $PEER_DIR/$t.gguf to compare with"
	fi
done
