/* autosave.c - the session on disk: $XDG_STATE_HOME/pajamas-tui/<model key>.session.zst
 *
 * File: a 16-byte header ("PJSESS\r\n", u32 version, u32 0), then one zstd
 * frame with content size and XXH64 checksum.  The payload, little-endian,
 * strings as u32 length + bytes:
 *
 *   "PJSP" model_key time plan_json
 *   n_ov { u32 tensor, i32 code }          overrides with provenance/pin flags
 *   kv_ctx(i64) kv_type(u32)
 *   imatrix_path imatrix_sha                   (version 2; "" "" without one)
 *   G(u32) n_checks { f64 pred[G], f64 kld } f64 scale[G]
 *   n_hist(u64) pos(u64) saved_pos(u64) { step }
 *   view_len(u64) view
 *   "END!"
 *
 *   step = label flags(u8: 1 base, 2 rules) [base_old base_new]
 *          [n_old strs n_new strs] nd(u64) { u32 t, i32 old, i32 new }
 *
 * plan_json is the plan file text (base, rules, and overrides only for
 * tensors the model lacks: the others are the n_ov records, which keep the
 * solver provenance a plan file cannot).  Tensors are catalog indices,
 * valid because the file is keyed by the model identity and the key is
 * checked again inside.
 *
 * Anything that does not check out - header, zstd checksum, lengths, the
 * end marker, the key, an index or a type out of range, a plan file that
 * does not parse - makes the whole file ignored with a message; the
 * session is only changed once everything has been read.
 *
 * The importance matrix is only recorded, by its hex pj_imatrix_sha256_hex:
 * a restore with another one (or none) goes ahead with a warning (version
 * 1 files predate the record; the planner had no imatrix then).
 *
 * Writes go to a temporary file in the same directory, fsync, rename over
 * the old one, fsync the directory: after a crash (or kill -9) the file is
 * the previous autosave or this one, never a mix. */
#include "config.h"
#include "quant/session_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "model/strbuf.h"
#include "quant/plan_json.h"

#define MAGIC "PJSESS\r\n"
#define SESS_VERSION 2
#define HDR 16
#define MAX_FILE (1ull << 32)

/* ---- writing --------------------------------------------------------------------- */

typedef struct wbuf {
	uint8_t *b;
	size_t n, cap;
} wbuf;

static void w_raw(wbuf *w, const void *p, size_t n)
{
	if (!n)
		return;
	if (w->n + n > w->cap) {
		w->cap = (w->n + n) * 2 + 256;
		w->b = pj_xrealloc(w->b, w->cap);
	}
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void w_u64(wbuf *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	w_raw(w, b, 8);
}

static void w_u32(wbuf *w, uint32_t v)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	w_raw(w, b, 4);
}

static void w_f64(wbuf *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	w_u64(w, v);
}

static void w_str(wbuf *w, const char *s)
{
	const size_t n = s ? strlen(s) : 0;
	w_u32(w, (uint32_t)n);
	w_raw(w, s, n);
}

static void w_strv(wbuf *w, char *const *v, size_t n)
{
	w_u64(w, n);
	for (size_t i = 0; i < n; i++)
		w_str(w, v[i]);
}

/* The plan file text without the model's own overrides. */
static char *plan_text(pj_session *s)
{
	pj_plan *p = &s->plan;
	pj_plan_override *ov = p->ov;
	const size_t n_ov = p->n_ov;
	p->ov = s->foreign;
	p->n_ov = s->n_foreign;
	char *text = pj_plan_json_dump_keyed(p, s->key); /* hashed once, at pj_session_new */
	p->ov = ov;
	p->n_ov = n_ov;
	return text;
}

