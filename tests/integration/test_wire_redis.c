/*
 * Integration tests of the Redis wire family (hooks/wire/at_wire_redis.c):
 * real drivers against a real redis-server - the one that
 * scripts/run-integration.sh starts (AT_REDIS_DIR, AT_REDIS_PORT), or one
 * of the test's own (tests/fixtures/redis/redis-run.sh) where the
 * server's counters must see only that test's commands.  Node's ioredis
 * (AT_WIRE_NODE_PATH), Python's redis-py and raw sockets (Debian's
 * /usr/bin/python3), redis-cli.  Each program runs bare and with the
 * library preloaded: same output, and the spans decoded from the
 * exported protobuf.  Each test uses keys of its own prefix.  The Node
 * server tests rely on the Node runtime bridge (on by default) for the
 * parents of concurrent requests' commands.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 60000
#define WAIT_MS 10000
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
#define STATUS_ERROR 2

static const char *rd_port(void)
{
	const char *p = getenv("AT_REDIS_PORT");
	cr_assert(p && getenv("AT_REDIS_DIR"),
		  "no Redis test server (run through scripts/run-integration.sh)");
	return p;
}

static char *node_path_env(void)
{
	const char *np = getenv("AT_WIRE_NODE_PATH");
	char *s;

	cr_assert(np, "AT_WIRE_NODE_PATH unset (run through scripts/run-integration.sh)");
	cr_assert_geq(asprintf(&s, "NODE_PATH=%s", np), 0);
	return s;
}

/* redis-cli (bare) against port: its output. */
static char *cli(const char *port, const char *args)
{
	char cmd[1024];
	int st;
	char *out;

	snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %s %s 2>&1", port,
		 args);
	out = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "%s: %s", cmd, out ? out : "");
	return out;
}

/* The server's calls per command ("get=3 set=2 ..."), sorted. */
static char *commandstats(const char *port)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd),
		 "redis-cli -h 127.0.0.1 -p %s info commandstats | "
		 "sed -n 's/^cmdstat_\\([^:]*\\):calls=\\([0-9]*\\),.*/\\1=\\2/p' | "
		 "sort | tr '\\n' ' '",
		 port);
	char *out = h_shell(cmd, &st);
	cr_assert_eq(st, 0);
	return out;
}

/* A run of argv, bare or preloaded; its stdout (checked exit 0). */
static char *run(const char *const argv[], const char *const env[],
		 bool preload)
{
	struct h_result res;
	char *out;

	cr_assert_eq(h_run(argv, env, preload, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "%s (%s): %s%s", argv[1],
		     preload ? "preloaded" : "bare", res.out, res.err);
	out = strdup(res.out);
	h_result_free(&res);
	return out;
}

/* The same output bare and preloaded; the spans of the preloaded run. */
static size_t run_both(struct h_env *e, const char *const argv[],
		       const char *extra_env, struct at_rx_span **sp,
		       size_t min)
{
	const char *env[] = { e->ep, "OTEL_SERVICE_NAME=rd-test", extra_env,
			      NULL };
	char *bare = run(argv, env, false);
	char *traced = run(argv, env, true);

	cr_assert_str_eq(traced, bare, "output differs under the library");
	free(bare);
	free(traced);
	return h_spans(e->rx, min, WAIT_MS, sp);
}

static bool is_redis(const at_otlp_span *s)
{
	const char *v = h_attr_str(s, "db.system.name");
	return v && !strcmp(v, "redis");
}

/* The redis span whose db.query.text is text (from index *from), or NULL. */
static const at_otlp_span *by_text(const struct at_rx_span *sp, size_t n,
				   const char *text)
{
	for (size_t i = 0; i < n; i++) {
		const char *t = h_attr_str(sp[i].span, "db.query.text");
		if (is_redis(sp[i].span) && t && !strcmp(t, text))
			return sp[i].span;
	}
	return NULL;
}

static size_t count_text(const struct at_rx_span *sp, size_t n,
			 const char *text)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++) {
		const char *t = h_attr_str(sp[i].span, "db.query.text");
		c += is_redis(sp[i].span) && t && !strcmp(t, text);
	}
	return c;
}

/* A bool attribute: 1, 0, or -1 when absent. */
static int attr_bool(const at_otlp_span *s, const char *key)
{
	for (size_t i = 0; i < s->n_attributes; i++) {
		const at_otlp_kv *kv = s->attributes[i];
		if (strcmp(kv->key, key) || !kv->value)
			continue;
		if (kv->value->value_case !=
		    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE)
			return -1;
		return kv->value->bool_value ? 1 : 0;
	}
	return -1;
}

