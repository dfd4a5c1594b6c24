/*
 * at_curl.c - libcurl transfers as CLIENT spans (see at_curl.h).
 *
 * DESIGN
 *
 * What curl_easy_setopt tells.  The hook forwards every option to the real
 * function and, when it succeeded, notes the few that describe the request:
 * the URL, the method (CUSTOMREQUEST, NOBODY, POST, POSTFIELDS, UPLOAD,
 * HTTPGET) and the application's CURLOPT_HTTPHEADER list (the pointer: the
 * list is the application's, and may change or be freed between
 * transfers, so it is read only when a transfer starts).
 *
 * A transfer.  It starts in curl_easy_perform, or when the handle is added
 * to a multi handle (its parent: the span active on that thread).  Its
 * request heads get "traceparent: ..." (and "tracestate: ...", baggage) in
 * one of two ways.  The list path: the library builds its own curl_slist
 * - the application's lines plus ours - and installs it with
 * CURLOPT_HTTPHEADER; curl sends it on every request of the transfer,
 * redirects and retries included.  The lend (below), for a plain http://
 * easy transfer: the socket layer adds the lines.  If the application's
 * list already has a traceparent, nothing is added (list path, with its
 * list unchanged) and the span continues that context instead.  When the
 * transfer ends (perform returns, curl_multi_info_read
 * reports CURLMSG_DONE, the handle is removed or cleaned up) the span gets
 * what curl_easy_getinfo knows (status, peer, protocol version, the method
 * if a redirect changed it, redirects, phase timings as events) and the
 * application's own list is put back.
 *
 * The cost per transfer (issue 19: a keep-alive loop on one handle).  Our
 * list is made of nodes in the handle's state pointing at the
 * application's strings (they are not copied) and at our lines, kept in
 * the state too: no malloc, no free.  Only a list longer than those nodes
 * (AT_CURL_INLINE_NODES) or one with baggage to pass on is a copy made
 * with curl_slist_append and freed at the end.  The URL's attributes are
 * worked out once per URL (a loop that sets the same URL again reuses
 * them), the method once per change of the method options.  What remains
 * is mostly curl's: it formats each custom header line a byte at a time
 * (Curl_dyn_addf "%s\r\n": about 90 instructions a byte), so our one
 * traceparent line costs some 8,500 instructions inside libcurl (its
 * request buffer also grows once more), against about 3,200 for all of
 * this file's work (span, attributes, ten curl_easy_getinfo calls, the
 * two CURLOPT_HTTPHEADER swaps); curl charges as much for a line the
 * application adds.  Hence the lend: a line injected below curl.
 *
 * The lend.  A plain http:// easy transfer lends its span to the socket
 * layer (at_conn.h, at_conn_lend) for the call: the socket layer, which
 * parses the heads of C clients' requests anyway, adds the span's lines at
 * the end of each request head this thread sends, makes no span of its
 * own, and the transfer does not get our list (no swap, no formatting by
 * curl).  The lines, spans and attributes are those of the list path;
 * only the place of the line among the headers differs: last in the head,
 * where curl writes custom lines before some of its own (a POST's
 * Content-Length and Content-Type).  Figures (scripts/bench/instr.sh
 * curl, keep-alive GETs): 13.5-14.4 k instructions added per transfer
 * with the list, 6.2-8.6 k with the lend; the socket layer no longer
 * parses a lent connection's responses (at_conn.h): the library's own
 * instructions per lent transfer are about 4.3 k, exporter included
 * (libcurl's own count moves by 1 k or more from run to run).
 * It lends only when nothing else can be sent on the thread meanwhile and
 * every head of the transfer reaches the socket layer as plain HTTP/1.x,
 * else the list path, unchanged: the easy interface (the multi interface
 * runs many transfers in one call), a whole "http://" URL
 * (CURLOPT_URL; not CURLU), no option of lend_rule() set (follow-location,
 * proxies, unix sockets, HTTP/2, HSTS, alt-svc, DoH, cookies, share, the
 * callbacks that run before a request is sent...), no proxy variable in
 * the environment unless CURLOPT_NOPROXY is "*", no propagation field and
 * no CR or LF in the application's lines, a head that stays far under
 * AT_HTTP_HEAD_MAX.  The socket layer binds the lend to the connection of
 * its first head: a request an application callback (write, header) makes
 * on another socket meanwhile, or a transfer it runs (its hooks pass:
 * AT_OWN_CURL), is not lent.  The lend ends in at_curl_end (every return
 * of curl_easy_perform).  A transfer whose head the socket layer did not
 * see with the lines (lost, counted in at_conn_lend_lost) or that saw a
 * head refused, or any plain http:// one that took the list path, makes the handle
 * take the list path from then on (no_lend, kept across curl_easy_reset):
 * under AT_OWN_HTTP without a lend the socket layer gives a connection
 * up, and the handle's later transfers may reuse it.
 * Limits: an application that longjmps out of a callback past
 * curl_easy_perform leaves the lend set (as it leaves the guard's owner
 * bits); a retry on a fresh connection while curl still keeps the dead
 * one open gets no line (counted as refused).
 *
 * The socket layer.  While a libcurl call that moves transfers runs
 * (the guard's AT_OWN_HTTP bit), at_conn.c makes no HTTP span for the
 * bytes: a plain http:// request would otherwise be seen twice; without a
 * lend it injects nothing either and gives the connection up.  The TCP
 * connect span is still made, as the child of the easy transfer's span
 * (active during curl_easy_perform).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "at_ascii.h"
#include "at_clock.h"
#include "at_config.h"
#include "at_conn.h"
#include "at_curl.h"
#include "at_http.h"
#include "at_pool.h"
#include "at_propagate.h"
#include "at_span.h"
#include "at_traceparent.h"

/* Header lines with a request's baggage (at_propagate.h). */
static struct at_pool lines_pool = AT_POOL_INIT(AT_SPAN_LINES_WITH_BAGGAGE, 64);

