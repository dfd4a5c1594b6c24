/*
 * test_config.c - environment configuration: defaults, valid values, one
 * warning (and the default) per invalid value, endpoint and header and
 * resource-attribute parsing.
 *
 * The environment is a table read through a fake getenv callback; the
 * warn callback records the lines it receives.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "at_config.h"
#include "at_propagators.h"

#define MAX_ENV 80
#define MAX_WARN 16

struct env_var {
	const char *name;
	const char *value;
};

static struct env_var env_tab[MAX_ENV];
static size_t env_n;
static char warns[MAX_WARN][1024];
static int n_warn;
static struct at_config cfg, def;

static const char *fake_getenv(const char *name, void *ud)
{
	cr_assert_eq(ud, (void *)env_tab);
	for (size_t i = 0; i < env_n; i++) {
		if (strcmp(env_tab[i].name, name) == 0)
			return env_tab[i].value;
	}
	return NULL;
}

static void fake_warn(const char *line, void *ud)
{
	cr_assert_eq(ud, (void *)warns);
	cr_assert_lt(strlen(line), 600, "warning too long: %s", line);
	cr_assert_null(strchr(line, '\n'), "newline in warning: %s", line);
	if (n_warn < MAX_WARN)
		snprintf(warns[n_warn], sizeof(warns[0]), "%s", line);
	n_warn++;
}

/* load(name, value, name, value, ..., NULL) */
static void load(const char *first, ...)
{
	va_list ap;
	const char *name = first;

	env_n = 0;
	n_warn = 0;
	va_start(ap, first);
	while (name != NULL) {
		cr_assert_lt(env_n, MAX_ENV);
		env_tab[env_n].name = name;
		env_tab[env_n].value = va_arg(ap, const char *);
		env_n++;
		name = va_arg(ap, const char *);
	}
	va_end(ap);
	at_config_load(&cfg, fake_getenv, env_tab, fake_warn, warns);
}

static void load1(const char *name, const char *value)
{
	load(name, value, NULL);
}

static void expect_warns(int n, const char *ctx)
{
	cr_expect_eq(n_warn, n, "%s: %d warnings, expected %d (first: %s)",
		     ctx, n_warn, n, n_warn > 0 ? warns[0] : "-");
}

static void setup(void)
{
	at_config_defaults(&def);
}

TestSuite(config, .init = setup);

/* ---- defaults ---- */

Test(config, defaults)
{
	load(NULL);
	expect_warns(0, "empty environment");
	cr_expect_eq(cfg.sdk_disabled, 0);
	cr_expect_eq(cfg.exporter, AT_EXPORTER_OTLP);
	cr_expect_eq(cfg.sampler.kind, AT_SAMPLER_PARENTBASED_ALWAYS_ON);
	cr_expect_eq(cfg.sampler.ratio_all, 1);
	cr_expect_str_eq(cfg.endpoint.url, "http://localhost:4318/v1/traces");
	cr_expect_str_eq(cfg.endpoint.host, "localhost");
	cr_expect_str_eq(cfg.endpoint.hostport, "localhost:4318");
	cr_expect_eq(cfg.endpoint.port, 4318);
	cr_expect_str_eq(cfg.endpoint.path, "/v1/traces");
	cr_expect_str_eq(cfg.headers, "");
	cr_expect_eq(cfg.export_timeout_ms, 10000);
	cr_expect_eq(cfg.compression, AT_COMPRESSION_NONE);
	cr_expect_eq(cfg.bsp_schedule_delay_ms, 5000);
	cr_expect_eq(cfg.bsp_export_timeout_ms, 30000);
	cr_expect_eq(cfg.bsp_max_queue_size, 2048);
	cr_expect_eq(cfg.bsp_max_export_batch, 512);
	cr_expect_eq(cfg.attr_count_limit, 128);
	cr_expect_eq(cfg.attr_value_len_limit, UINT32_MAX);
	cr_expect_eq(cfg.event_count_limit, 128);
	cr_expect_eq(cfg.event_attr_count_limit, 128);
	cr_expect_str_eq(cfg.service_name, "");
	cr_expect_eq(cfg.n_resource, 0);
	cr_expect_eq(cfg.debug, 0);
	cr_expect_eq(cfg.capture_command_line, 0);
	cr_expect_eq(cfg.exit_timeout_ms, 3000);
	cr_expect_eq(memcmp(&cfg, &def, sizeof(cfg)), 0);
}

Test(config, null_callbacks)
{
	at_config_load(&cfg, NULL, NULL, NULL, NULL);
	cr_expect_eq(memcmp(&cfg, &def, sizeof(cfg)), 0);
	/* warnings without a warn callback: silently dropped */
	env_n = 1;
	env_tab[0].name = "OTEL_BSP_SCHEDULE_DELAY";
	env_tab[0].value = "x";
	at_config_load(&cfg, fake_getenv, env_tab, NULL, NULL);
	cr_expect_eq(cfg.bsp_schedule_delay_ms, 5000);
	at_config_load(NULL, fake_getenv, env_tab, fake_warn, warns);
}

static const char *const all_vars[] = {
	"OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
	"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT",
	"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_COMPRESSION",
	"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_BSP_SCHEDULE_DELAY",
	"OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE",
	"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
	"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT",
	"OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT",
	"OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "AUTOTRACE_DEBUG",
	"AUTOTRACE_CAPTURE_COMMAND_LINE", "AUTOTRACE_EXIT_TIMEOUT",
};

Test(config, empty_values_are_silent_defaults)
{
	env_n = 0;
	for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++) {
		env_tab[env_n].name = all_vars[i];
		env_tab[env_n].value = "";
		env_n++;
	}
	n_warn = 0;
	at_config_load(&cfg, fake_getenv, env_tab, fake_warn, warns);
	expect_warns(0, "all empty");
	cr_expect_eq(memcmp(&cfg, &def, sizeof(cfg)), 0);
}

/* ---- valid values ---- */

Test(config, booleans)
{
	cr_expect_eq(at_parse_bool("true"), 1);
	cr_expect_eq(at_parse_bool("TRUE"), 1);
	cr_expect_eq(at_parse_bool("True"), 1);
	cr_expect_eq(at_parse_bool("false"), 0);
	cr_expect_eq(at_parse_bool("FaLsE"), 0);
	cr_expect_eq(at_parse_bool("1"), -1);
	cr_expect_eq(at_parse_bool("0"), -1);
	cr_expect_eq(at_parse_bool("yes"), -1);
	cr_expect_eq(at_parse_bool(""), -1);
	cr_expect_eq(at_parse_bool("true "), -1);
	cr_expect_eq(at_parse_bool("truex"), -1);
	cr_expect_eq(at_parse_bool("tru"), -1);
	cr_expect_eq(at_parse_bool(NULL), -1);

	load1("OTEL_SDK_DISABLED", "TRUE");
	cr_expect_eq(cfg.sdk_disabled, 1);
	load1("OTEL_SDK_DISABLED", "false");
	cr_expect_eq(cfg.sdk_disabled, 0);
	load("AUTOTRACE_DEBUG", "1", "AUTOTRACE_CAPTURE_COMMAND_LINE", "true",
	     NULL);
	cr_expect_eq(cfg.debug, 1);
	cr_expect_eq(cfg.capture_command_line, 1);
	load("AUTOTRACE_DEBUG", "True", "AUTOTRACE_CAPTURE_COMMAND_LINE", "1",
	     NULL);
	cr_expect_eq(cfg.debug, 1);
	cr_expect_eq(cfg.capture_command_line, 1);
	load("AUTOTRACE_DEBUG", "0", "AUTOTRACE_CAPTURE_COMMAND_LINE", "false",
	     NULL);
	cr_expect_eq(cfg.debug, 0);
	cr_expect_eq(cfg.capture_command_line, 0);
	expect_warns(0, "booleans");
}

