/*
 * autotrace - trace any command with no infrastructure: run it under
 * libautotrace with an embedded OTLP/HTTP receiver, then show its traces.
 *
 *   autotrace [options] -- command [args...]
 *   autotrace view FILE [--html OUT] [--min-duration MS]
 *   autotrace serve [--port N] [--json FILE] [--forward URL]
 *                   [--save-dir DIR] [--settle MS] [--max-traces N]
 *                   [--baseline FILE]
 *   autotrace diff BEFORE.json AFTER.json
 *
 * The live dashboard (serve, and run with --ui): the receiver's port
 * answers GETs too (one port for OTLP and the page; at_receiver_opts.
 * on_get), with the page and its JSON API (at_api.c) made from the
 * assembly's model under asm_lock, on the receiver's thread; 127.0.0.1
 * only, and only for a loopback Host.  Memory: the assembly keeps the
 * last --max-traces traces (default AT_ASM_MAX_TRACES) and at most
 * AT_ASM_MAX_SPANS spans.  serve prints the URL at start; run --ui prints
 * it at start and again after the command, then serves until SIGINT or
 * SIGTERM (--ui-port N, else a free port).  --baseline FILE (a --json
 * file of an earlier run) is loaded once and is the "before" set of the
 * page's Compare tab (/api/diff) unless the page marks a point in time.
 *
 * Run mode: the receiver listens on a free 127.0.0.1 port; the command
 * runs with LD_PRELOAD extended by the library (absolute path) and the
 * OTEL_* variables pointing at the receiver, so it and every process it
 * starts export there.  Its stdin, stdout and stderr are untouched.
 * Unless --no-root, autotrace makes a root span for the command
 * (at_rootspan.c: its name, command line, exit code, ERROR when it did
 * not exit 0) and hands it to the process tree as TRACEPARENT, so a
 * script's requests, queries and child processes are one trace.
 * autotrace ignores SIGINT/SIGQUIT while the command runs (the terminal
 * sends them to the command too, as a shell's `time` does), waits for it,
 * prints the traces (to stderr, or -o FILE), and exits with the command's
 * status, or 128 + the signal that killed it, or 127/126 when it could
 * not be started.  A process flushes its spans before it exits, so they
 * have all arrived by the time the command is reaped.
 *
 * Serve mode: every request's spans go to the trace assembly
 * (at_assembly.c), which shows a trace once it has been quiet for the
 * export delay + 1 s (6 s; --settle MS, or this process's
 * OTEL_BSP_SCHEDULE_DELAY + 1 s) with no missing parent, or 30 s after
 * its first span; late spans print as an addition.  The receiver's own
 * store is emptied as requests come.
 *
 * Options: -o FILE, --html FILE, --json FILE (OTLP-JSON lines, as the
 * Collector's file exporter writes), --forward URL (also POST every
 * request to a collector), --service NAME, --sampler NAME, --ratio R,
 * --min-duration MS, --quiet, --no-root; serve also --port N, --settle MS
 * and --save-dir DIR (every accepted request's body, as received but
 * gunzipped, in DIR/req-NNNNNN.pb, numbered from 1).
 *
 * Diff mode (at_diff.c): two --json files compared per endpoint; exit 1
 * when something got worse, 0 when not, 2 on usage or read errors.
 *
 * The terminal view uses the output's width (TIOCGWINSZ, else COLUMNS,
 * else 100) and colours only on a terminal without NO_COLOR.
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

#include "at_api.h"
#include "at_assembly.h"
#include "at_clock.h"
#include "at_config.h"
#include "at_diff.h"
#include "at_receiver.h"
#include "at_render.h"
#include "at_rootspan.h"
#include "at_traces.h"
#include "at_transport.h"

extern char **environ;

struct opts {
	const char *out, *html, *json, *forward, *service, *sampler, *ratio;
	uint64_t min_duration_ns;
	int quiet;
	int port;
	const char *save_dir; /* serve: keep each request's body there */
	uint64_t settle_ns;   /* serve: the quiet period (--settle) */
	int no_root;          /* run: no root span for the command */
	int ui;               /* run: serve the dashboard (--ui) */
	int ui_port;          /* --ui-port: the port of the dashboard */
	size_t max_traces;    /* --max-traces: traces kept for the page */
	const char *baseline; /* --baseline: the page's "before" set */
};

/* Receiver callback state: the JSON file and the forwarder. */
static FILE *json_out;
static pthread_mutex_t fwd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct at_endpoint fwd_ep;
static struct at_transport fwd;
static int fwd_on;
/* serve: the traces being assembled, under asm_lock (the receiver's
 * thread adds, the main thread polls) */
static pthread_mutex_t asm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct at_assembly *assembly;
/* --baseline: built once before the receiver starts, read-only after */
static struct at_traces *baseline;

