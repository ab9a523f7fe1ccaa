#!/bin/sh
# test_check.sh - `pajamas-tui --batch PLAN --check --calib[-ids] F ...`:
# usage errors, then (with ../shared) the report on the llama model: text
# and JSON, base figures equal to the reference NLL's PPL over the scored
# half, Q8_0 close to the base and Q4_K further away; plans from presets,
# plan files and rules, the importance matrix, text calibration through the
# tokenizer, MoE routing (qwen3moe) and per-block attribution; GGUF input
# against the folder it was converted from (all five shared models).
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
"$PJ" --batch --check --calib-ids "$T/none" x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--preset P" "$T/err"; ok $? "--check without a plan: exit 2, says how"
"$PJ" --batch --pure Q4_K --check --calib "$T/a" --calib-ids "$T/b" x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "exclude" "$T/err"; ok $? "--calib with --calib-ids: exit 2"
"$PJ" --batch --pure Q4_K --act llama x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--act is only valid" "$T/err"; ok $? "--act without --check: exit 2"
"$PJ" --batch --pure Q4_K --check --act f16 x >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "'f32' or 'llama'" "$T/err"; ok $? "--act f16: exit 2, names the modes"

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
"$PJ" --batch --pure Q4_K --check --calib "$T/none.txt" "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot open" "$T/err"; ok $? "--calib of a missing file: exit 2"

# text calibration: eval.txt tokenizes to the reference ids, so the first
# 8 chunks give the same base perplexity
"$PJ" --batch --pure Q8_0 --check --calib "$PJ_SHARED/data/eval.txt" --ctx 256 --chunks 8 -j 2 "$L" >"$T/txt" 2>"$T/err"
ok $? "--calib eval.txt: exit 0"
grep -q "PPL(base) *: *23.0420" "$T/txt" && grep -q "calibration *: text" "$T/txt"
ok $? "--calib text: PPL(base) 23.0420 as with the reference ids"

# a preset, the same plan through a plan file, a rule on top
"$PJ" --batch --preset Q4_K_M --check --calib-ids "$IDS" --ctx 256 --chunks 2 --json -j 2 "$L" >"$T/p.json" 2>"$T/err"
ok $? "--preset Q4_K_M --check: exit 0"
"$PJ" --batch --preset Q4_K_M --emit-plan "$T/plan.json" "$L" 2>"$T/err" && \
"$PJ" --batch --plan "$T/plan.json" --check --calib-ids "$IDS" --ctx 256 --chunks 2 --json -j 2 "$L" >"$T/f.json" 2>"$T/err"
ok $? "--plan FILE --check: exit 0"
[ -n "$(num "$T/p.json" kld_mean)" ] && [ "$(num "$T/p.json" kld_mean)" = "$(num "$T/f.json" kld_mean)" ]
ok $? "the plan file measures the same as its preset ($(num "$T/f.json" kld_mean))"
"$PJ" --batch --preset Q4_K_M --rule 'ffn_down=Q2_K' --check --calib-ids "$IDS" --ctx 256 --chunks 2 --json -j 2 "$L" >"$T/r.json" 2>"$T/err"
awk -v a="$(num "$T/p.json" kld_mean)" -v b="$(num "$T/r.json" kld_mean)" 'BEGIN { exit !(b > a) }'
ok $? "--rule ffn_down=Q2_K raises the KLD ($(num "$T/r.json" kld_mean))"
grep -q '"kld_alone":' "$T/p.json" && grep -q '"per_layer":' "$T/p.json"
ok $? "JSON: per_layer with kld_alone"

# importance weights change the quantization (as in the export)
IM="$PJ_SHARED/golden/llama/imatrix.gguf"
if [ -f "$IM" ]; then
	"$PJ" --batch --pure Q2_K --check --calib-ids "$IDS" --ctx 256 --chunks 2 --json -j 2 "$L" >"$T/q2.json" 2>"$T/err"
	"$PJ" --batch --pure Q2_K --imatrix "$IM" --check --calib-ids "$IDS" --ctx 256 --chunks 2 --json -j 2 "$L" \
		>"$T/q2i.json" 2>"$T/err"
	ok $? "--imatrix with --check: exit 0"
	[ "$(num "$T/q2.json" kld_mean)" != "$(num "$T/q2i.json" kld_mean)" ]
	ok $? "--imatrix changes the measured plan ($(num "$T/q2.json" kld_mean) -> $(num "$T/q2i.json" kld_mean))"
else
	skip "no imatrix in the shared golden files"
	skip "no imatrix in the shared golden files"
fi

# MoE: routing counts, flip rate, never-routed experts
M="$PJ_SHARED/models/qwen3moe"
"$PJ" --batch --pure Q2_K --check --calib-ids "$M/reference/eval_ids.i32" --ctx 256 --chunks 2 -j 2 "$M" >"$T/moe" 2>"$T/err"
ok $? "qwen3moe Q2_K check: exit 0"
grep -q "Router flip rate *: .*target < 5%" "$T/moe" && grep -q "block *2: flips" "$T/moe"
ok $? "text report: flip rate with its verdict, routing counts per block"
"$PJ" --batch --pure Q2_K --check --calib-ids "$M/reference/eval_ids.i32" --ctx 256 --chunks 2 --json -j 2 "$M" >"$T/moe.json" 2>"$T/err"
ok $? "qwen3moe --json: exit 0"
"$FIXTURE" --json-get per_layer.0.expert_counts "$T/moe.json" >"$T/c0" && \
	awk '{ s += $1; n++ } END { exit !(n == 8 && s == 512 * 2) }' "$T/c0"
