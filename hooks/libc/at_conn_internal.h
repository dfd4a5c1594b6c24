/*
 * at_conn_internal.h - what the files of the connection state machine
 * share (private to hooks/libc/at_conn*.c; the hooks include at_conn.h):
 * the struct at_conn with its two flows and its in-flight FIFO, and the
 * helpers both directions use.  at_conn.c has the design.
 */
#ifndef AT_CONN_INTERNAL_H
#define AT_CONN_INTERNAL_H

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

/* Included after at_conn.h (its types), by the module's own files only:
 * not included here, so that the private header is not a module of
 * its own that the public one depends on. */
#ifndef AT_CONN_H
#error "include at_conn.h before this header"
#endif
#include "at_http.h"
#include "at_iov.h"
#include "at_propagate.h"
#include "at_real.h"
#include "at_span.h"
#include "at_traceparent.h"
#include "at_wire.h"

#define INFLIGHT 8
#define BUF_SIZE (AT_HTTP_HEAD_MAX + 1024)
#define NO_INJ UINT32_MAX
/* The injected lines of the trace-context formats (at_propagate.h). */
#define INJ_INLINE AT_SPAN_LINES_MAX
_Static_assert(BUF_SIZE >= AT_SPAN_LINES_WITH_BAGGAGE,
	       "room for the lines with their baggage");

enum { PH_START = 0, PH_HEAD, PH_HEAD_SEND, PH_BODY, PH_PASS };
enum { CS_NONE = 0, CS_PENDING, CS_STOPPING, CS_STOPPED };

struct flight {
	struct at_span *span;
	/* client: the request this one was sent for (resumed at its
	 * response); server: this request (the bridges' resolver). */
	struct at_ctx_entry req;
	uint32_t seq;           /* server: the request's number (1, 2...) */
	char method[16];
	uint8_t method_len;
	/* client: FL_DESCRIBING while the sending thread describes the span
	 * after its request went out (at_conn_send.c); a reader that ends
	 * the flight meanwhile leaves the end to it (FL_END_ASKED, with
	 * end_ns).  The final response's status and a read error are kept
	 * here and set on the span when it ends (conn_fl_finish). */
	_Atomic uint8_t owner;
	uint16_t status;        /* client: 0 until a final response */
	int err;                /* client: a read error, 0 if none */
	uint64_t end_ns;        /* client, FL_END_ASKED: the end time */
	/* server: a copy of the request head (conn_head_copy_get) whose span's
	 * attributes are set when its response goes out (conn_server_describe),
	 * or NULL; where its parts are in it. */
	char *head;
	const char *known;      /* at_http_known_method() of the method */
	uint16_t m_off, m_len, t_off, t_len, h_off, h_len, ua_off, ua_len;
	uint8_t minor, has_host, has_ua;
};

enum { FL_READY = 0, FL_DESCRIBING, FL_END_ASKED };

/* What the last Host value of a connection's requests gave (they
 * usually all carry the same one): at_http_host_port()'s answer, and for
 * a client the url.full prefix ("scheme://authority"), so that they are
 * worked out once per connection instead of per request
 * (conn_host_memo). */
#define HOST_KEY_MAX 96
#define URL_PREFIX_MAX 144
struct host_memo {
	uint8_t key_len;        /* 0: nothing kept */
	uint8_t hp_ok;          /* at_http_host_port() accepted it */
	uint8_t name_off, name_len; /* server.address, in the value */
	int port;               /* its port, -1 if none */
	uint8_t prefix_len;     /* 0: not made (or too long to keep) */
	uint8_t attrs_made;     /* attrs is made: its shape (at_conn_attrs.c) */
	char key[HOST_KEY_MAX]; /* the Host value */
	char prefix[URL_PREFIX_MAX];
	/* The span attributes it gives, in the order the request spans set
	 * them: a client's server.address, server.port, network.peer.*; a
	 * server's server.address, server.port, client.address,
	 * network.peer.*; then network.protocol.version when the shape
	 * (at_conn_attrs.c) says so. */
	struct at_span_block attrs;
};

