/* safetensors.c - safetensors headers (single file and sharded index).
 *
 * Only the JSON header is ever read, with pread: listing a 163-shard model
 * must not map or touch any tensor data. */
#include "config.h"
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest index file we read (a weight_map of a huge MoE is a few MB). */
#define PJ_ST_MAX_INDEX (256u * 1024u * 1024u)

/* Doubles represent integers exactly up to 2^53. */
#define PJ_ST_MAX_EXACT 9007199254740992.0

/* One tensor entry, kept until the whole header has been checked. */
typedef struct st_entry {
	const char *name;
	pj_dtype dtype;
	int n_dims;
	int64_t ne[PJ_MAX_DIMS];   /* ggml order */
	uint64_t begin, end;       /* relative to the data section */
} st_entry;

typedef struct st_ctx {
	const char *label;
	uint64_t data_start;       /* 8 + header length */
	uint64_t data_size;
	pj_error *err;
} st_ctx;

/* Reads an exact non-negative integer from a JSON number. */
static bool json_uint(const cJSON *j, uint64_t *out)
{
	if (!cJSON_IsNumber(j))
		return false;
	double d = j->valuedouble;
	if (!(d >= 0.0) || d >= PJ_ST_MAX_EXACT || floor(d) != d)
		return false;
	*out = (uint64_t)d;
	return true;
}

static const char *json_kind(const cJSON *j)
{
	if (cJSON_IsNumber(j)) return "a number";
	if (cJSON_IsString(j)) return "a string";
	if (cJSON_IsArray(j)) return "an array";
	if (cJSON_IsObject(j)) return "an object";
	if (cJSON_IsBool(j)) return "a boolean";
	if (cJSON_IsNull(j)) return "null";
	return "invalid";
}

static pj_status check_metadata(const st_ctx *c, const cJSON *meta)
{
	if (!cJSON_IsObject(meta))
		return pj_fail(c->err, PJ_EFORMAT, "%s: __metadata__ is %s, expected an object of strings",
		               c->label, json_kind(meta));
	for (const cJSON *m = meta->child; m; m = m->next)
		if (!cJSON_IsString(m))
			return pj_fail(c->err, PJ_EFORMAT, "%s: __metadata__ value '%s' is %s, expected a string",
			               c->label, m->string ? m->string : "", json_kind(m));
	return PJ_OK;
}

static pj_status parse_shape(const st_ctx *c, const char *name, const cJSON *shape, st_entry *e,
                             uint64_t *nelem)
{
	if (!cJSON_IsArray(shape))
		return pj_fail(c->err, PJ_EFORMAT, "%s: tensor '%s': shape is %s, expected an array",
		               c->label, name, shape ? json_kind(shape) : "missing");
	int n = cJSON_GetArraySize(shape);
	if (n > PJ_MAX_DIMS)
		return pj_fail(c->err, PJ_EUNSUPPORTED, "%s: tensor '%s' has %d dimensions (at most %d supported)",
		               c->label, name, n, PJ_MAX_DIMS);
	/* Zero dims are legal, but the other dims' product must still fit:
	 * row counts are computed from it. */
	unsigned long long span = 1;
	bool empty = false;
	int i = 0;
	for (const cJSON *d = shape->child; d; d = d->next, i++) {
		uint64_t v;
		if (!json_uint(d, &v)) {
			if (cJSON_IsNumber(d) && d->valuedouble < 0)
				return pj_fail(c->err, PJ_EFORMAT, "%s: tensor '%s': dimension %d is negative (%g)",
				               c->label, name, i, d->valuedouble);
			return pj_fail(c->err, PJ_EFORMAT,
			               "%s: tensor '%s': dimension %d is not a non-negative integer (%s%s%g)",
			               c->label, name, i, json_kind(d), cJSON_IsNumber(d) ? " " : "",
			               cJSON_IsNumber(d) ? d->valuedouble : 0.0);
		}
		empty |= v == 0;
		if (v && (pj_mul_u64(span, v, &span) || span > INT64_MAX))
			return pj_fail(c->err, PJ_ENOMEM, "%s: tensor '%s': element count overflows", c->label, name);
		e->ne[n - 1 - i] = (int64_t)v;   /* [out, in] -> {in, out} */
	}
	e->n_dims = n;
	*nelem = empty ? 0 : span;
	return PJ_OK;
}