struct curl_state {
	char url[2048];
	char custom[32];
	long nobody, post, upload;
	int postfields;
	struct curl_slist *app_headers; /* the application's list */
	struct curl_slist *ours;        /* ours, installed during a transfer */
	bool ours_copied;               /* ours made by curl_slist_append */
	struct at_span *span;
	uint64_t start_mono;
	/* The method the options give (method_of), worked out at the first
	 * transfer after a method option changed (method_set false), and its
	 * at_http_known_method name (NULL: not a known method). */
	bool method_set;
	char method[32];
	const char *method_known;
	/* What url gives the span, worked out at the first transfer after
	 * CURLOPT_URL changed it (URL_UNKNOWN). */
	enum { URL_UNKNOWN, URL_NO_ATTRS, URL_ATTRS } url_kind;
	int url_port;                   /* server.port, -1: none */
	uint16_t host_off, host_len;    /* server.address, in url */
	bool has_host;
	size_t url_full_len;
	char url_full[2048];
	/* Lending the span to the socket layer (see DESIGN): the options
	 * set that rule it out (lend_rule bits), CURLOPT_NOPROXY "*", url
	 * is a whole "http://" URL of url_len bytes; lent: this transfer
	 * lent its span; no_lend: one of this handle's transfers did not
	 * lend, or its lend was refused or lost - its connections may have
	 * turned untraced: the list from now on (kept across
	 * curl_easy_reset, which keeps the connections). */
	uint64_t lend_block;
	bool noproxy_all, url_http, lent, no_lend;
	size_t url_len;
	/* Our list without copies: the application's lines (its strings)
	 * then ours, written in lines. */
	struct curl_slist nodes[AT_CURL_INLINE_NODES];
	char lines[AT_SPAN_LINES_MAX];
};

struct at_curl_real at_curl;

#define AT_CURL_SYM(ret, name, params) AT_SYM(at_curl, name)
static const struct at_sym curl_syms[] = { AT_CURL_FUNCS(AT_CURL_SYM) };
#undef AT_CURL_SYM
static const char *const curl_required[] = {
	"curl_easy_setopt", "curl_easy_getinfo", "curl_slist_append",
	"curl_slist_free_all", NULL
};
/* As for libpq: RTLD_NEXT, or the already loaded library itself when a
 * module loaded it privately. */
struct at_symtab at_curl_syms = AT_SYMTAB_INIT("libcurl.so.4", curl_syms,
					       curl_required);

static struct at_handle_map states =
	AT_HANDLE_MAP_INIT(sizeof(struct curl_state), 16384);
static struct at_pool span_pool = AT_POOL_INIT(sizeof(struct at_span), 16384);

static struct curl_state *state_get(CURL *h, bool create)
{
	return at_handle_get(&states, h, create);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src ? src : "", n);
	dst[n] = 0;
}

