/* tok_bpe.c - byte-level BPE: pre-tokenizer patterns, GPT-2 byte mapping,
 * merges by rank.
 *
 * The pre-tokenizer regexes are matched by hand (no regex engine).  Each
 * stage is one regex with the semantics both llama.cpp (std::regex_iterator
 * per word) and Hugging Face (Split, behavior "Isolated") give it: within
 * every word of the previous stage, the leftmost match becomes a word, text
 * between matches becomes a word too.  A stage's matcher answers "how long is
 * the match starting exactly here" following the regex's alternation order
 * and greedy quantifiers; the loop in split_stage() searches leftmost. */
#include "config.h"
#include "tok_internal.h"
#include "heap.h"

#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 and character classes ------------------------------------------ */

uint32_t pj_utf8_next(const char *s, size_t len, size_t *i)
{
	const uint8_t *u = (const uint8_t *)s + *i;
	size_t left = len - *i;
	uint32_t cp;
	size_t n;

	if (u[0] < 0x80) {
		*i += 1;
		return u[0];
	}
	/* as llama.cpp: the lead byte alone decides the length, continuation
	 * bytes are checked, overlong forms are not rejected */
	if ((u[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = u[0] & 0x1f;
	} else if ((u[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = u[0] & 0x0f;
	} else if ((u[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = u[0] & 0x07;
	} else {
		*i += 1;
		return 0xfffd;
	}
	if (left < n) {
		*i += 1;
		return 0xfffd;
	}
	for (size_t k = 1; k < n; k++) {
		if ((u[k] & 0xc0) != 0x80) {
			*i += 1;
			return 0xfffd;
		}
		cp = cp << 6 | (u[k] & 0x3f);
	}
	*i += n;
	return cp;
}

size_t pj_utf8_put(uint32_t cp, char *out)
{
	uint8_t *o = (uint8_t *)out;

	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x10000)
		return pj_utf8_put(cp, out);
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

bool pj_uc_space(uint32_t cp)
{
	/* the White_Space property; ASCII 0x1c-0x1f are not in it */
	if (cp <= 0x20)
		return cp == 0x20 || (cp >= 0x09 && cp <= 0x0d);
	if (cp < 0x85)
		return false;
	switch (cp) {
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202f: case 0x205f: case 0x3000:
		return true;
	}
	return cp >= 0x2000 && cp <= 0x200a;
}

/* GPT-2's mapping: printable Latin-1 bytes stand for themselves, the other
 * 68 bytes take code points 256.. in byte order, so every byte has a visible
 * character and the mapping round-trips. */
static bool byte_is_printable(unsigned b)
{
	return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

uint32_t pj_tok_byte_to_cp(uint8_t b)
{
	/* the 68 others: 0x00-0x20, 0x7f-0xa0, 0xad, numbered from 256 */
	if (byte_is_printable(b))
		return b;
	if (b <= 0x20)
		return 256u + b;
	if (b >= 0x7f && b <= 0xa0)
		return 256u + 33 + (b - 0x7fu);
	return 256u + 67;               /* 0xad */
}

int pj_tok_cp_to_byte(uint32_t cp)
{
	if (cp < 256)
		return byte_is_printable(cp) ? (int)cp : -1;
	if (cp < 256 + 33)
		return (int)(cp - 256);
	if (cp < 256 + 67)
		return (int)(cp - 256 - 33 + 0x7f);
	if (cp == 256 + 67)
		return 0xad;
	return -1;
}

/* ---- the text being split: code points and their class flags ------------- */

enum {
	F_L = 1, F_N = 2, F_P = 4, F_S = 8, F_M = 16, F_WS = 32,
};

static const uint8_t class_flag[6] = { 0, F_L, F_N, F_P, F_S, F_M };

typedef struct cps {
	const uint32_t *c;
	const uint8_t *f;
} cps;

/* Match length at p within the word [p, e); 0 when the regex fails here. */
typedef size_t (*match_fn)(const cps *t, size_t p, size_t e);

static size_t run(const cps *t, size_t q, size_t e, uint8_t mask)
{
	while (q < e && (t->f[q] & mask))
		q++;
	return q;
}

static size_t run_not(const cps *t, size_t q, size_t e, uint8_t mask)
{
	while (q < e && !(t->f[q] & mask))
		q++;
	return q;
}

static bool is_rn(uint32_t c)
{
	return c == '\r' || c == '\n';
}

static uint32_t ascii_lower(uint32_t c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 's|'t|'re|'ve|'m|'ll|'d, optionally ASCII case-insensitive. */
static size_t contraction(const cps *t, size_t p, size_t e, bool fold)
{
	if (t->c[p] != '\'' || p + 1 >= e)
		return 0;
	uint32_t a = fold ? ascii_lower(t->c[p + 1]) : t->c[p + 1];
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return 2;
	if (p + 2 >= e)
		return 0;
	uint32_t b = fold ? ascii_lower(t->c[p + 2]) : t->c[p + 2];
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return 3;
	return 0;
}

/* \s+(?!\S)|\s+ : a run of spaces leaves its last one to the next word
 * (" word") unless the run ends the text. */
static size_t spaces(const cps *t, size_t p, size_t e)
{
	size_t n = run(t, p, e, F_WS) - p;

	if (n > 1 && p + n < e)
		return n - 1;
	return n;
}

/* \s*[\r\n]+ then the two rules above. */
static size_t spaces_nl(const cps *t, size_t p, size_t e)
{
	size_t q = run(t, p, e, F_WS), last = 0;

	for (size_t i = p; i < q; i++)
		if (is_rn(t->c[i]))
			last = i + 1;
	if (last)
		return last - p;
	return spaces(t, p, e);
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t m_gpt2(const cps *t, size_t p, size_t e)
{
	size_t n = contraction(t, p, e, false);

	if (n)
		return n;
	size_t q = (t->c[p] == ' ' && p + 1 < e) ? p + 1 : p;
	if (t->f[q] & F_L)
		return run(t, q, e, F_L) - p;
	if (t->f[q] & F_N)
		return run(t, q, e, F_N) - p;
	if (!(t->f[q] & (F_WS | F_L | F_N)))
		return run_not(t, q, e, F_WS | F_L | F_N) - p;
	return spaces(t, p, e);
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * D = 3 for llama3, 1 for qwen2. */
static size_t llama3_like(const cps *t, size_t p, size_t e, size_t digits)
{
	size_t n = contraction(t, p, e, true), q;

	if (n)
		return n;
	if (t->f[p] & F_L)
		return run(t, p, e, F_L) - p;
	if (!is_rn(t->c[p]) && !(t->f[p] & F_N) && p + 1 < e && (t->f[p + 1] & F_L))
		return run(t, p + 1, e, F_L) - p;
	if (t->f[p] & F_N) {
		for (q = p; q < e && q - p < digits && (t->f[q] & F_N); q++)
			;
		return q - p;
	}
	q = (t->c[p] == ' ' && p + 1 < e && !(t->f[p + 1] & (F_WS | F_L | F_N))) ? p + 1 : p;
	if (!(t->f[q] & (F_WS | F_L | F_N))) {
		q = run_not(t, q, e, F_WS | F_L | F_N);
		while (q < e && is_rn(t->c[q]))
			q++;
		return q - p;
	}
	return spaces_nl(t, p, e);
}

static size_t m_llama3(const cps *t, size_t p, size_t e)
{
	return llama3_like(t, p, e, 3);
}

static size_t m_qwen2(const cps *t, size_t p, size_t e)
{
	return llama3_like(t, p, e, 1);
}

/* \p{N}{1,3} */
static size_t m_digits3(const cps *t, size_t p, size_t e)
{
	size_t q = p;

	while (q < e && q - p < 3 && (t->f[q] & F_N))
		q++;
	return q - p;
}

/* \p{N}+ */
static size_t m_numbers(const cps *t, size_t p, size_t e)
{
	return run(t, p, e, F_N) - p;
}

/* [0-9][0-9][0-9] */
static size_t m_ascii3(const cps *t, size_t p, size_t e)
{
	for (size_t i = 0; i < 3; i++)
		if (p + i >= e || t->c[p + i] < '0' || t->c[p + i] > '9')
			return 0;
	return 3;
}

/* [\p{P}\$\+<=>\^~\|]+ (llama.cpp's default pre-tokenizer) */
static bool default_punct(const cps *t, size_t i)
{
	return (t->f[i] & F_P) || (t->c[i] < 128 && strchr("$+<=>^~|", (int)t->c[i]) && t->c[i]);
}

static size_t m_default_punct(const cps *t, size_t p, size_t e)
{
	size_t q = p;

	while (q < e && default_punct(t, q))
		q++;
	return q - p;
}

/* Code point ranges, inclusive, sorted. */
typedef struct cp_range {
	uint32_t lo, hi;
} cp_range;

static bool in_ranges(const cp_range *r, size_t n, uint32_t c)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c < r[mid].lo)
			hi = mid;
		else if (c > r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* deepseek-v3: [一-龥぀-ゟ゠-ヿ]+ */
static const cp_range dsv3_cjk[] = {
	{ 0x3040, 0x309f }, { 0x30a0, 0x30ff }, { 0x4e00, 0x9fa5 },
};

/* deepseek-llm: [一-龥ࠀ-一가-퟿]+ (U+0800-U+4E00 and U+4E00-U+9FA5 overlap: merged) */
static const cp_range dsllm_cjk[] = {
	{ 0x0800, 0x9fa5 }, { 0xac00, 0xd7ff },
};

/* deepseek-llm's letter class: the cased letters of the regex in the
 * model's tokenizer.json, transcribed range by range. */
static const cp_range dsllm_letters[] = {
	{ 0x41, 0x5a }, { 0x61, 0x7a }, { 0xb5, 0xb5 }, { 0xc0, 0xd6 }, { 0xd8, 0xf6 },
	{ 0xf8, 0x1ba }, { 0x1bc, 0x1bf }, { 0x1c4, 0x293 }, { 0x295, 0x2af }, { 0x370, 0x373 },
	{ 0x376, 0x377 }, { 0x37b, 0x37d }, { 0x37f, 0x37f }, { 0x386, 0x386 }, { 0x388, 0x38a },
	{ 0x38c, 0x38c }, { 0x38e, 0x3a1 }, { 0x3a3, 0x3f5 }, { 0x3f7, 0x481 }, { 0x48a, 0x52f },
	{ 0x531, 0x556 }, { 0x10a0, 0x10c5 }, { 0x13a0, 0x13f5 }, { 0x13f8, 0x13fd },
	{ 0x1c90, 0x1cba }, { 0x1cbd, 0x1cbf }, { 0x1d00, 0x1d2b }, { 0x1d6b, 0x1d77 },
	{ 0x1d79, 0x1d9a }, { 0x1e00, 0x1f15 }, { 0x1f18, 0x1f1d }, { 0x1f20, 0x1f45 },
	{ 0x1f48, 0x1f4d }, { 0x1f50, 0x1f57 }, { 0x1f59, 0x1f59 }, { 0x1f5b, 0x1f5b },
	{ 0x1f5d, 0x1f5d }, { 0x1f5f, 0x1f7d }, { 0x1f80, 0x1fb4 }, { 0x1fb6, 0x1fbc },
	{ 0x1fbe, 0x1fbe }, { 0x1fc2, 0x1fc4 }, { 0x1fc6, 0x1fcc }, { 0x1fd0, 0x1fd3 },
	{ 0x1fd6, 0x1fdb }, { 0x1fe0, 0x1fec }, { 0x1ff2, 0x1ff4 }, { 0x1ff6, 0x1ffc },
	{ 0x2102, 0x2102 }, { 0x2107, 0x2107 }, { 0x210a, 0x2113 }, { 0x2115, 0x2115 },
	{ 0x2119, 0x211d }, { 0x2124, 0x2124 }, { 0x2126, 0x2126 }, { 0x2128, 0x2128 },
	{ 0x212a, 0x212d }, { 0x212f, 0x2134 }, { 0x2139, 0x2139 }, { 0x213c, 0x213f },
	{ 0x2145, 0x2149 }, { 0x214e, 0x214e }, { 0x2183, 0x2184 }, { 0x2c00, 0x2c7b },
	{ 0x2c7e, 0x2ce4 }, { 0x2ceb, 0x2cee }, { 0x2cf2, 0x2cf3 }, { 0xa640, 0xa66d },
	{ 0xa680, 0xa69b }, { 0xa722, 0xa76f }, { 0xa771, 0xa787 }, { 0xa78b, 0xa78e },
	{ 0xab70, 0xabbf }, { 0xfb00, 0xfb06 }, { 0xfb13, 0xfb17 }, { 0xff21, 0xff3a },
	{ 0xff41, 0xff5a }, { 0x10400, 0x1044f }, { 0x104b0, 0x104d3 }, { 0x104d8, 0x104fb },
	{ 0x10c80, 0x10cb2 }, { 0x10cc0, 0x10cf2 }, { 0x118a0, 0x118df }, { 0x1e900, 0x1e943 },
};

/* deepseek-llm: [!-/:-~！-／：-～‘-‟　-。] */
static const cp_range dsllm_punct[] = {
	{ 0x21, 0x2f }, { 0x3a, 0x7e }, { 0x2018, 0x201f }, { 0x3000, 0x3002 },
	{ 0xff01, 0xff0f }, { 0xff1a, 0xff5e },
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Literal classes compare code points.  (llama.cpp runs them through
 * std::wregex with non-ASCII spaces turned into U+000B, so there U+2003 is
 * outside [ࠀ-一]; Hugging Face, whose ids the vocabularies were made with,
 * matches the code point itself, and so do we.) */
static bool in_class(const cps *t, size_t i, const cp_range *r, size_t n)
{
	return in_ranges(r, n, t->c[i]);
}

static size_t class_run(const cps *t, size_t q, size_t e, const cp_range *r, size_t n)
{
	while (q < e && in_class(t, q, r, n))
		q++;
	return q;
}

/* \s?[class]+ */
static size_t opt_space_class(const cps *t, size_t p, size_t e, const cp_range *r, size_t n)
{
	size_t q = p;

	if ((t->f[p] & F_WS) && p + 1 < e && in_class(t, p + 1, r, n))
		q = p + 1;
	if (!in_class(t, q, r, n))
		return 0;
	return class_run(t, q, e, r, n) - p;
}

static size_t m_dsllm_nl(const cps *t, size_t p, size_t e)
{
	return is_rn(t->c[p]);
}

static size_t m_dsllm_letters(const cps *t, size_t p, size_t e)
{
	return opt_space_class(t, p, e, dsllm_letters, N_OF(dsllm_letters));
}

static size_t m_dsllm_punct(const cps *t, size_t p, size_t e)
{
	return opt_space_class(t, p, e, dsllm_punct, N_OF(dsllm_punct));
}

/* \s+$ : only the trailing run of spaces matches; split_stage() searches
 * for it directly (see find_trailing_ws) so this is never quadratic. */
static size_t m_trailing_ws(const cps *t, size_t p, size_t e)
{
	return run(t, p, e, F_WS) == e ? e - p : 0;
}

static size_t m_dsllm_cjk(const cps *t, size_t p, size_t e)
{
	return class_run(t, p, e, dsllm_cjk, N_OF(dsllm_cjk)) - p;
}

static size_t m_dsv3_cjk(const cps *t, size_t p, size_t e)
{
	return class_run(t, p, e, dsv3_cjk, N_OF(dsv3_cjk)) - p;
}

static bool ascii_punct(uint32_t c)
{
	return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
	       (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

static bool ascii_alpha(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
 *  ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t m_dsv3_main(const cps *t, size_t p, size_t e)
{
	size_t q;

	if (ascii_punct(t->c[p]) && p + 1 < e && ascii_alpha(t->c[p + 1])) {
		for (q = p + 1; q < e && ascii_alpha(t->c[q]); q++)
			;
		return q - p;
	}
	if (t->f[p] & (F_L | F_M))
		return run(t, p, e, F_L | F_M) - p;
	if (!is_rn(t->c[p]) && !(t->f[p] & (F_L | F_P | F_S)) && p + 1 < e && (t->f[p + 1] & (F_L | F_M)))
		return run(t, p + 1, e, F_L | F_M) - p;
	q = (t->c[p] == ' ' && p + 1 < e && (t->f[p + 1] & (F_P | F_S))) ? p + 1 : p;
	if (t->f[q] & (F_P | F_S)) {
		q = run(t, q, e, F_P | F_S);
		while (q < e && is_rn(t->c[q]))
			q++;
		return q - p;
	}
	if (t->f[p] & F_WS)
		return spaces_nl(t, p, e);
	return 0;
}

/* ---- stage table ------------------------------------------------------------ */

enum {
	ST_GPT2, ST_LLAMA3, ST_QWEN2, ST_DIGITS3, ST_NUMBERS, ST_ASCII3, ST_DEFAULT_PUNCT,
	ST_DSLLM_NL, ST_DSLLM_LETTERS, ST_DSLLM_PUNCT, ST_TRAILING_WS, ST_DSLLM_CJK,
	ST_DSV3_CJK, ST_DSV3_MAIN, ST_COUNT
};

static const match_fn stage_fn[ST_COUNT] = {
	[ST_GPT2] = m_gpt2,
	[ST_LLAMA3] = m_llama3,
	[ST_QWEN2] = m_qwen2,
	[ST_DIGITS3] = m_digits3,
	[ST_NUMBERS] = m_numbers,
	[ST_ASCII3] = m_ascii3,
	[ST_DEFAULT_PUNCT] = m_default_punct,
	[ST_DSLLM_NL] = m_dsllm_nl,
	[ST_DSLLM_LETTERS] = m_dsllm_letters,
	[ST_DSLLM_PUNCT] = m_dsllm_punct,
	[ST_TRAILING_WS] = m_trailing_ws,
	[ST_DSLLM_CJK] = m_dsllm_cjk,
	[ST_DSV3_CJK] = m_dsv3_cjk,
	[ST_DSV3_MAIN] = m_dsv3_main,
};

/* tokenizer.ggml.pre names (llama.cpp's spelling) and their stages. */
static const struct pre_def {
	const char *name;
	uint8_t n;
	uint8_t st[6];
	bool ignore_merges;     /* llama3: whole-word lookup before merging */
	bool add_bos;           /* default when the GGUF does not say */
} pre_defs[] = {
	{ "gpt-2", 1, { ST_GPT2 }, false, false },
	{ "phi-2", 1, { ST_GPT2 }, false, false },
	{ "llama-bpe", 1, { ST_LLAMA3 }, true, true },
	{ "llama3", 1, { ST_LLAMA3 }, true, true },
	{ "llama-v3", 1, { ST_LLAMA3 }, true, true },
	{ "qwen2", 1, { ST_QWEN2 }, false, false },
	{ "deepseek-r1-qwen", 1, { ST_QWEN2 }, false, false },
	{ "deepseek-llm", 6, { ST_DSLLM_NL, ST_DSLLM_LETTERS, ST_DSLLM_PUNCT, ST_TRAILING_WS,
	                       ST_DSLLM_CJK, ST_NUMBERS }, false, false },
	{ "deepseek-v3", 3, { ST_DIGITS3, ST_DSV3_CJK, ST_DSV3_MAIN }, false, false },
	{ "default", 4, { ST_DEFAULT_PUNCT, ST_GPT2, ST_NUMBERS, ST_ASCII3 }, false, false },
};

bool pj_tok_pre_from_name(pj_tokenizer *t, const char *pre)
{
	for (size_t i = 0; i < N_OF(pre_defs); i++) {
		const struct pre_def *d = &pre_defs[i];
		if (strcmp(d->name, pre) != 0)
			continue;
		memcpy(t->stage, d->st, d->n);
		t->n_stages = d->n;
		t->ignore_merges = d->ignore_merges;
		t->add_bos = d->add_bos;
		return true;
	}
	return false;
}

/* Hugging Face Split patterns we implement, as they appear in tokenizer.json
 * once JSON-decoded; \r and \n are compared in their escaped spelling (the
 * files use both).  Several spellings of the same regex are accepted. */
static const struct {
	const char *re;
	uint8_t st;
} known_regex[] = {
	{ "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", ST_GPT2 },
	{ "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", ST_GPT2 },
	{ "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
	  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", ST_LLAMA3 },
	{ "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
	  " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", ST_LLAMA3 },
	{ "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
	  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", ST_QWEN2 },
	{ "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
	  " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", ST_QWEN2 },
	{ "\\p{N}{1,3}", ST_DIGITS3 },
	{ "\\p{N}+", ST_NUMBERS },
	{ "[一-龥\u3040-ゟ゠-ヿ]+", ST_DSV3_CJK },
	{ "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
	  " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", ST_DSV3_MAIN },
	{ "[\\r\\n]", ST_DSLLM_NL },
	{ "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚ"
	  "Ḁ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1f7dᾀ-ᾴᾶ-ᾼ\u1fbeῂ-ῄῆ-ῌῐ-\u1fd3ῖ-\u1fdbῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ"
	  "\u212a-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻"
	  "𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+", ST_DSLLM_LETTERS },
	{ "\\s?[!-/:-~！-／：-～‘-‟\u3000-。]+", ST_DSLLM_PUNCT },
	{ "\\s+$", ST_TRAILING_WS },
	{ "[一-龥ࠀ-一가-퟿]+", ST_DSLLM_CJK },
};

/* Spells raw CR/LF as \r / \n so both spellings compare equal. */
static char *canon_regex(const char *re)
{
	size_t n = strlen(re);
	char *out = pj_xmalloc(2 * n + 1), *o = out;

	for (const char *s = re; *s; s++) {
		if (*s == '\r' || *s == '\n') {
			*o++ = '\\';
			*o++ = *s == '\r' ? 'r' : 'n';
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

bool pj_tok_pre_add_regex(pj_tokenizer *t, const char *pattern)
{
	if (t->n_stages >= PJ_TOK_MAX_STAGES)
		return false;
	char *c = canon_regex(pattern);
	bool found = false;
	for (size_t i = 0; i < N_OF(known_regex) && !found; i++) {
		if (strcmp(c, known_regex[i].re) == 0) {
			t->stage[t->n_stages++] = known_regex[i].st;
			found = true;
		}
	}
	free(c);
	return found;
}

void pj_tok_pre_add_gpt2(pj_tokenizer *t)
{
	if (t->n_stages < PJ_TOK_MAX_STAGES)
		t->stage[t->n_stages++] = ST_GPT2;
}

/* ---- splitting --------------------------------------------------------------- */

typedef struct seglist {
	size_t *len;               /* word lengths in code points */
	size_t n, cap;
} seglist;

static void seg_push(seglist *s, size_t len)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->len = pj_xrealloc(s->len, s->cap * sizeof *s->len);
	}
	s->len[s->n++] = len;
}

static void split_stage(const cps *t, uint8_t st, const seglist *in, seglist *out)
{
	match_fn m = stage_fn[st];
	size_t start = 0;

	out->n = 0;
	for (size_t w = 0; w < in->n; w++) {
		size_t b = start, e = start + in->len[w], p = b, gap = b;

		start = e;
		if (st == ST_TRAILING_WS) {
			/* the leftmost position whose space run reaches the end */
			size_t q = e;
			while (q > b && (t->f[q - 1] & F_WS))
				q--;
			if (q > b)
				seg_push(out, q - b);
			if (q < e)
				seg_push(out, e - q);
			continue;
		}
		while (p < e) {
			size_t n = m(t, p, e);
			if (!n) {
				p++;
				continue;
			}
			if (gap < p)
				seg_push(out, p - gap);
			seg_push(out, n);
			p += n;
			gap = p;
		}
		if (gap < e)
			seg_push(out, e - gap);
	}
}

/* Decodes text into code points (with the byte offset of each, plus one at
 * the end) and their class flags. */
static size_t decode_text(const char *text, size_t len, uint32_t **cp, uint8_t **fl, size_t **off)
{
	uint32_t *c = pj_xmalloc((len + 1) * sizeof *c);
	uint8_t *f = pj_xmalloc(len + 1);
	size_t *o = pj_xmalloc((len + 1) * sizeof *o);
	size_t n = 0, i = 0;

	while (i < len) {
		o[n] = i;
		c[n] = pj_utf8_next(text, len, &i);
		f[n] = class_flag[pj_uc_class(c[n])] | (pj_uc_space(c[n]) ? F_WS : 0);
		n++;
	}
	o[n] = len;
	*cp = c;
	*fl = f;
	*off = o;
	return n;
}

/* Runs the stages; returns word lengths in code points. */
static void split_words(const pj_tokenizer *t, const cps *c, size_t n, seglist *words)
{
	seglist tmp = { 0 };

	words->n = 0;
	if (n)
		seg_push(words, n);
	for (uint8_t s = 0; s < t->n_stages; s++) {
		split_stage(c, t->stage[s], words, &tmp);
		seglist x = *words;
		*words = tmp;
		tmp = x;
	}
	free(tmp.len);
}

size_t pj_tok_pre_split(const pj_tokenizer *t, const char *text, size_t len, size_t **lens)
{
	uint32_t *c;
	uint8_t *f;
	size_t *off;
	size_t n = decode_text(text, len, &c, &f, &off), at = 0;
	cps cv = { c, f };
	seglist w = { 0 };

	split_words(t, &cv, n, &w);
	/* code point counts -> byte counts */
	for (size_t i = 0; i < w.n; i++) {
		size_t b = off[at];
		at += w.len[i];
		w.len[i] = off[at] - b;
	}
	free(c);
	free(f);
	free(off);
	*lens = w.len;
	return w.n;
}

/* ---- merging ------------------------------------------------------------------ */

typedef struct sym {
	int prev, next;
	uint32_t off, n;           /* bytes of the word */
} sym;

typedef struct bigram {
	int left, right;
	int32_t rank;
	uint32_t size;
} bigram;

typedef struct bpe_ctx {
	const pj_tokenizer *t;
	const char *w;             /* the (byte-encoded) word */
	sym *s;
	size_t ns, caps;
	pj_heap h;                 /* bigrams, best first */
	char *key;
	size_t capk;
} bpe_ctx;

/* lower rank first, then leftmost */
static bool bg_before(const void *x, const void *y)
{
	const bigram *a = x, *b = y;
	return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void add_bigram(bpe_ctx *x, int l, int r)
{
	if (l < 0 || r < 0)
		return;
	const sym *a = &x->s[l], *b = &x->s[r];
	size_t need = (size_t)a->n + 1 + b->n;
	if (need > x->capk) {
		x->capk = need * 2;
		x->key = pj_xrealloc(x->key, x->capk);
	}
	memcpy(x->key, x->w + a->off, a->n);
	x->key[a->n] = ' ';
	memcpy(x->key + a->n + 1, x->w + b->off, b->n);
	int32_t rank = tok_map_get(&x->t->merges, x->key, need);
	if (rank < 0)
		return;
	pj_heap_push(&x->h, &(bigram){ l, r, rank, a->n + b->n }, sizeof(bigram), bg_before);
}

static void emit_symbol(const pj_tokenizer *t, const char *s, size_t n, tok_out *out)
{
	int32_t id = tok_map_get(&t->vocab, s, n);

	if (id >= 0) {
		tok_out_push(out, id);
		return;
	}
	/* not a token: fall back to one token per byte (<0xNN> with byte
	 * fallback, else the byte-level character; llama.cpp skips bytes it
	 * cannot find and so do we) */
	for (size_t i = 0; i < n; i++) {
		int32_t b = t->byte_tok[(uint8_t)s[i]];
		if (t->kind == PJ_TOK_BPE)
			b = tok_map_get(&t->vocab, s + i, 1);
		if (b >= 0)
			tok_out_push(out, b);
	}
}

static void bpe_word(bpe_ctx *x, const char *w, size_t len, tok_out *out)
{
	const pj_tokenizer *t = x->t;

	if (!len)
		return;
	if (t->ignore_merges) {
		int32_t id = tok_map_get(&t->vocab, w, len);
		if (id >= 0) {
			tok_out_push(out, id);
			return;
		}
	}
	x->w = w;
	x->ns = 0;
	x->h.n = 0;
	for (size_t o = 0; o < len;) {
		size_t n = pj_utf8_len((uint8_t)w[o]);
		if (n > len - o)
			n = len - o;
		if (x->ns == x->caps) {
			x->caps = x->caps ? x->caps * 2 : 64;
			x->s = pj_xrealloc(x->s, x->caps * sizeof *x->s);
		}
		x->s[x->ns] = (sym){ (int)x->ns - 1, o + n == len ? -1 : (int)x->ns + 1, (uint32_t)o, (uint32_t)n };
		x->ns++;
		o += n;
	}
	for (size_t i = 1; i < x->ns; i++)
		add_bigram(x, (int)i - 1, (int)i);
	while (x->h.n) {
		bigram b;
		pj_heap_pop(&x->h, &b, sizeof b, bg_before);
		sym *l = &x->s[b.left], *r = &x->s[b.right];
		/* symbols only grow, so an outdated pair shows as a size change */
		if (!l->n || !r->n || l->n + r->n != b.size || l->next != b.right)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			x->s[r->next].prev = b.left;
		add_bigram(x, l->prev, b.left);
		add_bigram(x, b.left, l->next);
	}
	for (int i = 0; i >= 0; i = x->s[i].next)
		if (x->s[i].n)
			emit_symbol(t, w + x->s[i].off, x->s[i].n, out);
}

void pj_tok_bpe_encode(const pj_tokenizer *t, const char *text, size_t len, tok_out *out)
{
	uint32_t *c;
	uint8_t *f;
	size_t *off;
	size_t n, at = 0;
	seglist w = { 0 };
	bpe_ctx x = { .t = t };
	char *buf = NULL;
	size_t capb = 0;

	if (t->kind == PJ_TOK_BPE_SPM) {
		/* no word split: merges run over the whole escaped text */
		bpe_word(&x, text, len, out);
		goto done;
	}
	n = decode_text(text, len, &c, &f, &off);
	cps cv = { c, f };
	split_words(t, &cv, n, &w);
	for (size_t i = 0; i < w.n; i++) {
		/* re-encode the word's code points as UTF-8 (invalid input has
		 * become U+FFFD), then each byte as its GPT-2 character */
		size_t need = w.len[i] * 8;     /* 4 bytes, 2 each once mapped */
		if (need > capb) {
			capb = need * 2;
			buf = pj_xrealloc(buf, capb);
		}
		size_t bl = 0;
		for (size_t k = at; k < at + w.len[i]; k++) {
			char u[4];
			size_t ul = pj_utf8_put(c[k], u);
			for (size_t j = 0; j < ul; j++)
				bl += pj_utf8_put(pj_tok_byte_to_cp((uint8_t)u[j]), buf + bl);
		}
		at += w.len[i];
		bpe_word(&x, buf, bl, out);
	}
	free(c);
	free(f);
	free(off);
done:
	free(w.len);
	free(buf);
	free(x.s);
	pj_heap_free(&x.h);
	free(x.key);
}
