/* test_tokenizer.c - the tokenizer against llama.cpp's test vectors, the
 * shared models' reference token ids (from tokenizer.json and from GGUF),
 * hand-checked pre-tokenizer splits, and a catalogue of malformed
 * vocabularies (each must fail with its own status and message). */
#include "config.h"
#include "tap.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "model.h"
#include "tok_internal.h"
#include "tokenizer.h"

static void diag_ids(const char *what, const int32_t *ids, size_t n)
{
	char line[1024];
	size_t o = 0;

	o += (size_t)snprintf(line, sizeof line, "%s:", what);
	for (size_t i = 0; i < n && o < sizeof line - 16; i++)
		o += (size_t)snprintf(line + o, sizeof line - o, " %d", ids[i]);
	tap_diag("%s", line);
}

/* ---- 1. llama.cpp's vocab test vectors --------------------------------------- */

/* Splits .inp the way test-tokenizer-0.cpp does: on "\n__ggml_vocab_test__\n". */
static size_t split_inputs(char *raw, size_t len, char ***out, size_t **lens)
{
	static const char sep[] = "\n__ggml_vocab_test__\n";
	size_t n = 0, cap = 64, pos = 0;
	char **v = pj_xmalloc(cap * sizeof *v);
	size_t *l = pj_xmalloc(cap * sizeof *l);

	while (pos < len) {
		char *next = memmem(raw + pos, len - pos, sep, sizeof sep - 1);
		size_t end = next ? (size_t)(next - raw) : len;
		if (n == cap) {
			cap *= 2;
			v = pj_xrealloc(v, cap * sizeof *v);
			l = pj_xrealloc(l, cap * sizeof *l);
		}
		v[n] = raw + pos;
		l[n++] = end - pos;
		if (!next)
			break;
		pos = end + sizeof sep - 1;
	}
	*out = v;
	*lens = l;
	return n;
}

static void test_vocab(const char *shared, const char *name)
{
	char *path = pj_xasprintf("%s/data/tokenizers/ggml-vocab-%s.gguf", shared, name);
	char *ipath = pj_xasprintf("%s.inp", path), *opath = pj_xasprintf("%s.out", path);
	size_t ilen, olen;
	char *inp = tap_slurp(ipath, &ilen), *outp = tap_slurp(opath, &olen);
	pj_gguf g;
	pj_error err = { 0 };
	pj_tokenizer *t = NULL;

	if (!inp || !outp) {
		skip("vocab test vectors missing");
		goto done;
	}
	if (!ok(pj_gguf_open(path, &g, NULL, &err) == PJ_OK, "%s: GGUF opens", name)) {
		tap_diag("%s", err.msg);
		goto done;
	}
	pj_status st = pj_tokenizer_from_gguf(&g, &t, &err);
	pj_gguf_free(&g);
	if (!ok(st == PJ_OK, "%s: vocabulary loads", name)) {
		tap_diag("%s", err.msg);
		goto done;
	}

	char **cases;
	size_t *clen, ncase = split_inputs(inp, ilen, &cases, &clen);
	size_t nline = 0, failed = 0, shown = 0, round_bad = 0;
	char *line = outp, *save = NULL;
	int32_t *want = pj_xmalloc(4096 * sizeof *want);

	for (size_t i = 0; i < olen; i++)
		nline += outp[i] == '\n';
	is_int(nline, ncase, "%s: %zu inputs, one expected line each", name, ncase);
	for (size_t c = 0; c < ncase && c < nline; c++) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		size_t nw = 0;
		for (char *tok = strtok_r(line, " ", &save); tok && nw < 4096; tok = strtok_r(NULL, " ", &save))
			want[nw++] = (int32_t)strtol(tok, NULL, 10);
		line = nl + 1;

		int32_t *ids;
		size_t n;
		pj_tokenizer_encode(t, cases[c], clen[c], 0, &ids, &n, &err);
		bool same = n == nw && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
		if (!same) {
			failed++;
			if (shown++ < 4) {
				tap_diag("%s: case %zu '%.*s'", name, c, (int)clen[c], cases[c]);
				diag_ids("  want", want, nw);
				diag_ids("  got ", ids, n);
			}
		}
		/* decoding gives the text back (these inputs are valid UTF-8) */
		size_t dl;
		char *back = pj_tokenizer_decode(t, ids, n, false, &dl);
		if (dl != clen[c] || memcmp(back, cases[c], dl) != 0)
			round_bad++;
		free(back);
		free(ids);
	}
	ok(failed == 0, "%s: all %zu vectors give llama.cpp's ids (%zu differ)", name, ncase, failed);
	ok(round_bad == 0, "%s: decode(encode(text)) == text (%zu differ)", name, round_bad);
	free(want);
	free(cases);
	free(clen);
done:
	pj_tokenizer_free(t);
	free(inp);
	free(outp);
	free(path);
	free(ipath);
	free(opath);
}

/* ---- 2. the shared models' reference ids ---------------------------------------- */

static void test_model_ids(const char *shared, const char *name, const char *text, size_t tlen)
{
	char *ref = pj_xasprintf("%s/models/%s/reference/eval_ids.i32", shared, name);
	char *dir = pj_xasprintf("%s/models/%s", shared, name);
	char *gg = pj_xasprintf("%s/models/%s/gguf/%s-BF16.gguf", shared, name, name);
	size_t rlen;
	char *rb = tap_slurp(ref, &rlen);
	const char *src[2] = { dir, gg }, *what[2] = { "tokenizer.json", "GGUF" };

	if (!rb) {
		skip("reference ids missing");
		goto done;
	}
	size_t nref = rlen / 4;
	int32_t *want = (int32_t *)(void *)rb;
	for (int k = 0; k < 2; k++) {
		pj_model *m = NULL;
		pj_tokenizer *t = NULL;
		pj_error err = { 0 };
		int32_t *ids = NULL;
		size_t n = 0;
		if (pj_model_open(src[k], &m, &err) != PJ_OK || pj_tokenizer_load(m, &t, &err) != PJ_OK) {
			ok(0, "%s (%s): tokenizer loads", name, what[k]);
			tap_diag("%s", err.msg);
			pj_model_close(m);
			continue;
		}
		pj_tokenizer_encode(t, text, tlen, 0, &ids, &n, &err);
		size_t first_bad = SIZE_MAX;
		for (size_t i = 0; i < nref && first_bad == SIZE_MAX; i++)
			if (i >= n || ids[i] != want[i])
				first_bad = i;
		if (!ok(nref == 2048 && first_bad == SIZE_MAX, "%s (%s, pre %s): eval.txt gives the %zu reference ids",
		        name, what[k], pj_tokenizer_pre(t), nref)) {
			tap_diag("first difference at %zu", first_bad);
			if (first_bad != SIZE_MAX && first_bad < n) {
				size_t from = first_bad > 4 ? first_bad - 4 : 0;
				diag_ids("  want", want + from, nref - from < 10 ? nref - from : 10);
				diag_ids("  got ", ids + from, n - from < 10 ? n - from : 10);
			}
		}
		/* BOS is there but not added: the reference has none and the
		 * GGUF says nothing of add_bos */
		ok(pj_tokenizer_n_vocab(t) == 1024 && pj_tokenizer_bos(t) == 0 && !pj_tokenizer_adds_bos(t) &&
		   pj_tokenizer_is_control(t, 0), "%s (%s): 1024 tokens, BOS 0 as control, not added", name, what[k]);
		free(ids);
		pj_tokenizer_free(t);
		pj_model_close(m);
	}
done:
	free(rb);
	free(ref);
	free(dir);
	free(gg);
}

