/* heap.c - the heap's allocation (push and pop are inline in heap.h). */
#include "config.h"
#include "heap.h"

#include <stdlib.h>

#include "error.h"

void pj_heap_grow(pj_heap *h, size_t size)
{
	h->cap = h->cap ? h->cap * 2 : 64;
	h->a = pj_xrealloc(h->a, h->cap * size);
}

void pj_heap_free(pj_heap *h)
{
	free(h->a);
	*h = (pj_heap){ 0 };
}
