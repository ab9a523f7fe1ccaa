/* mailbox.h - how worker threads hand results to the UI thread.
 *
 * Workers post a message under a mutex and write one byte to a pipe; the UI
 * thread poll()s the pipe's read end next to stdin, drains the pipe, and
 * takes all pending messages at once.  Workers never touch curses.
 * No curses here. */
#ifndef PJ_UI_MAILBOX_H
#define PJ_UI_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant/stats.h"

typedef enum pj_msg_kind { PJ_MSG_STATS, PJ_MSG_STATS_DONE } pj_msg_kind;

typedef struct pj_msg {
	pj_msg_kind kind;
	unsigned gen;          /* job generation: stale messages are dropped */
	size_t tensor;
	int expert;            /* -1: the whole tensor */
	pj_tstats stats;
} pj_msg;

typedef struct pj_mailbox {
	pthread_mutex_t lock;
	pj_msg *q;
	size_t n, cap;
	int fd[2];             /* [0] read end (UI polls it), [1] write end */
} pj_mailbox;

bool pj_mailbox_init(pj_mailbox *mb);
void pj_mailbox_free(pj_mailbox *mb);
/* Any thread.  Never blocks on the pipe: a full pipe already means "wake". */
void pj_mailbox_post(pj_mailbox *mb, const pj_msg *m);
/* UI thread: empties the pipe, then swaps the queue into *buf (growing it
 * as needed) and returns the number of messages. */
size_t pj_mailbox_take(pj_mailbox *mb, pj_msg **buf, size_t *cap);

#endif
