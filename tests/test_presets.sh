#!/bin/sh
# test_presets.sh - presets against llama-quantize's golden outputs:
# the plan's type for every tensor equals golden/<model>/<FTYPE>[-imat].json
# for every ftype mix and all five models (--dry-run), and for a
# representative subset the bytes too (--batch --preset writes the file).
# Also: rules, plan files and the llama-quantize export from the command line.
. "$PJ_SRCDIR/tests/lib.sh"
make_tmp
H="$PJ_BUILDDIR/tests/gguf_hashes"

# ---- without shared data: option errors
"$PJ" --batch --preset Q9_K -o "$T/o.gguf" "$T/x.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || [ $rc -eq 2 ]; ok $? "unknown preset (or missing model): refused"
"$PJ" --batch --preset Q4_K_M --pure Q8_0 -o "$T/o.gguf" "$T/x.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "exclude each other" "$T/err"; ok $? "--preset with --pure: exit 2"
"$PJ" --batch -o "$T/o.gguf" "$T/x.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--preset" "$T/err"; ok $? "--batch without a base: exit 2"
"$PJ" --rule 'x=Q8_0' "$T/x.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "only valid with --batch" "$T/err"; ok $? "--rule without --batch: exit 2"

if ! have_shared; then
	skip "shared models absent ($PJ_SHARED): golden type maps, bytes, rules and plan files not checked"
	done_testing
fi
G="$PJ_SHARED/golden"
M() { echo "$PJ_SHARED/models/$1/gguf/$1-BF16.gguf"; }

