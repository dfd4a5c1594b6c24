/*
 * fuzz_receiver.c - libFuzzer target for the OTLP/HTTP receiver of the
 * autotrace command (at_receiver.c, through its socket-free connections)
 * and for what the command does with what it stored: the trace model
 * (at_traces.c), its OTLP-JSON writer and reader (--json, view) and the
 * two views (at_render_text.c, at_render_html.c).  Built with the
 * protobuf-c code generated in build/gen, the exporter's encoder
 * (at_otlp.c) and gzip (at_gzip.c): see FUZZ_EXTRA_receiver in the
 * Makefile.
 *
 * The input is used twice.  First as the bytes one client sends on one
 * connection, handed to a receiver whole and, to a second receiver, in
 * pieces whose sizes come from the input's own bytes, each followed by
 * the end of the client's input.  Properties:
 *   - both receivers answer the same bytes (apart from interim
 *     "100 Continue" answers, which depend on where a body was cut),
 *     count the same requests and store the same requests;
 *   - the answers are complete HTTP/1.1 responses with a known status,
 *     one final answer per counted request, nothing after one that says
 *     "Connection: close"; a 200 carries an ExportTraceServiceResponse
 *     and an error a google.rpc.Status with its message;
 *   - spans stored from bodies without gzip number at most size / 2 (a
 *     span takes at least a tag and a length byte of a body, and bodies
 *     are disjoint parts of the input), from gzip bodies at most 1032
 *     times that (deflate's largest ratio);
 *   - every stored request gives the trace model exactly its spans, and
 *     at_traces_build() links them into consistent trees (see
 *     check_model); its OTLP-JSON line is either refused by
 *     at_traces_add_json() or gives as many spans.
 * Second, as the material of span records (ids, names, kinds, times,
 * attributes of every type, events, status) that the exporter's encoder
 * turns into a request, sent with or without gzip, with Content-Length or
 * chunked, in pieces: the receiver answers one 200 and stores exactly
 * those spans, and the trace model made from the stored request and the
 * one made from its OTLP-JSON line are equal span by span.
 *
 *   make build/fuzz/fuzz_receiver
 *   build/fuzz/fuzz_receiver tests/fuzz/corpus/receiver
 *
 * The seeds in tests/fuzz/corpus/receiver are written by this file's
 * FUZZ_WRITE_SEEDS part (make fuzz-seeds), at its end.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_buf.h"
#include "at_gzip.h"
#include "at_otlp.h"
#include "at_receiver.h"
#include "at_render.h"
#include "at_traces.h"
#include "fuzz.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_rspans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_sspans;
#define AV(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

#define DEFLATE_MAX_RATIO 1032
#define MAX_SPANS 4

static FILE *devnull;

/* ---- the input as a byte source ---- */

struct src {
	const uint8_t *p;
	size_t n, i;
};

/* The next byte; zeros once the input is used up. */
static uint8_t next(struct src *s)
{
	return s->i < s->n ? s->p[s->i++] : 0;
}

static uint64_t next64(struct src *s)
{
	uint64_t v = 0;

	for (int k = 0; k < 8; k++)
		v = v << 8 | next(s);
	return v;
}

/* Piece sizes: mostly 1..16 bytes, sometimes up to 1 KiB; all the rest
 * once the input is used up. */
static size_t piece(struct src *s)
{
	uint8_t b;

	if (s->i >= s->n)
		return SIZE_MAX;
	b = next(s);
	return b & 0x80 ? (size_t)(b & 0x7f) * 8 + 1 : (size_t)(b & 15) + 1;
}

/* ---- the answers ---- */

struct answers {
	size_t final;         /* final (non-100) responses */
	size_t ok;            /* of which 200 */
	struct at_buf finals; /* the output without interim responses */
};

static bool known_status(int st)
{
	static const int known[] = { 200, 400, 404, 405, 413, 415, 431, 500,
				     503 };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (st == known[i])
			return true;
	return false;
}

static void check_answer_body(int st, const uint8_t *b, size_t len)
{
	if (st == 200) {
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse
			*m = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
				NULL, len, b);

		CHECK(m != NULL);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return;
	}
	/* google.rpc.Status { message = 2 } with a short message */
	CHECK(len >= 2 && b[0] == 0x12 && b[1] == len - 2);
}

/* Split the output into responses and check each. */
static void read_answers(const uint8_t *p, size_t n, struct answers *a)
{
	static const char cl[] = "\r\nContent-Length: ";
	size_t off = 0;

	memset(a, 0, sizeof(*a));
	while (off < n) {
		const uint8_t *h = p + off;
		const uint8_t *end = memmem(h, n - off, "\r\n\r\n", 4);
		const uint8_t *v;
		size_t head, body = 0;
		int st;

		CHECK(end != NULL && n - off >= 13);
		CHECK(memcmp(h, "HTTP/1.1 ", 9) == 0 && h[12] == ' ');
		st = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
		head = (size_t)(end - h) + 4;
		if (st == 100) {
			CHECK(head == 25);
			off += head;
			continue;
		}
		CHECK(known_status(st));
		v = memmem(h, head, cl, sizeof(cl) - 1);
		CHECK(v != NULL);
		for (v += sizeof(cl) - 1; *v >= '0' && *v <= '9'; v++)
			body = body * 10 + (size_t)(*v - '0');
		CHECK(body <= n - off - head);
		check_answer_body(st, h + head, body);
		CHECK(at_buf_append(&a->finals, h, head + body) == 0);
		a->final++;
		a->ok += st == 200;
		off += head + body;
		if (memmem(h, head, "\r\nConnection: close\r\n", 21))
			CHECK(off == n);
	}
}