/*
 * The options that rule lending out when set to anything but their
 * default: their bit in lend_block, or -1.  Each either lets something
 * other than this transfer's own plain HTTP/1.x requests be sent on the
 * thread during curl_easy_perform (a proxy, TLS after a redirect or an
 * HSTS upgrade, HTTP/2, DoH's requests, a PROXY protocol line), takes the
 * bytes off a traced TCP socket (unix sockets, TCP Fast Open), changes
 * what the list path would send beyond the line's place (a SigV4
 * signature covers the header list), lets the head grow without bound
 * (cookies), shares connections with other handles, or runs
 * application code before the first request head is sent (a callback
 * that could make a request of its own before the lend is bound to the
 * transfer's connection).  The write and header callbacks run only
 * after a response arrived on the bound connection.
 */
#pragma GCC diagnostic push /* HTTPPOST, PROGRESSFUNCTION: still honoured */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int lend_rule(CURLoption opt)
{
	switch (opt) {
	case CURLOPT_FOLLOWLOCATION: return 0;
	case CURLOPT_PROXY: return 1;
	case CURLOPT_PRE_PROXY: return 2;
	case CURLOPT_HTTPPROXYTUNNEL: return 3;
	case CURLOPT_UNIX_SOCKET_PATH: return 4;
	case CURLOPT_ABSTRACT_UNIX_SOCKET: return 5;
	case CURLOPT_HTTP_VERSION: return 6;
	case CURLOPT_HSTS: return 7;
	case CURLOPT_HSTS_CTRL: return 8;
	case CURLOPT_HSTSREADFUNCTION: return 9;
	case CURLOPT_ALTSVC: return 10;
	case CURLOPT_ALTSVC_CTRL: return 11;
	case CURLOPT_HAPROXYPROTOCOL: return 12;
	case CURLOPT_TCP_FASTOPEN: return 13;
	case CURLOPT_CONNECT_ONLY: return 14;
	case CURLOPT_DOH_URL: return 15;
	case CURLOPT_AWS_SIGV4: return 16;
	case CURLOPT_CURLU: return 17;
	case CURLOPT_SHARE: return 18;
	case CURLOPT_COOKIE: return 19;
	case CURLOPT_COOKIEFILE: return 20;
	case CURLOPT_COOKIEJAR: return 21;
	case CURLOPT_COOKIELIST: return 22;
	case CURLOPT_HTTP09_ALLOWED: return 23;
	case CURLOPT_MIMEPOST: return 24;
	case CURLOPT_HTTPPOST: return 25;
	case CURLOPT_PREREQFUNCTION: return 26;
	case CURLOPT_OPENSOCKETFUNCTION: return 27;
	case CURLOPT_SOCKOPTFUNCTION: return 28;
	case CURLOPT_CLOSESOCKETFUNCTION: return 29;
	case CURLOPT_RESOLVER_START_FUNCTION: return 30;
	case CURLOPT_XFERINFOFUNCTION: return 31;
	case CURLOPT_PROGRESSFUNCTION: return 32;
	case CURLOPT_DEBUGFUNCTION: return 33;
	case CURLOPT_READFUNCTION: return 34;
	case CURLOPT_SEEKFUNCTION: return 35;
	case CURLOPT_TRAILERFUNCTION: return 36;
	case CURLOPT_INTERLEAVEFUNCTION: return 37;
	/* Strings curl writes into the head: long ones only. */
	case CURLOPT_USERAGENT: return 38;
	case CURLOPT_REFERER: return 39;
	case CURLOPT_USERPWD: return 40;
	case CURLOPT_USERNAME: return 41;
	case CURLOPT_PASSWORD: return 42;
	case CURLOPT_RANGE: return 43;
	case CURLOPT_XOAUTH2_BEARER: return 44;
	case CURLOPT_REQUEST_TARGET: return 45;
	default: return -1;
	}
}
#pragma GCC diagnostic pop

/* The longest string option (lend_rule 38...) that still lends: the
 * head then stays well under AT_HTTP_HEAD_MAX (lend_fits). */
#define LEND_STR_MAX 512
/* What curl's own lines take at most then (Host, User-Agent, Referer,
 * Authorization, Range, Accept, Content-Length/-Type, Expect...). */
#define LEND_CURL_LINES 4096

static void lend_note(struct curl_state *st, CURLoption opt, int bit,
		      const void *ptr, long val)
{
	bool blocks;

	if (opt == CURLOPT_HTTP_VERSION)
		blocks = val > CURL_HTTP_VERSION_1_1;
	else if (bit >= 38)
		blocks = ptr && strlen(ptr) > LEND_STR_MAX;
	else
		blocks = ptr || val; /* val: a function pointer's presence */
	if (blocks)
		st->lend_block |= 1ull << bit;
	else
		st->lend_block &= ~(1ull << bit);
}

