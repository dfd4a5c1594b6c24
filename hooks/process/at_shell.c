/*
 * at_shell.c - system(), popen() and pclose() under a span (see at_shell.h
 * for when they run instead of glibc's).
 *
 * What glibc 2.36 does, and so what this file does (verified against it
 * by tests/integration/test_proc.c, with and without the library):
 *
 * system(cmd): under a lock, the first of concurrent calls sets SIGINT and
 * SIGQUIT to SIG_IGN and saves their dispositions; SIGCHLD is blocked in
 * the calling thread; /bin/sh is started with posix_spawn as
 * `sh -c cmd`, with the caller's signal mask from before and SIGINT and
 * SIGQUIT back to default unless they were ignored before; waitpid is
 * retried on EINTR.  The result is the wait status, -1 (errno from
 * waitpid) if the wait failed, or 127 << 8 with errno = posix_spawn's
 * error if the shell did not start; then the last concurrent call
 * restores SIGINT and SIGQUIT and the mask is restored.  A caller
 * cancelled while waiting kills the shell with SIGKILL and reaps it.
 * system(NULL) runs `exit 0` and says whether that succeeded.
 *
 * popen(cmd, mode): mode is checked first (EINVAL).  A pipe is made with
 * O_CLOEXEC; the child's end is moved with F_DUPFD_CLOEXEC if it already
 * has the number the child needs (0 or 1), and posix_spawn's file actions
 * dup2 it there and close every stream earlier popen() calls left open.
 * After the start the child's end is closed, and the parent's end loses
 * close-on-exec unless the mode has 'e'.  Any failure after the pipe
 * closes both ends and fails with ENOMEM.
 *
 * pclose(fp): the stream is forgotten and closed (buffered output is
 * written first); if closing the descriptor failed the result is -1 and
 * the child is not waited for; otherwise waitpid (EINTR retried, not a
 * cancellation point) gives the status - or, if that is 0, the result of
 * writing the buffered output.
 *
 * The locks are taken by popen(), pclose() and system() only (and by
 * fclose() while popen streams are open), never on other paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "at_init.h"
#include "at_proc.h"
#include "at_real.h"
#include "at_shell.h"

#define SHELL_PATH "/bin/sh"
#define MAX_STREAMS 128

/* ---- starting and reaping the shell ---- */

/* posix_spawn of `sh -c cmd`: through at_proc_spawn when traced (the
 * span's context in the environment, a process span), else exactly as
 * glibc starts it. */
static int spawn_shell(pid_t *pid, const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, const char *cmd,
		       bool traced)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };

	if (traced)
		return at_proc_spawn(AT_REAL(posix_spawn), pid, SHELL_PATH, fa,
				     attr, argv, environ, cmd);
	return AT_REAL(posix_spawn)(pid, SHELL_PATH, fa, attr, argv, environ);
}

static pid_t wait_child(pid_t pid, int *st)
{
	pid_t r;

	do
		r = AT_REAL(waitpid)(pid, st, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

/* The wait for pid ended with r (pid, or -1): end its process span, with
 * its exit status when it was reaped here. */
static void child_done(pid_t pid, pid_t r, int st)
{
	int err = errno;

	at_guard_enter();
	if (r == pid)
		at_proc_reaped(pid, st);
	else
		at_proc_forget(pid);
	at_guard_leave();
	errno = err;
}

/* ---- system ---- */

static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
/* Calls in progress, ours and glibc's (under system_lock). */
static unsigned system_ours, system_glibc;
/* SIGINT and SIGQUIT as they were before the first of our calls in
 * progress (under system_lock; read-only while system_ours > 0). */
static struct sigaction saved_intr, saved_quit;

/*
 * Count this call in: returns true if ours runs it, and then *reset is the
 * set of signals the shell gets back to their default action.
 */
static bool system_enter(bool traced, sigset_t *reset)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	bool ours;

	sigemptyset(&ignore.sa_mask);
	pthread_mutex_lock(&system_lock);
	ours = system_ours > 0 || (traced && system_glibc == 0);
	if (!ours) {
		system_glibc++;
	} else {
		if (system_ours++ == 0) {
			sigaction(SIGINT, &ignore, &saved_intr);
			sigaction(SIGQUIT, &ignore, &saved_quit);
		}
		sigemptyset(reset);
		if (saved_intr.sa_handler != SIG_IGN)
			sigaddset(reset, SIGINT);
		if (saved_quit.sa_handler != SIG_IGN)
			sigaddset(reset, SIGQUIT);
	}
	pthread_mutex_unlock(&system_lock);
	return ours;
}

static void system_leave_ours(void)
{
	pthread_mutex_lock(&system_lock);
	if (--system_ours == 0) {
		sigaction(SIGINT, &saved_intr, NULL);
		sigaction(SIGQUIT, &saved_quit, NULL);
	}
	pthread_mutex_unlock(&system_lock);
}

/* Cleanup handler of a passed-through call (also on cancellation). */
static void system_leave_glibc(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&system_lock);
	system_glibc--;
	pthread_mutex_unlock(&system_lock);
}