/* The span text has, checked: name, operation, and the cache hit. */
static const at_otlp_span *expect_cmd(const struct at_rx_span *sp, size_t n,
				      const char *text, const char *name,
				      int hit)
{
	const at_otlp_span *s = by_text(sp, n, text);

	cr_assert_not_null(s, "no span with db.query.text \"%s\"", text);
	cr_expect_str_eq(s->name, name);
	cr_expect_str_eq(h_attr_str(s, "db.operation.name"), name);
	cr_expect_eq(s->kind, KIND_CLIENT);
	cr_expect_eq(attr_bool(s, "autotrace.cache.hit"), hit,
		     "%s: autotrace.cache.hit", text);
	if (strcmp(name, "connect"))
		cr_expect(!s->status || s->status->code != STATUS_ERROR ||
				  h_attr_str(s, "error.type"),
			  "%s: an error without error.type", text);
	return s;
}

/* Something was exported to dir, and no exported byte holds secret. */
static void not_exported(const char *dir, const char *secret)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^req-'", dir);
	char *files = h_shell(cmd, &st);
	cr_expect_gt(atoi(files), 0, "no export to check");
	snprintf(cmd, sizeof(cmd), "grep -lF -e '%s' %s/req-*", secret, dir);
	char *found = h_shell(cmd, &st);
	cr_expect_str_eq(found, "", "%s exported", secret);
	free(files);
	free(found);
}

Test(redis, ioredis_commands_and_the_servers_count, .timeout = 180)
{
	struct h_env e;
	struct at_rx_span *sp;
	char dir[] = "/tmp/at-rd-own-XXXXXX", cmd[256], *bare_stats, *stats;
	char *np = node_path_env(), *port;
	const char *js = "tests/fixtures/wire/rd_ioredis.js";
	size_t n;
	int st;

	/* A server of our own: its counters see only this test. */
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "sh tests/fixtures/redis/redis-run.sh start %s 2>&1", dir);
	free(h_shell(cmd, &st));
	cr_assert_eq(st, 0, "redis-run.sh start");
	snprintf(cmd, sizeof(cmd), "%s/port", dir);
	port = h_read_file(cmd, NULL);
	port[strcspn(port, "\n")] = '\0';

	cr_assert_eq(h_env_start(&e), 0);
	const char *argv[] = { "node", js, "commands", port, "io:", NULL };
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=rd-test", np, NULL };
	free(cli(port, "config resetstat"));
	char *bare = run(argv, env, false);
	bare_stats = commandstats(port);
	free(cli(port, "config resetstat"));
	char *traced = run(argv, env, true);
	stats = commandstats(port);
	cr_expect_str_eq(traced, bare);
	cr_expect_str_eq(stats, bare_stats, "the server saw other commands");
	cr_expect(strstr(stats, "get=") && strstr(stats, "exec=1"), "%s", stats);
	n = h_spans(e.rx, 30, WAIT_MS, &sp);

	expect_cmd(sp, n, "SET io:a ? ? ?", "SET", -1);
	expect_cmd(sp, n, "GET io:a", "GET", 1);
	expect_cmd(sp, n, "GET io:missing", "GET", 0);
	expect_cmd(sp, n, "HGETALL io:h", "HGETALL", 1);
	expect_cmd(sp, n, "HGETALL io:nohash", "HGETALL", 0);
	const at_otlp_span *s = expect_cmd(sp, n, "MGET io:a io:b io:c", "MGET", 0);
	cr_expect_eq(h_attr_int(s, "autotrace.cache.hits", -1), 1);
	cr_expect_eq(h_attr_int(s, "autotrace.cache.misses", -1), 2);
	s = expect_cmd(sp, n, "HMGET io:h ? ? ?", "HMGET", 0);
	cr_expect_eq(h_attr_int(s, "autotrace.cache.hits", -1), 2);
	cr_expect_eq(h_attr_int(s, "autotrace.cache.misses", -1), 1);
	s = expect_cmd(sp, n, "EXISTS io:a io:h io:missing", "EXISTS", 0);
	cr_expect_eq(h_attr_int(s, "autotrace.cache.hits", -1), 2);
	cr_expect_eq(h_attr_int(s, "autotrace.cache.misses", -1), 1);
	cr_expect_str_eq(h_attr_str(s, "server.address"), "127.0.0.1");
	cr_expect_eq(h_attr_int(s, "server.port", -1), atoi(port));
	cr_expect_str_eq(h_attr_str(s, "db.namespace"), "0");

	/* The error reply. */
	s = expect_cmd(sp, n, "GET io:list", "GET", -1);
	cr_expect_str_eq(h_attr_str(s, "error.type"), "WRONGTYPE");
	cr_expect(s->status && s->status->code == STATUS_ERROR &&
		  !strncmp(s->status->message, "WRONGTYPE", 9));

	/* The pipeline: five SETs, five spans. */
	for (int i = 0; i < 5; i++) {
		snprintf(cmd, sizeof(cmd), "SET io:pipe%d ?", i);
		cr_expect_eq(count_text(sp, n, cmd), 1, "%s", cmd);
	}
	/* MULTI/EXEC: queued commands end at QUEUED, no cache hit. */
	cr_expect_eq(count_text(sp, n, "MULTI"), 1);
	cr_expect_eq(count_text(sp, n, "INCR io:n"), 2);
	expect_cmd(sp, n, "GET io:n", "GET", -1);
	cr_expect_eq(count_text(sp, n, "EXEC"), 1);

	/* Database 2: SELECT, then the namespace of what follows. */
	expect_cmd(sp, n, "SELECT 2", "SELECT", -1);
	s = expect_cmd(sp, n, "GET io:db2", "GET", 1);
	cr_expect_str_eq(h_attr_str(s, "db.namespace"), "2");

	/* One span per command the server counted (and connects). */
	size_t redis_spans = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_redis(sp[i].span))
			redis_spans++;
		else
			cr_expect_str_eq(sp[i].span->name, "connect");
	}
	size_t calls = 0;
	for (char *p = stats; *p; p += strcspn(p, " "), p += *p == ' ')
		if (strncmp(p, "config|", 7)) /* ours, not the program's */
			calls += strtoul(p + strcspn(p, "=") + 1, NULL, 10);
	cr_expect_eq(redis_spans, calls, "%zu spans, the server counted %s",
		     redis_spans, stats);

	free(bare);
	free(traced);
	free(stats);
	free(bare_stats);
	free(sp);
	h_env_stop(&e);
	snprintf(cmd, sizeof(cmd), "sh tests/fixtures/redis/redis-run.sh stop %s", dir);
	free(h_shell(cmd, &st));
	free(port);
	free(np);
}