/* AUTOTRACE_PROPAGATE_PRELOAD: a boolean (true: the rule of at_proc.h)
 * or "always"; anything else warns and keeps the rule. */
Test(config, propagate_preload)
{
	static const struct {
		const char *value;
		int mode;
	} ok[] = {
		{ "true", AT_PRELOAD_RULE },   { "1", AT_PRELOAD_RULE },
		{ "FALSE", AT_PRELOAD_NEVER }, { "0", AT_PRELOAD_NEVER },
		{ "always", AT_PRELOAD_ALWAYS }, { "Always", AT_PRELOAD_ALWAYS },
	};

	cr_expect_eq(def.propagate_preload, AT_PRELOAD_RULE);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		load1("AUTOTRACE_PROPAGATE_PRELOAD", ok[i].value);
		expect_warns(0, ok[i].value);
		cr_expect_eq(cfg.propagate_preload, ok[i].mode, "%s",
			     ok[i].value);
	}
	load1("AUTOTRACE_PROPAGATE_PRELOAD", "never");
	expect_warns(1, "never");
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "AUTOTRACE_PROPAGATE_PRELOAD=\"never\" (expected "
			 "true, false, always, 1 or 0); using true");
	cr_expect_eq(cfg.propagate_preload, AT_PRELOAD_RULE);
}

/* AUTOTRACE_PROTOCOLS: a comma list of the wire decoders to run; "all",
 * "none"; anything else warns once and keeps all. */
Test(config, protocols)
{
	static const struct {
		const char *value;
		uint32_t set;
	} ok[] = {
		{ "all", AT_PROTO_ALL },
		{ "none", 0 },
		{ "postgresql", AT_PROTO_POSTGRESQL },
		{ "Redis", AT_PROTO_REDIS },
		{ "mysql, redis", AT_PROTO_MYSQL | AT_PROTO_REDIS },
		{ " postgresql ,mysql,redis ", AT_PROTO_ALL },
	};
	static const char *const bad[] = { "pg", "redis,", ",", "mysql redis",
					   "postgresqlx", "a,b" };

	cr_expect_eq(def.protocols, AT_PROTO_ALL);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		load1("AUTOTRACE_PROTOCOLS", ok[i].value);
		expect_warns(0, ok[i].value);
		cr_expect_eq(cfg.protocols, ok[i].set, "%s", ok[i].value);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load1("AUTOTRACE_PROTOCOLS", bad[i]);
		expect_warns(1, bad[i]);
		cr_expect_eq(cfg.protocols, AT_PROTO_ALL, "%s", bad[i]);
	}
	load1("AUTOTRACE_PROTOCOLS", "pg");
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "AUTOTRACE_PROTOCOLS=\"pg\" (expected a comma list "
			 "of postgresql, mysql, redis; all or none); using all");
	load1("AUTOTRACE_DB_SQLCOMMENTER", "true");
	cr_expect_eq(cfg.db_sqlcommenter, 1);
	cr_expect_eq(def.db_sqlcommenter, 0);
}

/* OTEL_PROPAGATORS: the formats and their order; an unknown name warns
 * once and keeps tracecontext,baggage.  AUTOTRACE_BAGGAGE_ATTRIBUTES:
 * baggage keys (tokens), NUL-separated; anything else warns, keeps none. */
Test(config, propagators)
{
	cr_expect_eq(def.propagators, AT_PROP_TRACECONTEXT | AT_PROP_BAGGAGE);
	cr_expect_eq(def.n_prop, 2);
	load1("OTEL_PROPAGATORS", "b3, jaeger,tracecontext");
	expect_warns(0, "b3, jaeger,tracecontext");
	cr_expect_eq(cfg.propagators, AT_PROP_B3 | AT_PROP_JAEGER | AT_PROP_TRACECONTEXT);
	cr_assert_eq(cfg.n_prop, 3);
	cr_expect_eq(cfg.prop_order[0], AT_PROP_B3);
	cr_expect_eq(cfg.prop_order[2], AT_PROP_TRACECONTEXT);
	load1("OTEL_PROPAGATORS", "none");
	expect_warns(0, "none");
	cr_expect_eq(cfg.propagators, 0);
	load1("OTEL_PROPAGATORS", "tracecontext,xray");
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_PROPAGATORS=\"tracecontext,xray\" (expected a comma "
			 "list of tracecontext, baggage, b3, b3multi, jaeger; or "
			 "none); using tracecontext,baggage");
	cr_expect_eq(cfg.propagators, AT_PROP_DEFAULT);
	cr_expect_eq(cfg.n_prop, 2);

	cr_expect_eq(def.n_baggage_attrs, 0);
	load1("AUTOTRACE_BAGGAGE_ATTRIBUTES", " user.id , tenant,");
	expect_warns(0, "user.id , tenant,");
	cr_assert_eq(cfg.n_baggage_attrs, 2);
	cr_expect_str_eq(cfg.baggage_attrs, "user.id");
	cr_expect_str_eq(cfg.baggage_attrs + 8, "tenant");
	load1("AUTOTRACE_BAGGAGE_ATTRIBUTES", "user id");
	expect_warns(1, "user id");
	cr_expect_eq(cfg.n_baggage_attrs, 0);
}

Test(config, samplers)
{
	static const struct {
		const char *name;
		enum at_sampler_kind kind;
	} t[] = {
		{ "always_on", AT_SAMPLER_ALWAYS_ON },
		{ "always_off", AT_SAMPLER_ALWAYS_OFF },
		{ "traceidratio", AT_SAMPLER_TRACEIDRATIO },
		{ "parentbased_always_on", AT_SAMPLER_PARENTBASED_ALWAYS_ON },
		{ "parentbased_always_off", AT_SAMPLER_PARENTBASED_ALWAYS_OFF },
		{ "parentbased_traceidratio",
		  AT_SAMPLER_PARENTBASED_TRACEIDRATIO },
		{ "TraceIdRatio", AT_SAMPLER_TRACEIDRATIO },
		{ "ALWAYS_OFF", AT_SAMPLER_ALWAYS_OFF },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		load1("OTEL_TRACES_SAMPLER", t[i].name);
		expect_warns(0, t[i].name);
		cr_expect_eq(cfg.sampler.kind, t[i].kind, "%s", t[i].name);
	}
}

