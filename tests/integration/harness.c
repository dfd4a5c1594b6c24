/*
 * harness.c - see harness.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

const char *h_build_path(const char *rel)
{
	static __thread char buf[8][PATH_MAX + 256];
	static __thread int idx;
	const char *dir = getenv("AT_BUILD_DIR");
	char rp[PATH_MAX];
	char *b = buf[idx++ % 8];

	if (!dir || !*dir)
		dir = "build";
	if (!realpath(dir, rp))
		snprintf(rp, sizeof(rp), "%s", dir);
	snprintf(b, PATH_MAX + 256, "%s/%.200s", rp, rel);
	return b;
}

const char *h_lib(void)
{
	return h_build_path("libautotrace.so");
}

static bool filtered(const char *e)
{
	static const char *const prefixes[] = { "OTEL_", "AUTOTRACE_",
						"TRACEPARENT=", "TRACESTATE=",
						"LD_PRELOAD=" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void append(char **buf, size_t *len, size_t *cap, const char *p,
		   size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = 0;
}

/* The child's environment (see h_run); *pre must be freed after use. */
static char **child_env(const char *const env[], bool preload, char **pre)
{
	size_t n = 0, cap = 16;
	char **envp = malloc(cap * sizeof(char *));

	*pre = NULL;
	for (char **e = environ; *e; e++) {
		if (filtered(*e))
			continue;
		if (n + 4 >= cap)
			envp = realloc(envp, (cap *= 2) * sizeof(char *));
		envp[n++] = *e;
	}
	for (size_t i = 0; env && env[i]; i++) {
		if (n + 4 >= cap)
			envp = realloc(envp, (cap *= 2) * sizeof(char *));
		envp[n++] = (char *)env[i];
	}
	if (preload) {
		/* AT_SAN_PRELOAD: a sanitizer runtime that must come first
		 * (the ASan run of the suite, with an instrumented library). */
		const char *san = getenv("AT_SAN_PRELOAD");
		if (asprintf(pre, "LD_PRELOAD=%s%s%s", san ? san : "",
			     san ? " " : "", h_lib()) < 0)
			*pre = NULL;
		if (*pre)
			envp[n++] = *pre;
		if (san)
			envp[n++] = "ASAN_OPTIONS=detect_leaks=0";
	}
	envp[n] = NULL;
	return envp;
}

int h_run(const char *const argv[], const char *const env[], bool preload,
	  int timeout_ms, struct h_result *res)
{
	char *pre = NULL;
	char **envp;
	int out[2], err[2], rc;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	size_t ocap = 0, ecap = 0;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int st = 0, killed = 0;

	memset(res, 0, sizeof(*res));
	envp = child_env(env, preload, &pre);

	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			  envp);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	free(envp);
	free(pre);
	if (rc != 0) {
		close(out[0]);
		close(err[0]);
		errno = rc;
		return -1;
	}

	struct pollfd p[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds > 0) {
		uint64_t t = now_ms();
		int wait = t >= deadline ? 0 : (int)(deadline - t);
		if (wait == 0 && !killed) {
			kill(pid, SIGKILL);
			killed = 1;
			wait = 2000;
		}
		if (poll(p, 2, wait) == 0 && killed)
			break;
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t r;
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0)
				append(&res->out, &res->out_len, &ocap, buf,
				       (size_t)r);
			else
				append(&res->err, &res->err_len, &ecap, buf,
				       (size_t)r);
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	if (!killed) {
		/* Output closed: wait for the exit, bounded by the deadline. */
		int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
		struct pollfd pp = { pfd, POLLIN, 0 };
		uint64_t t = now_ms();
		if (pfd >= 0 &&
		    poll(&pp, 1, t >= deadline ? 0 : (int)(deadline - t)) == 0) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		if (pfd >= 0)
			close(pfd);
	}
	waitpid(pid, &st, 0);
	if (!res->out)
		append(&res->out, &res->out_len, &ocap, "", 0);
	if (!res->err)
		append(&res->err, &res->err_len, &ecap, "", 0);
	if (killed)
		res->status = -1;
	else if (WIFEXITED(st))
		res->status = WEXITSTATUS(st);
	else
		res->status = 128 + WTERMSIG(st);
	return 0;
}

