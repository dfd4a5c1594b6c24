'use strict';
// autotrace-https.js - client spans for Node's own HTTPS client, asked of
// libautotrace through the bridge channel (hooks/runtime/at_bridge_span.c
// has the design and the message layout).  Loaded by autotrace-bridge.js
// once its slot is registered: require(this)({ store, fs, fd,
// requestStore }), store() giving the current request's store
// ({ fd1, seq, sock }, or undefined), requestStore(undiciRequest) the
// store an undici request was made in (optional: store() by default).
// Never throws into the program; any failure means no span.
//
// Why.  Node links OpenSSL statically: the library sees only ciphertext
// on the socket and no TLS call.  Node itself knows each request, and
// the library makes the span: this file only hands it the request and
// puts the header lines it answers (traceparent and the other formats of
// OTEL_PROPAGATORS, baggage included) into the request.
//
// What.  Only https: requests (plain http: ones are the socket layer's,
// which injects on the wire: no second span, no second header).
//  - http/https ClientRequest: when Node has built the head (its
//    _storeHeader; diagnostics_channel's http.client.request.start comes
//    after it, too late to add a field), the head is sent as it is; the
//    lines the library answers go at its end, before Node sends it.  A
//    format the head carries itself gets none (the span continues it).  Ended at the request's 'close'
//    (after the response), with the response's status, or at
//    http.client.request.error, with the error's code.
//  - undici (fetch): at undici:request:create, a head made of the request
//    line, Host and the program's own propagation fields;
//    request.addHeader() adds the answered lines.  Status at undici:request:headers,
//    ended at undici:request:trailers (the response complete) or
//    undici:request:error.
// The library may answer "no span" (its TLS hooks already see the
// runtime's HTTPS: a Node linked with the system libssl; too many spans
// open; tracing off): nothing is changed then.
module.exports = function autotraceHttps(opts) {
	try {
		install(opts);
	} catch (e) { /* never break the program */ }
};

// The channel's messages (the cost fixture, tests/fixtures/ctx/
// node_https_chan_cost.js, times them alone): { start, end }.
module.exports.channel = channel;