static pj_status parse_offsets(const st_ctx *c, const char *name, const cJSON *offs, st_entry *e)
{
	if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
		return pj_fail(c->err, PJ_EFORMAT, "%s: tensor '%s': data_offsets must be an array [begin, end]",
		               c->label, name);
	if (!json_uint(offs->child, &e->begin) || !json_uint(offs->child->next, &e->end))
		return pj_fail(c->err, PJ_EFORMAT, "%s: tensor '%s': data_offsets must be non-negative integers",
		               c->label, name);
	if (e->begin > e->end)
		return pj_fail(c->err, PJ_EFORMAT, "%s: tensor '%s': data_offsets are reversed (begin %llu > end %llu)",
		               c->label, name, (unsigned long long)e->begin, (unsigned long long)e->end);
	if (e->end > c->data_size)
		return pj_fail(c->err, PJ_EFORMAT, "%s: tensor '%s' ends at byte %llu, file has %llu",
		               c->label, name, (unsigned long long)(c->data_start + e->end),
		               (unsigned long long)(c->data_start + c->data_size));
	return PJ_OK;
}

static pj_status parse_tensor(const st_ctx *c, const cJSON *j, st_entry *e)
{
	const char *name = j->string;
	if (!cJSON_IsObject(j))
		return pj_fail(c->err, PJ_EFORMAT, "%s: tensor '%s' is %s, expected an object",
		               c->label, name, json_kind(j));
	e->name = name;
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
	if (!cJSON_IsString(dt))
		return pj_fail(c->err, PJ_EFORMAT, "%s: tensor '%s': dtype is %s, expected a string",
		               c->label, name, dt ? json_kind(dt) : "missing");
	if (!pj_dtype_from_safetensors(dt->valuestring, &e->dtype))
		return pj_fail(c->err, PJ_EUNSUPPORTED, "%s: tensor '%s': unknown dtype '%s'",
		               c->label, name, dt->valuestring);
	uint64_t nelem = 0, nbytes = 0;
	pj_status s = parse_shape(c, name, cJSON_GetObjectItemCaseSensitive(j, "shape"), e, &nelem);
	if (s)
		return s;
	if (!pj_dtype_bytes(e->dtype, nelem, &nbytes))
		return pj_fail(c->err, PJ_ENOMEM, "%s: tensor '%s': byte size overflows", c->label, name);
	s = parse_offsets(c, name, cJSON_GetObjectItemCaseSensitive(j, "data_offsets"), e);
	if (s)
		return s;
	if (e->end - e->begin != nbytes)
		return pj_fail(c->err, PJ_EFORMAT,
		               "%s: tensor '%s': data_offsets span %llu bytes, but %llu elements of %s need %llu",
		               c->label, name, (unsigned long long)(e->end - e->begin), (unsigned long long)nelem,
		               pj_dtype_name(e->dtype), (unsigned long long)nbytes);
	return PJ_OK;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int cmp_offset(const void *a, const void *b)
{
	const st_entry *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Duplicates and overlaps, on a sorted copy so the file order is kept. */
static pj_status check_layout(const st_ctx *c, const st_entry *e, size_t n)
{
	if (n < 2)
		return PJ_OK;
	st_entry *s = pj_xmalloc(n * sizeof *s);
	pj_status st = PJ_OK;
	memcpy(s, e, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_name);
	for (size_t i = 1; i < n && !st; i++)
		if (strcmp(s[i - 1].name, s[i].name) == 0)
			st = pj_fail(c->err, PJ_EFORMAT, "%s: duplicate tensor name '%s'", c->label, s[i].name);
	qsort(s, n, sizeof *s, cmp_offset);
	uint64_t end = 0, prev_begin = 0;
	const char *prev = NULL;
	for (size_t i = 0; i < n && !st; i++) {
		if (s[i].begin == s[i].end)
			continue;  /* empty tensors occupy nothing */
		if (prev && s[i].begin < end)
			st = pj_fail(c->err, PJ_EFORMAT,
			             "%s: tensors '%s' and '%s' overlap (bytes %llu..%llu and %llu..%llu of the data)",
			             c->label, prev, s[i].name, (unsigned long long)prev_begin, (unsigned long long)end,
			             (unsigned long long)s[i].begin, (unsigned long long)s[i].end);
		if (s[i].end > end) {
			end = s[i].end;
			prev_begin = s[i].begin;
			prev = s[i].name;
		}
	}
	free(s);
	return st;
}

/* Only padding may follow the JSON value. */
static bool only_padding(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0')
			return false;
	return true;
}

static pj_status parse_json(const char *label, const char *json, size_t len, cJSON **out, pj_error *err)
{
	/* cJSON gets its own NUL-terminated copy: never trust the bytes after len. */
	char *buf = pj_xstrndup(json, len);
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!root) {
		size_t at = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
		free(buf);
		return pj_fail(err, PJ_EFORMAT, "%s: header is not valid JSON (error near header byte %zu, file byte %zu)",
		               label, at, at + 8);
	}
	if (end && !only_padding(end, buf + len)) {
		size_t at = (size_t)(end - buf);
		free(buf);
		cJSON_Delete(root);
		return pj_fail(err, PJ_EFORMAT, "%s: header has trailing bytes after the JSON (byte %zu)",
		               label, at + 8);
	}
	free(buf);
	*out = root;
	return PJ_OK;
}

static pj_status add_all(const st_ctx *c, const st_entry *e, size_t n, pj_catalog *cat, uint32_t file_idx)
{
	for (size_t i = 0; i < n; i++) {
		pj_status s = pj_catalog_add(cat, c->label, e[i].name, strlen(e[i].name), e[i].dtype,
		                             e[i].n_dims, e[i].ne, file_idx, c->data_start + e[i].begin,
		                             e[i].end - e[i].begin, c->err);
		if (s)
			return s;
	}
	return PJ_OK;
}

pj_status pj_st_parse_header(const char *label, const char *json, size_t len, uint64_t file_size,
                             pj_catalog *cat, uint32_t file_idx, pj_error *err)
{
	if (len < 2 || len > PJ_ST_MAX_HEADER || file_size < 8 || len > file_size - 8)
		return pj_fail(err, PJ_EFORMAT, "%s: header length %zu is invalid (file has %llu bytes)",
		               label, len, (unsigned long long)file_size);
	st_ctx c = { label, 8 + (uint64_t)len, file_size - 8 - len, err };
	cJSON *root = NULL;
	pj_status s = parse_json(label, json, len, &root, err);
	if (s)
		return s;
	if (!cJSON_IsObject(root)) {
		s = pj_fail(err, PJ_EFORMAT, "%s: header is %s, expected a JSON object", label, json_kind(root));
		cJSON_Delete(root);
		return s;
	}
	size_t n = 0, cap = (size_t)cJSON_GetArraySize(root);
	st_entry *e = pj_xcalloc(cap ? cap : 1, sizeof *e);
	for (const cJSON *j = root->child; j && !s; j = j->next) {
		if (strcmp(j->string, "__metadata__") == 0)
			s = check_metadata(&c, j);
		else if (n < cap)
			s = parse_tensor(&c, j, &e[n++]);
	}
	if (!s)
		s = check_layout(&c, e, n);
	if (!s && cat)
		s = add_all(&c, e, n, cat, file_idx);
	free(e);
	cJSON_Delete(root);
	return s;
}

/* pread until done: short reads happen on pipes and network file systems. */
static bool read_at(int fd, void *buf, size_t n, off_t off)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return true;
}

