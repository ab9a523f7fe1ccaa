/* tokenizer.c - loading vocabularies (GGUF, tokenizer.json, tokenizer.model),
 * added/special tokens, encode/decode.  The algorithms live in tok_bpe.c and
 * tok_spm.c; the rules follow llama.cpp's llama-vocab.cpp so that ids match
 * its test vectors, and Hugging Face's tokenizer.json semantics where a
 * folder is read. */
#include "config.h"
#include "tok_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- hash map ---------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;          /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

void tok_map_init(tok_map *m, size_t expect)
{
	size_t cap = 16;

	while (cap < expect * 2)
		cap *= 2;
	m->ent = pj_xcalloc(cap, sizeof *m->ent);
	m->cap = cap;
	m->n = 0;
}

void tok_map_free(tok_map *m)
{
	free(m->ent);
	m->ent = NULL;
	m->cap = m->n = 0;
}

static void map_grow(tok_map *m)
{
	tok_map bigger;

	tok_map_init(&bigger, m->cap);
	for (size_t i = 0; i < m->cap; i++)
		if (m->ent[i].key)
			tok_map_put(&bigger, m->ent[i].key, m->ent[i].len, m->ent[i].val);
	free(m->ent);
	*m = bigger;
}

int32_t tok_map_put(tok_map *m, const char *key, size_t len, int32_t val)
{
	if ((m->n + 1) * 2 > m->cap)
		map_grow(m);
	size_t mask = m->cap - 1, i = hash_bytes(key, len) & mask;
	while (m->ent[i].key) {
		if (m->ent[i].len == len && memcmp(m->ent[i].key, key, len) == 0)
			return m->ent[i].val;
		i = (i + 1) & mask;
	}
	m->ent[i] = (tok_map_ent){ key, (uint32_t)len, val };
	m->n++;
	return val;
}

int32_t tok_map_get(const tok_map *m, const char *key, size_t len)
{
	if (!m->cap)
		return -1;
	size_t mask = m->cap - 1, i = hash_bytes(key, len) & mask;
	while (m->ent[i].key) {
		if (m->ent[i].len == len && memcmp(m->ent[i].key, key, len) == 0)
			return m->ent[i].val;
		i = (i + 1) & mask;
	}
	return -1;
}

/* ---- string pool, id list ----------------------------------------------------- */

struct tok_pool_blk {
	tok_pool_blk *next;
	size_t used, cap;
	char data[];
};

char *tok_pool_add(tok_pool *p, const char *s, size_t len)
{
	tok_pool_blk *b = p->head;

	if (!b || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > (1u << 20) ? len + 1 : (1u << 20);
		b = pj_xmalloc(sizeof *b + cap);
		b->next = p->head;
		b->used = 0;
		b->cap = cap;
		p->head = b;
	}
	char *d = b->data + b->used;
	if (s && len)
		memcpy(d, s, len);
	d[len] = '\0';
	b->used += len + 1;
	return d;
}

void tok_pool_free(tok_pool *p)
{
	while (p->head) {
		tok_pool_blk *n = p->head->next;
		free(p->head);
		p->head = n;
	}
}

void tok_out_push(tok_out *o, int32_t id)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 256;
		o->ids = pj_xrealloc(o->ids, o->cap * sizeof *o->ids);
	}
	o->ids[o->n++] = id;
}

/* ---- building a tokenizer ------------------------------------------------------ */

/* Largest vocabulary we accept: far above any real one (~260k), low enough
 * that a corrupt count cannot make us allocate gigabytes. */
#define MAX_VOCAB (1u << 24)

static pj_tokenizer *tok_new(pj_tok_kind kind, const char *source, uint32_t n)
{
	pj_tokenizer *t = pj_xcalloc(1, sizeof *t);

	t->kind = kind;
	t->source = pj_xstrdup(source);
	t->pre = pj_xstrdup("");
	t->n_vocab = n;
	t->text = pj_xcalloc(n, sizeof *t->text);
	t->len = pj_xcalloc(n, sizeof *t->len);
	t->score = pj_xcalloc(n, sizeof *t->score);
	t->attr = pj_xcalloc(n, 1);
	t->bos = t->eos = t->unk = -1;
	tok_map_init(&t->vocab, n);
	return t;
}

void pj_tokenizer_free(pj_tokenizer *t)
{
	if (!t)
		return;
	free(t->source);
	free(t->pre);
	free(t->text);
	free(t->len);
	free(t->score);
	free(t->attr);
	free(t->special);
	free(t->special_sorted);
	free(t->sorted_to_order);
	free(t->piece);
	free(t->piece_len);
	tok_map_free(&t->vocab);
	tok_map_free(&t->merges);
	tok_pool_free(&t->pool);
	free(t);
}

static void set_pre(pj_tokenizer *t, const char *pre)
{
	free(t->pre);
	t->pre = pj_xstrdup(pre);
}

/* Stores token id's text; fails on a text that an earlier id already has
 * (llama.cpp refuses such vocabularies too). */
static pj_status set_token(pj_tokenizer *t, uint32_t id, const char *s, size_t len, pj_error *err)
{
	char *c = tok_pool_add(&t->pool, s, len);
	int32_t prev = tok_map_put(&t->vocab, c, len, (int32_t)id);

	if (prev != (int32_t)id)
		return pj_fail(err, PJ_EFORMAT, "%s: duplicate token '%.*s' (ids %d and %u)",
		               t->source, (int)(len > 64 ? 64 : len), s, prev, id);
	t->text[id] = c;
	t->len[id] = (uint32_t)len;
	return PJ_OK;
}

static pj_status add_merge(pj_tokenizer *t, const char *a, size_t na, const char *b, size_t nb, int32_t rank)
{
	char *k = tok_pool_add(&t->pool, NULL, na + 1 + nb);

	/* "left right", the key tok_bpe.c builds for a candidate pair */
	memcpy(k, a, na);
	k[na] = ' ';
	memcpy(k + na + 1, b, nb);
	tok_map_put(&t->merges, k, na + 1 + nb, rank);   /* first rank wins */
	return PJ_OK;
}

