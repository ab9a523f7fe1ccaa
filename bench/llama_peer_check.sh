#!/bin/sh
# bench/llama_peer_check.sh - check pajamas-tui against a llama.cpp build.
#
# 1. Load checks: every GGUF pajamas-tui exports (HF folder -> BF16 and
#    Q4_K_M; BF16 GGUF -> Q4_K_M, auto, arch-aware presets, --pure TQ1_0,
#    TQ2_0, NVFP4, IQ2_XXS/IQ2_XS/IQ2_S/IQ1_S with the shared imatrix,
#    MXFP4_MOE on MoE models, Q4_K_M with anchored --rule edits) is loaded by
#    llama-simple and generates greedily.  Each plan exported from the GGUF
#    is also written by llama-quantize --tensor-type-file (from
#    --emit-tensor-type-file) and compared per tensor (type + SHA-256); the
#    folder exports are compared with the GGUF ones.  llama-quantize's own
#    Q4_K_M must give the same bytes and the same greedy text as ours.
#    The random-* folders are exported (BF16, Q4_K_M) and loaded too.
# 2. PPL/KLD agreement on data/eval.txt, --ctx/-c CTX, CHUNKS chunks:
#    llama-perplexity on the BF16 GGUF vs `--batch --pure BF16 --check`, and
#    llama-perplexity --kl-divergence on llama-quantize's Q4_K_M vs
#    `--batch --preset Q4_K_M --check`.
#
# It never builds llama.cpp: LLAMA_BIN names a built tree's bin folder
# (llama-quantize, llama-simple, llama-perplexity).
#
# usage: LLAMA_BIN=/path/to/llama.cpp/build/bin bench/llama_peer_check.sh [WORKDIR]
#   env: BUILD (configured, built pajamas-tui tree; default /tmp/b-peer),
#        PJ_SHARED, THREADS (2), CTX (256), CHUNKS (8), MODELS, PARTS ("load ppl")
# Output: WORKDIR/load.tsv, WORKDIR/ppl.tsv and the logs beside them.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
: "${LLAMA_BIN:?set LLAMA_BIN to the bin folder of a llama.cpp build}"
build=${BUILD:-/tmp/b-peer}
work=${1:-/tmp/pj-llama-peer}
shared=${PJ_SHARED:-$src/../shared}
threads=${THREADS:-2}
ctx=${CTX:-256}
chunks=${CHUNKS:-8}
models=${MODELS:-llama qwen3 qwen3moe gemma3 deepseek3}
parts=${PARTS:-load ppl}
pj=$build/pajamas-tui
hashes=$build/tests/gguf_hashes
prompt="The jury said"
eval_txt=$shared/data/eval.txt
mkdir -p "$work"
(cd "$build" && make -s pajamas-tui tests/gguf_hashes >/dev/null)

presets_of() {
	case $1 in
	llama|qwen3) echo "dense-q4 dense-q3" ;;
	qwen3moe) echo "moe-mxfp4 moe-small" ;;
	gemma3) echo "hybrid-q8 hybrid-small" ;;
	deepseek3) echo "mla-balanced moe-small" ;;
	esac
}

# run LABEL: greedy generation of 16 tokens; sets $load (rc) and $text
gen() {
	if nice "$LLAMA_BIN/llama-simple" -m "$1" -n 16 "$prompt" \
	    >"$1.gen" 2>"$1.gen.err"; then load=ok; else load="FAIL($?)"; fi
	text=$(tr '\n\t' '  ' <"$1.gen" | cut -c1-90)
}

# same FILE_A FILE_B: per-tensor type + SHA-256 equal?
same() {
	"$hashes" "$1" | sort >"$1.h" && "$hashes" "$2" | sort >"$2.h" &&
	    cmp -s "$1.h" "$2.h"
}

row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$work/load.tsv"; }

# export M LABEL SOURCE [pajamas-tui options]: ours, then llama-quantize's
# file from the emitted tensor-type file, compared, both loaded.
export_one() {
	em=$1 label=$2 from=$3; shift 3
	out=$work/$em/$label.gguf
	tt=$work/$em/$label.tt
	if [ -d "$from" ]; then
		set -- "$@" -o "$out" "$from"
	else
		set -- "$@" --emit-tensor-type-file "$tt" -o "$out" "$from"
	fi
	if ! nice "$pj" --batch -j "$threads" "$@" >"$out.log" 2>&1; then
		er="export FAIL"; ! grep -q 'is not supported' "$out.log" || er=unsupported
		row "$em" "$label" "$er" - - "$(grep -v '%' "$out.log" | tail -1)"
		return 0
	fi
	peer=-
	if [ -s "$tt" ]; then
		ftype=$(grep -A1 'reproduces this plan' "$out.log" | tail -1 | awk '{print $NF}')
		eimat=$(grep -A1 'reproduces this plan' "$out.log" | tail -1 |
		    sed -n 's/.*--imatrix \([^ ]*\).*/--imatrix \1/p')
		# llama-quantize has no NVFP4 ftype (only --tensor-type): every
		# tensor is named in the file, so any base ftype does
		[ "$ftype" != NVFP4 ] || ftype=Q8_0
		# shellcheck disable=SC2086
		if nice "$LLAMA_BIN/llama-quantize" --tensor-type-file "$tt" $eimat \
		    "$from" "$out.peer" "$ftype" "$threads" >"$out.peer.log" 2>&1; then
			if same "$out" "$out.peer"; then peer="identical"
			else peer="DIFF($(diff "$out.h" "$out.peer.h" | grep -c '^<') tensors)"; fi
		else
			peer="llama-quantize FAIL"
		fi
	fi
	gen "$out"
	row "$em" "$label" "$(du -k "$out" | cut -f1) KiB" "$peer" "$load" "$text"
}