/* ---- feeding a receiver ---- */

struct run {
	struct at_receiver *r;
	struct at_rx_conn *c;
	struct at_rx_conn *hog; /* holds part of the budget, or NULL */
	size_t hog_final;       /* final answers the hog got */
};

/*
 * limits 0: the default limits.  Otherwise a body budget of 1 B to 60 KiB
 * (low 4 bits) and first another connection whose announced body takes
 * 0 to 60 KiB of it beyond the 16 KiB a connection holds free (high 4
 * bits; if that is more than the budget, it gets 413): requests whose
 * bodies do not fit get 503 or 413, whole or in pieces alike.
 */
static void run_open(struct run *run, uint8_t limits)
{
	struct at_receiver_opts o = {
		.body_budget = (size_t)(limits & 15) * 4096 + 1,
	};
	char head[160];
	int n;

	memset(run, 0, sizeof(*run));
	run->r = at_receiver_new_unbound(limits ? &o : NULL);
	CHECK(run->r != NULL);
	if (limits) {
		struct answers a;
		const uint8_t *out;
		size_t len;

		run->hog = at_rx_conn_open(run->r);
		CHECK(run->hog != NULL);
		n = snprintf(head, sizeof(head),
			     "POST /v1/traces HTTP/1.1\r\n"
			     "Content-Type: application/x-protobuf\r\n"
			     "Content-Length: %d\r\n\r\n",
			     16384 + (limits >> 4) * 4096);
		at_rx_conn_input(run->hog, head, (size_t)n);
		out = at_rx_conn_output(run->hog, &len);
		read_answers(out, len, &a);
		run->hog_final = a.final;
		at_buf_free(&a.finals);
	}
	run->c = at_rx_conn_open(run->r);
	CHECK(run->c != NULL);
}

static void run_close(struct run *run)
{
	at_rx_conn_close(run->c);
	at_rx_conn_close(run->hog);
	at_receiver_stop(run->r);
}

/* All of p[0..n), in pieces sized from sizes (whole if sizes is NULL),
 * then the end of the client's input. */
static void feed(struct run *run, const uint8_t *p, size_t n,
		 struct src *sizes)
{
	size_t off = 0;

	while (off < n) {
		size_t len = sizes ? piece(sizes) : n;

		if (len > n - off)
			len = n - off;
		if (at_rx_conn_input(run->c, p + off, len) < 0)
			break;
		off += len;
	}
	at_rx_conn_input(run->c, NULL, 0);
}

/* ---- what was stored ---- */

static size_t spans_in(const at_otlp_request *req)
{
	size_t n = 0;

	for (size_t i = 0; i < req->n_resource_spans; i++) {
		const pb_rspans *rs = req->resource_spans[i];

		for (size_t j = 0; j < rs->n_scope_spans; j++)
			n += rs->scope_spans[j]->n_spans;
	}
	return n;
}

/* Every stored request packed, each behind its length. */
static void pack_one(const at_otlp_request *req, void *ud)
{
	struct at_buf *out = ud;
	size_t len = protobuf_c_message_get_packed_size(&req->base);

	CHECK(at_buf_append(out, &len, sizeof(len)) == 0);
	CHECK(at_buf_reserve(out, len + 1) == 0);
	protobuf_c_message_pack(&req->base, out->data + out->len);
	out->len += len;
}

static bool same_bytes(const struct at_buf *a, const struct at_buf *b)
{
	return a->len == b->len && (a->len == 0 ||
				    memcmp(a->data, b->data, a->len) == 0);
}

/* Spans stored from bodies without and with gzip. */
static void count_by_encoding(struct at_receiver *r, size_t *plain,
			      size_t *gzip)
{
	size_t n = at_receiver_spans(r, NULL, 0);
	struct at_rx_span *sp = calloc(n ? n : 1, sizeof(*sp));

	CHECK(sp != NULL);
	CHECK(at_receiver_spans(r, sp, n) == n);
	*plain = *gzip = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(sp[i].content_encoding, "gzip") == 0)
			(*gzip)++;
		else
			(*plain)++;
	}
	free(sp);
}

/* ---- the trace model ---- */

static bool in_list(struct at_tv_span *const *l, size_t n,
		    const struct at_tv_span *s)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] == s)
			return true;
	return false;
}