// Messages.  One buffer, answered in place: the magic written once.  A
// START is a read of process.env whose name is a prefix and the head;
// the library's getenv answers it with the header lines, the handle in
// the buffer (bound once with a BIND; at_bridge_span.c, "Asked through
// getenv").  The write, the other way (a head copied in with latin1Write,
// the answer read back with latin1Slice), is left for a START getenv did
// not answer (a head past ASCII, a worker thread), an END with an error,
// a FLUSH.  Ends without an error are not sent: they are queued at the
// buffer's end (handle, status, the time: process.hrtime, the library's
// CLOCK_MONOTONIC) and the library ends them at the next message, which
// carries the queue; a full queue, a timer (100 ms, unref'd, set when
// an end finds none pending) and the process's 'exit' send it alone.
// A write (fs.writeSync to the channel, no system call: the library's
// write hook answers it) costs Node about 2.5 k instructions of its own,
// a process.env read about 1.7 k, and no copy each way (callgrind,
// Node 20; at_bridge_span.c has the split).
function channel(fs, fd) {
	const HDR = 32;            // eight int32 before the data
	const HEAD_MAX = 16384;    // the library's AT_HTTP_HEAD_MAX
	// The answer: header lines, a baggage line among them (the library
	// needs room for the lines and a copy of the list).
	const DATA = 17408;
	const START = 1, END = 2, FLUSH = 3, BIND = 4, WITH_ENDS = 0x100,
		IN_NAME = 0x200, ANSWERED = 0x400, RESEND = 5, ERR_MAX = 64;
	// The queue of ends (at_bridge_span.h: AT_BRIDGE_SPAN_ENDS).
	const ENDS = 64, QBYTES = 16 + 16 * ENDS;
	const LEN = HDR + DATA + QBYTES;
	const ab = new ArrayBuffer(LEN);
	const b = Buffer.from(ab);
	const m = new Int32Array(ab, 0, 8);
	const q = new Int32Array(ab, HDR + DATA, QBYTES / 4);
	// Node's own, as they were at startup (a program's fake timers
	// replace the globals later).
	const hrtime = process.hrtime;
	const setTimer = setTimeout;
	b.write('ATBRSPAN', 0, 'latin1');
	const put = typeof b.latin1Write === 'function'
		? (s) => b.latin1Write(s, HDR)
		: (s) => b.write(s, HDR, 'latin1');
	const get = typeof b.latin1Slice === 'function'
		? (n) => b.latin1Slice(HDR, HDR + n)
		: (n) => b.toString('latin1', HDR, HDR + n);

	// Answered in place by the library, or false (never throws: the end
	// is sent from the program's own event listeners).  The queue is
	// the library's to empty; if it did not, it is dropped.
	const send = () => {
		let ok = false;
		try {
			ok = fs.writeSync(fd, b, 0, LEN) === LEN;
		} catch (e) { /* no span */ }
		q[0] = 0;
		return ok;
	};
	const flush = () => {
		if (q[0] > 0) {
			m[2] = FLUSH | WITH_ENDS;
			send();
		}
	};
	try {
		process.on('exit', flush);
	} catch (e) { /* no flush at exit: the library ends them there */ }
	let pending = false;
	const onTimer = () => {
		pending = false;
		flush();
	};
	const later = () => {
		if (pending)
			return;
		pending = true;
		try {
			const t = setTimer(onTimer, 100);
			if (t && typeof t.unref === 'function')
				t.unref();
		} catch (e) {
			pending = false;
		}
	};
	// A span for the head (a latin1 string ending with the blank line):
	// { h, lines } (the header lines to add, CRLF each) or null.
	// Bound: STARTs asked through getenv (process.env[name], the head
	// in the name; hooks/runtime/getenv.c), this buffer
	// answering them.  Node's own env object, as it was at startup; a
	// read that does not reach the library (a worker's copy of the
	// environment) makes every START a write from then on.
	const env = process.env;
	let name = '';
	m[2] = BIND | WITH_ENDS;
	m[3] = 0;
	if (send() && m[3] > 0)
		name = '\x01ATBR' + m[3] + ':';
	const start = (head, st) => {
		if (head.length > HEAD_MAX)
			return null;
		const live = st && st.sock && !st.sock.destroyed;
		if (name) {
			m[2] = START | WITH_ENDS | IN_NAME;
			m[3] = 0;
			m[4] = live ? st.fd1 : 0;
			m[5] = live ? st.seq : 0;
			m[6] = head.length;
			m[7] = -1;
			let v;
			try {
				v = env[name + head];
			} catch (e) { /* not answered */ }
			if (m[2] & ANSWERED) {
				return m[3] > 0
					? { h: m[3], lines: typeof v === 'string' ? v : '' }
					: null;
			}
			// A head past ASCII goes by write (its bytes as they are);
			// anything else did not reach the library.
			if (m[7] !== RESEND)
				name = '';
		}
		const n = put(head);
		if (n !== head.length)
			return null;
		m[2] = START | WITH_ENDS;
		m[3] = 0;
		m[4] = live ? st.fd1 : 0;
		m[5] = live ? st.seq : 0;
		m[6] = n;
		m[7] = -1;
		if (!send() || !(m[3] > 0))
			return null;
		const ln = m[4];
		return {
			h: m[3],
			lines: ln > 0 && ln <= DATA ? get(ln) : '',
		};
	};
	const end = (h, status, err) => {
		if (!(h > 0))
			return;
		if (err) {
			m[2] = END | WITH_ENDS;
			m[3] = h;
			m[4] = status > 0 ? status : 0;
			m[5] = put(String(err).slice(0, ERR_MAX));
			send();
			return;
		}
		let n = q[0];
		if (!(n >= 0 && n < ENDS)) {
			flush();
			n = 0;
		}
		const t = hrtime();
		const i = 4 + 4 * n;
		q[i] = h;
		q[i + 1] = status > 0 ? status : 0;
		q[i + 2] = t[0];
		q[i + 3] = t[1];
		q[0] = n + 1;
		later();
	};
	return { start, end };
}