static size_t spm_unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (i + 2 < n && (uint8_t)s[i] == 0xe2 && (uint8_t)s[i + 1] == 0x96 && (uint8_t)s[i + 2] == 0x81) {
			out[o++] = ' ';
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "<0xNN>" -> NN, else -1 */
static int byte_token_value(const char *s, size_t n)
{
	if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	int hi = hexval(s[3]), lo = hexval(s[4]);
	return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

typedef int (*id_cmp)(const pj_tokenizer *t, int32_t a, int32_t b);

static int by_len_desc(const pj_tokenizer *t, int32_t x, int32_t y)
{
	if (t->len[x] != t->len[y])
		return t->len[x] > t->len[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int by_bytes(const pj_tokenizer *t, int32_t x, int32_t y)
{
	uint32_t lx = t->len[x], ly = t->len[y];
	int c = memcmp(t->text[x], t->text[y], lx < ly ? lx : ly);

	if (c)
		return c;
	return lx < ly ? -1 : lx > ly;
}

/* Merge sort of token ids (qsort has no context argument in C11). */
static void sort_ids(const pj_tokenizer *t, int32_t *a, size_t n, id_cmp cmp)
{
	int32_t *tmp = pj_xmalloc((n ? n : 1) * sizeof *tmp);

	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				tmp[k++] = cmp(t, a[j], a[i]) < 0 ? a[j++] : a[i++];
			while (i < mid)
				tmp[k++] = a[i++];
			while (j < hi)
				tmp[k++] = a[j++];
		}
		memcpy(a, tmp, n * sizeof *a);
	}
	free(tmp);
}

/* Lookups and caches every encoder and decoder needs; called once the
 * vocabulary and attributes are final. */
static void finish(pj_tokenizer *t)
{
	char buf[16];

	for (uint32_t i = 0; i < t->n_vocab; i++) {
		if (!t->text[i]) {
			/* ids no file named: keep them unmatchable */
			int n = snprintf(buf, sizeof buf, "[PAD%u]", i);
			t->text[i] = tok_pool_add(&t->pool, buf, (size_t)n);
			t->len[i] = (uint32_t)n;
			t->attr[i] = PJ_TA_UNUSED;
		}
	}

	t->special = pj_xmalloc((t->n_vocab ? t->n_vocab : 1) * sizeof *t->special);
	t->n_special = 0;
	for (uint32_t i = 0; i < t->n_vocab; i++)
		if (t->attr[i] & (PJ_TA_CONTROL | PJ_TA_USER_DEFINED | PJ_TA_UNKNOWN))
			if (t->len[i])
				t->special[t->n_special++] = (int32_t)i;
	t->special_sorted = pj_xmalloc((t->n_special ? t->n_special : 1) * sizeof *t->special_sorted);
	memcpy(t->special_sorted, t->special, t->n_special * sizeof *t->special);
	sort_ids(t, t->special, t->n_special, by_len_desc);
	sort_ids(t, t->special_sorted, t->n_special, by_bytes);
	/* sorted position -> position in the longest-first order */
	t->sorted_to_order = pj_xmalloc((t->n_special ? t->n_special : 1) * sizeof *t->sorted_to_order);
	{
		tok_map pos;
		tok_map_init(&pos, t->n_special);
		for (size_t i = 0; i < t->n_special; i++)
			tok_map_put(&pos, t->text[t->special[i]], t->len[t->special[i]], (int32_t)i);
		for (size_t i = 0; i < t->n_special; i++)
			t->sorted_to_order[i] = tok_map_get(&pos, t->text[t->special_sorted[i]],
			                                    t->len[t->special_sorted[i]]);
		tok_map_free(&pos);
	}

	for (int b = 0; b < 256; b++) {
		int32_t id = -1;
		if (t->kind == PJ_TOK_BPE) {
			size_t n = pj_utf8_put(pj_tok_byte_to_cp((uint8_t)b), buf);
			id = tok_map_get(&t->vocab, buf, n);
		} else {
			snprintf(buf, sizeof buf, "<0x%02X>", b);
			id = tok_map_get(&t->vocab, buf, 6);
			if (id < 0 && t->kind == PJ_TOK_SPM) {
				buf[0] = (char)b;
				id = tok_map_get(&t->vocab, buf, 1);
			}
		}
		t->byte_tok[b] = id;
	}

	t->piece = pj_xmalloc((t->n_vocab ? t->n_vocab : 1) * sizeof *t->piece);
	t->piece_len = pj_xmalloc((t->n_vocab ? t->n_vocab : 1) * sizeof *t->piece_len);
	char *tmp = NULL;
	size_t cap = 0;
	for (uint32_t i = 0; i < t->n_vocab; i++) {
		const char *s = t->text[i];
		size_t n = t->len[i], o = 0;
		int bv;
		if (n + 1 > cap) {
			cap = 2 * n + 16;
			tmp = pj_xrealloc(tmp, cap);
		}
		if (t->attr[i] & (PJ_TA_CONTROL | PJ_TA_UNKNOWN | PJ_TA_USER_DEFINED)) {
			memcpy(tmp, s, n);
			o = n;
		} else if ((t->attr[i] & PJ_TA_BYTE) && (bv = byte_token_value(s, n)) >= 0) {
			tmp[o++] = (char)bv;
		} else if (t->kind == PJ_TOK_BPE) {
			for (size_t k = 0; k < n;) {
				size_t at = k;
				int byte = pj_tok_cp_to_byte(pj_utf8_next(s, n, &k));
				if (byte >= 0) {
					tmp[o++] = (char)byte;
				} else {
					/* not a byte-level character: keep its UTF-8 */
					memcpy(tmp + o, s + at, k - at);
					o += k - at;
				}
			}
		} else {
			o = spm_unescape(s, n, tmp);
		}
		t->piece[i] = tok_pool_add(&t->pool, tmp, o);
		t->piece_len[i] = (uint32_t)o;
	}
	free(tmp);
}

/* ---- GGUF ------------------------------------------------------------------------- */

/* Texts llama.cpp treats as end-of-generation control tokens whatever type
 * the converter gave them; the type decides whether plain text may spell
 * them, so we follow it. */
static const char *const eog_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
	"<|end_of_text|>", "<EOT>", "_<EOT>", "<|eom_id|>",
	"<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
	"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|fim_repo|>",
	"<|repo_name|>", "<|file_sep|>",
};

/* tokenizer.ggml.token_type values -> attributes */
static const uint8_t gguf_type_attr[7] = {
	[1] = PJ_TA_NORMAL, [2] = PJ_TA_UNKNOWN, [3] = PJ_TA_CONTROL,
	[4] = PJ_TA_USER_DEFINED, [5] = PJ_TA_UNUSED, [6] = PJ_TA_BYTE,
};

static const pj_gguf_kv *array_kv(const pj_gguf *g, const char *key, pj_gguf_type et,
                                   pj_gguf_type et2, uint64_t min_n, const char *label,
                                   pj_status *st, pj_error *err)
{
	const pj_gguf_kv *kv = pj_gguf_find(g, key);

	*st = PJ_OK;
	if (!kv)
		return NULL;
	if (kv->type != PJ_GGUF_ARRAY || (kv->arr_type != et && kv->arr_type != et2)) {
		*st = pj_fail(err, PJ_EFORMAT, "%s: %s is a %s, expected an array of %s", label, key,
		              kv->type == PJ_GGUF_ARRAY ? "array of another type" : pj_gguf_type_name(kv->type),
		              pj_gguf_type_name(et));
		return NULL;
	}
	if (kv->arr_n < min_n) {
		*st = pj_fail(err, PJ_EFORMAT, "%s: %s has %llu entries for %llu tokens", label, key,
		              (unsigned long long)kv->arr_n, (unsigned long long)min_n);
		return NULL;
	}
	return kv;
}

static pj_status gguf_token_id(const pj_gguf *g, const char *key, pj_tokenizer *t, int32_t *id, pj_error *err)
{
	uint64_t v;

	if (!pj_gguf_find(g, key))
		return PJ_OK;
	if (!pj_gguf_get_u64(g, key, &v))
		return pj_fail(err, PJ_EFORMAT, "%s: %s is not an integer", t->source, key);
	if (v >= t->n_vocab)
		return pj_fail(err, PJ_EFORMAT, "%s: %s = %llu is outside the vocabulary (%u tokens)",
		               t->source, key, (unsigned long long)v, t->n_vocab);
	*id = (int32_t)v;
	return PJ_OK;
}

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i] && (hay[i] | 0x20) == (needle[i] | 0x20))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

