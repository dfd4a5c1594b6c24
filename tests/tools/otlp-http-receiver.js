#!/usr/bin/env node
/*
 * otlp-http-receiver.js - an OTLP/HTTP trace receiver built only from
 * standard parts: Node's own HTTP server and the decoder generated from the
 * official OpenTelemetry protos (@opentelemetry/otlp-transformer, see
 * scripts/setup-node-decoder.sh).  It checks that the library's exporter
 * speaks HTTP and OTLP the way other implementations understand them.
 *
 *   node tests/tools/otlp-http-receiver.js PORT_FILE [COUNT]
 *
 * Listens on 127.0.0.1 (ephemeral port, written to PORT_FILE), accepts
 * POST /v1/traces with application/x-protobuf (gzip too), answers 200 with
 * an empty ExportTraceServiceResponse, and prints one JSON line per span:
 * {"service":..., "name":..., "traceId":..., "spanId":..., "parentSpanId":...,
 *  "kind":..., "attributes":{...}}.  Exits after COUNT spans (default: on
 * SIGTERM), or with status 1 after 20 s.
 */
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const zlib = require('zlib');

const MOD = '@opentelemetry/otlp-transformer/build/src/generated/root.js';
let root = null;
for (const t of [MOD, path.resolve(__dirname, '../../build/node/node_modules', MOD)]) {
	try { root = require(t); break; } catch (e) { if (e.code !== 'MODULE_NOT_FOUND') throw e; }
}
if (!root) {
	process.stderr.write('otlp-http-receiver: run scripts/setup-node-decoder.sh first\n');
	process.exit(3);
}
const v1 = root.opentelemetry.proto.collector.trace.v1;
const Req = v1.ExportTraceServiceRequest;
const Resp = v1.ExportTraceServiceResponse;

const portFile = process.argv[2];
const want = process.argv[3] ? parseInt(process.argv[3], 10) : Infinity;
let seen = 0;

const hex = (b) => Buffer.from(b || []).toString('hex');
function value(v) {
	if (!v) return null;
	for (const k of ['stringValue', 'boolValue', 'intValue', 'doubleValue'])
		if (v[k] !== undefined && v[k] !== null) return typeof v[k] === 'object' ? v[k].toString() : v[k];
	return null;
}
function attrs(list) {
	const o = {};
	for (const kv of list || []) o[kv.key] = value(kv.value);
	return o;
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		if (req.method !== 'POST' || req.url !== '/v1/traces' ||
		    req.headers['content-type'] !== 'application/x-protobuf') {
			res.writeHead(400).end();
			return;
		}
		let body = Buffer.concat(chunks);
		try {
			if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
			const msg = Req.decode(body);
			for (const rs of msg.resourceSpans) {
				const service = attrs(rs.resource && rs.resource.attributes)['service.name'];
				for (const ss of rs.scopeSpans)
					for (const s of ss.spans) {
						process.stdout.write(JSON.stringify({
							service, scope: ss.scope && ss.scope.name,
							name: s.name, traceId: hex(s.traceId), spanId: hex(s.spanId),
							parentSpanId: hex(s.parentSpanId), kind: s.kind,
							attributes: attrs(s.attributes),
						}) + '\n');
						seen++;
					}
			}
		} catch (e) {
			res.writeHead(400).end();
			return;
		}
		res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
		res.end(Buffer.from(Resp.encode(Resp.create({})).finish()));
		if (seen >= want) setImmediate(() => process.exit(0));
	});
});
server.listen(0, '127.0.0.1', () => {
	fs.writeFileSync(portFile + '.tmp', String(server.address().port));
	fs.renameSync(portFile + '.tmp', portFile);
});
setTimeout(() => process.exit(1), 20000).unref();
process.on('SIGTERM', () => process.exit(0));