static void payload(pj_session *s, const void *view, size_t view_len, wbuf *w)
{
	w_raw(w, "PJSP", 4);
	w_str(w, s->key);
	w_u64(w, (uint64_t)time(NULL));
	char *pt = plan_text(s);
	w_str(w, pt);
	free(pt);
	size_t n_ov = 0;
	for (size_t t = 0; t < s->n; t++)
		n_ov += s->ov[t] != OV_NONE;
	w_u64(w, n_ov);
	for (size_t t = 0; t < s->n; t++)
		if (s->ov[t] != OV_NONE) {
			w_u32(w, (uint32_t)t);
			w_u32(w, (uint32_t)s->ov[t]);
		}
	w_u64(w, (uint64_t)s->kv_ctx);
	w_u32(w, (uint32_t)s->kv_type);
	w_str(w, s->im ? s->im->path : "");
	w_str(w, s->im_sha);
	w_u32(w, PJ_RG_COUNT);
	w_u64(w, s->n_checks);
	for (size_t k = 0; k < s->n_checks; k++) {
		for (int g = 0; g < PJ_RG_COUNT; g++)
			w_f64(w, s->checks[k].pred[g]);
		w_f64(w, s->checks[k].kld);
	}
	for (int g = 0; g < PJ_RG_COUNT; g++)
		w_f64(w, s->scale[g]);
	w_u64(w, s->n_hist);
	w_u64(w, s->pos);
	w_u64(w, s->saved_pos);
	for (size_t i = 0; i < s->n_hist; i++) {
		const sess_step *st = &s->hist[i];
		w_str(w, st->label);
		const uint8_t flags = (st->base_new ? 1 : 0) | (st->rules ? 2 : 0);
		w_raw(w, &flags, 1);
		if (flags & 1) {
			w_str(w, st->base_old);
			w_str(w, st->base_new);
		}
		if (flags & 2) {
			w_strv(w, st->rules_old, st->n_rules_old);
			w_strv(w, st->rules_new, st->n_rules_new);
		}
		w_u64(w, st->nd);
		for (size_t k = 0; k < st->nd; k++) {
			w_u32(w, st->d[k].t);
			w_u32(w, (uint32_t)st->d[k].old);
			w_u32(w, (uint32_t)st->d[k].new_);
		}
	}
	w_u64(w, view_len);
	w_raw(w, view, view_len);
	w_raw(w, "END!", 4);
}

/* mkdir -p */
static pj_status make_dirs(const char *path, pj_error *err)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return pj_fail(err, PJ_EUSAGE, "%s: path too long", path);
	for (char *c = buf + 1;; c++) {
		const char was = *c;
		if (was != '/' && was)
			continue;
		*c = 0;
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return pj_fail(err, PJ_EIO, "%s: %s", buf, strerror(errno));
		*c = was;
		if (!was)
			break;
	}
	return PJ_OK;
}

pj_status pj_session_state_dir(char *buf, size_t len, pj_error *err)
{
	const char *x = getenv("XDG_STATE_HOME");
	int k;
	if (x && *x == '/') {
		k = snprintf(buf, len, "%s/pajamas-tui", x);
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home)
			return pj_fail(err, PJ_EUSAGE, "neither XDG_STATE_HOME nor HOME is set: no place for the autosave");
		k = snprintf(buf, len, "%s/.local/state/pajamas-tui", home);
	}
	if (k < 0 || (size_t)k >= len)
		return pj_fail(err, PJ_EUSAGE, "state directory: path too long");
	return make_dirs(buf, err);
}

pj_status pj_session_autosave_path(const pj_session *s, const char *dir, char *buf, size_t len, pj_error *err)
{
	char d[4096];
	if (!dir) {
		pj_status rc = pj_session_state_dir(d, sizeof d, err);
		if (rc)
			return rc;
		dir = d;
	}
	if ((size_t)snprintf(buf, len, "%s/%s.session.zst", dir, s->key) >= len)
		return pj_fail(err, PJ_EUSAGE, "%s: path too long", dir);
	return PJ_OK;
}

bool pj_session_autosave_due(const pj_session *s)
{
	return s->gen != s->autosaved_gen;
}