if echo "$parts" | grep -q load; then
	printf 'model\tlabel\texport\tllama-quantize --tensor-type-file\tllama-simple\tgreedy text (16 tokens)\n' >"$work/load.tsv"
	for m in $models; do
		mkdir -p "$work/$m"
		g=$shared/models/$m/gguf/$m-BF16.gguf
		imat=$shared/golden/$m/imatrix.gguf
		keep="--rule ^output\.weight\$=Q4_K --rule ^token_embd\.weight\$=Q4_K"
		export_one "$m" hf-BF16 "$shared/models/$m" --pure BF16
		export_one "$m" hf-Q4_K_M "$shared/models/$m" --preset Q4_K_M
		export_one "$m" Q4_K_M "$g" --preset Q4_K_M
		export_one "$m" auto "$g" --preset auto
		for p in $(presets_of "$m"); do export_one "$m" "$p" "$g" --preset "$p"; done
		for t in TQ1_0 TQ2_0 NVFP4; do export_one "$m" "$t" "$g" --pure $t; done
		# DeepSeek's attn_k_b rows (32) fit no NVFP4 block, which has no fallback
		[ "$m" != deepseek3 ] || export_one "$m" NVFP4-kb-Q8_0 "$g" --pure NVFP4 \
		    --rule '^blk\.[0-9]+\.attn_k_b\.weight$=Q8_0'
		for t in IQ2_XXS IQ2_XS IQ2_S IQ1_S; do
			# shellcheck disable=SC2086
			export_one "$m" "$t-imat" "$g" --pure $t --imatrix "$imat" $keep
		done
		case $m in qwen3moe|deepseek3)
			export_one "$m" MXFP4_MOE "$g" --preset MXFP4_MOE ;;
		esac
		export_one "$m" Q4_K_M-rules "$g" --preset Q4_K_M \
		    --rule '^blk\.0\.attn_v\.weight$=Q8_0' \
		    --rule '^blk\.[12]\.ffn_down(_exps)?\.weight$=Q5_K' \
		    --rule '^output\.weight$=Q8_0'
		# folder exports equal the GGUF ones?
		for p in BF16:hf-BF16 Q4_K_M:hf-Q4_K_M; do
			a=$work/$m/${p#*:}.gguf
			b=$g; [ "${p%%:*}" = BF16 ] || b=$work/$m/Q4_K_M.gguf
			if [ -s "$a" ] && same "$a" "$b"; then r=identical; else r=DIFF; fi
			row "$m" "${p#*:} vs $(basename "$b")" - "$r" - -
		done
		# llama-quantize's own Q4_K_M: same bytes, same greedy text
		lq=$work/$m/lq-Q4_K_M.gguf
		nice "$LLAMA_BIN/llama-quantize" "$g" "$lq" Q4_K_M "$threads" >"$lq.log" 2>&1
		if same "$work/$m/Q4_K_M.gguf" "$lq"; then r=identical; else r=DIFF; fi
		gen "$lq"
		if cmp -s "$lq.gen" "$work/$m/Q4_K_M.gguf.gen"; then t="same text as ours"
		else t="TEXT DIFFERS: $text"; fi
		row "$m" "llama-quantize Q4_K_M" "$(du -k "$lq" | cut -f1) KiB" "$r" "$load" "$t"
	done
	for r in mixtral llava gemma3mm qwen2vl t5; do
		mkdir -p "$work/random-$r"
		export_one "random-$r" BF16 "$shared/models/random-$r" --pure BF16
		export_one "random-$r" hf-Q4_K_M "$shared/models/random-$r" --preset Q4_K_M
		[ ! -s "$work/random-$r/BF16.gguf" ] || export_one "random-$r" Q4_K_M \
		    "$work/random-$r/BF16.gguf" --preset Q4_K_M
	done
fi

# lperp LOG ARGS...: llama-perplexity, stdout to LOG.out, stderr to LOG.err.
# On this machine it sometimes exits 0 with the end of its log lost (the
# final estimate or the KLD statistics missing): retried up to 3 times.
lperp() {
	o=$1; shift
	for try in 1 2 3; do
		: >"$o.out"; : >"$o.err"
		nice "$LLAMA_BIN/llama-perplexity" -f "$eval_txt" -c "$ctx" --chunks "$chunks" \
		    -t "$threads" "$@" >>"$o.out" 2>>"$o.err" || true
		! cat "$o.out" "$o.err" | grep -q -e 'Final estimate' -e 'Same top p' || return 0
		echo "llama-perplexity $o: log cut short (try $try)" >&2
	done
}
# figure after PATTERN in llama-perplexity's logs / in our JSON
lp() { cat "$1.out" "$1.err" | sed -n "s/.*$2[^0-9]*\([0-9.]*\).*/\1/p" | tail -1; }
js() { sed -n "s/.*\"$2\":[^0-9]*\([0-9.e+-]*\).*/\1/p" "$1" | head -1; }
# transformers' fp32 PPL over the positions llama-perplexity scores, from
# reference/nll_f32.bin ([8][255] NLL of token t+1; ctx 256, 8 chunks only)
ref_ppl() {
	if [ "$ctx" = 256 ] && [ "$chunks" = 8 ] && [ -s "$1" ]; then
		od -An -v -t f4 -w4 "$1" | awk '{ if ((NR - 1) % 255 >= 128) { s += $1; k++ } }
		    END { printf "%.4f", exp(s / k) }'
	else
		echo 0
	fi
}
rel() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f%%", (a - b) / b * 100 }'; }

if echo "$parts" | grep -q ppl; then
	printf 'model\tPPL peer (BF16)\tours\tdiff\ttransformers fp32\tPPL(Q4_K_M) peer\tours\tdiff\tmean KLD peer\tours\ttop-1 peer\tours\n' >"$work/ppl.tsv"
	for m in $models; do
		d=$work/$m; mkdir -p "$d"
		g=$shared/models/$m/gguf/$m-BF16.gguf
		lq=$d/lq-Q4_K_M.gguf
		[ -s "$lq" ] || nice "$LLAMA_BIN/llama-quantize" "$g" "$lq" Q4_K_M "$threads" >"$lq.log" 2>&1
		# the shared deepseek3 GGUF names no expert_gating_func: llama.cpp
		# then routes with softmax, transformers (and we) with sigmoid
		kv=; [ "$m" != deepseek3 ] || kv="--override-kv deepseek2.expert_gating_func=int:2"
		lperp "$d/ppl-bf16-softmax" -m "$g"
		# shellcheck disable=SC2086
		lperp "$d/ppl-bf16" -m "$g" $kv --kl-divergence-base "$d/base.kld"
		# shellcheck disable=SC2086
		lperp "$d/kld-q4km" -m "$lq" $kv --kl-divergence-base "$d/base.kld" --kl-divergence
		for p in "BF16 --pure BF16" "q4km --preset Q4_K_M"; do
			# shellcheck disable=SC2086
			nice "$pj" --batch ${p#* } --check --calib "$eval_txt" --ctx "$ctx" \
			    --chunks "$chunks" --json -j "$threads" "$g" \
			    >"$d/check-${p%% *}.json" 2>"$d/check-${p%% *}.err"
		done
		pb=$(lp "$d/ppl-bf16" 'Final estimate: PPL =')
		ob=$(js "$d/check-BF16.json" ppl_base)
		hf=$(ref_ppl "$shared/models/$m/reference/nll_f32.bin")
		pq=$(lp "$d/kld-q4km" 'Mean PPL(Q) *:')
		oq=$(js "$d/check-q4km.json" ppl_plan)
		pk=$(lp "$d/kld-q4km" 'Mean    KLD:')
		ok=$(js "$d/check-q4km.json" kld_mean)
		pt=$(lp "$d/kld-q4km" 'Same top p:')
		ot=$(awk -v a="$(js "$d/check-q4km.json" top1_agreement)" 'BEGIN { printf "%.3f", a * 100 }')
		printf '%s\t%.4f\t%.4f\t%s\t%.4f\t%.4f\t%.4f\t%s\t%s\t%.6f\t%s%%\t%s%%\n' "$m" "$pb" "$ob" \
		    "$(rel "$ob" "$pb")" "$hf" "$pq" "$oq" "$(rel "$oq" "$pq")" "$pk" "$ok" "$pt" "$ot" >>"$work/ppl.tsv"
		[ -z "$kv" ] || printf '%s\t%.4f\t%.4f\t%s\t(llama.cpp default gating: softmax)\n' "$m" \
		    "$(lp "$d/ppl-bf16-softmax" 'Final estimate: PPL =')" "$ob" \
		    "$(rel "$ob" "$(lp "$d/ppl-bf16-softmax" 'Final estimate: PPL =')")" >>"$work/ppl.tsv"
	done
fi
for f in load.tsv ppl.tsv; do [ -s "$work/$f" ] && column -t -s "$(printf '\t')" "$work/$f"; done
exit 0
