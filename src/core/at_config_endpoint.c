/*
 * at_config_endpoint.c - where the exporter sends: the endpoint from
 * OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, parsing an http:// or https:// URL
 * into scheme, host, port, Host value and path (at_endpoint_parse, also
 * used for a URL given elsewhere), the "/v1/traces" the generic
 * variable's path gets, and the TLS files of an https endpoint
 * (OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE, _CLIENT_CERTIFICATE,
 * _CLIENT_KEY).
 *
 * Design
 * ------
 * Like all of the configuration (at_config.c): no allocation, no stdio,
 * no locale; everything is written inline into the caller's struct, every
 * copy bounded by AT_CFG_URL_MAX / AT_CFG_HOST_MAX, and *ep is filled only
 * once every check passed.  Only http[s]://host[:port][/path][?query] is
 * accepted: the scheme case-insensitively, a host of unreserved
 * characters or a bracketed IPv6 literal, a port 1-65535 (default 80 for
 * http, 443 for https), no user info, a path and query of visible ASCII;
 * the fragment is dropped.  An empty path becomes "/".
 *
 * Never another endpoint.  The endpoint used is the one the user chose:
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT when set, else
 * OTEL_EXPORTER_OTLP_ENDPOINT (plus "/v1/traces"), else the default
 * http://localhost:4318/v1/traces.  When the chosen one is unusable, export
 * is disabled (cfg->exporter = AT_EXPORTER_NONE, cfg->endpoint cleared)
 * with one line: spans would otherwise go, maybe unencrypted, to a
 * collector the user did not name.  The same holds for the TLS files: one
 * that cannot be named (too long) disables export rather than trusting
 * the system store instead of the CA the user gave.  A bad URL is warned
 * about without echoing a value that holds user info (it may hold a
 * password).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "at_ascii.h"
#include "at_config.h"
#include "at_config_internal.h"

#define SIGNAL_PATH "v1/traces"

static int host_char_ok(char c)
{
	return at_is_alpha(c) || at_is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int ipv6_char_ok(char c)
{
	return at_hex_value(c) >= 0 || c == ':' || c == '.';
}

int at_endpoint_parse(const char *url, struct at_endpoint *ep)
{
	const char *auth, *auth_end, *host, *rest, *frag;
	size_t len, host_len, rest_len, url_len, i;
	uint32_t port = 80, default_port = 80;
	size_t slen;
	int v6 = 0, tls = 0;
	char portbuf[12];

	if (url == NULL || ep == NULL)
		return -1;
	len = strnlen(url, AT_CFG_URL_MAX);
	if (len >= AT_CFG_URL_MAX)
		return -1;
	if (len >= 7 && at_cfg_mem_eq_ci(url, 7, "http://", 7)) {
		slen = 7;
	} else if (len >= 8 && at_cfg_mem_eq_ci(url, 8, "https://", 8)) {
		slen = 8;
		tls = 1;
		port = default_port = 443;
	} else {
		return -1;
	}

	/* The fragment is never sent: drop it. */
	frag = memchr(url, '#', len);
	url_len = frag ? (size_t)(frag - url) : len;

	auth = url + slen;
	auth_end = auth;
	while (auth_end < url + url_len && *auth_end != '/' &&
	       *auth_end != '?')
		auth_end++;
	if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL)
		return -1; /* user info is not supported */

	if (auth < auth_end && *auth == '[') {
		const char *close = memchr(auth, ']',
					   (size_t)(auth_end - auth));

		if (close == NULL)
			return -1;
		host = auth + 1;
		host_len = (size_t)(close - host);
		if (host_len == 0 || memchr(host, ':', host_len) == NULL)
			return -1;
		for (i = 0; i < host_len; i++) {
			if (!ipv6_char_ok(host[i]))
				return -1;
		}
		v6 = 1;
		auth = close + 1;
		if (auth < auth_end && *auth != ':')
			return -1;
	} else {
		host = auth;
		while (auth < auth_end && *auth != ':') {
			if (!host_char_ok(*auth))
				return -1;
			auth++;
		}
		host_len = (size_t)(auth - host);
		if (host_len == 0)
			return -1;
	}
	if (auth < auth_end) {
		/* ':' port */
		size_t pl = (size_t)(auth_end - auth - 1);

		if (pl == 0 || pl > 5)
			return -1;
		port = 0;
		for (i = 0; i < pl; i++) {
			char c = auth[1 + i];

			if (c < '0' || c > '9')
				return -1;
			port = port * 10 + (uint32_t)(c - '0');
		}
		if (port == 0 || port > 65535)
			return -1;
	}

	rest = auth_end;
	rest_len = (size_t)(url + url_len - rest);
	for (i = 0; i < rest_len; i++) {
		unsigned char c = (unsigned char)rest[i];

		if (c <= 0x20 || c >= 0x7f)
			return -1;
	}
	/* "/" is added when the path is empty: fits, url_len < URL_MAX - 1 */
	if (host_len >= AT_CFG_HOST_MAX)
		return -1;

	/* All checks passed: fill *ep. */
	memcpy(ep->url, url, url_len);
	ep->url[url_len] = '\0';
	memcpy(ep->host, host, host_len);
	ep->host[host_len] = '\0';
	ep->port = (uint16_t)port;
	ep->tls = tls;
	{
		size_t w = 0;

		if (v6)
			ep->hostport[w++] = '[';
		memcpy(ep->hostport + w, host, host_len);
		w += host_len;
		if (v6)
			ep->hostport[w++] = ']';
		if (port != default_port) {
			const char *p = at_cfg_u32_str(port, portbuf);
			size_t pl = strlen(p);

			ep->hostport[w++] = ':';
			memcpy(ep->hostport + w, p, pl);
			w += pl;
		}
		ep->hostport[w] = '\0';
	}
	if (rest_len == 0 || rest[0] == '?') {
		ep->path[0] = '/';
		memcpy(ep->path + 1, rest, rest_len);
		ep->path[1 + rest_len] = '\0';
	} else {
		memcpy(ep->path, rest, rest_len);
		ep->path[rest_len] = '\0';
	}
	return 0;
}

