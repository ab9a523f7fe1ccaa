/* export.c - batch mode in a child process, watched through a pipe. */
#include "config.h"
#include "export.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

extern char **environ;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void finish_files(pj_export *e)
{
	if (e->plan_file) {
		unlink(e->plan_file);
		free(e->plan_file);
		e->plan_file = NULL;
	}
}

bool pj_export_start(pj_export *e, const char *model, const char *plan_file, const char *imatrix, const char *out,
                     int threads, char *err, size_t err_len)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		snprintf(err, err_len, "cannot find this program (/proc/self/exe): %s", strerror(errno));
		return false;
	}
	self[n] = '\0';
	memset(e, 0, sizeof *e);
	e->fd = -1;
	int p[2];
	if (pipe(p) != 0) {
		snprintf(err, err_len, "pipe: %s", strerror(errno));
		return false;
	}
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);

	char jbuf[16];
	snprintf(jbuf, sizeof jbuf, "%d", threads > 0 ? threads : 1);
	char *argv[] = { self, "--batch", "--plan", (char *)plan_file, "--threads", jbuf, "-o", (char *)out,
	                 (char *)model, NULL, NULL, NULL };
	if (imatrix) {
		/* before MODEL: the options end there */
		argv[10] = argv[8];
		argv[8] = "--imatrix";
		argv[9] = (char *)imatrix;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addclose(&fa, p[1]);
	/* The child must not inherit a blocked SIGTERM (its cleanup handler)
	 * nor the UI's handlers: default dispositions, empty mask. */
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int rc = posix_spawn(&pid, self, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		snprintf(err, err_len, "cannot start the export: %s", strerror(rc));
		return false;
	}
	e->pid = pid;
	e->fd = p[0];
	e->out = pj_xstrdup(out);
	e->plan_file = pj_xstrdup(plan_file);
	e->t0 = mono();
	return true;
}

/* "pajamas-tui:  30% 12/39 tensors, blk.3.attn_q.weight" */
static void take_line(pj_export *e, const char *s)
{
	const char *p = s;
	if (strncmp(p, "pajamas-tui:", 12) == 0)
		p += 12;
	int pct;
	size_t i, n;
	if (sscanf(p, " %d%% %zu/%zu", &pct, &i, &n) == 3) {
		e->pct = pct;
		e->i = i;
		e->n = n;
	}
	snprintf(e->last, sizeof e->last, "%.255s", p[0] == ' ' ? p + 1 : p);
}

bool pj_export_poll(pj_export *e)
{
	if (e->pid <= 0 || e->finished)
		return false;
	for (;;) {
		char buf[1024];
		ssize_t n = e->fd >= 0 ? read(e->fd, buf, sizeof buf) : 0;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return false;
		if (n <= 0)
			break;             /* end of file: the child is gone */
		for (ssize_t k = 0; k < n; k++) {
			if (buf[k] == '\n' || buf[k] == '\r') {
				e->line[e->len] = '\0';
				if (e->len)
					take_line(e, e->line);
				e->len = 0;
			} else if (e->len + 1 < sizeof e->line) {
				e->line[e->len++] = buf[k];
			}
		}
	}
	if (e->fd >= 0) {
		close(e->fd);
		e->fd = -1;
	}
	int st = 0;
	while (waitpid(e->pid, &st, 0) < 0 && errno == EINTR)
		;
	e->status = st;
	e->finished = true;
	e->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && !e->cancelled;
	if (e->ok)
		e->pct = 100;
	e->t1 = mono();
	finish_files(e);
	return true;
}

void pj_export_cancel(pj_export *e)
{
	if (pj_export_running(e)) {
		e->cancelled = true;
		kill(e->pid, SIGTERM);
	}
}

void pj_export_stop(pj_export *e)
{
	if (pj_export_running(e)) {
		pj_export_cancel(e);
		if (e->fd >= 0) {
			close(e->fd);
			e->fd = -1;
		}
		int st;
		while (waitpid(e->pid, &st, 0) < 0 && errno == EINTR)
			;
		e->finished = true;
	}
	finish_files(e);
	free(e->out);
	e->out = NULL;
}