static void check_span_links(const struct at_tv_trace *tr,
			     const struct at_tv_span *s)
{
	CHECK(memcmp(s->trace_id, tr->trace_id, 16) == 0);
	CHECK(s->start_ns >= tr->start_ns && s->end_ns <= tr->end_ns);
	if (s->parent) {
		const struct at_tv_span *p = s->parent;
		size_t seen = 0;

		CHECK(p != s && s->has_parent);
		CHECK(memcmp(p->span_id, s->parent_id, 8) == 0);
		CHECK(memcmp(p->trace_id, s->trace_id, 16) == 0);
		CHECK(s->depth == p->depth + 1);
		for (size_t c = 0; c < p->n_children; c++)
			seen += p->children[c] == s;
		CHECK(seen == 1);
	} else {
		CHECK(s->depth == 0 && s->critical);
		CHECK(in_list(tr->roots, tr->n_roots, s));
	}
	for (size_t c = 0; c < s->n_children; c++) {
		CHECK(s->children[c]->parent == s);
		if (c)
			CHECK(s->children[c - 1]->start_ns <=
			      s->children[c]->start_ns);
	}
}

/* t holds want spans: build it, check every link, render it. */
static void check_model(struct at_traces *t, size_t want, uint8_t width)
{
	struct at_render_opts ro = { .width = 20 + width, .max_full = 5 };
	size_t total = 0;

	CHECK(t->n_all == want);
	at_traces_build(t);
	for (size_t i = 0; i < t->n_traces; i++) {
		const struct at_tv_trace *tr = &t->traces[i];
		size_t roots = 0;

		CHECK(tr->n_spans > 0);
		if (i)
			CHECK(t->traces[i - 1].start_ns <= tr->start_ns);
		for (size_t j = 0; j < tr->n_spans; j++) {
			if (j)
				CHECK(tr->spans[j - 1]->start_ns <=
				      tr->spans[j]->start_ns);
			check_span_links(tr, tr->spans[j]);
			roots += tr->spans[j]->parent == NULL;
		}
		CHECK(roots == tr->n_roots);
		for (size_t f = 0; f < tr->n_findings; f++) {
			const struct at_tv_finding *fd = &tr->findings[f];

			CHECK(fd->n_spans > 0 && fd->text != NULL);
			for (size_t k = 0; k < fd->n_spans; k++)
				CHECK(in_list(tr->spans, tr->n_spans,
					      fd->spans[k]));
		}
		total += tr->n_spans;
	}
	CHECK(total == want);
	ro.color = width & 1;
	at_render_text(devnull, t, &ro);
	CHECK(at_render_html(devnull, t, "fuzz") == 0);
}

/* req as the line --json writes: malloc'd, length in *len. */
static char *json_line(const at_otlp_request *req, size_t *len)
{
	char *line = NULL;
	FILE *f = open_memstream(&line, len);

	CHECK(f != NULL);
	CHECK(at_otlpjson_write(f, req) == 0);
	CHECK(fclose(f) == 0);
	return line;
}

/* The model of a stored request, and of its OTLP-JSON line if read. */
struct models {
	struct at_traces *all; /* every stored request */
	uint8_t width;
};

static void model_one(const at_otlp_request *req, void *ud)
{
	struct models *m = ud;
	struct at_traces *j = at_traces_new();
	size_t len, n = spans_in(req);
	char *line = json_line(req, &len);

	at_traces_add_request(m->all, req);
	if (at_traces_add_json(j, line, len) == 0)
		check_model(j, n, m->width);
	else
		CHECK(j->n_all == 0);
	at_traces_free(j);
	free(line);
}

/* ---- 1: the input as a connection's bytes ---- */

static void check_stream(const uint8_t *data, size_t size)
{
	struct src sizes = { data, size, 0 };
	struct run whole, split;
	struct answers aw, as;
	struct at_buf sw = { 0 }, ss = { 0 };
	struct models m = { NULL, size ? data[0] : 0 };
	const uint8_t *out;
	size_t len, plain, gzip;

	/* The last byte sets the limits (it is part of the stream too). */
	run_open(&whole, size ? data[size - 1] : 0);
	run_open(&split, size ? data[size - 1] : 0);
	feed(&whole, data, size, NULL);
	feed(&split, data, size, &sizes);

	out = at_rx_conn_output(whole.c, &len);
	read_answers(out, len, &aw);
	out = at_rx_conn_output(split.c, &len);
	read_answers(out, len, &as);
	CHECK(same_bytes(&aw.finals, &as.finals));
	CHECK(aw.final + whole.hog_final ==
	      at_receiver_request_count(whole.r));
	CHECK(as.final + split.hog_final ==
	      at_receiver_request_count(split.r));
	CHECK(at_receiver_span_count(whole.r) ==
	      at_receiver_span_count(split.r));
	at_receiver_foreach_request(whole.r, pack_one, &sw);
	at_receiver_foreach_request(split.r, pack_one, &ss);
	CHECK(same_bytes(&sw, &ss));

	count_by_encoding(whole.r, &plain, &gzip);
	CHECK(plain <= size / 2);
	CHECK(gzip <= size / 2 * DEFLATE_MAX_RATIO);

	m.all = at_traces_new();
	at_receiver_foreach_request(whole.r, model_one, &m);
	check_model(m.all, at_receiver_span_count(whole.r), m.width);
	at_traces_free(m.all);

	at_buf_free(&aw.finals);
	at_buf_free(&as.finals);
	at_buf_free(&sw);
	at_buf_free(&ss);
	run_close(&whole);
	run_close(&split);
}

