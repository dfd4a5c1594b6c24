/*
 * at_spool.c - the spool directory (see at_spool.h for the file protocol).
 *
 * DESIGN
 *
 * Why.  A short-lived program (curl, psql, a script's children) that exits
 * while the collector is down can only wait AUTOTRACE_EXIT_TIMEOUT; its
 * spans used to be lost.  With a spool directory, a batch that runs out of
 * attempts is written here instead of being dropped, and the exporter of
 * any traced process using the same directory sends the files once its
 * collector answers again - including the long-running service whose
 * children those were.
 *
 * Ownership without locks.  rename(2) within one directory is atomic: the
 * writer renames a finished temporary file to its final name, and a sender
 * claims a final file by renaming it to a name carrying its pid.  Two
 * senders racing for one file: one rename succeeds, the other gets ENOENT
 * and moves on.  A sender that dies holding a claim leaves
 * "<name>.claim-<pid>"; any later scan sees the pid gone and renames the
 * file back.  Delivery is therefore at least once: a process killed after
 * the collector accepted a file but before the unlink sends it twice.
 *
 * Safety.  Only names of the exact spool pattern are ever touched, the
 * directory is opened O_NOFOLLOW and must belong to the effective user with
 * no group/other write permission, files are O_EXCL|O_NOFOLLOW 0600.  The
 * directory descriptor is opened per operation and closed again, so a host
 * that closes every descriptor cannot break the spool.  The sum of the
 * spooled sizes is bounded (AUTOTRACE_SPOOL_MAX_MB); it is computed by one
 * scan and then kept up to date by this process's own writes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "at_ascii.h"
#include "at_real.h"
#include "at_spool.h"

#define SUFFIX ".otlp"
#define CLAIM ".claim-"
#define TMP_PREFIX ".tmp-"

void at_spool_init(struct at_spool *s, const char *dir, uint64_t max_bytes)
{
	memset(s, 0, sizeof(*s));
	s->dir = dir;
	s->max_bytes = max_bytes;
	s->used = UINT64_MAX;
	s->state = (dir && dir[0] == '/') ? 0 : -1;
}

void at_spool_after_fork(struct at_spool *s)
{
	s->seq = 0;
	s->used = UINT64_MAX;
}

static int open_dir(const struct at_spool *s)
{
	return open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int at_spool_ready(struct at_spool *s, char *why, size_t why_len)
{
	struct stat st;
	int fd;

	if (s->state != 0)
		return s->state > 0 ? 0 : -1;
	s->state = -1;
	if (mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, why_len, "cannot create it: %s", strerror(errno));
		return -1;
	}
	fd = open_dir(s);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open it as a directory: %s",
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		AT_REAL(close)(fd);
		snprintf(why, why_len,
			 "not a directory owned by this user and closed to "
			 "others' writes");
		return -1;
	}
	AT_REAL(close)(fd);
	s->state = 1;
	return 0;
}

/* Parse digits up to `end` (exclusive).  Returns the next char or NULL. */
static const char *digits(const char *p, uint64_t *v)
{
	const char *start = p;

	*v = 0;
	while (at_is_digit(*p) && p - start < 20)
		*v = *v * 10 + (uint64_t)(*p++ - '0');
	return p == start ? NULL : p;
}

/*
 * "<ns>-<pid>-<seq>-<spans>.otlp", optionally followed by ".claim-<pid>".
 * Returns 1 (final name), 2 (claimed; *claimer set), 0 (not ours).
 */
static int parse_name(const char *name, uint64_t *spans, uint64_t *claimer)
{
	const char *p = name;
	uint64_t v;

	for (int i = 0; i < 4; i++) {
		p = digits(p, &v);
		if (!p || *p != (i < 3 ? '-' : '.'))
			return 0;
		if (i < 3)
			p++;
	}
	*spans = v;
	if (strncmp(p, SUFFIX, strlen(SUFFIX)) != 0)
		return 0;
	p += strlen(SUFFIX);
	if (*p == '\0')
		return 1;
	if (strncmp(p, CLAIM, strlen(CLAIM)) != 0)
		return 0;
	p = digits(p + strlen(CLAIM), claimer);
	return p && *p == '\0' ? 2 : 0;
}

/* ".tmp-<pid>-<seq>": returns 1 with *pid set, else 0. */
static int parse_tmp(const char *name, uint64_t *pid)
{
	uint64_t seq;
	const char *p;

	if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
		return 0;
	p = digits(name + strlen(TMP_PREFIX), pid);
	if (!p || *p != '-')
		return 0;
	p = digits(p + 1, &seq);
	return p && *p == '\0';
}

