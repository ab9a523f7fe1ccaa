/* gguf.c - GGUF v2/v3 header reader.
 *
 * Every count in the file is checked against the bytes that remain before
 * anything is allocated for it, so a hostile header cannot make us allocate
 * more than a small multiple of its own size.  Strings and arrays are copied
 * into an arena owned by the pj_gguf, so the mapping can go away after the
 * parse. */
#include "config.h"
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAX_DIMS 4           /* GGML_MAX_DIMS */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_KEY 65535        /* the spec's limit on key length */
/* Smallest encodings, used to bound counts by the remaining bytes. */
#define GGUF_MIN_KV 14            /* key len 8 + 1 key byte + type 4 + 1 value byte */
#define GGUF_MIN_TENSOR 25        /* name len 8 + 1 byte + n_dims 4 + type 4 + offset 8 */

/* ---- arena --------------------------------------------------------------- */

typedef struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	_Alignas(8) uint8_t data[];
} arena_blk;

static void *arena_alloc(pj_gguf *g, size_t n)
{
	arena_blk *b = g->arena;
	n = (n + 7) & ~(size_t)7;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		arena_blk *nb = pj_xmalloc(sizeof *nb + cap);
		nb->next = b;
		nb->used = 0;
		nb->cap = cap;
		g->arena = b = nb;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

static void arena_free(void *a)
{
	for (arena_blk *b = a, *next; b; b = next) {
		next = b->next;
		free(b);
	}
}

/* ---- reader -------------------------------------------------------------- */

typedef struct rd {
	const char *label;
	const uint8_t *buf;
	size_t len;           /* bytes we may read */
	uint64_t file_size;
	size_t pos;
	char where[200];      /* "metadata key #3 ('foo')", for messages */
	pj_error *err;
	pj_gguf *g;
} rd;

static size_t rd_left(const rd *r)
{
	return r->len - r->pos;
}

static void rd_where(rd *r, const char *fmt, ...) PJ_PRINTF(2, 3);
static void rd_where(rd *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->where, sizeof r->where, fmt, ap);
	va_end(ap);
}

