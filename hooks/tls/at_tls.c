/*
 * at_tls.c - TLS sessions as carried connections of the HTTP state
 * machine (see at_tls.h): the session states, the decision at a session's
 * first plaintext, and the write loop that keeps the TLS libraries' retry
 * rules.
 *
 * DESIGN
 *
 * Writes.  The machine (at_conn_send.c) builds, for each call, the list
 * of buffers to send: the program's bytes, with the injected line as a
 * buffer of its own at the end of a request head.  The session's
 * transport (tls_sendv) makes one real write per call and returns its
 * count, as a stream socket may send fewer bytes than asked; the machine
 * maps the count back to the program's bytes and calls again for the
 * rest.  That write is the first non-empty buffer, or, when a head and
 * its line come together, a copy of as many of the buffers as fit in the
 * session's own buffer (co: one record, not three).  So the inner writes
 * are a pure function of the machine's state and the program's
 * arguments: after a real write failed with "call again", nothing in the
 * state moved, and the program's retry (OpenSSL and GnuTLS require the
 * same arguments) makes the same inner write - the same pointer into the
 * program's buffer or into the session's, holding the same bytes, and
 * the same length - as the library requires in turn.
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets the program move its buffer
 * between retries: the inner pointer moves with it, which the same mode
 * allows.
 *
 * Counts.  In partial-write mode a call returns what was written when an
 * inner write fails after progress (the program then writes the rest,
 * which is where the machine stands).  Without it, a call returns len or
 * fails: the loop goes on until every byte is written; when an inner write
 * fails after progress, the call fails with that write's value and the
 * progress is kept (wr_done) so that the retry, which comes with the same
 * arguments, starts after it.  A retry shorter than that progress breaks
 * the library's rule: it goes to the real function as it is, which
 * refuses it as it would have.
 *
 * Passing.  A session whose connection stops looking at its bytes (not
 * HTTP/1.x, an Upgrade, a library above owning its HTTP) is PASS: its
 * calls go straight to the real functions after one lookup.
 *
 * The partial-write mode is asked of the library (lib->partial: a call
 * into libssl) only where it changes something: a failed inner write, or
 * a call after one.  A call that writes everything, every call of a
 * healthy keep-alive loop, does not ask.
 */
#include <errno.h>
#include <string.h>

#include "at_conn.h"
#include "at_family.h"
#include "at_guard.h"
#include "at_tls.h"

static struct at_handle_map sessions =
	AT_HANDLE_MAP_INIT(sizeof(struct at_tls), 4096);

AT_TLS struct at_handle_hit at_tls_sess_hit;
_Atomic unsigned at_tls_sess_gen;

struct at_tls *at_tls_sess_lookup(const void *session, bool create)
{
	unsigned gen = at_handle_hit_gen(&at_tls_sess_gen);
	struct at_tls *t = at_handle_get(&sessions, session, create);

	if (!t)
		return NULL;
	if (!t->session)
		t->session = session;
	at_handle_hit_take(&at_tls_sess_hit, session, t, gen);
	return t;
}

/* ---- the carried connection's transport ---- */

/* Copy the bytes of iov into out, up to cap: how many. */
static size_t gather(char *out, size_t cap, const struct iovec *iov, int n)
{
	size_t k = 0;

	for (int i = 0; i < n && k < cap; i++) {
		size_t take = iov[i].iov_len < cap - k ? iov[i].iov_len : cap - k;
		memcpy(out + k, iov[i].iov_base, take);
		k += take;
	}
	return k;
}

static ssize_t tls_sendv(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct at_tls *t = ctx;
	const struct iovec *first = NULL;
	int nonempty = 0;
	long w;

	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_len && !nonempty++)
			first = &iov[i];
	if (!first)
		return 0;
	if (nonempty > 1 && first->iov_len < sizeof(t->co))
		/* A head and its injected line: one record, from the
		 * session's own buffer (the same bytes at the same place when
		 * the program retries). */
		w = t->lib->write(t, t->co,
				  gather(t->co, sizeof(t->co), iov, iovcnt));
	else
		w = t->lib->write(t, first->iov_base, first->iov_len);
	if (w > 0)
		return w;
	t->raw = w; /* errno stays the real call's */
	return -1;
}

