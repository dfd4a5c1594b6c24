'use strict';
// autotrace-bridge.js - the Node.js runtime bridge of libautotrace
// (hooks/runtime/at_bridge.c has the design).  Loaded with --require by
// NODE_OPTIONS, which the library set; carries context only: which
// server request the code writing to a socket runs for.  Never throws.
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

		// A request's code runs in its own store: its connection's fd
		// (+1) and its number on that connection.
		const emit = http.Server.prototype.emit;
		http.Server.prototype.emit = function (ev, req, res) {
			if (ev !== 'request' || !req || !req.socket)
				return emit.apply(this, arguments);
			const sock = req.socket;
			const h = sock._handle;
			sock.__autotraceSeq = (sock.__autotraceSeq || 0) + 1;
			const store = { fd1: h && h.fd >= 0 ? h.fd + 1 : 0,
					seq: sock.__autotraceSeq };
			return als.run(store, () => emit.apply(this, arguments));
		};
		// Whose bytes these are, right before libuv writes them.
		const wrap = (name) => {
			const orig = net.Socket.prototype[name];
			if (typeof orig !== 'function')
				return;
			net.Socket.prototype[name] = function () {
				const st = als.getStore();
				slot[2] = st ? st.fd1 : 0;
				slot[3] = st ? st.seq : 0;
				try {
					return orig.apply(this, arguments);
				} finally {
					slot[2] = 0;
					slot[3] = 0;
				}
			};
		};
		wrap('_writeGeneric');
		wrap('connect');
	} catch (e) { /* never break the program */ }
})();
