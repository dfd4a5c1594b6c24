/*
 * autotrace - trace any command with no infrastructure: run it under
 * libautotrace with an embedded OTLP/HTTP receiver, then show its traces.
 *
 *   autotrace [options] -- command [args...]
 *   autotrace view FILE [--html OUT] [--min-duration MS]
 *   autotrace serve [--port N] [--json FILE] [--forward URL]
 *                   [--save-dir DIR]
 *
 * Run mode: the receiver listens on a free 127.0.0.1 port; the command
 * runs with LD_PRELOAD extended by the library (absolute path) and the
 * OTEL_* variables pointing at the receiver, so it and every process it
 * starts export there.  Its stdin, stdout and stderr are untouched.
 * autotrace ignores SIGINT/SIGQUIT while the command runs (the terminal
 * sends them to the command too, as a shell's `time` does), waits for it,
 * prints the traces (to stderr, or -o FILE), and exits with the command's
 * status, or 128 + the signal that killed it, or 127/126 when it could
 * not be started.  A process flushes its spans before it exits, so they
 * have all arrived by the time the command is reaped.
 *
 * Options: -o FILE, --html FILE, --json FILE (OTLP-JSON lines, as the
 * Collector's file exporter writes), --forward URL (also POST every
 * request to a collector), --service NAME, --sampler NAME, --ratio R,
 * --min-duration MS, --quiet; serve also --port N and --save-dir DIR
 * (every accepted request's body, as received but gunzipped, in
 * DIR/req-NNNNNN.pb, numbered from 1).
 *
 * The receiver (run and serve) holds against other local programs with
 * the limits of at_receiver.c; tests shorten them with
 * AUTOTRACE_RECEIVER_LIMITS (see at_receiver_limits()).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "at_clock.h"
#include "at_config.h"
#include "at_receiver.h"
#include "at_render.h"
#include "at_traces.h"
#include "at_transport.h"

extern char **environ;

struct opts {
	const char *out, *html, *json, *forward, *service, *sampler, *ratio;
	uint64_t min_duration_ns;
	int quiet;
	int port;
	const char *save_dir; /* serve: keep each request's body there */
};

/* Receiver callback state: the JSON file and the forwarder. */
static FILE *json_out;
static pthread_mutex_t fwd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct at_endpoint fwd_ep;
static struct at_transport fwd;
static int fwd_on;

static void on_request(const at_otlp_request *req, void *ud)
{
	(void)ud;
	if (json_out) {
		at_otlpjson_write(json_out, req);
		fflush(json_out);
	}
	if (fwd_on) {
		size_t len = protobuf_c_message_get_packed_size(&req->base);
		uint8_t *buf = malloc(len ? len : 1);
		struct at_transport_response resp = { 0 };

		if (!buf)
			return;
		protobuf_c_message_pack(&req->base, buf);
		pthread_mutex_lock(&fwd_lock);
		if (at_transport_post(&fwd, buf, len, NULL,
				      at_mono_ns() + 5000000000ull, &resp) != 0 ||
		    resp.status / 100 != 2)
			fprintf(stderr, "autotrace: forwarding to %s failed\n",
				fwd_ep.url);
		pthread_mutex_unlock(&fwd_lock);
		at_buf_free(&resp.body);
		free(buf);
	}
}

static void usage(FILE *f)
{
	fputs("usage: autotrace [options] -- command [args...]\n"
	      "       autotrace view FILE [--html OUT] [--min-duration MS]\n"
	      "       autotrace serve [--port N] [--json FILE] [--forward URL]\n"
	      "                       [--save-dir DIR]\n"
	      "options:\n"
	      "  -o FILE            write the traces to FILE instead of stderr\n"
	      "  --html FILE        also write an interactive HTML page\n"
	      "  --json FILE        also write OTLP-JSON, one request per line\n"
	      "  --forward URL      also send everything to a collector (http://)\n"
	      "  --service NAME     OTEL_SERVICE_NAME for the command\n"
	      "  --sampler NAME     OTEL_TRACES_SAMPLER (e.g. traceidratio)\n"
	      "  --ratio R          OTEL_TRACES_SAMPLER_ARG\n"
	      "  --min-duration MS  show only traces at least this long\n"
	      "  --quiet            print nothing (use with --html/--json)\n"
	      "  --save-dir DIR     serve: keep each request body, DIR/req-N.pb\n",
	      f);
}