/* ---- 2: span records from the input, through our encoder ---- */

static const char *const attr_keys[] = {
	"http.request.method", "url.full", "url.path", "db.query.text",
	"server.address", "http.response.status_code", "k", NULL,
};
static const char *const event_names[] = { "exception", "retry", NULL };

#define REC_MAX                                                        \
	(sizeof(struct at_span_hdr) +                                  \
	 (AT_SPAN_MAX_ATTRS + AT_SPAN_MAX_EVENT_ATTRS) *               \
		 sizeof(struct at_attr) +                              \
	 AT_SPAN_MAX_EVENTS * sizeof(struct at_event) + AT_SPAN_ARENA)

/* A zeroed record with room for these counts and a full arena. */
static struct at_span_hdr *record_new(uint8_t n_attrs, uint8_t n_events,
				      uint8_t n_ev_attrs)
{
	struct at_span_hdr *h = aligned_alloc(8, (REC_MAX + 7) & ~(size_t)7);

	CHECK(h != NULL);
	memset(h, 0, REC_MAX);
	h->n_attrs = n_attrs;
	h->n_events = n_events;
	h->n_ev_attrs = n_ev_attrs;
	h->state = AT_SPAN_RECORDING;
	return h;
}

/* Once the arena is filled: the record's size, as at_span_serialize()
 * sets it. */
static void record_done(struct at_span_hdr *h)
{
	size_t n = (size_t)(at_rec_arena(h) - (const char *)h) + h->arena_used;

	h->rec_size = (uint32_t)((n + 7) & ~(size_t)7);
}

/* Append p[0..len) to the record's arena (cut where it is full). */
static struct at_str arena_put(struct at_span_hdr *h, const void *p,
			       size_t len)
{
	struct at_str str = { h->arena_used, 0 };

	if (len > AT_SPAN_ARENA - h->arena_used)
		len = AT_SPAN_ARENA - h->arena_used;
	memcpy((char *)at_rec_arena(h) + h->arena_used, p, len);
	h->arena_used += (uint16_t)len;
	str.len = (uint16_t)len;
	return str;
}

/* A string of up to max bytes from s into the record's arena. */
static struct at_str arena_str(struct at_span_hdr *h, struct src *s,
			       size_t max)
{
	uint8_t tmp[256];
	size_t len = next(s) % (max + 1);

	for (size_t i = 0; i < len; i++)
		tmp[i] = next(s);
	return arena_put(h, tmp, len);
}

static void make_attr(struct at_attr *a, struct at_span_hdr *h,
		      struct src *s)
{
	a->key = attr_keys[next(s) % (sizeof(attr_keys) /
				      sizeof(attr_keys[0]))];
	a->type = next(s) % 5; /* 4: an unknown type */
	switch (a->type) {
	case AT_ATTR_STRING:
		a->v.s = arena_str(h, s, 48);
		break;
	case AT_ATTR_INT:
		a->v.i = (int64_t)next64(s);
		break;
	case AT_ATTR_DOUBLE: {
		uint64_t bits = next64(s);

		memcpy(&a->v.d, &bits, sizeof(bits));
		break;
	}
	default:
		a->v.b = next(s) & 1;
		break;
	}
}

/* A ring record (the layout at_span_serialize() writes) from s. */
static struct at_span_hdr *make_record(struct src *s)
{
	struct at_span_hdr *h;
	struct at_attr *attrs, *ev_attrs;
	struct at_event *ev;
	uint8_t b = next(s);

	h = record_new(b % 9, (b >> 4) % (AT_SPAN_MAX_EVENTS + 1),
		       next(s) % (AT_SPAN_MAX_EVENT_ATTRS + 1));
	attrs = (struct at_attr *)at_rec_attrs(h);
	ev = (struct at_event *)at_rec_events(h);
	ev_attrs = (struct at_attr *)at_rec_ev_attrs(h);

