/* mcache.c - the measurement cache: an in-memory table of fixed-size
 * records, loaded from and saved to one checked, zstd-compressed file. */
#include "config.h"
#include "mcache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "model/strbuf.h"
#include "quant/sha256.h"

/* ---- file layout -----------------------------------------------------------
 * header (little-endian):
 *   0  magic "PJMCACHE"      8  u32 version       12 u32 record size
 *   16 u64 compressed length 24 u64 payload length
 *   32 SHA-256 of the payload
 * then one zstd frame (content size and XXH64 checksum flags set) whose
 * content is the payload: payload length / REC_SIZE records of
 *   u8 kind, 32-byte key, 72-byte value (layout per kind below). */
#define MAGIC "PJMCACHE"
#define HDR_SIZE 64
#define VAL_SIZE 72
#define REC_SIZE (1 + 32 + VAL_SIZE)
#define MAX_PAYLOAD (1ull << 31)  /* 20M records: far beyond any model */

enum { K_EMPTY = 0, K_RESULT = 1, K_STATS = 2 };

typedef struct entry {
	uint8_t kind;
	uint8_t key[32];
	uint8_t val[VAL_SIZE];
} entry;

struct pj_mcache {
	char *dir, *path;
	pthread_mutex_t lock;     /* guards everything below */
	entry *tab;               /* open addressing, power-of-two size */
	size_t cap, n;
	bool dirty;
	uint64_t hits, misses, puts;
};

/* ---- little-endian fields --------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_f64(uint8_t *p, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	put_u64(p, v);
}

static double get_f64(const uint8_t *p)
{
	uint64_t v = get_u64(p);
	double d;
	memcpy(&d, &v, 8);
	return d;
}

static void put_f32(uint8_t *p, float f)
{
	uint32_t v;
	memcpy(&v, &f, 4);
	put_u32(p, v);
}

static float get_f32(const uint8_t *p)
{
	uint32_t v = get_u32(p);
	float f;
	memcpy(&f, &v, 4);
	return f;
}

/* ---- the table ---------------------------------------------------------------- */

/* Keys are SHA-256 digests: any 8 of their bytes are a fine hash. */
static size_t slot_of(const pj_mcache *c, const uint8_t key[32])
{
	size_t h = (size_t)get_u64(key);
	size_t i = h & (c->cap - 1);
	while (c->tab[i].kind != K_EMPTY && memcmp(c->tab[i].key, key, 32) != 0)
		i = (i + 1) & (c->cap - 1);
	return i;
}

static void grow(pj_mcache *c)
{
	entry *old = c->tab;
	size_t ocap = c->cap;
	c->cap = ocap ? ocap * 2 : 1024;
	c->tab = pj_xcalloc(c->cap, sizeof *c->tab);
	for (size_t i = 0; i < ocap; i++)
		if (old[i].kind != K_EMPTY)
			c->tab[slot_of(c, old[i].key)] = old[i];
	free(old);
}

/* Inserts or replaces; caller holds the lock. */
static void insert(pj_mcache *c, uint8_t kind, const uint8_t key[32], const uint8_t val[VAL_SIZE])
{
	if ((c->n + 1) * 10 > c->cap * 7)
		grow(c);
	entry *e = &c->tab[slot_of(c, key)];
	if (e->kind == K_EMPTY)
		c->n++;
	e->kind = kind;
	memcpy(e->key, key, 32);
	memcpy(e->val, val, VAL_SIZE);
}

static const entry *lookup(pj_mcache *c, uint8_t kind, const uint8_t key[32])
{
	if (!c->cap)
		return NULL;
	const entry *e = &c->tab[slot_of(c, key)];
	return e->kind == kind ? e : NULL;
}

static void clear(pj_mcache *c)
{
	free(c->tab);
	c->tab = NULL;
	c->cap = c->n = 0;
}

/* ---- keys --------------------------------------------------------------------- */

