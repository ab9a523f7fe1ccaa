/* pool.c - bounded job pool: ring buffer, one mutex, two condvars. */
#include "config.h"
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "error.h"

typedef struct pool_job {
	pj_pool_fn fn;
	void *arg;
} pool_job;

struct pj_pool {
	pthread_mutex_t lock;
	pthread_cond_t job_ready;    /* ring gained a job, or shutdown */
	pthread_cond_t slot_free;    /* ring lost a job, or a worker went idle */

	pool_job *ring;
	size_t cap, head, len;       /* jobs live at ring[(head + i) % cap] */
	size_t running;
	bool shutdown;
	atomic_bool cancel;

	pthread_t *threads;
	unsigned n_threads;
};

static void *worker_main(void *opaque)
{
	pj_pool *p = opaque;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->len == 0 && !p->shutdown)
			pthread_cond_wait(&p->job_ready, &p->lock);
		if (p->len == 0)        /* shutdown with nothing left to run */
			break;
		pool_job job = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		p->running++;
		/* Submitters and join share this condvar: wake them all. */
		pthread_cond_broadcast(&p->slot_free);
		pthread_mutex_unlock(&p->lock);

		job.fn(job.arg);

		pthread_mutex_lock(&p->lock);
		p->running--;
		if (p->running == 0 && p->len == 0)
			pthread_cond_broadcast(&p->slot_free);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

pj_pool *pj_pool_new(unsigned threads, size_t queue_size)
{
	if (threads == 0)
		threads = 1;
	if (queue_size == 0)
		queue_size = 2 * (size_t)threads;

	pj_pool *p = pj_xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->job_ready, NULL);
	pthread_cond_init(&p->slot_free, NULL);
	atomic_init(&p->cancel, false);
	p->cap = queue_size;
	p->ring = pj_xcalloc(p->cap, sizeof *p->ring);
	p->threads = pj_xcalloc(threads, sizeof *p->threads);

	for (unsigned i = 0; i < threads; i++) {
		int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
		if (rc != 0) {
			/* Keep what started, unless nothing did. */
			if (i == 0) {
				pj_pool_free(p);
				errno = rc;
				return NULL;
			}
			break;
		}
		p->n_threads++;
	}
	return p;
}

void pj_pool_free(pj_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->shutdown = true;
	pthread_cond_broadcast(&p->job_ready);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);

	pthread_cond_destroy(&p->slot_free);
	pthread_cond_destroy(&p->job_ready);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->ring);
	free(p);
}

static void push_locked(pj_pool *p, pj_pool_fn fn, void *arg)
{
	p->ring[(p->head + p->len) % p->cap] = (pool_job){ fn, arg };
	p->len++;
	pthread_cond_signal(&p->job_ready);
}

void pj_pool_submit(pj_pool *p, pj_pool_fn fn, void *arg)
{
	pthread_mutex_lock(&p->lock);
	while (p->len == p->cap)
		pthread_cond_wait(&p->slot_free, &p->lock);
	push_locked(p, fn, arg);
	pthread_mutex_unlock(&p->lock);
}

bool pj_pool_try_submit(pj_pool *p, pj_pool_fn fn, void *arg)
{
	bool ok = false;
	pthread_mutex_lock(&p->lock);
	if (p->len < p->cap) {
		push_locked(p, fn, arg);
		ok = true;
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

void pj_pool_join(pj_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->len != 0 || p->running != 0)
		pthread_cond_wait(&p->slot_free, &p->lock);
	atomic_store(&p->cancel, false);
	pthread_mutex_unlock(&p->lock);
}

void pj_pool_cancel(pj_pool *p)
{
	atomic_store(&p->cancel, true);
}

bool pj_pool_cancelled(const pj_pool *p)
{
	return atomic_load_explicit(&p->cancel, memory_order_relaxed);
}

unsigned pj_pool_threads(const pj_pool *p)
{
	return p->n_threads;
}

size_t pj_pool_busy(pj_pool *p)
{
	pthread_mutex_lock(&p->lock);
	size_t n = p->len + p->running;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void pj_progress_init(pj_progress *pr, uint64_t items, uint64_t units)
{
	atomic_init(&pr->items_total, items);
	atomic_init(&pr->items_done, 0);
	atomic_init(&pr->units_total, units);
	atomic_init(&pr->units_done, 0);
	atomic_init(&pr->cancel, false);
	atomic_init(&pr->finished, false);
}

void pj_progress_snapshot(const pj_progress *pr, pj_progress_snap *out)
{
	/* finished first: once it reads true, the counters are final. */
	out->finished = atomic_load_explicit(&pr->finished, memory_order_acquire);
	out->cancelled = atomic_load_explicit(&pr->cancel, memory_order_relaxed);
	out->items_total = atomic_load_explicit(&pr->items_total, memory_order_relaxed);
	out->items_done = atomic_load_explicit(&pr->items_done, memory_order_relaxed);
	out->units_total = atomic_load_explicit(&pr->units_total, memory_order_relaxed);
	out->units_done = atomic_load_explicit(&pr->units_done, memory_order_relaxed);
}