# ---- every ftype mix: the plan's types equal llama.cpp's, all models
for m in llama qwen3 qwen3moe gemma3 deepseek3; do
	for j in "$G/$m"/*.json; do
		label=$(basename "$j" .json)
		case $label in *-pure*|*-imatdat) continue ;; esac
		base=${label%-imat}
		im=
		[ "$base" != "$label" ] && im="--imatrix $G/$m/imatrix.gguf"
		"$H" --json "$j" | cut -d' ' -f1,2 | sort > "$T/want"
		# shellcheck disable=SC2086
		"$PJ" --batch --preset "$base" $im --dry-run "$(M "$m")" 2>"$T/err" |
			awk 'NR > 1 && $1 != "total:" && $1 != "note:" { print $1, $4 }' | sort > "$T/got"
		if cmp -s "$T/want" "$T/got"; then
			ok 0 "$m $label: every tensor's type equals llama.cpp's"
		else
			ok 1 "$m $label: every tensor's type equals llama.cpp's"
			diff "$T/want" "$T/got" | head -4 | sed 's/^/#   /'
		fi
	done
done

# ---- bytes: --batch --preset writes what llama-quantize writes
compare() { # MODEL LABEL OUT
	"$H" --json "$G/$1/$2.json" > "$T/want" && "$H" "$3" > "$T/got" || return 1
	cmp -s "$T/want" "$T/got" || { diff "$T/want" "$T/got" | head -4 | sed 's/^/#   /'; return 1; }
}
run() { # MODEL PRESET LABEL [imatrix]
	rm -f "$T/out.gguf"
	if [ -n "$4" ]; then
		"$PJ" --batch --threads 2 --preset "$2" --imatrix "$4" -o "$T/out.gguf" "$(M "$1")" 2>"$T/err"
	else
		"$PJ" --batch --threads 2 --preset "$2" -o "$T/out.gguf" "$(M "$1")" 2>"$T/err"
	fi || { sed 's/^/#   /' "$T/err" | tail -3; return 1; }
	compare "$1" "$3" "$T/out.gguf"
}
for m in llama qwen3 qwen3moe gemma3 deepseek3; do
	run "$m" Q4_K_M Q4_K_M; ok $? "$m --preset Q4_K_M: bytes equal golden"
	run "$m" Q4_K_M Q4_K_M-imat "$G/$m/imatrix.gguf"; ok $? "$m --preset Q4_K_M --imatrix: bytes equal golden"
	run "$m" Q2_K Q2_K; ok $? "$m --preset Q2_K: bytes equal golden"
	run "$m" IQ4_XS IQ4_XS; ok $? "$m --preset IQ4_XS: bytes equal golden"
	run "$m" MXFP4_MOE MXFP4_MOE; ok $? "$m --preset MXFP4_MOE: bytes equal golden"
	# IQ3_S, IQ3_XXS and (q_iq2.c) IQ2_S tensors
	for p in IQ2_M IQ3_XXS IQ3_M; do
		run "$m" $p $p-imat "$G/$m/imatrix.gguf"; ok $? "$m --preset $p --imatrix: bytes equal golden"
	done
done
run qwen3moe Q4_K_M Q4_K_M-imatdat "$G/qwen3moe/imatrix.dat"
ok $? "qwen3moe --preset Q4_K_M --imatrix imatrix.dat: bytes equal llama.cpp's from the .dat"
"$H" --kv "$T/out.gguf" | grep -q "^general.file_type UINT32"; ok $? "general.file_type written"

# ---- rules, dry run, exports
L=$(M llama)
"$PJ" --batch --preset Q4_K_M --rule 'ffn_down=Q8_0' --rule 'attn_=Q5_K' --rule 'nomatch_xyz=Q4_0' --dry-run "$L" \
	> "$T/dry" 2>"$T/err"; rc=$?
[ $rc -eq 0 ]; ok $? "--dry-run with rules: exit 0"
grep -q "^blk.0.ffn_down.weight .* Q8_0 .* rule " "$T/dry"; ok $? "first rule sets ffn_down (provenance rule)"
grep -q "^blk.3.attn_v.weight .* Q5_K .* rule " "$T/dry"; ok $? "second rule sets attn_v"
grep -q "^blk.0.attn_norm.weight .* F32 " "$T/dry"; ok $? "norms stay F32 whatever the rules say"
grep -q "warning: rule 'nomatch_xyz=Q4_0' matches no tensor" "$T/err"; ok $? "a rule matching nothing warns"
grep -q "^total: 39 tensors" "$T/dry"; ok $? "dry run prints the totals"
"$PJ" --batch --preset Q4_K_M --rule 'ffn_down=Q9_9' --dry-run "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown type 'Q9_9'" "$T/err"; ok $? "rule with an unknown type: exit 2"
"$PJ" --batch --preset Q4_K_M --rule 'ffn_(down=Q8_0' --dry-run "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ]; ok $? "rule with a bad regex: exit 2"
"$PJ" --batch --preset nope --dry-run "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "moe-balanced" "$T/err"; ok $? "unknown preset: exit 2, presets listed"

# plan file and tensor-type file; the plan file gives the same output bytes
"$PJ" --batch --preset Q4_K_M --rule 'blk\.0\.ffn_down=Q8_0' --emit-plan "$T/p.json" \
	--emit-tensor-type-file "$T/tt.txt" --dry-run "$L" > "$T/dry1" 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && [ -s "$T/p.json" ] && [ -s "$T/tt.txt" ]; ok $? "--emit-plan and --emit-tensor-type-file write files"
grep -q '"schema":[[:space:]]*"pajamas-plan"' "$T/p.json" && grep -q '"header_sha256"' "$T/p.json"
ok $? "plan file: schema and model identity"
grep -q '^\^blk\\.0\\.ffn_down\\.weight\$=q8_0$' "$T/tt.txt" && grep -q '^\^output\\.weight\$=q6_K$' "$T/tt.txt"
ok $? "tensor-type file: anchored, escaped names, llama.cpp type names"
! grep -q "norm" "$T/tt.txt"; ok $? "tensor-type file lists only quantized tensors"
grep -q "llama-quantize --tensor-type-file $T/tt.txt $L OUT.gguf Q4_K_M" "$T/err"
ok $? "the llama-quantize command line is printed"
# llama-quantize has no NVFP4 ftype name ("invalid ftype"): the command names Q8_0 and says why
"$PJ" --batch --pure NVFP4 --emit-tensor-type-file "$T/nv.txt" --dry-run "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && grep -q "llama-quantize --tensor-type-file $T/nv.txt $L OUT.gguf Q8_0$" "$T/err" &&
	grep -q "# llama-quantize has no NVFP4 ftype: base Q8_0" "$T/err" && grep -q '^\^output\\.weight\$=nvfp4$' "$T/nv.txt"
ok $? "pure NVFP4: the command's base is Q8_0 (a name llama-quantize accepts), the file pins nvfp4"
"$PJ" --batch --plan "$T/p.json" --dry-run "$L" > "$T/dry2" 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && cmp -s "$T/dry1" "$T/dry2"; ok $? "--plan FILE gives the same plan"
"$PJ" --batch --plan "$T/p.json" --emit-plan "$T/p2.json" --dry-run "$L" >/dev/null 2>&1
cmp -s "$T/p.json" "$T/p2.json"; ok $? "plan file round trip: save, load, save gives the same bytes"
"$PJ" --batch --plan "$T/p.json" --dry-run "$(M qwen3)" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && grep -q "made for another model" "$T/err"; ok $? "a plan for another model: warning, still applied"
printf '{"schema":"other"}' > "$T/bad.json"
"$PJ" --batch --plan "$T/bad.json" --dry-run "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "not a plan file" "$T/err"; ok $? "not a plan file: exit 2"

# ---- architecture-aware presets and auto
"$PJ" --batch --preset auto --dry-run "$(M qwen3moe)" > "$T/auto" 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && grep -q "auto: family moe.*moe-balanced" "$T/err"; ok $? "auto on qwen3moe: moe-balanced, says why"
grep -q "^blk.0.ffn_up_exps.weight .* Q4_K .*medium-frequency" "$T/auto"; ok $? "routed experts INT4 (assumption stated)"
grep -q "^blk.0.attn_q.weight .* Q8_0 " "$T/auto"; ok $? "attention INT8"
"$PJ" --batch --preset auto --dry-run "$(M gemma3)" 2>"$T/err" >/dev/null
grep -q "hybrid-balanced" "$T/err"; ok $? "auto on gemma3: hybrid-balanced"
"$PJ" --batch --preset moe-q8 --dry-run "$(M deepseek3)" > "$T/fp8" 2>/dev/null
grep -q "FP8 has no GGUF type: Q8_0" "$T/fp8"; ok $? "FP8 maps to Q8_0 and says so"
"$PJ" --batch --preset mla-balanced --dry-run "$(M deepseek3)" > "$T/mla" 2>/dev/null
grep -q "^blk.1.attn_kv_a_mqa.weight .* BF16 " "$T/mla"; ok $? "mla-balanced: compression matrix FP16 (BF16 source: BF16)"
rm -f "$T/out.gguf"
"$PJ" --batch --threads 2 --preset dense-q4 -o "$T/out.gguf" "$L" 2>"$T/err" && "$PJ" --info "$T/out.gguf" >/dev/null 2>&1
ok $? "dense-q4 writes a GGUF that re-opens"

done_testing
