#!/bin/sh
# fixtures.sh - real-shape synthetic checkpoints (pj-fixture / synth.c), read
# back by the readers and reported by `pajamas-tui --info --json`.  TAP.
#
# 1. The generator against ground truth: for every shared tiny model, a
#    fixture built from its config.json holds exactly the tensors (names,
#    dtypes, shapes) of the real model.safetensors and of the converter's
#    GGUF.
# 2. Readers: sharded random fixtures equal the single-file one byte for
#    byte; GGUF fixtures open; the demo model.
# 3. Real configs of large public models as sparse fixtures (no disk use):
#    exact parameter totals checked against the published figures, active
#    parameters of MoE models, and the traits detection must find.
. "$PJ_SRCDIR/tests/lib.sh"

[ -x "$FIXTURE" ] || skip_all "pj-fixture is not built ($FIXTURE)"
[ -x "$PJ" ] || skip_all "pajamas-tui is not built ($PJ)"
have_shared || skip_all "shared test data not found at $PJ_SHARED (set PJ_SHARED): no real configs to build fixtures from"

CFG=$PJ_SHARED/data/configs
MODELS=$PJ_SHARED/models
make_tmp

NAME=
INFO=/dev/null
jget() { "$FIXTURE" --json-get "$1" "$INFO" 2>/dev/null; }

expect() { # expect KEY VALUE: the current --info JSON has VALUE at KEY
	v=$(jget "$1")
	if [ "$v" = "$2" ]; then
		ok 0 "$NAME: $1 = $2"
	else
		ok 1 "$NAME: $1 = $2"
		diag "  got '$v'"
	fi
}

has_trait() { # has_trait TRAIT [no]: TRAIT is (or with "no", is not) listed
	if jget arch.traits | grep -qx "$1"; then r=0; else r=1; fi
	if [ "${2:-}" = no ]; then r=$((1 - r)); d="$NAME: not $1"; else d="$NAME: trait $1"; fi
	ok $r "$d"
	[ $r -eq 0 ] || diag "  traits: $(jget arch.traits | tr '\n' ' ')"
}

info() { # info NAME CONFIG [pj-fixture option]...: sparse HF fixture -> --info --json
	NAME=$1
	cfg=$2
	shift 2
	rm -rf "$T/fix"
	INFO=$T/$NAME.json
	if "$FIXTURE" --config "$CFG/$cfg" --out "$T/fix" --sparse "$@" 2>"$T/err" &&
	   "$PJ" --info --json "$T/fix" >"$INFO" 2>"$T/err"; then
		ok 0 "$NAME: sparse fixture from $cfg opens (--info --json)"
	else
		ok 1 "$NAME: sparse fixture from $cfg opens (--info --json)"
		diag "  $(head -c 600 "$T/err")"
		INFO=/dev/null
	fi
}

# ---- the command line ------------------------------------------------------
"$FIXTURE" --help >"$T/help" 2>&1
ok $? "pj-fixture --help exits 0"
grep -q '^Usage: pj-fixture' "$T/help"
ok $? "pj-fixture --help prints the usage"
"$FIXTURE" >/dev/null 2>&1
ok $([ $? -eq 2 ] && echo 0 || echo 1) "pj-fixture without arguments exits 2"
"$FIXTURE" --config "$CFG/llama-3.1-8b-instruct.json" --out "$T/x" --shards 0 >/dev/null 2>&1
ok $([ $? -eq 2 ] && echo 0 || echo 1) "pj-fixture --shards 0 exits 2"
printf '{"model_type": "bogus_lm", "hidden_size": 8}\n' >"$T/bogus.json"
"$FIXTURE" --config "$T/bogus.json" --out "$T/bogus" 2>"$T/err"
rc=$?
ok $([ $rc -eq 1 ] && grep -q "bogus.json.*bogus_lm" "$T/err" && echo 0 || echo 1) \
	"unsupported model_type: exit 1, message names the config file and the type"