static void set_attr_by_text(pj_tokenizer *t, const char *s, uint8_t attr, bool on)
{
	int32_t id = tok_map_get(&t->vocab, s, strlen(s));

	if (id >= 0)
		t->attr[id] = on ? (uint8_t)(t->attr[id] | attr) : (uint8_t)(t->attr[id] & ~attr);
}

pj_status pj_tokenizer_from_gguf(const pj_gguf *g, pj_tokenizer **out, pj_error *err)
{
	const char *label = g->path ? g->path : "GGUF";
	const char *model = pj_gguf_get_str(g, "tokenizer.ggml.model");
	pj_tok_kind kind;
	pj_status st;

	*out = NULL;
	if (!model)
		return pj_fail(err, PJ_ENOTFOUND, "%s: no tokenizer.ggml.model: the file carries no vocabulary", label);
	if (strcmp(model, "gpt2") == 0)
		kind = PJ_TOK_BPE;
	else if (strcmp(model, "llama") == 0)
		kind = PJ_TOK_SPM;
	else
		return pj_fail(err, PJ_EUNSUPPORTED,
		               "%s: tokenizer.ggml.model '%s' is not supported (byte-level BPE 'gpt2' and "
		               "SentencePiece 'llama' are)", label, model);

	const pj_gguf_kv *tok = pj_gguf_find(g, "tokenizer.ggml.tokens");
	if (!tok)
		return pj_fail(err, PJ_EFORMAT, "%s: tokenizer.ggml.tokens is missing", label);
	if (tok->type != PJ_GGUF_ARRAY || tok->arr_type != PJ_GGUF_STRING)
		return pj_fail(err, PJ_EFORMAT, "%s: tokenizer.ggml.tokens is not an array of strings", label);
	if (tok->arr_n == 0 || tok->arr_n > MAX_VOCAB)
		return pj_fail(err, PJ_EFORMAT, "%s: tokenizer.ggml.tokens has %llu entries", label,
		               (unsigned long long)tok->arr_n);
	uint32_t n = (uint32_t)tok->arr_n;

	const pj_gguf_kv *scores = array_kv(g, "tokenizer.ggml.scores", PJ_GGUF_FLOAT32, PJ_GGUF_INT32, n,
	                                    label, &st, err);
	if (st)
		return st;
	const pj_gguf_kv *types = array_kv(g, "tokenizer.ggml.token_type", PJ_GGUF_INT32, PJ_GGUF_INT32, n,
	                                   label, &st, err);
	if (st)
		return st;
	const pj_gguf_kv *merges = array_kv(g, "tokenizer.ggml.merges", PJ_GGUF_STRING, PJ_GGUF_STRING, 0,
	                                    label, &st, err);
	if (st)
		return st;
	if (kind == PJ_TOK_BPE && !merges)
		return pj_fail(err, PJ_EFORMAT, "%s: tokenizer.ggml.merges is missing (a BPE vocabulary needs it)", label);

	pj_tokenizer *t = tok_new(kind, label, n);
	for (uint32_t i = 0; i < n; i++) {
		const char *s = tok->arr_str[i];
		size_t len = (size_t)tok->arr_str_len[i];
		char empty[32];
		if (len == 0) {
			/* as llama.cpp: an empty entry gets a name that cannot match */
			len = (size_t)snprintf(empty, sizeof empty, "[EMPTY_%u]", i);
			s = empty;
		}
		if ((st = set_token(t, i, s, len, err)))
			goto fail;
		if (scores) {
			if (scores->arr_type == PJ_GGUF_FLOAT32) {
				memcpy(&t->score[i], scores->arr_data + 4 * (size_t)i, 4);
			} else {
				int32_t v;
				memcpy(&v, scores->arr_data + 4 * (size_t)i, 4);
				t->score[i] = (float)v;
			}
		}
		t->attr[i] = PJ_TA_NORMAL;
		if (types) {
			int32_t v;
			memcpy(&v, types->arr_data + 4 * (size_t)i, 4);
			t->attr[i] = v >= 0 && v < 7 ? gguf_type_attr[v] : 0;
		}
	}
	for (size_t i = 0; i < sizeof eog_texts / sizeof eog_texts[0]; i++)
		set_attr_by_text(t, eog_texts[i], PJ_TA_CONTROL, true);

	if (kind == PJ_TOK_BPE) {
		tok_map_init(&t->merges, merges->arr_n);
		for (uint64_t i = 0; i < merges->arr_n && i < INT32_MAX; i++) {
			const char *m = merges->arr_str[i];
			size_t len = (size_t)merges->arr_str_len[i];
			const char *sp = len > 1 ? memchr(m + 1, ' ', len - 1) : NULL;
			if (!sp) {
				st = pj_fail(err, PJ_EFORMAT, "%s: tokenizer.ggml.merges[%llu] '%.*s' is not two tokens "
				             "separated by a space", label, (unsigned long long)i,
				             (int)(len > 64 ? 64 : len), m);
				goto fail;
			}
			add_merge(t, m, (size_t)(sp - m), sp + 1, len - (size_t)(sp - m) - 1, (int32_t)i);
		}
		const char *pre = pj_gguf_get_str(g, "tokenizer.ggml.pre");
		if (!pre)
			pre = "default";       /* llama.cpp's fallback (with a warning) */
		if (!pj_tok_pre_from_name(t, pre)) {
			st = pj_fail(err, PJ_EUNSUPPORTED, "%s: pre-tokenizer '%s' (tokenizer.ggml.pre) is not "
			             "implemented; known: gpt-2, llama-bpe, qwen2, deepseek-llm, deepseek-v3, default",
			             label, pre);
			goto fail;
		}
		set_pre(t, pre);
	} else {
		t->bos = 1;
		t->eos = 2;
		t->unk = 0;
		t->add_bos = true;
		t->add_space_prefix = true;
		t->byte_fallback = true;
	}

	bool b;
	if (pj_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b))
		t->add_space_prefix = b;
	if (pj_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b))
		t->add_bos = b;
	if (pj_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b))
		t->add_eos = b;
	if ((st = gguf_token_id(g, "tokenizer.ggml.bos_token_id", t, &t->bos, err)) ||
	    (st = gguf_token_id(g, "tokenizer.ggml.eos_token_id", t, &t->eos, err)) ||
	    (st = gguf_token_id(g, "tokenizer.ggml.unknown_token_id", t, &t->unk, err)))
		goto fail;
	if ((uint32_t)t->bos >= n && t->bos >= 0)
		t->bos = -1;
	if ((uint32_t)t->eos >= n && t->eos >= 0)
		t->eos = -1;
	if ((uint32_t)t->unk >= n && t->unk >= 0)
		t->unk = -1;
	if (t->add_bos && t->bos < 0) {
		st = pj_fail(err, PJ_EFORMAT, "%s: tokenizer.ggml.add_bos_token is set but there is no BOS token", label);
		goto fail;
	}
	if (t->add_eos && t->eos < 0) {
		st = pj_fail(err, PJ_EFORMAT, "%s: tokenizer.ggml.add_eos_token is set but there is no EOS token", label);
		goto fail;
	}

	finish(t);

	/* Phi-3 GGUFs: llama.cpp strips the spaces after its added tokens
	 * (the attribute is not in the file, it keys on the model name). */
	const char *name = pj_gguf_get_str(g, "general.name");
	if (name && (contains_ci(name, "phi-3") || contains_ci(name, "phi3"))) {
		for (size_t i = 0; i < t->n_special; i++)
			t->attr[t->special[i]] |= PJ_TA_RSTRIP;
		set_attr_by_text(t, "</s>", PJ_TA_RSTRIP, true);
		set_attr_by_text(t, "<unk>", PJ_TA_RSTRIP, false);
		set_attr_by_text(t, "<s>", PJ_TA_RSTRIP, false);
		set_attr_by_text(t, "<|endoftext|>", PJ_TA_RSTRIP, false);
	}
	*out = t;
	return PJ_OK;