ok $? "JSON: block 0's 8 expert counts sum to 512 tokens x top-2"
r=$("$FIXTURE" --json-get moe.router_flip_rate "$T/moe.json")
awk -v r="$r" 'BEGIN { exit !(r > 0 && r < 1) }'
ok $? "JSON: moe.router_flip_rate in (0, 1): $r"
"$FIXTURE" --json-get moe.router_flip_rate_ok "$T/moe.json" >/dev/null && \
	"$FIXTURE" --json-get per_layer.2.unused_experts "$T/moe.json" >/dev/null
ok $? "JSON: the verdict and the never-routed experts of each block"

# GGUF input: each model's BF16 conversion measures what its folder measures
# (the plan exports the same weights; the forward pass undoes the converter's
# layout), to 1e-6 relative - in fact the whole report is the same
for m in llama qwen3 qwen3moe gemma3 deepseek3; do
	D="$PJ_SHARED/models/$m"
	G="$D/gguf/$m-BF16.gguf"
	if [ ! -f "$G" ]; then
		skip "$m: no BF16 GGUF in the shared data"
		continue
	fi
	"$PJ" --batch --pure Q4_K --check --calib-ids "$D/reference/eval_ids.i32" --ctx 256 --json -j 2 "$D" \
		>"$T/$m-hf.json" 2>"$T/err" && \
	"$PJ" --batch --pure Q4_K --check --calib-ids "$D/reference/eval_ids.i32" --ctx 256 --json -j 2 "$G" \
		>"$T/$m-gguf.json" 2>"$T/err"
	rc=$?
	a=$(num "$T/$m-hf.json" kld_mean) b=$(num "$T/$m-gguf.json" kld_mean)
	[ $rc -eq 0 ] && [ -n "$a" ] && awk -v a="$a" -v b="$b" \
		'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-6 * a) }'
	ok $? "$m: Q4_K check of the GGUF: KLD $b, as the folder's $a (1e-6 relative)"
	grep -v '"model":' "$T/$m-hf.json" >"$T/a" && grep -v '"model":' "$T/$m-gguf.json" >"$T/b" && cmp -s "$T/a" "$T/b"
	ok $? "$m: GGUF and folder reports are identical (PPL, KLD percentiles, per block, routing)"
done

# a quantized GGUF as the source (what users have): DeepSeek's split kv_b
# and stacked experts in Q8_0 decode to a base within 0.5% of the BF16 one
D="$PJ_SHARED/models/deepseek3"
if [ -f "$D/gguf/deepseek3-BF16.gguf" ]; then
	"$PJ" --batch --pure Q8_0 -o "$T/ds-q8.gguf" "$D/gguf/deepseek3-BF16.gguf" >/dev/null 2>"$T/err" && \
	"$PJ" --batch --pure Q4_K --check --calib-ids "$D/reference/eval_ids.i32" --ctx 256 --json -j 2 "$T/ds-q8.gguf" \
		>"$T/ds-q8.json" 2>"$T/err"
	rc=$?
	a=$(num "$T/deepseek3-hf.json" ppl_base) b=$(num "$T/ds-q8.json" ppl_base)
	[ $rc -eq 0 ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { d = b / a - 1; exit !(d < 0.005 && d > -0.005) }'
	ok $? "deepseek3 exported to Q8_0 checks from the GGUF: PPL(base) $b vs BF16 $a (0.5%)"
else
	skip "deepseek3: no BF16 GGUF in the shared data"
fi

# --act llama (llama.cpp's activation rounding): the same source against
# itself stays at KLD 0, a Q4_K_M plan's KLD moves (Q8_K activations for
# the k-quants; llama-perplexity's figure for this model is 0.009295)
G="$PJ_SHARED/models/llama/gguf/llama-BF16.gguf"
if [ -f "$G" ]; then
	for a in f32 llama; do
		"$PJ" --batch --preset Q4_K_M --check --calib-ids "$IDS" --ctx 256 --chunks 8 --json -j 2 --act $a "$G" \
			>"$T/act-$a.json" 2>"$T/err" || diag "--act $a: $(cat "$T/err")"
	done
	"$PJ" --batch --pure BF16 --check --calib-ids "$IDS" --ctx 256 --chunks 4 --json -j 2 --act llama "$G" \
		>"$T/act-bf16.json" 2>"$T/err"
	ok $? "--act llama, BF16 GGUF against itself: exit 0"
	awk -v k="$(num "$T/act-bf16.json" kld_mean)" -v a="$(num "$T/act-bf16.json" ppl_base)" \
		-v b="$(num "$T/act-bf16.json" ppl_plan)" 'BEGIN { exit !(k == 0 && a == b && a > 0) }'
	ok $? "--act llama: BF16 vs BF16 KLD 0, PPLs equal ($(num "$T/act-bf16.json" ppl_base))"
	f=$(num "$T/act-f32.json" kld_mean) l=$(num "$T/act-llama.json" kld_mean)
	awk -v f="$f" -v l="$l" 'BEGIN { exit !(f > 0 && l > f * 1.02 && l < f * 1.2) }'
	ok $? "--act llama: Q4_K_M KLD $l, 2-20% above f32's $f"
	awk -v p="$(num "$T/act-llama.json" ppl_base)" 'BEGIN { exit !(p != 23.0420 && p > 23.03 && p < 23.06) }'
	ok $? "--act llama: PPL(base) $(num "$T/act-llama.json" ppl_base), moved from f32 23.0420 by the rounding, under 0.1%"
else
	skip "llama: no BF16 GGUF in the shared data"
fi
done_testing
