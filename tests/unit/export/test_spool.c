/* Unit tests of the spool directory (at_spool.c). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "at_spool.h"

static char dir[256];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/at-spool-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' || strncmp(e->d_name, ".tmp-", 5) == 0)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				n++;
	closedir(d);
	return n;
}

static void touch(const char *name, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(content, f);
	fclose(f);
}

static int exists(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* A pid that no longer exists. */
static pid_t dead_pid(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	cr_assert_gt(p, 0);
	waitpid(p, NULL, 0);
	return p;
}

TestSuite(spool, .init = make_dir, .fini = remove_dir);

Test(spool, put_take_done_round_trip)
{
	struct at_spool s;
	struct at_spool_claim c;
	struct at_buf out = { 0 };

	at_spool_init(&s, dir, 1 << 20);
	cr_assert_eq(at_spool_put(&s, "first request", 13, 7), 0);
	cr_assert_eq(count_entries(), 1);
	cr_assert_eq(at_spool_take(&s, &out, &c), 1);
	cr_assert_eq(out.len, 13);
	cr_assert_eq(memcmp(out.data, "first request", 13), 0);
	cr_assert_eq(c.spans, 7);
	/* Claimed: nobody else (nor we) can take it again. */
	struct at_buf other = { 0 };
	struct at_spool_claim c2;
	cr_assert_eq(at_spool_take(&s, &other, &c2), 0);
	at_spool_done(&s, &c);
	cr_assert_eq(count_entries(), 0);
	cr_assert_eq(at_spool_take(&s, &out, &c), 0);
	at_buf_free(&out);
	at_buf_free(&other);
}

Test(spool, release_gives_the_file_back)
{
	struct at_spool s;
	struct at_spool_claim c;
	struct at_buf out = { 0 };

	at_spool_init(&s, dir, 1 << 20);
	cr_assert_eq(at_spool_put(&s, "abc", 3, 1), 0);
	cr_assert_eq(at_spool_take(&s, &out, &c), 1);
	at_spool_release(&s, &c);
	cr_assert(exists(c.orig));
	cr_assert_eq(at_spool_take(&s, &out, &c), 1);
	cr_assert_eq(out.len, 3);
	at_spool_done(&s, &c);
	at_buf_free(&out);
}

Test(spool, every_request_is_taken_once)
{
	struct at_spool s;
	struct at_spool_claim c;
	struct at_buf out = { 0 };
	uint64_t spans = 0;
	int taken = 0;

	at_spool_init(&s, dir, 1 << 20);
	for (int i = 1; i <= 20; i++)
		cr_assert_eq(at_spool_put(&s, "x", 1, (uint64_t)i), 0);
	while (at_spool_take(&s, &out, &c) == 1) {
		spans += c.spans;
		taken++;
		at_spool_done(&s, &c);
	}
	cr_assert_eq(taken, 20);
	cr_assert_eq(spans, 20 * 21 / 2);
	at_buf_free(&out);
}

Test(spool, size_bound_refuses_and_frees)
{
	struct at_spool s;
	struct at_spool_claim c;
	struct at_buf out = { 0 };
	char blob[60] = { 0 };

	at_spool_init(&s, dir, 100);
	cr_assert_eq(at_spool_put(&s, blob, sizeof(blob), 1), 0);
	errno = 0;
	cr_assert_eq(at_spool_put(&s, blob, sizeof(blob), 1), -1);
	cr_assert_eq(errno, ENOSPC);
	cr_assert_eq(count_entries(), 1);
	/* A second process sees the same bound (it scans the directory). */
	struct at_spool s2;
	at_spool_init(&s2, dir, 100);
	cr_assert_eq(at_spool_put(&s2, blob, sizeof(blob), 1), -1);
	cr_assert_eq(at_spool_take(&s, &out, &c), 1);
	at_spool_done(&s, &c);
	cr_assert_eq(at_spool_put(&s, blob, sizeof(blob), 1), 0);
	at_buf_free(&out);
}

Test(spool, a_dead_claimer_s_file_is_recovered)
{
	struct at_spool s;
	struct at_spool_claim c;
	struct at_buf out = { 0 };
	char name[128], tmp[64];
	pid_t dead = dead_pid();

	snprintf(name, sizeof(name), "1000-%d-0-4.otlp.claim-%d", (int)dead,
		 (int)dead);
	touch(name, "payload");
	snprintf(tmp, sizeof(tmp), ".tmp-%d-3", (int)dead);
	touch(tmp, "half");
	at_spool_init(&s, dir, 1 << 20);
	cr_assert_eq(at_spool_take(&s, &out, &c), 1);
	cr_assert_eq(c.spans, 4);
	cr_assert_eq(out.len, 7);
	cr_assert_not(exists(tmp), "a dead writer's temporary file is removed");
	at_spool_done(&s, &c);
	at_buf_free(&out);
}

Test(spool, a_live_claim_and_foreign_files_are_left_alone)
{
	struct at_spool s;
	struct at_spool_claim c;
	struct at_buf out = { 0 };
	char live[128], livetmp[64];

	snprintf(live, sizeof(live), "1000-1-0-4.otlp.claim-%d", (int)getppid());
	touch(live, "payload");
	snprintf(livetmp, sizeof(livetmp), ".tmp-%d-0", (int)getppid());
	touch(livetmp, "partial");
	touch("notes.txt", "mine");
	touch("12.otlp", "not the spool's pattern");
	touch("1-2-3-x.otlp", "nor this");
	at_spool_init(&s, dir, 1 << 20);
	cr_assert_eq(at_spool_take(&s, &out, &c), 0);
	cr_assert(exists(live));
	cr_assert(exists(livetmp));
	cr_assert(exists("notes.txt"));
	cr_assert(exists("12.otlp"));
	cr_assert(exists("1-2-3-x.otlp"));
	at_buf_free(&out);
}

Test(spool, missing_directory_is_created_private)
{
	struct at_spool s;
	char sub[300], why[160];
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/new", dir);
	at_spool_init(&s, sub, 1 << 20);
	cr_assert_eq(at_spool_ready(&s, why, sizeof(why)), 0);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(at_spool_put(&s, "x", 1, 1), 0);
}

Test(spool, unsafe_directories_are_refused)
{
	struct at_spool s;
	char sub[300], link[300], why[160] = "";

	/* Group-writable. */
	snprintf(sub, sizeof(sub), "%s/shared", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(chmod(sub, 0770), 0);
	at_spool_init(&s, sub, 1 << 20);
	cr_assert_eq(at_spool_ready(&s, why, sizeof(why)), -1);
	cr_assert_neq(why[0], '\0');
	cr_assert_eq(at_spool_put(&s, "x", 1, 1), -1);
	/* A symbolic link. */
	cr_assert_eq(chmod(sub, 0700), 0);
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(sub, link), 0);
	at_spool_init(&s, link, 1 << 20);
	cr_assert_eq(at_spool_ready(&s, why, sizeof(why)), -1);
	/* A relative path. */
	at_spool_init(&s, "spool", 1 << 20);
	cr_assert_eq(at_spool_ready(&s, why, sizeof(why)), -1);
	/* A regular file. */
	touch("file", "x");
	snprintf(sub, sizeof(sub), "%s/file", dir);
	at_spool_init(&s, sub, 1 << 20);
	cr_assert_eq(at_spool_ready(&s, why, sizeof(why)), -1);
}