static int pid_alive(uint64_t pid)
{
	if (pid == 0 || pid > INT32_MAX)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Sum of the spooled requests (final and claimed). */
static uint64_t scan_used(int dfd)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	uint64_t sum = 0, spans, claimer;
	struct stat st;

	if (!d) {
		if (fd >= 0)
			AT_REAL(close)(fd);
		return 0;
	}
	while ((e = readdir(d)) != NULL)
		if (parse_name(e->d_name, &spans, &claimer) &&
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			sum += (uint64_t)st.st_size;
	closedir(d);
	return sum;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = AT_REAL(write)(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int at_spool_put(struct at_spool *s, const void *body, size_t len,
		 uint64_t spans)
{
	char why[160], tmp[AT_SPOOL_NAME_MAX], final[AT_SPOOL_NAME_MAX];
	struct timespec ts;
	unsigned seq;
	int dfd, fd, rc = -1;

	if (at_spool_ready(s, why, sizeof(why)) != 0)
		return -1;
	dfd = open_dir(s);
	if (dfd < 0)
		return -1;
	if (s->used == UINT64_MAX)
		s->used = scan_used(dfd);
	if (s->used + len > s->max_bytes) {
		AT_REAL(close)(dfd);
		errno = ENOSPC;
		return -1;
	}
	seq = s->seq++;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%d-%u", (int)getpid(), seq);
	snprintf(final, sizeof(final), "%lld%09ld-%d-%u-%llu" SUFFIX,
		 (long long)ts.tv_sec, ts.tv_nsec, (int)getpid(), seq,
		 (unsigned long long)spans);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				      O_CLOEXEC, 0600);
	if (fd >= 0) {
		int ok = write_all(fd, body, len) == 0;

		if (AT_REAL(close)(fd) != 0)
			ok = 0;
		if (ok && renameat(dfd, tmp, dfd, final) == 0) {
			s->used += len;
			rc = 0;
		} else {
			unlinkat(dfd, tmp, 0);
		}
	}
	AT_REAL(close)(dfd);
	return rc;
}

static int read_file(int dfd, const char *name, uint64_t cap,
		     struct at_buf *out)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int rc = -1;

	at_buf_reset(out);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size <= cap &&
	    at_buf_reserve(out, (size_t)st.st_size) == 0) {
		size_t want = (size_t)st.st_size;

		rc = 0;
		while (out->len < want) {
			ssize_t r = AT_REAL(read)(fd, out->data + out->len,
					 want - out->len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = -1;
				break;
			}
			out->len += (size_t)r;
		}
	}
	AT_REAL(close)(fd);
	return rc;
}

/* Put back what a dead process claimed (returns 1); delete its
 * temporary files. */
static int recover(int dfd, const char *name)
{
	uint64_t spans, pid;
	char orig[AT_SPOOL_NAME_MAX];

	if (parse_name(name, &spans, &pid) == 2 && !pid_alive(pid)) {
		size_t n = (size_t)(strstr(name, CLAIM) - name);

		if (n < sizeof(orig)) {
			memcpy(orig, name, n);
			orig[n] = '\0';
			return renameat(dfd, name, dfd, orig) == 0;
		}
	} else if (parse_tmp(name, &pid) && !pid_alive(pid)) {
		unlinkat(dfd, name, 0);
	}
	return 0;
}

/* One pass over the directory: claim the first final file that can be
 * read.  *recovered counts stale entries put back on the way. */
static int take_pass(struct at_spool *s, int dfd, DIR *d, struct at_buf *out,
		     struct at_spool_claim *c, int *recovered)
{
	struct dirent *e;
	uint64_t claimer;

	while ((e = readdir(d)) != NULL) {
		if (parse_name(e->d_name, &c->spans, &claimer) != 1) {
			*recovered += recover(dfd, e->d_name);
			continue;
		}
		if (strlen(e->d_name) >= sizeof(c->orig))
			continue;
		strcpy(c->orig, e->d_name);
		snprintf(c->name, sizeof(c->name), "%s" CLAIM "%d", c->orig,
			 (int)getpid());
		if (renameat(dfd, c->orig, dfd, c->name) != 0)
			continue; /* someone else took it */
		if (read_file(dfd, c->name, s->max_bytes, out) == 0)
			return 1;
		/* Unreadable or oversized: not ours to retry. */
		unlinkat(dfd, c->name, 0);
		s->used = UINT64_MAX;
	}
	return 0;
}

int at_spool_take(struct at_spool *s, struct at_buf *out,
		  struct at_spool_claim *c)
{
	char why[160];
	int dfd, fd, found, recovered = 0;
	DIR *d;

	if (at_spool_ready(s, why, sizeof(why)) != 0)
		return -1;
	dfd = open_dir(s);
	if (dfd < 0)
		return -1;
	fd = dup(dfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			AT_REAL(close)(fd);
		AT_REAL(close)(dfd);
		return -1;
	}
	found = take_pass(s, dfd, d, out, c, &recovered);
	if (!found && recovered) {
		/* Entries renamed during a scan may not show in it. */
		rewinddir(d);
		found = take_pass(s, dfd, d, out, c, &recovered);
	}
	closedir(d);
	AT_REAL(close)(dfd);
	return found;
}

void at_spool_done(struct at_spool *s, const struct at_spool_claim *c)
{
	int dfd = open_dir(s);

	if (dfd < 0)
		return;
	unlinkat(dfd, c->name, 0);
	AT_REAL(close)(dfd);
	s->used = UINT64_MAX;
}

void at_spool_release(struct at_spool *s, const struct at_spool_claim *c)
{
	int dfd = open_dir(s);

	if (dfd < 0)
		return;
	renameat(dfd, c->name, dfd, c->orig);
	AT_REAL(close)(dfd);
}