	b = next(s);
	h->kind = b % 7; /* 0 and 6 are not kinds */
	h->status_code = (b >> 3) % 4;
	h->has_parent = (b >> 5) & 1;
	h->parent_is_remote = (b >> 6) & 1;
	for (int k = 0; k < 16; k++)
		h->ctx.trace_id[k] = next(s);
	for (int k = 0; k < 8; k++)
		h->ctx.span_id[k] = next(s);
	for (int k = 0; k < 8; k++)
		h->parent_span_id[k] = h->has_parent ? next(s) : 0;
	h->ctx.flags = next(s);
	h->start_unix_ns = next64(s);
	h->end_unix_ns = h->start_unix_ns + (next64(s) >> (next(s) % 64));
	h->dropped_attrs = next(s) % 3;
	h->dropped_events = next(s) % 3;
	h->name = arena_str(h, s, 40);
	h->tracestate = arena_str(h, s, 12);
	h->status_message = arena_str(h, s, 16);
	for (size_t i = 0; i < h->n_attrs; i++)
		make_attr(&attrs[i], h, s);
	for (size_t i = 0; i < h->n_ev_attrs; i++)
		make_attr(&ev_attrs[i], h, s);
	for (size_t i = 0; i < h->n_events; i++) {
		ev[i].name = event_names[next(s) % 3];
		ev[i].time_unix_ns = next64(s);
		/* may point past n_ev_attrs: the encoder drops those */
		ev[i].first_attr = next(s) % (h->n_ev_attrs + 2);
		ev[i].n_attrs = next(s) % 4;
		ev[i].dropped_attrs = next(s) % 2;
	}
	record_done(h);
	return h;
}

/* A record string as protobuf-c sends it: up to its first NUL. */
static bool same_str(const char *got, const struct at_span_hdr *h,
		     struct at_str want)
{
	const char *p = at_rec_arena(h) + want.off;
	size_t n = strnlen(p, want.len);

	return strlen(got ? got : "") == n && memcmp(got ? got : "", p, n) == 0;
}

static bool same_bin(const ProtobufCBinaryData *b, const uint8_t *p,
		     size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

static void check_attrs(at_otlp_kv *const *kv, size_t n,
			const struct at_attr *a, size_t want,
			const struct at_span_hdr *h)
{
	CHECK(n == want);
	for (size_t i = 0; i < n; i++, a++) {
		const pb_any *v = kv[i]->value;

		CHECK(strcmp(kv[i]->key, a->key ? a->key : "") == 0);
		switch (a->type) {
		case AT_ATTR_STRING:
			CHECK(v && v->value_case == AV(STRING_VALUE));
			CHECK(same_str(v->string_value, h, a->v.s));
			break;
		case AT_ATTR_INT:
			CHECK(v && v->value_case == AV(INT_VALUE));
			CHECK(v->int_value == a->v.i);
			break;
		case AT_ATTR_DOUBLE:
			CHECK(v && v->value_case == AV(DOUBLE_VALUE));
			CHECK(memcmp(&v->double_value, &a->v.d,
				     sizeof(double)) == 0);
			break;
		case AT_ATTR_BOOL:
			CHECK(v && v->value_case == AV(BOOL_VALUE));
			CHECK(v->bool_value == (a->v.b != 0));
			break;
		default:
			CHECK(!v || v->value_case == 0);
			break;
		}
	}
}

static void check_span(const at_otlp_span *sp, const struct at_span_hdr *h)
{
	const struct at_event *ev = at_rec_events(h);
	uint32_t flags = (h->ctx.flags & 0xffu) | 0x100u |
			 (h->parent_is_remote ? 0x200u : 0);

	CHECK(same_bin(&sp->trace_id, h->ctx.trace_id, 16));
	CHECK(same_bin(&sp->span_id, h->ctx.span_id, 8));
	CHECK(same_bin(&sp->parent_span_id, h->parent_span_id,
		       h->has_parent ? 8 : 0));
	CHECK(sp->flags == flags);
	CHECK(same_str(sp->name, h, h->name));
	CHECK(same_str(sp->trace_state, h, h->tracestate));
	CHECK((int)sp->kind == (h->kind <= AT_KIND_CONSUMER ? h->kind : 0));
	CHECK(sp->start_time_unix_nano == h->start_unix_ns);
	CHECK(sp->end_time_unix_nano == h->end_unix_ns);
	CHECK(sp->dropped_attributes_count == h->dropped_attrs);
	CHECK(sp->dropped_events_count == h->dropped_events);
	check_attrs(sp->attributes, sp->n_attributes, at_rec_attrs(h),
		    h->n_attrs, h);
	CHECK(sp->n_events == h->n_events);
	for (size_t i = 0; i < sp->n_events; i++) {
		size_t first = ev[i].first_attr, na = ev[i].n_attrs;

		if (first > h->n_ev_attrs || na > h->n_ev_attrs - first)
			na = 0;
		CHECK(sp->events[i]->time_unix_nano == ev[i].time_unix_ns);
		CHECK(strcmp(sp->events[i]->name,
			     ev[i].name ? ev[i].name : "") == 0);
		CHECK(sp->events[i]->dropped_attributes_count ==
		      ev[i].dropped_attrs);
		check_attrs(sp->events[i]->attributes,
			    sp->events[i]->n_attributes,
			    at_rec_ev_attrs(h) + (na ? first : 0), na, h);
	}
	CHECK(sp->status != NULL);
	CHECK((int)sp->status->code ==
	      (h->status_code <= AT_STATUS_ERROR ? h->status_code : 0));
	CHECK(same_str(sp->status->message, h, h->status_message));
}

static bool same_tv_attrs(const struct at_tv_attr *a,
			  const struct at_tv_attr *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].key, b[i].key) || strcmp(a[i].value, b[i].value) ||
		    a[i].type != b[i].type)
			return false;
	return true;
}

