/* check_session.c - base caches, incremental plan runs, routing statistics
 * and per-block attribution (see check_session.h).
 *
 * Stages are numbered j = 0 (embedding), 1..L (block j - 1), L + 1 (final
 * norm and head); cache entry k (0..L) holds the activations leaving stage
 * k, i.e. entering block k.  A run starts at the first stage whose key
 * differs from the cache it starts from, copies that cache's entry j - 1
 * and recomputes stages j..L+1; the plan's entries before j are the
 * source's (marked, not copied, when the source is the base). */
#include "config.h"
#include "quant/check_session.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "quant/eval_int.h"

typedef struct region {
	void *p;
	size_t bytes;
	bool mapped;
} region;

struct pj_check_session {
	pj_model *m;
	pj_fwd *f;
	pj_check_session_opts o;
	int L, E, K;
	size_t n_chunks, ctx, n_tok, d, V, first, ns;
	int32_t *tok;

	float **base_x, **plan_x;       /* [L + 1] cache entries */
	bool *plan_x_base;              /* the plan's entry k is the base's */
	int32_t **base_route, **plan_route;   /* [L]: [n_tok][K] in MoE blocks */
	bool *plan_route_base;
	float *base_logits;             /* [n_chunks * ns][V] */
	uint64_t *base_key, *plan_key;  /* [L + 2] stage keys */
	bool have_plan;
	pj_eval_result last;

	pj_fwd_head *plan_head;
	uint64_t plan_head_key;

	uint64_t *counts;               /* [L][E] */
	pj_check_layer *layers;

	pj_check_counters c;
	region *reg;
	size_t n_reg;
	uint64_t uniq;
};

static const pj_fwd_weights SOURCE = { pj_fwd_load_source, NULL, pj_fwd_source_key, NULL };

/* ---- the cache store ------------------------------------------------------------ */

static void *store_alloc(pj_check_session *s, size_t bytes, pj_error *err)
{
	bytes = bytes ? bytes : 1;
	const size_t limit = s->o.cache_ram ? s->o.cache_ram : PJ_CHECK_CACHE_RAM_DEFAULT;
	region r = { NULL, bytes, false };
	if (limit == SIZE_MAX || s->c.cache_ram + bytes <= limit) {
		r.p = pj_xmalloc(bytes);
		s->c.cache_ram += bytes;
	} else {
		const char *dir = s->o.cache_dir ? s->o.cache_dir : getenv("TMPDIR");
		char *path = pj_xasprintf("%s/pj-check-XXXXXX", dir && *dir ? dir : "/tmp");
		int fd = mkstemp(path);
		if (fd < 0) {
			pj_fail(err, PJ_EIO, "%s: cannot create a cache file: %s", path, strerror(errno));
			free(path);
			return NULL;
		}
		unlink(path);
		/* reserve the blocks now: a full disk must fail here, not as
		 * SIGBUS on a later store into the mapping */
		int e = posix_fallocate(fd, 0, (off_t)bytes);
		if (e) {
			pj_fail(err, PJ_EIO, "%s: cannot reserve %zu bytes of cache: %s", path, bytes, strerror(e));
			close(fd);
			free(path);
			return NULL;
		}
		r.p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (r.p == MAP_FAILED) {
			pj_fail(err, PJ_EIO, "%s: cannot map the cache: %s", path, strerror(errno));
			free(path);
			return NULL;
		}
		free(path);
		r.mapped = true;
		s->c.cache_file += bytes;
	}
	s->reg = pj_xrealloc(s->reg, sizeof *s->reg * (s->n_reg + 1));
	s->reg[s->n_reg++] = r;
	return r.p;
}

static void store_free_all(pj_check_session *s)
{
	for (size_t i = 0; i < s->n_reg; i++) {
		if (s->reg[i].mapped)
			munmap(s->reg[i].p, s->reg[i].bytes);
		else
			free(s->reg[i].p);
	}
	free(s->reg);
	s->reg = NULL;
	s->n_reg = 0;
}