void at_curl_option(CURL *h, CURLoption opt, const void *ptr, long val)
{
	struct curl_state *st;
	int bit = lend_rule(opt);

	if (bit >= 0 || opt == CURLOPT_NOPROXY) {
		if (!(st = state_get(h, true)))
			return;
		if (bit >= 0)
			lend_note(st, opt, bit, ptr, val);
		else
			st->noproxy_all = ptr && !strcmp(ptr, "*");
		return;
	}
	switch (opt) {
	case CURLOPT_URL:
	case CURLOPT_CUSTOMREQUEST:
	case CURLOPT_HTTPHEADER:
	case CURLOPT_NOBODY:
	case CURLOPT_POST:
	case CURLOPT_POSTFIELDS:
	case CURLOPT_COPYPOSTFIELDS:
	case CURLOPT_UPLOAD:
	case CURLOPT_HTTPGET:
		break;
	default:
		return;
	}
	st = state_get(h, true);
	if (!st)
		return;
	switch (opt) {
	case CURLOPT_URL:
		/* A loop setting the same URL keeps what it gives the span. */
		if (st->url_kind == URL_UNKNOWN || !ptr ||
		    strncmp(st->url, ptr, sizeof(st->url)) != 0) {
			copy_str(st->url, sizeof(st->url), ptr);
			st->url_kind = URL_UNKNOWN;
			st->url_len = strlen(st->url);
			st->url_http = ptr && st->url_len + 1 < sizeof(st->url) &&
				       !strncmp(st->url, "http://", 7);
		}
		break;
	case CURLOPT_CUSTOMREQUEST:
		copy_str(st->custom, sizeof(st->custom), ptr);
		break;
	case CURLOPT_HTTPHEADER:
		st->app_headers = (struct curl_slist *)ptr;
		break;
	case CURLOPT_NOBODY:
		st->nobody = val;
		break;
	case CURLOPT_POST:
		st->post = val;
		break;
	case CURLOPT_POSTFIELDS:
	case CURLOPT_COPYPOSTFIELDS:
		st->postfields = ptr != NULL;
		break;
	case CURLOPT_UPLOAD:
		st->upload = val;
		break;
	case CURLOPT_HTTPGET:
		if (val)
			st->nobody = st->post = st->upload = st->postfields = 0;
		break;
	default:
		break;
	}
	if (opt != CURLOPT_URL && opt != CURLOPT_HTTPHEADER)
		st->method_set = false; /* a method option */
}

/* The method this transfer will use, as curl decides it. */
static const char *method_of(const struct curl_state *st)
{
	if (st->custom[0])
		return st->custom;
	if (st->nobody)
		return "HEAD";
	if (st->upload)
		return "PUT";
	if (st->post || st->postfields)
		return "POST";
	return "GET";
}

static const char *header_value(const char *line)
{
	const char *v = strchr(line, ':');

	if (!v)
		return "";
	v++;
	while (*v == ' ' || *v == '\t')
		v++;
	return v;
}

/* known: at_http_known_method(m), NULL if m is not a known method. */
static void set_method(struct at_span *s, const char *m, const char *known)
{
	if (known) {
		at_span_set_cstr(s, "http.request.method", known);
		at_span_set_name(s, known, strlen(known));
	} else {
		at_span_set_cstr(s, "http.request.method", "_OTHER");
		at_span_set_cstr(s, "http.request.method_original", m);
		at_span_set_name(s, "HTTP", 4);
	}
}

/*
 * What the URL "scheme://host[:port]/..." gives the span - url.full,
 * server.address/port - into st's cache: a keep-alive loop that sets the
 * same URL again parses it once.
 */