/* GET url on 127.0.0.1:port with curl (bare): its output. */
static char *curl_get(uint16_t port, const char *paths)
{
	char cmd[1024], *p = cmd;

	p += snprintf(p, sizeof(cmd), "curl -sS --no-progress-meter --parallel --parallel-immediate");
	for (const char *q = paths; *q;) {
		size_t l = strcspn(q, " ");
		p += snprintf(p, sizeof(cmd) - (size_t)(p - cmd),
			      " http://127.0.0.1:%u%.*s", port, (int)l, q);
		q += l;
		q += *q == ' ';
	}
	int st;
	char *out = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "%s: %s", cmd, out);
	return out;
}

/* The server span for /r/id. */
static const at_otlp_span *request_span(const struct at_rx_span *sp, size_t n,
					int id)
{
	char path[32];

	snprintf(path, sizeof(path), "/r/%d", id);
	for (size_t i = 0; i < n; i++) {
		const char *u = h_attr_str(sp[i].span, "url.path");
		if (sp[i].span->kind == KIND_SERVER && u && !strcmp(u, path))
			return sp[i].span;
	}
	return NULL;
}

static bool same_id(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
	return a.len == b.len && a.len > 0 && !memcmp(a.data, b.data, a.len);
}

static void server_parents(bool auto_pipeline)
{
	struct h_env e;
	struct at_rx_span *sp;
	char pf[512], *np = node_path_env(), *out;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(pf, sizeof(pf), "%s/http.port", e.dir);
	const char *argv[] = { "node", "tests/fixtures/wire/rd_ioredis.js", "serve",
			       rd_port(), pf, auto_pipeline ? "auto" : "plain",
			       NULL };
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=rd-server", np, NULL };
	pid_t pid = h_start(argv, env, true, NULL);
	uint16_t port = h_read_port(pf, WAIT_MS);
	cr_assert_gt(port, 0, "the Node server did not start");

	/* One at a time: each request's commands are its children. */
	for (int id = 1; id <= 3; id++) {
		char path[32], want[32];
		snprintf(path, sizeof(path), "/r/%d", id);
		snprintf(want, sizeof(want), "%d %d\n", id, id);
		out = curl_get(port, path);
		cr_expect_str_eq(out, want);
		free(out);
	}
	/* Six at once, on one shared Redis connection. */
	out = curl_get(port, "/r/11 /r/12 /r/13 /r/14 /r/15 /r/16");
	cr_expect_eq(strlen(out), 6 * 6, "%s", out);
	free(out);
	cr_expect_eq(h_stop(pid, WAIT_MS), 0);

	n = h_spans(e.rx, 9 * 4, WAIT_MS, &sp);
	int ids[] = { 1, 2, 3, 11, 12, 13, 14, 15, 16 };
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		int id = ids[k];
		const at_otlp_span *req = request_span(sp, n, id);
		const char *fmt[] = { "SET req:%d:k ?", "GET req:%d:k",
				      "GET req:%d:none" };

		cr_assert_not_null(req, "no server span for /r/%d", id);
		for (int j = 0; j < 3; j++) {
			char text[64];
			snprintf(text, sizeof(text), fmt[j], id);
			const at_otlp_span *s = by_text(sp, n, text);
			cr_assert_not_null(s, "no span %s", text);
			cr_expect_eq(count_text(sp, n, text), 1, "%s", text);
			if (id < 10 || !auto_pipeline) {
				/* Sequential, or concurrent with Node's runtime
				 * bridge telling which request each write is
				 * for: exactly this request's child. */
				cr_expect(same_id(s->parent_span_id, req->span_id),
					  "%s: not a child of /r/%d", text, id);
				cr_expect(same_id(s->trace_id, req->trace_id));
			} else {
				/* Auto-pipelined: the commands of several
				 * requests go out in one write, made in the
				 * context of one of them, or of none (an
				 * ioredis flush outside any request): a child
				 * of one of these requests, or a root; never
				 * of an earlier request. */
				bool found = s->parent_span_id.len == 0;
				for (int m = 11; m <= 16; m++) {
					const at_otlp_span *o = request_span(sp, n, m);
					found |= o && same_id(s->parent_span_id,
							      o->span_id);
				}
				cr_expect(found, "%s: the child of an earlier request",
					  text);
			}
			cr_expect_eq(attr_bool(s, "autotrace.cache.hit"),
				     j == 0 ? -1 : j == 1 ? 1 : 0, "%s", text);
		}
	}
	free(sp);
	free(np);
	h_env_stop(&e);
}

