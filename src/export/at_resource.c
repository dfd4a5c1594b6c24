/*
 * at_resource.c - the Resource attached to every export request.
 *
 * Design
 * ------
 * The resource is built by the exporter thread (at start and again after
 * fork, because process.pid changes), never inside a hook, so it may read
 * /proc and call gethostname().  It still allocates nothing: every string
 * is copied into the fixed r->buf, and every copy is bounded by the room
 * left there and in r->attrs; an attribute that does not fit is dropped
 * (the command line, the only large one, is cut instead).  The user's
 * attributes leave room for ours.  /proc is read with the real read() and
 * close() (AT_REAL), not through the library's own hooks.
 *
 * OTLP string values must be valid UTF-8 or the collector rejects the
 * whole request, while file names, host names and command lines are
 * arbitrary bytes: every string taken from the system is copied with
 * invalid sequences replaced by U+FFFD.
 *
 * Attribute order and precedence:
 *   service.name             cfg->service_name, else
 *                            "unknown_service:<process name>"
 *   the OTEL_RESOURCE_ATTRIBUTES pairs (cfg->resource), except keys the
 *                            library sets itself below (process.*,
 *                            telemetry.sdk.*) - ours describe facts;
 *   process.pid              (int)
 *   process.executable.name  basename of readlink(/proc/self/exe), else
 *                            program_invocation_short_name
 *   process.command_line     only if cfg->capture_command_line:
 *                            /proc/self/cmdline, arguments joined by spaces
 *   host.name                gethostname(), unless the user gave host.name
 *   telemetry.sdk.name       "libautotrace"
 *   telemetry.sdk.version    AT_VERSION
 *   telemetry.sdk.language   "c"
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "at_compat.h"
#include "at_config.h"
#include "at_real.h"
#include "at_resource.h"
#include "at_utf8.h"

/* Room kept free for the attributes that follow the command line. */
#define CMDLINE_RESERVE 768
/*
 * Room (bytes, slots) the user's attributes leave for ours.  A struct
 * at_config from at_config_load() never needs it (its pairs fit in 4096
 * bytes), but a hand-built one could otherwise crowd out the facts.
 */
#define OWN_RESERVE 1024
#define OWN_SLOTS 8
#define CMDLINE_MAX 4096
#define NAME_MAX_LEN 255

static const char k_service_name[] = "service.name";
static const char k_pid[] = "process.pid";
static const char k_exe_name[] = "process.executable.name";
static const char k_cmdline[] = "process.command_line";
static const char k_host_name[] = "host.name";
static const char k_sdk_name[] = "telemetry.sdk.name";
static const char k_sdk_version[] = "telemetry.sdk.version";
static const char k_sdk_language[] = "telemetry.sdk.language";

/*
 * Copy a string into r->buf, leaving reserve bytes free.  If cut is 0 the
 * whole string must fit (max is ignored), else NULL; if cut is 1 it is
 * shortened to at most max bytes or to what fits (but not to nothing).
 * Returns the copy, or NULL.
 */
static const char *buf_put(struct at_resource *r, const char *s, size_t n,
			   size_t max, int cut, size_t reserve)
{
	size_t room, w, used;
	char *dst;

	if (r->buf_used + reserve >= sizeof(r->buf))
		return NULL;
	room = sizeof(r->buf) - r->buf_used - reserve;
	if (cut && room > max + 1)
		room = max + 1;
	dst = r->buf + r->buf_used;
	w = at_utf8_copy(dst, room, s, n, &used);
	if ((used < n && !cut) || (w == 0 && n > 0)) {
		dst[0] = '\0';
		return NULL;
	}
	r->buf_used += w + 1;
	return dst;
}

static struct at_kv *attr_slot(struct at_resource *r)
{
	if (r->n >= AT_RESOURCE_MAX_ATTRS)
		return NULL;
	return &r->attrs[r->n];
}

/*
 * Add a string attribute; the value is copied whole, or (cut) cut to at
 * most max bytes.  Returns 0, or -1 if it was dropped.
 */