static pj_status write_atomic(const char *path, const uint8_t *data, size_t len, pj_error *err)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return pj_fail(err, PJ_EIO, "%s: %s", tmp, strerror(errno));
	size_t off = 0;
	while (off < len) {
		ssize_t k = write(fd, data + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	const int e1 = off == len ? 0 : errno ? errno : EIO;
	const bool synced = !e1 && fsync(fd) == 0;
	const int e2 = errno;
	close(fd);
	if (e1 || !synced || rename(tmp, path) != 0) {
		const int e = e1 ? e1 : !synced ? e2 : errno;
		unlink(tmp);
		return pj_fail(err, PJ_EIO, "%s: %s", path, strerror(e));
	}
	/* the rename itself must reach the disk */
	char dir[4200];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		int dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return PJ_OK;
}

/* Header, then the payload as one zstd frame; written atomically. */
static pj_status write_image(const char *path, const wbuf *w, pj_error *err)
{
	const size_t bound = ZSTD_compressBound(w->n);
	uint8_t *img = pj_xmalloc(HDR + bound);
	memcpy(img, MAGIC, 8);
	for (int i = 0; i < 4; i++) {
		img[8 + i] = (uint8_t)((unsigned)SESS_VERSION >> (8 * i));
		img[12 + i] = 0;
	}
	ZSTD_CCtx *z = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 1);
	const size_t clen = ZSTD_compress2(z, img + HDR, bound, w->b, w->n);
	ZSTD_freeCCtx(z);
	pj_status rc;
	if (ZSTD_isError(clen))
		rc = pj_fail(err, PJ_EIO, "autosave: zstd: %s", ZSTD_getErrorName(clen));
	else
		rc = write_atomic(path, img, HDR + clen, err);
	free(img);
	return rc;
}

/* The path, the directory made, the payload gathered. */
static pj_status gather(pj_session *s, const char *dir, const void *view, size_t view_len, char *path, wbuf *w,
                        pj_error *err)
{
	pj_status rc = pj_session_autosave_path(s, dir, path, 4096, err);
	if (rc)
		return rc;
	if (dir && (rc = make_dirs(dir, err)))
		return rc;
	payload(s, view, view_len, w);
	return PJ_OK;
}

/* ---- the background writer -------------------------------------------------------- */

/* One thread per session, started by the first pj_session_autosave_async():
 * it compresses and writes (fsync and all) what the owner gathered, so the
 * owner's thread never waits for the disk.  A payload not taken yet is
 * replaced by a newer one: only the newest file matters. */
struct sess_saver {
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, busy;
	wbuf job;                   /* job.b NULL: nothing pending */
	char path[4096];
	pj_status st;               /* the last write's, until reported */
	pj_error err;
};