Test(redis, ioredis_http_server_parents, .timeout = 180)
{
	server_parents(false);
}

Test(redis, ioredis_auto_pipelining_parents, .timeout = 180)
{
	server_parents(true);
}

Test(redis, redis_py_auth_pipelines_and_pubsub, .timeout = 180)
{
	struct h_env e;
	struct at_rx_span *sp;
	const char *secret = "Rd-S3cret-9417";
	char acl[256];
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(acl, sizeof(acl), "acl setuser rdpy on '>%s' '~*' '&*' '+@all'",
		 secret);
	free(cli(rd_port(), acl));
	const char *argv[] = { "/usr/bin/python3", "tests/fixtures/wire/rd_redispy.py",
			       rd_port(), "py:", "rdpy", secret, NULL };
	n = run_both(&e, argv, NULL, &sp, 20);

	const at_otlp_span *s = expect_cmd(sp, n, "AUTH ? ?", "AUTH", -1);
	cr_expect(!s->status || s->status->code != STATUS_ERROR);
	expect_cmd(sp, n, "GET py:a", "GET", 1);
	expect_cmd(sp, n, "GET py:missing", "GET", 0);
	s = expect_cmd(sp, n, "MGET py:a py:missing", "MGET", 0);
	cr_expect_eq(h_attr_int(s, "autotrace.cache.hits", -1), 1);
	cr_expect_eq(h_attr_int(s, "autotrace.cache.misses", -1), 1);
	s = expect_cmd(sp, n, "GET py:list", "GET", -1);
	cr_expect_str_eq(h_attr_str(s, "error.type"), "WRONGTYPE");
	/* The transaction and the pipeline, each in one write. */
	cr_expect_eq(count_text(sp, n, "MULTI"), 1);
	cr_expect_eq(count_text(sp, n, "INCRBY py:n ?"), 2);
	cr_expect_eq(count_text(sp, n, "EXEC"), 1);
	for (int i = 0; i < 4; i++) {
		char t[32];
		snprintf(t, sizeof(t), "SET py:p%d ?", i);
		cr_expect_eq(count_text(sp, n, t), 1, "%s", t);
	}
	/* Pub/sub: SUBSCRIBE's span, then the connection passes (no span
	 * for UNSUBSCRIBE); the other connections go on. */
	expect_cmd(sp, n, "SUBSCRIBE ?", "SUBSCRIBE", -1);
	expect_cmd(sp, n, "PUBLISH py:ch ?", "PUBLISH", -1);
	for (size_t i = 0; i < n; i++)
		cr_expect(strcmp(sp[i].span->name, "UNSUBSCRIBE"),
			  "a span in pub/sub mode");
	cr_expect_eq(count_text(sp, n, "GET py:a"), 2);
	not_exported(e.dir, secret);
	free(sp);
	h_env_stop(&e);
}