struct flow {
	uint8_t phase;
	uint32_t hlen;          /* bytes kept in buf */
	char *buf;              /* pooled head buffer, or NULL */
	struct at_http_body body;
};

struct at_conn {
	int fd;
	uint8_t role;           /* AT_FD_CLIENT / AT_FD_SERVER */
	_Atomic uint8_t connect_state;
	uint8_t peer_v6;
	uint64_t ino;
	uint64_t dev;
	time_t checked_at;      /* last identity check (coarse seconds) */
	char peer_ip[INET6_ADDRSTRLEN];
	uint8_t peer_ip_len;
	uint8_t peer_attrs_made; /* its shape (at_conn_attrs.c), 0: not made */
	/* network.peer.address and .port (and network.protocol.version). */
	struct at_span_block peer_attrs;
	int peer_port;
	char peer_path[108];    /* a unix socket's path ("" if none) */
	/* A database/cache protocol decoded on this connection (hooks/wire),
	 * once the first bytes said so; asked once (sniffed). */
	struct at_wire *wire;
	uint8_t sniffed;
	/* The connect span: owned by whoever takes it (take_connect), since
	 * a reader and a writer thread may both move the first bytes. */
	struct at_span *_Atomic connect_span;
	struct flow out, in;

	/* client: sending a head whose injection is decided */
	uint32_t head_rem;      /* program bytes of the head still to send */
	uint32_t inj_at;        /* where the line goes in them, or NO_INJ */
	uint16_t inj_len, inj_sent;
	/* The lines: in inj, or, when they carry a request's baggage (up to
	 * 8 KiB), in a pooled head buffer (inj_big, kept until the next
	 * request or the end of the connection). */
	char *inj_big;
	char inj[INJ_INLINE];

	uint32_t req_seq;       /* server: requests read so far */
	/* A carried connection (at_conn.h: a TLS session's plaintext): the
	 * transport its bytes go out through, in the fd table of nobody; or
	 * NULL for a socket's own bytes (sendmsg on fd). */
	const struct at_conn_transport *tr;
	void *tr_ctx;
	/* A socket that carries such a connection: it (the bridges'
	 * resolver finds the requests there). */
	struct at_conn *_Atomic carried;
	/* client: the request the thread worked for when it connected, or
	 * when the program last asked EPOLLOUT for it (the first ask since
	 * the last send; removing EPOLLOUT forgets it): the next request
	 * head or wire command sent resumes it (conn_resume_pending) - an
	 * event loop writes from the callback that saw the socket
	 * writable, which read nothing. */
	struct at_ctx_entry conn_req;
	/* Host values: the requests a client sends (its send path), or
	 * those a server reads (its receive path). */
	struct host_memo host;
	struct flight fl[INFLIGHT];
	_Atomic uint32_t fl_head, fl_tail;
};

/* ---- small helpers (inline: the I/O hooks' fast path) ---- */

/* Send the bytes of iov on c: through its transport when it is carried,
 * else with the real call on its fd and the program's flags (one iovec,
 * a send() or write() or a head flattened with its line, with the
 * single-buffer call: at_real_sendv). */
static inline ssize_t conn_sendv(struct at_conn *c, const struct iovec *iov,
				 int n, int flags)
{
	if (c->tr)
		return c->tr->sendv(c->tr_ctx, iov, n);
	return at_real_sendv(c->fd, iov, n, flags);
}

/* The injected lines of the head being sent. */
static inline const char *conn_inj(const struct at_conn *c)
{
	return c->inj_big ? c->inj_big : c->inj;
}

/* A pooled head buffer (BUF_SIZE bytes) for other uses, or NULL. */
char *conn_buf_get(void);
void conn_buf_put(char *buf);
/* A copy of a server's request head kept until its response (struct
 * flight's head): HEAD_COPY_MAX bytes from a pool of their own, so that
 * the requests a server has in flight never take the head buffers that
 * split heads need; NULL if it is empty. */
