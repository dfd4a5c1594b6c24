'use strict';
/*
 * exit-on-term.js - loaded with node --require in make bench's bare and
 * libautotrace runs of scenario 6 (otel-sdk.js does the same for the SDK
 * run): SIGTERM ends the process with exit(), so that libautotrace's exit
 * flush runs (the default action, death by the signal, skips it).
 */
process.on('SIGTERM', () => process.exit(0));
