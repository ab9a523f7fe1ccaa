/* mailbox.c - mutex-protected message queue plus a wake-up pipe. */
#include "config.h"
#include "mailbox.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

bool pj_mailbox_init(pj_mailbox *mb)
{
	memset(mb, 0, sizeof *mb);
	if (pipe(mb->fd) != 0)
		return false;
	for (int i = 0; i < 2; i++) {
		fcntl(mb->fd[i], F_SETFL, fcntl(mb->fd[i], F_GETFL) | O_NONBLOCK);
		fcntl(mb->fd[i], F_SETFD, FD_CLOEXEC);
	}
	pthread_mutex_init(&mb->lock, NULL);
	return true;
}

void pj_mailbox_free(pj_mailbox *mb)
{
	close(mb->fd[0]);
	close(mb->fd[1]);
	pthread_mutex_destroy(&mb->lock);
	free(mb->q);
	memset(mb, 0, sizeof *mb);
}

void pj_mailbox_post(pj_mailbox *mb, const pj_msg *m)
{
	pthread_mutex_lock(&mb->lock);
	if (mb->n == mb->cap) {
		mb->cap = mb->cap ? 2 * mb->cap : 64;
		mb->q = pj_xrealloc(mb->q, mb->cap * sizeof *mb->q);
	}
	mb->q[mb->n++] = *m;
	bool first = mb->n == 1;
	pthread_mutex_unlock(&mb->lock);
	/* One byte per batch is enough: the UI takes everything at once. */
	if (first) {
		ssize_t r = write(mb->fd[1], "m", 1);
		(void)r;    /* EAGAIN: the pipe is full, the UI will wake anyway */
	}
}

size_t pj_mailbox_take(pj_mailbox *mb, pj_msg **buf, size_t *cap)
{
	char sink[256];
	while (read(mb->fd[0], sink, sizeof sink) > 0)
		;
	pthread_mutex_lock(&mb->lock);
	size_t n = mb->n;
	/* Swap buffers: the lock is held for two pointer moves, not a copy. */
	pj_msg *q = mb->q;
	size_t qcap = mb->cap;
	mb->q = *buf;
	mb->cap = *cap;
	mb->n = 0;
	*buf = q;
	*cap = qcap;
	pthread_mutex_unlock(&mb->lock);
	return n;
}
