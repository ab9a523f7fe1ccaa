/* tap.h - a tiny TAP producer for the Automake TAP driver.
 * ok()/is_int()/is_str() print one test line each; skip_all() and skip()
 * report skipped checks loudly (counted as SKIP, never as a pass). */
#ifndef PJ_TAP_H
#define PJ_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) do { long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!ok(g_ == w_, __VA_ARGS__)) tap_diag("got %lld, want %lld", g_, w_); } while (0)
#define is_str(got, want, ...) do { const char *g_ = (got), *w_ = (want); \
	if (!ok(g_ && w_ && strcmp(g_, w_) == 0, __VA_ARGS__)) tap_diag("got '%s', want '%s'", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } while (0)
#define like(hay, needle, ...) do { const char *h_ = (hay), *n_ = (needle); \
	if (!ok(h_ && strstr(h_, n_), __VA_ARGS__)) tap_diag("'%s' does not contain '%s'", h_ ? h_ : "(null)", n_); } while (0)

static inline void skip(const char *why)
{
	printf("ok %d # SKIP %s\n", ++tap_n, why);
	fflush(stdout);
}

static inline int skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	return 0;
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/* Path of ../shared (PJ_SHARED), or NULL when it is absent. */
static inline const char *tap_shared_dir(void)
{
	const char *s = getenv("PJ_SHARED");
	static char buf[4096];
	if (!s || !*s) {
		snprintf(buf, sizeof buf, "%s/../shared", PJ_SRCDIR);
		s = buf;
	}
	char probe[4200];
	snprintf(probe, sizeof probe, "%s/models", s);
	FILE *f = fopen(probe, "r");
	if (!f)
		return NULL;
	fclose(f);
	return s;
}

/* A whole file, NUL-terminated (*len: its size, when len is non-NULL); NULL
 * when it cannot be opened. */
static inline char *tap_slurp(const char *path, size_t *len)
{
	if (len)
		*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc(n > 0 ? (size_t)n + 1 : 1);
	size_t got = b ? fread(b, 1, n > 0 ? (size_t)n : 0, f) : 0;
	fclose(f);
	if (!b)
		return NULL;
	b[got] = '\0';
	if (len)
		*len = got;
	return b;
}

#endif
