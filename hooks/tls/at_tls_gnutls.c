/*
 * at_tls_gnutls.c - HTTPS through GnuTLS: the plaintext a program sends
 * with gnutls_record_send and receives with gnutls_record_recv runs
 * through the HTTP/1.x state machine of the socket layer as a carried
 * connection (hooks/libc/at_conn.h): client spans with the traceparent
 * line injected before encryption, server spans continuing the caller's
 * trace, url.scheme https, server.address from the Host header or SNI.
 *
 * DESIGN
 *
 * Resolution.  GnuTLS is never linked: the real functions come from the
 * family kit's symbol table (dlsym(RTLD_NEXT), or the loaded
 * libgnutls.so.30 when a module loaded it privately).  A program without
 * GnuTLS never calls our gnutls_* symbols.
 *
 * State per session (the kit's handle map, keyed by gnutls_session_t,
 * with each thread's last hit in front of it: at_handle_hit.h):
 * the role, remembered at gnutls_init (GNUTLS_SERVER in its flags: GnuTLS
 * has no getter for it), or else taken from the socket's role (accepted
 * or connected); the sending side's descriptor, from
 * gnutls_transport_set_int2/_ptr/_ptr2 (a pointer that is no traced TCP
 * socket gives none: the session is still traced, without a peer); and
 * the carried connection, made at the first record sent or received (the
 * handshake is over then, so ALPN is known: "h2" passes through, HTTP/2
 * comes later).  The socket under a traced session stays passive: its
 * bytes are ciphertext, one request gives one span.  gnutls_deinit ends
 * what is in flight and forgets the session.
 *
 * Why not at_tls.c's write loop.  at_tls.c (OpenSSL) writes the
 * injected line as a record of its own and keeps the progress of a call
 * for its retry, which must come with the same arguments.  GnuTLS also
 * allows the retry to come with NULL and 0, meaning "the data you took":
 * the program's bytes after a failed inner write would then be gone.
 * So here a program call is at most one record, which GnuTLS takes whole
 * or not at all, and the session's own transport is used with the
 * carried-connection API of the socket layer directly; the decision at
 * the first record (libcurl above, ALPN h2) is at_tls_start's.
 *
 * Sending.  Each time the state machine sends (the transport's sendv),
 * exactly one record goes to GnuTLS: the program's bytes as they are
 * (one piece: its own buffer), or, when the traceparent line goes among
 * them, the pieces gathered into one buffer of the session (a pooled
 * 16 KiB, held only while GnuTLS may need it), at most one record's
 * worth (gnutls_record_get_max_size), so a program writing a head whole
 * gets its whole count, as without the library.  The count returned
 * never includes the line (the machine maps it).
 *
 * GNUTLS_E_AGAIN / E_INTERRUPTED.  GnuTLS encrypts the record and keeps
 * it; the program must call again "with the exact same parameters, or
 * NULL and 0, in order to write the same data as before" (the manual),
 * and that call returns the record's count whatever data it carries.
 * The library does the same one level down: the inner send that got
 * E_AGAIN is committed (the machine counts its bytes as moved, since
 * GnuTLS holds them), the program gets E_AGAIN, and its next send -
 * whatever its arguments - resumes the inner send with the same inner
 * arguments (NULL and 0 if the program gives those and the inner
 * arguments were its own) and, once it completes, returns the program's
 * count of that record.  Non-blocking programs thus see the same error
 * codes at the same calls, and counts that never include the line.
 *
 * Receiving.  The bytes gnutls_record_recv returns are the program's:
 * they are only looked at.  0 is the peer's close; a fatal error ends
 * what is in flight like a reset; E_AGAIN, rehandshake requests and
 * warning alerts are not the end of anything.
 *
 * Limits: gnutls_record_send_range and _send_file, gnutls_record_recv_seq
 * and _recv_packet (DTLS, length hiding, kernel TLS) are not
 * interposed: a session using them is traced from the calls above only.
 * A session sending from two threads at once is not supported (GnuTLS
 * does not support it either).  DTLS sessions (GNUTLS_DATAGRAM) pass.
 * At most SESSIONS sessions are traced at once (a program that never
 * calls gnutls_deinit keeps its states).  A request still in flight when
 * the process exits, or inherited by a fork child, is not ended there:
 * carried connections are in no descriptor's entry, which is what the
 * socket layer's exit and fork steps walk.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "at_conn.h"
#include "at_fdtab.h"
#include "at_guard.h"
#include "at_tls_gnutls.h"
#include "at_handle_hit.h"

#define REC_MAX 16384   /* a TLS record's plaintext, at most */
#define SESSIONS 8192   /* sessions traced at once */

