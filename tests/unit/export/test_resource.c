/*
 * test_resource.c - the Resource: service.name rules, process and host
 * facts, precedence against OTEL_RESOURCE_ATTRIBUTES, bounds.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "at_compat.h"
#include "at_config.h"
#include "at_resource.h"

static struct at_config cfg;
static struct at_resource res;

static void setup(void)
{
	at_config_defaults(&cfg);
	memset(&res, 0x77, sizeof(res));
}

TestSuite(resource, .init = setup);

/* The test binary's own name, computed independently. */
static void own_exe_name(char *out, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	const char *base;

	cr_assert_gt(n, 0);
	path[n] = '\0';
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	cr_assert_lt(strlen(base), cap);
	memcpy(out, base, strlen(base) + 1);
}

static const struct at_kv *find(const char *key)
{
	const struct at_kv *hit = NULL;

	for (size_t i = 0; i < res.n; i++) {
		if (strcmp(res.attrs[i].key, key) == 0) {
			cr_assert_null(hit, "key %s appears twice", key);
			hit = &res.attrs[i];
		}
	}
	return hit;
}

/* Every string value lies inside buf and is NUL-terminated there. */
static void check_invariants(void)
{
	cr_assert_leq(res.n, AT_RESOURCE_MAX_ATTRS);
	cr_assert_leq(res.buf_used, sizeof(res.buf));
	for (size_t i = 0; i < res.n; i++) {
		const struct at_kv *kv = &res.attrs[i];

		cr_assert_not_null(kv->key);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(kv->key, res.attrs[j].key);
		if (kv->type != AT_KV_STRING)
			continue;
		cr_assert_not_null(kv->s);
		cr_assert(kv->s >= res.buf &&
			  kv->s < res.buf + res.buf_used, "%s outside buf",
			  kv->key);
		cr_assert_lt(kv->s + strlen(kv->s), res.buf + res.buf_used);
	}
}

Test(resource, defaults)
{
	char exe[256], want[300], host[256];
	const struct at_kv *pid;

	own_exe_name(exe, sizeof(exe));
	at_resource_build(&res, &cfg, 4242);
	check_invariants();

	snprintf(want, sizeof(want), "unknown_service:%s", exe);
	cr_expect_str_eq(at_resource_get(&res, "service.name"), want);
	cr_expect_str_eq(res.attrs[0].key, "service.name");
	cr_expect_str_eq(at_resource_get(&res, "process.executable.name"),
			 exe);
	pid = find("process.pid");
	cr_assert_not_null(pid);
	cr_expect_eq(pid->type, AT_KV_INT);
	cr_expect_eq(pid->i, 4242);
	cr_expect_null(at_resource_get(&res, "process.pid"));
	cr_expect_null(at_resource_get(&res, "process.command_line"));
	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	cr_expect_str_eq(at_resource_get(&res, "host.name"), host);
	cr_expect_str_eq(at_resource_get(&res, "telemetry.sdk.name"),
			 "libautotrace");
	cr_expect_str_eq(at_resource_get(&res, "telemetry.sdk.version"),
			 AT_VERSION);
	cr_expect_str_eq(at_resource_get(&res, "telemetry.sdk.language"), "c");
	cr_expect_eq(res.n, 7);
}

Test(resource, service_name_from_config)
{
	strcpy(cfg.service_name, "checkout");
	at_resource_build(&res, &cfg, 1);
	check_invariants();
	cr_expect_str_eq(at_resource_get(&res, "service.name"), "checkout");
}

Test(resource, null_config)
{
	char exe[256], want[300];

	own_exe_name(exe, sizeof(exe));
	at_resource_build(&res, NULL, 7);
	check_invariants();
	snprintf(want, sizeof(want), "unknown_service:%s", exe);
	cr_expect_str_eq(at_resource_get(&res, "service.name"), want);
	cr_expect_eq(find("process.pid")->i, 7);
	at_resource_build(NULL, &cfg, 7);
	cr_expect_null(at_resource_get(NULL, "service.name"));
	cr_expect_null(at_resource_get(&res, NULL));
	cr_expect_null(at_resource_get(&res, "no.such.key"));
}

