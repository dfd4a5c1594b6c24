/*
 * at_conn_attrs.c - the span attributes of the HTTP requests on a traced
 * connection (at_conn.c has the connection's design): method, protocol
 * version, status, and what a request's Host value and the connection's
 * peer give (server.address/port, client.address, network.peer.*, a
 * client's url.full).
 *
 * DESIGN
 *
 * The requests of one connection nearly always carry the same Host value,
 * and the peer never changes: what they give is worked out once per
 * connection and Host value (struct host_memo: at_http_host_port()'s
 * answer, a client's url.full prefix "scheme://authority") and kept as an
 * attribute block (at_span.h) in the order the request spans set those
 * attributes, copied into each span in one go instead of a call per
 * attribute: a client span's server.address, server.port and
 * network.peer.* (after its url.full, which changes per request), a
 * server span's the same with client.address.
 * network.protocol.version joins the block when it comes right after it
 * (a client span; a server span without User-Agent): the block's shape
 * says which, and a block of another shape is remade.  A
 * Host value longer than HOST_KEY_MAX, a block that cannot be used (a key
 * set already, the limits) or a server request without a valid Host take
 * the plain path: the same attributes, set one by one.
 */
#include <stdio.h>
#include <string.h>

#include "at_conn.h"
#include "at_conn_internal.h"
#include "at_config.h"
#include "at_http.h"

/* ---- span attributes ---- */

void conn_set_protocol(struct at_span *s, int minor)
{
	at_span_set_str(s, "network.protocol.version", minor ? "1.1" : "1.0",
			3);
}

/* A block's shape: made without network.protocol.version (proto < 0),
 * or with HTTP/1.proto's; 0 is "not made". */
static uint8_t block_shape(int proto)
{
	return proto < 0 ? 1 : (uint8_t)(2 + (proto != 0));
}

static void protocol_attr(struct at_span_block *b, int proto)
{
	if (proto >= 0)
		at_span_block_str(b, "network.protocol.version",
				  proto ? "1.1" : "1.0", 3);
}

void conn_set_method(struct at_span *s, const struct at_http_request *r,
		     const char *known)
{
	/* A known name is the method's bytes: its length is theirs. */
	if (known) {
		at_span_set_str(s, "http.request.method", known,
				r->method.len);
	} else {
		at_span_set_cstr(s, "http.request.method", "_OTHER");
		at_span_set_str(s, "http.request.method_original", r->method.p,
				r->method.len);
	}
}

/* network.peer.address and .port (the same on every span of c). */
static void peer_attrs(struct at_span_block *b, struct at_conn *c)
{
	at_span_block_str(b, "network.peer.address", c->peer_ip,
			  c->peer_ip_len);
	at_span_block_int(b, "network.peer.port", c->peer_port);
}

void conn_set_peer(struct at_span *s, struct at_conn *c, int proto)
{
	if (!c->peer_ip[0]) {
		if (proto >= 0)
			conn_set_protocol(s, proto);
		return;
	}
	if (c->peer_attrs_made != block_shape(proto)) {
		at_span_block_clear(&c->peer_attrs);
		peer_attrs(&c->peer_attrs, c);
		protocol_attr(&c->peer_attrs, proto);
		c->peer_attrs_made = block_shape(proto);
	}
	if (at_span_set_block(s, &c->peer_attrs))
		return;
	at_span_set_str(s, "network.peer.address", c->peer_ip,
			c->peer_ip_len);
	at_span_set_int(s, "network.peer.port", c->peer_port);
	if (proto >= 0)
		conn_set_protocol(s, proto);
}

void conn_set_status(struct at_span *s, int status, int server)
{
	char code[8];

	at_span_set_int(s, "http.response.status_code", status);
	if (status >= 500 || (!server && status >= 400)) {
		int n = snprintf(code, sizeof(code), "%d", status);
		at_span_set_str(s, "error.type", code, (size_t)n);
		at_span_set_status(s, AT_STATUS_ERROR, NULL, 0);
	}
}

/* The memo of Host value h[0..len) (filled if it is another than the
 * last one), or NULL if it is too long to keep. */