/* The library: AUTOTRACE_LIB, else next to this program (build/), else
 * ../lib/ (installed). */
static int find_lib(char *out, size_t cap)
{
	const char *env = getenv("AUTOTRACE_LIB");
	char self[PATH_MAX - 32], *slash;
	ssize_t n;

	if (env && *env)
		return realpath(env, out) ? 0 : -1;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = 0;
	snprintf(out, cap, "%s/libautotrace.so", self);
	if (access(out, R_OK) == 0)
		return 0;
	snprintf(out, cap, "%s/../lib/libautotrace.so", self);
	if (access(out, R_OK) == 0) {
		char r[PATH_MAX];
		if (realpath(out, r))
			snprintf(out, cap, "%s", r);
		return 0;
	}
	return -1;
}

static int parse_ms(const char *s, uint64_t *ns)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0)
		return -1;
	*ns = (uint64_t)(v * 1e6);
	return 0;
}

/* allow_port: serve's --port and --save-dir; in run mode options end at the command
 * (getopt's "+"), in view/serve mode they may follow the file. */
static int parse_opts(int argc, char **argv, struct opts *o, int allow_port,
		      int permute)
{
	static const struct option longopts[] = {
		{ "html", required_argument, NULL, 'H' },
		{ "json", required_argument, NULL, 'J' },
		{ "forward", required_argument, NULL, 'F' },
		{ "service", required_argument, NULL, 'S' },
		{ "sampler", required_argument, NULL, 's' },
		{ "ratio", required_argument, NULL, 'r' },
		{ "min-duration", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "port", required_argument, NULL, 'p' },
		{ "save-dir", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, permute ? "o:hq" : "+o:hq",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'H': o->html = optarg; break;
		case 'J': o->json = optarg; break;
		case 'F': o->forward = optarg; break;
		case 'S': o->service = optarg; break;
		case 's': o->sampler = optarg; break;
		case 'r': o->ratio = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'm':
			if (parse_ms(optarg, &o->min_duration_ns) != 0) {
				fprintf(stderr, "autotrace: --min-duration takes milliseconds, not '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'p':
			if (!allow_port || (o->port = atoi(optarg)) <= 0 ||
			    o->port > 65535) {
				fprintf(stderr, "autotrace: bad --port '%s'\n", optarg);
				return -1;
			}
			break;
		case 'D':
			if (!allow_port) {
				fprintf(stderr, "autotrace: --save-dir is for serve\n");
				return -1;
			}
			o->save_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "autotrace: unknown option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return -1;
		}
	}
	return 0;
}

static int setup_outputs(const struct opts *o)
{
	if (o->json && !(json_out = fopen(o->json, "w"))) {
		fprintf(stderr, "autotrace: cannot write %s: %s\n", o->json,
			strerror(errno));
		return -1;
	}
	if (o->forward) {
		if (at_endpoint_parse(o->forward, &fwd_ep) != 0) {
			fprintf(stderr, "autotrace: --forward needs an http:// URL, not '%s'\n",
				o->forward);
			return -1;
		}
		if (!strcmp(fwd_ep.path, "/")) /* a base URL: add the signal path */
			snprintf(fwd_ep.path, sizeof(fwd_ep.path), "/v1/traces");
		at_transport_init(&fwd, &fwd_ep, "");
		fwd_on = 1;
	}
	return 0;
}

/* Show what the receiver collected. */
static int show(struct at_traces *t, const struct opts *o)
{
	struct at_render_opts ro = { .width = 100, .max_full = 5,
				     .min_duration_ns = o->min_duration_ns };
	FILE *f = stderr;
	int rc = 0;

	at_traces_build(t);
	if (o->html) {
		FILE *h = fopen(o->html, "w");
		if (!h || at_render_html(h, t, "autotrace") != 0) {
			fprintf(stderr, "autotrace: cannot write %s\n", o->html);
			rc = 1;
		}
		if (h)
			fclose(h);
	}
	if (o->quiet)
		return rc;
	if (o->out && !(f = fopen(o->out, "w"))) {
		fprintf(stderr, "autotrace: cannot write %s: %s\n", o->out,
			strerror(errno));
		return 1;
	}
	ro.color = at_render_want_color(fileno(f), getenv("NO_COLOR"));
	ro.width = at_render_term_width(fileno(f), getenv("COLUMNS"));
	at_render_text(f, t, &ro);
	if (f != stderr)
		fclose(f);
	return rc;
}

static void add_request(const at_otlp_request *req, void *t)
{
	at_traces_add_request(t, req);
}

static void collect(struct at_receiver *r, struct at_traces *t)
{
	at_receiver_foreach_request(r, add_request, t);
}

/* ---- run ---- */

static char **child_env(const char *lib, uint16_t port, const struct opts *o)
{
	size_t n = 0, cap = 32;
	char **env = malloc(cap * sizeof(char *));
	const char *pre = getenv("LD_PRELOAD");
	char buf[PATH_MAX * 2];

	for (char **e = environ; *e; e++) {
		if (!strncmp(*e, "LD_PRELOAD=", 11) ||
		    !strncmp(*e, "OTEL_EXPORTER_OTLP_", 19) ||
		    !strncmp(*e, "OTEL_TRACES_EXPORTER=", 21) ||
		    !strncmp(*e, "OTEL_SDK_DISABLED=", 18) ||
		    (o->service && !strncmp(*e, "OTEL_SERVICE_NAME=", 18)) ||
		    (o->sampler && !strncmp(*e, "OTEL_TRACES_SAMPLER=", 20)) ||
		    (o->ratio && !strncmp(*e, "OTEL_TRACES_SAMPLER_ARG=", 24)))
			continue;
		if (n + 8 >= cap)
			env = realloc(env, (cap *= 2) * sizeof(char *));
		env[n++] = *e;
	}
	if (pre && *pre)
		snprintf(buf, sizeof(buf), "LD_PRELOAD=%s %s", pre, lib);
	else
		snprintf(buf, sizeof(buf), "LD_PRELOAD=%s", lib);
	env[n++] = strdup(buf);
	snprintf(buf, sizeof(buf), "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u",
		 port);
	env[n++] = strdup(buf);
	env[n++] = "OTEL_BSP_SCHEDULE_DELAY=500";
	if (o->service) {
		snprintf(buf, sizeof(buf), "OTEL_SERVICE_NAME=%s", o->service);
		env[n++] = strdup(buf);
	}
	if (o->sampler) {
		snprintf(buf, sizeof(buf), "OTEL_TRACES_SAMPLER=%s", o->sampler);
		env[n++] = strdup(buf);
	}
	if (o->ratio) {
		snprintf(buf, sizeof(buf), "OTEL_TRACES_SAMPLER_ARG=%s", o->ratio);
		env[n++] = strdup(buf);
	}
	env[n] = NULL;
	return env;
}

static int cmd_run(int argc, char **argv)
{
	struct opts o = { 0 };
	struct at_receiver_opts ro = { .bind_addr = "127.0.0.1",
				       .on_request = on_request };
	struct at_receiver *r;
	struct at_traces *t;
	char lib[PATH_MAX];
	posix_spawnattr_t sa;
	sigset_t def;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	pid_t pid;
	int st, rc, status;

	if (parse_opts(argc, argv, &o, 0, 0) != 0)
		return 2;
	if (optind >= argc) {
		fprintf(stderr, "autotrace: no command to run\n");
		usage(stderr);
		return 2;
	}
	if (find_lib(lib, sizeof(lib)) != 0) {
		fprintf(stderr, "autotrace: cannot find libautotrace.so (set AUTOTRACE_LIB)\n");
		return 1;
	}
	if (setup_outputs(&o) != 0)
		return 1;
	at_receiver_limits(&ro, getenv("AUTOTRACE_RECEIVER_LIMITS"));
	r = at_receiver_start(&ro);
	if (!r) {
		fprintf(stderr, "autotrace: cannot start the receiver: %s\n",
			strerror(errno));
		return 1;
	}
	char **env = child_env(lib, at_receiver_port(r), &o);

	posix_spawnattr_init(&sa);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGQUIT);
	posix_spawnattr_setsigdefault(&sa, &def);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGDEF);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	rc = posix_spawnp(&pid, argv[optind], NULL, &sa, argv + optind, env);
	posix_spawnattr_destroy(&sa);
	if (rc != 0) {
		fprintf(stderr, "autotrace: %s: %s\n", argv[optind],
			rc == ENOENT ? "command not found" : strerror(rc));
		at_receiver_stop(r);
		return rc == ENOENT ? 127 : 126;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

	t = at_traces_new();
	collect(r, t);
	if (show(t, &o) != 0 && status == 0)
		status = 1;
	at_traces_free(t);
	at_receiver_stop(r);
	if (json_out)
		fclose(json_out);
	return status;
}

/* ---- view ---- */

static int cmd_view(int argc, char **argv)
{
	struct opts o = { 0 };
	struct at_traces *t;
	FILE *f;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int bad = 0;

	if (parse_opts(argc, argv, &o, 0, 1) != 0)
		return 2;
	if (optind >= argc) {
		fprintf(stderr, "autotrace: view needs a file written with --json\n");
		return 2;
	}
	f = fopen(argv[optind], "r");
	if (!f) {
		fprintf(stderr, "autotrace: %s: %s\n", argv[optind],
			strerror(errno));
		return 1;
	}
	t = at_traces_new();
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (len == 1 && line[0] == '\n')
			continue;
		if (at_traces_add_json(t, line, (size_t)len) != 0) {
			fprintf(stderr, "autotrace: %s:%zu: not OTLP-JSON\n",
				argv[optind], lineno);
			bad = 1;
		}
	}
	free(line);
	fclose(f);
	int rc = show(t, &o);
	at_traces_free(t);
	return rc ? rc : bad;
}