static const char *tls_server_name(void *ctx)
{
	struct at_tls *t = ctx;

	return t->lib->server_name ? t->lib->server_name(t->session) : NULL;
}

static const struct at_conn_transport tls_transport = {
	.sendv = tls_sendv,
	.server_name = tls_server_name,
	.scheme = "https",
	.default_port = 443,
};

/* ---- the first plaintext ---- */

static void drop_conn(struct at_tls *t)
{
	if (t->conn) {
		at_conn_carried_free(t->conn);
		t->conn = NULL;
	}
	t->state = AT_TLS_PASS;
}

void at_tls_sess_start(struct at_tls *t, const struct at_tls_lib *lib,
		  bool server, int fd, const char *alpn, size_t alpn_len)
{
	t->lib = lib;
	t->state = AT_TLS_PASS;
	/* A library above makes this session's HTTP spans (libcurl), or
	 * HTTP/2: nothing to trace here; the connect span goes out. */
	if (at_owned(AT_OWN_HTTP) ||
	    (alpn && alpn_len == 2 && memcmp(alpn, "h2", 2) == 0)) {
		at_conn_fd_uncarried(fd, alpn, alpn ? alpn_len : 0);
		return;
	}
	t->conn = at_conn_carried_new(server ? AT_FD_SERVER : AT_FD_CLIENT,
				      fd, &tls_transport, t);
	if (t->conn)
		t->state = AT_TLS_TRACED;
}

/* ---- writes and reads ---- */

static bool sess_partial(struct at_tls *t)
{
	return t->lib->partial && t->lib->partial(t);
}

enum at_tls_wr at_tls_sess_write(struct at_tls *t, const void *buf, size_t len,
				 size_t *written, long *raw)
{
	size_t done = 0;
	ssize_t w;
	bool partial;

	if (t->wr_done) {
		if (len < t->wr_done || sess_partial(t)) {
			t->wr_done = 0;
			return AT_TLS_REAL;
		}
		done = t->wr_done; /* the retry of a call that failed */
		t->wr_done = 0;
	}
	while (done < len) {
		struct iovec v = { (char *)buf + done, len - done };

		w = at_conn_carried_send(t->conn, &v, 1);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		partial = sess_partial(t);
		if (partial && done)
			break;
		if (!partial)
			t->wr_done = done;
		*raw = w < 0 ? t->raw : 0;
		return AT_TLS_FAILED;
	}
	*written = done;
	if (!at_conn_carried_active(t->conn))
		drop_conn(t);
	return AT_TLS_WROTE;
}

void at_tls_sess_read(struct at_tls *t, const void *buf, long r, int err)
{
	struct iovec v = { (void *)buf, r > 0 ? (size_t)r : 0 };

	at_conn_carried_received(t->conn, &v, 1, r, err);
	if (!at_conn_carried_active(t->conn))
		drop_conn(t);
}

void at_tls_sess_fd(int fd)
{
	at_conn_fd_carries(fd);
}

void at_tls_sess_shutdown(const void *session)
{
	struct at_tls *t = at_tls_sess_get(session, false);

	if (t && t->state == AT_TLS_TRACED && !t->wr_done)
		drop_conn(t);
}

void at_tls_sess_forget(const void *session)
{
	struct at_tls *t = at_tls_sess_get(session, false);

	if (!t)
		return;
	drop_conn(t);
	at_handle_hit_void(&at_tls_sess_hit, &at_tls_sess_gen);
	at_handle_drop(&sessions, session);
}

void at_tls_sess_after_fork_child(void)
{
	for (unsigned i = 0; i < AT_PTRMAP_SLOTS; i++) {
		struct at_tls *t = atomic_load(&sessions.map.vals[i]);
		if (t && t->state == AT_TLS_TRACED && t->conn)
			at_conn_carried_fork_child(t->conn);
	}
}
