/*
 * harness.js - what the live dashboard's browser tests share
 * (dashboard.test.js, diff.test.js): their arguments, playwright-core
 * from build/browser, `autotrace serve` and the demo system (scripts/
 * demo/: frontend -> backend -> PostgreSQL, Redis as the cache) run
 * under libautotrace, Chromium with every request outside the dashboard's
 * origin blocked and counted, and the ok/FAIL tally.  Every wait is on a
 * condition with TIMEOUT, never a fixed sleep.
 */
'use strict';

const path = require('path');
const fs = require('fs');
const http = require('http');
const { spawn } = require('child_process');

const TIMEOUT = 30000;
const ROOT = path.resolve(__dirname, '..', '..');

function parseArgs(argv, required, usage) {
	const o = {};
	for (let i = 0; i + 1 < argv.length; i += 2)
		o[argv[i].replace(/^--/, '')] = argv[i + 1];
	for (const k of required)
		if (!o[k]) {
			console.error('usage: ' + usage);
			process.exit(2);
		}
	return o;
}

function loadPlaywright(who) {
	const tries = [];
	if (process.env.AT_BROWSER_DIR)
		tries.push(path.resolve(process.env.AT_BROWSER_DIR, 'node_modules', 'playwright-core'));
	tries.push(path.resolve(ROOT, 'build', 'browser', 'node_modules', 'playwright-core'));
	tries.push('playwright-core');
	for (const t of tries) {
		try {
			return require(t);
		} catch (e) {
			if (e.code !== 'MODULE_NOT_FOUND')
				throw e;
		}
	}
	console.error(who + ': playwright-core not found; run scripts/setup-browser-test.sh');
	process.exit(2);
}

/* Resolve when pred(text so far) holds for the child's stream, or fail
 * after TIMEOUT. */
function waitOutput(child, stream, pred, what) {
	return new Promise((resolve, reject) => {
		let text = '';
		const t = setTimeout(() => reject(new Error('timed out waiting for ' + what + ': ' + text)), TIMEOUT);
		child[stream].on('data', (d) => {
			text += d;
			const m = pred(text);
			if (m) {
				clearTimeout(t);
				resolve(m);
			}
		});
		child.on('exit', (c) => reject(new Error(what + ': exited ' + c + ': ' + text)));
	});
}

function waitFile(file) {
	return new Promise((resolve, reject) => {
		const t0 = Date.now();
		const w = fs.watch(path.dirname(file), () => check());
		function check() {
			if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').length) {
				w.close();
				resolve(fs.readFileSync(file, 'utf8').trim());
			} else if (Date.now() - t0 > TIMEOUT) {
				w.close();
				reject(new Error('no ' + file));
			}
		}
		check();
	});
}

function get(port, p) {
	return new Promise((resolve, reject) => {
		http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
			let body = '';
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({ status: res.statusCode, body }));
		}).on('error', reject);
	});
}

/* `autotrace serve --port 0 ... args`; its dashboard's port. */
async function startServe(build, args, procs) {
	const serve = spawn(path.join(build, 'autotrace'),
		['serve', '--port', '0', '--settle', '400', '--quiet'].concat(args),
		{ stdio: ['ignore', 'ignore', 'pipe'] });
	procs.push(serve);
	return Number(await waitOutput(serve, 'stderr', (t) => {
		const m = /dashboard on http:\/\/127\.0\.0\.1:(\d+)\//.exec(t);
		return m && m[1];
	}, 'the dashboard URL'));
}

/* The demo system exporting to the serve on port; the frontend's port. */
async function startDemo(build, port, work, dsn, redisPort, procs) {
	const env = Object.assign({}, process.env, {
		LD_PRELOAD: path.join(build, 'libautotrace.so'),
		OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:' + port,
		OTEL_BSP_SCHEDULE_DELAY: '200',
	});
	const py = '/usr/bin/python3';
	const backend = spawn(py, [path.join(ROOT, 'scripts/demo/backend.py'), work + '/backend.port', dsn,
		redisPort || ''], { env: Object.assign({}, env, { OTEL_SERVICE_NAME: 'backend' }), stdio: 'inherit' });
	procs.push(backend);
	const bport = await waitFile(work + '/backend.port');
	const frontend = spawn(py, [path.join(ROOT, 'scripts/demo/frontend.py'), work + '/frontend.port',
		'http://127.0.0.1:' + bport], { env: Object.assign({}, env, { OTEL_SERVICE_NAME: 'frontend' }), stdio: 'inherit' });
	procs.push(frontend);
	return Number(await waitFile(work + '/frontend.port'));
}

/* Chromium and a page on base; what it asked elsewhere, its console and
 * page errors are collected in seen {network, consoleErrors, pageErrors}. */
async function openPage(chromium, base, seen) {
	const browser = await chromium.launch({
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
	await context.route('**/*', (route) => {
		const u = route.request().url();
		if (u.startsWith(base) || u.startsWith('data:'))
			return route.continue();
		seen.network.push(u);
		return route.abort('blockedbyclient');
	});
	const page = await context.newPage();
	page.on('console', (m) => { if (m.type() === 'error') seen.consoleErrors.push(m.text()); });
	page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
	page.setDefaultTimeout(TIMEOUT);
	await page.goto(base, { waitUntil: 'load' });
	return { browser, context, page };
}

/* The tally: check(ok, what, detail), step(what, async fn) (fails on a
 * throw or a false result), finish(name, seen) prints and exits. */
function tally() {
	const t = { passed: 0, failed: 0 };
	t.check = (ok, what, detail) => {
		if (ok) {
			t.passed++;
			console.log('  ok   ' + what);
		} else {
			t.failed++;
			console.log('  FAIL ' + what + (detail !== undefined ? ': ' + detail : ''));
		}
	};
	t.step = async (what, fn) => {
		try {
			const r = await fn();
			t.check(r !== false, what, r === false ? 'condition false' : undefined);
		} catch (e) {
			t.check(false, what, String(e.message || e).split('\n')[0]);
		}
	};
	t.finish = (name, seen) => {
		t.check(seen.network.length === 0, 'no request leaves the dashboard\'s origin', JSON.stringify(seen.network));
		t.check(seen.consoleErrors.length === 0, 'no console errors', JSON.stringify(seen.consoleErrors));
		t.check(seen.pageErrors.length === 0, 'no page errors', JSON.stringify(seen.pageErrors));
		console.log(name + ': ' + t.passed + ' passed, ' + t.failed + ' failed');
		process.exit(t.failed ? 1 : 0);
	};
	return t;
}

module.exports = { TIMEOUT, ROOT, parseArgs, loadPlaywright, waitOutput, waitFile, get,
	startServe, startDemo, openPage, tally };
