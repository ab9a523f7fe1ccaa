#!/bin/sh
# test_hf2gguf.sh - exporting a Hugging Face folder (config.json, safetensors,
# tokenizer) to GGUF with `--batch --pure TYPE`, against llama.cpp's own files:
#  - --pure BF16 writes exactly the converter's file: convert_hf_to_gguf.py
#    --outtype bf16 made ../shared/models/<m>/gguf/<m>-BF16.gguf, and ours is
#    the same bytes (metadata keys, values and types, tensor names, shapes,
#    types, order and data), checked part by part and then as a whole;
#  - --pure Q4_K_S / Q8_0 / IQ4_XS (and Q6_K with an imatrix) from the HF
#    folder give llama-quantize's tensors for the converter's file
#    (golden/<m>/*.json), and the whole file equals our export from that GGUF;
#  - SentencePiece vocabularies: a synthetic tokenizer.model built here.
# general.name comes from the folder name as the converter derives it
# ("llama" -> "Llama"), so the model folders are used under their own names.
. "$PJ_SRCDIR/tests/lib.sh"
make_tmp
H="$PJ_BUILDDIR/tests/gguf_hashes"
D="$PJ_BUILDDIR/tests/gguf_dump"

if ! have_shared; then
	skip "shared models absent ($PJ_SHARED): HF export oracle checks not run"
	done_testing
fi
S="$PJ_SHARED/models"
G="$PJ_SHARED/golden"

# same FILE-A FILE-B WHAT: equal helper output, else the first differences
same() {
	if cmp -s "$1" "$2"; then return 0; fi
	diff "$1" "$2" | head -6 | sed 's/^/#   /'
	return 1
}

for m in llama qwen3 qwen3moe gemma3 deepseek3; do
	ref="$S/$m/gguf/$m-BF16.gguf"
	out="$T/$m-BF16.gguf"
	"$PJ" --batch --threads 2 --pure BF16 -o "$out" "$S/$m" 2>"$T/err"
	rc=$?
	[ $rc -eq 0 ] || sed 's/^/#   /' "$T/err" | tail -3
	ok $rc "$m: --batch --pure BF16 from the HF folder"
	"$D" "$ref" > "$T/kv.want" && "$D" "$out" > "$T/kv.got" && same "$T/kv.want" "$T/kv.got"
	ok $? "$m: metadata keys, types and values equal the converter's, in its order"
	"$H" --kv "$ref" > "$T/kvh.want" && "$H" --kv "$out" > "$T/kvh.got" && same "$T/kvh.want" "$T/kvh.got"
	ok $? "$m: metadata bytes (every token, merge and type) equal the converter's"
	"$D" --tensors "$ref" > "$T/t.want" && "$D" --tensors "$out" > "$T/t.got" && same "$T/t.want" "$T/t.got"
	ok $? "$m: tensor names, types, ggml shapes and order equal the converter's"
	"$H" "$ref" > "$T/h.want" && "$H" "$out" > "$T/h.got" && same "$T/h.want" "$T/h.got"
	ok $? "$m: tensor data SHA-256 equal the converter's"
	cmp -s "$ref" "$out"
	ok $? "$m: the whole file is byte-identical to convert_hf_to_gguf.py --outtype bf16"
done

# quantized from HF: llama-quantize's tensors for the converter's file
# qrun MODEL TYPE LABEL [imatrix]
qrun() {
	m=$1 ty=$2 label=$3 im=$4
	rm -f "$T/q.gguf" "$T/g.gguf"
	set -- --batch --threads 2 --pure "$ty"
	[ -n "$im" ] && set -- "$@" --imatrix "$im"
	"$PJ" "$@" -o "$T/q.gguf" "$S/$m" 2>"$T/err" || { sed 's/^/#   /' "$T/err" | tail -3; return 1; }
	"$H" --json "$G/$m/$label.json" > "$T/want" && "$H" "$T/q.gguf" > "$T/got" && same "$T/want" "$T/got" || return 1
	"$PJ" "$@" -o "$T/g.gguf" "$S/$m/gguf/$m-BF16.gguf" 2>/dev/null && cmp -s "$T/q.gguf" "$T/g.gguf"
}
for m in llama qwen3 qwen3moe gemma3 deepseek3; do
	qrun $m Q4_K_S Q4_K_S-pure; ok $? "$m: HF --pure Q4_K_S equals golden Q4_K_S-pure; file equals the GGUF path's"
	qrun $m Q8_0 Q8_0-pure; ok $? "$m: HF --pure Q8_0 equals golden Q8_0-pure; file equals the GGUF path's"