void pj_mcache_tensor_key(const uint8_t content_sha[32], pj_dtype dtype, int n_dims, const int64_t *ne,
                          uint8_t out[32])
{
	pj_sha256_ctx s;
	uint8_t b[8];
	pj_sha256_init(&s);
	pj_sha256_update(&s, "pj-tensor", 9);
	put_u32(b, PJ_MCACHE_VERSION);
	pj_sha256_update(&s, b, 4);
	pj_sha256_update(&s, content_sha, 32);
	/* the name, not the enum value: enum order may change between builds */
	const char *dn = pj_dtype_name(dtype);
	pj_sha256_update(&s, dn, strlen(dn) + 1);
	put_u32(b, (uint32_t)n_dims);
	pj_sha256_update(&s, b, 4);
	for (int d = 0; d < n_dims; d++) {
		put_u64(b, (uint64_t)ne[d]);
		pj_sha256_update(&s, b, 8);
	}
	pj_sha256_final(&s, out);
}

void pj_mcache_result_key(const uint8_t tensor_key[32], pj_dtype cand, const uint8_t *imatrix_sha,
                          uint8_t out[32])
{
	pj_sha256_ctx s;
	uint8_t b[4];
	pj_sha256_init(&s);
	pj_sha256_update(&s, "pj-result", 9);
	put_u32(b, PJ_MCACHE_VERSION);
	pj_sha256_update(&s, b, 4);
	pj_sha256_update(&s, tensor_key, 32);
	const char *dn = pj_dtype_name(cand);
	pj_sha256_update(&s, dn, strlen(dn) + 1);
	if (imatrix_sha)
		pj_sha256_update(&s, imatrix_sha, 32);
	else
		pj_sha256_update(&s, "none", 4);
	pj_sha256_final(&s, out);
}

/* ---- get / put ------------------------------------------------------------------ */

bool pj_mcache_get_result(pj_mcache *c, const uint8_t key[32], pj_mcache_result *out)
{
	pthread_mutex_lock(&c->lock);
	const entry *e = lookup(c, K_RESULT, key);
	if (e) {
		out->rel_err = get_f64(e->val);
		out->max_abs_err = get_f64(e->val + 8);
		out->weighted = e->val[16] != 0;
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return e != NULL;
}

void pj_mcache_put_result(pj_mcache *c, const uint8_t key[32], const pj_mcache_result *r)
{
	uint8_t v[VAL_SIZE] = { 0 };
	put_f64(v, r->rel_err);
	put_f64(v + 8, r->max_abs_err);
	v[16] = r->weighted;
	pthread_mutex_lock(&c->lock);
	insert(c, K_RESULT, key, v);
	c->dirty = true;
	c->puts++;
	pthread_mutex_unlock(&c->lock);
}

/* stats value: 6 u64 counts, f32 min, f32 max, f64 sum_abs, f64 sum_sq */
bool pj_mcache_get_stats(pj_mcache *c, const uint8_t key[32], pj_tstats *out)
{
	pthread_mutex_lock(&c->lock);
	const entry *e = lookup(c, K_STATS, key);
	if (e) {
		const uint8_t *v = e->val;
		memset(out, 0, sizeof *out);
		out->state = PJ_TS_DONE;
		out->n = get_u64(v);
		out->n_finite = get_u64(v + 8);
		out->n_nan = get_u64(v + 16);
		out->n_inf = get_u64(v + 24);
		out->n_outlier = get_u64(v + 32);
		out->n_outlier_seen = get_u64(v + 40);
		out->min = get_f32(v + 48);
		out->max = get_f32(v + 52);
		out->sum_abs = get_f64(v + 56);
		out->sum_sq = get_f64(v + 64);
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return e != NULL;
}

void pj_mcache_put_stats(pj_mcache *c, const uint8_t key[32], const pj_tstats *s)
{
	uint8_t v[VAL_SIZE] = { 0 };
	put_u64(v, s->n);
	put_u64(v + 8, s->n_finite);
	put_u64(v + 16, s->n_nan);
	put_u64(v + 24, s->n_inf);
	put_u64(v + 32, s->n_outlier);
	put_u64(v + 40, s->n_outlier_seen);
	put_f32(v + 48, s->min);
	put_f32(v + 52, s->max);
	put_f64(v + 56, s->sum_abs);
	put_f64(v + 64, s->sum_sq);
	pthread_mutex_lock(&c->lock);
	insert(c, K_STATS, key, v);
	c->dirty = true;
	c->puts++;
	pthread_mutex_unlock(&c->lock);
}

void pj_mcache_get_counts(pj_mcache *c, pj_mcache_counts *out)
{
	pthread_mutex_lock(&c->lock);
	out->hits = c->hits;
	out->misses = c->misses;
	out->puts = c->puts;
	out->entries = c->n;
	pthread_mutex_unlock(&c->lock);
}

const char *pj_mcache_path(const pj_mcache *c)
{
	return c->path;
}

/* ---- directory ---------------------------------------------------------------- */

/* mkdir -p; an existing directory is fine. */
static pj_status make_dirs(const char *dir, pj_error *err)
{
	char *p = pj_xstrdup(dir);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			pj_status st = pj_fail(err, PJ_EIO, "cache directory %s: cannot create %s: %s", dir, p,
			                       strerror(errno));
			free(p);
			return st;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return pj_fail(err, PJ_EIO, "cache directory %s: not a directory", dir);
	return PJ_OK;
}

static char *default_dir(void)
{
	const char *x = getenv("XDG_CACHE_HOME");
	if (x && *x == '/')     /* the spec says relative values are invalid */
		return pj_xasprintf("%s/pajamas-tui/measure", x);
	const char *h = getenv("HOME");
	return pj_xasprintf("%s/.cache/pajamas-tui/measure", h && *h ? h : "/tmp");
}

/* ---- load ------------------------------------------------------------------------ */

/* Reads the whole file; *len = 0 and NULL when it does not exist. */
static uint8_t *read_file(const char *path, size_t *len, char **why)
{
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno != ENOENT)
			*why = pj_xasprintf("cannot open: %s", strerror(errno));
		return NULL;
	}
	sbuf b = { 0 };
	sb_read(&b, f, SIZE_MAX);
	if (ferror(f))
		*why = pj_xasprintf("read error: %s", strerror(errno));
	fclose(f);
	*len = b.n;
	return (uint8_t *)b.p;
}