/* The two ways into the model (decoded request, OTLP-JSON) agree. */
static void check_same_model(const struct at_traces *a,
			     const struct at_traces *b)
{
	CHECK(a->n_all == b->n_all);
	for (size_t i = 0; i < a->n_all; i++) {
		const struct at_tv_span *x = a->all[i], *y = b->all[i];

		CHECK(memcmp(x->trace_id, y->trace_id, 16) == 0);
		CHECK(memcmp(x->span_id, y->span_id, 8) == 0);
		CHECK(memcmp(x->parent_id, y->parent_id, 8) == 0);
		CHECK(x->has_parent == y->has_parent && x->kind == y->kind);
		CHECK(x->start_ns == y->start_ns && x->end_ns == y->end_ns);
		CHECK(x->status == y->status);
		CHECK(strcmp(x->name, y->name) == 0);
		CHECK(strcmp(x->status_msg, y->status_msg) == 0);
		CHECK(strcmp(x->service, y->service) == 0);
		CHECK(x->n_attrs == y->n_attrs &&
		      same_tv_attrs(x->attrs, y->attrs, x->n_attrs));
		CHECK(x->n_events == y->n_events);
		for (size_t e = 0; e < x->n_events; e++) {
			const struct at_tv_event *p = &x->events[e];
			const struct at_tv_event *q = &y->events[e];

			CHECK(strcmp(p->name, q->name) == 0);
			CHECK(p->time_ns == q->time_ns);
			CHECK(p->n_attrs == q->n_attrs &&
			      same_tv_attrs(p->attrs, q->attrs, p->n_attrs));
		}
	}
}

/* POST body as an HTTP request into out: gzip, chunked, Expect as told. */
static void frame(struct at_buf *out, const struct at_buf *body,
		  uint8_t how, struct src *s)
{
	struct at_buf gz = { 0 };
	const struct at_buf *b = body;

	if (how & 1) {
		CHECK(at_gzip_compress(body->data, body->len, &gz) == 0);
		b = &gz;
	}
	CHECK(at_buf_printf(out, "POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
			    "Content-Type: application/x-protobuf\r\n%s%s",
			    how & 1 ? "Content-Encoding: gzip\r\n" : "",
			    how & 4 ? "Expect: 100-continue\r\n" : "") == 0);
	if (how & 2) {
		size_t off = 0;

		CHECK(at_buf_printf(out, "Transfer-Encoding: chunked\r\n\r\n")
		      == 0);
		while (off < b->len) {
			size_t len = piece(s);

			if (len > b->len - off)
				len = b->len - off;
			CHECK(at_buf_printf(out, "%zx%s\r\n", len,
					    how & 8 ? ";ext=1" : "") == 0);
			CHECK(at_buf_append(out, b->data + off, len) == 0);
			CHECK(at_buf_printf(out, "\r\n") == 0);
			off += len;
		}
		CHECK(at_buf_printf(out, "0\r\n%s\r\n",
				    how & 16 ? "X-Trailer: 1\r\n" : "") == 0);
	} else {
		CHECK(at_buf_printf(out, "Content-Length: %zu\r\n\r\n",
				    b->len) == 0);
		CHECK(at_buf_append(out, b->data, b->len) == 0);
	}
	at_buf_free(&gz);
}

struct sent {
	const struct at_span_hdr *const *recs;
	size_t n;
	const char *service;
};

static void check_stored(const at_otlp_request *req, void *ud)
{
	const struct sent *want = ud;
	const pb_rspans *rs;
	const pb_sspans *ss;
	struct at_traces *a = at_traces_new(), *b = at_traces_new();
	size_t len;
	char *line;

	CHECK(req->n_resource_spans == 1);
	rs = req->resource_spans[0];
	CHECK(rs->resource != NULL && rs->n_scope_spans == 1);
	CHECK(strcmp(at_rx_attr_str(rs->resource->attributes,
				      rs->resource->n_attributes,
				      "service.name"), want->service) == 0);
	ss = rs->scope_spans[0];
	CHECK(ss->scope && strcmp(ss->scope->name, AT_SCOPE_NAME) == 0);
	CHECK(ss->n_spans == want->n);
	for (size_t i = 0; i < want->n; i++)
		check_span(ss->spans[i], want->recs[i]);

	line = json_line(req, &len);
	at_traces_add_request(a, req);
	CHECK(at_traces_add_json(b, line, len) == 0);
	check_same_model(a, b);
	check_model(a, want->n, (uint8_t)want->n);
	free(line);
	at_traces_free(a);
	at_traces_free(b);
}