/* ---- keys ------------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 1099511628211ull;
	}
	return h;
}

/* One key per stage: the keys of its tensors, in catalog order.  A provider
 * without keys gets a fresh value each time (never reused). */
static void stage_keys(pj_check_session *s, const pj_fwd_weights *w, uint64_t *keys)
{
	const pj_tensor *buf[512];
	for (int j = 0; j <= s->L + 1; j++) {
		if (!w->key) {
			keys[j] = (1ull << 63) | ++s->uniq;
			continue;
		}
		const pj_tensor **ts = buf;
		size_t n = pj_fwd_stage_tensors(s->f, j - 1, buf, sizeof buf / sizeof buf[0]);
		if (n > sizeof buf / sizeof buf[0]) {
			ts = pj_xmalloc(sizeof *ts * n);
			pj_fwd_stage_tensors(s->f, j - 1, ts, n);
		}
		uint64_t h = 14695981039346656037ull;
		for (size_t i = 0; i < n; i++)
			h = fnv(fnv(h, (uint64_t)(ts[i] - s->m->cat.t)), w->key(w->ctx, ts[i]));
		keys[j] = h & ~(1ull << 63);
		if (ts != buf)
			free(ts);
	}
}

static uint64_t head_key(pj_check_session *s, const pj_fwd_weights *w)
{
	const pj_tensor *ts[8];
	size_t n = pj_fwd_stage_tensors(s->f, s->L, ts, 8);
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n && i < 8; i++)
		if (ts[i]->role != PJ_ROLE_OUTPUT_NORM)
			h = fnv(h, w->key ? w->key(w->ctx, ts[i]) : ((1ull << 63) | ++s->uniq));
	return h;
}

/* ---- open ------------------------------------------------------------------------- */

static bool cancelled(const pj_check_session *s)
{
	const pj_progress *p = s->o.eval.progress;
	return p && atomic_load_explicit(&p->cancel, memory_order_relaxed);
}

static void step(const pj_check_session *s)
{
	if (s->o.eval.progress)
		pj_progress_add(s->o.eval.progress, 1, 0);
}

static pj_status base_logits(pj_check_session *s, float *x, pj_error *err)
{
	pj_fwd_head *h = NULL;
	pj_status st = pj_fwd_final_norm(s->f, &SOURCE, x, s->n_tok, x, err);
	if (!st)
		st = pj_fwd_head_load(s->f, &SOURCE, &h, err);
	if (!st && !(s->base_logits = store_alloc(s, sizeof(float) * s->n_chunks * s->ns * s->V, err)))
		st = err->code;
	for (size_t c = 0; !st && c < s->n_chunks; c++)
		pj_fwd_logits(s->f, h, x + (c * s->ctx + s->first) * s->d, s->ns, s->base_logits + c * s->ns * s->V);
	pj_fwd_head_free(h);
	return st;
}

static void count_routes(pj_check_session *s)
{
	for (int l = 0; l < s->L; l++) {
		pj_check_layer *ly = &s->layers[l];
		ly->counts = s->counts + (size_t)l * (size_t)s->E;
		if (!ly->moe)
			continue;
		uint64_t *c = s->counts + (size_t)l * (size_t)s->E;
		const int32_t *r = s->base_route[l];
		for (size_t i = 0; i < s->n_tok * (size_t)s->K; i++)
			if (r[i] >= 0 && r[i] < s->E)
				c[r[i]]++;
		for (int e = 0; e < s->E; e++)
			ly->n_unused += c[e] == 0;
	}
}