done
qrun llama IQ4_XS IQ4_XS-pure; ok $? "llama: HF --pure IQ4_XS equals golden IQ4_XS-pure"
qrun qwen3moe Q6_K Q6_K-pure-imat "$G/qwen3moe/imatrix.gguf"
ok $? "qwen3moe: HF --pure Q6_K --imatrix equals golden Q6_K-pure-imat"
qrun deepseek3 Q5_K_S Q5_K_S-pure; ok $? "deepseek3: HF --pure Q5_K_S (MLA k_b/v_b, stacked experts) equals golden"

# ---- SentencePiece: a synthetic tokenizer.model beside llama's weights
sp="$T/spm-model"
mkdir -p "$sp"
cp "$S/llama/config.json" "$sp/"
ln -s "$S/llama/model.safetensors" "$sp/model.safetensors"
# pieces: <unk> (unknown), <s>, </s> (control), a trainer_spec field to skip,
# "▁the" (-1.5), <0x0A> (byte), "▁user" (user-defined: the converter says normal)
printf '\012\016\012\005\074\165\156\153\076\025\000\000\000\000\030\002\012\014\012\003\074\163\076\025\000\000\000\000\030\003\012\015\012\004\074\057\163\076\025\000\000\000\000\030\003\022\002\010\001\012\017\012\006\342\226\201\164\150\145\025\000\000\300\277\030\001\012\017\012\006\074\060\170\060\101\076\025\000\000\000\000\030\006\012\020\012\007\342\226\201\165\163\145\162\025\000\000\000\300\030\004' > "$sp/tokenizer.model"
printf '{"add_bos_token": true, "add_eos_token": false, "chat_template": "{{ x }}"}\n' > "$sp/tokenizer_config.json"
"$PJ" --batch --pure BF16 -o "$T/spm.gguf" "$sp" 2>"$T/err"
ok $? "SPM: export with tokenizer.model"
"$D" "$T/spm.gguf" | grep '^tokenizer' > "$T/spm.got"
cat > "$T/spm.want" <<'X'
tokenizer.ggml.model STRING "llama"
tokenizer.ggml.pre STRING "default"
tokenizer.ggml.tokens ARRAY[STRING] n=1024 "<unk>" "<s>" "</s>" "▁the"
tokenizer.ggml.scores ARRAY[FLOAT32] n=1024 0 0 0 -1.5
tokenizer.ggml.token_type ARRAY[INT32] n=1024 2 3 3 1
tokenizer.ggml.bos_token_id UINT32 0
tokenizer.ggml.eos_token_id UINT32 0
tokenizer.ggml.padding_token_id UINT32 0
tokenizer.ggml.add_bos_token BOOL true
tokenizer.ggml.add_eos_token BOOL false
tokenizer.chat_template STRING "{{ x }}"
X
same "$T/spm.want" "$T/spm.got"
ok $? "SPM: model llama, pre default, pieces, scores, types, special ids, add_bos/eos, chat template"
"$D" "$T/spm.gguf" > "$T/spm.all"
grep -q '^general.name STRING "Spm Model"$' "$T/spm.all"
ok $? "general.name from the folder name, as the converter titles it (spm-model -> Spm Model)"

# ---- refusals
mkdir -p "$T/t5"
cp "$S/random-t5/config.json" "$T/t5/" 2>/dev/null
for f in "$S"/random-t5/*.safetensors; do ln -s "$f" "$T/t5/"; done
"$PJ" --batch --pure BF16 -o "$T/t5.gguf" "$T/t5" >/dev/null 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && grep -q "not supported" "$T/err" && [ ! -e "$T/t5.gguf" ]
ok $? "an architecture the converter path does not cover is refused, nothing written"
done_testing
