/* pool.h - a small bounded job pool.
 *
 * A fixed set of worker threads takes (fn, arg) jobs from a ring buffer.
 * One mutex guards the ring; one condition variable wakes workers when a job
 * arrives, the other wakes submitters (and join) when a slot frees up or the
 * pool goes idle.  Submission blocks while the ring is full, which bounds the
 * memory a producer can pin; pj_pool_try_submit() is the non-blocking form.
 *
 * Jobs are never dropped: after pj_pool_cancel() queued jobs still run, but
 * see pj_pool_cancelled() and are expected to return early, so each job can
 * release what it owns on one code path.
 *
 * The pool knows nothing about what jobs compute.  Progress is reported by
 * the jobs themselves through counters the caller polls (pj_progress below):
 * no job ever calls back into UI code.
 *
 * Threads are created with the caller's signal mask: a UI that wants
 * SIGWINCH delivered to itself blocks it before pj_pool_new(). */
#ifndef PJ_POOL_H
#define PJ_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pj_pool pj_pool;
typedef void (*pj_pool_fn)(void *arg);

/* threads >= 1; queue_size 0 means 2 * threads.  NULL if no thread could be
 * started (errno tells why). */
pj_pool *pj_pool_new(unsigned threads, size_t queue_size);
/* Runs every queued job, then stops and frees the pool.  NULL is a no-op. */
void pj_pool_free(pj_pool *p);

void pj_pool_submit(pj_pool *p, pj_pool_fn fn, void *arg);
bool pj_pool_try_submit(pj_pool *p, pj_pool_fn fn, void *arg);

/* Waits until the ring is empty and no worker is busy, then lowers the
 * cancel flag.  Call from the thread that owns the pool, not from a job. */
void pj_pool_join(pj_pool *p);

/* Raises the pool-wide cancel flag ("stop everything", e.g. on quit). */
void pj_pool_cancel(pj_pool *p);
bool pj_pool_cancelled(const pj_pool *p);

unsigned pj_pool_threads(const pj_pool *p);
/* Jobs queued or running right now (a snapshot). */
size_t pj_pool_busy(pj_pool *p);

/* Progress of one batch of work, shared by its jobs and polled by whoever
 * displays it.  Units are the batch's choice (bytes, tensors); relaxed
 * atomics are enough, readers only want a recent snapshot. */
typedef struct pj_progress {
	atomic_uint_least64_t items_total, items_done;
	atomic_uint_least64_t units_total, units_done;
	atomic_bool cancel;       /* this batch only; see also pj_pool_cancel() */
	atomic_bool finished;     /* set once by the batch's last job */
} pj_progress;

void pj_progress_init(pj_progress *pr, uint64_t items, uint64_t units);
static inline void pj_progress_add(pj_progress *pr, uint64_t items, uint64_t units)
{
	if (items)
		atomic_fetch_add_explicit(&pr->items_done, items, memory_order_relaxed);
	if (units)
		atomic_fetch_add_explicit(&pr->units_done, units, memory_order_relaxed);
}

/* A consistent-enough copy for display. */
typedef struct pj_progress_snap {
	uint64_t items_total, items_done, units_total, units_done;
	bool cancelled, finished;
} pj_progress_snap;

void pj_progress_snapshot(const pj_progress *pr, pj_progress_snap *out);

#endif