#define HEAD_COPY_MAX 2048
char *conn_head_copy_get(void);
void conn_head_copy_put(char *copy);

static inline struct flight *fl_push(struct at_conn *c)
{
	uint32_t t = atomic_load_explicit(&c->fl_tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&c->fl_head, memory_order_acquire);

	if (t - h >= INFLIGHT)
		return NULL;
	return &c->fl[t % INFLIGHT];
}

static inline void fl_commit(struct at_conn *c)
{
	atomic_store_explicit(&c->fl_tail,
			      atomic_load_explicit(&c->fl_tail,
						   memory_order_relaxed) + 1,
			      memory_order_release);
}

static inline struct flight *fl_oldest(struct at_conn *c)
{
	uint32_t h = atomic_load_explicit(&c->fl_head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&c->fl_tail, memory_order_acquire);

	return h == t ? NULL : &c->fl[h % INFLIGHT];
}

/* The request kept for the next thing sent on a client connection
 * (conn_req: opened, or EPOLLOUT asked, while it was current): if it is
 * still open the thread works for it again, as at a reply; forgotten
 * either way.  Called before the span of what is sent starts. */
static inline void conn_resume_pending(struct at_conn *c)
{
	if (AT_LIKELY(!c->conn_req.span))
		return;
	if (at_context_ref_get(&c->conn_req))
		at_context_resume(&c->conn_req);
	c->conn_req.span = NULL;
}

void conn_stop_connect(struct at_conn *c, int err);

/* A pending connect is over once bytes move. */
static inline void connect_done_by_io(struct at_conn *c)
{
	if (AT_UNLIKELY(atomic_load_explicit(&c->connect_state,
					     memory_order_relaxed) ==
			CS_PENDING))
		conn_stop_connect(c, 0);
}

/* ---- at_conn.c: state, flows, spans ---- */

/* Is c->fd still the socket c was made for? */
int conn_identity_ok(struct at_conn *c);
/* The connection of a traced fd, made on first use if needed. */
struct at_conn *conn_for_io(int fd);
/* The flow's pooled head buffer (NULL if the pool is empty); release. */
char *conn_flow_buf(struct flow *f);
void conn_flow_release(struct flow *f);
struct at_span *conn_span_new(void);
void conn_span_free(struct at_span *s);
/* Take the stopped connect span (NULL if none, pending, or taken). */
struct at_span *conn_take_connect(struct at_conn *c);
/* Export the kept connect span as it is. */
void conn_submit_connect(struct at_conn *c);
/* End the oldest flight's span and drop it (a client's: with its status
 * and read error; left to the sending thread if it is still describing
 * it). */
void conn_fl_finish(struct at_conn *c);
/* A client flight's span s was described by the sending thread: end it
 * now if a reader finished the flight meanwhile (FL_END_ASKED). */
void conn_fl_described(struct flight *f, struct at_span *s);
/* The request's method, as the flight remembers it (cut at 15 bytes). */
void conn_flight_method(struct flight *f, const char *m, size_t len);
/* Feed len bytes at `skip` of iov to the body framing b; returns how many
 * it took, sets *done. */
size_t conn_body_consume(struct at_http_body *b, const struct iovec *iov,
			 int n, size_t skip, size_t len, int *done);
/* The bytes from byte pos of iov to the end of its iovec (at most len,
 * and AT_HTTP_HEAD_MAX) if start() accepts them as a message's start,
 * with *head pointing at them there; else 0. */
size_t conn_head_at(const struct iovec *iov, int iovcnt, size_t pos,
		    size_t len, int (*start)(const char *, size_t),
		    const char **head);
/* Observe len bytes of iov on a flow (message heads, bodies).  on_head
 * gets each head: with exact, head[0..len) is the whole head (a parse
 * failure gives up on the flow); without, len bytes from the head's start
 * (the head may end before them, or not within them): it parses them in
 * one pass and returns the head's length, or 0, having done nothing,
 * when they are not a whole well-formed head (conn_observe then finds
 * the end and decides as with exact). */