static pj_status base_run(pj_check_session *s, pj_error *err)
{
	float *x = pj_xmalloc(sizeof(float) * s->n_tok * s->d);
	pj_status st = pj_fwd_embed(s->f, &SOURCE, s->tok, s->n_tok, x, err);
	step(s);
	for (int k = 0; !st && k <= s->L; k++) {
		if (k > 0) {
			if (cancelled(s)) {
				st = pj_fail(err, PJ_ECANCELED, "cancelled");
				break;
			}
			st = pj_fwd_layer(s->f, &SOURCE, k - 1, x, s->n_chunks, s->ctx, s->base_route[k - 1], err);
			s->c.base_layers++;
			step(s);
		}
		if (!st && !(s->base_x[k] = store_alloc(s, sizeof(float) * s->n_tok * s->d, err)))
			st = err->code;
		if (!st)
			memcpy(s->base_x[k], x, sizeof(float) * s->n_tok * s->d);
	}
	if (!st)
		st = base_logits(s, x, err);
	step(s);
	free(x);
	if (!st)
		count_routes(s);
	return st;
}

pj_status pj_check_session_open(pj_model *m, const int32_t *ids, size_t n_ids, const pj_check_session_opts *o,
                                pj_check_session **out, pj_error *err)
{
	*out = NULL;
	const pj_eval_opts *eo = &o->eval;
	if (eo->n_ctx < 4)
		return pj_fail(err, PJ_EUSAGE, "context of %d tokens is too short (at least 4)", eo->n_ctx);
	pj_check_session *s = pj_xcalloc(1, sizeof *s);
	s->m = m;
	s->o = *o;
	s->tok = pj_eval_chunks(ids, n_ids, eo, &s->n_chunks);
	if (!s->n_chunks) {
		pj_check_session_free(s);
		return pj_fail(err, PJ_EUSAGE, "%zu tokens make no chunk of %d tokens", n_ids, eo->n_ctx);
	}
	pj_status st = pj_fwd_open(m, eo->threads, &s->f, err);
	if (st) {
		pj_check_session_free(s);
		return st;
	}
	pj_fwd_set_act(s->f, eo->act);
	s->L = pj_fwd_n_layers(s->f);
	s->E = pj_fwd_n_experts(s->f);
	s->K = pj_fwd_top_k(s->f);
	s->ctx = (size_t)eo->n_ctx;
	s->n_tok = s->n_chunks * s->ctx;
	s->d = (size_t)pj_fwd_hidden_size(s->f);
	s->V = (size_t)pj_fwd_vocab(s->f);
	s->first = s->ctx / 2;
	s->ns = s->ctx - 1 - s->first;
	for (size_t i = 0; i < s->n_tok; i++)
		if (s->tok[i] < 0 || (size_t)s->tok[i] >= s->V) {
			st = pj_fail(err, PJ_EUSAGE, "token id %d outside the vocabulary", s->tok[i]);
			pj_check_session_free(s);
			return st;
		}
	const size_t L = (size_t)s->L;
	s->base_x = pj_xcalloc(L + 1, sizeof *s->base_x);
	s->plan_x = pj_xcalloc(L + 1, sizeof *s->plan_x);
	s->plan_x_base = pj_xcalloc(L + 1, sizeof *s->plan_x_base);
	s->base_route = pj_xcalloc(L, sizeof *s->base_route);
	s->plan_route = pj_xcalloc(L, sizeof *s->plan_route);
	s->plan_route_base = pj_xcalloc(L, sizeof *s->plan_route_base);
	s->base_key = pj_xcalloc(L + 2, sizeof *s->base_key);
	s->plan_key = pj_xcalloc(L + 2, sizeof *s->plan_key);
	s->counts = pj_xcalloc(L * (size_t)(s->E ? s->E : 1), sizeof *s->counts);
	s->layers = pj_xcalloc(L, sizeof *s->layers);
	for (int l = 0; l < s->L; l++) {
		s->layers[l].moe = s->K > 0 && pj_fwd_layer_is_moe(s->f, l);
		if (s->layers[l].moe) {
			/* routing ids are small next to activations: always in RAM */
			s->base_route[l] = pj_xmalloc(sizeof(int32_t) * s->n_tok * (size_t)s->K);
			s->plan_route[l] = pj_xmalloc(sizeof(int32_t) * s->n_tok * (size_t)s->K);
		}
	}
	stage_keys(s, &SOURCE, s->base_key);
	s->c.last_start = s->L + 1;
	st = base_run(s, err);
	if (st) {
		pj_check_session_free(s);
		return st;
	}
	*out = s;
	return PJ_OK;
}