"$FIXTURE" --config "$CFG/mixtral-8x7b-v0.1.json" --out "$T/m.gguf" --gguf 2>"$T/err"
ok $([ $? -eq 1 ] && grep -q "GGUF output is not available" "$T/err" && echo 0 || echo 1) \
	"GGUF output for an architecture without a GGUF table fails clearly"

out=$(printf '{"a": {"b": [7, "x"], "n": 684489845504}}' | "$FIXTURE" --json-get a.b -)
ok $([ "$out" = "$(printf '7\nx')" ] && echo 0 || echo 1) "--json-get prints an array one item per line"
out=$(printf '{"a": {"b": [7, "x"], "n": 684489845504}}' | "$FIXTURE" --json-get a.n -)
ok $([ "$out" = 684489845504 ] && echo 0 || echo 1) "--json-get prints large integers exactly"
printf '{"a": 1}' | "$FIXTURE" --json-get a.b - >/dev/null 2>&1
ok $([ $? -eq 1 ] && echo 0 || echo 1) "--json-get of a missing key exits 1"

# ---- 1. ground truth: the shared tiny models --------------------------------
for m in llama qwen3 qwen3moe gemma3 deepseek3 random-gemma3mm random-llava random-mixtral \
         random-qwen2vl random-t5; do
	rm -rf "$T/gt"
	if "$FIXTURE" --config "$MODELS/$m/config.json" --out "$T/gt" --sparse 2>"$T/err" &&
	   "$FIXTURE" --compare "$T/gt" "$MODELS/$m" --headers-only 2>"$T/err"; then
		ok 0 "$m: fixture from config.json has the real checkpoint's tensors"
	else
		ok 1 "$m: fixture from config.json has the real checkpoint's tensors"
		diag "  $(head -c 600 "$T/err")"
	fi
done
for m in llama qwen3 qwen3moe gemma3 deepseek3; do
	if "$FIXTURE" --config "$MODELS/$m/config.json" --out "$T/$m.gguf" --gguf --sparse 2>"$T/err" &&
	   "$FIXTURE" --compare "$T/$m.gguf" "$MODELS/$m/gguf/$m-BF16.gguf" --headers-only 2>"$T/err"; then
		ok 0 "$m: GGUF fixture has the converter's tensors (names, types, ggml shapes)"
	else
		ok 1 "$m: GGUF fixture has the converter's tensors (names, types, ggml shapes)"
		diag "  $(head -c 600 "$T/err")"
	fi
	rm -f "$T/$m.gguf"
done

# ---- 2. readers on random (non-sparse) fixtures ------------------------------
tiny=$MODELS/qwen3moe/config.json
"$FIXTURE" --config "$tiny" --out "$T/one" --seed 7 2>"$T/err"
ok $? "random 1-shard fixture written"
"$FIXTURE" --config "$tiny" --out "$T/four" --seed 7 --shards 4 2>"$T/err"
ok $? "random 4-shard fixture written"
n=$(ls "$T/four" | grep -c '^model-0000[1-4]-of-00004\.safetensors$')
ok $([ "$n" -eq 4 ] && [ -f "$T/four/model.safetensors.index.json" ] && echo 0 || echo 1) \
	"4 shards named model-0000N-of-00004.safetensors plus the index"
"$FIXTURE" --compare "$T/one" "$T/four" 2>"$T/err"
rc=$?
ok $rc "the 4-shard fixture opens and equals the 1-shard one, data included"
[ $rc -eq 0 ] || diag "  $(head -c 600 "$T/err")"
"$FIXTURE" --config "$tiny" --out "$T/again" --seed 7 2>/dev/null &&
	cmp -s "$T/one/model.safetensors" "$T/again/model.safetensors"
ok $? "same seed, same bytes"
"$FIXTURE" --config "$tiny" --out "$T/other" --seed 8 2>/dev/null
cmp -s "$T/one/model.safetensors" "$T/other/model.safetensors"
ok $([ $? -eq 1 ] && echo 0 || echo 1) "another seed, other bytes"
"$FIXTURE" --compare "$T/one" "$T/other" --headers-only 2>/dev/null
ok $? "...but the same tensors"
rm -rf "$T/again" "$T/other" "$T/four"