struct gt_state {
	gnutls_session_t session;
	unsigned int flags;        /* gnutls_init's */
	uint8_t inited;            /* flags known */
	_Atomic uint8_t off;       /* untraced for good (h2, DTLS, no pool) */
	int fd;                    /* sending side, or -1 */
	struct at_conn *_Atomic conn;
	char sni[256];
	_Atomic uint8_t sni_state; /* 0 not asked, 1 asked */

	/* The send in progress (one thread sends at a time). */
	size_t cur_pad;
	unsigned cur_flags;
	uint8_t cur_send2;
	uint8_t committed;         /* this call's inner send got E_AGAIN */
	ssize_t err;               /* GnuTLS code for a -1 of sendv */
	/* An inner send GnuTLS holds (E_AGAIN returned to the program). */
	uint8_t pend;
	const void *pend_ptr;
	size_t pend_len, pend_pad;
	unsigned pend_flags;
	uint8_t pend_send2;
	ssize_t pend_prog;         /* the program's count for it */
	char *buf;                 /* gathered pieces, or NULL */
};

struct at_gnutls_real at_gnutls;

#define AT_GNUTLS_SYM(ret, name, params) AT_SYM(at_gnutls, name)
static const struct at_sym gnutls_syms[] = { AT_GNUTLS_FUNCS(AT_GNUTLS_SYM) };
#undef AT_GNUTLS_SYM
static const char *const gnutls_required[] = {
	"gnutls_init", "gnutls_deinit", "gnutls_record_send",
	"gnutls_record_recv", NULL
};
struct at_symtab at_gnutls_syms =
	AT_SYMTAB_INIT("libgnutls.so.30", gnutls_syms, gnutls_required);

static struct at_handle_map states =
	AT_HANDLE_MAP_INIT(sizeof(struct gt_state), SESSIONS);
static struct at_pool rec_pool = AT_POOL_INIT(REC_MAX, 1024);
/* The last session this thread found (at_handle_hit.h). */
static AT_TLS struct at_handle_hit last;
static _Atomic unsigned states_gen;

static struct gt_state *state_get(gnutls_session_t s, bool create)
{
	struct gt_state *st = at_handle_hit_find(&last, &states_gen, s);
	unsigned gen;

	if (AT_LIKELY(st != NULL))
		return st;
	gen = at_handle_hit_gen(&states_gen);
	st = at_handle_get(&states, s, create);
	if (!st)
		return NULL;
	if (!st->session) {
		st->session = s;
		st->fd = -1;
	}
	at_handle_hit_take(&last, s, st, gen);
	return st;
}

/* ---- the carried connection's transport ---- */

/* One inner record send, as the program would make it. */
static ssize_t inner_send(struct gt_state *st, const void *p, size_t len,
			  size_t pad, unsigned flags, bool send2)
{
	if (send2 && at_gnutls.gnutls_record_send2)
		return at_gnutls.gnutls_record_send2(st->session, p, len, pad,
						     flags);
	return at_gnutls.gnutls_record_send(st->session, p, len);
}

static size_t record_cap(struct gt_state *st)
{
	size_t cap = at_gnutls.gnutls_record_get_max_size
			     ? at_gnutls.gnutls_record_get_max_size(st->session)
			     : REC_MAX;

	return cap && cap < REC_MAX ? cap : REC_MAX;
}

static void buf_release(struct gt_state *st)
{
	if (st->buf) {
		at_pool_put(&rec_pool, st->buf);
		st->buf = NULL;
	}
}

