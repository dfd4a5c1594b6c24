/*
 * at_rx_int.h - the receiver's shared state and the functions its files
 * call across (see at_receiver.c for the design).  Private to
 * tool/at_receiver.c, at_rx_http.c and at_rx_store.c.
 */
#ifndef AT_RX_INT_H
#define AT_RX_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at_buf.h"
#include "at_http_chunked.h"
#include "at_receiver.h"

#define HDR_MAX AT_HTTP_HEAD_MAX /* what the library's parser takes */
#define BODY_MAX ((size_t)64 * 1024 * 1024)
#define RAW_MAX (2 * BODY_MAX) /* chunked framing included */
#define READ_CHUNK (64 * 1024)
#define READ_BUDGET (1024 * 1024) /* per connection per poll round */
#define OUT_HIGH (64 * 1024)      /* stop reading above this backlog */
#define LINGER_MS 2000             /* drain a closing connection */
#define IN_BASE (16 * 1024)        /* input held without the budget */
/* Defaults of the limits in at_receiver_opts. */
#define DEF_MAX_CONNS 512
#define DEF_BODY_BUDGET ((size_t)128 * 1024 * 1024)
#define DEF_IDLE_MS 60000
#define DEF_HEAD_MS 10000
#define DEF_MIN_RATE ((size_t)128 * 1024)
#define BUSY_RETRY_AFTER "1"       /* seconds, with a 503 */
#define ACCEPT_PAUSE_MS 100        /* out of descriptors */
#define TRACES_PATH "/v1/traces"
#define CHUNK_LINE_MAX 4096        /* chunk size and extensions */

/* ---- shared state ---- */

struct rx_req {
	at_otlp_request *req;
	const char *encoding; /* "gzip" or "" */
};

struct script {
	struct script *next;
	int count;
	int status;
	char *retry_after;
	int64_t rejected;
	char *message;
};

/* A parsed request head, kept while its body arrives. */
struct head {
	bool done;
	size_t body_off;    /* from the request start */
	bool post;
	int route;          /* 0 trace path, 404, 405, 1 on_get's */
	size_t target_off, target_len; /* route 1: from the request start */
	bool host_local;    /* Host: 127.0.0.1, localhost or [::1] (a port) */
	bool chunked;
	size_t clen;
	bool protobuf;      /* Content-Type application/x-protobuf */
	int encoding;       /* 0 identity, 1 gzip, -1 other */
	bool close;         /* close after the response */
	bool expect_continue;
	/* chunked scan: the decoder over the body, how far it has read
	 * (from the request start), and the end of the body once done */
	struct at_http_chunks chunks;
	size_t chunk_scan;
	size_t chunk_end;
};

struct conn {
	struct conn *next;
	int fd;
	struct at_buf in;
	size_t in_off;      /* start of the current request in in */
	struct at_buf out;
	size_t out_off;
	bool close_after;   /* once out is flushed */
	bool dead;          /* close at the end of this round */
	bool blackhole;     /* never answer, discard input */
	bool sent_continue;
	bool lingering;     /* answered, write side shut: drain until EOF */
	uint64_t linger_until_ms;
	uint64_t hold_until_ms; /* answer held until then (0: not held) */
	uint64_t last_ms;   /* last byte read or written (or accepted) */
	uint64_t req_start_ms; /* first byte of the request now arriving */
	size_t charge;      /* bytes of the body budget held */
	struct head h;
};

struct at_receiver {
	int lfd;
	int wake[2];
	uint16_t port;
	pthread_t thread;
	bool running;

	char *save_dir;
	void (*on_request)(const at_otlp_request *req, void *ud);
	void *ud;
	int (*on_get)(const char *target, struct at_buf *body,
		      const char **type, void *ud);
	int sink;
	size_t save_seq;
	_Atomic int delay_ms;   /* at_receiver_delay() */

	/* limits (at_receiver_opts, defaults filled in) */
	size_t max_conns;
	size_t budget;
	uint64_t idle_ms, head_ms;
	size_t min_rate;

	/* thread only (or the caller of an unbound receiver) */
	struct conn *conns;
	size_t n_conns;       /* in the list, closed ones included */
	size_t held;          /* sum of the connections' charge */
	uint64_t now_ms;      /* of this poll round (0: unbound) */
	uint64_t accept_pause_until_ms;

	/* Held by the thread from storing a request until its on_request
	 * callback returned, and by at_receiver_clear(): the callback never
	 * sees its request freed under it. */
	pthread_mutex_t cb_mu;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct rx_req *reqs;
	size_t n_reqs, cap_reqs;
	struct at_rx_span *spans;
	size_t n_spans, cap_spans;
	size_t n_requests;
	size_t n_sink_spans; /* sink: spans counted in identity bodies */
	struct script *script_head, *script_tail;
};

/* at_receiver.c */
uint64_t at_rx_now_ms(void);

/* at_rx_http.c: requests and answers */
void at_rx_process(struct at_receiver *r, struct conn *c);
void at_rx_respond(struct conn *c, int status, const char *retry_after,
		   const uint8_t *body, size_t len, bool close);
void at_rx_respond_typed(struct conn *c, int status, const char *type,
			 const uint8_t *body, size_t len, bool close);
void at_rx_respond_error(struct conn *c, int status, const char *msg,
			 bool close);
void at_rx_respond_ok(struct conn *c, int64_t rejected, const char *message,
		      bool close);
/* The body budget. */
bool at_rx_conn_reads(const struct conn *c);
int at_rx_conn_charge(struct at_receiver *r, struct conn *c, size_t need);
void at_rx_conn_uncharge(struct at_receiver *r, struct conn *c);
void at_rx_conn_drop_input(struct at_receiver *r, struct conn *c);
void at_rx_refuse(struct at_receiver *r, struct conn *c, int rc);

/* at_rx_store.c: decoding and storing */
void at_rx_handle_traces(struct at_receiver *r, struct conn *c,
			 const uint8_t *body, size_t len, bool close);
void at_rx_count_request(struct at_receiver *r);
void at_rx_clear_locked(struct at_receiver *r);
int at_rx_grow(void **arr, size_t *cap, size_t need, size_t elem);

#endif