fail:
	pj_tokenizer_free(t);
	return st;
}

/* ---- Hugging Face tokenizer.json ----------------------------------------------- */

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool json_bool(const cJSON *o, const char *key, bool dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	return dflt;
}

static bool json_id(const cJSON *v, uint32_t *id)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= MAX_VOCAB ||
	    v->valuedouble != (double)(uint32_t)v->valuedouble)
		return false;
	*id = (uint32_t)v->valuedouble;
	return true;
}

/* bos_token in tokenizer_config.json: a string or {"content": ...} */
static const char *config_token(const cJSON *cfg, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);

	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsObject(v))
		return json_str(v, "content");
	return NULL;
}

/* A normalizer we can honour: none, NFC (a no-op on the text we check and
 * ignored by llama.cpp too), or SentencePiece's Prepend("▁") + Replace(" ",
 * "▁"), which makes the BPE run over escaped text. */
static pj_status hf_normalizer(pj_tokenizer *t, const cJSON *norm, bool *spm_style, pj_error *err)
{
	const char *type;

	*spm_style = false;
	if (!norm || cJSON_IsNull(norm))
		return PJ_OK;
	type = json_str(norm, "type");
	if (!type)
		return pj_fail(err, PJ_EFORMAT, "%s: normalizer has no type", t->source);
	if (strcmp(type, "NFC") == 0)
		return PJ_OK;
	if (strcmp(type, "Sequence") == 0) {
		const cJSON *it, *list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
		bool prepend = false, replace = false;
		cJSON_ArrayForEach(it, list) {
			const char *ty = json_str(it, "type");
			if (ty && strcmp(ty, "Prepend") == 0 && json_str(it, "prepend") &&
			    strcmp(json_str(it, "prepend"), "\xe2\x96\x81") == 0) {
				prepend = true;
			} else if (ty && strcmp(ty, "Replace") == 0 &&
			           json_str(cJSON_GetObjectItemCaseSensitive(it, "pattern"), "String") &&
			           strcmp(json_str(cJSON_GetObjectItemCaseSensitive(it, "pattern"), "String"), " ") == 0) {
				replace = true;
			} else if (!(ty && strcmp(ty, "NFC") == 0)) {
				return pj_fail(err, PJ_EUNSUPPORTED, "%s: normalizer '%s' is not supported",
				               t->source, ty ? ty : "?");
			}
		}
		if (replace) {
			*spm_style = true;
			t->add_space_prefix = prepend;
			return PJ_OK;
		}
		if (!prepend)
			return PJ_OK;
	}
	return pj_fail(err, PJ_EUNSUPPORTED, "%s: normalizer '%s' is not supported", t->source, type);
}

static pj_status hf_pre_one(pj_tokenizer *t, const cJSON *p, bool *byte_level, pj_error *err)
{
	const char *type = json_str(p, "type");

	if (!type)
		return pj_fail(err, PJ_EFORMAT, "%s: pre_tokenizer has no type", t->source);
	if (strcmp(type, "ByteLevel") == 0) {
		*byte_level = true;
		if (json_bool(p, "add_prefix_space", false))
			t->add_space_prefix = true;
		if (json_bool(p, "use_regex", true))
			pj_tok_pre_add_gpt2(t);
		return PJ_OK;
	}
	if (strcmp(type, "Split") == 0) {
		const char *re = json_str(cJSON_GetObjectItemCaseSensitive(p, "pattern"), "Regex");
		const char *behavior = json_str(p, "behavior");
		if (!re)
			return pj_fail(err, PJ_EUNSUPPORTED, "%s: Split pre-tokenizer without a Regex pattern", t->source);
		if (!behavior || strcmp(behavior, "Isolated") != 0 || json_bool(p, "invert", false))
			return pj_fail(err, PJ_EUNSUPPORTED, "%s: Split pre-tokenizer with behavior '%s'%s is not "
			               "supported (only Isolated)", t->source, behavior ? behavior : "?",
			               json_bool(p, "invert", false) ? " and invert" : "");
		if (!pj_tok_pre_add_regex(t, re))
			return pj_fail(err, PJ_EUNSUPPORTED, "%s: pre-tokenizer regex '%.200s' is not one of the "
			               "implemented patterns (gpt2, llama3, qwen2, deepseek-llm, deepseek-v3)",
			               t->source, re);
		return PJ_OK;
	}
	return pj_fail(err, PJ_EUNSUPPORTED, "%s: pre-tokenizer '%s' is not supported", t->source, type);
}