void h_result_free(struct h_result *res)
{
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
}

struct at_receiver *h_receiver(char **save_dir)
{
	char tmpl[] = "/tmp/autotrace-rx-XXXXXX";
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1" };
	char *dir = mkdtemp(tmpl);

	if (dir) {
		o.save_dir = strdup(dir);
		if (save_dir)
			*save_dir = (char *)o.save_dir;
	}
	return at_receiver_start(&o);
}

char *h_endpoint_env(struct at_receiver *r)
{
	char *s = NULL;
	if (asprintf(&s, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u",
		     at_receiver_port(r)) < 0)
		return NULL;
	return s;
}

/* ---- tiny HTTP server ---- */

struct h_http {
	int lfd;
	int stop_pipe[2];
	uint16_t port;
	pthread_t th;
};

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	size_t len = 0;

	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - len - 1);
		char *end;
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = 0;
		while ((end = strstr(buf, "\r\n\r\n"))) {
			static const char rsp[] =
				"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
				"Content-Type: text/plain\r\n\r\nhello\n";
			size_t used = (size_t)(end + 4 - buf);
			if (write(fd, rsp, sizeof(rsp) - 1) < 0)
				goto out;
			memmove(buf, buf + used, len - used);
			len -= used;
			buf[len] = 0;
		}
		if (len >= sizeof(buf) - 1)
			break;
	}
out:
	close(fd);
	return NULL;
}

static void *http_main(void *arg)
{
	struct h_http *s = arg;
	struct pollfd p[2] = { { s->lfd, POLLIN, 0 },
			       { s->stop_pipe[0], POLLIN, 0 } };
	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN) {
			int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
			pthread_t th;
			if (fd < 0)
				continue;
			pthread_create(&th, NULL, conn_main,
				       (void *)(intptr_t)fd);
			pthread_detach(th);
		}
	}
	return NULL;
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 512) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

struct h_http *h_http_start(void)
{
	struct h_http *s = calloc(1, sizeof(*s));

	s->lfd = listen_loopback(&s->port);
	if (s->lfd < 0 || pipe2(s->stop_pipe, O_CLOEXEC)) {
		free(s);
		return NULL;
	}
	pthread_create(&s->th, NULL, http_main, s);
	return s;
}

uint16_t h_http_port(struct h_http *s)
{
	return s->port;
}

void h_http_stop(struct h_http *s)
{
	if (!s)
		return;
	if (write(s->stop_pipe[1], "x", 1) < 0)
		return;
	pthread_join(s->th, NULL);
	close(s->lfd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	free(s);
}

uint16_t h_closed_port(void)
{
	uint16_t port = 0;
	int fd = listen_loopback(&port);
	if (fd >= 0)
		close(fd);
	return port;
}

const char *h_hex(const uint8_t *p, size_t n)
{
	static __thread char buf[4][129];
	static __thread int idx;
	char *b = buf[idx++ % 4];
	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++)
		sprintf(b + 2 * i, "%02x", p[i]);
	b[2 * n] = 0;
	return b;
}

size_t h_spans(struct at_receiver *r, size_t min, int timeout_ms,
	       struct at_rx_span **out)
{
	size_t n;

	if (min)
		at_receiver_wait_spans(r, min, timeout_ms);
	n = at_receiver_spans(r, NULL, 0);
	*out = calloc(n + 1, sizeof(**out));
	return at_receiver_spans(r, *out, n);
}

const char *h_attr_str(const at_otlp_span *s, const char *key)
{
	return at_rx_attr_str(s->attributes, s->n_attributes, key);
}

int64_t h_attr_int(const at_otlp_span *s, const char *key, int64_t dflt)
{
	int64_t v;
	return at_rx_attr_int(s->attributes, s->n_attributes, key, &v) ? dflt
									 : v;
}

const char *h_res_str(const at_otlp_resource *r, const char *key)
{
	return r ? at_rx_attr_str(r->attributes, r->n_attributes, key) : NULL;
}

