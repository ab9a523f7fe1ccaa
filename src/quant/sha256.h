/* sha256.h - SHA-256 (FIPS 180-4), streaming. */
#ifndef PJ_SHA256_H
#define PJ_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct pj_sha256_ctx {
	uint32_t h[8];
	uint64_t len;          /* bytes hashed so far */
	uint8_t buf[64];
	size_t nbuf;
} pj_sha256_ctx;

void pj_sha256_init(pj_sha256_ctx *s);
void pj_sha256_update(pj_sha256_ctx *s, const void *data, size_t n);
void pj_sha256_final(pj_sha256_ctx *s, uint8_t out[32]);
/* One shot; hex is 65 bytes (lower case, NUL-terminated). */
void pj_sha256(const void *data, size_t n, uint8_t out[32]);
void pj_sha256_hex(const void *data, size_t n, char hex[65]);
void pj_sha256_to_hex(const uint8_t digest[32], char hex[65]);

#endif
