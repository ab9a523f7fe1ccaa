#!/bin/sh
# test_requant.sh - an already quantized GGUF as the source: --info (text and
# JSON) says how many tensors are stored quantized, in which types, and how
# many the auto preset's plan requantizes (the same count the export reports),
# with the warning that the errors compound.  Sources made here from shared
# BF16 models with --batch --pure Q8_0.
. "$PJ_SRCDIR/tests/lib.sh"
have_shared || skip_all "shared models absent ($PJ_SHARED): no GGUF to quantize"
[ -x "$FIXTURE" ] || skip_all "pj-fixture is not built ($FIXTURE)"
make_tmp
H="$PJ_BUILDDIR/tests/gguf_hashes"
M() { echo "$PJ_SHARED/models/$1/gguf/$1-BF16.gguf"; }
jget() { "$FIXTURE" --json-get "$1" "$2" 2>/dev/null; }

# ---- a BF16 source: nothing to say
"$PJ" --info --json "$(M qwen3moe)" > "$T/bf16.json" 2>"$T/err"
[ "$(jget requant.quantized_tensors "$T/bf16.json")" = 0 ] && [ "$(jget requant.auto_requantizes "$T/bf16.json")" = 0 ]
ok $? "BF16 source: no tensor stored quantized, none requantized"
"$PJ" --info "$(M qwen3moe)" > "$T/bf16.txt" 2>&1
! grep -q -e "^Quantized:" -e "requantiz" "$T/bf16.txt"; ok $? "BF16 source: no requantization line or warning in the text"

for m in qwen3moe qwen3; do
	if ! "$PJ" --batch --pure Q8_0 -o "$T/$m-q8.gguf" "$(M $m)" >/dev/null 2>"$T/err"; then
		ok 1 "$m: Q8_0 GGUF written"; diag "$(head -c 400 "$T/err")"; continue
	fi
	q=$("$H" "$T/$m-q8.gguf" | awk '$2 == "Q8_0"' | wc -l | tr -d ' ')
	"$PJ" --info --json "$T/$m-q8.gguf" > "$T/$m.json" 2>"$T/err" && "$PJ" --info "$T/$m-q8.gguf" > "$T/$m.txt" 2>&1
	ok $? "$m Q8_0: --info and --info --json run"
	[ "$q" -gt 0 ] && [ "$(jget requant.quantized_tensors "$T/$m.json")" = "$q" ] &&
		[ "$(jget requant.by_type.Q8_0 "$T/$m.json")" = "$q" ]
	ok $? "$m Q8_0: requant.quantized_tensors and by_type.Q8_0 = the file's $q Q8_0 tensors"
	[ "$(jget schema_version "$T/$m.json")" = 1 ] && [ -n "$(jget arch.auto_preset "$T/$m.json")" ]
	ok $? "$m Q8_0: schema_version still 1, the existing fields still there"
	grep -q "^Quantized: *$q of [0-9]* tensors are stored quantized (Q8_0 x$q); preset auto ([a-z0-9_-]*) requantizes" "$T/$m.txt"
	ok $? "$m Q8_0: the text report's Quantized line"
	# what the export says it requantized with the auto preset
	"$PJ" --batch --preset auto -o "$T/$m-auto.gguf" "$T/$m-q8.gguf" >/dev/null 2>"$T/err"
	n=$(sed -n 's/.* \([0-9]*\) requantized.*/\1/p' "$T/err")
	[ -n "$n" ] && [ "$(jget requant.auto_requantizes "$T/$m.json")" = "$n" ]
	ok $? "$m Q8_0: auto_requantizes equals the export's count with --preset auto ($n)"
	if [ "$n" -gt 0 ]; then
		[ "$(jget requant.auto_requantizes_by_type.Q8_0 "$T/$m.json")" = "$n" ] &&
			jget warnings "$T/$m.json" | grep -q "the plan requantizes $n already quantized tensors (Q8_0 x$n).*errors compound" &&
			grep -q "^Warning: the plan requantizes $n already quantized tensors.*errors compound" "$T/$m.txt"
		ok $? "$m Q8_0: the warning says how many are requantized, from which type, that errors compound"
	else
		jget warnings "$T/$m.json" | grep -q "$q tensors are already quantized (Q8_0 x$q).*any other type requantizes them" &&
			grep -q "^Warning: $q tensors are already quantized.*errors compound" "$T/$m.txt"
		ok $? "$m Q8_0: nothing requantized by auto; the note says another type would (errors compound)"
	fi
done
rm -f "$T"/*.gguf

done_testing