static pj_status read_header(const char *path, int fd, uint64_t size, char **json, size_t *len,
                             pj_error *err)
{
	uint8_t lb[8];
	if (size < 8)
		return pj_fail(err, PJ_EFORMAT, "%s: file is %llu bytes, too short for a safetensors header",
		               path, (unsigned long long)size);
	if (!read_at(fd, lb, 8, 0))
		return pj_fail(err, PJ_EIO, "%s: cannot read: %s", path, strerror(errno));
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | lb[i];
	if (n < 2)
		return pj_fail(err, PJ_EFORMAT, "%s: header length %llu is too small", path, (unsigned long long)n);
	if (n > PJ_ST_MAX_HEADER)
		return pj_fail(err, PJ_EFORMAT, "%s: header length %llu is larger than the %u-byte limit",
		               path, (unsigned long long)n, PJ_ST_MAX_HEADER);
	if (n > size - 8)
		return pj_fail(err, PJ_EFORMAT, "%s: header length %llu is larger than the file (%llu bytes)",
		               path, (unsigned long long)n, (unsigned long long)size);
	char *buf = pj_xmalloc((size_t)n + 1);
	if (!read_at(fd, buf, (size_t)n, 8)) {
		free(buf);
		return pj_fail(err, PJ_EIO, "%s: cannot read the header: %s", path,
		               errno ? strerror(errno) : "unexpected end of file");
	}
	buf[n] = '\0';
	*json = buf;
	*len = (size_t)n;
	return PJ_OK;
}

