/* tok_spm.c - SentencePiece vocabularies, the way llama.cpp tokenizes them.
 *
 * The text (spaces already written as U+2581) is cut into UTF-8 characters;
 * then, repeatedly, the adjacent pair whose concatenation is a vocabulary
 * token with the highest score is merged (ties: leftmost first).  A final
 * piece that is not a token falls back to its bytes as <0xNN> tokens. */
#include "config.h"
#include "tok_internal.h"
#include "heap.h"

#include <stdlib.h>
#include <string.h>

typedef struct sym {
	int prev, next;
	uint32_t off, n;
} sym;

typedef struct bigram {
	int left, right;
	float score;
	uint32_t size;
} bigram;

typedef struct spm_ctx {
	const pj_tokenizer *t;
	const char *w;
	sym *s;
	size_t ns;
	pj_heap h;                 /* bigrams, best first */
} spm_ctx;

/* higher score first, then leftmost */
static bool bg_before(const void *x, const void *y)
{
	const bigram *a = x, *b = y;
	return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void add_bigram(spm_ctx *x, int l, int r)
{
	if (l < 0 || r < 0)
		return;
	const sym *a = &x->s[l], *b = &x->s[r];
	/* the pair is contiguous in the text, so no copy is needed */
	int32_t id = tok_map_get(&x->t->vocab, x->w + a->off, (size_t)a->n + b->n);
	if (id < 0)
		return;
	pj_heap_push(&x->h, &(bigram){ l, r, x->t->score[id], a->n + b->n }, sizeof(bigram), bg_before);
}

void pj_tok_spm_encode(const pj_tokenizer *t, const char *text, size_t len, tok_out *out)
{
	spm_ctx x = { .t = t, .w = text };

	if (!len)
		return;
	x.s = pj_xmalloc(len * sizeof *x.s);
	for (size_t o = 0; o < len;) {
		size_t n = pj_utf8_len((uint8_t)text[o]);
		if (n > len - o)
			n = len - o;
		x.s[x.ns] = (sym){ (int)x.ns - 1, o + n == len ? -1 : (int)x.ns + 1, (uint32_t)o, (uint32_t)n };
		x.ns++;
		o += n;
	}
	for (size_t i = 1; i < x.ns; i++)
		add_bigram(&x, (int)i - 1, (int)i);
	while (x.h.n) {
		bigram b;
		pj_heap_pop(&x.h, &b, sizeof b, bg_before);
		sym *l = &x.s[b.left], *r = &x.s[b.right];
		/* pieces only grow, so an outdated pair shows as a size change */
		if (!l->n || !r->n || l->n + r->n != b.size || l->next != b.right)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			x.s[r->next].prev = b.left;
		add_bigram(&x, l->prev, b.left);
		add_bigram(&x, b.left, l->next);
	}
	for (int i = 0; i >= 0; i = x.s[i].next) {
		const char *p = text + x.s[i].off;
		size_t n = x.s[i].n;
		int32_t id = tok_map_get(&t->vocab, p, n);
		if (id >= 0) {
			tok_out_push(out, id);
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			int32_t b = t->byte_tok[(uint8_t)p[k]];
			if (b < 0)
				b = t->unk;
			if (b >= 0)
				tok_out_push(out, b);
		}
	}
	free(x.s);
	pj_heap_free(&x.h);
}
