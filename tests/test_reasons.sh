#!/bin/sh
# test_reasons.sh - every tensor's reason ("why") in --batch --dry-run, for
# every shared model (GGUF and HF form), every preset and two pure bases,
# plain, with rules (router protection, kept tensors, an ignored rule) and
# with the importance matrix, equals what the eager formatting printed
# before reasons became codes formatted when shown.  tests/data/reasons.txt
# holds one "MODEL FORM BASE VARIANT SHA256-PREFIX" line per run, of the
# "name<TAB>reason" lines; it was written by the eager build with
# `tests/test_reasons.sh --print` (PJ, PJ_SHARED set).
. "$PJ_SRCDIR/tests/lib.sh"

digests() {
	presets=$("$PJ" --batch --preset '?' --dry-run "$PJ_SHARED/models/llama/gguf/llama-BF16.gguf" 2>&1 |
		sed -n 's/.*one of: //p')
	for m in llama qwen3 qwen3moe gemma3 deepseek3 random-mixtral random-llava random-gemma3mm random-qwen2vl \
		random-t5; do
		for form in gguf hf; do
			f=$PJ_SHARED/models/$m
			[ $form = gguf ] && f=$f/gguf/$m-BF16.gguf
			[ -e "$f" ] || continue
			for b in $presets pure:Q4_K_S pure:F16; do
				for v in plain rules imat; do
					case $b in pure:*) set -- --pure "${b#pure:}" ;; *) set -- --preset "$b" ;; esac
					case $v in
					rules) set -- "$@" --rule 'ffn_gate_inp=Q4_K' --rule 'attn_v=Q5_K' --rule 'norm=Q8_0' ;;
					imat) [ $form = gguf ] && [ -e "$PJ_SHARED/golden/$m/imatrix.gguf" ] || continue
					      set -- "$@" --imatrix "$PJ_SHARED/golden/$m/imatrix.gguf" ;;
					esac
					# name, then everything after the "from" column
					h=$("$PJ" --batch "$@" --dry-run "$f" 2>/dev/null |
						awk 'NR > 1 && $1 != "total:" && $1 != "note:" {
							r = $0; for (i = 1; i <= 6; i++) sub(/^ *[^ ]+/, "", r)
							sub(/^ +/, "", r); print $1 "\t" r }' | sha256sum | cut -c1-16)
					echo "$m $form $b $v $h"
				done
			done
		done
	done
}

if [ "$1" = --print ]; then
	digests
	exit 0
fi
if ! have_shared; then
	skip_all "shared models absent ($PJ_SHARED): reasons not compared"
fi
make_tmp
want=$PJ_SRCDIR/tests/data/reasons.txt
digests > "$T/got"
ok $? "dry runs done ($(wc -l < "$T/got") model x base x variant)"
for m in $(cut -d' ' -f1,2 "$want" | sort -u | tr ' ' :); do
	grep "^${m%:*} ${m#*:} " "$want" > "$T/w"
	grep "^${m%:*} ${m#*:} " "$T/got" > "$T/g"
	if cmp -s "$T/w" "$T/g"; then
		ok 0 "$m: the reasons of $(wc -l < "$T/w") dry runs equal the eager ones"
	else
		ok 1 "$m: the reasons of $(wc -l < "$T/w") dry runs equal the eager ones"
		diff "$T/w" "$T/g" | head -4 | sed 's/^/#   /'
	fi
done
done_testing
