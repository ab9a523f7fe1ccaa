#!/bin/sh
# test_batch.sh - `pajamas-tui --batch --pure TYPE [--imatrix F] -o OUT MODEL`
# against llama-quantize's golden outputs: every tensor's type and SHA-256
# equal golden/<model>/<LABEL>.json; the metadata is the input's plus the
# keys llama-quantize sets; refusals and failures leave no file behind.
. "$PJ_SRCDIR/tests/lib.sh"
make_tmp
H="$PJ_BUILDDIR/tests/gguf_hashes"

# ---- without shared data: usage errors and the safety rules on a demo-free GGUF
"$PJ" --batch --pure Q4_K_S "$T/x.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "-o" "$T/err"; ok $? "--batch without -o: exit 2"
"$PJ" --pure Q4_K_S -o "$T/o.gguf" "$T/x.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "only valid with --batch" "$T/err"; ok $? "--pure without --batch: exit 2"
"$PJ" --batch --pure Q9_X -o "$T/o.gguf" "$T/x.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown type 'Q9_X'" "$T/err" && grep -q "Q4_K_S" "$T/err"
ok $? "unknown --pure type: exit 2, the valid names listed"

if ! have_shared; then
	skip "shared models absent ($PJ_SHARED): golden comparison, metadata and failure checks not run"
	done_testing
fi
G="$PJ_SHARED/golden"
M() { echo "$PJ_SHARED/models/$1/gguf/$1-BF16.gguf"; }

# compare MODEL LABEL OUT: types and hashes of every tensor, and the order
compare() {
	"$H" --json "$G/$1/$2.json" > "$T/want" && "$H" "$3" > "$T/got" || return 1
	if ! cmp -s "$T/want" "$T/got"; then
		diff "$T/want" "$T/got" | head -5 | sed 's/^/#   /'
		return 1
	fi
}

# run MODEL TYPE LABEL [imatrix-file]
run() {
	m=$1 ty=$2 label=$3 im=$4
	rm -f "$T/out.gguf"
	if [ -n "$im" ]; then
		"$PJ" --batch --threads 2 --pure "$ty" --imatrix "$im" -o "$T/out.gguf" "$(M "$m")" 2>"$T/err"
	else
		"$PJ" --batch --threads 2 --pure "$ty" -o "$T/out.gguf" "$(M "$m")" 2>"$T/err"
	fi
	rc=$?
	[ $rc -eq 0 ] || { sed 's/^/#   /' "$T/err" | tail -3; return 1; }
	compare "$m" "$label" "$T/out.gguf"
}

for m in llama qwen3 qwen3moe gemma3 deepseek3; do
	run "$m" Q8_0 Q8_0-pure; ok $? "$m --pure Q8_0 equals golden Q8_0-pure (types, bytes, order)"
	run "$m" Q4_K_S Q4_K_S-pure; ok $? "$m --pure Q4_K_S equals golden Q4_K_S-pure"
	run "$m" IQ4_XS IQ4_XS-pure; ok $? "$m --pure IQ4_XS equals golden IQ4_XS-pure"
	run "$m" Q6_K Q6_K-pure-imat "$G/$m/imatrix.gguf"; ok $? "$m --pure Q6_K --imatrix equals golden Q6_K-pure-imat"
done
run deepseek3 Q2_K Q2_K-pure; ok $? "deepseek3 --pure Q2_K: fallback Q4_0 for 128-column rows"
run qwen3moe MXFP4_MOE MXFP4_MOE-pure; ok $? "qwen3moe --pure MXFP4_MOE equals golden"
run qwen3 IQ3_XXS IQ3_XXS-pure-imat "$G/qwen3/imatrix.gguf"; ok $? "qwen3 --pure IQ3_XXS --imatrix equals golden"
run gemma3 BF16 BF16-pure; ok $? "gemma3 --pure BF16 (a copy) equals golden"
# small staging buffers (PJ_WRITE_STAGE): the models then go out through the
# writer thread in many pieces (whole blocks, tails carried over), quantized
# a few rows at a time straight into the buffers
export PJ_WRITE_STAGE=8192
run qwen3moe Q4_K_S Q4_K_S-pure; ok $? "8 KiB staging buffers: qwen3moe --pure Q4_K_S equals golden"
run llama Q6_K Q6_K-pure-imat "$G/llama/imatrix.gguf"; ok $? "8 KiB staging buffers: llama Q6_K --imatrix equals golden"
run gemma3 BF16 BF16-pure; ok $? "8 KiB staging buffers: gemma3 --pure BF16 (a copy) equals golden"
unset PJ_WRITE_STAGE