/* Names the stage list after the GGUF pre-tokenizer it equals, if any. */
static void name_pre(pj_tokenizer *t)
{
	static const char *const names[] = { "gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-v3" };
	pj_tokenizer probe;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		memset(&probe, 0, sizeof probe);
		pj_tok_pre_from_name(&probe, names[i]);
		if (probe.n_stages == t->n_stages && memcmp(probe.stage, t->stage, t->n_stages) == 0) {
			set_pre(t, names[i]);
			return;
		}
	}
	set_pre(t, "custom");
}

pj_status pj_tokenizer_from_hf_json(const char *label, const char *json, size_t len,
                                    const char *config_json, pj_tokenizer **out, pj_error *err)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0), *cfg = NULL;
	pj_tokenizer *t = NULL;
	pj_status st = PJ_OK;
	const cJSON *it;

	*out = NULL;
	if (!root)
		return pj_fail(err, PJ_EFORMAT, "%s: not valid JSON (near byte %zu)", label,
		               end ? (size_t)(end - json) : (size_t)0);
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (!cJSON_IsObject(model)) {
		st = pj_fail(err, PJ_EFORMAT, "%s: no \"model\" object", label);
		goto out;
	}
	const char *mtype = json_str(model, "type");
	if (mtype && strcmp(mtype, "BPE") != 0) {
		st = pj_fail(err, PJ_EUNSUPPORTED, "%s: model type '%s' is not supported (BPE is)", label, mtype);
		goto out;
	}
	const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
	const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
	if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges)) {
		st = pj_fail(err, PJ_EFORMAT, "%s: model.vocab (object) and model.merges (array) are required", label);
		goto out;
	}

	/* size: the largest id named by the vocabulary or the added tokens */
	uint32_t n = 0, id;
	cJSON_ArrayForEach(it, vocab) {
		if (!json_id(it, &id)) {
			st = pj_fail(err, PJ_EFORMAT, "%s: model.vocab: '%.64s' has an invalid id", label, it->string);
			goto out;
		}
		if (id + 1 > n)
			n = id + 1;
	}
	cJSON_ArrayForEach(it, added) {
		if (!json_id(cJSON_GetObjectItemCaseSensitive(it, "id"), &id) || !json_str(it, "content")) {
			st = pj_fail(err, PJ_EFORMAT, "%s: added_tokens: an entry lacks a valid id or content", label);
			goto out;
		}
		if (id + 1 > n)
			n = id + 1;
	}
	if (!n) {
		st = pj_fail(err, PJ_EFORMAT, "%s: model.vocab is empty", label);
		goto out;
	}

	t = tok_new(PJ_TOK_BPE, label, n);
	cJSON_ArrayForEach(it, vocab) {
		json_id(it, &id);
		if (t->text[id]) {
			st = pj_fail(err, PJ_EFORMAT, "%s: model.vocab: id %u is given to '%.64s' and '%.64s'",
			             label, id, t->text[id], it->string);
			goto out;
		}
		if ((st = set_token(t, id, it->string, strlen(it->string), err)))
			goto out;
		t->attr[id] = PJ_TA_NORMAL;
	}
	cJSON_ArrayForEach(it, added) {
		const char *c = json_str(it, "content");
		json_id(cJSON_GetObjectItemCaseSensitive(it, "id"), &id);
		if (!t->text[id]) {
			if ((st = set_token(t, id, c, strlen(c), err)))
				goto out;
		} else if (strcmp(t->text[id], c) != 0) {
			st = pj_fail(err, PJ_EFORMAT, "%s: added_tokens: id %u is '%.64s' but model.vocab has '%.64s'",
			             label, id, c, t->text[id]);
			goto out;
		}
		/* special added tokens are control tokens, the others user-defined
		 * (what convert_hf_to_gguf.py writes as token types) */
		t->attr[id] = json_bool(it, "special", false) ? PJ_TA_CONTROL : PJ_TA_USER_DEFINED;
		if (json_bool(it, "lstrip", false))
			t->attr[id] |= PJ_TA_LSTRIP;
		if (json_bool(it, "rstrip", false))
			t->attr[id] |= PJ_TA_RSTRIP;
	}

	int rank = 0;
	tok_map_init(&t->merges, (size_t)cJSON_GetArraySize(merges));
	cJSON_ArrayForEach(it, merges) {
		const char *a = NULL, *b = NULL;
		size_t na = 0, nb = 0;
		if (cJSON_IsString(it)) {
			/* "left right": split at the first space after the first byte */
			const char *s = it->valuestring, *sp = *s ? strchr(s + 1, ' ') : NULL;
			if (sp) {
				a = s;
				na = (size_t)(sp - s);
				b = sp + 1;
				nb = strlen(b);
			}
		} else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 &&
		           cJSON_IsString(cJSON_GetArrayItem(it, 0)) && cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
			a = cJSON_GetArrayItem(it, 0)->valuestring;
			b = cJSON_GetArrayItem(it, 1)->valuestring;
			na = strlen(a);
			nb = strlen(b);
		}
		if (!a) {
			st = pj_fail(err, PJ_EFORMAT, "%s: model.merges[%d] is not a pair of tokens", label, rank);
			goto out;
		}
		add_merge(t, a, na, b, nb, rank++);
	}
	t->ignore_merges = json_bool(model, "ignore_merges", false);
	t->byte_fallback = json_bool(model, "byte_fallback", false);

	bool spm_style, byte_level = false;
	if ((st = hf_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), &spm_style, err)))
		goto out;
	const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
	if (pre && !cJSON_IsNull(pre)) {
		const char *ptype = json_str(pre, "type");
		if (ptype && strcmp(ptype, "Sequence") == 0) {
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers"))
				if ((st = hf_pre_one(t, it, &byte_level, err)))
					goto out;
		} else if (ptype && strcmp(ptype, "Metaspace") == 0 && !spm_style) {
			const char *rep = json_str(pre, "replacement");
			const char *scheme = json_str(pre, "prepend_scheme");
			if ((rep && strcmp(rep, "\xe2\x96\x81") != 0) || json_bool(pre, "split", false)) {
				st = pj_fail(err, PJ_EUNSUPPORTED, "%s: Metaspace pre-tokenizer with another replacement "
				             "or split=true is not supported", label);
				goto out;
			}
			spm_style = true;
			t->add_space_prefix = scheme ? strcmp(scheme, "never") != 0 : json_bool(pre, "add_prefix_space", true);
		} else if ((st = hf_pre_one(t, pre, &byte_level, err))) {
			goto out;
		}
	}
	if (spm_style) {
		if (byte_level || t->n_stages) {
			st = pj_fail(err, PJ_EUNSUPPORTED, "%s: SentencePiece-style normalizer with a word-splitting "
			             "pre-tokenizer is not supported", label);
			goto out;
		}
		t->kind = PJ_TOK_BPE_SPM;
		set_pre(t, "");
	} else if (!byte_level) {
		st = pj_fail(err, PJ_EUNSUPPORTED, "%s: a BPE without a ByteLevel pre-tokenizer or a "
		             "SentencePiece-style normalizer is not supported", label);
		goto out;
	} else {
		name_pre(t);
	}

	/* BOS/EOS: tokenizer_config.json first, then the post-processor */
	if (config_json) {
		cfg = cJSON_Parse(config_json);
		const char *bos = config_token(cfg, "bos_token"), *eos = config_token(cfg, "eos_token");
		if (bos)
			t->bos = tok_map_get(&t->vocab, bos, strlen(bos));
		if (eos)
			t->eos = tok_map_get(&t->vocab, eos, strlen(eos));
		t->add_bos = json_bool(cfg, "add_bos_token", false);
		t->add_eos = json_bool(cfg, "add_eos_token", false);
	}
	const cJSON *post = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
	const char *ptype = post ? json_str(post, "type") : NULL;
	if (ptype && strcmp(ptype, "TemplateProcessing") == 0) {
		/* single: [{SpecialToken: {id: "<s>"}}, {Sequence: ...}, ...] */
		const cJSON *single = cJSON_GetObjectItemCaseSensitive(post, "single");
		int size = cJSON_GetArraySize(single), i = 0;
		cJSON_ArrayForEach(it, single) {
			const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
			const char *name = sp ? json_str(sp, "id") : NULL;
			int32_t sid = name ? tok_map_get(&t->vocab, name, strlen(name)) : -1;
			if (sid >= 0 && i == 0) {
				t->bos = sid;
				t->add_bos = true;
			} else if (sid >= 0 && i == size - 1) {
				t->eos = sid;
				t->add_eos = true;
			}
			i++;
		}
	}
	if ((t->add_bos && t->bos < 0) || (t->add_eos && t->eos < 0)) {
		st = pj_fail(err, PJ_EFORMAT, "%s: BOS/EOS is to be added but its token is not in the vocabulary", label);
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		if (!t->text[i])
			t->attr[i] = PJ_TA_UNUSED;
	finish(t);
out:
	cJSON_Delete(root);
	cJSON_Delete(cfg);
	if (st) {
		pj_tokenizer_free(t);
		return st;
	}
	*out = t;
	return PJ_OK;
}