/* Checks the file image and fills the table; a malloc'd reason on failure. */
static char *parse(pj_mcache *c, const uint8_t *buf, size_t len)
{
	if (len < 8 || memcmp(buf, MAGIC, 8) != 0)
		return pj_xstrdup("not a measurement cache (bad magic)");
	if (len < HDR_SIZE)
		return pj_xasprintf("truncated header (%zu bytes)", len);
	uint32_t ver = get_u32(buf + 8);
	if (ver != PJ_MCACHE_VERSION)
		return pj_xasprintf("format version %u, this program writes version %u", ver, PJ_MCACHE_VERSION);
	if (get_u32(buf + 12) != REC_SIZE)
		return pj_xasprintf("record size %u, expected %u", get_u32(buf + 12), REC_SIZE);
	uint64_t clen = get_u64(buf + 16), plen = get_u64(buf + 24);
	if (clen != len - HDR_SIZE)
		return pj_xasprintf("length %llu, header says %llu (truncated or padded)",
		                    (unsigned long long)(len - HDR_SIZE), (unsigned long long)clen);
	if (plen > MAX_PAYLOAD || plen % REC_SIZE)
		return pj_xasprintf("bad payload length %llu", (unsigned long long)plen);
	unsigned long long fcs = ZSTD_getFrameContentSize(buf + HDR_SIZE, clen);
	if (fcs != plen)
		return pj_xasprintf("zstd frame content size does not match the header");
	uint8_t *raw = pj_xmalloc(plen ? plen : 1);
	size_t got = ZSTD_decompress(raw, plen, buf + HDR_SIZE, clen);
	if (ZSTD_isError(got) || got != plen) {
		char *why = pj_xasprintf("zstd: %s", ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
		free(raw);
		return why;
	}
	uint8_t sum[32];
	pj_sha256(raw, plen, sum);
	if (memcmp(sum, buf + 32, 32) != 0) {
		free(raw);
		return pj_xstrdup("payload checksum mismatch");
	}
	for (size_t off = 0; off < plen; off += REC_SIZE) {
		uint8_t kind = raw[off];
		if (kind != K_RESULT && kind != K_STATS) {
			free(raw);
			clear(c);
			return pj_xasprintf("bad record kind %u", kind);
		}
		insert(c, kind, raw + off + 1, raw + off + 33);
	}
	free(raw);
	return NULL;
}

pj_status pj_mcache_open(const char *dir, pj_mcache **out, char **warning, pj_error *err)
{
	*out = NULL;
	if (warning)
		*warning = NULL;
	char *d = dir && *dir ? pj_xstrdup(dir) : default_dir();
	pj_status st = make_dirs(d, err);
	if (st != PJ_OK) {
		free(d);
		return st;
	}
	pj_mcache *c = pj_xcalloc(1, sizeof *c);
	c->dir = d;
	c->path = pj_xasprintf("%s/%s", d, PJ_MCACHE_FILE);
	pthread_mutex_init(&c->lock, NULL);

	size_t len;
	char *why = NULL;
	uint8_t *buf = read_file(c->path, &len, &why);
	if (buf && !why)
		why = parse(c, buf, len);
	free(buf);
	if (why) {
		/* never trusted: start empty, and the next save replaces it */
		clear(c);
		c->dirty = true;
		if (warning)
			*warning = pj_xasprintf("measurement cache %s ignored: %s; it will be rebuilt", c->path, why);
		free(why);
	}
	*out = c;
	return PJ_OK;
}

/* ---- save --------------------------------------------------------------------------- */

/* Serializes the table; caller holds the lock. */
static uint8_t *payload(const pj_mcache *c, size_t *len)
{
	uint8_t *raw = pj_xmalloc(c->n * REC_SIZE + 1);
	size_t off = 0;
	for (size_t i = 0; i < c->cap; i++) {
		const entry *e = &c->tab[i];
		if (e->kind == K_EMPTY)
			continue;
		raw[off] = e->kind;
		memcpy(raw + off + 1, e->key, 32);
		memcpy(raw + off + 33, e->val, VAL_SIZE);
		off += REC_SIZE;
	}
	*len = off;
	return raw;
}

static uint8_t *compress_image(const uint8_t *raw, size_t plen, size_t *len, pj_error *err)
{
	size_t bound = ZSTD_compressBound(plen);
	uint8_t *img = pj_xmalloc(HDR_SIZE + bound);
	ZSTD_CCtx *z = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 1);
	size_t clen = ZSTD_compress2(z, img + HDR_SIZE, bound, raw, plen);
	ZSTD_freeCCtx(z);
	if (ZSTD_isError(clen)) {
		pj_fail(err, PJ_EIO, "measurement cache: zstd: %s", ZSTD_getErrorName(clen));
		free(img);
		return NULL;
	}
	memset(img, 0, HDR_SIZE);
	memcpy(img, MAGIC, 8);
	put_u32(img + 8, PJ_MCACHE_VERSION);
	put_u32(img + 12, REC_SIZE);
	put_u64(img + 16, clen);
	put_u64(img + 24, plen);
	pj_sha256(raw, plen, img + 32);
	*len = HDR_SIZE + clen;
	return img;
}