/* ---- pre-tokenizer splits (expected: Python's regex module on the patterns) --- */

struct split_case {
	const char *pre, *text, *want;     /* want: words joined by \x01 */
};

/* Generated with Python's regex module (2026.5.9) applying each pattern in turn,
 * matches and the text between them as separate words (HF Split "Isolated"). */
static const struct split_case split_cases[] = {
	{ "gpt-2", "Hello world", "Hello\x01 world" },
	{ "gpt-2", "  Hello\x0a\x0a  world!!  ", " \x01 Hello\x01\x0a\x0a \x01 world\x01!!\x01  " },
	{ "gpt-2", "I'm you'RE we'LL 12345 abc", "I\x01'm\x01 you\x01'\x01RE\x01 we\x01'\x01LL\x01 12345\x01 abc" },
	{ "gpt-2", "3.14159 \xc2\xbd \xc2\xb2 x\xc2\xb2", "3\x01.\x01" "14159\x01 \xc2\xbd\x01 \xc2\xb2\x01 x\x01\xc2\xb2" },
	{ "gpt-2", "\xc3\x84\xc3\x96\xc3\x9c stra\xc3\x9f" "e na\xc3\xafve", "\xc3\x84\xc3\x96\xc3\x9c\x01 stra\xc3\x9f" "e\x01 na\xc3\xafve" },
	{ "gpt-2", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x81\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\x01\xe3\x80\x81\x01\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a" },
	{ "gpt-2", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\x01 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8" },
	{ "gpt-2", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 emoji \xf0\x9f\x9a\x80!", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99\x01 emoji\x01 \xf0\x9f\x9a\x80!" },
	{ "gpt-2", "a\x0d\x0a\x0d\x0a" "b", "a\x01\x0d\x0a\x0d\x01\x0a\x01" "b" },
	{ "gpt-2", "x   ", "x\x01   " },
	{ "gpt-2", "tabs\x09\x09" "end", "tabs\x01\x09\x01\x09\x01" "end" },
	{ "gpt-2", "( foo ) -- bar;\x0a", "(\x01 foo\x01 )\x01 --\x01 bar\x01;\x01\x0a" },
	{ "gpt-2", "don't", "don\x01't" },
	{ "gpt-2", "\xef\xac\x81 ligature", "\xef\xac\x81\x01 ligature" },
	{ "gpt-2", "mixed123abc", "mixed\x01" "123\x01" "abc" },
	{ "gpt-2", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac\x01 \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf" },
	{ "gpt-2", "  \x0a  \x09 x", "  \x0a  \x09\x01 x" },
	{ "gpt-2", "$100+200=300 ~tilde~ |pipe|", "$\x01" "100\x01+\x01" "200\x01=\x01" "300\x01 ~\x01tilde\x01~\x01 |\x01pipe\x01|" },
	{ "gpt-2", "e\xcc\x81te\xcc\x81 (combining)", "e\x01\xcc\x81\x01te\x01\xcc\x81\x01 (\x01" "combining\x01)" },
	{ "gpt-2", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\x01,\x01 \xd0\xbc\xd0\xb8\xd1\x80\x01!" },
	{ "gpt-2", "\xc2\xa0nbsp\xe2\x80\x83" "em", "\xc2\xa0\x01nbsp\x01\xe2\x80\x83\x01" "em" },
	{ "gpt-2", "ab.CD,ef;gh", "ab\x01.\x01" "CD\x01,\x01" "ef\x01;\x01gh" },
	{ "gpt-2", "..\x0a\x0a..", "..\x01\x0a\x01\x0a\x01.." },
	{ "gpt-2", "\xe2\x80\x8dzwj a\xe2\x80\x8d" "b", "\xe2\x80\x8d\x01zwj\x01 a\x01\xe2\x80\x8d\x01" "b" },
	{ "gpt-2", "\xce\xa9 \xe2\x84\x83 K", "\xce\xa9\x01 \xe2\x84\x83\x01 K" },
	{ "llama-bpe", "Hello world", "Hello\x01 world" },
	{ "llama-bpe", "  Hello\x0a\x0a  world!!  ", " \x01 Hello\x01\x0a\x0a\x01 \x01 world\x01!!\x01  " },
	{ "llama-bpe", "I'm you'RE we'LL 12345 abc", "I\x01'm\x01 you\x01'RE\x01 we\x01'LL\x01 \x01" "123\x01" "45\x01 abc" },
	{ "llama-bpe", "3.14159 \xc2\xbd \xc2\xb2 x\xc2\xb2", "3\x01.\x01" "141\x01" "59\x01 \x01\xc2\xbd\x01 \x01\xc2\xb2\x01 x\x01\xc2\xb2" },
	{ "llama-bpe", "\xc3\x84\xc3\x96\xc3\x9c stra\xc3\x9f" "e na\xc3\xafve", "\xc3\x84\xc3\x96\xc3\x9c\x01 stra\xc3\x9f" "e\x01 na\xc3\xafve" },
	{ "llama-bpe", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x81\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\x01\xe3\x80\x81\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a" },
	{ "llama-bpe", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\x01 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8" },
	{ "llama-bpe", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 emoji \xf0\x9f\x9a\x80!", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99\x01 emoji\x01 \xf0\x9f\x9a\x80!" },
	{ "llama-bpe", "a\x0d\x0a\x0d\x0a" "b", "a\x01\x0d\x0a\x0d\x0a\x01" "b" },
	{ "llama-bpe", "x   ", "x\x01   " },
	{ "llama-bpe", "tabs\x09\x09" "end", "tabs\x01\x09\x01\x09" "end" },
	{ "llama-bpe", "( foo ) -- bar;\x0a", "(\x01 foo\x01 )\x01 --\x01 bar\x01;\x0a" },
	{ "llama-bpe", "don't", "don\x01't" },
	{ "llama-bpe", "\xef\xac\x81 ligature", "\xef\xac\x81\x01 ligature" },
	{ "llama-bpe", "mixed123abc", "mixed\x01" "123\x01" "abc" },
	{ "llama-bpe", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac\x01 \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf" },
	{ "llama-bpe", "  \x0a  \x09 x", "  \x0a\x01  \x09\x01 x" },
	{ "llama-bpe", "$100+200=300 ~tilde~ |pipe|", "$\x01" "100\x01+\x01" "200\x01=\x01" "300\x01 ~\x01tilde\x01~\x01 |\x01pipe\x01|" },
	{ "llama-bpe", "e\xcc\x81te\xcc\x81 (combining)", "e\x01\xcc\x81te\x01\xcc\x81\x01 (\x01" "combining\x01)" },
	{ "llama-bpe", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\x01,\x01 \xd0\xbc\xd0\xb8\xd1\x80\x01!" },
	{ "llama-bpe", "\xc2\xa0nbsp\xe2\x80\x83" "em", "\xc2\xa0nbsp\x01\xe2\x80\x83" "em" },
	{ "llama-bpe", "ab.CD,ef;gh", "ab\x01.CD\x01,ef\x01;gh" },
	{ "llama-bpe", "..\x0a\x0a..", "..\x0a\x0a\x01.." },
	{ "llama-bpe", "\xe2\x80\x8dzwj a\xe2\x80\x8d" "b", "\xe2\x80\x8dzwj\x01 a\x01\xe2\x80\x8d" "b" },
	{ "llama-bpe", "\xce\xa9 \xe2\x84\x83 K", "\xce\xa9\x01 \xe2\x84\x83\x01 K" },
	{ "qwen2", "Hello world", "Hello\x01 world" },
	{ "qwen2", "  Hello\x0a\x0a  world!!  ", " \x01 Hello\x01\x0a\x0a\x01 \x01 world\x01!!\x01  " },
	{ "qwen2", "I'm you'RE we'LL 12345 abc", "I\x01'm\x01 you\x01'RE\x01 we\x01'LL\x01 \x01" "1\x01" "2\x01" "3\x01" "4\x01" "5\x01 abc" },
	{ "qwen2", "3.14159 \xc2\xbd \xc2\xb2 x\xc2\xb2", "3\x01.\x01" "1\x01" "4\x01" "1\x01" "5\x01" "9\x01 \x01\xc2\xbd\x01 \x01\xc2\xb2\x01 x\x01\xc2\xb2" },
	{ "qwen2", "\xc3\x84\xc3\x96\xc3\x9c stra\xc3\x9f" "e na\xc3\xafve", "\xc3\x84\xc3\x96\xc3\x9c\x01 stra\xc3\x9f" "e\x01 na\xc3\xafve" },
	{ "qwen2", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x81\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\x01\xe3\x80\x81\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a" },
	{ "qwen2", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\x01 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8" },
	{ "qwen2", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 emoji \xf0\x9f\x9a\x80!", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99\x01 emoji\x01 \xf0\x9f\x9a\x80!" },
	{ "qwen2", "a\x0d\x0a\x0d\x0a" "b", "a\x01\x0d\x0a\x0d\x0a\x01" "b" },
	{ "qwen2", "x   ", "x\x01   " },
	{ "qwen2", "tabs\x09\x09" "end", "tabs\x01\x09\x01\x09" "end" },
	{ "qwen2", "( foo ) -- bar;\x0a", "(\x01 foo\x01 )\x01 --\x01 bar\x01;\x0a" },
	{ "qwen2", "don't", "don\x01't" },
	{ "qwen2", "\xef\xac\x81 ligature", "\xef\xac\x81\x01 ligature" },
	{ "qwen2", "mixed123abc", "mixed\x01" "1\x01" "2\x01" "3\x01" "abc" },
	{ "qwen2", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac\x01 \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf" },
	{ "qwen2", "  \x0a  \x09 x", "  \x0a\x01  \x09\x01 x" },
	{ "qwen2", "$100+200=300 ~tilde~ |pipe|", "$\x01" "1\x01" "0\x01" "0\x01+\x01" "2\x01" "0\x01" "0\x01=\x01" "3\x01" "0\x01" "0\x01 ~\x01tilde\x01~\x01 |\x01pipe\x01|" },
	{ "qwen2", "e\xcc\x81te\xcc\x81 (combining)", "e\x01\xcc\x81te\x01\xcc\x81\x01 (\x01" "combining\x01)" },
	{ "qwen2", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\x01,\x01 \xd0\xbc\xd0\xb8\xd1\x80\x01!" },
	{ "qwen2", "\xc2\xa0nbsp\xe2\x80\x83" "em", "\xc2\xa0nbsp\x01\xe2\x80\x83" "em" },
	{ "qwen2", "ab.CD,ef;gh", "ab\x01.CD\x01,ef\x01;gh" },
	{ "qwen2", "..\x0a\x0a..", "..\x0a\x0a\x01.." },
	{ "qwen2", "\xe2\x80\x8dzwj a\xe2\x80\x8d" "b", "\xe2\x80\x8dzwj\x01 a\x01\xe2\x80\x8d" "b" },
	{ "qwen2", "\xce\xa9 \xe2\x84\x83 K", "\xce\xa9\x01 \xe2\x84\x83\x01 K" },
	{ "deepseek-v3", "Hello world", "Hello\x01 world" },
	{ "deepseek-v3", "  Hello\x0a\x0a  world!!  ", " \x01 Hello\x01\x0a\x0a\x01 \x01 world\x01!!\x01  " },
	{ "deepseek-v3", "I'm you'RE we'LL 12345 abc", "I\x01'm\x01 you\x01'RE\x01 we\x01'LL\x01 \x01" "123\x01" "45\x01 abc" },
	{ "deepseek-v3", "3.14159 \xc2\xbd \xc2\xb2 x\xc2\xb2", "3\x01.\x01" "141\x01" "59\x01 \x01\xc2\xbd\x01 \x01\xc2\xb2\x01 x\x01\xc2\xb2" },
	{ "deepseek-v3", "\xc3\x84\xc3\x96\xc3\x9c stra\xc3\x9f" "e na\xc3\xafve", "\xc3\x84\xc3\x96\xc3\x9c\x01 stra\xc3\x9f" "e\x01 na\xc3\xafve" },
	{ "deepseek-v3", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x81\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\x01\xe3\x80\x81\x01\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a" },
	{ "deepseek-v3", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\x01 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8" },
	{ "deepseek-v3", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 emoji \xf0\x9f\x9a\x80!", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99\x01 emoji\x01 \xf0\x9f\x9a\x80!" },
	{ "deepseek-v3", "a\x0d\x0a\x0d\x0a" "b", "a\x01\x0d\x0a\x0d\x0a\x01" "b" },
	{ "deepseek-v3", "x   ", "x\x01   " },
	{ "deepseek-v3", "tabs\x09\x09" "end", "tabs\x01\x09\x01\x09" "end" },
	{ "deepseek-v3", "( foo ) -- bar;\x0a", "(\x01 foo\x01 )\x01 --\x01 bar\x01;\x0a" },
	{ "deepseek-v3", "don't", "don\x01't" },
	{ "deepseek-v3", "\xef\xac\x81 ligature", "\xef\xac\x81\x01 ligature" },
	{ "deepseek-v3", "mixed123abc", "mixed\x01" "123\x01" "abc" },
	{ "deepseek-v3", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac\x01 \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf" },
	{ "deepseek-v3", "  \x0a  \x09 x", "  \x0a\x01  \x09\x01 x" },
	{ "deepseek-v3", "$100+200=300 ~tilde~ |pipe|", "$\x01" "100\x01+\x01" "200\x01=\x01" "300\x01 ~\x01tilde\x01~\x01 |\x01pipe\x01|" },
	{ "deepseek-v3", "e\xcc\x81te\xcc\x81 (combining)", "e\xcc\x81te\xcc\x81\x01 (\x01" "combining\x01)" },
	{ "deepseek-v3", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\x01,\x01 \xd0\xbc\xd0\xb8\xd1\x80\x01!" },
	{ "deepseek-v3", "\xc2\xa0nbsp\xe2\x80\x83" "em", "\xc2\xa0nbsp\x01\xe2\x80\x83" "em" },
	{ "deepseek-v3", "ab.CD,ef;gh", "ab\x01.CD\x01,ef\x01;gh" },
	{ "deepseek-v3", "..\x0a\x0a..", "..\x0a\x0a\x01.." },
	{ "deepseek-v3", "\xe2\x80\x8dzwj a\xe2\x80\x8d" "b", "\xe2\x80\x8dzwj\x01 a\x01\xe2\x80\x8d" "b" },
	{ "deepseek-v3", "\xce\xa9 \xe2\x84\x83 K", "\xce\xa9\x01 \xe2\x84\x83\x01 K" },
	{ "deepseek-llm", "Hello world", "Hello\x01 world" },
	{ "deepseek-llm", "  Hello\x0a\x0a  world!!  ", " \x01 Hello\x01\x0a\x01\x0a\x01 \x01 world\x01!!\x01  " },
	{ "deepseek-llm", "I'm you'RE we'LL 12345 abc", "I\x01'\x01m\x01 you\x01'\x01RE\x01 we\x01'\x01LL\x01 \x01" "12345\x01 abc" },
	{ "deepseek-llm", "3.14159 \xc2\xbd \xc2\xb2 x\xc2\xb2", "3\x01.\x01" "14159\x01 \x01\xc2\xbd\x01 \x01\xc2\xb2\x01 x\x01\xc2\xb2" },
	{ "deepseek-llm", "\xc3\x84\xc3\x96\xc3\x9c stra\xc3\x9f" "e na\xc3\xafve", "\xc3\x84\xc3\x96\xc3\x9c\x01 stra\x01\xc3\x9f\x01" "e\x01 na\x01\xc3\xaf\x01ve" },
	{ "deepseek-llm", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x81\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\x01\xe3\x80\x81\x01\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a" },
	{ "deepseek-llm", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\x01 \x01\xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8" },
	{ "deepseek-llm", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 emoji \xf0\x9f\x9a\x80!", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99\x01 emoji\x01 \xf0\x9f\x9a\x80\x01!" },
	{ "deepseek-llm", "a\x0d\x0a\x0d\x0a" "b", "a\x01\x0d\x01\x0a\x01\x0d\x01\x0a\x01" "b" },
	{ "deepseek-llm", "x   ", "x\x01   " },
	{ "deepseek-llm", "tabs\x09\x09" "end", "tabs\x01\x09\x01\x09" "end" },
	{ "deepseek-llm", "( foo ) -- bar;\x0a", "(\x01 foo\x01 )\x01 --\x01 bar\x01;\x01\x0a" },
	{ "deepseek-llm", "don't", "don\x01'\x01t" },
	{ "deepseek-llm", "\xef\xac\x81 ligature", "\xef\xac\x81\x01 ligature" },
	{ "deepseek-llm", "mixed123abc", "mixed\x01" "123\x01" "abc" },
	{ "deepseek-llm", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac\x01 \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf" },
	{ "deepseek-llm", "  \x0a  \x09 x", "  \x01\x0a\x01  \x09\x01 x" },
	{ "deepseek-llm", "$100+200=300 ~tilde~ |pipe|", "$\x01" "100\x01+\x01" "200\x01=\x01" "300\x01 ~\x01tilde\x01~\x01 |\x01pipe\x01|" },
	{ "deepseek-llm", "e\xcc\x81te\xcc\x81 (combining)", "e\x01\xcc\x81\x01te\x01\xcc\x81\x01 (\x01" "combining\x01)" },
	{ "deepseek-llm", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\x01,\x01 \xd0\xbc\xd0\xb8\xd1\x80\x01!" },
	{ "deepseek-llm", "\xc2\xa0nbsp\xe2\x80\x83" "em", "\xc2\xa0nbsp\x01\xe2\x80\x83\x01" "em" },
	{ "deepseek-llm", "ab.CD,ef;gh", "ab\x01.\x01" "CD\x01,\x01" "ef\x01;\x01gh" },
	{ "deepseek-llm", "..\x0a\x0a..", "..\x01\x0a\x01\x0a\x01.." },
	{ "deepseek-llm", "\xe2\x80\x8dzwj a\xe2\x80\x8d" "b", "\xe2\x80\x8d\x01zwj\x01 a\x01\xe2\x80\x8d\x01" "b" },
	{ "deepseek-llm", "\xce\xa9 \xe2\x84\x83 K", "\xce\xa9\x01 \x01\xe2\x84\x83\x01 K" },
	{ "default", "Hello world", "Hello\x01 world" },
	{ "default", "  Hello\x0a\x0a  world!!  ", " \x01 Hello\x01\x0a\x0a \x01 world\x01!!\x01  " },
	{ "default", "I'm you'RE we'LL 12345 abc", "I\x01'\x01m\x01 you\x01'\x01RE\x01 we\x01'\x01LL\x01 \x01" "123\x01" "45\x01 abc" },
	{ "default", "3.14159 \xc2\xbd \xc2\xb2 x\xc2\xb2", "3\x01.\x01" "141\x01" "59\x01 \x01\xc2\xbd\x01 \x01\xc2\xb2\x01 x\x01\xc2\xb2" },
	{ "default", "\xc3\x84\xc3\x96\xc3\x9c stra\xc3\x9f" "e na\xc3\xafve", "\xc3\x84\xc3\x96\xc3\x9c\x01 stra\xc3\x9f" "e\x01 na\xc3\xafve" },
	{ "default", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x81\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\x01\xe3\x80\x81\x01\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a" },
	{ "default", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\x01 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8" },
	{ "default", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 emoji \xf0\x9f\x9a\x80!", "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99\x01 emoji\x01 \xf0\x9f\x9a\x80\x01!" },
	{ "default", "a\x0d\x0a\x0d\x0a" "b", "a\x01\x0d\x0a\x0d\x01\x0a\x01" "b" },
	{ "default", "x   ", "x\x01   " },
	{ "default", "tabs\x09\x09" "end", "tabs\x01\x09\x01\x09\x01" "end" },
	{ "default", "( foo ) -- bar;\x0a", "(\x01 foo\x01 \x01)\x01 \x01--\x01 bar\x01;\x01\x0a" },
	{ "default", "don't", "don\x01'\x01t" },
	{ "default", "\xef\xac\x81 ligature", "\xef\xac\x81\x01 ligature" },
	{ "default", "mixed123abc", "mixed\x01" "123\x01" "abc" },
	{ "default", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf", "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac\x01 \xce\xba\xce\xb5\xce\xaf\xce\xbc\xce\xb5\xce\xbd\xce\xbf" },
	{ "default", "  \x0a  \x09 x", "  \x0a  \x09\x01 x" },
	{ "default", "$100+200=300 ~tilde~ |pipe|", "$\x01" "100\x01+\x01" "200\x01=\x01" "300\x01 \x01~\x01tilde\x01~\x01 \x01|\x01pipe\x01|" },
	{ "default", "e\xcc\x81te\xcc\x81 (combining)", "e\x01\xcc\x81\x01te\x01\xcc\x81\x01 \x01(\x01" "combining\x01)" },
	{ "default", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\x01,\x01 \xd0\xbc\xd0\xb8\xd1\x80\x01!" },
	{ "default", "\xc2\xa0nbsp\xe2\x80\x83" "em", "\xc2\xa0\x01nbsp\x01\xe2\x80\x83\x01" "em" },
	{ "default", "ab.CD,ef;gh", "ab\x01.\x01" "CD\x01,\x01" "ef\x01;\x01gh" },
	{ "default", "..\x0a\x0a..", "..\x01\x0a\x0a\x01.." },
	{ "default", "\xe2\x80\x8dzwj a\xe2\x80\x8d" "b", "\xe2\x80\x8d\x01zwj\x01 a\x01\xe2\x80\x8d\x01" "b" },
	{ "default", "\xce\xa9 \xe2\x84\x83 K", "\xce\xa9\x01 \xe2\x84\x83\x01 K" },
};

static void test_splits(void)
{
	size_t bad = 0;

	for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
		const struct split_case *c = &split_cases[i];
		pj_tokenizer t;
		size_t *lens, n, off = 0, wo = 0;
		char got[512];

		memset(&t, 0, sizeof t);
		if (!pj_tok_pre_from_name(&t, c->pre)) {
			bad++;
			continue;
		}
		n = pj_tok_pre_split(&t, c->text, strlen(c->text), &lens);
		for (size_t k = 0; k < n; k++) {
			if (k)
				got[wo++] = '\x01';
			memcpy(got + wo, c->text + off, lens[k]);
			wo += lens[k];
			off += lens[k];
		}
		got[wo] = '\0';
		free(lens);
		if (strcmp(got, c->want) != 0) {
			if (bad++ < 6) {
				for (char *s = got; *s; s++)
					if (*s == '\x01')
						*s = '|';
				char want[512];
				snprintf(want, sizeof want, "%s", c->want);
				for (char *s = want; *s; s++)
					if (*s == '\x01')
						*s = '|';
				tap_diag("%s: '%s'", c->pre, c->text);
				tap_diag("  want %s", want);
				tap_diag("  got  %s", got);
			}
		}
	}
	ok(bad == 0, "pre-tokenizer splits: %zu cases agree with the regexes (%zu differ)",
	   sizeof split_cases / sizeof split_cases[0], bad);

	/* the GPT-2 byte mapping is a bijection onto 256 code points */
	int seen[324] = { 0 }, inverse_ok = 1;
	for (int b = 0; b < 256; b++) {
		uint32_t cp = pj_tok_byte_to_cp((uint8_t)b);
		if (cp < 324)
			seen[cp]++;
		inverse_ok &= pj_tok_cp_to_byte(cp) == b;
	}
	int distinct = 0;
	for (int i = 0; i < 324; i++)
		distinct += seen[i] == 1;
	ok(distinct == 256 && inverse_ok, "GPT-2 byte<->unicode mapping round-trips (%d distinct)", distinct);
	ok(pj_tok_byte_to_cp(' ') == 0x120 && pj_tok_byte_to_cp('\n') == 0x10a && pj_tok_byte_to_cp(0xad) == 0x143,
	   "space is U+0120 (Ġ), newline U+010A (Ċ), 0xAD U+0143");
	ok(pj_uc_class('a') == PJ_UC_L && pj_uc_class(0x4e00) == PJ_UC_L && pj_uc_class(0xbd) == PJ_UC_N &&
	   pj_uc_class(0x301) == PJ_UC_M && pj_uc_class('~') == PJ_UC_S && pj_uc_class(0x3001) == PJ_UC_P &&
	   pj_uc_class(0x1f999) == PJ_UC_S && pj_uc_class(0x200d) == PJ_UC_OTHER && pj_uc_class(0x110000) == PJ_UC_OTHER,
	   "Unicode classes of sample code points");
	size_t i = 0;
	ok(pj_utf8_next("\xc3", 1, &i) == 0xfffd && i == 1, "a truncated UTF-8 sequence decodes as U+FFFD, one byte");
}

/* ---- 3. malformed vocabularies -------------------------------------------------- */

/* A GGUF v3 header built in memory: only metadata, no tensors. */
typedef struct gbuf {
	uint8_t *p;
	size_t n, cap;
	uint64_t nkv;
} gbuf;

static void gput(gbuf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = pj_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void gu32(gbuf *b, uint32_t v)
{
	gput(b, &v, 4);
}

static void gu64(gbuf *b, uint64_t v)
{
	gput(b, &v, 8);
}

static void gstr(gbuf *b, const char *s)
{
	gu64(b, strlen(s));
	gput(b, s, strlen(s));
}

static void kv_str(gbuf *b, const char *k, const char *v)
{
	gstr(b, k);
	gu32(b, PJ_GGUF_STRING);
	gstr(b, v);
	b->nkv++;
}

static void kv_u32(gbuf *b, const char *k, uint32_t v)
{
	gstr(b, k);
	gu32(b, PJ_GGUF_UINT32);
	gu32(b, v);
	b->nkv++;
}

static void kv_strs(gbuf *b, const char *k, const char *const *v, size_t n)
{
	gstr(b, k);
	gu32(b, PJ_GGUF_ARRAY);
	gu32(b, PJ_GGUF_STRING);
	gu64(b, n);
	for (size_t i = 0; i < n; i++)
		gstr(b, v[i]);
	b->nkv++;
}

static void kv_nums(gbuf *b, const char *k, pj_gguf_type t, const void *v, size_t n)
{
	gstr(b, k);
	gu32(b, PJ_GGUF_ARRAY);
	gu32(b, t);
	gu64(b, n);
	gput(b, v, 4 * n);
	b->nkv++;
}

/* Parses the metadata and loads its vocabulary. */
static pj_status gguf_vocab(gbuf *kv, pj_tokenizer **t, pj_error *err)
{
	gbuf f = { 0 };
	pj_gguf g;

	gput(&f, "GGUF", 4);
	gu32(&f, 3);
	gu64(&f, 0);
	gu64(&f, kv->nkv);
	gput(&f, kv->p, kv->n);
	pj_status st = pj_gguf_parse("mem.gguf", f.p, f.n, f.n, &g, NULL, 0, err);
	if (st == PJ_OK) {
		st = pj_tokenizer_from_gguf(&g, t, err);
		pj_gguf_free(&g);
	}
	free(f.p);
	free(kv->p);
	memset(kv, 0, sizeof *kv);
	return st;
}

static const char *const mini_tokens[] = { "<|end|>", "a", "b", "ab", "\xc4\xa0", "\xc4\xa0" "ab", "c" };
static const char *const mini_merges[] = { "a b", "\xc4\xa0 ab" };

/* The small byte-level vocabulary every malformed case starts from. */
static void mini(gbuf *b, const char *model, bool tokens, bool merges)
{
	kv_str(b, "general.architecture", "gpt2");
	if (model)
		kv_str(b, "tokenizer.ggml.model", model);
	if (tokens)
		kv_strs(b, "tokenizer.ggml.tokens", mini_tokens, 7);
	if (merges)
		kv_strs(b, "tokenizer.ggml.merges", mini_merges, 2);
}

static void expect_fail(pj_status st, pj_status want, const pj_error *err, const char *needle, const char *what)
{
	if (!ok(st == want && strstr(err->msg, needle), "%s: fails (%s) naming it", what, pj_status_name(want)))
		tap_diag("status %s, message '%s', wanted '%s'", pj_status_name(st), err->msg, needle);
}

static void test_gguf_errors(void)
{
	gbuf b = { 0 };
	pj_tokenizer *t = NULL;
	pj_error err = { 0 };
	int32_t ty[7] = { 3, 1, 1, 1, 1, 1, 1 };
	float sc[3] = { 0 };

	/* the well-formed one first */
	mini(&b, "gpt2", true, true);
	kv_str(&b, "tokenizer.ggml.pre", "gpt-2");
	kv_nums(&b, "tokenizer.ggml.token_type", PJ_GGUF_INT32, ty, 7);
	kv_u32(&b, "tokenizer.ggml.eos_token_id", 0);
	if (ok(gguf_vocab(&b, &t, &err) == PJ_OK, "minimal GGUF vocabulary loads")) {
		int32_t *ids;
		size_t n;
		static const char text[] = "ab ab<|end|>c";
		pj_tokenizer_encode(t, text, strlen(text), 0, &ids, &n, &err);
		/* "<|", "end", "|>" have no tokens, not even their bytes: dropped */
		ok(n == 3 && ids[0] == 3 && ids[1] == 5 && ids[2] == 6,
		   "control token text is plain text unless asked (ab Ġab ... c)");
		free(ids);
		pj_tokenizer_encode(t, text, strlen(text), PJ_TOK_PARSE_SPECIAL | PJ_TOK_ADD_SPECIAL, &ids, &n, &err);
		ok(n == 4 && ids[0] == 3 && ids[1] == 5 && ids[2] == 0 && ids[3] == 6,
		   "PARSE_SPECIAL splits out <|end|>; no BOS to add");
		free(ids);
		pj_tokenizer_free(t);
		t = NULL;
	}

	mini(&b, NULL, true, true);
	expect_fail(gguf_vocab(&b, &t, &err), PJ_ENOTFOUND, &err, "no tokenizer.ggml.model", "no tokenizer model");
	mini(&b, "bert", true, true);
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EUNSUPPORTED, &err, "'bert' is not supported", "WordPiece model");
	mini(&b, "gpt2", false, true);
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EFORMAT, &err, "tokenizer.ggml.tokens is missing", "no tokens");
	mini(&b, "gpt2", false, true);
	kv_nums(&b, "tokenizer.ggml.tokens", PJ_GGUF_INT32, ty, 7);
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EFORMAT, &err, "not an array of strings", "tokens of integers");
	mini(&b, "gpt2", false, true);
	{
		static const char *const dup[] = { "a", "b", "a" };
		kv_strs(&b, "tokenizer.ggml.tokens", dup, 3);
	}
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EFORMAT, &err, "duplicate token 'a' (ids 0 and 2)", "duplicate token");
	mini(&b, "gpt2", true, true);
	kv_nums(&b, "tokenizer.ggml.scores", PJ_GGUF_FLOAT32, sc, 3);
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EFORMAT, &err, "scores has 3 entries for 7 tokens", "short scores");
	mini(&b, "gpt2", true, true);
	kv_nums(&b, "tokenizer.ggml.token_type", PJ_GGUF_FLOAT32, sc, 3);
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EFORMAT, &err, "token_type", "token types of floats");
	mini(&b, "gpt2", true, false);
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EFORMAT, &err, "merges is missing", "BPE without merges");
	mini(&b, "gpt2", true, false);
	{
		static const char *const bad[] = { "a b", "ab" };
		kv_strs(&b, "tokenizer.ggml.merges", bad, 2);
	}
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EFORMAT, &err, "merges[1] 'ab' is not two tokens", "merge without a space");
	mini(&b, "gpt2", true, true);
	kv_str(&b, "tokenizer.ggml.pre", "tekken");
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EUNSUPPORTED, &err, "pre-tokenizer 'tekken'", "unknown pre-tokenizer");
	mini(&b, "gpt2", true, true);
	kv_u32(&b, "tokenizer.ggml.bos_token_id", 7);
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EFORMAT, &err, "bos_token_id = 7 is outside", "BOS beyond the vocabulary");
	mini(&b, "llama", true, false);
	kv_u32(&b, "tokenizer.ggml.bos_token_id", 1);
	{
		gstr(&b, "tokenizer.ggml.add_eos_token");
		gu32(&b, PJ_GGUF_BOOL);
		uint8_t one = 1;
		gput(&b, &one, 1);
		b.nkv++;
		gstr(&b, "tokenizer.ggml.eos_token_id");
		gu32(&b, PJ_GGUF_STRING);
		gstr(&b, "x");
		b.nkv++;
	}
	expect_fail(gguf_vocab(&b, &t, &err), PJ_EFORMAT, &err, "eos_token_id is not an integer", "EOS id of the wrong type");
	ok(t == NULL, "failed loads leave no tokenizer behind");
}

static void json_case(const char *json, pj_status want, const char *needle, const char *what)
{
	pj_tokenizer *t = NULL;
	pj_error err = { 0 };

	expect_fail(pj_tokenizer_from_hf_json("x/tokenizer.json", json, strlen(json), NULL, &t, &err),
	            want, &err, needle, what);
	pj_tokenizer_free(t);
}

#define BL "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}"

static void test_json_errors(void)
{
	pj_tokenizer *t = NULL;
	pj_error err = { 0 };
	static const char good[] =
		"{\"added_tokens\":[{\"id\":0,\"content\":\"<s>\",\"special\":true}],"
		"\"model\":{\"type\":\"BPE\",\"vocab\":{\"<s>\":0,\"a\":1,\"b\":2,\"ab\":3,\"\xc4\xa0\":4},"
		"\"merges\":[[\"a\",\"b\"]]}," BL ","
		"\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}},"
		"{\"Sequence\":{\"id\":\"A\"}}]}}";

	if (ok(pj_tokenizer_from_hf_json("x/tokenizer.json", good, strlen(good), NULL, &t, &err) == PJ_OK,
	       "minimal tokenizer.json loads")) {
		int32_t *ids;
		size_t n;
		pj_tokenizer_encode(t, "ab <s>", 6, PJ_TOK_ADD_SPECIAL | PJ_TOK_PARSE_SPECIAL, &ids, &n, &err);
		ok(n == 4 && ids[0] == 0 && ids[1] == 3 && ids[2] == 4 && ids[3] == 0,
		   "TemplateProcessing adds BOS; merges given as pairs apply; specials split");
		free(ids);
		ok(strcmp(pj_tokenizer_pre(t), "gpt-2") == 0, "ByteLevel with use_regex is the gpt-2 pre-tokenizer");
		pj_tokenizer_free(t);
	} else {
		tap_diag("%s", err.msg);
	}

	json_case("{\"model\": ", PJ_EFORMAT, "x/tokenizer.json: not valid JSON", "truncated JSON");
	json_case("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", PJ_EUNSUPPORTED, "model type 'Unigram'", "Unigram model");
	json_case("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}}}", PJ_EFORMAT, "merges (array) are required",
	          "no merges");
	json_case("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}", PJ_EFORMAT,
	          "'a' has an invalid id", "negative id");
	json_case("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}," BL "}", PJ_EFORMAT,
	          "id 0 is given to 'a' and 'b'", "two tokens with one id");
	json_case("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"ab\"]}," BL "}", PJ_EFORMAT,
	          "model.merges[0] is not a pair", "merge without a space");
	json_case("{\"added_tokens\":[{\"id\":0,\"content\":\"<s>\"}],"
	          "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}," BL "}", PJ_EFORMAT,
	          "id 0 is '<s>' but model.vocab has 'a'", "added token against the vocabulary");
	json_case("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
	          "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
	          "\"pattern\":{\"Regex\":\"\\\\w+\"},\"behavior\":\"Isolated\",\"invert\":false}]}}",
	          PJ_EUNSUPPORTED, "regex '\\w+' is not one of the implemented", "unknown Split regex");
	json_case("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
	          "\"pre_tokenizer\":{\"type\":\"Whitespace\"}}", PJ_EUNSUPPORTED,
	          "pre-tokenizer 'Whitespace' is not supported", "Whitespace pre-tokenizer");
	json_case("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"normalizer\":{\"type\":\"NFKC\"},"
	          BL "}", PJ_EUNSUPPORTED, "normalizer 'NFKC'", "NFKC normalizer");
	json_case("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", PJ_EUNSUPPORTED,
	          "without a ByteLevel", "BPE with no byte-level step");

	char dir[] = "/tmp/pj-tok-XXXXXX";
	if (mkdtemp(dir)) {
		expect_fail(pj_tokenizer_from_hf_dir(dir, &t, &err), PJ_ENOTFOUND, &err,
		            "neither tokenizer.json nor tokenizer.model", "folder without tokenizer files");
		char *p = pj_xasprintf("%s/tokenizer.model", dir);
		FILE *f = fopen(p, "wb");
		fputs("\x0a\xff", f);       /* a field that claims more bytes than there are */
		fclose(f);
		expect_fail(pj_tokenizer_from_hf_dir(dir, &t, &err), PJ_EFORMAT, &err, "tokenizer.model: not a "
		            "SentencePiece model", "truncated tokenizer.model");
		unlink(p);
		free(p);
		rmdir(dir);
	}
}

/* tokenizer.model (protobuf) round trip: a tiny SentencePiece model. */
static void test_spm_model(void)
{
	static const struct {
		const char *piece;
		float score;
		int type;
	} pieces[] = {
		{ "<unk>", 0, 2 }, { "<s>", 0, 3 }, { "</s>", 0, 3 }, { "<0x0A>", 0, 6 }, { "<0x21>", 0, 6 },
		{ "\xe2\x96\x81", -1, 1 }, { "h", -2, 1 }, { "i", -2, 1 }, { "hi", -1.5f, 1 },
		{ "\xe2\x96\x81hi", -0.5f, 1 },
	};
	gbuf b = { 0 };
	pj_tokenizer *t = NULL;
	pj_error err = { 0 };

	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		gbuf p = { 0 };
		uint8_t tag = 0x0a, len = (uint8_t)strlen(pieces[i].piece);
		gput(&p, &tag, 1);
		gput(&p, &len, 1);
		gput(&p, pieces[i].piece, len);
		tag = 0x15;             /* field 2, fixed32 */
		gput(&p, &tag, 1);
		gput(&p, &pieces[i].score, 4);
		tag = 0x18;             /* field 3, varint */
		uint8_t ty = (uint8_t)pieces[i].type;
		gput(&p, &tag, 1);
		gput(&p, &ty, 1);
		tag = 0x0a;
		uint8_t plen = (uint8_t)p.n;
		gput(&b, &tag, 1);
		gput(&b, &plen, 1);
		gput(&b, p.p, p.n);
		free(p.p);
	}
	if (ok(pj_tokenizer_from_spm_model("t.model", b.p, b.n, &t, &err) == PJ_OK, "tokenizer.model parses")) {
		int32_t *ids;
		size_t n;
		pj_tokenizer_encode(t, "hi\n!hi", 6, PJ_TOK_ADD_SPECIAL, &ids, &n, &err);
		ok(n == 5 && ids[0] == 1 && ids[1] == 9 && ids[2] == 3 && ids[3] == 4 && ids[4] == 8,
		   "SPM: BOS, dummy prefix (▁hi), byte fallback <0x0A> <0x21>, best-score merge (hi)");
		char *s = pj_tokenizer_decode(t, ids, n, false, NULL);
		is_str(s, "hi\n!hi", "SPM decode drops BOS and the dummy prefix");
		free(s);
		free(ids);
		pj_tokenizer_free(t);
	} else {
		tap_diag("%s", err.msg);
	}
	free(b.p);
}

/* tokenizer.json pre-tokenizers as the real files spell them map onto the
 * GGUF names (Split regexes + ByteLevel without its own regex). */
static void test_json_pre(void)
{
	static const struct {
		const char *splits, *want;
	} cases[] = {
		{ "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?"
		  "\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
		  "\"behavior\":\"Isolated\",\"invert\":false}", "llama-bpe" },
		{ "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?"
		  "\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
		  "\"behavior\":\"Isolated\",\"invert\":false}", "qwen2" },
		{ "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\p{N}{1,3}\"},\"behavior\":\"Isolated\",\"invert\":false},"
		  "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f"
		  "\xe3\x82\xa0-\xe3\x83\xbf]+\"},\"behavior\":\"Isolated\",\"invert\":false},"
		  "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[!\\\"#$%&'()*+,\\\\-./:;<=>?@\\\\[\\\\\\\\\\\\]^_`{|}~]"
		  "[A-Za-z]+|[^\\r\\n\\\\p{L}\\\\p{P}\\\\p{S}]?[\\\\p{L}\\\\p{M}]+| ?[\\\\p{P}\\\\p{S}]+[\\r\\n]*|"
		  "\\\\s*[\\r\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false}", "deepseek-v3" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *json = pj_xasprintf("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
		                          "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[%s,"
		                          "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]}}",
		                          cases[i].splits);
		pj_tokenizer *t = NULL;
		pj_error err = { 0 };
		if (ok(pj_tokenizer_from_hf_json("x/tokenizer.json", json, strlen(json), NULL, &t, &err) == PJ_OK,
		       "tokenizer.json with the %s regexes loads", cases[i].want))
			is_str(pj_tokenizer_pre(t), cases[i].want, "... and is that pre-tokenizer");
		else
			tap_diag("%s", err.msg);
		pj_tokenizer_free(t);
		free(json);
	}
}

/* Random text through every pre-tokenizer (words tile the text) and, with
 * a real byte-level vocabulary, through encode/decode (lossless). */
static void test_random_text(const pj_tokenizer *gpt2)
{
	static const char *const pres[] = { "gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-v3", "default" };
	static const char *const atoms[] = {
		"a", "Z", " ", "  ", "\n", "\r\n", "\t", "'s", "'LL", "7", "42", "\xc2\xbd", "\xc3\xa9", "\xe2\x80\x83",
		"\xe3\x80\x80", "\xe4\xb8\x80", "\xe3\x81\x8b", "\xea\xb0\x80", "\xf0\x9f\xa6\x99", "\xcc\x81", "!", "~",
		"<|endoftext|>", "\xe2\x80\x8d", "\xff", "\xc3", "\xe2\x96\x81", "\xd0\x96",
	};
	uint32_t seed = 12345;
	size_t bad_tile = 0, bad_round = 0;
	char text[256];

	for (int it = 0; it < 400; it++) {
		size_t n = 0;
		bool valid = true;
		int k = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 24;
		while (k-- > 0) {
			const char *a = atoms[((seed = seed * 1103515245u + 12345u) >> 16) % (sizeof atoms / sizeof atoms[0])];
			if (n + strlen(a) >= sizeof text)
				break;
			valid &= strcmp(a, "\xff") != 0 && strcmp(a, "\xc3") != 0;
			memcpy(text + n, a, strlen(a));
			n += strlen(a);
		}
		for (size_t p = 0; p < sizeof pres / sizeof pres[0]; p++) {
			pj_tokenizer t;
			size_t *lens, nw, sum = 0, zero = 0;
			memset(&t, 0, sizeof t);
			pj_tok_pre_from_name(&t, pres[p]);
			nw = pj_tok_pre_split(&t, text, n, &lens);
			for (size_t w = 0; w < nw; w++) {
				sum += lens[w];
				zero += lens[w] == 0;
			}
			bad_tile += sum != n || zero;
			free(lens);
		}
		if (gpt2) {
			int32_t *ids;
			size_t ni, dl;
			pj_error err;
			pj_tokenizer_encode(gpt2, text, n, 0, &ids, &ni, &err);
			char *back = pj_tokenizer_decode(gpt2, ids, ni, true, &dl);
			if (valid && (dl != n || memcmp(back, text, n) != 0))
				bad_round++;
			free(back);
			free(ids);
		}
	}
	ok(bad_tile == 0, "random text: words tile the input under all 6 pre-tokenizers (%zu bad)", bad_tile);
	if (gpt2)
		ok(bad_round == 0, "random text: GPT-2 byte-level encode/decode is lossless (%zu bad)", bad_round);
	else
		skip("random text round trip needs the shared GPT-2 vocabulary");
}

int main(void)
{
	const char *shared = tap_shared_dir();
	static const char *const vocabs[] = { "gpt-2", "deepseek-llm", "llama-spm", "phi-3" };
	static const char *const models[] = { "llama", "qwen3", "qwen3moe", "gemma3", "deepseek3" };

	test_splits();
	test_gguf_errors();
	test_json_errors();
	test_spm_model();
	test_json_pre();
	if (!shared) {
		test_random_text(NULL);
		skip("../shared is absent: llama.cpp vocab vectors not run");
		skip("../shared is absent: reference ids of the shared models not checked");
		return done_testing();
	}
	for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++)
		test_vocab(shared, vocabs[i]);
	{
		char *p = pj_xasprintf("%s/data/tokenizers/ggml-vocab-gpt-2.gguf", shared);
		pj_gguf g;
		pj_tokenizer *t = NULL;
		if (pj_gguf_open(p, &g, NULL, NULL) == PJ_OK) {
			pj_tokenizer_from_gguf(&g, &t, NULL);
			pj_gguf_free(&g);
		}
		test_random_text(t);
		pj_tokenizer_free(t);
		free(p);
	}
	char *epath = pj_xasprintf("%s/data/eval.txt", shared);
	size_t elen;
	char *eval = tap_slurp(epath, &elen);
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
		if (eval)
			test_model_ids(shared, models[i], eval, elen);
		else
			skip("data/eval.txt missing");
	}
	free(eval);
	free(epath);
	return done_testing();
}
