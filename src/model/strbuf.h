/* strbuf.h - a growing, always NUL-terminated byte buffer for building
 * text (regexes, shell lines, JSON) and binary headers.  The caller owns
 * b.p (NULL until something is added) and frees it. */
#ifndef PJ_STRBUF_H
#define PJ_STRBUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

void sb_add(sbuf *b, const void *s, size_t n);
void sb_str(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) PJ_PRINTF(2, 3);
/* text with POSIX extended-regex metacharacters backslash-escaped */
void sb_regex_escaped(sbuf *b, const char *text);
/* Appends what is left of f, stopping once b holds more than max bytes (then
 * b->n > max); a read error shows in ferror(f).  b->p is never NULL after. */
void sb_read(sbuf *b, FILE *f, size_t max);

#endif