static void on_request(const at_otlp_request *req, void *ud)
{
	(void)ud;
	if (assembly) {
		pthread_mutex_lock(&asm_lock);
		at_assembly_add_request(assembly, req, at_mono_ns());
		pthread_mutex_unlock(&asm_lock);
	}
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

/* The live dashboard (at_api.c), on the receiver's port and thread: the
 * model is read under asm_lock. */
static int on_get(const char *target, struct at_buf *body, const char **type,
		  void *ud)
{
	int status;

	(void)ud;
	pthread_mutex_lock(&asm_lock);
	status = at_api_get_with_baseline(assembly ?
					  at_assembly_traces(assembly) : NULL,
					  baseline, target, body, type);
	pthread_mutex_unlock(&asm_lock);
	return status;
}

static void usage(FILE *f)
{
	fputs("usage: autotrace [options] -- command [args...]\n"
	      "       autotrace view FILE [--html OUT] [--min-duration MS]\n"
	      "       autotrace serve [--port N] [--json FILE] [--forward URL]\n"
	      "                       [--save-dir DIR] [--settle MS] [--max-traces N]\n"
	      "                       [--baseline FILE]\n"
	      "       autotrace diff BEFORE.json AFTER.json\n"
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
	      "  --no-root          no root span for the command (its processes'\n"
	      "                     requests are then separate traces)\n"
	      "  --ui               run: serve the live dashboard while the command\n"
	      "                     runs and after it, until Ctrl-C\n"
	      "  --ui-port N        the dashboard's port (run: default a free one;\n"
	      "                     serve: the same as --port, one port for both)\n"
	      "  --max-traces N     the traces kept for the dashboard (default 1000)\n"
	      "  --baseline FILE    the dashboard's Compare tab: a --json file of an\n"
	      "                     earlier run as the \"before\" set\n"
	      "  --save-dir DIR     serve: keep each request body, DIR/req-N.pb\n"
	      "  --settle MS        serve: show a trace once quiet this long\n"
	      "                     (default: OTEL_BSP_SCHEDULE_DELAY or 5000, + 1000)\n",
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
		{ "settle", required_argument, NULL, 'T' },
		{ "no-root", no_argument, NULL, 'R' },
		{ "ui", no_argument, NULL, 'U' },
		{ "ui-port", required_argument, NULL, 'P' },
		{ "max-traces", required_argument, NULL, 'M' },
		{ "baseline", required_argument, NULL, 'B' },
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
			/* 0: a free port (the URL printed says which) */
			if (!allow_port || !*optarg ||
			    strspn(optarg, "0123456789") != strlen(optarg) ||
			    (o->port = atoi(optarg)) > 65535) {
				fprintf(stderr, "autotrace: bad --port '%s'\n", optarg);
				return -1;
			}
			break;
		case 'R': o->no_root = 1; break;
		case 'B': o->baseline = optarg; break;
		case 'U': o->ui = 1; break;
		case 'P':
			if ((o->ui_port = atoi(optarg)) <= 0 || o->ui_port > 65535) {
				fprintf(stderr, "autotrace: bad --ui-port '%s'\n", optarg);
				return -1;
			}
			if (allow_port)
				o->port = o->ui_port;
			else
				o->ui = 1;
			break;
		case 'M': {
			long n = atol(optarg);

			if (n <= 0) {
				fprintf(stderr, "autotrace: bad --max-traces '%s'\n", optarg);
				return -1;
			}
			o->max_traces = (size_t)n;
			break;
		}
		case 'T':
			if (!allow_port || parse_ms(optarg, &o->settle_ns) != 0 ||
			    !o->settle_ns) {
				fprintf(stderr, "autotrace: --settle is for serve, in milliseconds > 0\n");
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

static void ui_until_stopped(struct at_receiver *r);
static int load_baseline(const struct opts *o);

/* ---- run ---- */

static char **child_env(const char *lib, uint16_t port, const struct opts *o,
			const char *traceparent)
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
		    (traceparent && !strncmp(*e, "TRACEPARENT=", 12)) ||
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
	if (traceparent)
		env[n++] = strdup(traceparent);
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
	if (o.ui) {
		struct at_assembly_opts ao = { .max_traces = o.max_traces };

		ro.port = (uint16_t)o.ui_port;
		ro.on_get = on_get;
		if (load_baseline(&o) != 0)
			return 1;
		assembly = at_assembly_new(&ao);
	} else if (o.baseline) {
		fprintf(stderr, "autotrace: --baseline is for serve and --ui\n");
		return 2;
	}
	r = at_receiver_start(&ro);
	if (!r) {
		fprintf(stderr, "autotrace: cannot start the receiver: %s\n",
			strerror(errno));
		return 1;
	}
	if (o.ui)
		fprintf(stderr, "autotrace: dashboard on http://127.0.0.1:%u/\n",
			at_receiver_port(r));
	struct at_root root;
	char tp[96];

	at_root_begin(&root, getenv("TRACEPARENT"));
	at_root_traceparent(&root, tp, sizeof(tp));
	char **env = child_env(lib, at_receiver_port(r), &o,
			       o.no_root ? NULL : tp);

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
	if (!o.no_root) {
		const char *svc = o.service ? o.service :
			getenv("OTEL_SERVICE_NAME");
		at_otlp_request *req = at_root_request(&root, argv + optind, svc,
						       (long)pid, WIFEXITED(st),
						       WIFEXITED(st) ?
						       WEXITSTATUS(st) :
						       WTERMSIG(st));

		on_request(req, NULL);
		at_traces_add_request(t, req);
		protobuf_c_message_free_unpacked(&req->base, NULL);
	}
	if (show(t, &o) != 0 && status == 0)
		status = 1;
	at_traces_free(t);
	if (o.ui)
		ui_until_stopped(r);
	at_receiver_stop(r);
	at_traces_free(baseline);
	baseline = NULL;
	if (json_out)
		fclose(json_out);
	return status;
}

/* ---- view ---- */

/* Add the OTLP-JSON lines of path to t; 0, 1 if some line was not
 * OTLP-JSON (said on stderr), -1 if the file cannot be read. */
static int load_json(const char *path, struct at_traces *t)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int bad = 0;

	if (!f) {
		fprintf(stderr, "autotrace: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (len == 1 && line[0] == '\n')
			continue;
		if (at_traces_add_json(t, line, (size_t)len) != 0) {
			fprintf(stderr, "autotrace: %s:%zu: not OTLP-JSON\n",
				path, lineno);
			bad = 1;
		}
	}
	free(line);
	fclose(f);
	return bad;
}

/* --baseline FILE into baseline, built; 0, or -1 (said on stderr). */
static int load_baseline(const struct opts *o)
{
	if (!o->baseline)
		return 0;
	baseline = at_traces_new();
	if (load_json(o->baseline, baseline) < 0)
		return -1;
	at_traces_build(baseline);
	fprintf(stderr, "autotrace: baseline %s: %zu traces\n", o->baseline,
		baseline->n_traces);
	return 0;
}

static int cmd_view(int argc, char **argv)
{
	struct opts o = { 0 };
	struct at_traces *t;
	int bad;

	if (parse_opts(argc, argv, &o, 0, 1) != 0)
		return 2;
	if (optind >= argc) {
		fprintf(stderr, "autotrace: view needs a file written with --json\n");
		return 2;
	}
	t = at_traces_new();
	bad = load_json(argv[optind], t);
	if (bad < 0) {
		at_traces_free(t);
		return 1;
	}
	int rc = show(t, &o);
	at_traces_free(t);
	return rc ? rc : bad;
}

/* ---- diff ---- */

/* autotrace diff BEFORE AFTER: 0 nothing worse, 1 something worse, 2
 * usage or unreadable files. */
static int cmd_diff(int argc, char **argv)
{
	struct at_traces *a, *b;
	FILE *f = stdout;
	size_t worse;

	if (argc != 3) {
		fprintf(stderr, "usage: autotrace diff BEFORE.json AFTER.json\n");
		return 2;
	}
	a = at_traces_new();
	b = at_traces_new();
	if (load_json(argv[1], a) < 0 || load_json(argv[2], b) < 0) {
		at_traces_free(a);
		at_traces_free(b);
		return 2;
	}
	at_traces_build(a);
	at_traces_build(b);
	worse = at_diff_render(f, a, b);
	at_traces_free(a);
	at_traces_free(b);
	return worse ? 1 : 0;
}

/* ---- serve ---- */

static volatile sig_atomic_t stop_serving;

static void on_stop(int sig)
{
	(void)sig;
	stop_serving = 1;
}

struct serve_out {
	FILE *f;
	struct at_render_opts ro;
	uint64_t min_duration_ns;
	size_t shown;
};

static void serve_show(const struct at_traces *t,
		       const struct at_tv_trace *tr, int addition, void *ud)
{
	struct serve_out *so = ud;

	so->shown++;
	if (!so->f || (!addition && tr->end_ns - tr->start_ns <
		       so->min_duration_ns))
		return;
	so->ro.only_late = addition;
	at_render_text_trace(so->f, t, tr, &so->ro);
	fflush(so->f);
}

/* The quiet period: --settle, else this process's OTEL_BSP_SCHEDULE_DELAY
 * (what the programs it receives from are likely given too), else the
 * library's default, plus the margin (at_assembly.h). */
static uint64_t serve_quiet_ns(const struct opts *o)
{
	const char *d = getenv("OTEL_BSP_SCHEDULE_DELAY");
	char *end;
	unsigned long v;

	if (o->settle_ns)
		return o->settle_ns;
	if (d && *d) {
		v = strtoul(d, &end, 10);
		if (!*end && v <= 3600000)
			return at_assembly_quiet_for(v);
	}
	return at_assembly_quiet_for(AT_ASM_EXPORT_DELAY_MS);
}

static void serve_html(const struct opts *o)
{
	FILE *h;

	if (!o->html)
		return;
	h = fopen(o->html, "w");
	if (!h || at_render_html(h, at_assembly_traces(assembly),
				 "autotrace") != 0)
		fprintf(stderr, "autotrace: cannot write %s\n", o->html);
	if (h)
		fclose(h);
}

static void ui_show_nothing(const struct at_traces *t,
			    const struct at_tv_trace *tr, int addition,
			    void *ud)
{
	(void)t;
	(void)tr;
	(void)addition;
	(void)ud;
}

/* run --ui: after the command, the dashboard stays until Ctrl-C (or
 * SIGTERM); what else arrives is kept too, within the bounds. */
static void ui_until_stopped(struct at_receiver *r)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "autotrace: the dashboard is at http://127.0.0.1:%u/ "
		"(Ctrl-C to stop)\n", at_receiver_port(r));
	while (!stop_serving) {
		size_t n = at_receiver_span_count(r);

		at_receiver_wait_spans(r, n + 1, 200);
		if (at_receiver_span_count(r))
			at_receiver_clear(r);
		pthread_mutex_lock(&asm_lock);
		at_assembly_poll(assembly, at_mono_ns(), ui_show_nothing, NULL);
		pthread_mutex_unlock(&asm_lock);
	}
}

static int cmd_serve(int argc, char **argv)
{
	struct opts o = { .port = 4318 };
	struct at_receiver_opts ro = { .bind_addr = "127.0.0.1",
				       .on_request = on_request };
	struct at_assembly_opts ao = { 0 };
	struct sigaction sa = { .sa_handler = on_stop };
	struct serve_out so = { 0 };
	struct at_receiver *r;
	char q[32], bound[32];

	if (parse_opts(argc, argv, &o, 1, 1) != 0)
		return 2;
	if (setup_outputs(&o) != 0)
		return 1;
	so.f = o.quiet ? NULL : stderr;
	if (!o.quiet && o.out && !(so.f = fopen(o.out, "w"))) {
		fprintf(stderr, "autotrace: cannot write %s: %s\n", o.out,
			strerror(errno));
		return 1;
	}
	if (so.f) {
		so.ro.color = at_render_want_color(fileno(so.f),
						   getenv("NO_COLOR"));
		so.ro.width = at_render_term_width(fileno(so.f),
						   getenv("COLUMNS"));
	}
	so.min_duration_ns = o.min_duration_ns;
	if (load_baseline(&o) != 0)
		return 1;
	ao.quiet_ns = serve_quiet_ns(&o);
	ao.max_traces = o.max_traces;
	assembly = at_assembly_new(&ao);
	ro.port = (uint16_t)o.port;
	ro.on_get = on_get;
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
	at_tv_fmt_dur(ao.quiet_ns, q, sizeof(q));
	at_tv_fmt_dur(AT_ASM_BOUND_FACTOR * ao.quiet_ns, bound, sizeof(bound));
	fprintf(stderr, "autotrace: receiving OTLP/HTTP on http://127.0.0.1:%u "
		"(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u)\n"
		"autotrace: a trace is shown once quiet for %s with no missing "
		"parent, or %s after its first span\n"
		"autotrace: dashboard on http://127.0.0.1:%u/ (JSON API under /api/)\n",
		at_receiver_port(r), at_receiver_port(r), q, bound,
		at_receiver_port(r));
	if (so.f)
		at_render_legend(so.f, so.ro.color);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* The spans are copied into the assembly by on_request; the
	 * receiver's own store is emptied as it goes. */
	while (!stop_serving) {
		size_t n = at_receiver_span_count(r), shown;

		at_receiver_wait_spans(r, n + 1, 200);
		if (at_receiver_span_count(r))
			at_receiver_clear(r);
		pthread_mutex_lock(&asm_lock);
		shown = at_assembly_poll(assembly, at_mono_ns(), serve_show,
					 &so);
		if (shown)
			serve_html(&o);
		pthread_mutex_unlock(&asm_lock);
	}
	at_receiver_stop(r);
	if (at_assembly_flush(assembly, serve_show, &so))
		serve_html(&o);
	at_assembly_free(assembly);
	assembly = NULL;
	at_traces_free(baseline);
	baseline = NULL;
	if (so.f && so.f != stderr)
		fclose(so.f);
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
	if (argc > 1 && !strcmp(argv[1], "diff"))
		return cmd_diff(argc - 1, argv + 1);
	return cmd_run(argc, argv);
}