static ssize_t gt_sendv(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct gt_state *st = ctx;
	size_t cap = record_cap(st), len = 0;
	const void *p;
	ssize_t r;

	if (st->committed) {
		/* GnuTLS holds a record of this call already. */
		st->err = GNUTLS_E_AGAIN;
		return -1;
	}
	if (iovcnt <= 1 || !(st->buf || (st->buf = at_pool_get(&rec_pool)))) {
		/* One piece (or no buffer: the first piece, a short count). */
		p = iovcnt > 0 ? iov[0].iov_base : NULL;
		len = iovcnt > 0 ? iov[0].iov_len : 0;
		if (len > cap)
			len = cap;
	} else {
		for (int i = 0; i < iovcnt && len < cap; i++) {
			size_t k = iov[i].iov_len < cap - len ? iov[i].iov_len
							      : cap - len;
			memcpy(st->buf + len, iov[i].iov_base, k);
			len += k;
		}
		p = st->buf;
	}
	r = inner_send(st, p, len, st->cur_pad, st->cur_flags, st->cur_send2);
	if (r >= 0) {
		buf_release(st);
		return r;
	}
	st->err = r;
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		st->committed = 1;
		st->pend_ptr = p;
		st->pend_len = len;
		st->pend_pad = st->cur_pad;
		st->pend_flags = st->cur_flags;
		st->pend_send2 = st->cur_send2;
		return (ssize_t)len;
	}
	buf_release(st);
	return -1;
}

static const char *gt_server_name(void *ctx)
{
	struct gt_state *st = ctx;
	size_t len = sizeof(st->sni) - 1;
	unsigned int type = 0;

	if (atomic_load_explicit(&st->sni_state, memory_order_acquire))
		return st->sni[0] ? st->sni : NULL;
	if (!at_gnutls.gnutls_server_name_get ||
	    at_gnutls.gnutls_server_name_get(st->session, st->sni, &len, &type,
					     0) != 0 ||
	    type != GNUTLS_NAME_DNS || len >= sizeof(st->sni))
		len = 0;
	st->sni[len] = 0;
	atomic_store_explicit(&st->sni_state, 1, memory_order_release);
	return st->sni[0] ? st->sni : NULL;
}

static const struct at_conn_transport gnutls_transport = {
	.sendv = gt_sendv,
	.server_name = gt_server_name,
	.scheme = "https",
	.default_port = 443,
};

/* ---- sessions ---- */

/* Nothing to trace on this session (libcurl above makes its HTTP spans
 * and header; ALPN h2): the socket's kept connect span goes out, with
 * the protocol.  As at_tls_start decides for OpenSSL. */
static bool session_untraced(struct gt_state *st)
{
	gnutls_datum_t p = { 0 };
	bool h2;

	if (at_gnutls.gnutls_alpn_get_selected_protocol &&
	    at_gnutls.gnutls_alpn_get_selected_protocol(st->session, &p) != 0)
		p.data = NULL;
	h2 = p.data && p.size == 2 && memcmp(p.data, "h2", 2) == 0;
	if (!h2 && !at_owned(AT_OWN_HTTP))
		return false;
	at_conn_fd_uncarried(st->fd, h2 ? "h2" : NULL, h2 ? 2 : 0);
	return true;
}

static uint8_t session_role(struct gt_state *st)
{
	struct at_fd *e;
	uint8_t kind;

	if (st->inited)
		return (st->flags & GNUTLS_SERVER) ? AT_FD_SERVER : AT_FD_CLIENT;
	e = st->fd >= 0 ? at_fd_peek(st->fd) : NULL;
	kind = e ? atomic_load(&e->kind) : AT_FD_NONE;
	return kind == AT_FD_CLIENT || kind == AT_FD_SERVER ? kind : 0;
}

/* The session's carried connection, made at its first record. */
static struct at_conn *session_conn(struct gt_state *st)
{
	struct at_conn *c = atomic_load_explicit(&st->conn, memory_order_acquire);
	struct at_conn *none = NULL;
	uint8_t role;

	if (AT_LIKELY(c) || st->off)
		return c;
	role = session_role(st);
	if (!role || (st->inited && (st->flags & GNUTLS_DATAGRAM)) ||
	    session_untraced(st)) {
		st->off = 1;
		return NULL;
	}
	c = at_conn_carried_new(role, st->fd, &gnutls_transport, st);
	if (!c) {
		st->off = 1;
		return NULL;
	}
	if (!atomic_compare_exchange_strong(&st->conn, &none, c)) {
		/* The other direction's thread made it first. */
		at_conn_carried_free(c);
		c = none;
	}
	return c;
}