void pj_check_session_free(pj_check_session *s)
{
	if (!s)
		return;
	for (int l = 0; s->base_route && l < s->L; l++) {
		free(s->base_route[l]);
		free(s->plan_route[l]);
	}
	free(s->base_route);
	free(s->plan_route);
	free(s->plan_route_base);
	free(s->base_x);
	free(s->plan_x);
	free(s->plan_x_base);
	free(s->base_key);
	free(s->plan_key);
	free(s->counts);
	free(s->layers);
	store_free_all(s);
	pj_fwd_head_free(s->plan_head);
	pj_fwd_free(s->f);
	free(s->tok);
	free(s);
}

/* ---- runs ------------------------------------------------------------------------- */

/* Compares hidden (final-normed, all tokens) through head with the base
 * logits of the scored positions. */
static void score(pj_check_session *s, const pj_fwd_head *head, const float *hidden, pj_eval_result *r)
{
	pj_eval_acc acc;
	pj_eval_acc_init(&acc, s->n_chunks * s->ns);
	float *lp = pj_xmalloc(sizeof(float) * s->ns * s->V);
	for (size_t c = 0; c < s->n_chunks; c++) {
		const size_t row = c * s->ctx + s->first;
		pj_fwd_logits(s->f, head, hidden + row * s->d, s->ns, lp);
		pj_eval_acc_rows(s->f, &acc, s->base_logits + c * s->ns * s->V, lp, s->tok + row + 1, s->ns);
	}
	pj_eval_acc_finish(&acc, r);
	pj_eval_acc_free(&acc);
	free(lp);
	r->n_chunks = s->n_chunks;
	r->n_ctx = s->ctx;
}

static const float *plan_entry(const pj_check_session *s, int k)
{
	return s->plan_x_base[k] ? s->base_x[k] : s->plan_x[k];
}

static const int32_t *plan_routes(const pj_check_session *s, int l)
{
	return s->plan_route_base[l] ? s->base_route[l] : s->plan_route[l];
}

/* Tokens whose expert sets differ (order within the top-k does not count). */
static uint64_t count_flips(const int32_t *a, const int32_t *b, size_t n_tok, int K)
{
	uint64_t n = 0;
	for (size_t t = 0; t < n_tok; t++) {
		const int32_t *x = a + t * (size_t)K, *y = b + t * (size_t)K;
		for (int i = 0; i < K; i++) {
			bool found = false;
			for (int j = 0; j < K && !found; j++)
				found = x[i] == y[j];
			if (!found) {
				n++;
				break;
			}
		}
	}
	return n;
}

/* Flips are counted over the scored positions only (the second half of
 * each chunk, as KLD and PPL are): the first half has less context and is
 * not what the other figures describe. */
static void routing_result(pj_check_session *s, pj_eval_result *r)
{
	uint64_t flips = 0, pairs = 0;
	const size_t K = (size_t)s->K;
	for (int l = 0; l < s->L; l++) {
		pj_check_layer *ly = &s->layers[l];
		ly->changed = s->plan_key[l + 1] != s->base_key[l + 1];
		if (!ly->moe)
			continue;
		const int32_t *base = s->base_route[l], *plan = plan_routes(s, l);
		ly->flips = 0;
		for (size_t c = 0; c < s->n_chunks; c++) {
			const size_t row = c * s->ctx + s->first;
			ly->flips += count_flips(base + row * K, plan + row * K, s->ns, s->K);
		}
		const size_t scored = s->n_chunks * s->ns;
		ly->flip_rate = scored ? (double)ly->flips / (double)scored : 0;
		flips += ly->flips;
		pairs += scored;
	}
	r->moe = pairs > 0;
	r->flip_rate = pairs ? (double)flips / (double)pairs : 0;
}