static int add_str_reserve(struct at_resource *r, const char *key,
			   const char *v, size_t n, size_t max, int cut,
			   size_t reserve)
{
	struct at_kv *kv = attr_slot(r);
	const char *s;

	if (kv == NULL)
		return -1;
	s = buf_put(r, v, n, max, cut, reserve);
	if (s == NULL)
		return -1;
	kv->key = key;
	kv->type = AT_KV_STRING;
	kv->s = s;
	kv->i = 0;
	r->n++;
	return 0;
}

static int add_str(struct at_resource *r, const char *key, const char *v,
		   size_t n, size_t max, int cut)
{
	return add_str_reserve(r, key, v, n, max, cut, 0);
}

static void add_int(struct at_resource *r, const char *key, int64_t v)
{
	struct at_kv *kv = attr_slot(r);

	if (kv == NULL)
		return;
	kv->key = key;
	kv->type = AT_KV_INT;
	kv->s = NULL;
	kv->i = v;
	r->n++;
}

/* Process name: basename of /proc/self/exe, else the short program name. */
static size_t process_name(char *out, size_t cap)
{
	static const char deleted[] = " (deleted)";
	const size_t dlen = sizeof(deleted) - 1;
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	const char *base = NULL;
	size_t len = 0;

	if (n > 0) {
		path[n] = '\0';
		len = (size_t)n;
		/* An executable replaced or removed since exec. */
		if (len > dlen &&
		    memcmp(path + len - dlen, deleted, dlen) == 0) {
			len -= dlen;
			path[len] = '\0';
		}
		base = strrchr(path, '/');
		base = base ? base + 1 : path;
		len = strlen(base);
	}
	if (len == 0 && program_invocation_short_name != NULL) {
		base = program_invocation_short_name;
		len = strnlen(base, NAME_MAX_LEN);
	}
	if (base == NULL || len == 0) {
		out[0] = '\0';
		return 0;
	}
	if (len >= cap)
		len = cap - 1;
	memcpy(out, base, len);
	out[len] = '\0';
	return len;
}

/* Read /proc/self/cmdline (at most cap - 1 bytes), NULs turned to spaces. */
static size_t read_cmdline(char *out, size_t cap)
{
	size_t w = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (w + 1 < cap) {
		ssize_t n = AT_REAL(read)(fd, out + w, cap - 1 - w);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		w += (size_t)n;
	}
	AT_REAL(close)(fd);
	/* Arguments are NUL-terminated: drop the last terminator(s). */
	while (w > 0 && out[w - 1] == '\0')
		w--;
	for (size_t i = 0; i < w; i++) {
		if (out[i] == '\0')
			out[i] = ' ';
	}
	out[w] = '\0';
	return w;
}

/* What the library sets itself; these keys win over the user's. */
struct own_values {
	int has_exe_name;
	int has_cmdline;
};

static int is_ours(const struct own_values *own, const char *key)
{
	static const char *const always[] = {
		k_service_name, k_pid, k_sdk_name, k_sdk_version,
		k_sdk_language,
	};

	for (size_t i = 0; i < AT_ARRAY_SIZE(always); i++) {
		if (strcmp(key, always[i]) == 0)
			return 1;
	}
	if (own->has_exe_name && strcmp(key, k_exe_name) == 0)
		return 1;
	if (own->has_cmdline && strcmp(key, k_cmdline) == 0)
		return 1;
	return 0;
}

/* Index of the attribute with this key, or -1. */
static long find_key(const struct at_resource *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++) {
		const char *k = r->attrs[i].key;

		if (k != NULL && strcmp(k, key) == 0)
			return (long)i;
	}
	return -1;
}

static void add_service_name(struct at_resource *r,
			     const struct at_config *cfg, const char *pname,
			     size_t plen)
{
	static const char prefix[] = "unknown_service";
	char svc[sizeof(prefix) + NAME_MAX_LEN + 1];
	size_t n;

	if (cfg != NULL && cfg->service_name[0] != '\0') {
		n = strnlen(cfg->service_name, sizeof(cfg->service_name));
		add_str(r, k_service_name, cfg->service_name, n, n, 0);
		return;
	}
	memcpy(svc, prefix, sizeof(prefix) - 1);
	n = sizeof(prefix) - 1;
	if (plen > 0) {
		svc[n++] = ':';
		memcpy(svc + n, pname, plen);
		n += plen;
	}
	add_str(r, k_service_name, svc, n, n, 0);
}