static void parse_url(struct curl_state *st)
{
	const char *url = st->url;
	const char *sep = strstr(url, "://");
	struct at_http_str host;
	int port = -1;

	st->url_kind = URL_NO_ATTRS;
	if (!sep)
		return;
	const char *auth = sep + 3;
	const char *end = auth + strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', (size_t)(end - auth));
	const char *hp = at ? at + 1 : auth;
	size_t scheme_len = (size_t)(sep - url);
	char scheme[16];

	if (scheme_len == 0 || scheme_len >= sizeof(scheme))
		return;
	/* A URL without a scheme ("host/p?a=b://c") has no url.full: the
	 * "://" found is in its path or query, which must not be copied. */
	for (size_t i = 0; i < scheme_len; i++) {
		char c = url[i];
		if (!at_is_alpha(c) &&
		    (i == 0 || !(at_is_digit(c) || c == '+' || c == '-' ||
				 c == '.')))
			return;
	}
	memcpy(scheme, url, scheme_len);
	scheme[scheme_len] = 0;
	/* Give at_http_url_full the target and the host without user info;
	 * it redacts the query (and would redact user info if present). */
	st->url_full_len = at_http_url_full(
		st->url_full, sizeof(st->url_full), scheme, hp,
		(size_t)(end - hp), *end ? end : "/", *end ? strlen(end) : 1,
		at_cfg.http_redact_query);
	if (at) {
		/* Credentials: REDACTED:REDACTED@host, as the conventions say. */
		char out[sizeof(st->url_full)];
		int n;

		memcpy(out, st->url_full, st->url_full_len + 1);
		n = snprintf(st->url_full, sizeof(st->url_full),
			     "%s://REDACTED:REDACTED@%s", scheme,
			     out + scheme_len + 3);
		st->url_full_len = n <= 0 ? 0 /* none */
				   : (size_t)n < sizeof(st->url_full)
					   ? (size_t)n
					   : sizeof(st->url_full) - 1;
	}
	st->url_kind = URL_ATTRS;
	st->has_host = at_http_host_port(hp, (size_t)(end - hp), &host,
					 &port) == 0;
	if (!st->has_host)
		return;
	st->host_off = (uint16_t)(host.p - url);
	st->host_len = (uint16_t)host.len;
	if (port < 0)
		port = !strcmp(scheme, "https") ? 443
		       : !strcmp(scheme, "http") ? 80
						 : -1;
	st->url_port = port;
}

/* url.full, server.address/port */
static void set_url(struct at_span *s, struct curl_state *st)
{
	if (st->url_kind == URL_UNKNOWN)
		parse_url(st);
	if (st->url_kind != URL_ATTRS)
		return;
	if (st->url_full_len)
		at_span_set_str(s, "url.full", st->url_full, st->url_full_len);
	if (!st->has_host)
		return;
	at_span_set_str(s, "server.address", st->url + st->host_off,
			st->host_len);
	if (st->url_port >= 0)
		at_span_set_int(s, "server.port", st->url_port);
}

/*
 * Give the transfer our header list: the application's lines, then the
 * lines of the configured propagation formats it did not send itself
 * (own), baggage included.  Any failure: the application's list stays.
 *
 * Without baggage the list is made of the handle's own nodes: the
 * application's strings (not copies) and our lines in st->lines - no
 * allocation.  With baggage (its lines need a pooled buffer only while
 * they are copied) or a list longer than the nodes, it is a copy made
 * with curl_slist_append.
 */
static void install_inline(CURL *h, struct curl_state *st, unsigned own)
{
	static char empty[1];
	struct curl_slist *l;
	unsigned k = 0;
	char *line;

	if (at_span_header_lines(st->span, own | AT_PROP_BAGGAGE, "\n",
				 st->lines, sizeof(st->lines)) == 0)
		return;
	for (l = st->app_headers; l; l = l->next, k++) {
		if (k == AT_CURL_INLINE_NODES)
			return;
		st->nodes[k].data = l->data ? l->data : empty;
		st->nodes[k].next = &st->nodes[k + 1];
	}
	for (line = st->lines; *line; k++) {
		char *e = strchr(line, '\n');

		if (k == AT_CURL_INLINE_NODES)
			return;
		*e = 0;
		st->nodes[k].data = line;
		st->nodes[k].next = &st->nodes[k + 1];
		line = e + 1;
	}
	st->nodes[k - 1].next = NULL;
	if (at_curl.curl_easy_setopt(h, CURLOPT_HTTPHEADER, st->nodes) ==
	    CURLE_OK) {
		st->ours = st->nodes;
		st->ours_copied = false;
	}
}