/* Cleanup handler of a caller cancelled while waiting for its shell. */
static void system_cancelled(void *arg)
{
	pid_t pid = *(const pid_t *)arg, r;
	int st = 0, state;

	kill(pid, SIGKILL);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
	r = wait_child(pid, &st);
	pthread_setcancelstate(state, NULL);
	child_done(pid, r, st);
	system_leave_ours();
}

/* Our system(cmd), counted in by system_enter. */
static int system_run(const char *cmd, const sigset_t *reset, bool traced)
{
	posix_spawnattr_t attr;
	sigset_t chld, omask;
	pid_t pid = 0, r;
	int status = -1, rc;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &omask);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &omask);
	posix_spawnattr_setsigdefault(&attr, reset);
	posix_spawnattr_setflags(&attr,
				 POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	rc = spawn_shell(&pid, NULL, &attr, cmd, traced);
	posix_spawnattr_destroy(&attr);
	if (rc == 0) {
		pthread_cleanup_push(system_cancelled, &pid);
		r = wait_child(pid, &status);
		pthread_cleanup_pop(0);
		if (r != pid)
			status = -1;
		child_done(pid, r, status);
	} else {
		/* POSIX: as if the shell had exited with 127. */
		status = W_EXITCODE(127, 0);
	}
	system_leave_ours();
	sigprocmask(SIG_SETMASK, &omask, NULL);
	if (rc != 0)
		errno = rc;
	return status;
}

int at_shell_system(const char *cmd, bool traced)
{
	sigset_t reset;
	int status;

	if (!system_enter(traced && cmd, &reset)) {
		pthread_cleanup_push(system_leave_glibc, NULL);
		status = AT_REAL(system)(cmd);
		pthread_cleanup_pop(1); /* keeps errno: the lock calls do */
		return status;
	}
	if (!cmd)
		return system_run("exit 0", &reset, false) == 0;
	return system_run(cmd, &reset, traced);
}

/* ---- popen, pclose ---- */

struct stream {
	FILE *fp;    /* NULL: a free slot */
	int fd;      /* its descriptor, closed in later popen() children */
	pid_t pid;   /* ours: the child; 0: a stream glibc's popen made */
	bool writer; /* ours: a "w" stream */
	dev_t dev;   /* ours: the pipe, to tell it from whatever a freopen */
	ino_t ino;   /* or fcloseall left at the same FILE address */
};

static pthread_mutex_t popen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stream streams[MAX_STREAMS]; /* under popen_lock */
static unsigned own_streams;               /* ours open, under popen_lock */
_Atomic unsigned at_shell_streams;

int at_shell_popen_mode(const char *mode, bool *reading, bool *cloexec)
{
	bool r = false, w = false, e = false;

	for (; *mode; mode++) {
		if (*mode == 'r')
			r = true;
		else if (*mode == 'w')
			w = true;
		else if (*mode == 'e')
			e = true;
		else
			return -1;
	}
	if (r == w)
		return -1;
	*reading = r;
	*cloexec = e;
	return 0;
}

/* The following functions MUST be called with popen_lock held. */

static struct stream *find_stream(const FILE *fp)
{
	for (size_t i = 0; i < MAX_STREAMS; i++)
		if (streams[i].fp == fp)
			return &streams[i];
	return NULL;
}

static void forget(struct stream *slot)
{
	if (slot->pid)
		own_streams--;
	slot->fp = NULL;
	atomic_fetch_sub(&at_shell_streams, 1);
}

/* A new stream at fp: a record of an earlier one there is stale (it was
 * closed where we did not see it, fcloseall). */
static void remember(struct stream *slot, FILE *fp, int fd, pid_t pid,
		     bool writer)
{
	struct stream *old;
	struct stat st = { 0 };

	while ((old = find_stream(fp)))
		forget(old);
	if (pid)
		fstat(fd, &st);
	*slot = (struct stream){ .fp = fp, .fd = fd, .pid = pid,
				 .writer = writer, .dev = st.st_dev,
				 .ino = st.st_ino };
	if (pid)
		own_streams++;
	atomic_fetch_add(&at_shell_streams, 1);
}

/* Is slot (ours) still our pipe?  Not after freopen(), or after the
 * program closed its descriptor: then glibc would not wait either, or
 * (a descriptor reused since) the difference is documented. */
