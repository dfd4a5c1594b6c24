/*
 * at_wire.c - database and cache protocols on the program's sockets: the
 * dispatch from the socket layer to the protocol families (at_wire.h).
 *
 * DESIGN
 *
 * Families.  Each protocol the library decodes on the wire (PostgreSQL,
 * MySQL/MariaDB, Redis) is a family: a struct at_wire_family
 * (at_wire_kit.h) in its own file, at_wire_<proto>.c, over a decoder of
 * its bytes in src/protocols (no I/O, no spans, fuzzed).  The table below
 * lists them in the order detection asks them.
 *
 * Detection by content, not by port.  The socket layer (hooks/libc)
 * asks once per client connection, at its first bytes: those the program
 * sends (the PostgreSQL startup message or SSLRequest, a RESP array or a
 * Redis inline command) or, if the server spoke first, those it received
 * (the MySQL greeting).  The first family whose detect function accepts
 * the bytes gets the connection: a session from the family's pool (the
 * kit's struct at_wire, the peer and the FIFO, followed by the family's
 * state, all zeroed).  A connection no family claims is left to HTTP;
 * the HTTP code turns anything else passive.  Only the bytes of that
 * first call are looked at, nothing is held: a driver writes a whole
 * first message in one call.  A family AUTOTRACE_PROTOCOLS turned off is
 * not asked, and a connection whose first bytes libpq sends (the guard's
 * AT_OWN_PQ bit) is never claimed: libpq's own spans trace it, one span
 * per statement whichever layer sees it.
 *
 * After the claim, every send on the connection is first decoded by
 * the family (decode_out, each byte of the stream once, before it goes:
 * no reply can be read before its command is in the FIFO), then sent
 * (by the family's send when it edits the bytes; one buffer with the
 * program's own single-buffer call, send() or write(), not sendmsg() or
 * writev(): at_real_sendv), and every receive goes
 * to its received; the family decodes in place,
 * pushes one FIFO entry per command with its span (a child of the span
 * active on the sending thread when its bytes are written), and ends the
 * oldest entry's span when its reply is complete.  A family that stops
 * decoding (TLS, pub/sub, bytes it does not understand, a full FIFO) sets
 * the session's stopped flag: from then on its bytes pass untouched, and
 * once nothing is pending the socket layer stops calling (the descriptor
 * turns passive).  Close ends what is pending and frees the session;
 * exit ends what is pending; a fork child forgets the parent's spans.
 *
 * Limits: only client connections (the program is the database's
 * client); one family per connection, for good.
 */
#include <errno.h>
#include <string.h>

#include "at_config.h"
#include "at_context.h"
#include "at_guard.h"
#include "at_iov.h"
#include "at_real.h"
#include "at_wire.h"
#include "at_wire_kit.h"
#include "at_wire_mysql.h"
#include "at_wire_pg.h"
#include "at_wire_redis.h"

static const struct at_wire_family *const families[] = {
	&at_wire_pg_family,
	&at_wire_mysql_family,
	&at_wire_redis_family,
};
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static struct at_wire *open_session(const struct at_wire_family *fam,
				    const struct at_wire_peer *peer)
{
	struct at_wire *w = at_pool_get(fam->pool);
	size_t n;

	if (!w) {
		atomic_fetch_add_explicit(&at_span_drops.untraced, 1,
					  memory_order_relaxed);
		return NULL;
	}
	memset(w, 0, sizeof(*w) + fam->sess_size);
	w->fam = fam;
	w->port = peer->port;
	if (peer->ip) {
		n = strnlen(peer->ip, sizeof(w->ip) - 1);
		memcpy(w->ip, peer->ip, n);
	}
	if (peer->path) {
		n = strnlen(peer->path, sizeof(w->path) - 1);
		memcpy(w->path, peer->path, n);
	}
	at_wire_peer_block(w);
	if (fam->open)
		fam->open(w);
	return w;
}

static struct at_wire *detect(const char *p, size_t len,
			      const struct at_wire_peer *peer, bool out)
{
	if (len == 0 || at_owned(AT_OWN_PQ))
		return NULL;
	for (size_t i = 0; i < N_FAMILIES; i++) {
		const struct at_wire_family *f = families[i];
		int (*fn)(const char *, size_t) =
			out ? f->detect_out : f->detect_in;

		if (!(at_cfg.protocols & f->proto_bit) || !fn)
			continue;
		if (fn(p, len))
			return open_session(f, peer);
	}
	return NULL;
}

struct at_wire *at_wire_detect_out(const char *p, size_t len,
				   const struct at_wire_peer *peer)
{
	return detect(p, len, peer, true);
}

struct at_wire *at_wire_detect_in(const char *p, size_t len,
				  const struct at_wire_peer *peer)
{
	return detect(p, len, peer, false);
}

ssize_t at_wire_send(struct at_wire *w, int fd, const struct iovec *iov,
		     int iovcnt, int flags)
{
	size_t total;
	ssize_t r;
	int err;

	if (at_wire_stopped(w))
		return at_real_sendv(fd, iov, iovcnt, flags);
	/* Decode first what this call carries beyond what was decoded
	 * already (the rest of a short write comes again). */
	total = at_iov_total(iov, iovcnt);
	if (w->sent + total > w->decoded) {
		err = errno;
		w->fam->decode_out(w, iov, iovcnt,
				   (size_t)(w->decoded - w->sent));
		w->decoded = w->sent + total;
		errno = err;
	}
	r = w->fam->send ? w->fam->send(w, fd, iov, iovcnt, flags)
			 : at_real_sendv(fd, iov, iovcnt, flags);
	if (r > 0)
		w->sent += (uint64_t)r;
	return r;
}

void at_wire_received(struct at_wire *w, const struct iovec *iov, int iovcnt,
		      size_t len)
{
	struct at_wire_cmd *c = at_wire_oldest(w);

	/* A reply to something sent for a request: the code that reads it
	 * works for that request again (at_context.h). */
	if (c && len)
		at_context_resume(&c->req);
	/* A connection stopped because its FIFO overflowed still has its
	 * pending commands' replies to match, before the untraced ones'. */
	if (w->fam->received &&
	    (!at_wire_stopped(w) || (w->overflowed && c)))
		w->fam->received(w, iov, iovcnt, len);
}

static void end_pending(struct at_wire *w)
{
	while (at_wire_oldest(w))
		at_wire_finish(w);
}

void at_wire_failed(struct at_wire *w, int err)
{
	struct at_wire_cmd *c;

	while ((c = at_wire_oldest(w))) {
		if (c->span)
			at_span_set_errno(c->span, err);
		at_wire_finish(w);
	}
}

bool at_wire_passive(const struct at_wire *w)
{
	return at_wire_stopped(w) && at_wire_pending(w) == 0;
}

void at_wire_close(struct at_wire *w)
{
	end_pending(w);
	if (w->fam->release)
		w->fam->release(w);
	at_pool_put(w->fam->pool, w);
}

void at_wire_at_exit(struct at_wire *w)
{
	end_pending(w);
}

void at_wire_fork_child(struct at_wire *w)
{
	struct at_wire_cmd *c;

	/* The parent ends these spans; the child only drops them. */
	while ((c = at_wire_oldest(w))) {
		c->span = NULL;
		at_wire_finish(w);
	}
	if (w->fam->release)
		w->fam->release(w);
	at_pool_put(w->fam->pool, w);
}
