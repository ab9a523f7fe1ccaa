#include "config.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pj_status pj_fail(pj_error *e, pj_status code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

pj_status pj_error_prefix(pj_error *e, const char *fmt, ...)
{
	if (!e)
		return PJ_OK;
	char prefix[512], old[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	size_t n = strlen(prefix);
	if (n > sizeof e->msg - 3)
		n = sizeof e->msg - 3;
	memcpy(e->msg, prefix, n);
	memcpy(e->msg + n, ": ", 2);
	size_t rest = sizeof e->msg - n - 3, ol = strnlen(old, sizeof old);
	if (ol > rest)
		ol = rest;
	memcpy(e->msg + n + 2, old, ol);
	e->msg[n + 2 + ol] = '\0';
	return e->code;
}

const char *pj_status_name(pj_status s)
{
	switch (s) {
	case PJ_OK: return "ok";
	case PJ_EIO: return "I/O error";
	case PJ_EFORMAT: return "malformed input";
	case PJ_EUNSUPPORTED: return "unsupported";
	case PJ_ENOTFOUND: return "not found";
	case PJ_EUSAGE: return "usage error";
	case PJ_ECANCELED: return "cancelled";
	case PJ_ENOMEM: return "too large";
	}
	return "unknown error";
}

static void oom(size_t n)
{
	fprintf(stderr, "pajamas-tui: out of memory allocating %zu bytes\n", n);
	abort();
}

void *pj_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *pj_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *pj_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *pj_xstrdup(const char *s)
{
	return pj_xstrndup(s, strlen(s));
}

char *pj_xstrndup(const char *s, size_t n)
{
	char *p = pj_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *pj_xasprintf(const char *fmt, ...)
{
	va_list ap, aq;
	if (!fmt) /* never, but UBSan builds of GCC then warn "null format string" */
		fmt = "";
	va_start(ap, fmt);
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	char *p = pj_xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, aq);
	va_end(aq);
	return p;
}

int pj_mul_u64(unsigned long long a, unsigned long long b, unsigned long long *out)
{
	return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

int pj_add_u64(unsigned long long a, unsigned long long b, unsigned long long *out)
{
	return __builtin_add_overflow(a, b, out) ? -1 : 0;
}