static struct host_memo *host_memo(struct at_conn *c, const char *h,
				   size_t len)
{
	struct host_memo *m = &c->host;
	struct at_http_str name;
	int port;

	if (len == 0 || len > sizeof(m->key))
		return NULL;
	if (m->key_len == len && memcmp(m->key, h, len) == 0)
		return m;
	memcpy(m->key, h, len);
	m->hp_ok = at_http_host_port(h, len, &name, &port) == 0;
	if (m->hp_ok) {
		m->name_off = (uint8_t)(name.p - h);
		m->name_len = (uint8_t)name.len;
		m->port = port;
	}
	m->prefix_len = 0;
	m->attrs_made = 0;
	m->key_len = (uint8_t)len;
	return m;
}

/* The memo of the Host value h[0..len) if it is the one kept. */
static struct host_memo *host_memo_kept(struct at_conn *c, const char *h,
					size_t len)
{
	struct host_memo *m = &c->host;

	return m->key_len && m->key_len == len && memcmp(m->key, h, len) == 0
		       ? m
		       : NULL;
}

void conn_set_server(struct at_span *s, struct at_conn *c, const char *h,
		     size_t len, const struct at_http_str *name, int port,
		     int proto)
{
	struct host_memo *m = host_memo_kept(c, h, len);

	if (port < 0)
		port = conn_default_port(c);
	if (m && m->attrs_made != block_shape(proto)) {
		at_span_block_clear(&m->attrs);
		at_span_block_str(&m->attrs, "server.address", name->p,
				  name->len);
		at_span_block_int(&m->attrs, "server.port", port);
		if (c->peer_ip[0])
			peer_attrs(&m->attrs, c);
		protocol_attr(&m->attrs, proto);
		m->attrs_made = block_shape(proto);
	}
	if (m && at_span_set_block(s, &m->attrs))
		return;
	at_span_set_str(s, "server.address", name->p, name->len);
	at_span_set_int(s, "server.port", port);
	conn_set_peer(s, c, proto);
}

void conn_set_server_addrs(struct at_span *s, struct at_conn *c,
			   const struct at_http_request *r, int proto)
{
	struct host_memo *m = r->host.p ? host_memo(c, r->host.p, r->host.len)
					: NULL;
	struct at_http_str host;
	const char *sni;
	int port = -1;

	if (m && m->hp_ok) {
		if (m->attrs_made != block_shape(proto)) {
			at_span_block_clear(&m->attrs);
			at_span_block_str(&m->attrs, "server.address",
					  m->key + m->name_off, m->name_len);
			if (m->port >= 0)
				at_span_block_int(&m->attrs, "server.port",
						  m->port);
			if (c->peer_ip[0]) {
				at_span_block_str(&m->attrs, "client.address",
						  c->peer_ip, c->peer_ip_len);
				peer_attrs(&m->attrs, c);
			}
			protocol_attr(&m->attrs, proto);
			m->attrs_made = block_shape(proto);
		}
		if (at_span_set_block(s, &m->attrs))
			return;
	}
	if (r->host.p && conn_host_port(c, r->host.p, r->host.len, &host,
					&port, NULL, 0, NULL, NULL) == 0) {
		at_span_set_str(s, "server.address", host.p, host.len);
		if (port >= 0)
			at_span_set_int(s, "server.port", port);
	} else if ((sni = conn_server_name(c)) && *sni) {
		at_span_set_cstr(s, "server.address", sni);
	}
	if (c->peer_ip[0])
		at_span_set_str(s, "client.address", c->peer_ip,
				c->peer_ip_len);
	conn_set_peer(s, c, proto);
}

int conn_host_port(struct at_conn *c, const char *h, size_t len,
		   struct at_http_str *name, int *port, char *url, size_t cap,
		   const struct at_http_str *target, size_t *url_len)
{
	struct host_memo *m = host_memo(c, h, len);
	size_t n;

	if (url_len)
		*url_len = 0;
	if (!m)
		return at_http_host_port(h, len, name, port);
	if (url && target->len && (target->p[0] == '/' || target->p[0] == '*')) {
		if (!m->prefix_len) {
			n = at_http_url_full(m->prefix, sizeof(m->prefix),
					     conn_scheme(c), h, len, NULL, 0, 0);
			if (n > 0 && n + 1 < sizeof(m->prefix))
				m->prefix_len = (uint8_t)n;
		}
		if (m->prefix_len && (size_t)m->prefix_len + 1 < cap) {
			memcpy(url, m->prefix, m->prefix_len);
			*url_len = at_http_url_full_after(
				url, cap, m->prefix_len, target->p, target->len,
				at_cfg.http_redact_query);
		}
	}
	if (!m->hp_ok)
		return -1;
	name->p = h + m->name_off;
	name->len = m->name_len;
	*port = m->port;
	return 0;
}
