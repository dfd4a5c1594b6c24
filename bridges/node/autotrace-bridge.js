'use strict';
// autotrace-bridge.js - the Node.js runtime bridge of libautotrace
// (hooks/runtime/at_bridge.c has the design).  Loaded with --require by
// NODE_OPTIONS, which the library set; carries context only: which
// server request the code writing to a socket runs for.  Never throws.
//
// How.  Each server request runs in an AsyncLocalStorage store naming
// its connection's fd (+1), its number on that connection and the
// socket (a store whose socket was destroyed names nothing: its fd may
// be another connection's by now).  Right before Node hands bytes to
// libuv (net.Socket _writeGeneric, which libuv usually completes in the
// same call) the store of those bytes goes into the slot the library
// reads; after the call the slot is cleared, so bytes libuv writes later
// from the loop name no request (their spans become roots, never another
// request's children).  The store of the bytes is taken when the program
// calls write()/end(), not when Node flushes them: a flush after a
// connect, an uncork or a slow write runs in another request's context;
// chunks of several stores flushed together name none.  Where a library
// queues work and runs it from another request's callback, the queued
// item keeps its submitter's store: undici (diagnostics_channel: the
// request's store at 'undici:request:create', put on the socket at
// 'undici:client:sendHeaders', just before its head is written; a
// request queued in a pool keeps the store of its dispatch), pg-pool
// (a checkout's callback), pg (a query queued on a busy client, and its
// callback), ioredis (a command queued while the connection was not
// ready; a pipeline whose commands several requests made names none).
// The slot is also set around connect (a unix socket connects in that
// call; a TCP one a tick later, naming none: a database connection's
// connect span is a root, an HTTP request's becomes its child anyway).
// Limits: bytes libuv writes later from the loop (a write that did not
// complete at once) and chunks of several requests written together
// give roots; AsyncLocalStorage costs Node (before 24) a hook call per
// promise.
(function autotraceBridge() {
	const env = process.env;
	const chan = env.AUTOTRACE_BRIDGE;
	try {
		// The environment as the program had it.
		if (env.AUTOTRACE_BRIDGE_ORIG !== undefined)
			env.NODE_OPTIONS = env.AUTOTRACE_BRIDGE_ORIG;
		else
			delete env.NODE_OPTIONS;
		delete env.AUTOTRACE_BRIDGE_ORIG;
		delete env.AUTOTRACE_BRIDGE;
	} catch (e) { /* never break the program */ }
	if (!chan)
		return;
	try {
		const [pid, fd] = chan.split(':').map(Number);
		if (pid !== process.pid || !(fd >= 0))
			return;
		const fs = require('fs');
		// Only the library's channel: never a descriptor that a program
		// exec'ed in the same pid without the library reuses.
		if (fs.readlinkSync('/proc/self/fd/' + fd) !== 'anon_inode:[eventfd]')
			return;
		const ab = new ArrayBuffer(16);
		const bytes = new Uint8Array(ab);
		for (let i = 0; i < 8; i++)
			bytes[i] = 'ATBRIDGE'.charCodeAt(i);
		if (fs.writeSync(fd, bytes, 0, 16) !== 16)
			return;
		const slot = new Int32Array(ab);
		const { AsyncLocalStorage } = require('async_hooks');
		const als = new AsyncLocalStorage();
		const http = require('http');
		const net = require('net');
		const kSeq = Symbol('autotrace.seq');   // requests read on a socket
		const kOwn = Symbol('autotrace.own');   // store of unflushed bytes
		const kPin = Symbol('autotrace.pin');   // store of the next write
		const kSt = Symbol('autotrace.store');  // a queued item's store
		const MIXED = { fd1: 0, seq: 0, sock: null };
		const NONE = { st: undefined };
		const PIN_MIXED = { st: MIXED };

		// A request's code runs in its own store.  Every request head
		// Node reads is counted, as the library counts them: those with
		// "Expect:" and upgrades are emitted under other names.
		const emit = http.Server.prototype.emit;
		const heads = new Set(['request', 'checkContinue',
				       'checkExpectation', 'upgrade', 'connect']);
		http.Server.prototype.emit = function (ev, req) {
			if (!heads.has(ev) || !req || !req.socket)
				return emit.apply(this, arguments);
			let store = req[kSt];
			if (store === undefined) {
				// Once per head, however often the program emits it.
				const sock = req.socket;
				const h = sock._handle;
				sock[kSeq] = (sock[kSeq] || 0) + 1;
				store = req[kSt] = { fd1: h && h.fd >= 0 ? h.fd + 1 : 0,
						     seq: sock[kSeq], sock };
			}
			return als.run(store, () => emit.apply(this, arguments));
		};

		const S = net.Socket.prototype;
		// Whose bytes: the store current when the program wrote them
		// (or the one pinned for this socket's next write).
		const own = function (sock) {
			const pin = sock[kPin];
			const st = pin !== undefined ? pin.st : als.getStore();
			if (sock.writableLength === 0 || sock[kOwn] === undefined)
				sock[kOwn] = st === undefined ? null : st;
			else if (sock[kOwn] !== st && !(st === undefined && sock[kOwn] === null))
				sock[kOwn] = MIXED;
		};
		const setSlot = function (st) {
			if (st && st.sock && !st.sock.destroyed) {
				slot[3] = st.seq;
				slot[2] = st.fd1;
			} else {
				slot[2] = 0;
			}
		};
		const wrapWrite = (name, base) => {
			const orig = base[name];
			if (typeof orig !== 'function')
				return;
			S[name] = function () {
				try { own(this); } catch (e) { /* never break */ }
				return orig.apply(this, arguments);
			};
		};
		wrapWrite('write', require('stream').Writable.prototype);
		wrapWrite('end', S);
		const wrapIo = (name, pick) => {
			const orig = S[name];
			if (typeof orig !== 'function')
				return;
			S[name] = function () {
				try { setSlot(pick(this)); } catch (e) { slot[2] = 0; }
				try {
					return orig.apply(this, arguments);
				} finally {
					slot[2] = 0;
				}
			};
		};
		wrapIo('_writeGeneric', (sock) => {
			const o = sock[kOwn];
			sock[kPin] = undefined;
			return o === undefined ? als.getStore() : o;
		});
		wrapIo('connect', () => als.getStore());

		// undici (fetch): the head of a request is written from whatever
		// runs the client's queue; the request's own store is pinned on
		// the socket just before.
		const dc = require('diagnostics_channel');
		if (typeof dc.subscribe === 'function') {
			// A request queued in a pool is created later, in the code
			// of whichever request freed a connection: its store is taken
			// where the program called dispatch (fetch does, in its
			// caller's context) and kept on the handler, which the request
			// holds.
			let kHandler = null;
			const wrapDispatch = () => {
				const k = Symbol.for('undici.globalDispatcher.1');
				let p = globalThis[k];
				while (p && !Object.prototype.hasOwnProperty.call(p, 'dispatch'))
					p = Object.getPrototypeOf(p);
				if (!p || typeof p.dispatch !== 'function' || p.dispatch[kSt])
					return;
				const dispatch = p.dispatch;
				p.dispatch = function (opts, handler) {
					if (handler && typeof handler === 'object' && !handler[kSt])
						handler[kSt] = { st: als.getStore() };
					return dispatch.apply(this, arguments);
				};
				p.dispatch[kSt] = true;
			};
			dc.subscribe('undici:request:create', (m) => {
				const req = m && m.request;
				if (!req)
					return;
				if (kHandler === null) {
					kHandler = Object.getOwnPropertySymbols(req).find(
						(y) => y.description === 'handler');
					wrapDispatch();
				}
				const h = kHandler && req[kHandler];
				req[kSt] = (h && h[kSt]) || { st: als.getStore() };
			});
			dc.subscribe('undici:client:sendHeaders', (m) => {
				if (m && m.socket && m.request)
					m.socket[kPin] = m.request[kSt] || NONE;
			});
		}

		// Libraries that call a queued item's code from another request's
		// callback: the item runs in its submitter's store.
		const later = (fn) => {
			const box = { st: als.getStore() };
			return function () {
				return als.run(box.st, fn.bind(this), ...arguments);
			};
		};
		const patch = new Map(Object.entries({
			'pg-pool': (Pool) => {
				const P = Pool && Pool.prototype;
				const connect = P && P.connect;
				if (typeof connect !== 'function')
					return;
				P.connect = function (cb) {
					if (typeof cb === 'function')
						arguments[0] = later(cb);
					return connect.apply(this, arguments);
				};
			},
			pg: (pg) => {
				const C = pg && pg.Client && pg.Client.prototype;
				const Q = pg && pg.Query && pg.Query.prototype;
				if (!C || typeof C.query !== 'function' || !Q ||
				    typeof Q.submit !== 'function')
					return;
				const query = C.query, submit = Q.submit;
				C.query = function () {
					const n = arguments.length;
					if (n && typeof arguments[n - 1] === 'function')
						arguments[n - 1] = later(arguments[n - 1]);
					const r = query.apply(this, arguments);
					const q = this.queryQueue;
					const last = q && q[q.length - 1];
					if (last && typeof last === 'object' && !last[kSt])
						last[kSt] = { st: als.getStore() };
					return r;
				};
				Q.submit = function () {
					const t = this[kSt];
					if (!t || t.st === als.getStore())
						return submit.apply(this, arguments);
					return als.run(t.st, submit.bind(this), ...arguments);
				};
			},
			ioredis: (Redis) => {
				const R = Redis && Redis.prototype;
				const send = R && R.sendCommand;
				if (typeof send !== 'function')
					return;
				// A pipeline (auto-pipelining: the commands of a tick,
				// whichever requests made them) goes out in one write: its
				// commands keep their makers' stores; a write carrying
				// several names none.
				const P = Redis.Pipeline && Redis.Pipeline.prototype;
				const queue = P && P.sendCommand;
				if (typeof queue === 'function')
					P.sendCommand = function (cmd) {
						if (cmd && typeof cmd === 'object' && !cmd[kSt])
							cmd[kSt] = { st: als.getStore() };
						return queue.apply(this, arguments);
					};
				R.sendCommand = function (cmd, stream) {
					if (!cmd || typeof cmd !== 'object')
						return send.apply(this, arguments);
					let t = cmd[kSt];
					const st = als.getStore();
					if (!t)
						t = cmd[kSt] = { st };
					if (stream && stream.isPipeline) {
						const agg = stream[kSt];
						if (agg === undefined)
							stream[kSt] = t.st;
						else if (agg !== t.st)
							stream[kSt] = MIXED;
						if (stream[kSt] === MIXED && this.stream)
							this.stream[kPin] = PIN_MIXED;
					}
					if (t.st === st)
						return send.apply(this, arguments);
					return als.run(t.st, send.bind(this), ...arguments);
				};
			},
		}));
		// By name (require) or by file (import of a CommonJS module).
		const files = [['/pg-pool/index.js', 'pg-pool'],
			       ['/pg/lib/index.js', 'pg'],
			       ['/ioredis/built/index.js', 'ioredis']];
		const Module = require('module');
		const load = Module._load;
		if (typeof load === 'function') {
			const done = new WeakSet();
			Module._load = function (request) {
				const m = load.apply(this, arguments);
				let p = patch.get(request);
				if (!p && typeof request === 'string' &&
				    request.charCodeAt(0) === 47)
					for (const [f, name] of files)
						if (request.endsWith(f))
							p = patch.get(name);
				if (p && m && !done.has(m)) {
					done.add(m);
					try { p(m); } catch (e) { /* never break */ }
				}
				return m;
			};
		}
		const currentStore = () => als.getStore();
		require(require('path').join(__dirname, 'autotrace-https.js'))({ store: currentStore, fs, fd, requestStore: (r) => (r[kSt] || { st: currentStore() }).st });
	} catch (e) { /* never break the program */ }
})();