Test(config, sampler_arg)
{
	static const struct {
		const char *arg;
		uint64_t threshold;
		int all;
	} t[] = {
		{ "0.5", 1ULL << 62, 0 },
		{ "0.25", 1ULL << 61, 0 },
		{ ".5", 1ULL << 62, 0 },
		{ "0.", 0, 0 },
		{ "0", 0, 0 },
		{ "1", UINT64_MAX, 1 },
		{ "1.0", UINT64_MAX, 1 },
		{ "1.000", UINT64_MAX, 1 },
		{ "0.125000000000000000000000000001", 1ULL << 60, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		load("OTEL_TRACES_SAMPLER", "traceidratio",
		     "OTEL_TRACES_SAMPLER_ARG", t[i].arg, NULL);
		expect_warns(0, t[i].arg);
		cr_expect_eq(cfg.sampler.ratio_all, t[i].all, "%s", t[i].arg);
		if (!t[i].all)
			cr_expect_eq(cfg.sampler.threshold, t[i].threshold,
				     "%s", t[i].arg);
	}
	load("OTEL_TRACES_SAMPLER", "parentbased_traceidratio",
	     "OTEL_TRACES_SAMPLER_ARG", "0.5", NULL);
	cr_expect_eq(cfg.sampler.threshold, 1ULL << 62);
	/* default ratio 1.0 */
	load1("OTEL_TRACES_SAMPLER", "traceidratio");
	cr_expect_eq(cfg.sampler.ratio_all, 1);
	/* ignored silently for the other samplers, even when invalid */
	load("OTEL_TRACES_SAMPLER", "always_on", "OTEL_TRACES_SAMPLER_ARG",
	     "bogus", NULL);
	expect_warns(0, "arg for always_on");
	load1("OTEL_TRACES_SAMPLER_ARG", "0.1");
	expect_warns(0, "arg for default sampler");
	cr_expect_eq(cfg.sampler.kind, AT_SAMPLER_PARENTBASED_ALWAYS_ON);
}

Test(config, exporter_protocol_compression)
{
	load1("OTEL_TRACES_EXPORTER", "none");
	cr_expect_eq(cfg.exporter, AT_EXPORTER_NONE);
	load1("OTEL_TRACES_EXPORTER", "OTLP");
	cr_expect_eq(cfg.exporter, AT_EXPORTER_OTLP);
	load("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
	     "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "HTTP/PROTOBUF", NULL);
	expect_warns(0, "protocol");
	cr_expect_eq(cfg.otlp_protocol, AT_OTLP_HTTP_PROTOBUF);
	/* http/json: OTLP/JSON; the _TRACES_ variable wins */
	load1("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
	expect_warns(0, "json");
	cr_expect_eq(cfg.otlp_protocol, AT_OTLP_HTTP_JSON);
	load("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
	     "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", NULL);
	cr_expect_eq(cfg.otlp_protocol, AT_OTLP_HTTP_JSON);
	load("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json",
	     "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", NULL);
	cr_expect_eq(cfg.otlp_protocol, AT_OTLP_HTTP_PROTOBUF);
	/* grpc: one line, the protocol in effect before is kept */
	load1("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
	cr_expect_eq(cfg.otlp_protocol, AT_OTLP_HTTP_PROTOBUF);
	expect_warns(1, "grpc");
	cr_expect_str_eq(warns[0], "libautotrace: unsupported "
			 "OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\" "
			 "(expected http/protobuf or http/json); "
			 "using http/protobuf");
	load("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json",
	     "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc", NULL);
	cr_expect_eq(cfg.otlp_protocol, AT_OTLP_HTTP_JSON);
	expect_warns(1, "traces grpc");
	cr_expect_str_eq(warns[0], "libautotrace: unsupported "
			 "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=\"grpc\" "
			 "(expected http/protobuf or http/json); "
			 "using http/json");
	load1("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
	cr_expect_eq(cfg.compression, AT_COMPRESSION_GZIP);
	load("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip",
	     "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none", NULL);
	cr_expect_eq(cfg.compression, AT_COMPRESSION_NONE);
	load("OTEL_EXPORTER_OTLP_COMPRESSION", "none",
	     "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "GZIP", NULL);
	cr_expect_eq(cfg.compression, AT_COMPRESSION_GZIP);
	/* invalid _TRACES_ value: the generic one applies */
	load("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip",
	     "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd", NULL);
	cr_expect_eq(cfg.compression, AT_COMPRESSION_GZIP);
	expect_warns(1, "traces compression");
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=\"zstd\" "
			 "(expected none or gzip); using gzip");
}

Test(config, integers)
{
	load("OTEL_EXPORTER_OTLP_TIMEOUT", "2500",
	     "OTEL_BSP_SCHEDULE_DELAY", "0",
	     "OTEL_BSP_EXPORT_TIMEOUT", "4294967295",
	     "OTEL_BSP_MAX_QUEUE_SIZE", "1048576",
	     "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1048576",
	     "OTEL_ATTRIBUTE_COUNT_LIMIT", "0",
	     "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "007",
	     "OTEL_SPAN_EVENT_COUNT_LIMIT", "3",
	     "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "4",
	     "OTEL_SPAN_LINK_COUNT_LIMIT", "0",
	     "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "5",
	     "AUTOTRACE_EXIT_TIMEOUT", "0", NULL);
	expect_warns(0, "integers");
	cr_expect_eq(cfg.export_timeout_ms, 2500);
	cr_expect_eq(cfg.bsp_schedule_delay_ms, 0);
	cr_expect_eq(cfg.bsp_export_timeout_ms, UINT32_MAX);
	cr_expect_eq(cfg.bsp_max_queue_size, 1048576);
	cr_expect_eq(cfg.bsp_max_export_batch, 1048576);
	cr_expect_eq(cfg.attr_count_limit, 0);
	cr_expect_eq(cfg.attr_value_len_limit, 7);
	cr_expect_eq(cfg.event_count_limit, 3);
	cr_expect_eq(cfg.event_attr_count_limit, 4);
	cr_expect_eq(cfg.exit_timeout_ms, 0);
}

Test(config, specific_variables_win)
{
	load("OTEL_EXPORTER_OTLP_TIMEOUT", "100",
	     "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "200",
	     "OTEL_ATTRIBUTE_COUNT_LIMIT", "10",
	     "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "20",
	     "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "30",
	     "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "40", NULL);
	expect_warns(0, "specific");
	cr_expect_eq(cfg.export_timeout_ms, 200);
	cr_expect_eq(cfg.attr_count_limit, 20);
	cr_expect_eq(cfg.attr_value_len_limit, 40);

	load("OTEL_EXPORTER_OTLP_TIMEOUT", "100",
	     "OTEL_ATTRIBUTE_COUNT_LIMIT", "10",
	     "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "30", NULL);
	cr_expect_eq(cfg.export_timeout_ms, 100);
	cr_expect_eq(cfg.attr_count_limit, 10);
	cr_expect_eq(cfg.attr_value_len_limit, 30);

	/* an invalid specific value falls back to the generic one */
	load("OTEL_EXPORTER_OTLP_TIMEOUT", "100",
	     "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "x",
	     "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "30",
	     "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1", NULL);
	expect_warns(2, "fallback");
	cr_expect_eq(cfg.export_timeout_ms, 100);
	cr_expect_eq(cfg.attr_value_len_limit, 30);
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=\"x\" (expected "
			 "milliseconds, a positive integer); using 100");
	cr_expect_str_eq(warns[1], "libautotrace: invalid "
			 "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT=\"-1\" "
			 "(expected a non-negative integer); using 30");
}

Test(config, bsp_queue_and_batch)
{
	load1("OTEL_BSP_MAX_QUEUE_SIZE", "100");
	expect_warns(0, "queue 100");
	cr_expect_eq(cfg.bsp_max_queue_size, 100);
	cr_expect_eq(cfg.bsp_max_export_batch, 100); /* silently bounded */

	load("OTEL_BSP_MAX_QUEUE_SIZE", "100",
	     "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1000", NULL);
	expect_warns(1, "batch > queue");
	cr_expect_eq(cfg.bsp_max_export_batch, 100);
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=\"1000\" (expected "
			 "an integer from 1 to the queue size 100); using 100");

	load("OTEL_BSP_MAX_QUEUE_SIZE", "100",
	     "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100", NULL);
	expect_warns(0, "batch == queue");
	cr_expect_eq(cfg.bsp_max_export_batch, 100);

	load1("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0");
	expect_warns(1, "batch 0");
	cr_expect_eq(cfg.bsp_max_export_batch, 512);

	load1("OTEL_BSP_MAX_QUEUE_SIZE", "0");
	expect_warns(1, "queue 0");
	cr_expect_eq(cfg.bsp_max_queue_size, 1);
	cr_expect_eq(cfg.bsp_max_export_batch, 1);
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_BSP_MAX_QUEUE_SIZE=\"0\" (expected an integer "
			 "from 1 to 1048576); using 1");

	load1("OTEL_BSP_MAX_QUEUE_SIZE", "2000000");
	expect_warns(1, "queue too big");
	cr_expect_eq(cfg.bsp_max_queue_size, 1048576);

	load1("OTEL_BSP_MAX_QUEUE_SIZE", "99999999999");
	expect_warns(1, "queue overflow");
	cr_expect_eq(cfg.bsp_max_queue_size, 2048);
}

/* ---- invalid values: one warning each, the default ---- */

struct bad_case {
	const char *name;
	const char *value;
};

static const struct bad_case bad_cases[] = {
	{ "OTEL_SDK_DISABLED", "1" },
	{ "OTEL_SDK_DISABLED", "yes" },
	{ "OTEL_SDK_DISABLED", "true " },
	{ "OTEL_SDK_DISABLED", " true" },
	{ "OTEL_SERVICE_NAME", "bad\xff" "utf8" },
	{ "OTEL_SERVICE_NAME", "\xc0\xaf" }, /* overlong */
	{ "OTEL_RESOURCE_ATTRIBUTES", "a=b,c" },
	{ "OTEL_RESOURCE_ATTRIBUTES", "=x" },
	{ "OTEL_RESOURCE_ATTRIBUTES", " =x,a=b" },
	{ "OTEL_RESOURCE_ATTRIBUTES", "a=%zz" },
	{ "OTEL_RESOURCE_ATTRIBUTES", "a=%4" },
	{ "OTEL_RESOURCE_ATTRIBUTES", "a=b,c=%ff" },
	{ "OTEL_RESOURCE_ATTRIBUTES", "a=b,%=c" },
	{ "OTEL_RESOURCE_ATTRIBUTES", "a=\xe2\x82" },
	{ "OTEL_RESOURCE_ATTRIBUTES", "service.name=x,a=%C0%80" },
	{ "OTEL_TRACES_SAMPLER", "foo" },
	{ "OTEL_TRACES_SAMPLER", "always-on" },
	{ "OTEL_TRACES_SAMPLER", "xray" },
	{ "OTEL_TRACES_SAMPLER", "jaeger_remote" },
	{ "OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote" },
	{ "OTEL_TRACES_SAMPLER", " always_on" },
	{ "OTEL_TRACES_EXPORTER", "console" },
	{ "OTEL_TRACES_EXPORTER", "zipkin" },
	{ "OTEL_TRACES_EXPORTER", "otlp,console" },
	{ "OTEL_TRACES_EXPORTER", "bogus" },
	{ "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc" },
	{ "OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml" },
	{ "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc" },
	{ "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "x" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "a" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "a b=c" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "=c" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=%0d%0aX-Evil: 1" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "a=%0a" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "a=%00" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "a=x\ty" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "a=%zz" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "a:b=c" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "Host=evil" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "content-length=0" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", "Transfer-Encoding=chunked" },
	{ "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=b,c" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "abc" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "0" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "-1" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "+5" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", " 5" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "5 " },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "10s" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "1.5" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "0x10" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "4294967296" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", "99999999999999999999999" },
	{ "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "x" },
	{ "OTEL_EXPORTER_OTLP_COMPRESSION", "zstd" },
	{ "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "deflate" },
	{ "OTEL_BSP_SCHEDULE_DELAY", "abc" },
	{ "OTEL_BSP_SCHEDULE_DELAY", "-5" },
	{ "OTEL_BSP_EXPORT_TIMEOUT", "0" },
	{ "OTEL_BSP_EXPORT_TIMEOUT", "1e3" },
	{ "OTEL_BSP_MAX_QUEUE_SIZE", "many" },
	{ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0" },
	{ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "x" },
	{ "OTEL_ATTRIBUTE_COUNT_LIMIT", "-1" },
	{ "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "lots" },
	{ "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "none" },
	{ "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4294967296" },
	{ "OTEL_SPAN_EVENT_COUNT_LIMIT", "1k" },
	{ "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "-0" },
	{ "OTEL_SPAN_LINK_COUNT_LIMIT", "x" },
	{ "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "-3" },
	{ "AUTOTRACE_DEBUG", "yes" },
	{ "AUTOTRACE_DEBUG", "2" },
	{ "AUTOTRACE_CAPTURE_COMMAND_LINE", "on" },
	{ "AUTOTRACE_PROPAGATE_PRELOAD", "alway" },
	{ "AUTOTRACE_EXIT_TIMEOUT", "3s" },
};

Test(config, invalid_values_warn_once_and_default)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]);
	     i++) {
		const struct bad_case *b = &bad_cases[i];
		char prefix[128];

		load1(b->name, b->value);
		expect_warns(1, b->value);
		if (n_warn < 1)
			continue;
		snprintf(prefix, sizeof(prefix), " %s", b->name);
		cr_expect(strncmp(warns[0], "libautotrace: ", 14) == 0,
			  "%s", warns[0]);
		cr_expect_not_null(strstr(warns[0], prefix), "%s: %s",
				   b->name, warns[0]);
		/* "(expected" or, for hidden values, "(value not shown;
		 * expected" */
		cr_expect(strstr(warns[0], "(expected ") != NULL ||
			  strstr(warns[0], " (value not shown; expected ") !=
				  NULL, "%s", warns[0]);
		cr_expect(strstr(warns[0], "); using ") != NULL ||
			  strstr(warns[0], "); ignoring the variable") != NULL,
			  "%s", warns[0]);
		cr_expect_eq(memcmp(&cfg, &def, sizeof(cfg)), 0,
			     "%s=\"%s\" changed the configuration", b->name,
			     b->value);
	}
}

Test(config, warning_format)
{
	load1("OTEL_BSP_SCHEDULE_DELAY", "abc");
	expect_warns(1, "format");
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_BSP_SCHEDULE_DELAY=\"abc\" (expected "
			 "milliseconds, a non-negative integer); using 5000");

	load1("OTEL_SDK_DISABLED", "1");
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_SDK_DISABLED=\"1\" (expected true or false); "
			 "using false");

	load1("OTEL_TRACES_SAMPLER", "xray");
	cr_expect_str_eq(warns[0], "libautotrace: unsupported "
			 "OTEL_TRACES_SAMPLER=\"xray\" (expected always_on, "
			 "always_off, traceidratio, parentbased_always_on, "
			 "parentbased_always_off or parentbased_traceidratio); "
			 "using parentbased_always_on");

	load1("OTEL_EXPORTER_OTLP_ENDPOINT", "htps://c:4318");
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_EXPORTER_OTLP_ENDPOINT=\"htps://c:4318\" "
			 "(expected an http:// or https:// URL: "
			 "http[s]://host[:port][/path], no user info); "
			 "export disabled (no other endpoint is used)");

	load1("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "x");
	cr_expect_not_null(strstr(warns[0], "; using no limit"), "%s",
			   warns[0]);

	load1("OTEL_TRACES_EXPORTER", "console");
	cr_expect_str_eq(warns[0], "libautotrace: unsupported "
			 "OTEL_TRACES_EXPORTER=\"console\" (expected otlp or "
			 "none); using otlp");
}

Test(config, warning_escapes_and_truncates)
{
	char longv[300];

	load1("OTEL_BSP_SCHEDULE_DELAY", "1\n2\t3\"4\\5\x01\x7f\xc3\xa9");
	expect_warns(1, "escapes");
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_BSP_SCHEDULE_DELAY=\"1\\n2\\t3\\\"4\\\\5\\x01"
			 "\\x7f\\xc3\\xa9\" (expected milliseconds, a "
			 "non-negative integer); using 5000");

	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	load1("OTEL_BSP_SCHEDULE_DELAY", longv);
	expect_warns(1, "long");
	cr_expect_lt(strlen(warns[0]), 250);
	cr_expect_not_null(strstr(warns[0], "xxxx\"... (expected"), "%s",
			   warns[0]);
}

Test(config, several_bad_values_one_warning_each)
{
	load("OTEL_BSP_SCHEDULE_DELAY", "a", "OTEL_BSP_EXPORT_TIMEOUT", "b",
	     "OTEL_TRACES_SAMPLER", "c", "AUTOTRACE_DEBUG", "d",
	     "OTEL_EXPORTER_OTLP_HEADERS", "e", "OTEL_RESOURCE_ATTRIBUTES",
	     "f", NULL);
	expect_warns(6, "six bad values");
	cr_expect_eq(memcmp(&cfg, &def, sizeof(cfg)), 0);
}

Test(config, sampler_arg_invalid)
{
	static const char *const bad[] = {
		"abc", "1.5", "-0.5", "0.5.1", "1e-3", " 0.5", ".", "2",
		"0,5", "+0.5", "1.0000001", "99999999999999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load("OTEL_TRACES_SAMPLER", "traceidratio",
		     "OTEL_TRACES_SAMPLER_ARG", bad[i], NULL);
		expect_warns(1, bad[i]);
		cr_expect_eq(cfg.sampler.kind, AT_SAMPLER_TRACEIDRATIO);
		cr_expect_eq(cfg.sampler.ratio_all, 1, "%s", bad[i]);
		if (n_warn == 1)
			cr_expect_not_null(strstr(warns[0], "; using 1.0"));
	}
}

/* ---- endpoint ---- */

static void expect_ep(const char *url, const char *host, const char *hp,
		      unsigned port, const char *path)
{
	struct at_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	cr_assert_eq(at_endpoint_parse(url, &ep), 0, "rejected %s", url);
	cr_expect_str_eq(ep.host, host, "%s", url);
	cr_expect_str_eq(ep.hostport, hp, "%s", url);
	cr_expect_eq(ep.port, port, "%s", url);
	cr_expect_str_eq(ep.path, path, "%s", url);
}

Test(config, endpoint_parse_valid)
{
	struct at_endpoint ep;

	expect_ep("http://localhost:4318/v1/traces", "localhost",
		  "localhost:4318", 4318, "/v1/traces");
	expect_ep("http://example.com", "example.com", "example.com", 80, "/");
	expect_ep("http://example.com/", "example.com", "example.com", 80,
		  "/");
	expect_ep("http://example.com:80/x", "example.com", "example.com", 80,
		  "/x");
	expect_ep("HTTP://Example.COM:8080", "Example.COM", "Example.COM:8080",
		  8080, "/");
	expect_ep("http://10.0.0.1:1/a/b?c=d&e", "10.0.0.1", "10.0.0.1:1", 1,
		  "/a/b?c=d&e");
	expect_ep("http://h?x=1", "h", "h", 80, "/?x=1");
	expect_ep("http://h:65535/p#frag", "h", "h:65535", 65535, "/p");
	expect_ep("http://[::1]:4318/v1/traces", "::1", "[::1]:4318", 4318,
		  "/v1/traces");
	expect_ep("http://[2001:db8::1]/x?y=1", "2001:db8::1",
		  "[2001:db8::1]", 80, "/x?y=1");
	expect_ep("http://[::ffff:192.0.2.1]:9", "::ffff:192.0.2.1",
		  "[::ffff:192.0.2.1]:9", 9, "/");

	cr_assert_eq(at_endpoint_parse("http://h/p#frag", &ep), 0);
	cr_expect_str_eq(ep.url, "http://h/p");
	cr_expect_eq(ep.tls, 0);

	/* https: port 443 by default, and left out of Host when it is */
	expect_ep("https://collector.example", "collector.example",
		  "collector.example", 443, "/");
	expect_ep("HTTPS://c:443/v1/traces", "c", "c", 443, "/v1/traces");
	expect_ep("https://c:80/x", "c", "c:80", 80, "/x");
	expect_ep("https://127.0.0.1:4318/v1/traces?k=v", "127.0.0.1",
		  "127.0.0.1:4318", 4318, "/v1/traces?k=v");
	expect_ep("https://[::1]/", "::1", "[::1]", 443, "/");
	cr_assert_eq(at_endpoint_parse("https://c:4318/v1/traces", &ep), 0);
	cr_expect_eq(ep.tls, 1);
	cr_expect_str_eq(ep.url, "https://c:4318/v1/traces");
	cr_assert_eq(at_endpoint_parse("http://c:4318/v1/traces", &ep), 0);
	cr_expect_str_eq(ep.url, "http://c:4318/v1/traces");
}

Test(config, endpoint_parse_invalid)
{
	static const char *const bad[] = {
		"htps://c/", "httpss://c/", "https:/c", "https://",
		"https://u:p@c/", "https://c:0/", "https://[::1/",
		"ftp://c/", "c:4318", "//c/",
		"http:/c", "http://", "http:///x", "http://:80/",
		"http://c:/", "http://c:0", "http://c:65536", "http://c:123456",
		"http://c:8a", "http://c:-1", "http://u@c/", "http://u:p@c/",
		"http://[::1", "http://[]/", "http://[1.2.3.4]/",
		"http://[::1]x/", "http://[::1]:/", "http://[g::1]/",
		"http://c c/", "http://c/a b", "http://c/\x01",
		"http://c/\xc3\xa9", "http://c%41/", "http://c\n/", "",
		"http://c:4318:1/", "http://c]/",
	};
	struct at_endpoint ep, before;
	char longurl[AT_CFG_URL_MAX + 10];

	memset(&ep, 0x5a, sizeof(ep));
	before = ep;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(at_endpoint_parse(bad[i], &ep), -1, "accepted %s",
			     bad[i]);
		cr_expect_eq(memcmp(&ep, &before, sizeof(ep)), 0,
			     "%s touched ep", bad[i]);
	}
	cr_expect_eq(at_endpoint_parse(NULL, &ep), -1);
	cr_expect_eq(at_endpoint_parse("http://c/", NULL), -1);

	strcpy(longurl, "http://c/");
	memset(longurl + 9, 'p', AT_CFG_URL_MAX - 9);
	longurl[AT_CFG_URL_MAX] = '\0';
	cr_expect_eq(at_endpoint_parse(longurl, &ep), -1);
	longurl[AT_CFG_URL_MAX - 1] = '\0';
	cr_expect_eq(at_endpoint_parse(longurl, &ep), 0);

	/* host of 256 characters does not fit AT_CFG_HOST_MAX */
	strcpy(longurl, "http://");
	memset(longurl + 7, 'h', 256);
	strcpy(longurl + 7 + 256, ":65535/");
	cr_expect_eq(at_endpoint_parse(longurl, &ep), -1);
	strcpy(longurl + 7 + 255, ":65535/");
	cr_expect_eq(at_endpoint_parse(longurl, &ep), 0);
	cr_expect_eq(strlen(ep.hostport), 255 + 6);
}

Test(config, endpoint_env)
{
	load1("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
	expect_warns(0, "generic");
	cr_expect_str_eq(cfg.endpoint.url, "http://collector:4318/v1/traces");
	cr_expect_str_eq(cfg.endpoint.path, "/v1/traces");
	cr_expect_str_eq(cfg.endpoint.host, "collector");

	load1("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/");
	cr_expect_str_eq(cfg.endpoint.url, "http://collector:4318/v1/traces");

	load1("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c/base");
	cr_expect_str_eq(cfg.endpoint.path, "/base/v1/traces");
	cr_expect_eq(cfg.endpoint.port, 80);

	load1("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c/base/?k=v");
	cr_expect_str_eq(cfg.endpoint.path, "/base/v1/traces?k=v");

	load1("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1]:4318");
	cr_expect_str_eq(cfg.endpoint.url, "http://[::1]:4318/v1/traces");
	cr_expect_str_eq(cfg.endpoint.hostport, "[::1]:4318");

	/* the _TRACES_ URL is used as is */
	load1("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom");
	cr_expect_str_eq(cfg.endpoint.path, "/custom");
	load1("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318");
	cr_expect_str_eq(cfg.endpoint.path, "/");

	/* ... and wins */
	load("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1",
	     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:2/t", NULL);
	expect_warns(0, "both");
	cr_expect_str_eq(cfg.endpoint.url, "http://b:2/t");

	/* an invalid _TRACES_ URL disables export: never the generic one */
	load("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1",
	     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "htps://b:2/t", NULL);
	expect_warns(1, "bad traces");
	cr_expect_eq(cfg.exporter, AT_EXPORTER_NONE);
	cr_expect_str_eq(cfg.endpoint.url, "");
	cr_expect_not_null(strstr(warns[0], "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
	cr_expect_not_null(strstr(warns[0], "; export disabled"));

	/* an invalid generic URL is not looked at when _TRACES_ is set */
	load("OTEL_EXPORTER_OTLP_ENDPOINT", "nonsense",
	     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://b:2/t", NULL);
	expect_warns(0, "traces wins");
	cr_expect_eq(cfg.exporter, AT_EXPORTER_OTLP);
	cr_expect_str_eq(cfg.endpoint.url, "https://b:2/t");

	/* credentials in a rejected URL are not echoed */
	load1("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://u:s3cret@c/");
	expect_warns(1, "userinfo");
	cr_expect_null(strstr(warns[0], "s3cret"), "%s", warns[0]);

	/* generic base too long once the suffix is added */
	{
		static char longurl[AT_CFG_URL_MAX];

		strcpy(longurl, "http://c/");
		memset(longurl + 9, 'p', AT_CFG_URL_MAX - 15);
		longurl[AT_CFG_URL_MAX - 6] = '\0';
		load1("OTEL_EXPORTER_OTLP_ENDPOINT", longurl);
		expect_warns(1, "long generic");
		cr_expect_eq(cfg.exporter, AT_EXPORTER_NONE);
		cr_expect_str_eq(cfg.endpoint.url, "");
	}

	/* https endpoints are used */
	load1("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318");
	expect_warns(0, "https generic");
	cr_expect_eq(cfg.exporter, AT_EXPORTER_OTLP);
	cr_expect_eq(cfg.endpoint.tls, 1);
	cr_expect_str_eq(cfg.endpoint.url, "https://collector:4318/v1/traces");
	cr_expect_str_eq(cfg.endpoint.hostport, "collector:4318");
}

/* Every unusable endpoint: one line, export disabled, never another
 * endpoint (neither the generic variable nor the default). */
Test(config, endpoint_unusable_disables_export)
{
	static const struct bad_case cases[] = {
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "http://" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "https://" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "http://?x" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:99999" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:notaport" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "htps://c/v1/traces" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://c/" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:0/" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:65536/" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://c:/" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:12a/" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://u:pw@c/" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://[::1/" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c/a b" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *b = &cases[i];

		load1(b->name, b->value);
		expect_warns(1, b->value);
		if (n_warn < 1)
			continue;
		cr_expect_not_null(strstr(warns[0], b->name), "%s", warns[0]);
		cr_expect_not_null(strstr(warns[0], "; export disabled"),
				   "%s", warns[0]);
		cr_expect_null(strstr(warns[0], "localhost"), "%s", warns[0]);
		cr_expect_eq(cfg.exporter, AT_EXPORTER_NONE, "%s", b->value);
		cr_expect_str_eq(cfg.endpoint.url, "", "%s", b->value);
		cr_expect_eq(cfg.endpoint.port, 0, "%s", b->value);
	}
	/* A good value: export stays on (the cases above are not vacuous). */
	load1("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://c/v1/traces");
	expect_warns(0, "good");
	cr_expect_eq(cfg.exporter, AT_EXPORTER_OTLP);
}

static void expect_files(const char *ca, const char *cert, const char *key)
{
	expect_warns(0, ca);
	cr_expect_str_eq(cfg.tls_ca_file, ca);
	cr_expect_str_eq(cfg.tls_client_cert, cert);
	cr_expect_str_eq(cfg.tls_client_key, key);
}

Test(config, endpoint_tls_files)
{
	static char longpath[AT_CFG_URL_MAX + 8];

	load("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem",
	     "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem",
	     "OTEL_EXPORTER_OTLP_CLIENT_KEY", "k.pem", NULL);
	expect_files("/etc/ca.pem", "/c.pem", "k.pem");

	/* the _TRACES_ variants win, each on its own */
	load("OTEL_EXPORTER_OTLP_CERTIFICATE", "/g-ca.pem",
	     "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/t-ca.pem",
	     "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/g-c.pem",
	     "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/t-k.pem", NULL);
	expect_files("/t-ca.pem", "/g-c.pem", "/t-k.pem");

	load1("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "/t-c.pem");
	cr_expect_str_eq(cfg.tls_client_cert, "/t-c.pem");
	cr_expect_str_eq(cfg.tls_ca_file, "");

	/* unset: the system store, no client certificate */
	load(NULL);
	cr_expect_str_eq(cfg.tls_ca_file, "");
	cr_expect_str_eq(cfg.tls_client_cert, "");
	cr_expect_eq(cfg.exporter, AT_EXPORTER_OTLP);

	/* a path that cannot be kept disables export, not the system store */
	memset(longpath, 'p', AT_CFG_URL_MAX);
	longpath[0] = '/';
	longpath[AT_CFG_URL_MAX] = '\0';
	load1("OTEL_EXPORTER_OTLP_CERTIFICATE", longpath);
	expect_warns(1, "long CA path");
	cr_expect_eq(cfg.exporter, AT_EXPORTER_NONE);
	cr_expect_str_eq(cfg.tls_ca_file, "");
	longpath[AT_CFG_URL_MAX - 1] = '\0';
	load1("OTEL_EXPORTER_OTLP_CERTIFICATE", longpath);
	expect_warns(0, "longest CA path");
	cr_expect_eq(cfg.exporter, AT_EXPORTER_OTLP);
	cr_expect_eq(strlen(cfg.tls_ca_file), AT_CFG_URL_MAX - 1);
}

/* ---- headers ---- */

Test(config, headers)
{
	load1("OTEL_EXPORTER_OTLP_HEADERS",
	      "api-key=abc%20def, X-Team = a%2Cb");
	expect_warns(0, "headers");
	cr_expect_str_eq(cfg.headers, "api-key: abc def\r\nX-Team: a,b\r\n");

	/* raw spaces inside a value are accepted (Authorization=Basic x) */
	load1("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Basic dXNlcg==");
	cr_expect_str_eq(cfg.headers, "Authorization: Basic dXNlcg==\r\n");

	load1("OTEL_EXPORTER_OTLP_HEADERS", "a=1,,a=2, ,b=");
	expect_warns(0, "dups");
	cr_expect_str_eq(cfg.headers, "a: 2\r\nb: \r\n");

	load1("OTEL_EXPORTER_OTLP_HEADERS", "x=caf%C3%A9");
	cr_expect_str_eq(cfg.headers, "x: caf\xc3\xa9\r\n");

	/* merged; the _TRACES_ value wins, names compared without case */
	load("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2",
	     "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "B=3,c=4", NULL);
	expect_warns(0, "merge");
	cr_expect_str_eq(cfg.headers, "a: 1\r\nB: 3\r\nc: 4\r\n");

	/* an invalid variable is ignored as a whole, the other kept */
	load("OTEL_EXPORTER_OTLP_HEADERS", "a=1",
	     "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2,c", NULL);
	expect_warns(1, "bad traces headers");
	cr_expect_str_eq(cfg.headers, "a: 1\r\n");
	load("OTEL_EXPORTER_OTLP_HEADERS", "a=%0d%0a",
	     "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2", NULL);
	expect_warns(1, "bad generic headers");
	cr_expect_str_eq(cfg.headers, "b: 2\r\n");
}

Test(config, headers_warning_hides_values)
{
	load1("OTEL_EXPORTER_OTLP_HEADERS", "x=1,Authorization: Bearer s3cr3t");
	expect_warns(1, "secret");
	cr_expect_null(strstr(warns[0], "s3cr3t"), "%s", warns[0]);
	cr_expect_null(strstr(warns[0], "Bearer"), "%s", warns[0]);
	cr_expect_not_null(strstr(warns[0], "entry 2"), "%s", warns[0]);
	cr_expect_str_eq(cfg.headers, "");

	load1("OTEL_EXPORTER_OTLP_HEADERS", "k=s3cr3t%0d%0aX: y");
	expect_warns(1, "crlf");
	cr_expect_null(strstr(warns[0], "s3cr3t"), "%s", warns[0]);
	cr_expect_not_null(strstr(warns[0], "control character"), "%s",
			   warns[0]);
}

Test(config, headers_too_long)
{
	static char big[2 * AT_CFG_HEADERS_MAX + 100];
	static char half[AT_CFG_HEADERS_MAX / 2 + 100];

	memcpy(big, "a=", 2);
	memset(big + 2, 'v', AT_CFG_HEADERS_MAX);
	big[AT_CFG_HEADERS_MAX + 2] = '\0';
	load1("OTEL_EXPORTER_OTLP_HEADERS", big);
	expect_warns(1, "too long");
	cr_expect_str_eq(cfg.headers, "");

	/* many duplicate entries: the raw length is bounded (8192) */
	for (size_t i = 0; i + 4 <= 2 * AT_CFG_HEADERS_MAX; i += 4)
		memcpy(big + i, "a=1,", 4);
	big[2 * AT_CFG_HEADERS_MAX] = '\0';
	load1("OTEL_EXPORTER_OTLP_HEADERS", big);
	expect_warns(0, "8192 raw");
	cr_expect_str_eq(cfg.headers, "a: 1\r\n");
	big[2 * AT_CFG_HEADERS_MAX] = 'a';
	big[2 * AT_CFG_HEADERS_MAX + 1] = '\0';
	load1("OTEL_EXPORTER_OTLP_HEADERS", big);
	expect_warns(1, "8193 raw");
	cr_expect_str_eq(cfg.headers, "");

	/* each fits alone, not together: the _TRACES_ one is kept */
	memcpy(half, "a=", 2);
	memset(half + 2, 'v', AT_CFG_HEADERS_MAX / 2 + 10);
	half[AT_CFG_HEADERS_MAX / 2 + 12] = '\0';
	load("OTEL_EXPORTER_OTLP_HEADERS", half,
	     "OTEL_EXPORTER_OTLP_TRACES_HEADERS", half, NULL);
	/* same name: the generic entry is overridden, so it fits */
	expect_warns(0, "same name");
	cr_expect_eq(strlen(cfg.headers), AT_CFG_HEADERS_MAX / 2 + 10 + 5);
	half[0] = 'b';
	load("OTEL_EXPORTER_OTLP_HEADERS", half,
	     "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=1", NULL);
	expect_warns(0, "generic alone");
	{
		static char half2[AT_CFG_HEADERS_MAX / 2 + 100];

		memcpy(half2, half, sizeof(half2));
		half2[0] = 'c';
		load("OTEL_EXPORTER_OTLP_HEADERS", half,
		     "OTEL_EXPORTER_OTLP_TRACES_HEADERS", half2, NULL);
		expect_warns(1, "together too long");
		cr_expect_eq(strncmp(cfg.headers, "c: vvv", 6), 0);
		cr_expect_eq(strlen(cfg.headers),
			     AT_CFG_HEADERS_MAX / 2 + 10 + 5);
	}
}

/* ---- service name and resource attributes ---- */

static const char *res_get(const char *key)
{
	for (size_t i = 0; i < cfg.n_resource; i++) {
		if (strcmp(cfg.resource[i].key, key) == 0)
			return cfg.resource[i].value;
	}
	return NULL;
}

Test(config, resource_attributes)
{
	load1("OTEL_RESOURCE_ATTRIBUTES",
	      "service.name=svc,deployment.environment=prod,"
	      "k%2Cx = v%3D1%20 ,e=,u=caf%C3%A9,raw=caf\xc3\xa9");
	expect_warns(0, "resource");
	cr_expect_str_eq(cfg.service_name, "svc");
	cr_expect_eq(cfg.n_resource, 5);
	cr_expect_null(res_get("service.name"));
	cr_expect_str_eq(res_get("deployment.environment"), "prod");
	cr_expect_str_eq(res_get("k,x"), "v=1 ");
	cr_expect_str_eq(res_get("e"), "");
	cr_expect_str_eq(res_get("u"), "caf\xc3\xa9");
	cr_expect_str_eq(res_get("raw"), "caf\xc3\xa9");
	/* order of first appearance */
	cr_expect_str_eq(cfg.resource[0].key, "deployment.environment");
	cr_expect_str_eq(cfg.resource[1].key, "k,x");

	load1("OTEL_RESOURCE_ATTRIBUTES", " a = 1 ,, b=2 ,a=3,");
	expect_warns(0, "dups");
	cr_expect_eq(cfg.n_resource, 2);
	cr_expect_str_eq(res_get("a"), "3");
	cr_expect_str_eq(res_get("b"), "2");
	cr_expect_str_eq(cfg.resource[0].key, "a");
	cr_expect_str_eq(cfg.service_name, "");
}

Test(config, service_name_precedence)
{
	load("OTEL_SERVICE_NAME", "from-env", "OTEL_RESOURCE_ATTRIBUTES",
	     "service.name=from-attrs,a=b", NULL);
	expect_warns(0, "precedence");
	cr_expect_str_eq(cfg.service_name, "from-env");
	cr_expect_null(res_get("service.name"));
	cr_expect_str_eq(res_get("a"), "b");

	load("OTEL_SERVICE_NAME", "", "OTEL_RESOURCE_ATTRIBUTES",
	     "service.name=from%20attrs", NULL);
	cr_expect_str_eq(cfg.service_name, "from attrs");

	load1("OTEL_SERVICE_NAME", "only");
	cr_expect_str_eq(cfg.service_name, "only");

	/* an invalid OTEL_SERVICE_NAME is ignored: the attribute applies */
	load("OTEL_SERVICE_NAME", "\xff", "OTEL_RESOURCE_ATTRIBUTES",
	     "service.name=attr", NULL);
	expect_warns(1, "bad service name");
	cr_expect_str_eq(cfg.service_name, "attr");

	/* a bad OTEL_RESOURCE_ATTRIBUTES also drops its service.name */
	load1("OTEL_RESOURCE_ATTRIBUTES", "service.name=x,bad");
	expect_warns(1, "bad attrs");
	cr_expect_str_eq(cfg.service_name, "");
	cr_expect_eq(cfg.n_resource, 0);
}

Test(config, service_name_too_long)
{
	char name[400];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	load1("OTEL_SERVICE_NAME", name);
	expect_warns(1, "long name");
	cr_expect_eq(strlen(cfg.service_name), 255);

	/* cut on a UTF-8 character boundary */
	memset(name, 'n', 254);
	memcpy(name + 254, "\xc3\xa9xyz", 6);
	load1("OTEL_SERVICE_NAME", name);
	cr_expect_eq(strlen(cfg.service_name), 254);

	memset(name, 'n', 255);
	name[255] = '\0';
	load1("OTEL_SERVICE_NAME", name);
	expect_warns(0, "255 bytes");
	cr_expect_eq(strlen(cfg.service_name), 255);
}

Test(config, resource_limits)
{
	static char in[AT_CFG_RESOURCE_MAX * 2];
	size_t n = 0;

	/* 32 attributes fit, 33 do not */
	for (int i = 0; i < 33; i++) {
		n += (size_t)snprintf(in + n, sizeof(in) - n, "%sk%d=v",
				      i ? "," : "", i);
		if (i == 31) {
			load1("OTEL_RESOURCE_ATTRIBUTES", in);
			expect_warns(0, "32 attributes");
			cr_expect_eq(cfg.n_resource, 32);
		}
	}
	load1("OTEL_RESOURCE_ATTRIBUTES", in);
	expect_warns(1, "33 attributes");
	cr_expect_eq(cfg.n_resource, 0);
	cr_expect_eq(memcmp(&cfg, &def, sizeof(cfg)), 0);

	/* service.name does not count */
	strcat(in, ",service.name=s");
	memmove(in, in + 5, strlen(in + 5) + 1); /* drop "k0=v," */
	load1("OTEL_RESOURCE_ATTRIBUTES", in);
	expect_warns(0, "32 + service.name");
	cr_expect_eq(cfg.n_resource, 32);
	cr_expect_str_eq(cfg.service_name, "s");

	/* too long once decoded into the 4096-byte buffer */
	memcpy(in, "a=", 2);
	memset(in + 2, 'v', AT_CFG_RESOURCE_MAX);
	in[AT_CFG_RESOURCE_MAX + 2] = '\0';
	load1("OTEL_RESOURCE_ATTRIBUTES", in);
	expect_warns(1, "too long");
	cr_expect_eq(memcmp(&cfg, &def, sizeof(cfg)), 0);

	/* exactly fitting: "a\0" + value + "\0" == 4096 */
	in[2 + AT_CFG_RESOURCE_MAX - 2] = '\0';
	load1("OTEL_RESOURCE_ATTRIBUTES", in);
	expect_warns(1, "one byte too long");
	in[2 + AT_CFG_RESOURCE_MAX - 3] = '\0';
	load1("OTEL_RESOURCE_ATTRIBUTES", in);
	expect_warns(0, "exact fit");
	cr_expect_eq(cfg.n_resource, 1);
	cr_expect_eq(strlen(res_get("a")), AT_CFG_RESOURCE_MAX - 3);
}

Test(config, resource_warning_names_problem)
{
	load1("OTEL_RESOURCE_ATTRIBUTES", "a=b,c");
	expect_warns(1, "no =");
	cr_expect_str_eq(warns[0], "libautotrace: invalid "
			 "OTEL_RESOURCE_ATTRIBUTES=\"a=b,c\" (expected "
			 "comma-separated key=value pairs, percent-encoded "
			 "UTF-8; an entry has no '='); ignoring the variable");
}