static void install_copy(CURL *h, struct curl_state *st, unsigned own)
{
	char small[AT_SPAN_LINES_MAX], *buf = small, *big = NULL, *line;
	struct curl_slist *ours = NULL, *l;
	size_t n;
	bool ok = true;

	/* With baggage: a pooled buffer (none free: the lines without it). */
	if (at_span_passes_baggage(st->span, own) &&
	    (big = at_pool_get(&lines_pool)))
		buf = big;
	n = at_span_header_lines(st->span, big ? own : own | AT_PROP_BAGGAGE,
				 "\n", buf,
				 big ? AT_SPAN_LINES_WITH_BAGGAGE : sizeof(small));
	if (n == 0)
		goto out;
	for (l = st->app_headers; l && ok; l = l->next) {
		struct curl_slist *nl = at_curl.curl_slist_append(
			ours, l->data ? l->data : "");
		ok = nl != NULL;
		if (ok)
			ours = nl;
	}
	for (line = buf; ok && *line;) {
		char *e = strchr(line, '\n');
		struct curl_slist *nl;

		*e = 0;
		nl = at_curl.curl_slist_append(ours, line);
		ok = nl != NULL;
		if (ok)
			ours = nl;
		line = e + 1;
	}
	if (ok && at_curl.curl_easy_setopt(h, CURLOPT_HTTPHEADER, ours) ==
			  CURLE_OK) {
		st->ours = ours;
		st->ours_copied = true;
		ours = NULL;
	}
out:
	if (ours)
		at_curl.curl_slist_free_all(ours);
	if (big)
		at_pool_put(&lines_pool, big);
}

extern char **environ;

/* A proxy variable in the environment (curl reads http_proxy and
 * all_proxy/ALL_PROXY for an http:// URL; HTTP_PROXY counts here too):
 * one pass over it, no getenv per name. */
static bool proxy_env(void)
{
	for (char **e = environ; e && *e; e++) {
		const char *v = *e;

		if ((v[0] | 0x20) != 'h' && (v[0] | 0x20) != 'a')
			continue;
		if (!strncasecmp(v, "http_proxy=", 11) ||
		    !strncasecmp(v, "all_proxy=", 10))
			return true;
	}
	return false;
}

/* May this easy transfer lend its span to the socket layer instead of
 * getting our list?  app_len: the bytes of the application's lines;
 * lines_ok: none carries a CR or LF of its own. */
static bool may_lend(const struct curl_state *st, size_t app_len,
		     bool lines_ok)
{
	return lines_ok && st->url_http && !st->lend_block && !st->no_lend &&
	       2 * st->url_len + app_len + LEND_CURL_LINES +
			       AT_SPAN_LINES_MAX <
		       AT_HTTP_HEAD_MAX &&
	       (st->noproxy_all || !proxy_env());
}

/* The lend of this handle's transfer ends: a transfer whose head the
 * socket layer did not see (its connection untraced), or that lost its
 * lines or saw another connection refused, makes the handle use the list
 * from now on. */
static void lend_end(struct curl_state *st, CURL *h)
{
	struct at_conn_lend l = at_conn_lend_end();
	long sent = 0;

	st->lent = false;
	if (!l.heads &&
	    at_curl.curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent) ==
		    CURLE_OK &&
	    sent > 0) {
		l.lost++;
		atomic_fetch_add_explicit(&at_conn_lend_lost, 1,
					  memory_order_relaxed);
	}
	if (l.lost || l.refused)
		st->no_lend = true;
}

static void add_trace_headers(CURL *h, struct curl_state *st, unsigned own)
{
	if (!at_span_passes_baggage(st->span, own))
		install_inline(h, st, own);
	if (!st->ours)
		install_copy(h, st, own);
}

