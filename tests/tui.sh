#!/bin/sh
# tui.sh - the interactive browser, driven through tmux: navigation, MoE
# experts, help, resize, quitting, monochrome, requantization warnings for a
# quantized GGUF, the stats job (cancel while running, keys stay live) and
# terminal restoration on exit and on signals.
# Every screen check waits for its text (up to ~5 s), so a slow machine or a
# sanitizer build does not make the test flaky.
. "$PJ_SRCDIR/tests/lib.sh"

. "$PJ_SRCDIR/tests/tui_lib.sh"
tui_setup tui
MOE="$PJ_SHARED/models/qwen3moe"

# start W H ENV... -- ARGS...: the app in a fresh tmux server.  A shell
# stays in the pane after the app ends, so the exit status (in $T/status)
# and the terminal modes the app left behind can be read; $T/pid is the
# app's own pid (for the signal checks).
start() {
	w=$1 h=$2; shift 2
	envs=""
	while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
	shift
	next_server
	args=""
	for a in "$@"; do args="$args '$a'"; done
	cat > "$T/run.sh" <<-EOS
	ulimit -c 0
	sh -c 'echo \$\$ > "$T/pid"; exec env TERM=$TERMTYPE LC_ALL= LANG=C.UTF-8 XDG_STATE_HOME="$T/state" XDG_CACHE_HOME="$T/cache" $envs "$PJ" $args'
	echo \$? > "$T/status"
	exec sleep 600
	EOS
	tm new-session -d -x "$w" -y "$h" "sh $T/run.sh"
	# The app is drawn once the function bar is.
	wait_for "F10Quit"
}

# ---- 100x30, the HF MoE model: navigation and experts --------------------------
start 100 30 -- "$MOE"
ok $? "starts at 100x30 and draws the function bar"
screen > "$T/s0"
grep -q "qwen3moe" "$T/s0" && grep -q "MoE 8x2" "$T/s0"; ok $? "header: model name and architecture summary"
[ "$(fmt '#{alternate_on}/#{mouse_any_flag}')" = "1/1" ]; ok $? "while running: alternate screen and mouse reporting on"
grep -q "family moe" "$T/s0" && grep -q "5.84M params, 2.30M active" "$T/s0"; ok $? "header: family and parameter counts (total, active)"
wait_for "stats: done"; ok $? "the statistics job finishes and says so"
wait_for "max|x| 0.2383"; ok $? "statistics filled in (embedding max|x| in the detail pane)"

keys ']' Enter
wait_for "8 experts:"; ok $? "layer 0 expands to attention, ffn and a collapsed experts summary"
screen | grep -q "self_attn.q_proj"; ok $? "expanded layer lists its attention tensors"
step_until "layer 0: 8 experts" Down; ok $? "the experts summary row can be selected"
keys Enter
wait_for "expert 0"; ok $? "the experts summary expands to one row per expert"
for i in 1 2 3 4 5 6 7 8; do keys Down; done
wait_for "expert 7"; ok $? "expert 7 is listed"
keys Right Down
wait_for "mlp.experts.7."; ok $? "expert 7 expands to its own tensors (detail names the tensor)"
screen | grep -q "routed expert"; ok $? "detail pane describes the tensor's role"

keys '?'
wait_for "show this help screen"; ok $? "? opens the help screen"
step_until "F10 q" Down
screen | grep -E "^ *F10 q +quit" >/dev/null; ok $? "help lists a binding from the key table (F10 q  quit)"
keys q
wait_for "Name"; ok $? "q on the help screen closes it (does not quit)"

tm resize-window -x 80 -y 24
sleep 0.3
wait_for "F10Quit" && screen | head -1 | grep -q "qwen3moe"; ok $? "after resizing to 80x24: header and function bar drawn"
screen | grep -q "Name" && screen | grep -q "expert 7"; ok $? "the table still shows its rows after the resize"

keys q
wait_dead; ok $? "q quits"
[ "$(status)" = 0 ]; ok $? "exit status 0"
restored; ok $? "terminal restored on quit (no alternate screen, mouse off, cursor visible)"

# ---- mouse ------------------------------------------------------------------------
# click X Y [BUTTON]: a press (and release) at 1-based X, Y, typed into the
# pane in the encoding the terminal description announces (kmous).
if infocmp "$TERMTYPE" 2>/dev/null | grep -q 'kmous=\\E\[<'; then SGR=1; else SGR=0; fi
chr() { printf "\\$(printf %03o "$1")"; }
click() {
	b=${3:-0}
	if [ $SGR = 1 ]; then
		keys -l "$(printf '\033[<%d;%d;%dM' "$b" "$1" "$2")"
		[ "$b" -lt 64 ] && keys -l "$(printf '\033[<%d;%d;%dm' "$b" "$1" "$2")"
	else
		keys -l "$(printf '\033[M')$(chr $((32 + b)))$(chr $((32 + $1)))$(chr $((32 + $2)))"
		[ "$b" -lt 64 ] && keys -l "$(printf '\033[M')$(chr 35)$(chr $((32 + $1)))$(chr $((32 + $2)))"
	fi
	sleep 0.1
}
start 100 30 -- "$MOE"
click 5 7
wait_for "Name  3/6"; ok $? "mouse: a click selects the row under it (layer 1)"
click 5 7
wait_for "self_attn.q_proj"; ok $? "mouse: clicking the selected row expands it"
click 5 8 65
wait_for "Name  6/"; ok $? "mouse: the wheel moves the selection"
click 2 30
wait_for "show this help screen"; ok $? "mouse: clicking F1Help in the function bar opens help"
click 20 10
wait_for "Name"; ok $? "mouse: a click on the help screen closes it"
keys q; wait_dead

