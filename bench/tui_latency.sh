#!/bin/sh
# bench/tui_latency.sh - keypress-to-screen latency of the live planner
# while the background workers use every core.
#
# Builds a qwen3-shaped BF16 GGUF with pj-fixture (hidden 1024, 8 layers,
# ff 4096: ~170M weights, ~340 MB), opens it with an empty measurement
# cache and -j $(nproc), so the statistics and measurement jobs keep every
# core busy for the whole session, and types a scripted session into a pty
# (python3): navigation (j/k, ], Enter), edits (+, -), undo (u) and the type
# menu (t, Esc), one key every ~40 ms.
#
# Latency of a key = the moment the app has written the screen that answers
# it (PJ_TUI_TRACE=FILE: one CLOCK_MONOTONIC timestamp per key after the
# refresh) minus the moment the harness wrote the key to the pty (the same
# clock).  It includes the time the key waited while the UI thread was busy,
# curses' work and the write to the terminal; not the terminal emulator's
# own painting.  CPU use of the process during the session shows the
# workers were busy.
#
# usage: bench/tui_latency.sh [WORKDIR]
#   env: BUILD (a configured, built tree; default /tmp/b-tui2), KEYS (400),
#        GAP_MS (40), THREADS ($(nproc)), PJ_SHARED,
#        MODEL (open this model instead of the generated one)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-/tmp/b-tui2}
work=${1:-/tmp/pj-tui-latency}
shared=${PJ_SHARED:-$src/../shared}
threads=${THREADS:-$(nproc)}
nkeys=${KEYS:-400}
gap=${GAP_MS:-40}
mkdir -p "$work"
command -v python3 >/dev/null || { echo "python3 is needed for the pty harness" >&2; exit 1; }

cfg=$work/qwen3-lat.json
model=$work/qwen3-lat-BF16.gguf
sed -e 's/"hidden_size": [0-9]*/"hidden_size": 1024/' \
    -e 's/"intermediate_size": [0-9]*/"intermediate_size": 4096/' \
    -e 's/"num_hidden_layers": [0-9]*/"num_hidden_layers": 8/' \
    -e 's/"max_window_layers": [0-9]*/"max_window_layers": 8/' \
    -e 's/"num_attention_heads": [0-9]*/"num_attention_heads": 8/' \
    -e 's/"num_key_value_heads": [0-9]*/"num_key_value_heads": 4/' \
    -e 's/"tie_word_embeddings": false/"tie_word_embeddings": true/' \
    "$shared/data/configs/qwen3-8b.json" > "$cfg"
(cd "$build" && make -s pj-fixture pajamas-tui >/dev/null)
if [ -n "${MODEL:-}" ]; then
	model=$MODEL
elif [ ! -s "$model" ]; then
	"$build/pj-fixture" --config "$cfg" --out "$model" --gguf --dtype BF16 --seed 1
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

def cpu_ticks():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])     # utime + stime

# A session: walk, open layers, edit, undo, open and close the type menu.
pattern = list("]") + ["\r"] + list("jjjjj") + ["+", "-", "+", "u", "u", "u"] + list("kk") + ["t", "\x1b"] + \
          list("jjj") + ["\r"] + list("kkk") + ["-", "u"]
keys = [pattern[i % len(pattern)] for i in range(nkeys)]
hz = os.sysconf("SC_CLK_TCK")
c0, w0 = cpu_ticks(), time.monotonic()
sent = []
random.seed(1)
for k in keys:
    sent.append(time.monotonic_ns())
    os.write(fd, k.encode())
    # the Esc of the menu needs its escdelay (25 ms) before the next key
    time.sleep((gap + random.randint(-10, 10) + (30 if k == "\x1b" else 0)) / 1000.0)
time.sleep(0.5)
c1, w1 = cpu_ticks(), time.monotonic()
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

done = [int(l) for l in open(trace).read().split()]
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
report("all keys", allk)
# Esc is only known to be Esc after curses' ESCDELAY (25 ms) without a
# following byte: that wait is the terminal protocol's, not the app's.
report("all but Esc", [allk[i] for i in range(n) if keys[i] != "\x1b"])
report("Esc (25 ms ESCDELAY)", [allk[i] for i in range(n) if keys[i] == "\x1b"])
report("edits (+ - u)", [allk[i] for i in range(n) if keys[i] in "+-u"])
print("process CPU during the session: %.2f cores of %d (%.0f%%)" % (util, cores, 100 * util / cores))
EOF
