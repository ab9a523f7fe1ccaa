# tests/tui_lib.sh - what the tmux-driven TUI tests share (sourced after
# tests/lib.sh): a private tmux server per run, screen capture, keys, and
# polling helpers.  tui_setup NAME makes the work folder $T and the socket
# prefix, and skips the whole test when tmux, the shared data or the binary
# is missing.  Each script keeps its own start(), which launches the app in
# a new tmux server on socket "$SOCK_PREFIX-$RUN".

tui_setup() {
	TM=${TMUX_BIN:-}
	[ -n "$TM" ] || TM=$(command -v tmux 2>/dev/null)
	[ -n "$TM" ] && [ -x "$TM" ] || skip_all "tmux not found (configure looks for it; install tmux to run the TUI tests)"
	have_shared || skip_all "shared test data not found at $PJ_SHARED"
	[ -x "$PJ" ] || skip_all "$PJ not built"
	# (not lib.sh's tmpdir: its EXIT trap fires when the $(...) subshell ends)
	T=$(mktemp -d "${TMPDIR:-/tmp}/pj-$1.XXXXXX") || exit 1
	# A fresh server (socket) per run: reusing one right after kill-server
	# races with the dying server.
	RUN=0
	SOCK_PREFIX="pj$1$$"
	SOCK="$SOCK_PREFIX-0"
	# A terminal type this machine surely describes.
	if infocmp tmux-256color >/dev/null 2>&1; then TERMTYPE=tmux-256color; else TERMTYPE=screen; fi
	trap cleanup EXIT
}

tm() { env -u TMUX "$TM" -L "$SOCK" -f /dev/null "$@"; }
cleanup() { tm kill-server >/dev/null 2>&1; rm -rf "$T"; }

# next_server: stop the previous app's server; the next one gets a new socket.
next_server() {
	tm kill-server >/dev/null 2>&1
	RUN=$((RUN + 1))
	SOCK="$SOCK_PREFIX-$RUN"
	rm -f "$T/status" "$T/pid"
}

screen() { tm capture-pane -p; }
fmt() { tm display -p "$1"; }
keys() { tm send-keys "$@"; }

# wait_for TEXT: poll the screen until TEXT appears (fixed string).
wait_for() {
	i=0
	while [ $i -lt $PJ_WAIT ]; do
		screen 2>/dev/null | grep -qF -- "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# wait_dead: until the app has exited and its status is recorded.
wait_dead() {
	i=0
	while [ $i -lt $PJ_WAIT ]; do
		[ -s "$T/status" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
status() { cat "$T/status" 2>/dev/null; }

# Terminal given back: no alternate screen, no mouse reporting, cursor on.
restored() {
	[ "$(fmt '#{alternate_on}/#{mouse_any_flag}/#{cursor_flag}')" = "0/0/1" ]
}

# step_until TEXT KEY: press KEY (at most 80 times) until TEXT shows.
step_until() {
	n=0
	while [ $n -lt 80 ]; do
		screen | grep -qF -- "$1" && return 0
		keys "$2"
		sleep 0.05
		n=$((n + 1))
	done
	screen | grep -qF -- "$1"
}
