#!/bin/sh
# bench/tui_latency.sh - keypress-to-screen latency of the live planner
# while the background workers use every core.
#
# Builds a qwen3-shaped BF16 GGUF with pj-fixture (hidden 1024, 8 layers,
# ff 4096: ~170M weights, ~340 MB), opens it with an empty measurement
# cache and -j $(nproc), so the statistics and measurement jobs keep every
# core busy for the whole session, and types a scripted session into a pty
# (python3): navigation (j/k, ], Enter), edits (+, -) of a tensor, a group
# row and a selection, tags (space, X, U), undo (u), redo (^R), the type
# menu (t, Esc), the preset menu (P, Q, Enter: a new base, the whole plan
# again, then u), one key every ~40 ms.
#
# Latency of a key = the moment the app has written the screen that answers
# it minus the moment the harness wrote the key to the pty (PJ_TUI_TRACE=FILE:
# per key, CLOCK_MONOTONIC when the loop read it and after the refresh that
# answers it; the harness uses the same clock).  It includes the time the
# key waited (for a CPU, or for the UI thread busy elsewhere: "wait"), the
# app's work on it, curses' and the write to the terminal ("work"); not the
# terminal emulator's painting.  CPU use of the process (and of its UI
# thread) during the session shows the workers were busy.  Per-key figures
# go to WORKDIR/keys.txt.
#
# usage: bench/tui_latency.sh [WORKDIR]
#   env: BUILD (a configured, built tree; default /tmp/b-tui2), KEYS (400),
#        GAP_MS (40), THREADS ($(nproc)), PJ_SHARED,
#        FIXTURE (qwen3, the default, or deepseek3: a DeepSeek-V3-shaped
#        HF folder, 46,183 tensors), MODEL (open this model instead)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/lib.sh"
build=${BUILD:-/tmp/b-tui2}
work=${1:-/tmp/pj-tui-latency}
shared=${PJ_SHARED:-$src/../shared}
threads=${THREADS:-$(nproc)}
nkeys=${KEYS:-400}
gap=${GAP_MS:-40}
mkdir -p "$work"
command -v python3 >/dev/null || { echo "python3 is needed for the pty harness" >&2; exit 1; }

(cd "$build" && make -s pj-fixture pajamas-tui >/dev/null)
case ${FIXTURE:-qwen3} in
qwen3)
	cfg=$work/qwen3-lat.json
	model=$work/qwen3-lat-BF16.gguf
	make_qwen3_config "$shared" "$cfg" 1024 4096 8 8 4
	gen() { "$build/pj-fixture" --config "$cfg" --out "$model" --gguf --dtype BF16 --seed 1; } ;;
deepseek3)
	# DeepSeek-V3's tree (61 layers, 256 routed experts per MoE layer,
	# MLA, the MTP layer: 46,183 tensors) with tiny matrices, BF16 (~190 MB).
	cfg=$work/ds3-lat.json
	model=$work/ds3-lat
	python3 - "$shared/data/configs/deepseek-v3.json" "$cfg" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.pop("quantization_config", None)
c.update(hidden_size=64, intermediate_size=128, kv_lora_rank=32, moe_intermediate_size=32,
         num_attention_heads=4, num_key_value_heads=4, q_lora_rank=32, qk_nope_head_dim=16,
         qk_rope_head_dim=16, v_head_dim=16, vocab_size=1024)
json.dump(c, open(sys.argv[2], "w"))
PY
	gen() { "$build/pj-fixture" --config "$cfg" --out "$model" --dtype BF16 --seed 1; } ;;
*)
	echo "FIXTURE: qwen3 or deepseek3" >&2; exit 2 ;;
esac
if [ -n "${MODEL:-}" ]; then
	model=$MODEL
elif [ ! -e "$model" ]; then
	gen
fi
echo "model: $model ($(du -sb "$model" | cut -f1) bytes), threads $threads, $(nproc) cores"
rm -rf "$work/cache" "$work/state"

python3 - "$build/pajamas-tui" "$model" "$work" "$threads" "$nkeys" "$gap" <<'EOF'
import fcntl, os, pty, random, select, struct, sys, termios, threading, time

pj, model, work, threads, nkeys, gap = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
trace = os.path.join(work, "trace.txt")
if os.path.exists(trace):
    os.unlink(trace)
env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="", PJ_TUI_TRACE=trace,
           XDG_CACHE_HOME=os.path.join(work, "cache"), XDG_STATE_HOME=os.path.join(work, "state"))
pid, fd = pty.fork()
if pid == 0:
    os.execve(pj, [pj, "-j", threads, model], env)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))

out = bytearray()
lock = threading.Lock()
def drain():
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:
            return
        if not b:
            return
        with lock:
            out.extend(b)
            if len(out) > 1 << 20:
                del out[: len(out) - (1 << 16)]