int64_t h_res_int(const at_otlp_resource *r, const char *key, int64_t dflt)
{
	int64_t v;
	if (!r || at_rx_attr_int(r->attributes, r->n_attributes, key, &v))
		return dflt;
	return v;
}

char *h_shell(const char *cmd, int *status)
{
	FILE *f = popen(cmd, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char tmp[4096];
	size_t r;
	int st;

	if (!f)
		return NULL;
	while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
		append(&buf, &len, &cap, tmp, r);
	st = pclose(f);
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (!buf)
		append(&buf, &len, &cap, "", 0);
	return buf;
}

int h_env_start(struct h_env *e)
{
	memset(e, 0, sizeof(*e));
	e->rx = h_receiver(&e->dir);
	e->http = h_http_start();
	if (!e->rx || !e->http)
		return -1;
	e->ep = h_endpoint_env(e->rx);
	snprintf(e->port, sizeof(e->port), "%u", h_http_port(e->http));
	return 0;
}

void h_env_stop(struct h_env *e)
{
	h_http_stop(e->http);
	if (e->rx)
		at_receiver_stop(e->rx);
	free(e->ep);
	free(e->dir);
	memset(e, 0, sizeof(*e));
}

pid_t h_start(const char *const argv[], const char *const env[], bool preload,
	      const char *log)
{
	char *pre = NULL;
	char **envp = child_env(env, preload, &pre);
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log ? log : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	free(pre);
	return rc == 0 ? pid : -1;
}

static int stop_or_wait(pid_t pid, int timeout_ms, int sig)
{
	int st = 0, pfd;
	struct pollfd p;

	if (pid <= 0)
		return -1;
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (sig)
		kill(pid, sig);
	p.fd = pfd;
	p.events = POLLIN;
	if (pfd < 0 || poll(&p, 1, timeout_ms) == 0)
		kill(pid, SIGKILL);
	if (pfd >= 0)
		close(pfd);
	waitpid(pid, &st, 0);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int h_stop(pid_t pid, int timeout_ms)
{
	return stop_or_wait(pid, timeout_ms, SIGTERM);
}

int h_wait_exit(pid_t pid, int timeout_ms)
{
	return stop_or_wait(pid, timeout_ms, 0);
}

/* Condition polling, bounded: sleep in small steps until done or late. */
static int poll_until(int (*cond)(const void *), const void *arg,
		      int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		if (cond(arg))
			return 0;
		if (now_ms() >= deadline)
			return -1;
		struct timespec ts = { 0, 5 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

static int file_ready(const void *arg)
{
	struct stat st;
	return stat(arg, &st) == 0 && st.st_size > 0;
}

int h_wait_file(const char *path, int timeout_ms)
{
	return poll_until(file_ready, path, timeout_ms);
}

struct needle_in_file {
	const char *path, *needle;
};

static int file_has(const void *arg)
{
	const struct needle_in_file *n = arg;
	char *s = h_read_file(n->path, NULL);
	int found = s && strstr(s, n->needle);

	free(s);
	return found;
}

int h_wait_file_has(const char *path, const char *needle, int timeout_ms)
{
	struct needle_in_file n = { path, needle };

	return poll_until(file_has, &n, timeout_ms);
}

uint16_t h_read_port(const char *path, int timeout_ms)
{
	char *s;
	long v;

	if (h_wait_file(path, timeout_ms) != 0 || !(s = h_read_file(path, NULL)))
		return 0;
	v = strtol(s, NULL, 10);
	free(s);
	return v > 0 && v < 65536 ? (uint16_t)v : 0;
}

static int port_open(const void *arg)
{
	uint16_t port = *(const uint16_t *)arg;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int h_wait_port(uint16_t port, int timeout_ms)
{
	return poll_until(port_open, &port, timeout_ms);
}

char *h_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, r;
	char tmp[8192];

	if (!f)
		return NULL;
	while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
		append(&buf, &n, &cap, tmp, r);
	fclose(f);
	if (!buf)
		append(&buf, &n, &cap, "", 0);
	if (len)
		*len = n;
	return buf;
}

void h_cut_lines(char *text, const char *prefix)
{
	char *p;

	while ((p = strstr(text, prefix))) {
		char *nl = strchr(p, '\n');
		char *rest = nl ? nl + 1 : p + strlen(p);

		memmove(p, rest, strlen(rest) + 1);
	}
}

const at_otlp_span *h_find_span(const struct at_rx_span *spans, size_t n,
				const char *name, int kind)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(spans[i].span->name, name) == 0 &&
		    (!kind || (int)spans[i].span->kind == kind))
			return spans[i].span;
	return NULL;
}

void h_span_traceparent(const at_otlp_span *s, char out[56])
{
	snprintf(out, 56, "00-%s-%s-%02x", h_hex(s->trace_id.data, 16),
		 h_hex(s->span_id.data, 8), s->flags & 0xff);
}

int h_rec_start(struct h_rec *r)
{
	return h_rec_start_with(r, NULL);
}

int h_rec_start_with(struct h_rec *r, const char *const opts[])
{
	const char *prog[] = { h_build_path("fixtures/record_server"), NULL };

	return h_rec_start_prog(r, prog, opts);
}

int h_rec_start_prog(struct h_rec *r, const char *const prog[],
		     const char *const opts[])
{
	char tmpl[] = "/tmp/autotrace-rec-XXXXXX";
	const char *argv[24];
	size_t k = 0;

	memset(r, 0, sizeof(*r));
	if (!mkdtemp(tmpl))
		return -1;
	r->dir = strdup(tmpl);
	if (asprintf(&r->port_file, "%s/port", tmpl) < 0 ||
	    asprintf(&r->out_file, "%s/bytes", tmpl) < 0)
		return -1;
	for (size_t i = 0; prog[i] && k < 8; i++)
		argv[k++] = prog[i];
	argv[k++] = r->port_file;
	argv[k++] = r->out_file;
	for (size_t i = 0; opts && opts[i] && k < 23; i++)
		argv[k++] = opts[i];
	argv[k] = NULL;
	r->pid = h_start(argv, NULL, false, NULL);
	if (r->pid <= 0)
		return -1;
	r->port = h_read_port(r->port_file, 10000);
	return r->port ? 0 : -1;
}

char *h_rec_stop(struct h_rec *r, size_t *len)
{
	char *bytes;

	h_stop(r->pid, 5000);
	bytes = h_read_file(r->out_file, len);
	unlink(r->out_file);
	unlink(r->port_file);
	rmdir(r->dir);
	free(r->dir);
	free(r->port_file);
	free(r->out_file);
	memset(r, 0, sizeof(*r));
	return bytes;
}

size_t h_strip_injected(char *buf, size_t len, char (*tps)[56], int max,
			int *n)
{
	static const char name[] = "traceparent: ";
	size_t out = 0, i = 0, nl = sizeof(name) - 1, ll = nl + 55 + 2;

	*n = 0;
	while (i < len) {
		char *eol = memchr(buf + i, '\n', len - i);
		size_t l = eol ? (size_t)(eol - (buf + i)) + 1 : len - i;

		/* "traceparent: <55>\r\n" followed by the blank line */
		if (l == ll && memcmp(buf + i, name, nl) == 0 &&
		    buf[i + l - 2] == '\r' && len - (i + l) >= 2 &&
		    buf[i + l] == '\r' && buf[i + l + 1] == '\n') {
			if (*n < max) {
				memcpy(tps[*n], buf + i + nl, 55);
				tps[*n][55] = 0;
			}
			(*n)++;
			i += l;
			continue;
		}
		memmove(buf + out, buf + i, l);
		out += l;
		i += l;
	}
	return out;
}

pid_t h_start_relay(const char *dir, uint16_t downstream,
		    const char *const env[], char port[8])
{
	char pf[256], down[32];
	pid_t pid;

	snprintf(pf, sizeof(pf), "%s/relay-port", dir);
	unlink(pf);
	snprintf(down, sizeof(down), "127.0.0.1:%u", downstream);
	const char *argv[] = { h_build_path("fixtures/http_service"), pf,
			       "--downstream", down, NULL };
	pid = h_start(argv, env, true, NULL);
	snprintf(port, 8, "%u", pid > 0 ? h_read_port(pf, 30000) : 0);
	return pid;
}