/* The user's OTEL_RESOURCE_ATTRIBUTES pairs; returns 1 if host.name set. */
static int add_user_attrs(struct at_resource *r, const struct at_config *cfg,
			  const struct own_values *own)
{
	int user_host = 0;

	if (cfg == NULL)
		return 0;
	for (size_t i = 0; i < cfg->n_resource && i < AT_CFG_RESOURCE_ATTRS;
	     i++) {
		const struct at_cfg_kv *kv = &cfg->resource[i];
		size_t used = r->buf_used, klen, vlen;
		const char *key;

		if (kv->key == NULL || kv->value == NULL ||
		    kv->key[0] == '\0' || is_ours(own, kv->key))
			continue;
		/* Defensive: a key repeated in cfg keeps its first value. */
		if (find_key(r, kv->key) >= 0)
			continue;
		if (r->n + OWN_SLOTS >= AT_RESOURCE_MAX_ATTRS)
			break;
		klen = strlen(kv->key);
		key = buf_put(r, kv->key, klen, klen, 0, OWN_RESERVE);
		if (key == NULL)
			continue;
		vlen = strlen(kv->value);
		if (add_str_reserve(r, key, kv->value, vlen, vlen, 0,
				    OWN_RESERVE) < 0) {
			/* The value did not fit: give the key's room back. */
			r->buf_used = used;
			continue;
		}
		if (strcmp(key, k_host_name) == 0)
			user_host = 1;
	}
	return user_host;
}

void at_resource_build(struct at_resource *r, const struct at_config *cfg,
		       pid_t pid)
{
	struct own_values own = { 0, 0 };
	char pname[NAME_MAX_LEN + 1];
	char cmdline[CMDLINE_MAX];
	size_t plen, clen = 0;
	int user_host;

	if (r == NULL)
		return;
	r->n = 0;
	r->buf_used = 0;
	r->buf[0] = '\0';
	plen = process_name(pname, sizeof(pname));
	own.has_exe_name = plen > 0;
	if (cfg != NULL && cfg->capture_command_line) {
		clen = read_cmdline(cmdline, sizeof(cmdline));
		own.has_cmdline = clen > 0;
	}

	add_service_name(r, cfg, pname, plen);
	user_host = add_user_attrs(r, cfg, &own);

	add_int(r, k_pid, (int64_t)pid);
	if (plen > 0)
		add_str(r, k_exe_name, pname, plen, plen, 0);
	if (clen > 0) {
		size_t room = sizeof(r->buf) - r->buf_used;

		if (room > CMDLINE_RESERVE)
			add_str(r, k_cmdline, cmdline, clen,
				room - CMDLINE_RESERVE - 1, 1);
	}
	if (!user_host) {
		char host[HOST_NAME_MAX + 2];
		size_t n;

		if (gethostname(host, sizeof(host) - 1) == 0) {
			host[sizeof(host) - 1] = '\0';
			n = strlen(host);
			if (n > 0)
				add_str(r, k_host_name, host, n, n, 0);
		}
	}
	add_str(r, k_sdk_name, "libautotrace", 12, 12, 0);
	add_str(r, k_sdk_version, AT_VERSION, strlen(AT_VERSION),
		strlen(AT_VERSION), 0);
	add_str(r, k_sdk_language, "c", 1, 1, 0);
}

AT_TESTING const char *at_resource_get(const struct at_resource *r, const char *key)
{
	if (r == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < r->n && i < AT_RESOURCE_MAX_ATTRS; i++) {
		const struct at_kv *kv = &r->attrs[i];

		if (kv->type == AT_KV_STRING && kv->key != NULL &&
		    strcmp(kv->key, key) == 0)
			return kv->s;
	}
	return NULL;
}
