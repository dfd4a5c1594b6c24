#!/usr/bin/env node
/*
 * otlp-decode.js - decode OTLP ExportTraceServiceRequest files with a
 * decoder generated from the OFFICIAL OpenTelemetry protos (the protobufjs
 * code shipped in @opentelemetry/otlp-transformer), independently of the
 * project's own .proto files and protobuf-c.
 *
 *   node tests/tools/otlp-decode.js FILE.pb...
 *
 * Prints one JSON object per file, one per line: the message as
 * toObject() gives it (longs as decimal strings, enums as names, only the
 * fields present on the wire, oneofs named in their "value" member) with
 * every bytes field as lowercase hex.
 *
 * The package is looked up through NODE_PATH, then in build/node (see
 * scripts/setup-node-decoder.sh) relative to the working directory and to
 * this script's repository.  Exit status: 0 ok, 1 a file did not decode,
 * 2 usage, 3 the package is missing.
 */
'use strict';

const fs = require('fs');
const path = require('path');

const MOD = '@opentelemetry/otlp-transformer/build/src/generated/root.js';

function loadRoot() {
	const tries = [MOD];
	for (const base of [process.cwd(), path.resolve(__dirname, '../..')])
		tries.push(path.join(base, 'build', 'node', 'node_modules', MOD));
	for (const t of tries) {
		try {
			return require(t);
		} catch (e) {
			if (e.code !== 'MODULE_NOT_FOUND')
				throw e;
		}
	}
	return null;
}

/* Replace every Uint8Array/Buffer (bytes fields) by its hex string. */
function hexify(v) {
	if (v instanceof Uint8Array)
		return Buffer.from(v).toString('hex');
	if (Array.isArray(v))
		return v.map(hexify);
	if (v && typeof v === 'object') {
		const o = {};
		for (const k of Object.keys(v))
			o[k] = hexify(v[k]);
		return o;
	}
	return v;
}

function main(argv) {
	if (argv.length === 0) {
		process.stderr.write('usage: otlp-decode.js FILE.pb...\n');
		return 2;
	}
	const mod = loadRoot();
	if (!mod) {
		process.stderr.write('otlp-decode: ' + MOD + ' not found; run ' +
			'scripts/setup-node-decoder.sh\n');
		return 3;
	}
	const root = mod.default || mod;
	const Req = root.opentelemetry.proto.collector.trace.v1
		.ExportTraceServiceRequest;
	let rc = 0;
	for (const f of argv) {
		try {
			const msg = Req.decode(fs.readFileSync(f));
			const obj = Req.toObject(msg, {
				longs: String,
				enums: String,
				bytes: Buffer,
				defaults: false,
				oneofs: true,
			});
			process.stdout.write(JSON.stringify(hexify(obj)) + '\n');
		} catch (e) {
			process.stderr.write('otlp-decode: ' + f + ': ' +
				e.message + '\n');
			rc = 1;
		}
	}
	return rc;
}

process.exitCode = main(process.argv.slice(2));