typedef size_t (*head_fn)(struct at_conn *c, const char *head, size_t len,
			  bool exact);
void conn_observe(struct at_conn *c, struct flow *fl, const struct iovec *iov,
		  int iovcnt, size_t len, int (*start)(const char *, size_t),
		  head_fn on_head);
/* Nothing left to look at: let the I/O hooks skip the descriptor. */
void conn_maybe_passive(struct at_conn *c);
/* First bytes of a client connection (sent, or received when the peer
 * speaks first): ask the wire families whether they are theirs. */
void conn_sniff(struct at_conn *c, const struct iovec *iov, int iovcnt,
		bool out);
/* The scheme of c's URLs ("http", or "https" when carried by TLS) and
 * its default port. */
static inline const char *conn_scheme(const struct at_conn *c)
{
	return c->tr ? c->tr->scheme : "http";
}

static inline int conn_default_port(const struct at_conn *c)
{
	return c->tr ? c->tr->default_port : 80;
}

/* The name the carrier was opened for (TLS SNI), or NULL. */
static inline const char *conn_server_name(struct at_conn *c)
{
	return c->tr && c->tr->server_name ? c->tr->server_name(c->tr_ctx)
					   : NULL;
}

/* ---- at_conn_attrs.c: the spans' attributes ---- */

void conn_set_protocol(struct at_span *s, int minor);
/* The span's name for a request whose method is known (the
 * at_http_known_method() of r), or NULL: the method, else "HTTP".  Given
 * when the span starts, so that it is not renamed. */
static inline const char *conn_span_name(const char *known)
{
	return known ? known : "HTTP";
}

static inline size_t conn_span_name_len(const char *known,
					const struct at_http_request *r)
{
	return known ? r->method.len : 4;
}

void conn_set_method(struct at_span *s, const struct at_http_request *r,
		     const char *known);
/* network.peer.address and .port, then, if proto >= 0,
 * network.protocol.version of HTTP/1.proto (conn_set_protocol). */
void conn_set_peer(struct at_span *s, struct at_conn *c, int proto);
void conn_set_status(struct at_span *s, int status, int server);
/* server.address and server.port of a request's Host value h[0..len)
 * (at_http_host_port(), *name pointing into h); with url, also *url_len
 * bytes of url.full for a target of origin or asterisk form written to
 * url[0..cap) (else *url_len is 0: the caller makes it).  Remembered per
 * connection.  Returns 0, or -1 if the value has no valid host. */
int conn_host_port(struct at_conn *c, const char *h, size_t len,
		   struct at_http_str *name, int *port, char *url, size_t cap,
		   const struct at_http_str *target, size_t *url_len);
/* A client request's server.address and server.port from its Host value
 * h[0..len) (at_http_host_port() accepted it: name, port), then
 * network.peer.* and, if proto >= 0, network.protocol.version
 * (conn_set_peer): one attribute block per connection and Host value. */
void conn_set_server(struct at_span *s, struct at_conn *c, const char *h,
		     size_t len, const struct at_http_str *name, int port,
		     int proto);
/* A server request's server.address and server.port (its Host, else the
 * name TLS was asked for), client.address and network.peer.*, then, if
 * proto >= 0, network.protocol.version (conn_set_peer). */
void conn_set_server_addrs(struct at_span *s, struct at_conn *c,
			   const struct at_http_request *r, int proto);

/* ---- at_conn_send.c / at_conn_recv.c: one connection's bytes ---- */

/* A server flight's span gets the attributes its request head gives,
 * from the copy it kept (f->head, released).  Called by the thread that
 * sends the response (its head, or the flight's end). */
void conn_server_describe(struct at_conn *c, struct flight *f);

ssize_t conn_send(struct at_conn *c, const struct iovec *iov, int iovcnt,
		  int flags);
void conn_received(struct at_conn *c, const struct iovec *iov, int iovcnt,
		   ssize_t r, int err);

#endif
