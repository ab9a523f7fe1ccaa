/* libFuzzer target: the tokenizer.
 *
 * First byte of the input picks what is fuzzed:
 *   0..5   the rest is text, split by pre-tokenizer N and encoded with a
 *          small byte-level vocabulary (checks: words tile the text,
 *          encode/decode of valid UTF-8 is lossless);
 *   6      the rest is text for a small SentencePiece vocabulary;
 *   7      the rest is a tokenizer.json, loaded and used on a fixed text;
 *   8      the rest is a tokenizer.model (protobuf). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pres[] = { "gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-v3", "default" };

/* every byte as its GPT-2 character, a few merges, two added tokens */
static pj_tokenizer *byte_level(const char *pre)
{
	char *json = pj_xmalloc(16384), *o = json;
	pj_tokenizer *t = NULL;

	o += sprintf(o, "{\"added_tokens\":[{\"id\":256,\"content\":\"<|s|>\",\"special\":true},"
	                "{\"id\":257,\"content\":\"<u>\",\"special\":false,\"lstrip\":true,\"rstrip\":true}],"
	                "\"model\":{\"type\":\"BPE\",\"vocab\":{");
	for (int b = 0; b < 256; b++) {
		char u[4];
		size_t n = pj_utf8_put(pj_tok_byte_to_cp((uint8_t)b), u);
		*o++ = '"';
		if (b == '"' || b == '\\')
			*o++ = '\\';
		memcpy(o, u, n);
		o += n;
		o += sprintf(o, "\":%d,", b);
	}
	o += sprintf(o, "\"ab\":258,\"\xc4\xa0" "ab\":259,\"aa\":260},"
	                "\"merges\":[\"a b\",\"\xc4\xa0 ab\",\"a a\"]},"
	                "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":false}}");
	pj_tokenizer_from_hf_json("fuzz.json", json, (size_t)(o - json), NULL, &t, NULL);
	free(json);
	if (t)
		pj_tok_pre_from_name(t, pre);
	return t;
}

static void check_text(const pj_tokenizer *t, const char *s, size_t n, bool lossless)
{
	size_t *lens, nw = pj_tok_pre_split(t, s, n, &lens), sum = 0;
	int32_t *ids;
	size_t ni, dl;

	for (size_t i = 0; i < nw; i++) {
		if (!lens[i])
			abort();
		sum += lens[i];
	}
	if (sum != n)
		abort();
	free(lens);
	if (pj_tokenizer_encode(t, s, n, PJ_TOK_ADD_SPECIAL | PJ_TOK_PARSE_SPECIAL, &ids, &ni, NULL) != PJ_OK)
		abort();
	for (size_t i = 0; i < ni; i++)
		if (ids[i] < 0 || (size_t)ids[i] >= pj_tokenizer_n_vocab(t))
			abort();
	char *back = pj_tokenizer_decode(t, ids, ni, true, &dl);
	/* special tokens with lstrip/rstrip eat spaces: only plain text must
	 * come back whole */
	if (lossless && (dl != n || memcmp(back, s, n) != 0))
		abort();
	free(back);
	free(ids);
}

static bool valid_utf8_plain(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t at = i;
		uint32_t cp = pj_utf8_next(s, n, &i);
		char u[4];
		/* overlong forms and stray bytes decode, but not back to themselves */
		if (pj_utf8_put(cp, u) != i - at || memcmp(u, s + at, i - at) != 0)
			return false;
		if (cp < 0x80 && (s[at] == '<'))
			return false;       /* may spell an added token */
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static pj_tokenizer *bl[6];
	static pj_tokenizer *spm;

	if (size < 1)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	uint8_t mode = data[0] % 9;

	if (mode < 6) {
		if (!bl[mode])
			bl[mode] = byte_level(pres[mode]);
		if (bl[mode])
			check_text(bl[mode], s, n, valid_utf8_plain(s, n));
	} else if (mode == 6) {
		if (!spm) {
			/* pieces: <unk> <s> </s> ▁ a b ▁a ab and all 256 byte tokens */
			static const char *const p[] = { "<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b",
			                                 "\xe2\x96\x81" "a", "ab" };
			uint8_t *m = pj_xmalloc(8192), *o = m;
			for (int i = 0; i < 8 + 256; i++) {
				char piece[8];
				size_t pl;
				if (i < 8) {
					pl = strlen(p[i]);
					memcpy(piece, p[i], pl);
				} else {
					pl = (size_t)snprintf(piece, sizeof piece, "<0x%02X>", i - 8);
				}
				float score = -(float)i;
				uint8_t type = i == 0 ? 2 : i < 3 ? 3 : i < 8 ? 1 : 6;
				*o++ = 0x0a;
				*o++ = (uint8_t)(2 + pl + 5 + 2);
				*o++ = 0x0a;
				*o++ = (uint8_t)pl;
				memcpy(o, piece, pl);
				o += pl;
				*o++ = 0x15;
				memcpy(o, &score, 4);
				o += 4;
				*o++ = 0x18;
				*o++ = type;
			}
			pj_tokenizer_from_spm_model("fuzz.model", m, (size_t)(o - m), &spm, NULL);
			free(m);
		}
		if (spm) {
			int32_t *ids;
			size_t ni;
			if (pj_tokenizer_encode(spm, s, n, PJ_TOK_ADD_SPECIAL, &ids, &ni, NULL) != PJ_OK)
				abort();
			free(ids);
		}
	} else {
		pj_tokenizer *t = NULL;
		pj_status st = mode == 7
			? pj_tokenizer_from_hf_json("fuzz.json", s, n, NULL, &t, NULL)
			: pj_tokenizer_from_spm_model("fuzz.model", (const uint8_t *)s, n, &t, NULL);
		if (st == PJ_OK) {
			int32_t *ids;
			size_t ni;
			static const char text[] = "Hello  world!\n<s> 123 \xe4\xb8\x80\xff";
			if (pj_tokenizer_encode(t, text, sizeof text - 1, PJ_TOK_ADD_SPECIAL | PJ_TOK_PARSE_SPECIAL,
			                        &ids, &ni, NULL) != PJ_OK)
				abort();
			free(pj_tokenizer_decode(t, ids, ni, true, NULL));
			free(ids);
		}
		pj_tokenizer_free(t);
	}
	return 0;
}
