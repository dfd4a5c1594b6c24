'use strict';
// autotrace-bridge.js - the Node.js runtime bridge of libautotrace
// (hooks/runtime/at_bridge.c has the design).  Loaded with --require by
// NODE_OPTIONS, which the library set; carries context only: which
// server request the code writing to a socket runs for.  Never throws.
//
// Which request is current.  One variable, `cur`: the store of the
// server request the running code works for (its connection's fd + 1,
// its number on that connection, the socket; a store whose socket was
// destroyed names nothing: its fd may be another connection's by now),
// or undefined.  It is set, and put back on the way out, at the entries
// that know whose code runs:
//   - the server's emit of a request head (every head Node reads counts,
//     as the library counts them: "Expect:" and upgrades are emitted
//     under other names), and the request's own events (its body);
//   - promise reactions (v8.promiseHooks, on from the first request: a
//     promise made while a request is current carries its store; a
//     reaction runs in its promise's store, or in none) - what `await`
//     needs, at a fraction of AsyncLocalStorage's cost on Node before 24
//     (no async ids, no async_hooks: a property set and two stores);
//   - callbacks given to setTimeout, setInterval, setImmediate and
//     queueMicrotask while a request is current (express's router);
//   - an http.request's own work: the writes of its head and body (also
//     when Node writes them later, from the agent's queue in another
//     request's code) and its events (the response callback, and the
//     response's events);
//   - work a library queues and runs from other code: undici (fetch;
//     diagnostics_channel: the request's store at 'undici:request:create',
//     pinned on the socket at 'undici:client:sendHeaders', just before
//     its head is written; a request queued in a pool keeps the store of
//     its dispatch), pg-pool (a checkout's callback), pg (a query queued
//     on a busy client, and its callback), ioredis (a command queued
//     while the connection was not ready; a pipeline keeps its commands'
//     store, or names none if several requests made them).
// Everything else that the loop calls starts with no request (its writes
// give roots, never another request's children): process.nextTick
// callbacks and other emitters' events are not followed (Node's
// AsyncLocalStorage follows them, at a cost per callback).
//
// Telling the library.  Right before Node hands bytes to libuv (net.Socket
// _writeGeneric, which libuv usually completes in the same call) the
// store of those bytes goes into the slot the library reads; after the
// call the slot is cleared, so bytes libuv writes later from the loop
// name no request.  The store of the bytes is taken when the program
// calls write()/end(), not when Node flushes them: a flush after a
// connect, an uncork or a slow write runs in other code; chunks of
// several stores flushed together name none.  The slot is also set
// around connect (a unix socket connects in that call; a TCP one a tick
// later, naming none: a database connection's connect span is a root,
// an HTTP request's becomes its child anyway).
// Limits: bytes libuv writes later from the loop (a write that did not
// complete at once) and chunks of several requests written together
// give roots, and so do writes from callbacks not followed (above).
// Staying cheap in V8: what the bridge keeps on a socket is one object
// in one property, added once (a property each, added at different
// times, gave sockets several hidden classes); each hot wrapper is a
// function literal of its own (closures of one literal share their
// type feedback), and calls the original with its arguments by name
// (switching on arguments.length, so that the original sees the same
// arguments) rather than fn.apply(this, arguments) inside try/finally.
// Cost (Node 20, which has no AsyncContextFrame): once the first request
// came, V8 calls the promise hooks for every promise, about 80 ns of CPU
// per awaited call (four promises, two reactions; AsyncLocalStorage:
// about 220 ns, and a hook per nextTick callback too); the wrappers a few
// ns each, a store switch 10-30 ns.  A service making ~70 promises per
// request (fetch makes most) pays about 1.7 us per request (make bench,
// scenario ctx_node, computed figure), some 1.2 us of it for V8 calling
// any promise hooks at all (empty ones cost 55-60 ns per awaited call).
// In instructions (callgrind, node --single-threaded, an awaited call of
// an async function that awaits once, in a request's store): 1,563
// plain; hooks that do nothing +835 (V8 then makes a throwaway promise
// per await and calls 4 init, 2 before, 2 after: ~70 each); the bridge's
// +1,265, the other ~430 mostly its store on the four promises (a property
// added: a property array allocated, and the scavenges it brings).
// Each hook is needed: without after, code the loop runs after the last
// reaction, or a microtask Node queued, runs in that reaction's store;
// without a store on every promise made in a request (also the ones
// with no parent, and the one wrapping an awaited non-promise), a
// thenable's then (a query builder returned by an async function) runs
// in none.
// In instructions (scripts/bench/node_bridge_instr.sh: scenario 6's
// frontend -> backend pair, which makes no promise, under callgrind; the
// main thread less garbage collection, bridge on - off, medians of 4 to
// 9 runs whose spread is some 10 k): a batch of 300 requests on 20 new
// connections costs about 7 k (backend) + 0-5 k (frontend) more per
// request (it was 7 k + 25-28 k while a socket got three properties at
// different times), warm connections about 0 + 10 k (it was 0 + 14 k).
(function autotraceBridge() {
	// The store of the request the running code works for ({ fd1, seq,
	// sock }), or undefined (also when the bridge is off).
	let currentStore = () => undefined;
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
		const v8 = require('v8');
		const ph = v8.promiseHooks;
		if (!ph || typeof ph.createHook !== 'function')
			return;
		const http = require('http');
		const net = require('net');
		const kSk = Symbol('autotrace.socket'); // a socket's SockState
		const kSt = Symbol('autotrace.store');  // an object's store
		const MIXED = { fd1: 0, seq: 0, sock: null };
		const NONE = { st: undefined };
		const PIN_MIXED = { st: MIXED };
		// What the bridge keeps on a socket, in one property added once
		// (a property each, added at different times, gave sockets
		// several hidden classes and Node's own socket code polymorphic
		// property accesses): requests read on it (seq), the store of its
		// unflushed bytes (own: a store, null for none, undefined before
		// the first write) and the one pinned for its next write (pin:
		// { st }).
		class SockState {
			constructor() {
				this.seq = 0;
				this.own = undefined;
				this.pin = undefined;
			}
		}
		const sockState = (sock) => {
			const k = sock[kSk];
			return k !== undefined ? k : (sock[kSk] = new SockState());
		};

		// The store current now, and the one a promise reaction
		// interrupted (reactions run one at a time, from the loop, never
		// inside one another).  `after` is needed: without it the
		// nextTick callbacks run after the microtasks, and the loop's
		// next callback, would run in the last reaction's store (Node has
		// no cheap point to reset it there).  A property of the promise is
		// the cheapest place for its store (a WeakMap costs ten times as
		// much per awaited call; a string key costs the same).
		let cur, outer;
		currentStore = () => cur;
		const init = (p) => {
			if (cur !== undefined)
				p[kSt] = cur;
		};
		const before = (p) => {
			outer = cur;
			cur = p[kSt];
		};
		const after = () => {
			cur = outer;
			outer = undefined;
		};
		let hooked = false;
		const hook = () => {
			hooked = true;
			try {
				ph.createHook({ init, before, after });
			} catch (e) { /* promises then carry no store */ }
		};
		// fn run with this and args in store st (the hot wrappers do
		// the same inline: passing their arguments on would copy them).
		const within = (st, fn, self, args) => {
			const prev = cur;
			cur = st;
			try {
				return fn.apply(self, args);
			} finally {
				cur = prev;
			}
		};

		// A request's code runs in its own store, and so do its events.
		const emit = http.Server.prototype.emit;
		http.Server.prototype.emit = function (ev, req, a, b) {
			if ((ev !== 'request' && ev !== 'checkContinue' &&
			     ev !== 'checkExpectation' && ev !== 'upgrade' &&
			     ev !== 'connect') || !req || !req.socket)
				return emit.apply(this, arguments);
			let store = req[kSt];
			if (store === undefined) {
				// Once per head, however often the program emits it.
				const sock = req.socket;
				const h = sock._handle;
				const k = sockState(sock);
				store = req[kSt] = { fd1: h && h.fd >= 0 ? h.fd + 1 : 0,
						     seq: ++k.seq, sock };
				if (!hooked)
					hook();
			}
			const n = arguments.length;
			if (n > 4)
				return within(store, emit, this, arguments);
			const prev = cur;
			cur = store;
			try {
				return n === 3 ? emit.call(this, ev, req, a) :
					n === 4 ? emit.call(this, ev, req, a, b) :
					emit.call(this, ev, req);
			} finally {
				cur = prev;
			}
		};
		// Events of an object with a store (a server request, an
		// http.request and its response) run in it: the two wrappers
		// are written out so that each has feedback of its own.
		const imEmit = http.IncomingMessage.prototype.emit;
		if (typeof imEmit === 'function')
			http.IncomingMessage.prototype.emit = function (ev, a, b) {
				const st = this[kSt];
				const n = arguments.length;
				if (st === undefined || st === cur)
					return n === 1 ? imEmit.call(this, ev) :
						n === 2 ? imEmit.call(this, ev, a) :
						imEmit.apply(this, arguments);
				if (n > 3)
					return within(st, imEmit, this, arguments);
				const prev = cur;
				cur = st;
				try {
					return n === 1 ? imEmit.call(this, ev) :
						n === 2 ? imEmit.call(this, ev, a) :
						n === 3 ? imEmit.call(this, ev, a, b) :
						imEmit.call(this);
				} finally {
					cur = prev;
				}
			};
		const CR = http.ClientRequest.prototype;
		const crEmit = CR.emit;
		if (typeof crEmit === 'function')
			CR.emit = function (ev, a, b) {
				const st = this[kSt];
				const n = arguments.length;
				if (st === undefined)
					return n === 1 ? crEmit.call(this, ev) :
						n === 2 ? crEmit.call(this, ev, a) :
						crEmit.apply(this, arguments);
				// The response runs in its request's store.
				if (ev === 'response' && a && typeof a === 'object')
					a[kSt] = st;
				if (st === cur)
					return n === 1 ? crEmit.call(this, ev) :
						n === 2 ? crEmit.call(this, ev, a) :
						crEmit.apply(this, arguments);
				if (n > 3)
					return within(st, crEmit, this, arguments);
				const prev = cur;
				cur = st;
				try {
					return n === 1 ? crEmit.call(this, ev) :
						n === 2 ? crEmit.call(this, ev, a) :
						n === 3 ? crEmit.call(this, ev, a, b) :
						crEmit.call(this);
				} finally {
					cur = prev;
				}
			};
		// An http.request keeps its caller's store, for its writes too
		// (_writeRaw(data, encoding, callback), _flushOutput(socket)).
		const writeRaw = CR._writeRaw;
		if (typeof writeRaw === 'function')
			CR._writeRaw = function (data, enc, cb) {
				const st = this[kSt];
				if (st === undefined || st === cur)
					return writeRaw.apply(this, arguments);
				const n = arguments.length;
				if (n > 3)
					return within(st, writeRaw, this, arguments);
				const prev = cur;
				cur = st;
				try {
					return n === 3 ? writeRaw.call(this, data, enc, cb) :
						n === 2 ? writeRaw.call(this, data, enc) :
						n === 1 ? writeRaw.call(this, data) :
						writeRaw.call(this);
				} finally {
					cur = prev;
				}
			};
		const flushOutput = CR._flushOutput;
		if (typeof flushOutput === 'function')
			CR._flushOutput = function (socket) {
				const st = this[kSt];
				if (st === undefined || st === cur)
					return flushOutput.apply(this, arguments);
				const n = arguments.length;
				if (n > 1)
					return within(st, flushOutput, this, arguments);
				const prev = cur;
				cur = st;
				try {
					return n === 1 ? flushOutput.call(this, socket) :
						flushOutput.call(this);
				} finally {
					cur = prev;
				}
			};
		for (const name of ['request', 'get']) {
			const orig = http[name];
			if (typeof orig === 'function')
				http[name] = function () {
					const r = orig.apply(this, arguments);
					if (cur !== undefined && r && typeof r === 'object')
						r[kSt] = cur;
					return r;
				};
		}

		// Callbacks scheduled by a request's code run in its store.
		const timers = require('timers');
		for (const name of ['setTimeout', 'setInterval', 'setImmediate',
				    'queueMicrotask']) {
			const orig = globalThis[name];
			if (typeof orig !== 'function')
				continue;
			const w = function (fn) {
				if (cur === undefined || typeof fn !== 'function')
					return orig.apply(this, arguments);
				const st = cur;
				arguments[0] = function () {
					const prev = cur;
					cur = st;
					try {
						return fn.apply(this, arguments);
					} finally {
						cur = prev;
					}
				};
				return orig.apply(this, arguments);
			};
			for (const y of Object.getOwnPropertySymbols(orig))
				w[y] = orig[y];   // util.promisify.custom
			globalThis[name] = w;
			if (timers[name] === orig)
				timers[name] = w;
		}

		const S = net.Socket.prototype;
		// Whose bytes: the store current when the program wrote them
		// (or the one pinned for this socket's next write).
		const own = function (sock) {
			const k = sockState(sock);
			const pin = k.pin;
			const st = pin !== undefined ? pin.st : cur;
			const o = k.own;
			if (o === undefined || sock.writableLength === 0)
				k.own = st === undefined ? null : st;
			else if (o !== st && (st !== undefined || o !== null))
				k.own = MIXED;
		};
		const setSlot = function (st) {
			if (st && st.sock && !st.sock.destroyed) {
				slot[3] = st.seq;
				slot[2] = st.fd1;
			} else {
				slot[2] = 0;
			}
		};
		// write(chunk, encoding, cb) and end(chunk, encoding, cb).
		const write = require('stream').Writable.prototype.write;
		if (typeof write === 'function')
			S.write = function (chunk, enc, cb) {
				try { own(this); } catch (e) { /* never break */ }
				const n = arguments.length;
				return n === 1 ? write.call(this, chunk) :
					n === 2 ? write.call(this, chunk, enc) :
					n === 3 ? write.call(this, chunk, enc, cb) :
					write.apply(this, arguments);
			};
		const end = S.end;
		if (typeof end === 'function')
			S.end = function (chunk, enc, cb) {
				try { own(this); } catch (e) { /* never break */ }
				const n = arguments.length;
				return n === 0 ? end.call(this) :
					n === 1 ? end.call(this, chunk) :
					n === 2 ? end.call(this, chunk, enc) :
					n === 3 ? end.call(this, chunk, enc, cb) :
					end.apply(this, arguments);
			};
		// _writeGeneric(writev, data, encoding, cb): the store of the
		// bytes in the slot while libuv is handed them.
		const writeGeneric = S._writeGeneric;
		if (typeof writeGeneric === 'function')
			S._writeGeneric = function (writev, data, enc, cb) {
				try {
					const k = this[kSk];
					let st = cur;
					if (k !== undefined) {
						k.pin = undefined;
						if (k.own !== undefined)
							st = k.own;
					}
					setSlot(st);
				} catch (e) {
					slot[2] = 0;
				}
				try {
					return arguments.length === 4
						? writeGeneric.call(this, writev, data, enc, cb)
						: writeGeneric.apply(this, arguments);
				} finally {
					slot[2] = 0;
				}
			};
		const connect = S.connect;
		if (typeof connect === 'function')
			S.connect = function () {
				try { setSlot(cur); } catch (e) { slot[2] = 0; }
				try {
					return connect.apply(this, arguments);
				} finally {
					slot[2] = 0;
				}
			};

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
						handler[kSt] = { st: cur };
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
				req[kSt] = (h && h[kSt]) || { st: cur };
			});
			dc.subscribe('undici:client:sendHeaders', (m) => {
				if (m && m.socket && m.request)
					sockState(m.socket).pin = m.request[kSt] || NONE;
			});
		}

		// Libraries that call a queued item's code from another request's
		// callback: the item runs in its submitter's store (or in none).
		const later = (fn) => {
			const st = cur;
			return function () {
				if (st === cur)
					return fn.apply(this, arguments);
				const prev = cur;
				cur = st;
				try {
					return fn.apply(this, arguments);
				} finally {
					cur = prev;
				}
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
						last[kSt] = { st: cur };
					return r;
				};
				Q.submit = function () {
					const t = this[kSt];
					if (!t || t.st === cur)
						return submit.apply(this, arguments);
					return within(t.st, submit, this, arguments);
				};
			},
			ioredis: (Redis) => {
				const R = Redis && Redis.prototype;
				const send = R && R.sendCommand;
				if (typeof send !== 'function')
					return;
				// A pipeline (auto-pipelining: the commands of a tick,
				// whichever requests made them) goes out in one write, from
				// a callback of no request: the write is pinned to its
				// commands' store, or to none if several requests made
				// them.
				const P = Redis.Pipeline && Redis.Pipeline.prototype;
				const queue = P && P.sendCommand;
				if (typeof queue === 'function')
					P.sendCommand = function (cmd) {
						if (cmd && typeof cmd === 'object' && !cmd[kSt])
							cmd[kSt] = { st: cur };
						return queue.apply(this, arguments);
					};
				R.sendCommand = function (cmd, stream) {
					if (!cmd || typeof cmd !== 'object')
						return send.apply(this, arguments);
					let t = cmd[kSt];
					if (!t)
						t = cmd[kSt] = { st: cur };
					if (stream && stream.isPipeline) {
						const agg = stream[kSt];
						if (agg === undefined)
							stream[kSt] = t;
						else if (agg.st !== t.st)
							stream[kSt] = PIN_MIXED;
						if (this.stream)
							sockState(this.stream).pin = stream[kSt];
					}
					if (t.st === cur)
						return send.apply(this, arguments);
					return within(t.st, send, this, arguments);
				};
			},
			// mysql2: a pool hands a connection over from a nextTick (a
			// checkout's callback runs in its caller's store), and a
			// command queued on a busy connection is written from the
			// previous one's reply (it runs in its submitter's store).
			mysql2: (m) => {
				const P = m && m.Pool && m.Pool.prototype;
				const C = m && m.Connection && m.Connection.prototype;
				const gc = P && P.getConnection;
				const add = C && C.addCommand;
				if (typeof gc === 'function')
					P.getConnection = function (cb) {
						if (typeof cb === 'function')
							arguments[0] = later(cb);
						return gc.apply(this, arguments);
					};
				if (typeof add !== 'function')
					return;
				C.addCommand = function (cmd) {
					const st = cur;
					const exec = cmd && typeof cmd === 'object' &&
						cmd.execute;
					if (st !== undefined && typeof exec === 'function')
						cmd.execute = function () {
							if (st === cur)
								return exec.apply(this, arguments);
							return within(st, exec, this, arguments);
						};
					return add.apply(this, arguments);
				};
			},
		}));
		// By name (require) or by file (import of a CommonJS module).
		const files = [['/pg-pool/index.js', 'pg-pool'],
			       ['/pg/lib/index.js', 'pg'],
			       ['/ioredis/built/index.js', 'ioredis'],
			       ['/mysql2/index.js', 'mysql2']];
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
		// Node's own HTTPS client (autotrace-https.js): spans asked for
		// through the channel; a fetch queued in a pool keeps the store
		// of its dispatch.
		require(require('path').join(__dirname, 'autotrace-https.js'))({
			store: currentStore, fs, fd,
			requestStore: (r) => (r[kSt] || { st: cur }).st,
		});
	} catch (e) { /* never break the program */ }
})();