/* ---- SentencePiece tokenizer.model (protobuf) --------------------------------- */

typedef struct pb {
	const uint8_t *p, *end;
} pb;

static bool pb_varint(pb *b, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
		uint8_t c = *b->p++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

/* Reads one field header and, for length-delimited fields, the payload. */
static bool pb_field(pb *b, uint32_t *field, uint32_t *wire, pb *payload, uint64_t *val)
{
	uint64_t key;

	if (!pb_varint(b, &key))
		return false;
	*field = (uint32_t)(key >> 3);
	*wire = key & 7;
	switch (*wire) {
	case 0:
		return pb_varint(b, val);
	case 1:
		if (b->end - b->p < 8)
			return false;
		memcpy(val, b->p, 8);
		b->p += 8;
		return true;
	case 2:
		if (!pb_varint(b, val) || *val > (uint64_t)(b->end - b->p))
			return false;
		payload->p = b->p;
		payload->end = b->p + *val;
		b->p += *val;
		return true;
	case 5:
		if (b->end - b->p < 4)
			return false;
		*val = 0;
		memcpy(val, b->p, 4);
		b->p += 4;
		return true;
	}
	return false;
}

pj_status pj_tokenizer_from_spm_model(const char *label, const uint8_t *buf, size_t len,
                                      pj_tokenizer **out, pj_error *err)
{
	pb b = { buf, buf + len }, sub;
	uint32_t field, wire, n = 0;
	uint64_t v;
	bool dummy_prefix = true;
	int64_t ids[3] = { 0, 1, 2 };  /* unk, bos, eos: TrainerSpec defaults */
	pj_status st;

	*out = NULL;
	/* first pass: count pieces, read the specs */
	while (b.p < b.end) {
		if (!pb_field(&b, &field, &wire, &sub, &v))
			return pj_fail(err, PJ_EFORMAT, "%s: not a SentencePiece model (bad protobuf at byte %zu)",
			               label, (size_t)(b.p - buf));
		if (field == 1 && wire == 2) {
			if (++n > MAX_VOCAB)
				return pj_fail(err, PJ_EFORMAT, "%s: too many pieces", label);
		} else if (field == 2 && wire == 2) {
			uint32_t f2, w2;
			pb s2;
			while (sub.p < sub.end && pb_field(&sub, &f2, &w2, &s2, &v))
				if (w2 == 0 && f2 >= 40 && f2 <= 42)
					ids[f2 - 40] = (int32_t)(uint32_t)v;
		} else if (field == 3 && wire == 2) {
			uint32_t f2, w2;
			pb s2;
			while (sub.p < sub.end && pb_field(&sub, &f2, &w2, &s2, &v))
				if (f2 == 3 && w2 == 0)
					dummy_prefix = v != 0;
		}
	}
	if (!n)
		return pj_fail(err, PJ_EFORMAT, "%s: no pieces in the SentencePiece model", label);

	pj_tokenizer *t = tok_new(PJ_TOK_SPM, label, n);
	uint32_t i = 0;
	b.p = buf;
	while (b.p < b.end && pb_field(&b, &field, &wire, &sub, &v)) {
		if (field != 1 || wire != 2)
			continue;
		const char *piece = NULL;
		size_t plen = 0;
		float score = 0;
		uint64_t type = 1;
		uint32_t f2, w2;
		pb s2;
		while (sub.p < sub.end && pb_field(&sub, &f2, &w2, &s2, &v)) {
			if (f2 == 1 && w2 == 2) {
				piece = (const char *)s2.p;
				plen = (size_t)(s2.end - s2.p);
			} else if (f2 == 2 && w2 == 5) {
				uint32_t u = (uint32_t)v;
				memcpy(&score, &u, 4);
			} else if (f2 == 3 && w2 == 0) {
				type = v;
			}
		}
		if (!piece) {
			st = pj_fail(err, PJ_EFORMAT, "%s: piece %u has no text", label, i);
			goto fail;
		}
		if ((st = set_token(t, i, piece, plen, err)))
			goto fail;
		t->score[i] = score;
		t->attr[i] = type < 7 ? gguf_type_attr[type] : 0;
		i++;
	}
	t->unk = ids[0] >= 0 && ids[0] < n ? (int32_t)ids[0] : -1;
	t->bos = ids[1] >= 0 && ids[1] < n ? (int32_t)ids[1] : -1;
	t->eos = ids[2] >= 0 && ids[2] < n ? (int32_t)ids[2] : -1;
	t->add_bos = t->bos >= 0;
	t->add_space_prefix = dummy_prefix;
	t->byte_fallback = true;
	finish(t);
	*out = t;
	return PJ_OK;
fail:
	pj_tokenizer_free(t);
	return st;
}

/* ---- files -------------------------------------------------------------------------- */

/* Reads a whole file; *buf is NUL-terminated.  PJ_ENOTFOUND when absent. */
static pj_status slurp(const char *path, char **buf, size_t *len, pj_error *err)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;

	*buf = NULL;
	if (!f)
		return pj_fail(err, errno == ENOENT ? PJ_ENOTFOUND : PJ_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 || (unsigned long long)sb.st_size > (1ull << 31)) {
		fclose(f);
		return pj_fail(err, PJ_EIO, "%s: cannot size the file", path);
	}
	*buf = pj_xmalloc((size_t)sb.st_size + 1);
	*len = fread(*buf, 1, (size_t)sb.st_size, f);
	int bad = ferror(f);
	fclose(f);
	if (bad || *len != (size_t)sb.st_size) {
		free(*buf);
		*buf = NULL;
		return pj_fail(err, PJ_EIO, "%s: read error", path);
	}
	(*buf)[*len] = '\0';
	return PJ_OK;
}

