#!/bin/sh
# info_bench.sh - how fast is `pajamas-tui --info` on the largest checkpoint
# layout we know: DeepSeek-V3 as released (163 safetensors shards, 91,991
# tensors, FP8 weights + block scales), as a sparse fixture (headers only,
# full-size files, no disk use).  Also times fixtures with about 1/4 and 1/2
# of the layers (same config, num_hidden_layers edited, shards in
# proportion) to show that the cost is linear in tensors, and a peer: a
# plain python3 script reading the same 163 headers with json.
#
# Usage: bench/info_bench.sh [BUILDDIR]     (default: $PJ_BUILDDIR or .)
# Environment: RUNS (timed runs per case, default 7), PJ_SHARED (shared
# data, default <srcdir>/../shared), KEEP=1 keeps the fixtures.
# Targets: < 0.3 s wall and < 100 MB max RSS for the full checkpoint.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-${PJ_BUILDDIR:-.}}" && pwd)
SHARED=${PJ_SHARED:-$SRC/../shared}
RUNS=${RUNS:-7}
PJ=$B/pajamas-tui
FIX=$B/pj-fixture
CFG=$SHARED/data/configs/deepseek-v3.json

for f in "$PJ" "$FIX"; do
	[ -x "$f" ] || { echo "info_bench: $f is not built (give the build folder)" >&2; exit 2; }
done
[ -f "$CFG" ] || { echo "info_bench: $CFG not found (set PJ_SHARED)" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/pj-bench.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT INT TERM

echo "# pajamas-tui --info benchmark"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
     "$(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
echo "binary:  $PJ ($("$PJ" --version 2>/dev/null | head -n 1))"
echo "runs:    $RUNS timed runs per case after one warm-up run (page cache warm)"
echo

# ---- fixtures: about 1/4, 1/2 and all of the 61 layers ------------------------
for L in 15 30 61; do
	sh=$(( (163 * L + 30) / 61 ))
	sed "s/\"num_hidden_layers\": 61/\"num_hidden_layers\": $L/" "$CFG" >"$W/deepseek-v3-$L.json"
	t0=$(date +%s%N)
	"$FIX" --config "$W/deepseek-v3-$L.json" --out "$W/ds-$L" --sparse --shards "$sh" --shard-digits 6
	t1=$(date +%s%N)
	echo "fixture ds-$L: $L+1 layers, $sh shards, $(du -sk "$W/ds-$L" | cut -f1) KiB on disk," \
	     "written in $(( (t1 - t0) / 1000000 )) ms"
done
echo

# ---- the peer: plain header reads in python3 ---------------------------------
cat >"$W/peer.py" <<'EOF'
import json, os, struct, sys
d = sys.argv[1]
n = params = 0
for f in sorted(os.listdir(d)):
    if f.endswith(".safetensors"):
        with open(os.path.join(d, f), "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            h = json.loads(fh.read(size))
        h.pop("__metadata__", None)
        for t in h.values():
            p = 1
            for x in t["shape"]:
                p *= x
            params += p
        n += len(h)
print(n, "tensors", params, "elements")
EOF
# the interpreter itself, not a version-manager shim (pyenv's costs ~100 ms a call)
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)

# measure LABEL CMD...: RUNS timed runs; wall from date(1), max RSS and CPU
# time (user + system; 10 ms resolution) from GNU time when present, else
# from python3's getrusage of the child.  CPU time is what to compare when
# the machine is busy: wall then includes waiting for a core.
measure() {
	label=$1
	shift
	"$@" >/dev/null 2>&1 || { echo "info_bench: '$*' failed" >&2; exit 1; }
	: >"$W/walls"
	: >"$W/rsss"
	: >"$W/cpus"
	i=0
	while [ $i -lt "$RUNS" ]; do
		t0=$(date +%s%N)
		if [ -x /usr/bin/time ]; then
			/usr/bin/time -f '%M %U %S' -o "$W/rss" "$@" >/dev/null 2>&1
		elif [ -n "$PY" ]; then
			"$PY" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write("%d %.3f %.3f\n" % (r.ru_maxrss, r.ru_utime, r.ru_stime))' "$W/rss" "$@"
		else
			"$@" >/dev/null 2>&1
			echo 0 0 0 >"$W/rss"
		fi
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000 )) >>"$W/walls"
		awk '{ print $1 }' "$W/rss" >>"$W/rsss"
		awk '{ print ($2 + $3) * 1000 }' "$W/rss" >>"$W/cpus"
		i=$((i + 1))
	done
	med=$(sort -n "$W/walls" | sed -n "$(( (RUNS + 1) / 2 ))p")
	min=$(sort -n "$W/walls" | head -n 1)
	max=$(sort -n "$W/walls" | tail -n 1)
	rss=$(sort -n "$W/rsss" | tail -n 1)
	cpu=$(sort -n "$W/cpus" | sed -n "$(( (RUNS + 1) / 2 ))p")
	printf '| %-34s | %8.1f | %8.1f | %8.1f | %8.0f | %8.1f |\n' "$label" \
		"$(echo "$med" | awk '{ print $1 / 1000 }')" "$(echo "$min" | awk '{ print $1 / 1000 }')" \
		"$(echo "$max" | awk '{ print $1 / 1000 }')" "$cpu" "$(echo "$rss" | awk '{ print $1 / 1024 }')"
}

echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the timed runs"
echo
echo "| case                               | wall median ms | wall min ms | wall max ms | CPU median ms | max RSS MiB |"
echo "|------------------------------------|---------:|---------:|---------:|---------:|---------:|"
for L in 15 30 61; do
	n=$("$PJ" --info --json "$W/ds-$L" | "$FIX" --json-get model.tensors -)
	measure "--info, $L layers, $n tensors" "$PJ" --info "$W/ds-$L"
done
measure "--info --json, 61 layers" "$PJ" --info --json "$W/ds-61"
if [ -n "$PY" ]; then
	for L in 15 30 61; do
		measure "peer: python3 json headers, $L l." "$PY" "$W/peer.py" "$W/ds-$L"
	done
else
	echo "| peer: python3 not found            |        - |        - |        - |        - |        - |"
fi
echo
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after"
echo
echo "commands:"
echo "  $PJ --info FIXTURE >/dev/null"
echo "  $PY $W/peer.py FIXTURE   (script: bench/info_bench.sh, heredoc peer.py)"