void at_curl_begin(CURL *h, bool activate)
{
	struct curl_state *st = state_get(h, true);
	struct at_span_context parent;
	struct at_prop_fields f = { 0 };
	const char *app_ts = NULL;
	struct curl_slist *l;
	char ts[AT_TRACESTATE_MAX + 1];
	unsigned own = 0, got;
	int ts_n = 0;
	size_t app_len = 0;
	bool lines_ok = true;

	if (!st)
		return;
	if (st->span)
		at_curl_abandon(h); /* a transfer we did not see end */
	st->span = at_pool_get(&span_pool);
	if (!st->span)
		return;
	/* The application's own propagation headers, in the configured
	 * formats: their formats are not added, and a valid context among
	 * them is continued. */
	for (l = st->app_headers; l; l = l->next) {
		const char *colon = l->data ? strchr(l->data, ':') : NULL;
		enum at_prop_field which;
		struct at_prop_str *slot = NULL;
		unsigned bit;

		if (l->data) {
			size_t n = strcspn(l->data, "\r\n");

			lines_ok &= l->data[n] == 0;
			app_len += n + 2;
		}
		if (!colon)
			continue;
		bit = at_prop_field_of(l->data, (size_t)(colon - l->data), &which);
		own |= bit;
		if (!bit)
			continue;
		if (which == AT_PF_TRACEPARENT)
			f.n_traceparent++;
		else if (which == AT_PF_TRACESTATE)
			app_ts = header_value(l->data);
		slot = at_prop_fields_slot(&f, which);
		if (slot && !slot->p) {
			slot->p = header_value(l->data);
			slot->len = strlen(slot->p);
		}
	}
	/* No field of a configured format in the list: nothing to extract. */
	got = own ? at_prop_extract(&f, at_cfg.prop_order, at_cfg.n_prop,
				    &parent)
		  : 0;
	if (got) {
		if (got == AT_PROP_TRACECONTEXT && app_ts)
			ts_n = at_tracestate_sanitize(app_ts, strlen(app_ts), ts,
						      sizeof(ts));
		at_span_start_with_parent(st->span, "HTTP", 4, AT_KIND_CLIENT,
					  &parent, ts, ts_n > 0 ? (size_t)ts_n : 0,
					  false);
	} else {
		at_span_start_detached(st->span, "HTTP", 4, AT_KIND_CLIENT);
	}
	if (!at_span_started(st->span)) {
		at_pool_put(&span_pool, st->span);
		st->span = NULL;
		return;
	}
	st->start_mono = at_mono_ns();
	if (at_span_recording(st->span)) {
		if (!st->method_set) {
			copy_str(st->method, sizeof(st->method), method_of(st));
			st->method_known = at_http_known_method(
				st->method, strlen(st->method));
			st->method_set = true;
		}
		set_method(st->span, st->method, st->method_known);
		set_url(st->span, st);
	}
	/* An easy transfer that may (see DESIGN) lends its span to the
	 * socket layer, which adds the lines to its request heads.  Else our
	 * list: the application's lines, then the propagation headers of
	 * the formats it did not send. */
	if (activate && !own && may_lend(st, app_len, lines_ok)) {
		at_conn_lend_begin(st->span);
		st->lent = true;
	} else {
		if (activate && st->url_http)
			st->no_lend = true; /* its connection is given up */
		add_trace_headers(h, st, own);
	}
	if (activate)
		at_span_activate(st->span);
}

static const char *curlcode_name(CURLcode rc)
{
	switch ((int)rc) {
	case 1: return "CURLE_UNSUPPORTED_PROTOCOL";
	case 3: return "CURLE_URL_MALFORMAT";
	case 5: return "CURLE_COULDNT_RESOLVE_PROXY";
	case 6: return "CURLE_COULDNT_RESOLVE_HOST";
	case 7: return "CURLE_COULDNT_CONNECT";
	case 8: return "CURLE_WEIRD_SERVER_REPLY";
	case 18: return "CURLE_PARTIAL_FILE";
	case 22: return "CURLE_HTTP_RETURNED_ERROR";
	case 23: return "CURLE_WRITE_ERROR";
	case 26: return "CURLE_READ_ERROR";
	case 27: return "CURLE_OUT_OF_MEMORY";
	case 28: return "CURLE_OPERATION_TIMEDOUT";
	case 35: return "CURLE_SSL_CONNECT_ERROR";
	case 42: return "CURLE_ABORTED_BY_CALLBACK";
	case 47: return "CURLE_TOO_MANY_REDIRECTS";
	case 52: return "CURLE_GOT_NOTHING";
	case 55: return "CURLE_SEND_ERROR";
	case 56: return "CURLE_RECV_ERROR";
	case 60: return "CURLE_PEER_FAILED_VERIFICATION";
	case 63: return "CURLE_FILESIZE_EXCEEDED";
	case 77: return "CURLE_SSL_CACERT_BADFILE";
	default: return "_OTHER";
	}
}