static void check_encoded(const uint8_t *data, size_t size)
{
	static struct at_resource res;
	struct src s = { data, size, 0 };
	struct at_span_hdr *recs[MAX_SPANS];
	struct at_buf body = { 0 }, req = { 0 };
	struct sent want = { (const struct at_span_hdr *const *)recs, 0,
			     res.buf };
	struct answers a;
	struct run run;
	const uint8_t *out;
	size_t len, slen;
	uint8_t how = next(&s);

	/* the resource: service.name from the input (no NUL), a pid */
	slen = next(&s) % 24;
	for (size_t i = 0; i < slen; i++)
		res.buf[i] = (char)(next(&s) | 1);
	res.buf[slen] = '\0';
	res.attrs[0] = (struct at_kv){ "service.name", AT_KV_STRING, res.buf,
				       0 };
	res.attrs[1] = (struct at_kv){ "process.pid", AT_KV_INT, NULL, 4242 };
	res.n = 2;
	res.buf_used = slen + 1;

	want.n = 1 + next(&s) % MAX_SPANS;
	for (size_t i = 0; i < want.n; i++)
		recs[i] = make_record(&s);
	CHECK(at_otlp_encode(want.recs, want.n, &res, &body) == 0);
	frame(&req, &body, how, &s);

	run_open(&run, 0);
	feed(&run, req.data, req.len, &s);
	out = at_rx_conn_output(run.c, &len);
	read_answers(out, len, &a);
	CHECK(a.final == 1 && a.ok == 1);
	CHECK(at_receiver_request_count(run.r) == 1);
	CHECK(at_receiver_span_count(run.r) == want.n);
	at_receiver_foreach_request(run.r, check_stored, &want);

	run_close(&run);
	at_buf_free(&a.finals);
	at_buf_free(&body);
	at_buf_free(&req);
	for (size_t i = 0; i < want.n; i++)
		free(recs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		CHECK(devnull != NULL);
	}
	check_stream(data, size);
	check_encoded(data, size);
	return 0;
}

#ifdef FUZZ_WRITE_SEEDS
/*
 * The seed writer (make fuzz-seeds writes tests/fuzz/corpus/receiver):
 * one trace of a small service made by the exporter's encoder (a server
 * span with an event, an N+1 of three identical queries, three sequential
 * calls to one server, a span that is most of the trace, an error), sent
 * in the framings the receiver knows, a pipelined keep-alive stream, and
 * malformed framings and bodies.  Seeds are inputs, not expected results.
 */
#include <errno.h>
#include <sys/stat.h>

#include "otlp_nest.h"

#define MS 1000000ull
#define T0 1700000000000000000ull

static struct at_span_hdr *seed_span(uint8_t id, uint8_t parent, int kind,
				     const char *name, uint64_t start_ms,
				     uint64_t end_ms, const char *key,
				     const char *value, bool event)
{
	struct at_span_hdr *h = record_new(1, event, event);
	struct at_attr *a = (struct at_attr *)at_rec_attrs(h);

	memset(h->ctx.trace_id, 0x5a, 16);
	h->ctx.span_id[7] = id;
	h->ctx.flags = 1;
	h->has_parent = parent != 0;
	h->parent_span_id[7] = parent;
	h->kind = (uint8_t)kind;
	h->start_unix_ns = T0 + start_ms * MS;
	h->end_unix_ns = T0 + end_ms * MS;
	h->name = arena_put(h, name, strlen(name));
	a->key = key;
	a->type = AT_ATTR_STRING;
	a->v.s = arena_put(h, value, strlen(value));
	if (event) {
		struct at_event *e = (struct at_event *)at_rec_events(h);
		struct at_attr *ea = (struct at_attr *)at_rec_ev_attrs(h);

		e->name = "exception";
		e->time_unix_ns = h->end_unix_ns - MS;
		e->n_attrs = 1;
		ea->key = "exception.message";
		ea->type = AT_ATTR_STRING;
		ea->v.s = arena_put(h, "timeout", 7);
		h->status_code = AT_STATUS_ERROR;
		h->status_message = arena_put(h, "upstream timed out", 18);
	}
	record_done(h);
	return h;
}

static void seed_body(struct at_buf *body)
{
	static const char q[] = "SELECT * FROM item WHERE id = $1";
	static struct at_resource res = {
		.attrs = { { "service.name", AT_KV_STRING, "shop", 0 },
			   { "process.pid", AT_KV_INT, NULL, 4242 } },
		.n = 2,
	};
	struct at_span_hdr *r[9];
	size_t i;

	r[0] = seed_span(1, 0, AT_KIND_SERVER, "GET /orders", 0, 100,
			 "http.request.method", "GET", true);
	for (i = 0; i < 3; i++) {
		r[1 + i] = seed_span((uint8_t)(2 + i), 1, AT_KIND_CLIENT,
				     "SELECT", 1 + i * 2, 2 + i * 2,
				     "db.query.text", q, false);
		r[4 + i] = seed_span((uint8_t)(5 + i), 1, AT_KIND_CLIENT,
				     i == 0 ? "GET /a" : i == 1 ? "GET /b" :
				     "GET /c", 10 + i * 5, 14 + i * 5,
				     "server.address", "api", false);
	}
	r[7] = seed_span(8, 1, AT_KIND_INTERNAL, "render", 30, 95, "k", "v",
			 false);
	r[8] = seed_span(9, 8, AT_KIND_INTERNAL, "template", 31, 94, "k",
			 "w", false);
	CHECK(at_otlp_encode((const struct at_span_hdr *const *)r, 9, &res,
			     body) == 0);
	for (i = 0; i < 9; i++)
		free(r[i]);
}

