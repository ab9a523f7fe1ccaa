/* gguf_write.c - streaming GGUF v3 writer: temp file, fsync, rename, re-open. */
#include "config.h"
#include "gguf_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "quant/pool.h"

#define GGUF_VERSION 3
#define GGUF_DEFAULT_ALIGNMENT 32
#define STAGE_SIZE (16u << 20)   /* one of the two staging buffers */
#define DIO_ALIGN 4096u           /* O_DIRECT: block size, address and length alignment */

/* ---- signal cleanup: one armed temp path --------------------------------- */

static char sig_path[PATH_MAX + 64];
static volatile sig_atomic_t sig_armed;

void pj_gguf_write_signal_cleanup(void)
{
	if (sig_armed) {
		sig_armed = 0;
		unlink(sig_path);   /* async-signal-safe */
	}
}

static void sig_arm(const char *path)
{
	sig_armed = 0;
	strncpy(sig_path, path, sizeof sig_path - 1);
	sig_path[sizeof sig_path - 1] = 0;
	sig_armed = 1;
}

/* ---- byte buffer for the header ------------------------------------------ */

typedef struct bbuf {
	uint8_t *p;
	size_t n, cap;
} bbuf;

static void bb_put(bbuf *b, const void *d, size_t n)
{
	if (b->cap - b->n < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->n < n)
			cap *= 2;
		b->p = pj_xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void bb_le(bbuf *b, uint64_t v, int bytes)
{
	uint8_t t[8];
	for (int i = 0; i < bytes; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	bb_put(b, t, (size_t)bytes);
}

static void bb_str(bbuf *b, const char *s, size_t len)
{
	bb_le(b, len, 8);
	bb_put(b, s, len);
}

/* ---- the writer ---------------------------------------------------------- */

/* Data goes through two staging buffers: one fills (the caller copies into
 * it, or quantizes straight into it via pj_gguf_write_reserve) while a
 * writer thread writes the other.  With O_DIRECT the write is a DMA from
 * that buffer, not a copy into the page cache (the biggest CPU cost of a
 * fast quantization, and the output is fsynced anyway): whole blocks go
 * out, the unaligned tail moves to the front of the next buffer, and the
 * file's last bytes are written without O_DIRECT at commit. */
typedef struct io_job {
	int fd;
	const uint8_t *p;
	size_t n;
	int err;                 /* errno of a failed write; sticks */
} io_job;

struct pj_gguf_writer {
	char *path, *tmp;
	int fd;
	uint32_t align;
	pj_gguf_wtensor *t;      /* copies (names owned) */
	uint64_t *off;           /* data offsets relative to the data section */
	size_t n_t;
	uint64_t n_kv;
	uint64_t header_size, file_size;
	size_t cur;              /* tensor being written */
	uint64_t cur_done;       /* its bytes written so far */
	uint8_t *buf[2];         /* staging; buf[fill_i] fills */
	size_t cap, fill;
	int fill_i;
	bool direct;             /* fd has O_DIRECT: write whole DIO_ALIGN blocks */
	pj_pool *io;             /* the writer thread; NULL: writes happen inline */
	io_job job;              /* the one write in flight */
};

static pj_status sys_fail(pj_gguf_writer *w, pj_error *err, const char *what)
{
	int e = errno;
	const char *hint = e == ENOSPC ? " (disk full)" : e == EFBIG ? " (file size limit)" : "";
	return pj_fail(err, PJ_EIO, "%s: %s: %s%s; nothing was written", w->path, what, strerror(e), hint);
}

/* Returns 0 or an errno.  A file system that refuses O_DIRECT for a write
 * (EINVAL) gets it again without. */
static int write_fd(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
#ifdef O_DIRECT
		int fl;
		if (k < 0 && errno == EINVAL && (fl = fcntl(fd, F_GETFL)) >= 0 && (fl & O_DIRECT) &&
		    fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0)
			continue;
#endif
		if (k <= 0)
			return k == 0 ? EIO : errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void io_run(void *arg)
{
	io_job *j = arg;
	if (!j->err)
		j->err = write_fd(j->fd, j->p, j->n);
}

/* Waits for the write in flight; its error, if any. */
static pj_status io_wait(pj_gguf_writer *w, pj_error *err)
{
	if (w->io)
		pj_pool_join(w->io);
	if (!w->job.err)
		return PJ_OK;
	errno = w->job.err;
	return sys_fail(w, err, "write failed");
}

/* Hands the filled buffer's whole blocks to the writer thread and switches
 * to the other buffer (once its write is done), carrying the tail over. */
static pj_status stage_submit(pj_gguf_writer *w, pj_error *err)
{
	const size_t n = w->direct ? w->fill / DIO_ALIGN * DIO_ALIGN : w->fill;
	pj_status st = io_wait(w, err);
	if (st || !n)
		return st;
	const uint8_t *b = w->buf[w->fill_i];
	w->fill_i ^= 1;
	memcpy(w->buf[w->fill_i], b + n, w->fill - n);
	w->fill -= n;
	w->job.p = b;
	w->job.n = n;
	if (w->io)
		pj_pool_submit(w->io, io_run, &w->job);
	else
		io_run(&w->job);
	return PJ_OK;
}

/* PJ_WRITE_STAGE=BYTES (tests): small buffers, so that small models take
 * the threaded path with its carried tails too. */
static size_t stage_size(void)
{
	const char *e = getenv("PJ_WRITE_STAGE");
	const long long v = e ? atoll(e) : 0;
	return v >= 2 * (long long)DIO_ALIGN ? (size_t)v / DIO_ALIGN * DIO_ALIGN : STAGE_SIZE;
}

static uint8_t *stage_alloc(size_t n)
{
	void *p;
	/* unaligned memory only costs the O_DIRECT fallback in write_fd */
	return posix_memalign(&p, DIO_ALIGN, n) == 0 ? p : pj_xmalloc(n);
}

/* Room for n contiguous bytes after what the filling buffer holds. */
static pj_status stage_room(pj_gguf_writer *w, size_t n, pj_error *err)
{
	pj_status st;
	if (w->cap - w->fill >= n)
		return PJ_OK;
	if ((st = stage_submit(w, err)) || w->cap - w->fill >= n)
		return st;
	if ((st = io_wait(w, err)))
		return st;
	const size_t cap = (n + 2 * (size_t)DIO_ALIGN - 1) / DIO_ALIGN * DIO_ALIGN;
	for (int i = 0; i < 2; i++) {
		uint8_t *b = stage_alloc(cap);
		if (i == w->fill_i && w->fill)
			memcpy(b, w->buf[i], w->fill);
		free(w->buf[i]);
		w->buf[i] = b;
	}
	w->cap = cap;
	return PJ_OK;
}

/* Buffered append. */
static pj_status put(pj_gguf_writer *w, const void *d, size_t n, pj_error *err)
{
	const uint8_t *p = d;
	while (n) {
		pj_status st = w->fill == w->cap ? stage_submit(w, err) : PJ_OK;
		if (st)
			return st;
		size_t k = n < w->cap - w->fill ? n : w->cap - w->fill;
		memcpy(w->buf[w->fill_i] + w->fill, p, k);
		w->fill += k;
		p += k;
		n -= k;
	}
	return PJ_OK;
}

static pj_status put_zeros(pj_gguf_writer *w, size_t n, pj_error *err)
{
	static const uint8_t z[256];
	while (n) {
		size_t k = n < sizeof z ? n : sizeof z;
		pj_status st = put(w, z, k, err);
		if (st)
			return st;
		n -= k;
	}
	return PJ_OK;
}

/* Waits for the last block write, then writes what is left without O_DIRECT. */
static pj_status stage_flush(pj_gguf_writer *w, pj_error *err)
{
	pj_status st = io_wait(w, err);
	if (st)
		return st;
#ifdef O_DIRECT
	int fl = fcntl(w->fd, F_GETFL);
	if (w->direct && fl >= 0)
		(void)fcntl(w->fd, F_SETFL, fl & ~O_DIRECT);
#endif
	if ((errno = write_fd(w->fd, w->buf[w->fill_i], w->fill)) != 0)
		return sys_fail(w, err, "write failed");
	w->fill = 0;
	return PJ_OK;
}

static void writer_free(pj_gguf_writer *w)
{
	pj_pool_free(w->io);     /* lets a write in flight end first */
	for (size_t i = 0; i < w->n_t; i++)
		free((char *)w->t[i].name);
	free(w->t);
	free(w->off);
	free(w->buf[0]);
	free(w->buf[1]);
	free(w->path);
	free(w->tmp);
	free(w);
}

void pj_gguf_write_abort(pj_gguf_writer *w)
{
	if (!w)
		return;
	pj_pool_free(w->io);
	w->io = NULL;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp)
		unlink(w->tmp);
	sig_armed = 0;
	writer_free(w);
}

size_t pj_gguf_write_span(const pj_gguf_writer *w) { return w->cap / 4; }
uint64_t pj_gguf_write_header_size(const pj_gguf_writer *w) { return w->header_size; }
uint64_t pj_gguf_write_file_size(const pj_gguf_writer *w) { return w->file_size; }

static bool in_list(const char *const *list, const char *key)
{
	for (; list && *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

static bool in_set(const pj_gguf_wspec *s, const char *key)
{
	for (size_t i = 0; i < s->n_set; i++)
		if (strcmp(s->set[i].key, key) == 0)
			return true;
	return false;
}

static int scalar_size(pj_gguf_type t)
{
	static const int8_t SZ[PJ_GGUF_TYPE_COUNT] = {
		[PJ_GGUF_UINT8] = 1, [PJ_GGUF_INT8] = 1, [PJ_GGUF_UINT16] = 2, [PJ_GGUF_INT16] = 2,
		[PJ_GGUF_UINT32] = 4, [PJ_GGUF_INT32] = 4, [PJ_GGUF_FLOAT32] = 4, [PJ_GGUF_BOOL] = 1,
		[PJ_GGUF_UINT64] = 8, [PJ_GGUF_INT64] = 8, [PJ_GGUF_FLOAT64] = 8,
	};
	return (unsigned)t < PJ_GGUF_TYPE_COUNT ? SZ[t] : 0;
}

static int encode_scalar(bbuf *b, const pj_gguf_wkv *kv)
{
	const int sz = scalar_size(kv->type);
	switch (kv->type) {
	case PJ_GGUF_STRING:
		bb_str(b, kv->s, kv->s_len ? kv->s_len : strlen(kv->s));
		return 0;
	case PJ_GGUF_FLOAT32: {
		float f = (float)kv->f;
		uint32_t u;
		memcpy(&u, &f, 4);
		bb_le(b, u, 4);
		return 0;
	}
	case PJ_GGUF_FLOAT64: {
		uint64_t u;
		memcpy(&u, &kv->f, 8);
		bb_le(b, u, 8);
		return 0;
	}
	case PJ_GGUF_INT8: case PJ_GGUF_INT16: case PJ_GGUF_INT32: case PJ_GGUF_INT64:
		bb_le(b, (uint64_t)kv->i, sz);
		return 0;
	case PJ_GGUF_BOOL:
		bb_le(b, kv->u != 0, 1);
		return 0;
	default:
		if (sz <= 0)
			return -1;
		bb_le(b, kv->u, sz);
		return 0;
	}
}

/* Copies the source metadata (raw value bytes read back from its file). */
static pj_status encode_kv(const pj_gguf_wspec *s, bbuf *b, uint64_t *n_kv, pj_error *err)
{
	*n_kv = 0;
	if (s->src && s->src->n_kv) {
		int fd = open(s->src->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return pj_fail(err, PJ_EIO, "%s: cannot re-read metadata: %s", s->src->path, strerror(errno));
		uint8_t *tmp = NULL;
		size_t tcap = 0;
		pj_status st = PJ_OK;
		for (uint64_t i = 0; i < s->src->n_kv && !st; i++) {
			const pj_gguf_kv *kv = &s->src->kv[i];
			if (in_list(s->drop, kv->key) || in_set(s, kv->key))
				continue;
			if (kv->raw_len > tcap) {
				tcap = (size_t)kv->raw_len;
				tmp = pj_xrealloc(tmp, tcap);
			}
			ssize_t k = pread(fd, tmp, (size_t)kv->raw_len, (off_t)kv->raw_off);
			if (k != (ssize_t)kv->raw_len) {
				st = pj_fail(err, PJ_EIO, "%s: cannot re-read the value of '%s'", s->src->path, kv->key);
				break;
			}
			bb_str(b, kv->key, strlen(kv->key));
			bb_le(b, (uint64_t)kv->type, 4);
			bb_put(b, tmp, (size_t)kv->raw_len);
			(*n_kv)++;
		}
		free(tmp);
		close(fd);
		if (st)
			return st;
	}
	for (size_t i = 0; i < s->n_set; i++) {
		const pj_gguf_wkv *kv = &s->set[i];
		bb_str(b, kv->key, strlen(kv->key));
		bb_le(b, (uint64_t)kv->type, 4);
		if (kv->type == PJ_GGUF_ARRAY) {
			int sz = scalar_size(kv->arr_type);
			if (kv->arr_type != PJ_GGUF_STRING && sz <= 0)
				return pj_fail(err, PJ_EUSAGE, "gguf writer: key '%s': arrays of %s cannot be set", kv->key,
				               pj_gguf_type_name(kv->arr_type));
			bb_le(b, (uint64_t)kv->arr_type, 4);
			bb_le(b, kv->arr_n, 8);
			if (kv->arr_type == PJ_GGUF_STRING) {
				for (uint64_t k = 0; k < kv->arr_n; k++)
					bb_str(b, kv->arr_s[k], kv->arr_s_len ? (size_t)kv->arr_s_len[k] : strlen(kv->arr_s[k]));
			} else if (kv->arr_n) {
				bb_put(b, kv->arr, (size_t)kv->arr_n * (size_t)sz);   /* little-endian hosts only */
			}
		} else if (encode_scalar(b, kv) != 0) {
			return pj_fail(err, PJ_EUSAGE, "gguf writer: key '%s': type %s cannot be set", kv->key,
			               pj_gguf_type_name(kv->type));
		}
		(*n_kv)++;
	}
	return PJ_OK;
}

static pj_status check_tensor(const pj_gguf_wtensor *t, pj_error *err)
{
	const pj_dtype_info *di = pj_dtype_info_of(t->type);
	if (!di || di->ggml_id < 0)
		return pj_fail(err, PJ_EUNSUPPORTED, "tensor '%s': type %s has no GGUF encoding", t->name,
		               pj_dtype_name(t->type));
	if (t->n_dims < 1 || t->n_dims > 4)
		return pj_fail(err, PJ_EUSAGE, "tensor '%s': %d dimensions", t->name, t->n_dims);
	uint64_t n = 1;
	for (int d = 0; d < 4; d++) {
		unsigned long long m;
		if (t->ne[d] < 1 || pj_mul_u64(n, (unsigned long long)t->ne[d], &m))
			return pj_fail(err, PJ_EUSAGE, "tensor '%s': bad dimension %d", t->name, d);
		n = m;
	}
	uint64_t bytes;
	if (t->ne[0] % di->block || !pj_dtype_bytes(t->type, n, &bytes) || bytes != t->nbytes)
		return pj_fail(err, PJ_EUSAGE, "tensor '%s': %llu bytes do not match its shape as %s", t->name,
		               (unsigned long long)t->nbytes, di->name);
	return PJ_OK;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

pj_status pj_gguf_write_begin(pj_gguf_writer **out, const char *out_path, const pj_gguf_wspec *s, pj_error *err)
{
	*out = NULL;
	if (s->src && same_file(out_path, s->src->path))
		return pj_fail(err, PJ_EUSAGE, "%s: refusing to overwrite the input model", out_path);
	struct stat st;
	if (stat(out_path, &st) == 0 && S_ISDIR(st.st_mode))
		return pj_fail(err, PJ_EUSAGE, "%s: is a directory, expected a file name", out_path);

	uint32_t align = s->alignment ? s->alignment : s->src ? s->src->alignment : GGUF_DEFAULT_ALIGNMENT;
	if (!align || (align & (align - 1)))
		return pj_fail(err, PJ_EUSAGE, "gguf writer: alignment %u is not a power of two", align);
	for (size_t i = 0; i < s->n_t; i++) {
		pj_status e = check_tensor(&s->t[i], err);
		if (e)
			return e;
	}

	bbuf b = { 0 };
	uint64_t n_kv;
	bb_put(&b, "GGUF", 4);
	bb_le(&b, GGUF_VERSION, 4);
	bb_le(&b, s->n_t, 8);
	const size_t n_kv_at = b.n;
	bb_le(&b, 0, 8);                              /* n_kv, patched below */
	pj_status e = encode_kv(s, &b, &n_kv, err);
	if (e) {
		free(b.p);
		return e;
	}
	for (int i = 0; i < 8; i++)
		b.p[n_kv_at + (size_t)i] = (uint8_t)(n_kv >> (8 * i));

	pj_gguf_writer *w = pj_xcalloc(1, sizeof *w);
	w->fd = -1;
	w->path = pj_xstrdup(out_path);
	w->align = align;
	w->n_kv = n_kv;
	w->n_t = s->n_t;
	w->t = pj_xcalloc(s->n_t ? s->n_t : 1, sizeof *w->t);
	w->off = pj_xcalloc(s->n_t ? s->n_t : 1, sizeof *w->off);
	uint64_t off = 0;
	for (size_t i = 0; i < s->n_t; i++) {
		w->t[i] = s->t[i];
		w->t[i].name = pj_xstrdup(s->t[i].name);
		w->off[i] = off;
		const pj_gguf_wtensor *t = &s->t[i];
		bb_str(&b, t->name, strlen(t->name));
		bb_le(&b, (uint64_t)t->n_dims, 4);
		for (int d = 0; d < t->n_dims; d++)
			bb_le(&b, (uint64_t)t->ne[d], 8);
		bb_le(&b, (uint64_t)pj_dtype_info_of(t->type)->ggml_id, 4);
		bb_le(&b, off, 8);
		off += (t->nbytes + align - 1) / align * align;
	}
	w->header_size = (b.n + align - 1) / align * align;
	w->file_size = w->header_size + off;

	/* temp file beside the target: same file system, so rename is atomic */
	const char *slash = strrchr(out_path, '/');
	w->tmp = slash ? pj_xasprintf("%.*s/.%s.pj-tmp.XXXXXX", (int)(slash - out_path), out_path, slash + 1)
	               : pj_xasprintf(".%s.pj-tmp.XXXXXX", out_path);
	w->fd = mkstemp(w->tmp);
	if (w->fd < 0) {
		int en = errno;
		free(w->tmp);
		w->tmp = NULL;
		errno = en;
		e = sys_fail(w, err, "cannot create a temporary file in its folder");
		free(b.p);
		pj_gguf_write_abort(w);
		return e;
	}
	sig_arm(w->tmp);
	const mode_t mask = umask(0);
	umask(mask);
	(void)fchmod(w->fd, 0666 & ~mask);   /* mkstemp makes 0600; give a normal file's mode */
	w->cap = stage_size();
	w->buf[0] = stage_alloc(w->cap);
	w->buf[1] = stage_alloc(w->cap);
	w->job.fd = w->fd;
#ifdef O_DIRECT
	int fl = fcntl(w->fd, F_GETFL);
	w->direct = fl >= 0 && fcntl(w->fd, F_SETFL, fl | O_DIRECT) == 0;
#endif
	w->io = pj_pool_new(1, 1);   /* NULL (no thread): inline writes */
	e = put(w, b.p, b.n, err);
	if (!e)
		e = put_zeros(w, (size_t)(w->header_size - b.n), err);
	free(b.p);
	if (e) {
		pj_gguf_write_abort(w);
		return e;
	}
	*out = w;
	return PJ_OK;
}

/* Bytes the current tensor still takes (0: all announced data is in). */
static uint64_t tensor_left(const pj_gguf_writer *w)
{
	return w->cur < w->n_t ? w->t[w->cur].nbytes - w->cur_done : 0;
}

/* Counts k more bytes of the current tensor; pads it when it is complete. */
static pj_status tensor_step(pj_gguf_writer *w, size_t k, pj_error *err)
{
	const pj_gguf_wtensor *t = &w->t[w->cur];
	w->cur_done += k;
	if (w->cur_done < t->nbytes)
		return PJ_OK;
	w->cur++;
	w->cur_done = 0;
	return put_zeros(w, (size_t)((t->nbytes + w->align - 1) / w->align * w->align - t->nbytes), err);
}

pj_status pj_gguf_write_data(pj_gguf_writer *w, const void *data, size_t n, pj_error *err)
{
	const uint8_t *p = data;
	while (n) {
		const uint64_t left = tensor_left(w);
		if (!left)
			return pj_fail(err, PJ_EUSAGE, "%s: more data than the %zu tensors announced", w->path, w->n_t);
		size_t k = n < left ? n : (size_t)left;
		pj_status st = put(w, p, k, err);
		if (!st)
			st = tensor_step(w, k, err);
		if (st)
			return st;
		p += k;
		n -= k;
	}
	return PJ_OK;
}

void *pj_gguf_write_reserve(pj_gguf_writer *w, size_t n, pj_error *err)
{
	if (n > tensor_left(w)) {
		pj_fail(err, PJ_EUSAGE, "%s: %zu bytes reserved past the end of the current tensor", w->path, n);
		return NULL;
	}
	return stage_room(w, n, err) ? NULL : w->buf[w->fill_i] + w->fill;
}

pj_status pj_gguf_write_advance(pj_gguf_writer *w, size_t n, pj_error *err)
{
	if (n > tensor_left(w) || n > w->cap - w->fill)
		return pj_fail(err, PJ_EUSAGE, "%s: %zu bytes appended, more than were reserved", w->path, n);
	w->fill += n;
	return n ? tensor_step(w, n, err) : PJ_OK;
}

/* Re-opens the written file and checks it against what was announced. */
static pj_status validate(pj_gguf_writer *w, pj_error *err)
{
	pj_catalog cat;
	pj_catalog_init(&cat);
	pj_gguf g;
	pj_error e2 = { 0 };
	pj_status st = pj_gguf_open(w->path, &g, &cat, &e2);
	if (st) {
		pj_catalog_free(&cat);
		return pj_fail(err, PJ_EFORMAT, "written file does not re-open: %s", e2.msg);
	}
	if (g.n_tensors != w->n_t || g.n_kv != w->n_kv || g.file_size != w->file_size ||
	    g.data_offset != w->header_size)
		st = pj_fail(err, PJ_EFORMAT, "%s: re-opened file has %llu tensors, %llu keys, %llu bytes; expected %zu, %llu, %llu",
		             w->path, (unsigned long long)g.n_tensors, (unsigned long long)g.n_kv,
		             (unsigned long long)g.file_size, w->n_t, (unsigned long long)w->n_kv,
		             (unsigned long long)w->file_size);
	for (size_t i = 0; i < w->n_t && !st; i++) {
		const pj_gguf_wtensor *t = &w->t[i];
		const pj_tensor *r = pj_catalog_find(&cat, t->name);
		bool okd = r && r->dtype == t->type && r->nbytes == t->nbytes && r->n_dims == t->n_dims &&
		           r->offset == w->header_size + w->off[i];
		for (int d = 0; okd && d < t->n_dims; d++)
			okd = r->ne[d] == t->ne[d];
		if (!okd)
			st = pj_fail(err, PJ_EFORMAT, "%s: tensor '%s' reads back differently", w->path, t->name);
	}
	pj_gguf_free(&g);
	pj_catalog_free(&cat);
	return st;
}

pj_status pj_gguf_write_commit(pj_gguf_writer *w, pj_error *err)
{
	pj_status st = PJ_OK;
	if (w->cur != w->n_t)
		st = pj_fail(err, PJ_EUSAGE, "%s: only %zu of %zu tensors were written", w->path, w->cur, w->n_t);
	if (!st)
		st = stage_flush(w, err);
	if (!st && fsync(w->fd) != 0)
		st = sys_fail(w, err, "fsync failed");
	if (!st) {
		int fd = w->fd;
		w->fd = -1;
		if (close(fd) != 0)
			st = sys_fail(w, err, "close failed");
	}
	if (!st && rename(w->tmp, w->path) != 0)
		st = sys_fail(w, err, "cannot rename the temporary file into place");
	if (st) {
		pj_gguf_write_abort(w);
		return st;
	}
	sig_armed = 0;
	free(w->tmp);
	w->tmp = NULL;
	/* make the rename itself durable */
	const char *slash = strrchr(w->path, '/');
	char *dir = slash ? pj_xstrndup(w->path, slash == w->path ? 1 : (size_t)(slash - w->path)) : pj_xstrdup(".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(dir);
	st = validate(w, err);
	if (st)
		unlink(w->path);   /* never leave a file that does not read back */
	writer_free(w);
	return st;
}
