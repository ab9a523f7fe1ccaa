/* heap.h - a binary heap of fixed-size elements (the tokenizers' pending
 * merges): `before(x, y)` true means x comes out first.
 *
 * push and pop are inline and take the element size and the comparator on
 * every call, so that each caller gets a copy with both folded in: through
 * a stored function pointer and memcpy() of a run-time size the BPE and
 * SentencePiece encoders ran 15-35% slower on eval.txt. */
#ifndef PJ_HEAP_H
#define PJ_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct pj_heap {
	char *a;
	size_t n, cap;             /* elements held, room for */
} pj_heap;

typedef bool pj_heap_before(const void *x, const void *y);

/* Room for one more element (heap.c). */
void pj_heap_grow(pj_heap *h, size_t size);
void pj_heap_free(pj_heap *h);

/* Both keep h->a and h->n in locals: a store through the char pointer may
 * alias *h, and reloading it at every level cost 5% with SentencePiece. */
static inline void pj_heap_push(pj_heap *h, const void *e, size_t size, pj_heap_before *before)
{
	if (h->n == h->cap)
		pj_heap_grow(h, size);
	char *a = h->a;
	size_t i = h->n++;
	/* parents move down into the hole until e fits there */
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!before(e, a + up * size))
			break;
		memcpy(a + i * size, a + up * size, size);
		i = up;
	}
	memcpy(a + i * size, e, size);
}

/* Copies the first element to *top and removes it; h must not be empty. */
static inline void pj_heap_pop(pj_heap *h, void *top, size_t size, pj_heap_before *before)
{
	char *a = h->a;
	const size_t n = --h->n;
	/* the last element stays in place, just past the end, while the hole
	 * it will fill sinks from the root */
	memcpy(top, a, size);
	const char *last = a + n * size;
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && before(a + (c + 1) * size, a + c * size))
			c++;
		if (!before(a + c * size, last))
			break;
		memcpy(a + i * size, a + c * size, size);
		i = c;
	}
	if (n)
		memcpy(a + i * size, last, size);
}

#endif
