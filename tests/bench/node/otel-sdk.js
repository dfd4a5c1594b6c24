'use strict';
/*
 * otel-sdk.js - the OpenTelemetry JS SDK's Node auto-instrumentation, set
 * up the way its documentation does (a file loaded with node --require
 * before the application): NodeSDK with the http instrumentation and the
 * OTLP/HTTP protobuf trace exporter, which reads
 * OTEL_EXPORTER_OTLP_ENDPOINT like libautotrace does.  make bench,
 * scenario 6, mode (b).  SIGTERM shuts the SDK down (its last batch is
 * exported) and exits.
 */
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');

const sdk = new NodeSDK({
  traceExporter: new OTLPTraceExporter(),
  instrumentations: [new HttpInstrumentation()],
});
sdk.start();
process.on('SIGTERM', () => {
  sdk.shutdown().finally(() => process.exit(0));
});