Test(redis, inline_commands_and_resp3_pushes, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	const char *argv[] = { "/usr/bin/python3", "tests/fixtures/wire/rd_inline.py",
			       rd_port(), "inl:", NULL };
	n = run_both(&e, argv, NULL, &sp, 12);
	/* Four inline commands in one write. */
	expect_cmd(sp, n, "PING", "PING", -1);
	expect_cmd(sp, n, "SET inl:k ?", "SET", -1);
	cr_expect_eq(count_text(sp, n, "SET inl:k ?"), 2);
	expect_cmd(sp, n, "GET inl:none", "GET", 0);
	expect_cmd(sp, n, "HELLO ?", "HELLO", -1);
	expect_cmd(sp, n, "CLIENT TRACKING ?", "CLIENT", -1);
	/* The invalidation push between two GETs ends neither. */
	cr_expect_eq(count_text(sp, n, "GET inl:k"), 3);
	for (size_t i = 0; i < n; i++) {
		const char *t = h_attr_str(sp[i].span, "db.query.text");
		if (t && !strcmp(t, "GET inl:k"))
			cr_expect_eq(attr_bool(sp[i].span, "autotrace.cache.hit"), 1);
	}
	/* RESP3: an empty map is a miss. */
	expect_cmd(sp, n, "HGETALL inl:nohash", "HGETALL", 0);
	free(sp);
	h_env_stop(&e);
}

Test(redis, redis_cli_unix_socket_raw_query_and_secrets, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	char sock[256], script[2048];
	const char *secret = "Cli-S3cret-5531";
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	rd_port();
	snprintf(sock, sizeof(sock), "%s/redis.sock", getenv("AT_REDIS_DIR"));
	snprintf(script, sizeof(script),
		 "redis-cli -s %s -n 4 set cli:k value-4 >/dev/null && "
		 "redis-cli -s %s -n 4 get cli:k && "
		 "redis-cli -s %s acl setuser rdcli on '>%s' '~*' '+@all' && "
		 "redis-cli -s %s --user rdcli --pass %s --no-auth-warning ping && "
		 "redis-cli -3 -s %s hgetall cli:nohash",
		 sock, sock, sock, secret, sock, secret, sock);
	const char *argv[] = { "sh", "-c", script, NULL };
	n = run_both(&e, argv, "AUTOTRACE_DB_RAW_QUERY=true", &sp, 8);

	/* Raw: the values stay, but never AUTH's nor ACL's arguments. */
	const at_otlp_span *s = expect_cmd(sp, n, "SET cli:k value-4", "SET", -1);
	cr_expect_str_eq(h_attr_str(s, "db.namespace"), "4");
	cr_expect_str_eq(h_attr_str(s, "server.address"), sock);
	cr_expect_str_eq(h_attr_str(s, "network.transport"), "unix");
	expect_cmd(sp, n, "GET cli:k", "GET", 1);
	expect_cmd(sp, n, "SELECT 4", "SELECT", -1);
	expect_cmd(sp, n, "ACL SETUSER ? ? ? ? ?", "ACL", -1);
	expect_cmd(sp, n, "AUTH ? ?", "AUTH", -1);
	expect_cmd(sp, n, "PING", "PING", -1);
	expect_cmd(sp, n, "HGETALL cli:nohash", "HGETALL", 0);
	not_exported(e.dir, secret);
	free(sp);
	h_env_stop(&e);
}

Test(redis, protocols_setting_turns_it_off, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	const char *argv[] = { "redis-cli", "-h", "127.0.0.1", "-p", rd_port(),
			       "ping", NULL };
	n = run_both(&e, argv, "AUTOTRACE_PROTOCOLS=postgresql,mysql", &sp, 1);
	cr_expect_gt(n, 0);
	for (size_t i = 0; i < n; i++)
		cr_expect_not(is_redis(sp[i].span), "a redis span: %s",
			      sp[i].span->name);
	free(sp);
	h_env_stop(&e);
}