/* /proc/self/cmdline with the NULs between arguments as spaces. */
static void own_cmdline(char *out, size_t cap)
{
	int fd = open("/proc/self/cmdline", O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0);
	n = read(fd, out, cap - 1);
	close(fd);
	cr_assert_gt(n, 0);
	while (n > 0 && out[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++) {
		if (out[i] == '\0')
			out[i] = ' ';
	}
	out[n] = '\0';
}

Test(resource, command_line_only_when_enabled)
{
	char want[4096];

	cfg.capture_command_line = 1;
	at_resource_build(&res, &cfg, 1);
	check_invariants();
	own_cmdline(want, sizeof(want));
	cr_assert_not_null(at_resource_get(&res, "process.command_line"));
	cr_expect_str_eq(at_resource_get(&res, "process.command_line"), want);

	cfg.capture_command_line = 0;
	at_resource_build(&res, &cfg, 1);
	cr_expect_null(at_resource_get(&res, "process.command_line"));
}

static void set_attrs(const char *const *kv, size_t n)
{
	cfg.n_resource = n;
	for (size_t i = 0; i < n; i++) {
		cfg.resource[i].key = (char *)kv[2 * i];
		cfg.resource[i].value = (char *)kv[2 * i + 1];
	}
}

Test(resource, user_attributes_and_precedence)
{
	static const char *const kv[] = {
		"deployment.environment", "prod",
		"host.name", "my-host",
		"process.pid", "1",
		"process.executable.name", "fake",
		"telemetry.sdk.name", "other",
		"telemetry.sdk.language", "go",
		"process.command_line", "user supplied",
		"service.name", "ignored-here",
		"team", "payments",
	};
	char exe[256];

	own_exe_name(exe, sizeof(exe));
	strcpy(cfg.service_name, "svc");
	set_attrs(kv, sizeof(kv) / sizeof(kv[0]) / 2);
	at_resource_build(&res, &cfg, 99);
	check_invariants();

	cr_expect_str_eq(at_resource_get(&res, "service.name"), "svc");
	cr_expect_str_eq(at_resource_get(&res, "deployment.environment"),
			 "prod");
	cr_expect_str_eq(at_resource_get(&res, "team"), "payments");
	/* the user's host.name wins over gethostname() */
	cr_expect_str_eq(at_resource_get(&res, "host.name"), "my-host");
	/* our process.* and telemetry.sdk.* win */
	cr_expect_eq(find("process.pid")->type, AT_KV_INT);
	cr_expect_eq(find("process.pid")->i, 99);
	cr_expect_str_eq(at_resource_get(&res, "process.executable.name"),
			 exe);
	cr_expect_str_eq(at_resource_get(&res, "telemetry.sdk.name"),
			 "libautotrace");
	cr_expect_str_eq(at_resource_get(&res, "telemetry.sdk.language"), "c");
	/* command line not captured by us: the user's value stays */
	cr_expect_str_eq(at_resource_get(&res, "process.command_line"),
			 "user supplied");

	/* captured: ours wins */
	cfg.capture_command_line = 1;
	at_resource_build(&res, &cfg, 99);
	check_invariants();
	cr_expect_str_neq(at_resource_get(&res, "process.command_line"),
			  "user supplied");

	/* the user's attributes come right after service.name */
	cr_expect_str_eq(res.attrs[1].key, "deployment.environment");
	cr_expect_str_eq(res.attrs[2].key, "host.name");
}

Test(resource, strings_made_valid_utf8)
{
	static const char *const kv[] = {
		"bad", "a\xff" "b\xc3",
		"good", "caf\xc3\xa9",
	};

	set_attrs(kv, 2);
	at_resource_build(&res, &cfg, 1);
	check_invariants();
	cr_expect_str_eq(at_resource_get(&res, "bad"),
			 "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	cr_expect_str_eq(at_resource_get(&res, "good"), "caf\xc3\xa9");
}

Test(resource, bounded_with_huge_attributes)
{
	static char keys[AT_CFG_RESOURCE_ATTRS][16];
	static char big[3000];
	static const char *kv[2 * AT_CFG_RESOURCE_ATTRS];

	memset(big, 'v', sizeof(big) - 1);
	for (size_t i = 0; i < AT_CFG_RESOURCE_ATTRS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		kv[2 * i] = keys[i];
		kv[2 * i + 1] = (i % 2) ? big : "small";
	}
	memset(cfg.service_name, 's', sizeof(cfg.service_name) - 1);
	cfg.capture_command_line = 1;
	set_attrs(kv, AT_CFG_RESOURCE_ATTRS);
	at_resource_build(&res, &cfg, 1);
	check_invariants();
	/* our facts survive even when the user's attributes do not fit */
	cr_expect_not_null(at_resource_get(&res, "telemetry.sdk.name"));
	cr_expect_not_null(at_resource_get(&res, "telemetry.sdk.version"));
	cr_expect_not_null(at_resource_get(&res, "telemetry.sdk.language"));
	cr_expect_not_null(at_resource_get(&res, "process.executable.name"));
	cr_expect_not_null(at_resource_get(&res, "host.name"));
	cr_expect_not_null(find("process.pid"));
	cr_expect_eq(strlen(at_resource_get(&res, "service.name")),
		     sizeof(cfg.service_name) - 1);
	/* all the small ones fit */
	for (size_t i = 0; i < AT_CFG_RESOURCE_ATTRS; i += 2)
		cr_expect_not_null(at_resource_get(&res, keys[i]), "%s",
				   keys[i]);
}

Test(resource, rebuild_resets)
{
	static const char *const kv[] = { "a", "1" };

	set_attrs(kv, 1);
	at_resource_build(&res, &cfg, 1);
	cfg.n_resource = 0;
	at_resource_build(&res, &cfg, 2);
	check_invariants();
	cr_expect_null(at_resource_get(&res, "a"));
	cr_expect_eq(find("process.pid")->i, 2);
}

static const char *table_getenv(const char *name, void *ud)
{
	const char *const (*env)[2] = ud;

	for (size_t i = 0; env[i][0] != NULL; i++) {
		if (strcmp(env[i][0], name) == 0)
			return env[i][1];
	}
	return NULL;
}

Test(resource, from_loaded_config)
{
	static const char *const env[][2] = {
		{ "OTEL_SERVICE_NAME", "api" },
		{ "OTEL_RESOURCE_ATTRIBUTES",
		  "service.name=x,region=eu%2Dwest,host.name=h1" },
		{ NULL, NULL },
	};

	at_config_load(&cfg, table_getenv, (void *)env, NULL, NULL);
	at_resource_build(&res, &cfg, 5);
	check_invariants();
	cr_expect_str_eq(at_resource_get(&res, "service.name"), "api");
	cr_expect_str_eq(at_resource_get(&res, "region"), "eu-west");
	cr_expect_str_eq(at_resource_get(&res, "host.name"), "h1");
	cr_expect_eq(find("process.pid")->i, 5);
}