# ---- 80x24 from the start, monochrome -------------------------------------------
start 80 24 NO_COLOR=1 -- "$MOE"
ok $? "NO_COLOR=1 at 80x24: starts"
screen | grep -q "layer 2" && screen | grep -q "Bytes"; ok $? "80x24: table with layers and columns"
tm capture-pane -p -e > "$T/mono"
! grep -Eq "$(printf '\033')\[(3[0-7]|4[0-7]|9[0-7]|10[0-7]|38;|48;)" "$T/mono"; ok $? "NO_COLOR: no color escape sequences on screen"
keys F10
wait_dead && [ "$(status)" = 0 ]; ok $? "F10 quits with status 0"

start 80 24 -- --no-mouse "$MOE"
tm capture-pane -p -e > "$T/color"
grep -Eq "$(printf '\033')\[(3[0-7]|4[0-7])m" "$T/color"; ok $? "default theme uses colors (so the NO_COLOR check means something)"
[ "$(fmt '#{mouse_any_flag}')" = 0 ]; ok $? "--no-mouse leaves mouse reporting off"
keys q; wait_dead

# ---- GGUF: stacked expert tensors listed per expert -----------------------------
start 100 30 -- "$MOE/gguf/qwen3moe-BF16.gguf"
ok $? "opens the GGUF model"
keys ']' '*'
step_until "ffn_gate_exps[0]" Down; ok $? "* expands a layer fully: stacked tensors appear as per-expert slices"
step_until "[expert 7]" Down; ok $? "slices of expert 7 reachable; detail names the stacked tensor and expert"
screen | grep -q "expert 7 of 256x256x8"; ok $? "slice detail gives the stacked shape in ggml order"
keys q; wait_dead

# ---- an already quantized GGUF: the header and the detail pane warn -------------
if "$PJ" --batch --pure Q8_0 -o "$T/q8.gguf" "$MOE/gguf/qwen3moe-BF16.gguf" >/dev/null 2>&1; then
	start 100 30 -- "$T/q8.gguf"
	wait_for "warning: the plan requantizes"; ok $? "Q8_0 GGUF: the header warns that the plan requantizes"
	keys ']' '*'
	step_until "stored as Q8_0: Q4_K dequantizes it" Down
	ok $? "Q8_0 GGUF: the detail pane of a requantized tensor says so"
	wait_for "stats: done"
	screen | grep -q "stats  *max|x| [0-9]" && ! screen | grep -q "stats  *n/a"
	ok $? "Q8_0 GGUF: the detail pane shows the tensor's decoded statistics (max|x|, RMS, outliers)"
	keys q; wait_dead
else
	ok 1 "a Q8_0 GGUF of qwen3moe written (--batch --pure Q8_0)"
fi

# ---- a slow job: keys stay live, cancel marks partial results ------------------
# 8 GiB of F32 zeros in a sparse file: seconds of work for one thread even
# in an optimised build, and no disk space.
BIG="$T/big"
mkdir -p "$BIG"
printf '{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":8192,"num_hidden_layers":0,"num_attention_heads":64,"vocab_size":262144}' > "$BIG/config.json"
hdr='{"model.embed_tokens.weight":{"dtype":"F32","shape":[262144,8192],"data_offsets":[0,8589934592]}}'
while [ $(( ${#hdr} % 8 )) -ne 0 ]; do hdr="$hdr "; done
{ printf "\\$(printf %03o ${#hdr})\\000\\000\\000\\000\\000\\000\\000"; printf '%s' "$hdr"; } > "$BIG/model.safetensors"
if truncate -s $((8 + ${#hdr} + 8589934592)) "$BIG/model.safetensors" 2>/dev/null; then
	start 100 30 -- -j1 "$BIG"
	wait_for "c: cancel"; ok $? "slow job: progress bar with a cancel hint"
	keys '?'
	wait_for "show this help screen"; ok $? "keys work while the job runs (help opens)"
	keys Escape
	wait_for "Name"
	keys c
	# several jobs run (statistics, measurement): c asks which
	w=$PJ_WAIT; PJ_WAIT=30	# the question only comes when several jobs run
	if wait_for "Cancel which job?"; then keys s t a t Enter; fi
	PJ_WAIT=$w
	wait_for "stats: cancelled"; ok $? "c cancels the job"
	screen | grep "embed_tokens" | grep -q "~"; ok $? "partial results are marked ~"
	keys s
	wait_for "c: cancel"; ok $? "s restarts the job"
	keys q
	wait_dead && [ "$(status)" = 0 ]; ok $? "quitting while the job runs exits 0"
	restored; ok $? "terminal restored after quitting mid-job"
else
	skip "truncate(1) unavailable: no sparse file for the slow-job checks"
fi

# ---- fatal signals restore the terminal ------------------------------------------
for sig in TERM SEGV; do
	start 100 30 -- "$MOE"
	kill -$sig "$(cat "$T/pid")"
	wait_dead && [ "$(status)" -gt 128 ]; ok $? "SIG$sig ends the program (status $(status), by the signal)"
	restored; ok $? "SIG$sig: terminal restored before dying"
done

done_testing