/* What curl_easy_getinfo knows about the finished transfer. */
static void set_info(struct curl_state *st, CURL *h)
{
	struct at_span *s = st->span;
	long code = 0, port = 0, ver = 0, redirects = 0;
	char *ip = NULL, *method = NULL;
	curl_off_t t;
	static const struct {
		CURLINFO info;
		const char *name;
	} phases[] = {
		{ CURLINFO_NAMELOOKUP_TIME_T, "name_lookup" },
		{ CURLINFO_CONNECT_TIME_T, "connect" },
		{ CURLINFO_APPCONNECT_TIME_T, "tls_handshake" },
		{ CURLINFO_STARTTRANSFER_TIME_T, "first_byte" },
	};

	if (!at_span_recording(s))
		return;
	/* The method curl used (a redirect may change it), when it is not
	 * the one the span was named with. */
	if (at_curl.curl_easy_getinfo(h, CURLINFO_EFFECTIVE_METHOD, &method) ==
		    CURLE_OK &&
	    method && *method && strcmp(method, st->method) != 0)
		set_method(s, method, at_http_known_method(method, strlen(method)));
	if (at_curl.curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) ==
		    CURLE_OK &&
	    code > 0)
		at_span_set_int(s, "http.response.status_code", code);
	if (at_curl.curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK &&
	    ip && *ip)
		at_span_set_cstr(s, "network.peer.address", ip);
	if (at_curl.curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port) ==
		    CURLE_OK &&
	    port > 0)
		at_span_set_int(s, "network.peer.port", port);
	if (at_curl.curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &ver) ==
		    CURLE_OK &&
	    ver > 0)
		at_span_set_cstr(s, "network.protocol.version",
				 ver == CURL_HTTP_VERSION_1_0   ? "1.0"
				 : ver == CURL_HTTP_VERSION_1_1 ? "1.1"
				 : ver == CURL_HTTP_VERSION_2_0 ? "2"
								: "3");
	if (at_curl.curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &redirects) ==
		    CURLE_OK &&
	    redirects > 0)
		at_span_set_int(s, "http.request.resend_count", redirects);
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if (at_curl.curl_easy_getinfo(h, phases[i].info, &t) ==
			    CURLE_OK &&
		    t > 0)
			at_span_add_event_at(s, phases[i].name,
					     st->start_mono +
						     (uint64_t)t * 1000u);
	if (code >= 400) {
		char c[8];
		int n = snprintf(c, sizeof(c), "%ld", code);
		at_span_set_str(s, "error.type", c, (size_t)n);
		at_span_set_status(s, AT_STATUS_ERROR, NULL, 0);
	}
}

/* Put the application's headers back and free ours (if copied). */
static void restore_headers(struct curl_state *st, CURL *h)
{
	if (!st->ours)
		return;
	at_curl.curl_easy_setopt(h, CURLOPT_HTTPHEADER, st->app_headers);
	if (st->ours_copied)
		at_curl.curl_slist_free_all(st->ours);
	st->ours = NULL;
}

static void finish(CURL *h, CURLcode rc, bool have_rc)
{
	struct curl_state *st = state_get(h, false);

	if (!st || !st->span)
		return;
	restore_headers(st, h);
	if (st->lent)
		lend_end(st, h);
	set_info(st, h);
	if (have_rc && rc != CURLE_OK && at_span_recording(st->span)) {
		const char *name = curlcode_name(rc);
		at_span_set_cstr(st->span, "error.type", name);
		at_span_set_status(st->span, AT_STATUS_ERROR, name,
				   strlen(name));
	}
	at_span_end(st->span);
	at_pool_put(&span_pool, st->span);
	st->span = NULL;
}

void at_curl_end(CURL *h, CURLcode rc)
{
	finish(h, rc, true);
}

void at_curl_abandon(CURL *h)
{
	finish(h, CURLE_OK, false);
}

void at_curl_reset(CURL *h)
{
	struct curl_state *st = state_get(h, false);

	if (!st)
		return;
	bool no_lend;

	at_curl_abandon(h);
	no_lend = st->no_lend; /* the handle keeps its connections */
	memset(st, 0, sizeof(*st));
	st->no_lend = no_lend;
}

void at_curl_dup(CURL *from, CURL *to)
{
	struct curl_state *a = state_get(from, false), *b;

	if (!a || !to)
		return;
	/* Duplicated during a transfer: the copy got our list, which lives
	 * in from's state; give it the application's. */
	if (a->ours)
		at_curl.curl_easy_setopt(to, CURLOPT_HTTPHEADER, a->app_headers);
	if (!(b = state_get(to, true)))
		return;
	memcpy(b->url, a->url, sizeof(b->url));
	b->url_kind = URL_UNKNOWN; /* parsed at its first transfer */
	memcpy(b->custom, a->custom, sizeof(b->custom));
	b->nobody = a->nobody;
	b->post = a->post;
	b->upload = a->upload;
	b->postfields = a->postfields;
	b->method_set = false; /* worked out at its first transfer */
	b->app_headers = a->app_headers;
	b->url_len = a->url_len;
	b->url_http = a->url_http;
	b->lend_block = a->lend_block;
	b->noproxy_all = a->noproxy_all;
}

void at_curl_forget(CURL *h)
{
	at_curl_abandon(h);
	at_handle_drop(&states, h);
}