pj_status pj_st_open(const char *path, pj_catalog *cat, pj_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pj_fail(err, errno == ENOENT ? PJ_ENOTFOUND : PJ_EIO, "%s: cannot open: %s", path,
		               strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return pj_fail(err, PJ_EIO, "%s: cannot stat: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return pj_fail(err, PJ_EIO, "%s: not a regular file", path);
	}
	char *json = NULL;
	size_t len = 0;
	errno = 0;
	pj_status s = read_header(path, fd, (uint64_t)st.st_size, &json, &len, err);
	close(fd);
	if (s)
		return s;
	uint32_t fi = pj_catalog_add_file(cat, path, (uint64_t)st.st_size);
	s = pj_st_parse_header(path, json, len, (uint64_t)st.st_size, cat, fi, err);
	free(json);
	return s;
}

/* ---- sharded checkpoints: model.safetensors.index.json ------------------- */

static pj_status read_small_file(const char *path, size_t limit, char **out, size_t *len, pj_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pj_fail(err, errno == ENOENT ? PJ_ENOTFOUND : PJ_EIO, "%s: cannot open: %s", path,
		               strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pj_fail(err, PJ_EIO, "%s: not a readable regular file", path);
	}
	if ((uint64_t)st.st_size > limit) {
		close(fd);
		return pj_fail(err, PJ_EFORMAT, "%s: file is %lld bytes, larger than the %zu-byte limit",
		               path, (long long)st.st_size, limit);
	}
	char *buf = pj_xmalloc((size_t)st.st_size + 1);
	errno = 0;
	if (!read_at(fd, buf, (size_t)st.st_size, 0)) {
		int e = errno;
		close(fd);
		free(buf);
		return pj_fail(err, PJ_EIO, "%s: cannot read: %s", path, e ? strerror(e) : "short read");
	}
	close(fd);
	buf[st.st_size] = '\0';
	*out = buf;
	*len = (size_t)st.st_size;
	return PJ_OK;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A shard must be a plain file name in the same folder. */
static bool shard_name_ok(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static pj_status collect_shards(const char *label, const cJSON *wm, const char ***out, size_t *n_out,
                                pj_error *err)
{
	size_t n = 0, cap = (size_t)cJSON_GetArraySize(wm);
	const char **v = pj_xcalloc(cap ? cap : 1, sizeof *v);
	for (const cJSON *j = wm->child; j && n < cap; j = j->next) {
		if (!cJSON_IsString(j)) {
			free(v);
			return pj_fail(err, PJ_EFORMAT, "%s: weight_map entry '%s' is %s, expected a shard file name",
			               label, j->string, json_kind(j));
		}
		if (!shard_name_ok(j->valuestring)) {
			free(v);
			return pj_fail(err, PJ_EFORMAT, "%s: weight_map entry '%s' names '%s', not a file in this folder",
			               label, j->string, j->valuestring);
		}
		v[n++] = j->valuestring;
	}
	if (n)
		qsort(v, n, sizeof *v, cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || strcmp(v[u - 1], v[i]))
			v[u++] = v[i];
	*out = v;
	*n_out = u;
	return PJ_OK;
}

static pj_status open_shards(const char *dir, const char *label, const char **shards, size_t n,
                             pj_catalog *cat, pj_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char *p = pj_xasprintf("%s/%s", dir, shards[i]);
		struct stat st;
		pj_status s = PJ_OK;
		if (stat(p, &st) < 0)
			s = pj_fail(err, PJ_ENOTFOUND, "%s: shard '%s' named by the index does not exist",
			            label, shards[i]);
		else
			s = pj_st_open(p, cat, err);
		free(p);
		if (s)
			return s;
	}
	return PJ_OK;
}

static pj_status check_weight_map(const char *label, const cJSON *wm, const pj_catalog *cat, pj_error *err)
{
	for (const cJSON *j = wm->child; j; j = j->next) {
		const pj_tensor *t = pj_catalog_find(cat, j->string);
		if (!t || strcmp(base_name(cat->files[t->file].path), j->valuestring) != 0)
			return pj_fail(err, PJ_EFORMAT, "%s: tensor '%s' is mapped to %s, which does not contain it",
			               label, j->string, j->valuestring);
	}
	return PJ_OK;
}

pj_status pj_st_open_index(const char *dir, const char *index_path, pj_catalog *cat, pj_error *err)
{
	char *text = NULL;
	size_t len = 0;
	pj_status s = read_small_file(index_path, PJ_ST_MAX_INDEX, &text, &len, err);
	if (s)
		return s;
	const char *label = index_path, *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
		free(text);
		return pj_fail(err, PJ_EFORMAT, "%s: not valid JSON (error near byte %zu)", label, at);
	}
	free(text);
	const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
	const char **shards = NULL;
	size_t n = 0;
	if (!cJSON_IsObject(wm))
		s = pj_fail(err, PJ_EFORMAT, "%s: \"weight_map\" is %s, expected an object", label,
		            wm ? json_kind(wm) : "missing");
	if (!s)
		s = collect_shards(label, wm, &shards, &n, err);
	if (!s && n == 0)
		s = pj_fail(err, PJ_EFORMAT, "%s: weight_map is empty", label);
	if (!s)
		s = open_shards(dir, label, shards, n, cat, err);
	if (!s)
		s = check_weight_map(label, wm, cat, err);
	free(shards);
	cJSON_Delete(root);
	return s;
}
