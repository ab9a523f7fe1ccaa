#include "config.h"
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void sb_grow(sbuf *b, size_t more)
{
	if (b->n + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->n + more + 1)
		cap *= 2;
	b->p = pj_xrealloc(b->p, cap);
	b->cap = cap;
}

void sb_add(sbuf *b, const void *s, size_t n)
{
	sb_grow(b, n);
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void sb_str(sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	sb_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

void sb_read(sbuf *b, FILE *f, size_t max)
{
	for (;;) {
		sb_grow(b, 65536);
		size_t k = fread(b->p + b->n, 1, b->cap - b->n - 1, f);
		b->n += k;
		b->p[b->n] = '\0';
		if (k == 0 || b->n > max)
			return;
	}
}

void sb_regex_escaped(sbuf *b, const char *text)
{
	for (const char *c = text; *c; c++) {
		if (strchr(".^$|()[]{}*+?\\", *c))
			sb_add(b, "\\", 1);
		sb_add(b, c, 1);
	}
}
