/*
 * at_rx_store.c - what the receiver does with a complete request (see
 * at_receiver.c): gunzip (capped), the nesting check, OTLP decoding, the
 * scripted answers, saving bodies, storing; and the API over what is
 * stored (counts, waits, spans, clear) and over decoded messages.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "at_gzip.h"
#include "at_rx_int.h"

/* ---- storing ---- */

int at_rx_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

size_t at_receiver_each_span(const at_otlp_request *req,
			     at_receiver_span_fn *fn, void *ud)
{
	size_t i, j, k, n = 0;

	for (i = 0; i < req->n_resource_spans; i++) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs =
			req->resource_spans[i];

		for (j = 0; j < rs->n_scope_spans; j++) {
			const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
				rs->scope_spans[j];

			for (k = 0; fn && k < ss->n_spans; k++)
				fn(ss->spans[k], rs->resource, ss->scope, ud);
			n += ss->n_spans;
		}
	}
	return n;
}

/* store(): each span into the next slot. */
struct put {
	struct at_rx_span *s;
	const char *encoding;
};

static void put_span(const at_otlp_span *span,
		     const at_otlp_resource *resource,
		     const at_otlp_scope *scope, void *ud)
{
	struct put *pt = ud;

	pt->s->span = span;
	pt->s->resource = resource;
	pt->s->scope = scope;
	pt->s->content_encoding = pt->encoding;
	pt->s++;
}

/* Read a base-128 varint at *p (< end); -1 if it does not end in time. */
static int wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/*
 * Sink mode: the spans of an ExportTraceServiceRequest, counted by walking
 * the wire format without decoding it: resource_spans (field 1) ->
 * scope_spans (field 2) -> spans (field 2), each length-delimited; other
 * fields are skipped by wire type.  depth is 0 for the request.  0 for
 * anything that does not parse.
 */
static size_t wire_count_spans(const uint8_t *p, const uint8_t *end,
			       int depth)
{
	size_t n = 0;
	uint64_t key, len;

	while (p < end) {
		if (wire_varint(&p, end, &key) < 0)
			return 0;
		switch (key & 7) {
		case 0:
			if (wire_varint(&p, end, &len) < 0)
				return 0;
			continue;
		case 1:
			len = 8;
			break;
		case 5:
			len = 4;
			break;
		case 2:
			if (wire_varint(&p, end, &len) < 0)
				return 0;
			break;
		default:
			return 0;
		}
		if (len > (uint64_t)(end - p))
			return 0;
		if ((key & 7) == 2 && key >> 3 == (depth ? 2u : 1u))
			n += depth == 2 ? 1 : wire_count_spans(p, p + len,
							       depth + 1);
		p += len;
	}
	return n;
}

/* Store req (taking ownership).  -1 if memory ran out (req freed). */
static int store(struct at_receiver *r, at_otlp_request *req, bool gzip)
{
	size_t n = at_receiver_each_span(req, NULL, NULL);
	struct put pt = { NULL, gzip ? "gzip" : "" };
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	if (at_rx_grow((void **)&r->reqs, &r->cap_reqs, r->n_reqs + 1,
		       sizeof(*r->reqs)) < 0 ||
	    at_rx_grow((void **)&r->spans, &r->cap_spans, r->n_spans + n,
		       sizeof(*r->spans)) < 0) {
		rc = -1;
		goto out;
	}
	r->reqs[r->n_reqs].req = req;
	r->reqs[r->n_reqs].encoding = gzip ? "gzip" : "";
	r->n_reqs++;
	/* Without spans so far r->spans may be NULL (NULL + 0 is undefined). */
	pt.s = n ? r->spans + r->n_spans : NULL;
	if (n)
		at_receiver_each_span(req, put_span, &pt);
	r->n_spans += n;
	pthread_cond_broadcast(&r->cv);
out:
	pthread_mutex_unlock(&r->mu);
	if (rc < 0)
		protobuf_c_message_free_unpacked(&req->base, NULL);
	return rc;
}

static void save_body(struct at_receiver *r, const uint8_t *p, size_t n)
{
	char path[PATH_MAX];
	FILE *f;

	if (!r->save_dir)
		return;
	r->save_seq++;
	if (snprintf(path, sizeof(path), "%s/req-%06zu.pb", r->save_dir,
		     r->save_seq) >= (int)sizeof(path))
		return;
	f = fopen(path, "wbe");
	if (!f)
		return;
	if (n)
		fwrite(p, 1, n, f);
	fclose(f);
}