pj_status pj_check_session_run(pj_check_session *s, const pj_fwd_weights *plan, pj_eval_result *r,
                               pj_error *err)
{
	memset(r, 0, sizeof *r);
	const pj_fwd_weights *w = plan ? plan : &SOURCE;
	const int L = s->L;
	uint64_t *keys = pj_xmalloc(sizeof *keys * (size_t)(L + 2));
	stage_keys(s, w, keys);
	int a = 0, b = -1;
	while (a <= L + 1 && keys[a] == s->base_key[a])
		a++;
	if (s->have_plan)
		for (b = 0; b <= L + 1 && keys[b] == s->plan_key[b];)
			b++;
	const bool from_base = b < a;
	int j = from_base ? a : b;
	s->c.last_from_base = from_base;
	if (!from_base && j > L + 1) {
		/* the same plan again */
		free(keys);
		*r = s->last;
		s->c.last_start = L + 1;
		return PJ_OK;
	}
	if (j > L + 1)
		j = L + 1;   /* the base itself: only the head runs */
	s->c.last_start = j - 1;
	if (from_base) {
		for (int k = 0; k < j && k <= L; k++)
			s->plan_x_base[k] = true;
		for (int l = 0; l < j - 1 && l < L; l++)
			s->plan_route_base[l] = true;
	}
	/* the plan's cache is about to hold a mix: forget its keys until done */
	s->have_plan = false;

	float *x = pj_xmalloc(sizeof(float) * s->n_tok * s->d);
	pj_status st = PJ_OK;
	if (j == 0)
		st = pj_fwd_embed(s->f, w, s->tok, s->n_tok, x, err);
	else
		memcpy(x, plan_entry(s, j - 1), sizeof(float) * s->n_tok * s->d);
	for (int k = j; !st && k <= L; k++) {
		if (k > 0) {
			if (cancelled(s)) {
				st = pj_fail(err, PJ_ECANCELED, "cancelled");
				break;
			}
			st = pj_fwd_layer(s->f, w, k - 1, x, s->n_chunks, s->ctx, s->plan_route[k - 1], err);
			s->plan_route_base[k - 1] = false;
			s->c.plan_layers++;
			step(s);
		}
		if (!st && !s->plan_x[k] && !(s->plan_x[k] = store_alloc(s, sizeof(float) * s->n_tok * s->d, err)))
			st = err->code;
		if (!st) {
			memcpy(s->plan_x[k], x, sizeof(float) * s->n_tok * s->d);
			s->plan_x_base[k] = false;
		}
	}
	if (!st)
		st = pj_fwd_final_norm(s->f, w, x, s->n_tok, x, err);
	const uint64_t hk = head_key(s, w);
	if (!st && (!s->plan_head || s->plan_head_key != hk || !w->key)) {
		pj_fwd_head_free(s->plan_head);
		s->plan_head = NULL;
		st = pj_fwd_head_load(s->f, w, &s->plan_head, err);
		s->plan_head_key = hk;
	}
	if (!st) {
		score(s, s->plan_head, x, r);
		memcpy(s->plan_key, keys, sizeof *keys * (size_t)(L + 2));
		s->have_plan = true;
		routing_result(s, r);
		s->last = *r;
	}
	step(s);
	free(x);
	free(keys);
	return st;
}

/* ---- routing ------------------------------------------------------------------------ */

int pj_check_session_n_layers(const pj_check_session *s) { return s->L; }
int pj_check_session_n_experts(const pj_check_session *s) { return s->E; }
int pj_check_session_top_k(const pj_check_session *s) { return s->K; }
size_t pj_check_session_tokens(const pj_check_session *s) { return s->n_tok; }

const pj_check_layer *pj_check_session_layer(const pj_check_session *s, int layer)
{
	return layer >= 0 && layer < s->L ? &s->layers[layer] : NULL;
}