/* Temporary file in the same directory, then rename: readers see the old
 * file or the new one. */
static pj_status write_atomic(const pj_mcache *c, const uint8_t *img, size_t len, pj_error *err)
{
	char *tmp = pj_xasprintf("%s/.%s.XXXXXX", c->dir, PJ_MCACHE_FILE);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		pj_status st = pj_fail(err, PJ_EIO, "measurement cache: cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return st;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, img + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	int e = errno;
	bool good = off == len && fsync(fd) == 0;
	if (close(fd) != 0)
		good = false;
	if (good && rename(tmp, c->path) == 0) {
		free(tmp);
		return PJ_OK;
	}
	if (good)
		e = errno;
	unlink(tmp);
	free(tmp);
	return pj_fail(err, PJ_EIO, "measurement cache: cannot write %s: %s", c->path, strerror(e ? e : EIO));
}

pj_status pj_mcache_save(pj_mcache *c, pj_error *err)
{
	pthread_mutex_lock(&c->lock);
	if (!c->dirty) {
		pthread_mutex_unlock(&c->lock);
		return PJ_OK;
	}
	size_t plen, len = 0;
	uint8_t *raw = payload(c, &plen);
	c->dirty = false;
	pthread_mutex_unlock(&c->lock);

	uint8_t *img = compress_image(raw, plen, &len, err);
	free(raw);
	pj_status st = img ? write_atomic(c, img, len, err) : PJ_EIO;
	free(img);
	if (st != PJ_OK) {
		pthread_mutex_lock(&c->lock);
		c->dirty = true;       /* try again next time */
		pthread_mutex_unlock(&c->lock);
	}
	return st;
}

void pj_mcache_close(pj_mcache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->tab);
	free(c->dir);
	free(c->path);
	free(c);
}