"$FIXTURE" --config "$MODELS/llama/config.json" --out "$T/llama.gguf" --gguf --seed 3 2>"$T/err" &&
	"$PJ" --info --json "$T/llama.gguf" >"$T/g.json" 2>"$T/err"
ok $? "a random tiny GGUF fixture opens (--info --json)"
NAME=llama.gguf INFO=$T/g.json
expect model.format gguf
expect model.tensors 39
expect arch.model_type llama
"$FIXTURE" --config "$MODELS/llama/config.json" --out "$T/llama-f32.gguf" --gguf --dtype F32 2>/dev/null &&
	"$PJ" --info --json "$T/llama-f32.gguf" >/dev/null 2>&1
ok $? "an F32 GGUF fixture opens"
rm -f "$T"/*.gguf

"$FIXTURE" --config "$MODELS/llama/config.json" --out "$T/f8" --dtype F8_E4M3 --seed 1 2>/dev/null &&
	"$PJ" --info --json "$T/f8" >"$T/f8.json" 2>"$T/err"
ok $? "an F8_E4M3 fixture with block scales opens"
NAME=llama-f8 INFO=$T/f8.json
expect params.total 3672320
rm -rf "$T/f8" "$T/one"

# ---- the demo ----------------------------------------------------------------
"$FIXTURE" --demo "$T/demo" 2>"$T/err"
ok $? "pj-fixture --demo writes the demo"
kb=$(du -sk "$T/demo" | cut -f1)
ok $([ "$kb" -lt 30720 ] && echo 0 || echo 1) "demo is under 30 MB ($kb KiB)"
ls "$T" | grep -q "^demo\.tmp"
ok $([ $? -eq 1 ] && echo 0 || echo 1) "no temporary folder is left behind"
touch "$T/demo/marker"
"$FIXTURE" --demo "$T/demo" 2>/dev/null && [ -f "$T/demo/marker" ]
ok $? "an existing demo is left alone"
"$PJ" --info --json "$T/demo" >"$T/demo.json" 2>"$T/err"
ok $? "demo opens (--info --json)"
NAME=demo INFO=$T/demo.json
expect arch.model_type qwen3_moe
expect arch.moe.experts 8
expect arch.moe.active 2
expect arch.n_layers 4
has_trait moe
rm -rf "$T/demo"

# ---- 3. real configs as sparse fixtures ---------------------------------------
# Published totals are the Hugging Face safetensors parameter counts / model
# cards.  Active parameters here are the report's definition: total minus the
# routed experts a token does not use (embeddings included).

# meta-llama/Llama-3.1-8B-Instruct: 8,030,261,248 (HF safetensors count, "8.03B").
info llama-3.1-8b llama-3.1-8b-instruct.json
expect params.total 8030261248
expect params.active 8030261248
expect arch.n_layers 32
expect arch.kv_heads 8
expect arch.vocab 128256
has_trait gqa
has_trait moe no
expect arch.family dense_decoder

# Qwen/Qwen3-8B: 8,190,735,360 ("8.19B"; model card: 8.2B).
info qwen3-8b qwen3-8b.json
expect params.total 8190735360
expect arch.n_layers 36
expect arch.head_dim 128
has_trait gqa
expect arch.family dense_decoder

# Qwen/Qwen3-30B-A3B: 30,532,122,624 ("30.5B"); card: 3.3B activated =
# 30,532,122,624 - 48 layers x 120/128 of 128 x 3 x 2048 x 768.
info qwen3-30b-a3b qwen3-30b-a3b.json
expect params.total 30532122624
expect params.active 3353032704
expect arch.moe.experts 128
expect arch.moe.active 8
expect arch.moe.moe_layers 48
has_trait moe
has_trait gqa
expect arch.family moe

# Qwen/Qwen3-235B-A22B: 235,093,634,560 ("235B"); card: 22B activated.
info qwen3-235b-a22b qwen3-235b-a22b.json
expect params.total 235093634560
expect params.active 22190763520
expect arch.n_layers 94
expect arch.moe.experts 128
expect arch.family moe

# deepseek-ai/DeepSeek-V3, as released: FP8 E4M3 weights with 128x128 block
# scales (weight_scale_inv, F32, not parameters), 163 shards named
# model-000NN-of-000163.safetensors, 91,991 tensors.  The card's 685B is
# 671B main model + 14B MTP module: here 671,026,419,200 for embeddings,
# layers 0-60, norm and lm_head, plus 13,463,426,304 for model.layers.61
# (MTP: a MoE layer, eh_proj, enorm/hnorm, and its own copies of
# embed_tokens and shared_head.head that the loader ties) = 684,489,845,504.
# HF's "685B" counts the 41,540,496 scale elements too (684,531,386,000).
# The files' sizes sum to 688,586,378,176 bytes; the real repo's weight files
# total 688,586,727,753 (3.8 bytes per tensor more: header text).  Active:
# 59 MoE layers (3..61) each skip 248 of 256 experts of 3 x 7168 x 2048;
# DeepSeek's 37B activated counts the main model without the MTP layer.
info deepseek-v3 deepseek-v3.json --shards 163 --shard-digits 6
expect model.files 163
expect model.tensors 91991
expect params.total 684489845504
expect params.active 40093756160
expect arch.n_layers 61
expect arch.moe.experts 256
expect arch.moe.active 8
expect arch.moe.shared 1
expect arch.moe.first_dense 3
expect arch.mla.q_lora_rank 1536
expect arch.mla.kv_lora_rank 512
expect arch.mla.rope_dim 64
has_trait moe
has_trait mla
expect arch.family moe
[ -f "$T/fix/model-00163-of-000163.safetensors" ]
ok $? "deepseek-v3: last shard is model-00163-of-000163.safetensors"
kb=$(du -sk "$T/fix" | cut -f1)
ok $([ "$kb" -lt 65536 ] && echo 0 || echo 1) "deepseek-v3: sparse fixture uses $kb KiB of disk for 641 GiB of tensors"

# google/gemma-3-1b-it: 999,885,952 ("1B").  5 local : 1 global, window 512,
# one KV head.
info gemma-3-1b gemma-3-1b-it.json
expect params.total 999885952
expect arch.n_layers 26
expect arch.hybrid.window 512
expect arch.hybrid.local_layers 22
expect arch.hybrid.global_layers 4
has_trait hybrid_attention
has_trait mqa
expect arch.family hybrid_attention

# google/gemma-3-27b-it: 27,432,406,640 ("27.4B"): language model (vocab
# 262,208, the config class default) + SigLIP tower (27 layers, no pooling
# head) + projector, embeddings tied.
info gemma-3-27b gemma-3-27b-it.json
expect params.total 27432406640
expect arch.n_layers 62
expect arch.vocab 262208
expect arch.hybrid.window 1024
expect arch.hybrid.global_layers 10
expect arch.vision.layers 27
expect arch.vision.hidden 1152
has_trait multimodal
has_trait hybrid_attention
expect arch.family hybrid_attention

# mistralai/Mixtral-8x7B-v0.1: 46,702,792,704 ("46.7B"); card: 12.9B active.
info mixtral-8x7b mixtral-8x7b-v0.1.json
expect params.total 46702792704
expect params.active 12879925248
expect arch.moe.experts 8
expect arch.moe.active 2
has_trait moe
expect arch.family moe

# Qwen/Qwen2.5-VL-7B-Instruct: 8,292,166,656 ("8.29B").
info qwen2.5-vl-7b qwen2.5-vl-7b-instruct.json
expect params.total 8292166656
expect arch.n_layers 28
expect arch.vision.layers 32
expect arch.vision.hidden 1280
has_trait multimodal
has_trait gqa
expect arch.family multimodal

# google/flan-t5-base: 247,577,856 ("248M"), F32 like the hub file, untied
# lm_head.
info flan-t5-base flan-t5-base.json
expect params.total 247577856
expect arch.encoder_layers 12
expect arch.decoder_layers 12
has_trait encoder_decoder
expect arch.family encoder_decoder

# openai/gpt-oss-20b: model card 20.91B total, 3.61B active.  Here the
# transformers bf16 layout (MXFP4 experts dequantized): 20,914,757,184;
# active 4,187,440,704 = 3,608,307,264 (the card's, which leaves out the
# input embedding) + 579,133,440 (embed_tokens).
info gpt-oss-20b gpt-oss-20b.json
expect params.total 20914757184
expect params.active 4187440704
expect arch.moe.experts 32
expect arch.moe.active 4
expect arch.hybrid.window 128
has_trait moe
has_trait hybrid_attention
expect arch.family moe

# The same model in its release layout (--dtype MXFP4: expert matrices as
# U8 *_blocks holding two 4-bit values per byte, E8M0 *_scales that are not
# parameters): the same counts, and 12.82 GiB of tensors like the card's
# 12.8 GiB checkpoint.
info gpt-oss-20b-mxfp4 gpt-oss-20b.json --dtype MXFP4
expect model.tensors 459
expect params.total 20914757184
expect params.active 4187440704
expect size.source_bytes 13761264768

# Qwen/Qwen3.5-9B ("9B"; HF rounds the multimodal checkpoint to 10B):
# 9,653,104,368 = 8,953,803,264 language model (the 8.95B that text-only
# GGUF conversions report) + 456,010,480 vision tower + 243,290,624 MTP
# block.  24 Gated DeltaNet layers, 8 gated full-attention layers.
info qwen3.5-9b qwen3.5-9b.json
expect params.total 9653104368
expect arch.n_layers 32
expect arch.hybrid.linear_layers 24
has_trait linear_attention
has_trait multimodal

# ---- the same real configs as GGUF (llama.cpp's layout) -----------------------
ginfo() { # ginfo NAME CONFIG: sparse GGUF fixture -> --info --json
	NAME=$1
	rm -f "$T/fix.gguf"
	INFO=$T/$NAME.json
	if "$FIXTURE" --config "$CFG/$2" --out "$T/fix.gguf" --gguf --sparse 2>"$T/err" &&
	   "$PJ" --info --json "$T/fix.gguf" >"$INFO" 2>"$T/err"; then
		ok 0 "$NAME: sparse GGUF fixture from $2 opens (--info --json)"
	else
		ok 1 "$NAME: sparse GGUF fixture from $2 opens (--info --json)"
		diag "  $(head -c 600 "$T/err")"
		INFO=/dev/null
	fi
}
# 292 tensors like llama.cpp's own conversions: rope_freqs.weight (64 F32
# factors of the llama3 rope scaling) comes on top, and llama.cpp's
# "model params" count includes it: 8,030,261,312.
ginfo llama-3.1-8b.gguf llama-3.1-8b-instruct.json
expect params.total 8030261312
expect model.tensors 292
ginfo qwen3-30b-a3b.gguf qwen3-30b-a3b.json
expect params.total 30532122624
expect params.active 3353032704
expect model.tensors 579
# The text model only (llama.cpp puts the vision tower in an mmproj file):
# 27,432,406,640 less the SigLIP tower and projector.
ginfo gemma-3-27b.gguf gemma-3-27b-it.json
expect params.total 27009346304
expect arch.hybrid.global_layers 10
# Dequantized to BF16 and without the MTP layer, as convert_hf_to_gguf.py
# writes it: exactly DeepSeek's 671B main model, and its 37B activated
# (37,552,297,472 = 36.6B "including the 0.9B output head" + 0.9B input
# embedding).
ginfo deepseek-v3.gguf deepseek-v3.json
expect params.total 671026419200
expect params.active 37552297472
has_trait mla
rm -f "$T/fix.gguf"

done_testing