pj_status pj_tokenizer_from_hf_dir(const char *dir, pj_tokenizer **out, pj_error *err)
{
	char *path = pj_xasprintf("%s/tokenizer.json", dir);
	char *json = NULL, *cfg = NULL, *model = NULL;
	size_t len, clen;
	pj_status st = slurp(path, &json, &len, err);

	*out = NULL;
	if (st == PJ_ENOTFOUND) {
		/* no tokenizer.json: a SentencePiece model may be all there is */
		free(path);
		path = pj_xasprintf("%s/tokenizer.model", dir);
		st = slurp(path, &model, &len, err);
		if (st == PJ_ENOTFOUND)
			st = pj_fail(err, PJ_ENOTFOUND, "%s: neither tokenizer.json nor tokenizer.model is there", dir);
		else if (!st)
			st = pj_tokenizer_from_spm_model(path, (const uint8_t *)model, len, out, err);
		goto out;
	}
	if (st)
		goto out;
	char *cpath = pj_xasprintf("%s/tokenizer_config.json", dir);
	if (slurp(cpath, &cfg, &clen, NULL) != PJ_OK)
		cfg = NULL;
	free(cpath);
	st = pj_tokenizer_from_hf_json(path, json, len, cfg, out, err);
	if (!st && (*out)->kind == PJ_TOK_BPE_SPM) {
		/* a SentencePiece model converted to JSON: its scores, which
		 * llama.cpp tokenizes with, are in tokenizer.model when present */
		char *mpath = pj_xasprintf("%s/tokenizer.model", dir);
		pj_tokenizer *spm;
		if (slurp(mpath, &model, &len, NULL) == PJ_OK &&
		    pj_tokenizer_from_spm_model(mpath, (const uint8_t *)model, len, &spm, NULL) == PJ_OK &&
		    spm->n_vocab == (*out)->n_vocab) {
			pj_tokenizer_free(*out);
			*out = spm;
		} else if (model) {
			pj_tokenizer_free(spm);
		}
		free(mpath);
	}
out:
	free(path);
	free(json);
	free(cfg);
	free(model);
	return st;
}

pj_status pj_tokenizer_load(const pj_model *m, pj_tokenizer **out, pj_error *err)
{
	*out = NULL;
	if (m->format == PJ_FMT_GGUF && m->gguf)
		return pj_tokenizer_from_gguf(m->gguf, out, err);
	return pj_tokenizer_from_hf_dir(m->path, out, err);
}

/* ---- encoding ------------------------------------------------------------------------ */

typedef struct frag {
	size_t off, len;
	int32_t tok;               /* >= 0: a special token; else raw text */
} frag;

typedef struct fraglist {
	frag *f;
	size_t n, cap;
} fraglist;

static void frag_push(fraglist *l, size_t off, size_t len, int32_t tok)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->f = pj_xrealloc(l->f, l->cap * sizeof *l->f);
	}
	l->f[l->n++] = (frag){ off, len, tok };
}

static bool special_allowed(const pj_tokenizer *t, int32_t id, bool parse_special)
{
	/* user-defined tokens are split out even from plain text (as llama.cpp
	 * and HF do); control and unknown ones only when asked */
	return parse_special || !(t->attr[id] & (PJ_TA_CONTROL | PJ_TA_UNKNOWN));
}

/* Marks which special tokens occur anywhere in the text: one pass that
 * walks the byte-sorted token list like a trie, narrowing the range of
 * candidates one byte at a time. */
static void find_present(const pj_tokenizer *t, const char *s, size_t len, bool *present)
{
	const int32_t *ss = t->special_sorted;
	bool first[256] = { false };

	for (size_t i = 0; i < t->n_special; i++)
		first[(uint8_t)t->text[ss[i]][0]] = true;
	for (size_t pos = 0; pos < len; pos++) {
		if (!first[(uint8_t)s[pos]])
			continue;
		size_t lo = 0, hi = t->n_special;
		for (size_t d = 0; lo < hi; d++) {
			/* entries exactly d long sort first within the range */
			if (t->len[ss[lo]] == d) {
				present[lo] = true;
				lo++;
				if (lo >= hi)
					break;
			}
			if (pos + d >= len)
				break;
			uint8_t c = (uint8_t)s[pos + d];
			size_t a = lo, b = hi;
			while (a < b) {             /* first entry with byte d >= c */
				size_t mid = a + (b - a) / 2;
				if ((uint8_t)t->text[ss[mid]][d] < c)
					a = mid + 1;
				else
					b = mid;
			}
			lo = a;
			b = hi;
			while (a < b) {             /* first entry with byte d > c */
				size_t mid = a + (b - a) / 2;
				if ((uint8_t)t->text[ss[mid]][d] <= c)
					a = mid + 1;
				else
					b = mid;
			}
			hi = a;
		}
	}
}

static bool is_space_byte(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* llama.cpp's tokenizer_st_partition: each special token in turn (longest
 * first) is cut out of every raw fragment, honouring lstrip/rstrip. */