# the legacy .dat gives llama exactly the same bytes as the GGUF imatrix
run llama Q4_K_S Q4_K_S-pure-imat "$G/llama/imatrix.dat"; ok $? "llama --imatrix imatrix.dat equals golden Q4_K_S-pure-imat"
grep -q "data for 28 of 29 tensors" "$T/err" && grep -q "no data for output.weight" "$T/err"
ok $? "coverage reported: output.weight has no imatrix data"

# ---- metadata: every input key with its value, then llama-quantize's keys
L=$(M llama)
run llama Q6_K Q6_K-pure-imat "$G/llama/imatrix.gguf" >/dev/null
# llama-quantize sets quantization_version and file_type by removing and
# appending them: every other key keeps its place and its bytes
moved='^general\.\(file_type\|quantization_version\) '
"$H" --kv "$L" | grep -v "$moved" > "$T/kv.in"
"$H" --kv "$T/out.gguf" > "$T/kv.out"
grep -v "$moved" "$T/kv.out" | head -n "$(wc -l < "$T/kv.in")" | cmp -s - "$T/kv.in"
ok $? "input metadata copied in order with equal values"
[ "$(grep -c . "$T/kv.out")" -eq "$(( $(wc -l < "$T/kv.in") + 6 ))" ]; ok $? "no other key added or lost"
tail -n 6 "$T/kv.out" | cut -d' ' -f1 | tr '\n' ' ' > "$T/tail"
grep -q "general.quantization_version general.file_type quantize.imatrix.file quantize.imatrix.dataset quantize.imatrix.entries_count quantize.imatrix.chunks_count" "$T/tail"
ok $? "quantization_version, file_type and quantize.imatrix.* appended like llama-quantize"
"$PJ" --info --json "$T/out.gguf" > "$T/info.json" 2>/dev/null; ok $? "the output re-opens (--info)"