static void *saver_main(void *arg)
{
	struct sess_saver *v = arg;
	pthread_mutex_lock(&v->lock);
	for (;;) {
		while (!v->job.b && !v->stop)
			pthread_cond_wait(&v->cond, &v->lock);
		if (!v->job.b)
			break;
		wbuf w = v->job;
		char path[4096];
		memcpy(path, v->path, sizeof path);
		v->job = (wbuf){ 0 };
		v->busy = true;
		pthread_mutex_unlock(&v->lock);
		pj_error err;
		const pj_status st = write_image(path, &w, &err);
		free(w.b);
		pthread_mutex_lock(&v->lock);
		v->busy = false;
		if (st) {
			v->st = st;
			v->err = err;
		}
		pthread_cond_broadcast(&v->cond);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

/* Takes the writer's unreported failure (PJ_OK when none). */
static pj_status saver_status(struct sess_saver *v, pj_error *err)
{
	const pj_status st = v->st;
	if (st && err)
		*err = v->err;
	v->st = PJ_OK;
	return st;
}

pj_status pj_session_autosave_flush(pj_session *s, pj_error *err)
{
	struct sess_saver *v = s->saver;
	if (!v)
		return PJ_OK;
	pthread_mutex_lock(&v->lock);
	while (v->job.b || v->busy)
		pthread_cond_wait(&v->cond, &v->lock);
	const pj_status st = saver_status(v, err);
	pthread_mutex_unlock(&v->lock);
	return st;
}

void sess_saver_stop(pj_session *s)
{
	struct sess_saver *v = s->saver;
	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	v->stop = true;               /* what is pending is still written */
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	pthread_join(v->th, NULL);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	free(v);
	s->saver = NULL;
}

pj_status pj_session_autosave_async(pj_session *s, const char *dir, const void *view, size_t view_len,
                                    pj_error *err)
{
	char path[4096];
	wbuf w = { 0 };
	pj_status rc = gather(s, dir, view, view_len, path, &w, err);
	if (rc)
		return rc;
	struct sess_saver *v = s->saver;
	if (!v) {
		v = pj_xcalloc(1, sizeof *v);
		pthread_mutex_init(&v->lock, NULL);
		pthread_cond_init(&v->cond, NULL);
		if (pthread_create(&v->th, NULL, saver_main, v) != 0) {
			/* no thread: write here, as pj_session_autosave() does */
			pthread_cond_destroy(&v->cond);
			pthread_mutex_destroy(&v->lock);
			free(v);
			rc = write_image(path, &w, err);
			free(w.b);
			if (!rc)
				s->autosaved_gen = s->gen;
			return rc;
		}
		s->saver = v;
	}
	pthread_mutex_lock(&v->lock);
	free(v->job.b);               /* superseded */
	v->job = w;
	memcpy(v->path, path, sizeof path);
	pthread_cond_signal(&v->cond);
	rc = saver_status(v, err);
	pthread_mutex_unlock(&v->lock);
	s->autosaved_gen = s->gen;
	return rc;
}

pj_status pj_session_autosave(pj_session *s, const char *dir, const void *view, size_t view_len, pj_error *err)
{
	/* a background write still going would land after this one */
	pj_status rc = pj_session_autosave_flush(s, err);
	char path[4096];
	wbuf w = { 0 };
	if (rc || (rc = gather(s, dir, view, view_len, path, &w, err)))
		return rc;
	rc = write_image(path, &w, err);
	free(w.b);
	if (!rc)
		s->autosaved_gen = s->gen;
	return rc;
}

pj_status pj_session_autosave_remove(const pj_session *s, const char *dir, pj_error *err)
{
	/* a background write still going would bring the file back */
	pj_session_autosave_flush((pj_session *)s, NULL);
	char path[4096];
	pj_status rc = pj_session_autosave_path(s, dir, path, sizeof path, err);
	if (rc)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		return pj_fail(err, PJ_EIO, "%s: %s", path, strerror(errno));
	return PJ_OK;
}

/* ---- reading ---------------------------------------------------------------------- */

typedef struct rbuf {
	const uint8_t *b;
	size_t n, off;
	bool bad;
} rbuf;

static const uint8_t *r_raw(rbuf *r, size_t n)
{
	if (r->bad || n > r->n - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->b + r->off;
	r->off += n;
	return p;
}

static uint64_t r_u64(rbuf *r)
{
	const uint8_t *p = r_raw(r, 8);
	uint64_t v = 0;
	for (int i = 0; p && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint32_t r_u32(rbuf *r)
{
	const uint8_t *p = r_raw(r, 4);
	uint32_t v = 0;
	for (int i = 0; p && i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static double r_f64(rbuf *r)
{
	uint64_t v = r_u64(r);
	double d;
	memcpy(&d, &v, 8);
	return d;
}

static char *r_str(rbuf *r)
{
	const uint32_t n = r_u32(r);
	const uint8_t *p = r_raw(r, n);
	if (!p)
		return NULL;
	if (memchr(p, 0, n)) {
		r->bad = true;
		return NULL;
	}
	return pj_xstrndup((const char *)p, n);
}

/* A count that must fit in what is left, each item at least `min` bytes. */
static size_t r_count(rbuf *r, size_t min)
{
	const uint64_t n = r_u64(r);
	if (r->bad || (min && n > (r->n - r->off) / min)) {
		r->bad = true;
		return 0;
	}
	return (size_t)n;
}

static char **r_strv(rbuf *r, size_t *n)
{
	*n = r_count(r, 4);
	char **v = pj_xcalloc(*n ? *n : 1, sizeof *v);
	for (size_t i = 0; i < *n && !r->bad; i++)
		v[i] = r_str(r);
	return v;
}

typedef struct saved {
	char *key;
	int64_t time;
	char *plan_json;
	uint32_t *ov_t;
	int32_t *ov_c;
	size_t n_ov;
	int64_t kv_ctx;
	uint32_t kv_type;
	char *im_path, *im_sha;     /* "" without an imatrix */
	sess_check *checks;
	size_t n_checks;
	double scale[PJ_RG_COUNT];
	sess_step *hist;
	size_t n_hist, pos, saved_pos;
	uint8_t *view;
	size_t view_len;
} saved;

static void saved_free(saved *d)
{
	free(d->key);
	free(d->plan_json);
	free(d->im_path);
	free(d->im_sha);
	free(d->ov_t);
	free(d->ov_c);
	free(d->checks);
	for (size_t i = 0; i < d->n_hist; i++)
		sess_step_free(&d->hist[i]);
	free(d->hist);
	free(d->view);
	memset(d, 0, sizeof *d);
}

static bool code_ok(int32_t c)
{
	if (c == OV_NONE)
		return true;
	if (c < 0 || (c & ~(OV_TYPE | OV_PINNED | OV_SOLVER)))
		return false;
	const int t = c & OV_TYPE;
	return t < PJ_DT_COUNT && pj_dtype_info_of((pj_dtype)t)->ggml_id >= 0;
}

/* Parses payload p into d; NULL when it checks out, else why not (malloc'd). */
static char *parse(const pj_session *s, unsigned version, const uint8_t *p, size_t n, saved *d)
{
	rbuf r = { p, n, 0, false };
	memset(d, 0, sizeof *d);
	const uint8_t *m = r_raw(&r, 4);
	if (!m || memcmp(m, "PJSP", 4))
		return pj_xstrdup("bad payload magic");
	d->key = r_str(&r);
	if (!d->key || strcmp(d->key, s->key) != 0)
		return pj_xstrdup(r.bad ? "truncated" : "made for another model");
	d->time = (int64_t)r_u64(&r);
	d->plan_json = r_str(&r);
	d->n_ov = r_count(&r, 8);
	d->ov_t = pj_xcalloc(d->n_ov ? d->n_ov : 1, sizeof *d->ov_t);
	d->ov_c = pj_xcalloc(d->n_ov ? d->n_ov : 1, sizeof *d->ov_c);
	for (size_t i = 0; i < d->n_ov && !r.bad; i++) {
		d->ov_t[i] = r_u32(&r);
		d->ov_c[i] = (int32_t)r_u32(&r);
		if (d->ov_t[i] >= s->n || d->ov_c[i] == OV_NONE || !code_ok(d->ov_c[i]))
			return pj_xstrdup("override out of range");
	}
	d->kv_ctx = (int64_t)r_u64(&r);
	d->kv_type = r_u32(&r);
	if (!r.bad && (d->kv_type >= PJ_DT_COUNT || d->kv_ctx <= 0))
		return pj_xstrdup("bad KV cache settings");
	d->im_path = version >= 2 ? r_str(&r) : pj_xstrdup("");
	d->im_sha = version >= 2 ? r_str(&r) : pj_xstrdup("");
	if (r_u32(&r) != PJ_RG_COUNT && !r.bad)
		return pj_xstrdup("role groups differ (older version)");
	d->n_checks = r_count(&r, 8 * (PJ_RG_COUNT + 1));
	d->checks = pj_xcalloc(d->n_checks ? d->n_checks : 1, sizeof *d->checks);
	for (size_t k = 0; k < d->n_checks && !r.bad; k++) {
		for (int g = 0; g < PJ_RG_COUNT; g++)
			d->checks[k].pred[g] = r_f64(&r);
		d->checks[k].kld = r_f64(&r);
	}
	for (int g = 0; g < PJ_RG_COUNT; g++) {
		d->scale[g] = r_f64(&r);
		if (!r.bad && !(d->scale[g] > 0 && d->scale[g] < 1e9))
			return pj_xstrdup("bad loss scale");
	}
	const size_t nh = r_count(&r, 13);
	d->pos = (size_t)r_u64(&r);
	d->saved_pos = (size_t)r_u64(&r);
	if (!r.bad && (d->pos > nh || (d->saved_pos > nh && d->saved_pos != SIZE_MAX)))
		return pj_xstrdup("history position out of range");
	d->hist = pj_xcalloc(nh ? nh : 1, sizeof *d->hist);
	for (size_t i = 0; i < nh && !r.bad; i++) {
		sess_step *st = &d->hist[d->n_hist++];
		st->label = r_str(&r);
		const uint8_t *fl = r_raw(&r, 1);
		if (!fl || (*fl & ~3))
			return pj_xstrdup(r.bad ? "truncated" : "bad step flags");
		if (*fl & 1) {
			st->base_old = r_str(&r);
			st->base_new = r_str(&r);
		}
		if (*fl & 2) {
			st->rules = true;
			st->rules_old = r_strv(&r, &st->n_rules_old);
			st->rules_new = r_strv(&r, &st->n_rules_new);
		}
		st->nd = r_count(&r, 12);
		st->d = pj_xcalloc(st->nd ? st->nd : 1, sizeof *st->d);
		for (size_t k = 0; k < st->nd && !r.bad; k++) {
			st->d[k].t = r_u32(&r);
			st->d[k].old = (int32_t)r_u32(&r);
			st->d[k].new_ = (int32_t)r_u32(&r);
			if (!r.bad && (st->d[k].t >= s->n || !code_ok(st->d[k].old) || !code_ok(st->d[k].new_)))
				return pj_xstrdup("history entry out of range");
		}
	}
	d->view_len = r_count(&r, 1);
	const uint8_t *v = r_raw(&r, d->view_len);
	if (v && d->view_len) {
		d->view = pj_xmalloc(d->view_len);
		memcpy(d->view, v, d->view_len);
	}
	const uint8_t *end = r_raw(&r, 4);
	if (r.bad || !end || memcmp(end, "END!", 4) || r.off != r.n)
		return pj_xstrdup(r.bad ? "truncated" : "bad end marker");
	if (!d->plan_json)
		return pj_xstrdup("no plan");
	if (!d->im_path || !d->im_sha)
		return pj_xstrdup("truncated");
	return NULL;
}

/* Reads and checks the file; NULL when fine, else why not (malloc'd);
 * *missing: there is no file at all. */
static char *load(const pj_session *s, const char *path, saved *d, bool *missing)
{
	*missing = false;
	memset(d, 0, sizeof *d);
	FILE *f = fopen(path, "rb");
	if (!f) {
		*missing = errno == ENOENT;
		return pj_xasprintf("%s", strerror(errno));
	}
	sbuf b = { 0 };
	sb_read(&b, f, MAX_FILE);
	const bool rerr = ferror(f);
	fclose(f);
	if (b.n > MAX_FILE) {
		free(b.p);
		return pj_xstrdup("too large");
	}
	uint8_t *buf = (uint8_t *)b.p;
	const size_t n = b.n;
	char *why = NULL;
	if (rerr)
		why = pj_xstrdup("read error");
	else if (n < HDR || memcmp(buf, MAGIC, 8))
		why = pj_xstrdup("not a session file");
	else if (buf[8] < 1 || buf[8] > SESS_VERSION || buf[9] || buf[10] || buf[11])
		why = pj_xasprintf("version %u, this program reads 1 to %u", buf[8], SESS_VERSION);
	if (why) {
		free(buf);
		return why;
	}
	const unsigned long long plen = ZSTD_getFrameContentSize(buf + HDR, n - HDR);
	if (plen == ZSTD_CONTENTSIZE_ERROR || plen == ZSTD_CONTENTSIZE_UNKNOWN || plen > MAX_FILE) {
		free(buf);
		return pj_xstrdup("damaged zstd frame");
	}
	uint8_t *raw = pj_xmalloc(plen ? (size_t)plen : 1);
	const size_t got = ZSTD_decompress(raw, (size_t)plen, buf + HDR, n - HDR);
	const unsigned version = buf[8];
	free(buf);
	if (ZSTD_isError(got) || got != plen) {
		free(raw);
		return pj_xasprintf("zstd: %s", ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
	}
	why = parse(s, version, raw, (size_t)plen, d);
	free(raw);
	if (why)
		saved_free(d);
	return why;
}

static pj_status open_saved(const pj_session *s, const char *dir, saved *d, char *path, size_t len, char **message)
{
	if (message)
		*message = NULL;
	pj_error e;
	if (pj_session_autosave_path(s, dir, path, len, &e)) {
		if (message)
			*message = pj_xstrdup(e.msg);
		return PJ_ENOTFOUND;
	}
	bool missing;
	char *why = load(s, path, d, &missing);
	if (!why)
		return PJ_OK;
	if (message && !missing)
		*message = pj_xasprintf("%s: ignored (%s)", path, why);
	free(why);
	return PJ_ENOTFOUND;
}

/* Why the saved importance matrix is not this session's, or NULL. */
static char *imatrix_warning(const pj_session *s, const saved *d)
{
	if (strcmp(d->im_sha, s->im_sha) == 0)
		return NULL;
	if (!s->im)
		return pj_xasprintf("the autosave was planned with the importance matrix %s; this run has none "
		                    "(--imatrix FILE): measurements are unweighted and its IQ types cannot be exported",
		                    d->im_path);
	if (!d->im_sha[0])
		return pj_xasprintf("the autosave was planned without an importance matrix; this run weights with %s "
		                    "(presets and measurements differ)", s->im->path);
	return pj_xasprintf("the autosave was planned with another importance matrix (%s, %.12s); this run has %s (%.12s)",
	                    d->im_path, d->im_sha, s->im->path, s->im_sha);
}

pj_status pj_session_saved_probe(const pj_session *s, const char *dir, pj_session_saved *info, char **message)
{
	saved d;
	char path[4096];
	memset(info, 0, sizeof *info);
	pj_status rc = open_saved(s, dir, &d, path, sizeof path, message);
	if (rc)
		return rc;
	snprintf(info->path, sizeof info->path, "%s", path);
	info->mtime = d.time;
	info->steps = d.n_hist;
	info->applied = d.pos;
	if (d.pos)
		snprintf(info->last, sizeof info->last, "%s", d.hist[d.pos - 1].label ? d.hist[d.pos - 1].label : "");
	/* the base, from the plan text, without building a plan */
	const char *b = strstr(d.plan_json, "\"base\"");
	if (b && (b = strchr(b + 6, '"')))
		snprintf(info->base, sizeof info->base, "%.*s", (int)strcspn(b + 1, "\""), b + 1);
	snprintf(info->imatrix, sizeof info->imatrix, "%s", d.im_path);
	info->imatrix_differs = strcmp(d.im_sha, s->im_sha) != 0;
	saved_free(&d);
	return PJ_OK;
}

pj_status pj_session_restore(pj_session *s, const char *dir, void **view, size_t *view_len, char **message,
                             pj_error *err)
{
	if (view)
		*view = NULL;
	if (view_len)
		*view_len = 0;
	saved d;
	char path[4096];
	pj_status rc = open_saved(s, dir, &d, path, sizeof path, message);
	if (rc)
		return pj_fail(err, rc, "%s", message && *message ? *message : "no autosave for this model");
	pj_plan tmp;
	char *warning = NULL;
	pj_error e2;
	rc = pj_plan_json_parse_keyed(&tmp, s->m, d.plan_json, path, s->has_im, s->key, &warning, &e2);
	free(warning);
	if (rc) {
		if (message)
			*message = pj_xasprintf("%s: ignored (its plan: %s)", path, e2.msg);
		saved_free(&d);
		return pj_fail(err, PJ_ENOTFOUND, "%s: ignored (its plan: %s)", path, e2.msg);
	}
	if (tmp.n != s->n) {
		pj_plan_free(&tmp);
		saved_free(&d);
		if (message)
			*message = pj_xasprintf("%s: ignored (made for another model)", path);
		return pj_fail(err, PJ_ENOTFOUND, "%s: ignored (made for another model)", path);
	}
	/* everything checked: take it over.  The parsed plan's entries are in
	 * the same order as ours (same catalog, same sort). */
	s->ov_synced = false;
	for (size_t i = 0; i < s->n_foreign; i++)
		free(s->foreign[i].tensor);
	free(s->foreign);
	s->foreign = tmp.ov;
	s->n_foreign = tmp.n_ov;
	tmp.ov = NULL;
	tmp.n_ov = 0;
	for (size_t i = 0; i < s->n_foreign; i++)
		s->foreign[i].matched = false;
	pj_plan_free(&s->plan);
	s->plan = tmp;
	for (size_t i = 0; i < s->n; i++)
		s->ent[s->plan.e[i].t - s->m->cat.t] = i;
	for (size_t t = 0; t < s->n; t++)
		s->ov[t] = OV_NONE;
	for (size_t i = 0; i < d.n_ov; i++)
		s->ov[d.ov_t[i]] = d.ov_c[i];
	s->kv_ctx = d.kv_ctx;
	s->kv_type = (pj_dtype)d.kv_type;
	free(s->checks);
	s->checks = d.checks;
	s->n_checks = d.n_checks;
	d.checks = NULL;
	memcpy(s->scale, d.scale, sizeof s->scale);
	for (size_t i = 0; i < s->n_hist; i++)
		sess_step_free(&s->hist[i]);
	free(s->hist);
	s->hist = d.hist;
	s->n_hist = d.n_hist;
	s->pos = d.pos;
	s->saved_pos = d.saved_pos;
	d.hist = NULL;
	d.n_hist = 0;
	if (view) {
		*view = d.view;
		d.view = NULL;
	}
	if (view_len)
		*view_len = d.view_len;
	if (message)
		*message = imatrix_warning(s, &d);
	saved_free(&d);
	rc = sess_recompute_all(s, err);
	sess_touch(s, true);
	s->autosaved_gen = s->gen;
	return rc;
}