/* Next scripted answer; false if none is queued. */
static bool script_pop(struct at_receiver *r, int *status, char *retry_after,
		       size_t ra_cap, int64_t *rejected, char **message)
{
	struct script *s;

	pthread_mutex_lock(&r->mu);
	s = r->script_head;
	if (!s) {
		pthread_mutex_unlock(&r->mu);
		return false;
	}
	*status = s->status;
	snprintf(retry_after, ra_cap, "%s",
		 s->retry_after ? s->retry_after : "");
	*rejected = s->rejected;
	*message = s->message ? strdup(s->message) : NULL;
	if (--s->count <= 0) {
		r->script_head = s->next;
		if (!r->script_head)
			r->script_tail = NULL;
		free(s->retry_after);
		free(s->message);
		free(s);
	}
	pthread_mutex_unlock(&r->mu);
	return true;
}

/* ---- nesting depth ---- */

/*
 * protobuf-c unpacks nested messages by recursion, without a depth limit,
 * and AnyValue nests without end (AnyValue -> ArrayValue or KeyValueList
 * -> AnyValue ...): a body of 35 kB (5,000 levels) overflowed the
 * receiver thread's 8 MB stack.  So the body is walked first, following only
 * the fields the descriptors say are messages, and refused if it nests
 * deeper than NEST_MAX (the default limit of Google's own parsers).
 * Where the walk finds malformed data it stops and leaves the verdict to
 * protobuf-c, which checks each message's fields before it descends into
 * any of them, so it does not descend past that point either.
 */
#define NEST_MAX 100

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Is the message d at p..end (at nesting level depth) nested too deep? */
static bool too_deep(const ProtobufCMessageDescriptor *d, const uint8_t *p,
		     const uint8_t *end, unsigned depth)
{
	if (depth > NEST_MAX)
		return true;
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		uint64_t key, len;

		if (!read_varint(&p, end, &key))
			return false;
		switch (key & 7) {
		case 0: /* varint */
			if (!read_varint(&p, end, &len))
				return false;
			break;
		case 1: /* 64-bit */
			if (end - p < 8)
				return false;
			p += 8;
			break;
		case 5: /* 32-bit */
			if (end - p < 4)
				return false;
			p += 4;
			break;
		case 2: /* length-delimited */
			if (!read_varint(&p, end, &len) ||
			    len > (uint64_t)(end - p))
				return false;
			f = key >> 3 > UINT_MAX ? NULL :
				protobuf_c_message_descriptor_get_field(
					d, (unsigned)(key >> 3));
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    too_deep(f->descriptor, p, p + len, depth + 1))
				return true;
			p += len;
			break;
		default: /* groups and invalid types: protobuf-c refuses */
			return false;
		}
	}
	return false;
}

/* ---- request handling ---- */

void at_rx_handle_traces(struct at_receiver *r, struct conn *c,
			 const uint8_t *body, size_t len, bool close)
{
	struct at_buf plain = { 0 };
	at_otlp_request *req;
	char retry_after[128];
	char *message = NULL;
	int64_t rejected = 0;
	int status = 200, rc;
	bool gzip = c->h.encoding == 1;

	if (r->sink) {
		size_t n = gzip ? 0 : wire_count_spans(body, body + len, 0);

		pthread_mutex_lock(&r->mu);
		r->n_sink_spans += n;
		pthread_mutex_unlock(&r->mu);
		at_rx_respond_ok(c, 0, NULL, close);
		return;
	}
	if (gzip) {
		rc = at_gzip_decompress(body, len, BODY_MAX, &plain);
		if (rc < 0) {
			at_buf_free(&plain);
			if (rc == -2)
				at_rx_respond_error(c, 413, "body too large", true);
			else if (rc == -3)
				at_rx_respond_error(c, 500, "out of memory", close);
			else
				at_rx_respond_error(c, 400, "bad gzip data", close);
			return;
		}
		body = plain.data;
		len = plain.len;
	}
	if (too_deep(&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
		     body, body + len, 1)) {
		at_buf_free(&plain);
		at_rx_respond_error(c, 400, "message nested too deeply", close);
		return;
	}
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, len, body);
	if (!req) {
		at_buf_free(&plain);
		at_rx_respond_error(c, 400, "not an ExportTraceServiceRequest",
				    close);
		return;
	}

	retry_after[0] = '\0';
	script_pop(r, &status, retry_after, sizeof(retry_after), &rejected,
		   &message);
	if (status != 200) {
		protobuf_c_message_free_unpacked(&req->base, NULL);
		at_buf_free(&plain);
		if (status == -1) {
			c->blackhole = true;
		} else if (status == -2) {
			c->dead = true;
		} else if (status == -3) {
			/* Not HTTP, and nothing more: garbage then silence. */
			if (at_buf_printf(&c->out, "-ERR not a collector\r\n") < 0)
				c->dead = true;
			c->blackhole = true;
		} else if (status == -4) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			/* Closing with a zero linger sends a reset. */
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
			c->dead = true;
		} else {
			at_rx_respond(c, status, retry_after[0] ? retry_after : NULL,
				      NULL, 0, close);
		}
		free(message);
		return;
	}

	save_body(r, body, len);
	at_buf_free(&plain);
	pthread_mutex_lock(&r->cb_mu);
	if (store(r, req, gzip) < 0) {
		pthread_mutex_unlock(&r->cb_mu);
		at_rx_respond_error(c, 500, "out of memory", close);
		free(message);
		return;
	}
	if (r->on_request)
		r->on_request(req, r->ud);
	pthread_mutex_unlock(&r->cb_mu);
	at_rx_respond_ok(c, rejected, message, close);
	free(message);
}

