#!/bin/sh
# test_check.sh - `pajamas-tui --batch --pure TYPE --check --calib-ids F ...`:
# usage errors, then (with ../shared) the report on the llama model: text
# and JSON, base figures equal to the reference NLL's PPL over the scored
# half, Q8_0 close to the base and Q4_K further away.
. "$PJ_SRCDIR/tests/lib.sh"
make_tmp

"$PJ" --check x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "only valid with --batch" "$T/err"; ok $? "--check without --batch: exit 2"
"$PJ" --batch --pure Q4_K --ctx 256 x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "only valid with --check" "$T/err"; ok $? "--ctx without --check: exit 2"
"$PJ" --batch --pure Q4_K --check --ctx 2 x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--ctx: '2'" "$T/err"; ok $? "--ctx 2: exit 2, named"
"$PJ" --batch --pure Q4_K --check x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--calib-ids" "$T/err"; ok $? "--check without calibration ids: exit 2, says how"
"$PJ" --batch --pure Q4_K --check --calib "$T/none.txt" x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "tokenizer" "$T/err"; ok $? "--calib (text) without the tokenizer: exit 2, says why"

if ! have_shared; then
	skip "shared models absent ($PJ_SHARED): check reports not run"
	done_testing
fi
L="$PJ_SHARED/models/llama"
IDS="$L/reference/eval_ids.i32"

"$PJ" --batch --pure Q4_K_M --check --calib-ids "$IDS" --ctx 256 -j 2 "$L" >"$T/out" 2>"$T/err"
ok $? "Q4_K_M check of llama: exit 0"
grep -q "PPL(base) *: *23.0420" "$T/out" && grep -q "8 chunks of 256 tokens, 1016 scored" "$T/out"
ok $? "text report: PPL(base) 23.0420 over 8 x 127 scored tokens"
grep -q "Mean KLD" "$T/out" && grep -q "Same top token" "$T/out" && grep -q "RMS" "$T/out"
ok $? "text report: KLD, top token, RMS dp lines"

"$PJ" --batch --pure Q8_0 --check --calib-ids "$IDS" --ctx 256 --chunks 4 --json -j 2 "$L" >"$T/q8.json" 2>"$T/err"
ok $? "Q8_0 check, --chunks 4 --json: exit 0"
"$PJ" --batch --pure Q4_K --check --calib-ids "$IDS" --ctx 256 --chunks 4 --json -j 2 "$L" >"$T/q4.json" 2>"$T/err"
ok $? "Q4_K check --json: exit 0"
for f in ppl_base ppl_plan ln_ppl_ratio kld_mean kld_stderr kld_p99_9 kld_p99 kld_p95 kld_median top1_agreement rms_dp; do
	grep -q "\"$f\":" "$T/q4.json" || { diag "missing $f"; false; }
done
ok $? "JSON names every field plainly"
num() { sed -n "s/.*\"$2\":[[:space:]]*\([-0-9.e+]*\).*/\1/p" "$1"; }
awk -v a="$(num "$T/q8.json" kld_mean)" -v b="$(num "$T/q4.json" kld_mean)" -v c="$(num "$T/q4.json" chunks)" \
	'BEGIN { exit !(a > 0 && b > 4 * a && c == 4) }'
ok $? "KLD: 0 < Q8_0 < Q4_K / 4 ($(num "$T/q8.json" kld_mean) vs $(num "$T/q4.json" kld_mean))"

"$PJ" --batch --pure Q4_K --check --calib-ids "$IDS" --ctx 4096 "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "no chunk" "$T/err"; ok $? "too few ids for one chunk: exit 2"
done_testing