static bool still_ours(const struct stream *slot)
{
	int err = errno;
	struct stat st;
	bool same = fstat(slot->fd, &st) == 0 && st.st_dev == slot->dev &&
		    st.st_ino == slot->ino;

	errno = err;
	return same;
}

/* File actions closing every open popen stream except child_fd (which the
 * dup2 replaces): 0, or posix_spawn's error. */
static int close_streams(posix_spawn_file_actions_t *fa, int child_fd)
{
	int rc = 0;

	for (size_t i = 0; i < MAX_STREAMS && rc == 0; i++)
		if (streams[i].fp && streams[i].fd != child_fd)
			rc = posix_spawn_file_actions_addclose(fa,
							       streams[i].fd);
	return rc;
}

/* Our popen: the stream (remembered in slot), or NULL with errno. */
static FILE *popen_run(const char *cmd, bool reading, bool cloexec,
		       bool traced, struct stream *slot)
{
	int err = errno, fds[2], parent, child, child_fd = reading ? 1 : 0;
	posix_spawn_file_actions_t fa;
	FILE *fp = NULL;
	pid_t pid = 0;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return NULL;
	parent = reading ? fds[0] : fds[1];
	child = reading ? fds[1] : fds[0];
	posix_spawn_file_actions_init(&fa);
	if (child == child_fd) {
		/* dup2 onto itself would leave close-on-exec set: move it
		 * (clearing the flag in the parent would race with other
		 * threads' children). */
		int moved = fcntl(child, F_DUPFD_CLOEXEC, 0);
		if (moved < 0)
			goto fail;
		AT_REAL(close)(child);
		child = moved;
	}
	if (posix_spawn_file_actions_adddup2(&fa, child, child_fd) != 0 ||
	    close_streams(&fa, child_fd) != 0)
		goto fail;
	/* The FILE before the child: nothing can fail once it runs. */
	fp = fdopen(parent, reading ? "r" : "w");
	if (!fp || spawn_shell(&pid, &fa, NULL, cmd, traced) != 0)
		goto fail;
	posix_spawn_file_actions_destroy(&fa);
	AT_REAL(close)(child);
	if (!cloexec)
		fcntl(parent, F_SETFD, 0);
	remember(slot, fp, parent, pid, !reading);
	errno = err;
	return fp;
fail:
	posix_spawn_file_actions_destroy(&fa);
	AT_REAL(close)(child);
	if (fp)
		AT_REAL(fclose)(fp); /* closes parent */
	else
		AT_REAL(close)(parent);
	errno = ENOMEM;
	return NULL;
}

FILE *at_shell_popen(const char *cmd, const char *mode, bool traced)
{
	bool reading, cloexec;
	struct stream *slot;
	int cancel;
	FILE *fp;

	if (!mode || at_shell_popen_mode(mode, &reading, &cloexec) != 0)
		return AT_REAL(popen)(cmd, mode);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&popen_lock);
	slot = find_stream(NULL);
	if (slot && (traced || own_streams > 0)) {
		fp = popen_run(cmd, reading, cloexec, traced, slot);
	} else {
		/* Under the lock, so that no child of ours starts between
		 * glibc's stream and its record here. */
		fp = AT_REAL(popen)(cmd, mode);
		if (fp && slot)
			remember(slot, fp, fileno(fp), 0, false);
	}
	pthread_mutex_unlock(&popen_lock);
	pthread_setcancelstate(cancel, NULL);
	return fp;
}

/* Close a stream of ours (already forgotten) as glibc closes its own. */
static int close_own(const struct stream *s)
{
	int flushed = 0, st = 0, cancel;
	pid_t r;

	if (s->writer)
		flushed = fflush(s->fp);
	if (AT_REAL(fclose)(s->fp) != 0)
		return -1; /* the descriptor did not close: no wait */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	r = wait_child(s->pid, &st);
	pthread_setcancelstate(cancel, NULL);
	child_done(s->pid, r, st);
	if (r < 0)
		return -1;
	return st ? st : flushed;
}

int at_shell_close(FILE *f, bool use_pclose)
{
	struct stream s = { 0 };

	/* A vfork child must leave the parent's table alone. */
	if (f && !at_in_vfork_child()) {
		pthread_mutex_lock(&popen_lock);
		struct stream *slot = find_stream(f);
		if (slot) {
			if (slot->pid && still_ours(slot))
				s = *slot;
			forget(slot);
		}
		pthread_mutex_unlock(&popen_lock);
	}
	if (s.pid)
		return close_own(&s);
	return use_pclose ? AT_REAL(pclose)(f) : AT_REAL(fclose)(f);
}

void at_shell_after_fork_child(void)
{
	pthread_mutex_t unlocked = PTHREAD_MUTEX_INITIALIZER;

	system_lock = unlocked;
	popen_lock = unlocked;
	system_ours = system_glibc = 0;
}