void at_rx_count_request(struct at_receiver *r)
{
	pthread_mutex_lock(&r->mu);
	r->n_requests++;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void at_rx_clear_locked(struct at_receiver *r)
{
	size_t i;

	for (i = 0; i < r->n_reqs; i++)
		protobuf_c_message_free_unpacked(&r->reqs[i].req->base, NULL);
	r->n_reqs = 0;
	r->n_spans = 0;
	r->n_sink_spans = 0;
}

void at_receiver_delay(struct at_receiver *r, int ms)
{
	atomic_store(&r->delay_ms, ms > 0 ? ms : 0);
}

void at_receiver_script(struct at_receiver *r, int count, int status,
			const char *retry_after, int64_t rejected,
			const char *message)
{
	struct script *s;

	if (count <= 0)
		return;
	s = calloc(1, sizeof(*s));
	if (!s)
		return;
	s->count = count;
	s->status = status;
	s->rejected = rejected;
	s->retry_after = retry_after ? strdup(retry_after) : NULL;
	s->message = message ? strdup(message) : NULL;
	pthread_mutex_lock(&r->mu);
	if (r->script_tail)
		r->script_tail->next = s;
	else
		r->script_head = s;
	r->script_tail = s;
	pthread_mutex_unlock(&r->mu);
}

size_t at_receiver_request_count(struct at_receiver *r)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->n_requests;
	pthread_mutex_unlock(&r->mu);
	return n;
}

size_t at_receiver_span_count(struct at_receiver *r)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->sink ? r->n_sink_spans : r->n_spans;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static int wait_for(struct at_receiver *r, const size_t *counter, size_t n,
		    int timeout_ms)
{
	struct timespec dl;
	int rc = 0;

	deadline_after(&dl, timeout_ms < 0 ? 0 : timeout_ms);
	pthread_mutex_lock(&r->mu);
	while (*counter < n) {
		if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT &&
		    *counter < n) {
			rc = -1;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int at_receiver_wait_spans(struct at_receiver *r, size_t n, int timeout_ms)
{
	return wait_for(r, &r->n_spans, n, timeout_ms);
}

int at_receiver_wait_requests(struct at_receiver *r, size_t n, int timeout_ms)
{
	return wait_for(r, &r->n_requests, n, timeout_ms);
}

size_t at_receiver_spans(struct at_receiver *r, struct at_rx_span *out,
			 size_t cap)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->n_spans;
	if (out && cap && n)
		memcpy(out, r->spans, (cap < n ? cap : n) * sizeof(*out));
	pthread_mutex_unlock(&r->mu);
	return n;
}

void at_receiver_foreach_request(struct at_receiver *r,
				 void (*fn)(const at_otlp_request *req,
					    void *ud),
				 void *ud)
{
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_reqs; i++)
		fn(r->reqs[i].req, ud);
	pthread_mutex_unlock(&r->mu);
}

void at_receiver_clear(struct at_receiver *r)
{
	pthread_mutex_lock(&r->cb_mu);
	pthread_mutex_lock(&r->mu);
	at_rx_clear_locked(r);
	pthread_mutex_unlock(&r->mu);
	pthread_mutex_unlock(&r->cb_mu);
}

/* ---- helpers over decoded messages ---- */

const at_otlp_kv *at_rx_find_attr(at_otlp_kv *const *attrs, size_t n,
				  const char *key)
{
	size_t i;

	if (!attrs || !key)
		return NULL;
	for (i = 0; i < n; i++)
		if (attrs[i] && attrs[i]->key &&
		    strcmp(attrs[i]->key, key) == 0)
			return attrs[i];
	return NULL;
}

const char *at_rx_attr_str(at_otlp_kv *const *attrs, size_t n,
			   const char *key)
{
	const at_otlp_kv *kv = at_rx_find_attr(attrs, n, key);

	if (!kv || !kv->value || kv->value->value_case !=
	    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
		return NULL;
	return kv->value->string_value;
}

int at_rx_attr_int(at_otlp_kv *const *attrs, size_t n, const char *key,
		   int64_t *out)
{
	const at_otlp_kv *kv = at_rx_find_attr(attrs, n, key);

	if (!kv || !kv->value || kv->value->value_case !=
	    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE)
		return -1;
	if (out)
		*out = kv->value->int_value;
	return 0;
}