threading.Thread(target=drain, daemon=True).start()

def seen(s, timeout=10):
    t = time.time() + timeout
    while time.time() < t:
        with lock:
            if s in out:
                return True
        time.sleep(0.02)
    return False

if not seen(b"F10"):
    sys.exit("the app did not draw")
time.sleep(1.0)          # the jobs are running now

def cpu_ticks(path="/proc/%d/stat" % pid):
    f = open(path).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])     # utime + stime
ui_stat = "/proc/%d/task/%d/stat" % (pid, pid)    # the UI thread is the main thread

# A session: walk, open layers, edit a tensor or a group row, undo, the
# type menu; then tag two rows and edit the selection, undo, redo; tag a
# layer's routed experts (768 tensors on DeepSeek-V3) and step them down;
# apply the preset Q2_K (typed Q in the menu: a full re-plan) and undo it.
pattern = list("]") + ["\r"] + list("jjjjj") + ["+", "-", "+", "u", "u", "u"] + list("kk") + ["t", "\x1b"] + \
          list("jjj") + ["\r"] + list("kkk") + ["-", "u"] + \
          list("  ") + ["+", "u", "\x12", "U"] + ["X", "-", "u", "U"] + ["P", "Q", "\r", "u"]
keys = [pattern[i % len(pattern)] for i in range(nkeys)]
hz = os.sysconf("SC_CLK_TCK")
c0, u0, w0 = cpu_ticks(), cpu_ticks(ui_stat), time.monotonic()
sent = []
random.seed(1)
for k in keys:
    sent.append(time.monotonic_ns())
    os.write(fd, k.encode())
    # the Esc of the menu needs its escdelay (25 ms) before the next key
    time.sleep((gap + random.randint(-10, 10) + (30 if k == "\x1b" else 0)) / 1000.0)
time.sleep(0.5)
c1, u1, w1 = cpu_ticks(), cpu_ticks(ui_stat), time.monotonic()
os.write(fd, b"q")
time.sleep(0.3)
os.write(fd, b"y")
for _ in range(100):
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)

# one line per key: when the loop read it, when its screen was out
rows = [[int(x) for x in l.split()] for l in open(trace).read().splitlines() if l.strip()]
read = [r[0] for r in rows]
done = [r[-1] for r in rows]
n = min(len(done), len(sent))
def report(what, lat):
    lat = sorted(lat)
    if not lat:
        return
    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100.0 * (len(lat) - 1) + 0.5))]
    print("%-26s n %3d  p50 %6.2f  p90 %6.2f  p99 %6.2f  max %6.2f  mean %6.2f ms" %
          (what, len(lat), pct(50), pct(90), pct(99), lat[-1], sum(lat) / len(lat)))
cores = os.cpu_count()
util = (c1 - c0) / hz / (w1 - w0)
print("keys sent %d, answered %d" % (len(sent), len(done)))
allk = [(done[i] - sent[i]) / 1e6 for i in range(n)]
with open(os.path.join(work, "keys.txt"), "w") as f:      # per key, for a closer look
    f.write("# key sent_ms wait_ms work_ms\n")
    for i in range(n):
        f.write("%r %.3f %.3f %.3f\n" % (keys[i], (sent[i] - sent[0]) / 1e6, (read[i] - sent[i]) / 1e6,
                                         (done[i] - read[i]) / 1e6))
report("all keys", allk)
# Esc is only known to be Esc after curses' ESCDELAY (25 ms) without a
# following byte: that wait is the terminal protocol's, not the app's.
report("all but Esc", [allk[i] for i in range(n) if keys[i] != "\x1b"])
report("Esc (25 ms ESCDELAY)", [allk[i] for i in range(n) if keys[i] == "\x1b"])
report("edits (+ - u ^R)", [allk[i] for i in range(n) if keys[i] in "+-u\x12"])
report("tags (space X U)", [allk[i] for i in range(n) if keys[i] in " XU"])
preset = [i >= 2 and "Q" in (keys[i - 1], keys[i - 2]) for i in range(n)]
report("preset (Enter), its undo", [allk[i] for i in range(n) if preset[i]])
report("all but Esc and preset", [allk[i] for i in range(n) if keys[i] != "\x1b" and not preset[i]])
# Where the time went (all but Esc): waiting to be read (the CPU, or the
# loop busy with something else) and the app's own work after the read.
report("  wait (sent -> read)", [(read[i] - sent[i]) / 1e6 for i in range(n) if keys[i] != "\x1b"])
report("  work (read -> screen)", [(done[i] - read[i]) / 1e6 for i in range(n) if keys[i] != "\x1b"])
print("process CPU during the session: %.2f cores of %d (%.0f%%), of which the UI thread %.2f" %
      (util, cores, 100 * util / cores, (u1 - u0) / hz / (w1 - w0)))
EOF