static pj_status rd_fail(rd *r, pj_status code, const char *fmt, ...) PJ_PRINTF(3, 4);
static pj_status rd_fail(rd *r, pj_status code, const char *fmt, ...)
{
	char what[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return pj_fail(r->err, code, "%s: %s: %s", r->label, r->where, what);
}

static pj_status rd_need(rd *r, size_t n)
{
	if (rd_left(r) >= n)
		return PJ_OK;
	return rd_fail(r, PJ_EFORMAT, "truncated: needs %zu bytes at offset %zu, file has %llu",
	               n, r->pos, (unsigned long long)(r->len < r->file_size ? r->len : r->file_size));
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static pj_status rd_uint(rd *r, int n, uint64_t *out)
{
	pj_status s = rd_need(r, (size_t)n);
	if (s)
		return s;
	*out = le(r->buf + r->pos, n);
	r->pos += (size_t)n;
	return PJ_OK;
}

static pj_status rd_u32(rd *r, uint32_t *out)
{
	uint64_t v;
	pj_status s = rd_uint(r, 4, &v);
	*out = (uint32_t)v;
	return s;
}

/* Reads a length-prefixed string into the arena, NUL-terminated. */
static pj_status rd_str(rd *r, const char *what, char **out, uint64_t *len)
{
	uint64_t n;
	pj_status s = rd_uint(r, 8, &n);
	if (s)
		return s;
	if (n > rd_left(r))
		return rd_fail(r, PJ_EFORMAT, "%s length %llu exceeds the remaining %zu bytes",
		               what, (unsigned long long)n, rd_left(r));
	char *p = arena_alloc(r->g, (size_t)n + 1);
	memcpy(p, r->buf + r->pos, (size_t)n);
	p[n] = '\0';
	r->pos += (size_t)n;
	*out = p;
	*len = n;
	return PJ_OK;
}

/* Keys and tensor names: non-empty, no embedded NUL (we compare with strcmp). */
static pj_status rd_name(rd *r, const char *what, size_t max, char **out)
{
	uint64_t n;
	pj_status s = rd_str(r, what, out, &n);
	if (s)
		return s;
	if (n == 0)
		return rd_fail(r, PJ_EFORMAT, "empty %s", what);
	if (n > max)
		return rd_fail(r, PJ_EFORMAT, "%s length %llu exceeds the limit of %zu",
		               what, (unsigned long long)n, max);
	if (strlen(*out) != n)
		return rd_fail(r, PJ_EFORMAT, "%s contains a NUL byte", what);
	return PJ_OK;
}

/* ---- metadata values ----------------------------------------------------- */

static const char *const type_names[PJ_GGUF_TYPE_COUNT] = {
	"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL",
	"STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
};

/* Bytes of one scalar; 0 for STRING and ARRAY. */
static const uint8_t type_size[PJ_GGUF_TYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

const char *pj_gguf_type_name(pj_gguf_type t)
{
	return (unsigned)t < PJ_GGUF_TYPE_COUNT ? type_names[t] : "?";
}

static bool is_uint(pj_gguf_type t)
{
	return t == PJ_GGUF_UINT8 || t == PJ_GGUF_UINT16 || t == PJ_GGUF_UINT32 || t == PJ_GGUF_UINT64;
}

static bool is_int(pj_gguf_type t)
{
	return t == PJ_GGUF_INT8 || t == PJ_GGUF_INT16 || t == PJ_GGUF_INT32 || t == PJ_GGUF_INT64;
}

static void decode_scalar(pj_gguf_kv *kv, const uint8_t *p)
{
	int n = type_size[kv->type];
	uint64_t raw = le(p, n);
	if (is_int(kv->type)) {
		int sh = 64 - 8 * n;   /* sign-extend via the top bits */
		kv->v.i = (int64_t)(raw << sh) >> sh;
	} else if (kv->type == PJ_GGUF_FLOAT32) {
		uint32_t b = (uint32_t)raw;
		float f;
		memcpy(&f, &b, sizeof f);
		kv->v.f = f;
	} else if (kv->type == PJ_GGUF_FLOAT64) {
		memcpy(&kv->v.f, &raw, sizeof kv->v.f);
	} else {
		kv->v.u = raw;
	}
}

static pj_status read_str_array(rd *r, pj_gguf_kv *kv)
{
	if (kv->arr_n > rd_left(r) / 8)
		return rd_fail(r, PJ_EFORMAT, "array length %llu exceeds the remaining %zu bytes",
		               (unsigned long long)kv->arr_n, rd_left(r));
	size_t n = (size_t)kv->arr_n;
	kv->arr_str = arena_alloc(r->g, n * sizeof *kv->arr_str);
	kv->arr_str_len = arena_alloc(r->g, n * sizeof *kv->arr_str_len);
	for (size_t i = 0; i < n; i++) {
		char *s;
		pj_status st = rd_str(r, "string", &s, &kv->arr_str_len[i]);
		if (st)
			return st;
		kv->arr_str[i] = s;
	}
	return PJ_OK;
}

static pj_status read_array(rd *r, pj_gguf_kv *kv)
{
	uint32_t et;
	pj_status s = rd_u32(r, &et);
	if (!s)
		s = rd_uint(r, 8, &kv->arr_n);
	if (s)
		return s;
	if (et == PJ_GGUF_ARRAY)
		return rd_fail(r, PJ_EUNSUPPORTED, "nested arrays (arrays of arrays) are not supported");
	if (et >= PJ_GGUF_TYPE_COUNT)
		return rd_fail(r, PJ_EFORMAT, "unknown array element type %u", et);
	kv->arr_type = (pj_gguf_type)et;
	if (et == PJ_GGUF_STRING)
		return read_str_array(r, kv);
	unsigned long long bytes;
	if (pj_mul_u64(kv->arr_n, type_size[et], &bytes) || bytes > rd_left(r))
		return rd_fail(r, PJ_EFORMAT, "array length %llu exceeds the remaining %zu bytes",
		               (unsigned long long)kv->arr_n, rd_left(r));
	uint8_t *d = arena_alloc(r->g, (size_t)bytes);
	memcpy(d, r->buf + r->pos, (size_t)bytes);
	r->pos += (size_t)bytes;
	kv->arr_data = d;
	return PJ_OK;
}

static pj_status read_value(rd *r, pj_gguf_kv *kv)
{
	kv->raw_off = r->pos;
	pj_status s = PJ_OK;
	if (kv->type == PJ_GGUF_STRING) {
		char *str;
		s = rd_str(r, "string", &str, &kv->str_len);
		kv->str = str;
	} else if (kv->type == PJ_GGUF_ARRAY) {
		s = read_array(r, kv);
	} else {
		s = rd_need(r, type_size[kv->type]);
		if (!s) {
			decode_scalar(kv, r->buf + r->pos);
			r->pos += type_size[kv->type];
		}
	}
	kv->raw_len = r->pos - kv->raw_off;
	return s;
}

static pj_status read_kv(rd *r, uint64_t i, pj_gguf_kv *kv)
{
	rd_where(r, "metadata key #%llu", (unsigned long long)i);
	pj_status s = rd_name(r, "key", GGUF_MAX_KEY, &kv->key);
	if (s)
		return s;
	rd_where(r, "metadata key #%llu ('%.120s')", (unsigned long long)i, kv->key);
	uint32_t t;
	if ((s = rd_u32(r, &t)))
		return s;
	if (t >= PJ_GGUF_TYPE_COUNT)
		return rd_fail(r, PJ_EFORMAT, "unknown value type %u", t);
	kv->type = (pj_gguf_type)t;
	return read_value(r, kv);
}

static int cmp_kv_key(const void *a, const void *b)
{
	return strcmp((*(const pj_gguf_kv *const *)a)->key, (*(const pj_gguf_kv *const *)b)->key);
}

static pj_status check_dup_keys(rd *r)
{
	pj_gguf *g = r->g;
	if (g->n_kv < 2)
		return PJ_OK;
	const pj_gguf_kv **v = pj_xmalloc((size_t)g->n_kv * sizeof *v);
	for (size_t i = 0; i < g->n_kv; i++)
		v[i] = &g->kv[i];
	qsort(v, (size_t)g->n_kv, sizeof *v, cmp_kv_key);
	pj_status s = PJ_OK;
	for (size_t i = 1; i < g->n_kv && !s; i++)
		if (strcmp(v[i - 1]->key, v[i]->key) == 0)
			s = pj_fail(r->err, PJ_EFORMAT, "%s: duplicate metadata key '%s'", r->label, v[i]->key);
	free(v);
	return s;
}

static pj_status read_alignment(rd *r)
{
	pj_gguf *g = r->g;
	const pj_gguf_kv *kv = pj_gguf_find(g, "general.alignment");
	g->alignment = GGUF_DEFAULT_ALIGNMENT;
	if (!kv)
		return PJ_OK;
	uint64_t a;
	if (!pj_gguf_get_u64(g, "general.alignment", &a))
		return pj_fail(r->err, PJ_EFORMAT, "%s: general.alignment has type %s, expected an unsigned integer",
		               r->label, pj_gguf_type_name(kv->type));
	if (a == 0 || (a & (a - 1)) || a > (1u << 30))
		return pj_fail(r->err, PJ_EFORMAT,
		               "%s: general.alignment is %llu, must be a nonzero power of two (at most 2^30)",
		               r->label, (unsigned long long)a);
	g->alignment = (uint32_t)a;
	return PJ_OK;
}

static pj_status read_metadata(rd *r)
{
	pj_gguf *g = r->g;
	rd_where(r, "header");
	if (g->n_kv > rd_left(r) / GGUF_MIN_KV)
		return rd_fail(r, PJ_EFORMAT, "n_kv %llu cannot fit in the remaining %zu bytes",
		               (unsigned long long)g->n_kv, rd_left(r));
	g->kv = pj_xcalloc((size_t)g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv);
	for (uint64_t i = 0; i < g->n_kv; i++) {
		pj_status s = read_kv(r, i, &g->kv[i]);
		if (s)
			return s;
	}
	pj_status s = check_dup_keys(r);
	return s ? s : read_alignment(r);
}

/* ---- tensor infos -------------------------------------------------------- */

typedef struct tinfo {
	char *name;
	int n_dims;
	int64_t ne[GGUF_MAX_DIMS];
	pj_dtype dtype;
	uint64_t offset;           /* relative to the data section */
	uint64_t nbytes;
} tinfo;

static pj_status read_dims(rd *r, tinfo *t, uint64_t *nelem)
{
	uint32_t nd;
	pj_status s = rd_u32(r, &nd);
	if (s)
		return s;
	if (nd > GGUF_MAX_DIMS)
		return rd_fail(r, PJ_EFORMAT, "n_dims is %u, at most %d allowed", nd, GGUF_MAX_DIMS);
	t->n_dims = (int)nd;
	/* ggml allows empty (0) dims, but the product of the others must fit
	 * (row counts are computed from it). */
	unsigned long long span = 1;
	bool empty = false;
	for (uint32_t j = 0; j < nd; j++) {
		uint64_t v;
		if ((s = rd_uint(r, 8, &v)))
			return s;
		if (v > INT64_MAX)
			return rd_fail(r, PJ_EFORMAT, "ne[%u] is negative (%lld)", j, (long long)v);
		empty |= v == 0;
		if (v && (pj_mul_u64(span, v, &span) || span > INT64_MAX))
			return rd_fail(r, PJ_EFORMAT, "element count overflows");
		t->ne[j] = (int64_t)v;
	}
	*nelem = empty ? 0 : span;
	return PJ_OK;
}

static pj_status read_tinfo(rd *r, uint64_t i, tinfo *t)
{
	rd_where(r, "tensor info #%llu", (unsigned long long)i);
	pj_status s = rd_name(r, "tensor name", GGUF_MAX_KEY, &t->name);
	if (s)
		return s;
	rd_where(r, "tensor info #%llu ('%.120s')", (unsigned long long)i, t->name);
	uint64_t nelem = 0;
	if ((s = read_dims(r, t, &nelem)))
		return s;
	uint32_t gt;
	if ((s = rd_u32(r, &gt)))
		return s;
	if (!pj_dtype_from_ggml(gt, &t->dtype))
		return rd_fail(r, PJ_EUNSUPPORTED, "unknown ggml type %u", gt);
	const pj_dtype_info *d = pj_dtype_info_of(t->dtype);
	if (t->n_dims > 0 && t->ne[0] % d->block)
		return rd_fail(r, PJ_EFORMAT, "ne[0] = %lld is not a multiple of the %s block size %u",
		               (long long)t->ne[0], d->name, d->block);
	if (t->n_dims == 0 && d->block != 1)
		return rd_fail(r, PJ_EFORMAT, "a scalar cannot have block type %s", d->name);
	if (!pj_dtype_bytes(t->dtype, nelem, &t->nbytes))
		return rd_fail(r, PJ_EFORMAT, "byte size overflows");
	return rd_uint(r, 8, &t->offset);
}

static int cmp_tname(const void *a, const void *b)
{
	return strcmp(((const tinfo *)a)->name, ((const tinfo *)b)->name);
}

static int cmp_toff(const void *a, const void *b)
{
	const tinfo *x = a, *y = b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static pj_status check_bounds(rd *r, const tinfo *t)
{
	pj_gguf *g = r->g;
	unsigned long long start, end;
	if (t->offset % g->alignment)
		return pj_fail(r->err, PJ_EFORMAT, "%s: tensor '%s': data offset %llu is not a multiple of the alignment %u",
		               r->label, t->name, (unsigned long long)t->offset, g->alignment);
	if (pj_add_u64(g->data_offset, t->offset, &start) || pj_add_u64(start, t->nbytes, &end))
		return pj_fail(r->err, PJ_EFORMAT, "%s: tensor '%s': data offset %llu overflows",
		               r->label, t->name, (unsigned long long)t->offset);
	if (end > r->file_size)
		return pj_fail(r->err, PJ_EFORMAT, "%s: tensor '%s' ends at byte %llu, file has %llu",
		               r->label, t->name, end, (unsigned long long)r->file_size);
	return PJ_OK;
}

/* Duplicate names and overlapping data, on a sorted copy. */
static pj_status check_layout(rd *r, const tinfo *t, size_t n)
{
	if (n < 2)
		return PJ_OK;
	tinfo *s = pj_xmalloc(n * sizeof *s);
	memcpy(s, t, n * sizeof *s);
	pj_status st = PJ_OK;
	qsort(s, n, sizeof *s, cmp_tname);
	for (size_t i = 1; i < n && !st; i++)
		if (strcmp(s[i - 1].name, s[i].name) == 0)
			st = pj_fail(r->err, PJ_EFORMAT, "%s: duplicate tensor name '%s'", r->label, s[i].name);
	qsort(s, n, sizeof *s, cmp_toff);
	const tinfo *prev = NULL;
	uint64_t end = 0;
	for (size_t i = 0; i < n && !st; i++) {
		if (!s[i].nbytes)
			continue;
		if (prev && s[i].offset < end)
			st = pj_fail(r->err, PJ_EFORMAT, "%s: tensors '%s' and '%s' overlap (data offsets %llu and %llu)",
			             r->label, prev->name, s[i].name, (unsigned long long)prev->offset,
			             (unsigned long long)s[i].offset);
		if (s[i].offset + s[i].nbytes > end) {
			end = s[i].offset + s[i].nbytes;
			prev = &s[i];
		}
	}
	free(s);
	return st;
}

static pj_status place_data(rd *r, const tinfo *t, size_t n)
{
	pj_gguf *g = r->g;
	uint64_t a = g->alignment, hdr = r->pos;
	g->data_offset = (hdr + a - 1) / a * a;   /* hdr <= SIZE_MAX, a <= 2^30: no overflow */
	if (n && g->data_offset > r->file_size)
		return pj_fail(r->err, PJ_EFORMAT, "%s: data section starts at byte %llu, file has %llu",
		               r->label, (unsigned long long)g->data_offset, (unsigned long long)r->file_size);
	for (size_t i = 0; i < n; i++) {
		pj_status s = check_bounds(r, &t[i]);
		if (s)
			return s;
	}
	return check_layout(r, t, n);
}

static pj_status read_tensors(rd *r, pj_catalog *cat, uint32_t file_idx)
{
	pj_gguf *g = r->g;
	rd_where(r, "header");
	if (g->n_tensors > rd_left(r) / GGUF_MIN_TENSOR)
		return rd_fail(r, PJ_EFORMAT, "n_tensors %llu cannot fit in the remaining %zu bytes",
		               (unsigned long long)g->n_tensors, rd_left(r));
	size_t n = (size_t)g->n_tensors;
	tinfo *t = pj_xcalloc(n ? n : 1, sizeof *t);
	pj_status s = PJ_OK;
	for (size_t i = 0; i < n && !s; i++)
		s = read_tinfo(r, i, &t[i]);
	if (!s)
		s = place_data(r, t, n);
	for (size_t i = 0; i < n && !s && cat; i++)
		s = pj_catalog_add(cat, r->label, t[i].name, strlen(t[i].name), t[i].dtype, t[i].n_dims,
		                   t[i].ne, file_idx, g->data_offset + t[i].offset, t[i].nbytes, r->err);
	free(t);
	return s;
}

/* ---- file header --------------------------------------------------------- */

static pj_status read_preamble(rd *r)
{
	pj_gguf *g = r->g;
	rd_where(r, "header");
	pj_status s = rd_need(r, 4);
	if (s)
		return s;
	if (memcmp(r->buf, "GGUF", 4) != 0)
		return pj_fail(r->err, PJ_EFORMAT,
		               "%s: not a GGUF file (magic is %02x %02x %02x %02x, expected 'GGUF')", r->label,
		               r->buf[0], r->buf[1], r->buf[2], r->buf[3]);
	r->pos = 4;
	if ((s = rd_u32(r, &g->version)))
		return s;
	if (g->version == 1)
		return pj_fail(r->err, PJ_EUNSUPPORTED,
		               "%s: GGUF version 1 is not supported (only versions 2 and 3; reconvert the model)",
		               r->label);
	if (g->version == 0x02000000u || g->version == 0x03000000u)
		return pj_fail(r->err, PJ_EUNSUPPORTED, "%s: big-endian GGUF files are not supported", r->label);
	if (g->version != 2 && g->version != 3)
		return pj_fail(r->err, PJ_EUNSUPPORTED, "%s: unsupported GGUF version %u (only 2 and 3)",
		               r->label, g->version);
	if ((s = rd_uint(r, 8, &g->n_tensors)))
		return s;
	return rd_uint(r, 8, &g->n_kv);
}

pj_status pj_gguf_parse(const char *label, const uint8_t *buf, size_t len, uint64_t file_size,
                        pj_gguf *out, pj_catalog *cat, uint32_t file_idx, pj_error *err)
{
	memset(out, 0, sizeof *out);
	out->path = pj_xstrdup(label);
	out->file_size = file_size;
	out->alignment = GGUF_DEFAULT_ALIGNMENT;
	rd r = { .label = label, .buf = buf, .len = len < file_size ? len : (size_t)file_size,
	         .file_size = file_size, .err = err, .g = out };
	pj_status s = read_preamble(&r);
	if (!s)
		s = read_metadata(&r);
	if (!s)
		s = read_tensors(&r, cat, file_idx);
	if (s)
		pj_gguf_free(out);
	return s;
}

pj_status pj_gguf_open(const char *path, pj_gguf *out, pj_catalog *cat, pj_error *err)
{
	memset(out, 0, sizeof *out);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pj_fail(err, errno == ENOENT ? PJ_ENOTFOUND : PJ_EIO, "%s: cannot open: %s", path,
		               strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pj_fail(err, PJ_EIO, "%s: not a readable regular file", path);
	}
	uint64_t size = (uint64_t)st.st_size;
	if (size < 4 || size > SIZE_MAX) {
		close(fd);
		return pj_fail(err, PJ_EFORMAT, "%s: not a GGUF file (%llu bytes)", path, (unsigned long long)size);
	}
	/* Lazy mapping: only the header pages are ever touched. */
	void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (map == MAP_FAILED)
		return pj_fail(err, PJ_EIO, "%s: cannot map: %s", path, strerror(e));
	uint32_t fi = cat ? pj_catalog_add_file(cat, path, size) : 0;
	pj_status s = pj_gguf_parse(path, map, (size_t)size, size, out, cat, fi, err);
	munmap(map, (size_t)size);
	return s;
}

void pj_gguf_free(pj_gguf *g)
{
	if (!g)
		return;
	free(g->path);
	free(g->kv);
	arena_free(g->arena);
	memset(g, 0, sizeof *g);
}

/* ---- getters ------------------------------------------------------------- */

const pj_gguf_kv *pj_gguf_find(const pj_gguf *g, const char *key)
{
	for (uint64_t i = 0; g && g->kv && i < g->n_kv; i++)
		if (g->kv[i].key && strcmp(g->kv[i].key, key) == 0)
			return &g->kv[i];
	return NULL;
}

bool pj_gguf_get_u64(const pj_gguf *g, const char *key, uint64_t *out)
{
	const pj_gguf_kv *kv = pj_gguf_find(g, key);
	if (kv && is_uint(kv->type)) {
		*out = kv->v.u;
		return true;
	}
	if (kv && is_int(kv->type) && kv->v.i >= 0) {
		*out = (uint64_t)kv->v.i;
		return true;
	}
	return false;
}

bool pj_gguf_get_i64(const pj_gguf *g, const char *key, int64_t *out)
{
	const pj_gguf_kv *kv = pj_gguf_find(g, key);
	if (kv && is_int(kv->type)) {
		*out = kv->v.i;
		return true;
	}
	if (kv && is_uint(kv->type) && kv->v.u <= INT64_MAX) {
		*out = (int64_t)kv->v.u;
		return true;
	}
	return false;
}

bool pj_gguf_get_f64(const pj_gguf *g, const char *key, double *out)
{
	const pj_gguf_kv *kv = pj_gguf_find(g, key);
	if (!kv)
		return false;
	if (kv->type == PJ_GGUF_FLOAT32 || kv->type == PJ_GGUF_FLOAT64)
		*out = kv->v.f;
	else if (is_int(kv->type))
		*out = (double)kv->v.i;
	else if (is_uint(kv->type))
		*out = (double)kv->v.u;
	else
		return false;
	return true;
}

bool pj_gguf_get_bool(const pj_gguf *g, const char *key, bool *out)
{
	const pj_gguf_kv *kv = pj_gguf_find(g, key);
	if (!kv || kv->type != PJ_GGUF_BOOL)
		return false;
	*out = kv->v.u != 0;
	return true;
}

const char *pj_gguf_get_str(const pj_gguf *g, const char *key)
{
	const pj_gguf_kv *kv = pj_gguf_find(g, key);
	return kv && kv->type == PJ_GGUF_STRING ? kv->str : NULL;
}

bool pj_gguf_arch_u64(const pj_gguf *g, const char *suffix, uint64_t *out)
{
	const char *arch = pj_gguf_get_str(g, "general.architecture");
	if (!arch)
		return false;
	char key[512];
	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	return pj_gguf_get_u64(g, key, out);
}