static void write_seed(const char *dir, const char *name, const void *p,
		       size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	CHECK(fwrite(p, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

static void write_framed(const char *dir, const char *name,
			 const struct at_buf *body, uint8_t how)
{
	struct src s = { body->data, body->len, 0 }; /* chunk sizes */
	struct at_buf req = { 0 };

	frame(&req, body, how, &s);
	write_seed(dir, name, req.data, req.len);
	at_buf_free(&req);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name, *bytes;
	} bad[] = {
		{ "bad_request_line", "GARBAGE\r\n\r\nPOST /v1/traces HTTP/1.1\r\n\r\n" },
		{ "bad_chunk_size", "POST /v1/traces HTTP/1.1\r\nContent-Type: "
		  "application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "zz\r\n" },
		{ "length_and_chunked", "POST /v1/traces HTTP/1.1\r\nContent-Length: 1"
		  "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
		{ "refused_kinds", "GET /v1/traces HTTP/1.1\r\n\r\n"
		  "POST /other?x=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
		  "POST /v1/traces HTTP/1.1\r\nContent-Type: text/plain\r\n"
		  "Content-Length: 0\r\n\r\n"
		  "POST /v1/traces HTTP/1.1\r\nContent-Type: application/"
		  "x-protobuf\r\nContent-Encoding: br\r\nContent-Length: 0\r\n\r\n"
		  "POST /v1/traces HTTP/1.1\r\nContent-Type: application/"
		  "x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" },
		{ "bad_gzip", "POST /v1/traces HTTP/1.1\r\nContent-Type: application/"
		  "x-protobuf\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n"
		  "\x1f\x8b\x08\x01garbag" },
		{ "not_protobuf", "\r\nPOST /v1/traces HTTP/1.1\r\nContent-Type: "
		  "application/x-protobuf; charset=x\r\nContent-Length: 5\r\n\r\n"
		  "\xff\xff\xff\xff\xff" },
		{ "too_large", "POST /v1/traces HTTP/1.1\r\nContent-Length: "
		  "99999999999\r\n\r\n" },
		{ "expect_then_eof", "POST /v1/traces HTTP/1.0\r\nContent-Type: "
		  "application/x-protobuf\r\nExpect: 100-continue\r\n"
		  "Connection: keep-alive\r\nContent-Length: 9\r\n\r\n\x0a" },
		/* The last byte sets a small body budget, part of it taken
		 * (see run_open()): 503, and 413 for more than the budget. */
		{ "over_budget", "POST /v1/traces HTTP/1.1\r\nContent-Type: "
		  "application/x-protobuf\r\nContent-Length: 24000\r\n\r\n#" },
		{ "over_budget_chunked", "POST /v1/traces HTTP/1.1\r\n"
		  "Content-Type: application/x-protobuf\r\nTransfer-Encoding: "
		  "chunked\r\n\r\n10\r\n0123456789abcdef\r\n5000\r\n#" },
		{ "never_fits", "POST /v1/traces HTTP/1.1\r\nContent-Type: "
		  "application/x-protobuf\r\nContent-Length: 30000\r\n\r\n\x01" },
	};
	struct at_buf body = { 0 }, deep = { 0 }, stream = { 0 };
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/receiver";

	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	seed_body(&body);
	write_framed(dir, "enc_plain", &body, 0);
	write_framed(dir, "enc_gzip", &body, 1);
	write_framed(dir, "enc_chunked_ext_trailer", &body, 2 | 8 | 16);
	write_framed(dir, "enc_gzip_chunked_expect", &body, 1 | 2 | 4);
	/* keep-alive: plain, gzip chunked, then an HTTP/1.0 request */
	frame(&stream, &body, 0, &(struct src){ NULL, 0, 0 });
	frame(&stream, &body, 1 | 2, &(struct src){ body.data, body.len, 0 });
	CHECK(at_buf_printf(&stream, "POST /v1/traces HTTP/1.0\r\n"
			    "Content-Type: application/x-protobuf\r\n"
			    "Content-Length: %zu\r\n\r\n", body.len) == 0);
	CHECK(at_buf_append(&stream, body.data, body.len) == 0);
	write_seed(dir, "enc_pipelined", stream.data, stream.len);
	/* around the receiver's nesting limit */
	CHECK(otlp_nested_request(&deep, 40) == 0);
	write_framed(dir, "nested_40", &deep, 0);
	at_buf_reset(&deep);
	CHECK(otlp_nested_request(&deep, 60) == 0);
	write_framed(dir, "nested_60", &deep, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		write_seed(dir, bad[i].name, bad[i].bytes,
			   strlen(bad[i].bytes));
	at_buf_free(&body);
	at_buf_free(&deep);
	at_buf_free(&stream);
	return 0;
}
#endif