double pj_check_session_expert_freq(const pj_check_session *s, int layer, int expert)
{
	if (layer < 0 || layer >= s->L || !s->layers[layer].moe || expert < 0 || expert >= s->E)
		return -1;
	return (double)s->layers[layer].counts[expert] / (double)s->n_tok;
}

int pj_check_session_tensor_freq(const pj_check_session *s, const pj_tensor *t, double *freq, int max)
{
	if (t->layer < 0 || t->layer >= s->L || !s->layers[t->layer].moe)
		return 0;
	if (t->n_experts > 0) {
		for (int e = 0; e < s->E && e < max; e++)
			freq[e] = pj_check_session_expert_freq(s, t->layer, e);
		return s->E;
	}
	if (t->expert < 0 || t->expert >= s->E)
		return 0;
	if (max > 0)
		freq[0] = pj_check_session_expert_freq(s, t->layer, t->expert);
	return 1;
}

/* ---- attribution ---------------------------------------------------------------------- */

static pj_status layer_only(pj_check_session *s, const pj_fwd_weights *plan, int layer, const pj_fwd_head *head,
                            pj_eval_result *r, pj_error *err)
{
	memset(r, 0, sizeof *r);
	if (layer < 0 || layer >= s->L)
		return pj_fail(err, PJ_EUSAGE, "no text block %d", layer);
	float *x = pj_xmalloc(sizeof(float) * s->n_tok * s->d);
	memcpy(x, s->base_x[layer], sizeof(float) * s->n_tok * s->d);
	pj_status st = PJ_OK;
	for (int l = layer; !st && l < s->L; l++) {
		if (cancelled(s)) {
			st = pj_fail(err, PJ_ECANCELED, "cancelled");
			break;
		}
		st = pj_fwd_layer(s->f, l == layer ? plan : &SOURCE, l, x, s->n_chunks, s->ctx, NULL, err);
		s->c.attr_layers++;
	}
	if (!st)
		st = pj_fwd_final_norm(s->f, &SOURCE, x, s->n_tok, x, err);
	if (!st)
		score(s, head, x, r);
	free(x);
	return st;
}

pj_status pj_check_session_layer_only(pj_check_session *s, const pj_fwd_weights *plan, int layer,
                                      pj_eval_result *r, pj_error *err)
{
	pj_fwd_head *h = NULL;
	pj_status st = pj_fwd_head_load(s->f, &SOURCE, &h, err);
	if (!st)
		st = layer_only(s, plan ? plan : &SOURCE, layer, h, r, err);
	pj_fwd_head_free(h);
	return st;
}

pj_status pj_check_session_layer_points(pj_check_session *s, const pj_fwd_weights *plan, pj_layer_kld **out,
                                        size_t *n, pj_error *err)
{
	*out = NULL;
	*n = 0;
	const pj_fwd_weights *w = plan ? plan : &SOURCE;
	uint64_t *keys = pj_xmalloc(sizeof *keys * (size_t)(s->L + 2));
	stage_keys(s, w, keys);
	pj_fwd_head *h = NULL;
	pj_status st = pj_fwd_head_load(s->f, &SOURCE, &h, err);
	pj_layer_kld *pts = pj_xcalloc((size_t)s->L, sizeof *pts);
	for (int l = 0; !st && l < s->L; l++) {
		if (keys[l + 1] == s->base_key[l + 1])
			continue;
		pj_eval_result r;
		st = layer_only(s, w, l, h, &r, err);
		if (!st)
			pts[(*n)++] = (pj_layer_kld){ l, r.kld_mean };
	}
	pj_fwd_head_free(h);
	free(keys);
	if (st) {
		free(pts);
		*n = 0;
		return st;
	}
	*out = pts;
	return PJ_OK;
}

void pj_check_session_counters(const pj_check_session *s, pj_check_counters *c)
{
	*c = s->c;
}
