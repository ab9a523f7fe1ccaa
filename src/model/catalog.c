#include "config.h"
#include "catalog.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void pj_catalog_init(pj_catalog *c)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->map_lock, NULL);
}

void pj_catalog_free(pj_catalog *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->t[i].name);
	for (size_t i = 0; i < c->n_files; i++) {
		if (c->files[i].map && c->files[i].size)
			munmap((void *)c->files[i].map, c->files[i].size);
		free(c->files[i].path);
	}
	free(c->t);
	free(c->files);
	free(c->index);
	pthread_mutex_destroy(&c->map_lock);
	memset(c, 0, sizeof *c);
}

uint32_t pj_catalog_add_file(pj_catalog *c, const char *path, uint64_t size)
{
	c->files = pj_xrealloc(c->files, (c->n_files + 1) * sizeof *c->files);
	c->files[c->n_files] = (pj_file){ .path = pj_xstrdup(path), .size = size, .map = NULL };
	return (uint32_t)c->n_files++;
}

/* FNV-1a: short names, no need for anything stronger. */
static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void index_insert(pj_catalog *c, size_t ti)
{
	const char *name = c->t[ti].name;
	size_t mask = c->index_cap - 1;
	size_t slot = name_hash(name, strlen(name)) & mask;
	while (c->index[slot])
		slot = (slot + 1) & mask;
	c->index[slot] = (uint32_t)(ti + 1);
}

static void index_grow(pj_catalog *c)
{
	size_t cap = c->index_cap ? c->index_cap * 2 : 64;
	free(c->index);
	c->index = pj_xcalloc(cap, sizeof *c->index);
	c->index_cap = cap;
	for (size_t i = 0; i < c->n; i++)
		index_insert(c, i);
}

static ptrdiff_t find_n(const pj_catalog *c, const char *name, size_t n)
{
	if (!c->index_cap)
		return -1;
	size_t mask = c->index_cap - 1;
	for (size_t slot = name_hash(name, n) & mask; c->index[slot]; slot = (slot + 1) & mask) {
		const char *cand = c->t[c->index[slot] - 1].name;
		if (strncmp(cand, name, n) == 0 && cand[n] == '\0')
			return (ptrdiff_t)c->index[slot] - 1;
	}
	return -1;
}

ptrdiff_t pj_catalog_find_index(const pj_catalog *c, const char *name)
{
	return find_n(c, name, strlen(name));
}

const pj_tensor *pj_catalog_find(const pj_catalog *c, const char *name)
{
	ptrdiff_t i = pj_catalog_find_index(c, name);
	return i < 0 ? NULL : &c->t[i];
}

pj_status pj_catalog_add(pj_catalog *c, const char *where, const char *name, size_t name_len,
                         pj_dtype dtype, int n_dims, const int64_t *ne, uint32_t file,
                         uint64_t offset, uint64_t nbytes, pj_error *err)
{
	if (n_dims < 0 || n_dims > PJ_MAX_DIMS)
		return pj_fail(err, PJ_EFORMAT, "%s: tensor '%.*s' has %d dimensions (at most %d supported)",
		               where, (int)name_len, name, n_dims, PJ_MAX_DIMS);
	if (find_n(c, name, name_len) >= 0)
		return pj_fail(err, PJ_EFORMAT, "%s: duplicate tensor name '%.*s'", where, (int)name_len, name);
	if (c->n == UINT32_MAX - 1)
		return pj_fail(err, PJ_ENOMEM, "%s: too many tensors", where);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->t = pj_xrealloc(c->t, c->cap * sizeof *c->t);
	}
	pj_tensor *t = &c->t[c->n];
	memset(t, 0, sizeof *t);
	t->name = pj_xstrndup(name, name_len);
	t->n_dims = n_dims;
	for (int i = 0; i < PJ_MAX_DIMS; i++)
		t->ne[i] = i < n_dims ? ne[i] : 1;
	t->dtype = dtype;
	t->nbytes = nbytes;
	t->file = file;
	t->offset = offset;
	t->role = PJ_ROLE_UNKNOWN;
	t->comp = PJ_COMP_TEXT;
	t->layer = -1;
	t->expert = -1;
	c->n++;
	if (c->n * 2 > c->index_cap)
		index_grow(c);
	else
		index_insert(c, c->n - 1);
	return PJ_OK;
}

const void *pj_catalog_data(pj_catalog *c, const pj_tensor *t, pj_error *err)
{
	if (t->file >= c->n_files)
		return pj_fail(err, PJ_EFORMAT, "tensor '%s': bad file index", t->name), NULL;
	pj_file *f = &c->files[t->file];
	pthread_mutex_lock(&c->map_lock);
	if (!f->map && f->size) {
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			pthread_mutex_unlock(&c->map_lock);
			pj_fail(err, PJ_EIO, "%s: cannot open: %m", f->path);
			return NULL;
		}
		void *p = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (p == MAP_FAILED) {
			pthread_mutex_unlock(&c->map_lock);
			pj_fail(err, PJ_EIO, "%s: cannot map: %m", f->path);
			return NULL;
		}
		f->map = p;
	}
	const uint8_t *base = f->map;
	pthread_mutex_unlock(&c->map_lock);
	if (t->offset > f->size || t->nbytes > f->size - t->offset) {
		pj_fail(err, PJ_EFORMAT, "%s: tensor '%s' ends at byte %llu, file has %llu", f->path, t->name,
		        (unsigned long long)(t->offset + t->nbytes), (unsigned long long)f->size);
		return NULL;
	}
	return base + t->offset;
}

int64_t pj_tensor_nelem(const pj_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->n_dims; i++)
		n *= t->ne[i];
	return n;
}

int64_t pj_tensor_nrows(const pj_tensor *t)
{
	int64_t n = 1;
	for (int i = 1; i < t->n_dims; i++)
		n *= t->ne[i];
	return n;
}

const char *pj_tensor_shape_str(const pj_tensor *t, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < t->n_dims && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, i ? "x%lld" : "%lld", (long long)t->ne[i]);
	if (t->n_dims == 0)
		snprintf(buf, len, "scalar");
	return buf;
}