# ---- --override-kv KEY=TYPE:VALUE (llama-quantize's syntax and writes: int
# as UINT32; each key replaced or added at the end).  The shared deepseek3
# GGUF has no expert_gating_func: llama.cpp would route it with softmax
D=$(M deepseek3)
gw="llama.cpp will route with softmax; the model uses sigmoid: export with --override-kv deepseek2.expert_gating_func=int:2"
"$PJ" --info "$D" | grep -qF "Warning: $gw" && "$PJ" --info --json "$D" | grep -qF "\"$gw\""
ok $? "--info (text and JSON) on deepseek3: expert_gating_func missing, the fix named"
# a folder: the keys are our export's (config.json has no scoring_func)
DH="$PJ_SHARED/models/deepseek3"
"$PJ" --info "$DH" | grep -qF "Warning: $gw" && "$PJ" --info --json "$DH" | grep -qF "\"$gw\""
ok $? "--info (text and JSON) on the deepseek3 folder warns too"
mkdir "$T/ds-sig" && for f in "$DH"/*; do ln -s "$f" "$T/ds-sig/"; done && rm "$T/ds-sig/config.json" &&
	sed 's/^{/{"scoring_func": "sigmoid",/' "$DH/config.json" > "$T/ds-sig/config.json" &&
	{ "$PJ" --info "$T/ds-sig"; "$PJ" --info --json "$T/ds-sig"; } > "$T/i" && ! grep -q "route with softmax" "$T/i" &&
	grep -q "^Model:" "$T/i"
ok $? "... not when its config.json says scoring_func sigmoid (the export writes expert_gating_func)"
{ "$PJ" --info "$(M qwen3moe)"; "$PJ" --info --json "$(M qwen3moe)"; } > "$T/i" && ! grep -q "route with softmax" "$T/i"
ok $? "... no such warning for qwen3moe"
"$PJ" --batch --pure Q8_0 --dry-run "$D" >/dev/null 2>"$T/err" && grep -qF "pajamas-tui: warning: $gw" "$T/err"
ok $? "--batch on deepseek3 warns too"
"$PJ" --batch --pure Q8_0 --override-kv deepseek2.expert_gating_func=int:2 --override-kv general.name=str:ds-sigmoid \
	--override-kv pj.test.f=float:0.5 --override-kv pj.test.b=bool:true -o "$T/ds.gguf" "$D" >/dev/null 2>"$T/err"; rc=$?
"$H" --kv "$T/ds.gguf" > "$T/kv.ds"
[ $rc -eq 0 ] && ! grep -q "route with softmax" "$T/err" &&
	[ "$(tail -n 4 "$T/kv.ds" | cut -d' ' -f1,2 | tr '\n' ' ')" = \
	  "deepseek2.expert_gating_func UINT32 general.name STRING pj.test.f FLOAT32 pj.test.b BOOL " ] &&
	grep -q "^deepseek2.expert_gating_func UINT32 $(printf '\002\000\000\000' | sha256sum | cut -d' ' -f1)$" "$T/kv.ds" &&
	[ "$(grep -c '^general.name ' "$T/kv.ds")" -eq 1 ] && [ "$(grep -c . "$T/kv.ds")" -eq "$(( $("$H" --kv "$D" | grep -c .) + 3 ))" ]
ok $? "--override-kv: keys replaced or added after file_type, in order, typed as llama-quantize; no warning"
"$PJ" --info --json "$T/ds.gguf" | grep -q "route with softmax"; [ $? -eq 1 ]
ok $? "the export with expert_gating_func=int:2 re-opens without the warning"
refused=
for bad in gating 'k=int:-1' 'k=int:2x' 'k=float:' 'k=bool:yes' 'k=u8:1' '=str:x'; do
	"$PJ" --batch --pure Q8_0 --override-kv "$bad" -o "$T/bad.gguf" "$D" >/dev/null 2>"$T/err"; rc=$?
	[ $rc -eq 2 ] && grep -qF -- "--override-kv '$bad'" "$T/err" && [ ! -e "$T/bad.gguf" ] && refused="$refused$bad "
done
[ "$refused" = "gating k=int:-1 k=int:2x k=float: k=bool:yes k=u8:1 =str:x " ]
ok $? "bad --override-kv refused: exit 2, the option and argument named, no file (refused: $refused)"
"$PJ" --override-kv k=int:1 "$D" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "only valid with --batch" "$T/err"; ok $? "--override-kv without --batch: exit 2"

# ---- refusals and failures leave nothing behind
"$PJ" --batch --pure Q8_0 -o "$L" "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "refusing to overwrite the input" "$T/err"; ok $? "OUT == input refused (exit 2)"
ln -s "$L" "$T/link.gguf"
"$PJ" --batch --pure Q8_0 -o "$T/link.gguf" "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ]; ok $? "OUT that is a link to the input refused"
"$PJ" --batch --pure IQ3_XXS -o "$T/iq.gguf" "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "requires an importance matrix" "$T/err" && [ ! -e "$T/iq.gguf" ]
ok $? "IQ3_XXS without --imatrix refused, no file"
"$PJ" --batch --pure IQ1_M --imatrix "$G/llama/imatrix.gguf" -o "$T/w.gguf" "$(M qwen3moe)" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "no importance data for blk.0.ffn_down_exps.weight" "$T/err" && [ ! -e "$T/w.gguf" ]
ok $? "IQ1_M with another model's imatrix: refused before writing, names the tensor"
"$PJ" --batch --pure IQ2_XXS -o "$T/iq.gguf" "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "IQ2_XXS requires an importance matrix" "$T/err" && [ ! -e "$T/iq.gguf" ]
ok $? "IQ2_XXS without --imatrix refused, no file"
# output.weight, token_embd have no importance data: ggml asserts weights for
# IQ1_S, IQ2_XXS, IQ2_XS (llama-quantize aborts): refused from the plan, both
# named with a --rule for each, before a file is opened or a warning given
for ty in IQ1_S IQ2_XS; do
	"$PJ" --batch --pure $ty --imatrix "$G/llama/imatrix.gguf" -o "$T/iq.gguf" "$L" >/dev/null 2>"$T/err"; rc=$?
	[ $rc -eq 1 ] && grep -q "no importance data for output.weight ($ty), token_embd.weight ($ty)" "$T/err" &&
		grep -qF -- "--rule '^output\.weight\$=Q4_K' --rule '^token_embd\.weight\$=Q4_K'" "$T/err" &&
		! grep -q -e unweighted -e "imatrix.*entries" "$T/err" && [ ! -e "$T/iq.gguf" ] && [ -z "$(ls -A "$T" | grep pj-tmp)" ]
	ok $? "$ty for tensors without importance data: exit 1 before writing, names them, suggests --rule"
done
"$PJ" --batch --pure IQ2_XXS --imatrix "$G/qwen3moe/imatrix.gguf" -o "$T/iq.gguf" "$PJ_SHARED/models/qwen3moe" \
	>/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "no importance data for output.weight (IQ2_XXS), token_embd.weight (IQ2_XXS)" "$T/err" &&
	[ ! -e "$T/iq.gguf" ]
ok $? "the same from a Hugging Face folder (GGUF names looked up)"
"$PJ" --batch --pure IQ2_XXS --imatrix "$G/llama/imatrix.gguf" --rule '^output\.weight$=Q5_K' --rule 'token_embd=Q2_K' \
	-o "$T/iq.gguf" "$L" >/dev/null 2>"$T/err" && "$H" "$T/iq.gguf" | awk '{ print $2 }' | sort | uniq -c | tr -s ' ' |
	grep -qx " 28 IQ2_XXS"
ok $? "--pure IQ2_XXS with the imatrix (output, token_embd by rule): 28 IQ2_XXS tensors"
# deepseek3's attn_k_b rows (32) fit no NVFP4 block and NVFP4 has no
# fallback: refused naming every such tensor, unless rules rescue them (the
# shapes are checked after the rules, here and in a plan file)
D=$(M deepseek3)
"$PJ" --batch --pure NVFP4 -o "$T/nv.gguf" "$D" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "blk.0.attn_k_b.weight, blk.1.attn_k_b.weight, blk.2.attn_k_b.weight: rows of 32 are not a multiple of 64 and NVFP4 has no fallback type" "$T/err" &&
	[ ! -e "$T/nv.gguf" ]
ok $? "deepseek3 --pure NVFP4: refused, every attn_k_b named, no file"
"$PJ" --batch --pure NVFP4 --rule '^blk\.[01]\.attn_k_b\.weight$=Q8_0' -o "$T/nv.gguf" "$D" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "^pajamas-tui: blk.2.attn_k_b.weight: rows of 32" "$T/err" && [ ! -e "$T/nv.gguf" ]
ok $? "... a rule for two of the three: the third named, no file"
"$PJ" --batch --pure NVFP4 --rule '^blk\.[0-9]+\.attn_k_b\.weight$=Q8_0' --emit-plan "$T/nv.json" -o "$T/nv.gguf" "$D" \
	>/dev/null 2>"$T/err" && "$H" "$T/nv.gguf" | awk '{ print $2 }' | sort | uniq -c | tr -s ' ' > "$T/types" &&
	grep -qx " 32 NVFP4" "$T/types" && grep -qx " 3 Q8_0" "$T/types" && "$H" "$T/nv.gguf" | grep -q "^blk.1.attn_k_b.weight Q8_0 "
ok $? "... a rule for all three: written, attn_k_b Q8_0, the other 32 quantized tensors NVFP4"
"$PJ" --batch --plan "$T/nv.json" --dry-run "$D" >/dev/null 2>"$T/err"; ok $? "... and its plan file loads"
printf '\001\000\000\000\005\000\000\000blk.0' > "$T/bad.dat"
"$PJ" --batch --pure Q4_K_S --imatrix "$T/bad.dat" -o "$T/b.gguf" "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "bad.dat" "$T/err" && [ ! -e "$T/b.gguf" ]
ok $? "malformed imatrix: exit 1, message names it, no file"
mkdir "$T/ro" && chmod 555 "$T/ro"
if [ "$(id -u)" != 0 ]; then
	"$PJ" --batch --pure Q8_0 -o "$T/ro/o.gguf" "$L" >/dev/null 2>"$T/err"; rc=$?
	[ $rc -eq 3 ] && grep -q "Permission denied" "$T/err" && [ -z "$(ls -A "$T/ro")" ]
	ok $? "output folder not writable: exit 3, says why, folder stays empty"
else
	skip "running as root: a read-only folder is writable"
fi
"$PJ" --batch --pure Q8_0 -o "$T/nodir/o.gguf" "$L" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && grep -q "nodir/o.gguf: cannot create a temporary file" "$T/err" && grep -q "No such file" "$T/err"
ok $? "output folder missing: exit 3, says why"
# a file size limit in the middle of the data: nothing remains
( ulimit -f 200; "$PJ" --batch --pure Q8_0 -o "$T/big.gguf" "$L" >/dev/null 2>"$T/err" ); rc=$?
[ $rc -eq 3 ] && grep -q "file size limit" "$T/err" && [ -z "$(ls -A "$T" | grep -e big.gguf -e pj-tmp)" ]
ok $? "file size limit hit mid-write: exit 3, no partial file"
( ulimit -f 201; PJ_WRITE_STAGE=8192 "$PJ" --batch --pure Q8_0 -o "$T/big.gguf" "$L" >/dev/null 2>"$T/err" ); rc=$?
[ $rc -eq 3 ] && grep -q "file size limit" "$T/err" && [ -z "$(ls -A "$T" | grep -e big.gguf -e pj-tmp)" ]
ok $? "file size limit hit in the writer thread: exit 3, no partial file"
# a NaN in row 20 of output.weight (BF16 0x7fc0 at byte 29152 + 2 * (20 * 256 + 3));
# with 8 KiB staging buffers that row is in the third slice: the row counts
# from the matrix's start all the same
cp "$L" "$T/nan.gguf" && chmod u+w "$T/nan.gguf" && printf '\300\177' | dd of="$T/nan.gguf" bs=1 seek=39398 conv=notrunc 2>/dev/null
for st in "" 8192; do
	PJ_WRITE_STAGE=$st "$PJ" --batch --pure Q8_0 -o "$T/nan-out.gguf" "$T/nan.gguf" >/dev/null 2>"$T/err"; rc=$?
	[ $rc -eq 1 ] && grep -q "output.weight: non-finite value (nan) at row 20, column 3" "$T/err" && [ ! -e "$T/nan-out.gguf" ]
	ok $? "NaN in a BF16 source (staging ${st:-default}): exit 1, names row 20 column 3, no file"
done
# SIGINT during the write: nothing remains
mkdir "$T/sig"
"$PJ" --batch --threads 1 --pure IQ4_XS -o "$T/sig/o.gguf" "$(M qwen3moe)" >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 100 ] && [ -z "$(ls -A "$T/sig")" ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid 2>/dev/null; wait $pid; rc=$?
sleep 0.1
[ -z "$(ls -A "$T/sig")" ]; ok $? "SIGINT during the write leaves no file (exit $rc)"

# ---- an already quantized input is dequantized, with a warning per tensor
run llama Q8_0 Q8_0-pure && mv "$T/out.gguf" "$T/q8.gguf"
"$PJ" --batch --pure Q4_K_S -o "$T/rq.gguf" "$T/q8.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && grep -q "warning: requantizing blk.0.attn_q.weight from Q8_0 to Q4_K" "$T/err" &&
	grep -q "30 requantized" "$T/err"
ok $? "Q8_0 input requantized to Q4_K_S with warnings"
"$H" "$T/rq.gguf" | cut -d' ' -f1,2 > "$T/got"
"$H" --json "$G/llama/Q4_K_S-pure.json" | cut -d' ' -f1,2 > "$T/want"
cmp -s "$T/got" "$T/want"; ok $? "requantized output has the same tensor types as from BF16"

done_testing
