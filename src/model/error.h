/* error.h - status codes and error messages shared by every library module.
 *
 * Library functions return a pj_status and, on failure, fill a caller-owned
 * pj_error with a message that names the file and the problem.  Allocation
 * failure is not an error path: pj_xmalloc and friends abort with a message
 * (as htop's xMalloc does), because no caller could do better. */
#ifndef PJ_ERROR_H
#define PJ_ERROR_H

#include <stddef.h>

typedef enum pj_status {
	PJ_OK = 0,
	PJ_EIO,          /* open/read/stat/mmap failed */
	PJ_EFORMAT,      /* file is malformed */
	PJ_EUNSUPPORTED, /* valid but not something we handle */
	PJ_ENOTFOUND,    /* model, file, tensor or key not found */
	PJ_EUSAGE,       /* bad argument from the user */
	PJ_ECANCELED,    /* a job was cancelled */
	PJ_ENOMEM,       /* a size would overflow / cannot be represented */
} pj_status;

typedef struct pj_error {
	pj_status code;
	char msg[1024];
} pj_error;

#if defined(__GNUC__)
#define PJ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PJ_PRINTF(a, b)
#endif

/* Sets e (when non-NULL) and returns code, so callers can `return pj_fail(...)`. */
pj_status pj_fail(pj_error *e, pj_status code, const char *fmt, ...) PJ_PRINTF(3, 4);
/* Prefixes an existing message: "outer: inner". */
pj_status pj_error_prefix(pj_error *e, const char *fmt, ...) PJ_PRINTF(2, 3);
const char *pj_status_name(pj_status s);

void *pj_xmalloc(size_t n);
void *pj_xcalloc(size_t n, size_t size);
void *pj_xrealloc(void *p, size_t n);
char *pj_xstrdup(const char *s);
char *pj_xstrndup(const char *s, size_t n);
char *pj_xasprintf(const char *fmt, ...) PJ_PRINTF(1, 2);

/* Overflow-checked arithmetic: return 0 on success, -1 on overflow. */
int pj_mul_u64(unsigned long long a, unsigned long long b, unsigned long long *out);
int pj_add_u64(unsigned long long a, unsigned long long b, unsigned long long *out);

#endif