/* ---- serve ---- */

static volatile sig_atomic_t stop_serving;

/* What serve keeps before it prints and forgets, even while spans keep
 * coming: a program that never pauses does not make it store without
 * end.  A trace cut there is printed in parts. */
#define SERVE_MAX_SPANS 100000
#define SERVE_MAX_WAIT_NS (10 * 1000000000ull)

static void on_stop(int sig)
{
	(void)sig;
	stop_serving = 1;
}

static int cmd_serve(int argc, char **argv)
{
	struct opts o = { .port = 4318 };
	struct at_receiver_opts ro = { .bind_addr = "127.0.0.1",
				       .on_request = on_request };
	struct sigaction sa = { .sa_handler = on_stop };
	struct at_receiver *r;
	size_t shown_spans = 0;
	uint64_t last_change = 0, first_change = 0;

	if (parse_opts(argc, argv, &o, 1, 1) != 0)
		return 2;
	if (setup_outputs(&o) != 0)
		return 1;
	ro.port = (uint16_t)o.port;
	ro.save_dir = o.save_dir;
	at_receiver_limits(&ro, getenv("AUTOTRACE_RECEIVER_LIMITS"));
	r = at_receiver_start(&ro);
	if (!r) {
		if (errno == EADDRINUSE)
			fprintf(stderr, "autotrace: port %d is busy\n", o.port);
		else
			fprintf(stderr, "autotrace: cannot listen on 127.0.0.1:%d: %s\n",
				o.port, strerror(errno));
		return 1;
	}
	fprintf(stderr, "autotrace: receiving OTLP/HTTP on http://127.0.0.1:%u "
		"(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u)\n",
		at_receiver_port(r), at_receiver_port(r));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Print what arrived once nothing new came for a second (a trace is
	 * then taken as complete), or once SERVE_MAX_SPANS spans or
	 * SERVE_MAX_WAIT_NS are waiting, then forget it. */
	while (!stop_serving) {
		size_t n = at_receiver_span_count(r);
		uint64_t now = at_mono_ns();

		if (n != shown_spans) {
			if (!last_change)
				last_change = now;
			if (!first_change)
				first_change = now;
			if (now - last_change >= 1000000000ull ||
			    now - first_change >= SERVE_MAX_WAIT_NS ||
			    n >= SERVE_MAX_SPANS) {
				struct at_traces *t = at_traces_new();
				collect(r, t);
				show(t, &o);
				at_traces_free(t);
				at_receiver_clear(r);
				shown_spans = at_receiver_span_count(r);
				last_change = first_change = 0;
			}
		}
		at_receiver_wait_spans(r, n + 1, 200);
		if (at_receiver_span_count(r) != n)
			last_change = at_mono_ns();
	}
	at_receiver_stop(r);
	if (json_out)
		fclose(json_out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "view"))
		return cmd_view(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	return cmd_run(argc, argv);
}
