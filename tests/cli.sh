#!/bin/sh
# cli.sh - command line: --help/--version, exit statuses, error messages,
# --info text and JSON on the shared models, and --help vs man page drift.
. "$PJ_SRCDIR/tests/lib.sh"
make_tmp

out=$("$PJ" --help); rc=$?
ok $rc "--help exits 0"
case $out in *"Usage: pajamas-tui"*) ok 0 "--help prints usage";; *) ok 1 "--help prints usage";; esac
out=$("$PJ" --version); rc=$?
ok $rc "--version exits 0"
case $out in "pajamas-tui "[0-9]*) ok 0 "--version names the program and version";; *) ok 1 "--version format";; esac

"$PJ" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "missing MODEL" "$T/err"; ok $? "no MODEL: exit 2 and says so"
"$PJ" --bogus x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ]; ok $? "unknown option: exit 2"
"$PJ" --threads 0 x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "threads" "$T/err"; ok $? "--threads 0 rejected with exit 2"
"$PJ" --info "$T/nope" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "$T/nope" "$T/err"; ok $? "missing model: exit 1, message names the path"
printf 'not a gguf at all' > "$T/bad.gguf"
"$PJ" --info "$T/bad.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "bad.gguf" "$T/err"; ok $? "malformed GGUF: exit 1, message names the file"
"$PJ" --json "$T/bad.gguf" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ]; ok $? "--json without --info: exit 2"

# Every long option in --help is documented in the man page.
man="$PJ_SRCDIR/man/pajamas-tui.1"
for opt in $("$PJ" --help | sed -n 's/^ *\(-., \)\{0,1\}--\([a-z-]*\).*/\2/p'); do
	sed 's/\\//g' "$man" | grep -q -- "--$opt"; ok $? "man page documents --$opt"
done

# The man page's KEYS section is the key table's own output (regenerate with
# `make update-man-keys` when the table changes).
"$PJ" --list-keys=man > "$T/keys.man"; ok $? "--list-keys=man"
sed -n '/KEYS-BEGIN/,/KEYS-END/p' "$man" | sed '1d;$d' > "$T/keys.inman"
cmp -s "$T/keys.man" "$T/keys.inman"; ok $? "man page KEYS section equals the key table (make update-man-keys)"
"$PJ" --list-keys | grep -q "show this help screen"; ok $? "--list-keys prints the table as text"
"$PJ" --list-keys=html >/dev/null 2>&1; [ $? -eq 2 ]; ok $? "--list-keys with an unknown format: exit 2"

# The built-in demo model can be written and opened without any download.
"$PJ" --write-demo "$T/demo" >/dev/null 2>"$T/err"; ok $? "--write-demo writes the demo model"
"$PJ" --info "$T/demo" > "$T/demo.txt" 2>"$T/err"; ok $? "--info opens the demo model"
grep -q "moe" "$T/demo.txt"; ok $? "demo model is detected as MoE"

if have_shared; then
	for m in llama qwen3 qwen3moe gemma3 deepseek3; do
		"$PJ" --info "$PJ_SHARED/models/$m" > "$T/$m.txt" 2>"$T/err"; ok $? "--info $m (HF folder)"
		"$PJ" --info --json "$PJ_SHARED/models/$m/gguf/$m-BF16.gguf" > "$T/$m.json" 2>"$T/err"
		ok $? "--info --json $m (GGUF)"
		grep -q '"schema_version":[[:space:]]*1' "$T/$m.json"; ok $? "$m JSON has schema_version 1"
	done
	grep -q "Family: *moe" "$T/deepseek3.txt" && grep -q "mla" "$T/deepseek3.txt"
	ok $? "deepseek3: family moe and trait mla listed"
	grep -q "Family: *hybrid_attention" "$T/gemma3.txt"; ok $? "gemma3: family hybrid_attention"
	grep -q "one 3-D tensor per projection" "$T/qwen3moe.txt"; ok $? "qwen3moe: --info explains stacked GGUF experts"
	grep -q "Family: *dense_decoder" "$T/llama.txt"; ok $? "llama: family dense_decoder"
else
	skip "shared models absent ($PJ_SHARED): --info on real models not checked"
fi
done_testing