void at_gnutls_session_made(gnutls_session_t session, unsigned int flags)
{
	struct gt_state *st;

	/* A state left at this address by a session whose gnutls_deinit
	 * the library did not see (made while it ran on the thread) is
	 * stale: the new session starts afresh. */
	if (state_get(session, false))
		at_gnutls_session_end(session);
	st = state_get(session, true);

	if (st) {
		st->flags = flags;
		st->inited = 1;
	}
}

void at_gnutls_transport(gnutls_session_t session, long send_side)
{
	struct gt_state *st = state_get(session, true);
	int fd = send_side >= 0 && send_side < AT_FDTAB_MAX ? (int)send_side
							    : -1;

	if (!st || atomic_load(&st->conn))
		return; /* a connection in use keeps its socket */
	st->fd = fd >= 0 && at_fd_traced(fd) ? fd : -1;
	if (st->fd >= 0)
		at_conn_fd_carries(st->fd);
}

/* Finish the inner send GnuTLS holds; the program's count, or the
 * GnuTLS code. */
static ssize_t resume_pending(struct gt_state *st, const void *data,
			      size_t len)
{
	const void *p = st->pend_ptr;
	size_t n = st->pend_len;
	ssize_t r;

	/* NULL and 0 from the program: the same to GnuTLS, when the inner
	 * arguments were the program's own. */
	if (!data && !len && p != st->buf) {
		p = NULL;
		n = 0;
	}
	r = inner_send(st, p, n, st->pend_pad, st->pend_flags,
		       st->pend_send2);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return r;
	st->pend = 0;
	buf_release(st);
	return r < 0 ? r : st->pend_prog;
}

ssize_t at_gnutls_send(gnutls_session_t session, const void *data,
		       size_t len, size_t pad, unsigned flags, bool send2)
{
	struct gt_state *st = state_get(session, false);
	struct at_conn *c;
	struct iovec iov;
	ssize_t w;

	if (!st)
		goto real;
	if (AT_UNLIKELY(st->pend))
		return resume_pending(st, data, len);
	if (!len || !(c = session_conn(st)) || !at_conn_carried_active(c))
		goto real;
	st->cur_pad = pad;
	st->cur_flags = flags;
	st->cur_send2 = send2;
	st->committed = 0;
	st->err = 0;
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	w = at_conn_carried_send(c, &iov, 1);
	if (st->committed) {
		st->pend = 1;
		st->pend_prog = w > 0 ? w : 0;
		return st->err;
	}
	return w < 0 ? st->err : w;
real:
	if (send2 && at_gnutls.gnutls_record_send2)
		return at_gnutls.gnutls_record_send2(session, data, len, pad,
						     flags);
	return at_gnutls.gnutls_record_send(session, data, len);
}

ssize_t at_gnutls_recv(gnutls_session_t session, void *data, size_t len)
{
	ssize_t r = at_gnutls.gnutls_record_recv(session, data, len);
	struct gt_state *st;
	struct at_conn *c;
	struct iovec iov;

	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return r;
	st = state_get(session, false);
	if (!st || !(c = session_conn(st)) || !at_conn_carried_active(c))
		return r;
	if (r < 0 && !(at_gnutls.gnutls_error_is_fatal &&
		       at_gnutls.gnutls_error_is_fatal((int)r)))
		return r; /* a rehandshake request, a warning alert */
	iov.iov_base = data;
	iov.iov_len = r > 0 ? (size_t)r : 0;
	at_conn_carried_received(c, &iov, 1, r < 0 ? -1 : r,
				 r < 0 ? ECONNRESET : 0);
	return r;
}

void at_gnutls_session_end(gnutls_session_t session)
{
	struct gt_state *st = state_get(session, false);
	struct at_conn *c;

	if (!st)
		return;
	c = atomic_exchange(&st->conn, NULL);
	if (c)
		at_conn_carried_free(c);
	buf_release(st);
	at_handle_hit_void(&last, &states_gen);
	at_handle_drop(&states, session);
}