function install({ store, fs, fd, requestStore }) {
	// Request headers of the propagation formats (the library reads the
	// program's own from the head and adds only the formats it lacks).
	const PROP = new Set(['traceparent', 'tracestate', 'baggage', 'b3',
			      'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled',
			      'x-b3-flags', 'x-b3-parentspanid', 'uber-trace-id']);
	const { start, end } = channel(fs, fd);
	const kSpan = Symbol('autotrace.https.span');
	const kStatus = Symbol('autotrace.https.status');
	const kErr = Symbol('autotrace.https.error');

	const errType = (e) => (e && (e.code || e.name)) || 'Error';

	// ---- http/https ClientRequest ----
	const http = require('http');
	const CR = http.ClientRequest && http.ClientRequest.prototype;
	const storeHeader = CR && CR._storeHeader;
	const onClose = function () {
		try {
			const h = this[kSpan];
			if (!h)
				return;
			this[kSpan] = 0;
			const res = this.res;
			end(h, res ? res.statusCode : 0, this[kErr]);
		} catch (e) { /* never break */ }
	};
	const onHead = (req) => {
		if (req.protocol !== 'https:' || req[kSpan] !== undefined ||
		    req._headerSent || typeof req._header !== 'string')
			return;
		req[kSpan] = 0;
		const head = req._header;
		if (!head.endsWith('\r\n\r\n'))
			return;
		const a = start(head, store());
		if (!a)
			return;
		req[kSpan] = a.h;
		if (a.lines)
			req._header = head.slice(0, -2) + a.lines + '\r\n';
		req.once('close', onClose);
	};
	if (typeof storeHeader === 'function') {
		CR._storeHeader = function () {
			const r = storeHeader.apply(this, arguments);
			try { onHead(this); } catch (e) { /* never break */ }
			return r;
		};
	}

	const dc = require('diagnostics_channel');
	if (typeof dc.subscribe !== 'function')
		return;
	// A failed request ends at its error (its 'close' may come after the
	// program is gone).
	dc.subscribe('http.client.request.error', (msg) => {
		try {
			const req = msg && msg.request;
			if (!req || !req[kSpan])
				return;
			req[kErr] = errType(msg.error);
			onClose.call(req);
		} catch (e) { /* never break */ }
	});

	// ---- undici (fetch) ----
	// undici's request has no host (null unless the program set a Host
	// header): it is its origin's, parsed once per origin (a client
	// mostly talks to one; new URL() was about 0.4 us per fetch).
	let lastOrigin = '', lastHost = '';
	const originHost = (origin) => {
		if (origin !== lastOrigin) {
			lastHost = new URL(origin).host;
			lastOrigin = origin;
		}
		return lastHost;
	};
	const undiciHead = (req) => {
		const origin = String(req.origin || '');
		if (!origin.startsWith('https:') || typeof req.method !== 'string' ||
		    typeof req.path !== 'string' || typeof req.addHeader !== 'function')
			return null;
		let host = req.host;
		if (typeof host !== 'string' || !host)
			host = originHost(origin);
		let own = '';
		const hs = req.headers;
		if (Array.isArray(hs)) {
			for (let i = 0; i + 1 < hs.length; i += 2) {
				const k = String(hs[i]).toLowerCase();
				if (PROP.has(k))
					own += k + ': ' + hs[i + 1] + '\r\n';
			}
		} else if (typeof hs === 'string') {
			for (const line of hs.split('\r\n')) {
				const k = line.slice(0, line.indexOf(':')).trim().toLowerCase();
				if (PROP.has(k))
					own += line + '\r\n';
			}
		}
		return req.method + ' ' + req.path + ' HTTP/1.1\r\nHost: ' + host +
			'\r\n' + own + '\r\n';
	};
	dc.subscribe('undici:request:create', (msg) => {
		try {
			const req = msg && msg.request;
			if (!req || req[kSpan] !== undefined)
				return;
			const head = undiciHead(req);
			if (!head)
				return;
			req[kSpan] = 0;
			const a = start(head, requestStore ? requestStore(req) : store());
			if (!a)
				return;
			req[kSpan] = a.h;
			for (const line of a.lines.split('\r\n')) {
				const i = line.indexOf(': ');
				if (i > 0)
					req.addHeader(line.slice(0, i), line.slice(i + 2));
			}
		} catch (e) { /* never break */ }
	});
	dc.subscribe('undici:request:headers', (msg) => {
		try {
			const req = msg && msg.request;
			if (req && req[kSpan] && msg.response)
				req[kStatus] = msg.response.statusCode;
		} catch (e) { /* never break */ }
	});
	const undiciEnd = (req, err) => {
		const h = req && req[kSpan];
		if (!h)
			return;
		req[kSpan] = 0;
		end(h, req[kStatus], err);
	};
	dc.subscribe('undici:request:trailers', (msg) => {
		try { undiciEnd(msg && msg.request); } catch (e) { /* never break */ }
	});
	dc.subscribe('undici:request:error', (msg) => {
		try {
			undiciEnd(msg && msg.request, errType(msg && msg.error));
		} catch (e) { /* never break */ }
	});
}