static void partition(const pj_tokenizer *t, const char *s, size_t len, bool parse_special, fraglist *out)
{
	fraglist cur = { 0 }, next = { 0 };
	bool *present_sorted, *present;

	frag_push(&cur, 0, len, -1);
	if (!t->n_special) {
		*out = cur;
		return;
	}
	present_sorted = pj_xcalloc(t->n_special, 1);
	present = pj_xcalloc(t->n_special, 1);
	find_present(t, s, len, present_sorted);
	for (size_t i = 0; i < t->n_special; i++)
		if (present_sorted[i])
			present[t->sorted_to_order[i]] = true;
	free(present_sorted);

	for (size_t k = 0; k < t->n_special; k++) {
		int32_t id = t->special[k];
		if (!present[k] || !special_allowed(t, id, parse_special))
			continue;
		const char *tx = t->text[id];
		size_t tl = t->len[id];
		next.n = 0;
		for (size_t i = 0; i < cur.n; i++) {
			frag f = cur.f[i];
			if (f.tok >= 0) {
				frag_push(&next, f.off, f.len, f.tok);
				continue;
			}
			size_t off = f.off, end = f.off + f.len;
			while (off < end) {
				const char *m = tl <= end - off ? memmem(s + off, end - off, tx, tl) : NULL;
				if (!m) {
					frag_push(&next, off, end - off, -1);
					break;
				}
				size_t at = (size_t)(m - s), left = at - off;
				if (t->attr[id] & PJ_TA_LSTRIP)
					while (left && is_space_byte(s[off + left - 1]))
						left--;
				if (left)
					frag_push(&next, off, left, -1);
				frag_push(&next, at, tl, id);
				off = at + tl;
				if (t->attr[id] & PJ_TA_RSTRIP)
					while (off < end && is_space_byte(s[off]))
						off++;
			}
		}
		fraglist x = cur;
		cur = next;
		next = x;
	}
	free(present);
	free(next.f);
	*out = cur;
}

/* SPM input: optional dummy-prefix space, then every space as U+2581. */
static size_t spm_escape(const char *s, size_t n, bool prefix, char *out)
{
	size_t o = 0;

	if (prefix) {
		memcpy(out, "\xe2\x96\x81", 3);
		o = 3;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ') {
			memcpy(out + o, "\xe2\x96\x81", 3);
			o += 3;
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

pj_status pj_tokenizer_encode(const pj_tokenizer *t, const char *text, size_t len, unsigned flags,
                              int32_t **ids, size_t *n_ids, pj_error *err)
{
	tok_out out = { 0 };
	fraglist fr = { 0 };
	char *buf = NULL;
	size_t capb = 0;

	*ids = NULL;
	*n_ids = 0;
	if (!text && len)
		return pj_fail(err, PJ_EUSAGE, "tokenize: no text");
	if (len > SIZE_MAX / 3 - 8)
		return pj_fail(err, PJ_ENOMEM, "tokenize: %zu bytes is too much text", len);
	if ((flags & PJ_TOK_ADD_SPECIAL) && t->add_bos && t->bos >= 0)
		tok_out_push(&out, t->bos);
	if (len)
		partition(t, text, len, flags & PJ_TOK_PARSE_SPECIAL, &fr);
	for (size_t i = 0; i < fr.n; i++) {
		const frag *f = &fr.f[i];
		if (f->tok >= 0) {
			tok_out_push(&out, f->tok);
			continue;
		}
		const char *s = text + f->off;
		size_t n = f->len;
		if (t->kind == PJ_TOK_BPE) {
			if (t->add_space_prefix && s[0] != ' ') {
				/* HF ByteLevel(add_prefix_space): each piece gets one */
				if (n + 1 > capb) {
					capb = 2 * n + 16;
					buf = pj_xrealloc(buf, capb);
				}
				buf[0] = ' ';
				memcpy(buf + 1, s, n);
				s = buf;
				n++;
			}
			pj_tok_bpe_encode(t, s, n, &out);
		} else {
			/* fragments alternate with special tokens, so every one of
			 * them follows a special token or starts the text: llama.cpp
			 * gives each the dummy prefix */
			if (3 * n + 3 > capb) {
				capb = 3 * n + 16;
				buf = pj_xrealloc(buf, capb);
			}
			n = spm_escape(s, n, t->add_space_prefix, buf);
			if (t->kind == PJ_TOK_SPM)
				pj_tok_spm_encode(t, buf, n, &out);
			else
				pj_tok_bpe_encode(t, buf, n, &out);
		}
	}
	if ((flags & PJ_TOK_ADD_SPECIAL) && t->add_eos && t->eos >= 0)
		tok_out_push(&out, t->eos);
	free(fr.f);
	free(buf);
	if (!out.ids)
		out.ids = pj_xmalloc(sizeof *out.ids);
	*ids = out.ids;
	*n_ids = out.n;
	return PJ_OK;
}

/* ---- decoding and accessors ------------------------------------------------------- */

const char *pj_tokenizer_piece(const pj_tokenizer *t, int32_t id, size_t *len)
{
	if (id < 0 || (uint32_t)id >= t->n_vocab)
		return NULL;
	if (len)
		*len = t->piece_len[id];
	return t->piece[id];
}

const char *pj_tokenizer_text(const pj_tokenizer *t, int32_t id)
{
	if (id < 0 || (uint32_t)id >= t->n_vocab)
		return NULL;
	return t->text[id];
}

char *pj_tokenizer_decode(const pj_tokenizer *t, const int32_t *ids, size_t n, bool special, size_t *len)
{
	size_t total = 0, o = 0;
	bool first = true;

	for (size_t i = 0; i < n; i++)
		if (ids[i] >= 0 && (uint32_t)ids[i] < t->n_vocab)
			total += t->piece_len[ids[i]];
	char *s = pj_xmalloc(total + 1);
	for (size_t i = 0; i < n; i++) {
		int32_t id = ids[i];
		if (id < 0 || (uint32_t)id >= t->n_vocab)
			continue;
		if (!special && (t->attr[id] & (PJ_TA_CONTROL | PJ_TA_UNKNOWN)))
			continue;
		const char *p = t->piece[id];
		size_t pl = t->piece_len[id];
		/* the dummy prefix is not part of the text */
		if (first && t->kind != PJ_TOK_BPE && t->add_space_prefix && pl && p[0] == ' ') {
			p++;
			pl--;
		}
		first = false;
		memcpy(s + o, p, pl);
		o += pl;
	}
	s[o] = '\0';
	if (len)
		*len = o;
	return s;
}

int32_t pj_tokenizer_find(const pj_tokenizer *t, const char *text, size_t len)
{
	return tok_map_get(&t->vocab, text, len);
}

size_t pj_tokenizer_n_vocab(const pj_tokenizer *t)
{
	return t->n_vocab;
}

pj_tok_kind pj_tokenizer_kind(const pj_tokenizer *t)
{
	return t->kind;
}

int32_t pj_tokenizer_bos(const pj_tokenizer *t)
{
	return t->bos;
}

int32_t pj_tokenizer_eos(const pj_tokenizer *t)
{
	return t->eos;
}

bool pj_tokenizer_adds_bos(const pj_tokenizer *t)
{
	return t->add_bos && t->bos >= 0;
}

bool pj_tokenizer_is_control(const pj_tokenizer *t, int32_t id)
{
	return id >= 0 && (uint32_t)id < t->n_vocab && (t->attr[id] & (PJ_TA_CONTROL | PJ_TA_UNKNOWN));
}

const char *pj_tokenizer_pre(const pj_tokenizer *t)
{
	return t->pre;
}

const char *pj_tokenizer_source(const pj_tokenizer *t)
{
	return t->source;
}