/*
 * Append "/v1/traces" to the path of base (before any query; the fragment
 * is dropped) into out.  Returns 0, or -1 if it does not fit (or base has
 * no "://", in which case it cannot be a valid URL anyway).
 */
static int signal_url(const char *base, char *out, size_t cap)
{
	const char *sep = strstr(base, "://");
	size_t len = strlen(base);
	size_t path_start, path_end, q_len, w;
	const char *frag;
	int slash;

	if (sep == NULL)
		return -1;
	frag = strchr(base, '#');
	if (frag != NULL)
		len = (size_t)(frag - base);
	/* path_start: the end of the authority */
	path_start = (size_t)(sep + 3 - base);
	if (path_start > len)
		return -1;
	while (path_start < len && base[path_start] != '/' &&
	       base[path_start] != '?')
		path_start++;
	path_end = path_start;
	while (path_end < len && base[path_end] != '?')
		path_end++;
	q_len = len - path_end;
	slash = !(path_end > path_start && base[path_end - 1] == '/');
	/* base + "/" + "v1/traces" + query + NUL */
	if (path_end + 1 + strlen(SIGNAL_PATH) + q_len + 1 > cap)
		return -1;
	memcpy(out, base, path_end);
	w = path_end;
	if (slash)
		out[w++] = '/';
	memcpy(out + w, SIGNAL_PATH, strlen(SIGNAL_PATH));
	w += strlen(SIGNAL_PATH);
	memcpy(out + w, base + path_end, q_len);
	w += q_len;
	out[w] = '\0';
	return 0;
}

static const char endpoint_expected[] =
	"an http:// or https:// URL: http[s]://host[:port][/path], "
	"no user info";

/* The chosen endpoint variable is unusable: no export at all. */
static void disable_export(struct loader *l, const char *name,
			   const char *value, const char *expected)
{
	memset(&l->cfg->endpoint, 0, sizeof(l->cfg->endpoint));
	l->cfg->exporter = AT_EXPORTER_NONE;
	at_cfg_warn_line(l, "invalid", name, value, expected, NULL,
			 "export disabled (no other endpoint is used)");
}

static void load_endpoint(struct loader *l)
{
	static const char *const names[] = {
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_ENDPOINT",
	};
	struct at_endpoint *ep = &l->cfg->endpoint;
	char full[AT_CFG_URL_MAX];

	for (int generic = 0; generic < 2; generic++) {
		const char *s = at_cfg_env(l, names[generic]);
		const char *url = s;

		if (s == NULL)
			continue; /* not chosen: the next source */
		if (generic)
			url = signal_url(s, full, sizeof(full)) == 0 ? full
								     : NULL;
		if (url == NULL || at_endpoint_parse(url, ep) != 0)
			/* A URL with user info may carry a password: do
			 * not echo it. */
			disable_export(l, names[generic],
				       strchr(s, '@') ? NULL : s,
				       endpoint_expected);
		return;
	}
	/* Neither set: the default (at_config_defaults). */
}

/* One TLS file: the _TRACES_ variable wins over the generic one. */
static void load_tls_file(struct loader *l, const char *generic,
			  const char *traces, char *out, size_t cap)
{
	const char *name = traces;
	const char *s = at_cfg_env(l, traces);
	size_t n;

	if (s == NULL) {
		name = generic;
		s = at_cfg_env(l, generic);
	}
	if (s == NULL)
		return;
	n = strlen(s);
	if (n >= cap) {
		disable_export(l, name, s, "a file path shorter than 1024 bytes");
		return;
	}
	memcpy(out, s, n + 1);
}

void at_cfg_load_endpoint(struct loader *l)
{
	struct at_config *cfg = l->cfg;

	load_endpoint(l);
	load_tls_file(l, "OTEL_EXPORTER_OTLP_CERTIFICATE",
		      "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", cfg->tls_ca_file,
		      sizeof(cfg->tls_ca_file));
	load_tls_file(l, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
		      "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
		      cfg->tls_client_cert, sizeof(cfg->tls_client_cert));
	load_tls_file(l, "OTEL_EXPORTER_OTLP_CLIENT_KEY",
		      "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
		      cfg->tls_client_key, sizeof(cfg->tls_client_key));
}
