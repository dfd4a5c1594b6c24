#!/usr/bin/env node
/*
 * page.test.js - drives the autotrace HTML page in Debian's Chromium
 * (headless, through playwright-core) and checks that it works offline:
 *
 *   node tests/browser/page.test.js FILE.html --traces N --spans M \
 *       --click SPANID --attr KEY=VALUE --screenshot OUT.png
 *
 * Checks: no console errors and no page errors; N .trace-row elements;
 * opening the first trace shows M .span-row elements (and, when its first
 * span has children, collapsing it hides rows and expanding shows them
 * again); clicking the .span-row with data-span-id SPANID opens #span-panel
 * with an .attr-row whose .attr-key is KEY and .attr-value is VALUE (split
 * at the first '='); then a screenshot.  Every request that is not a file:
 * or data: URL is aborted and fails the test.
 *
 * playwright-core is looked up in $AT_BROWSER_DIR/node_modules, then in
 * build/browser/node_modules of this tree (scripts/setup-browser-test.sh
 * puts it there), then on the ordinary module path.
 *
 * Prints one line "browser: N passed, N failed" and exits 0 only if all
 * checks passed.
 */
'use strict';

const path = require('path');
const fs = require('fs');
const url = require('url');

function usage(msg) {
	if (msg)
		console.error('page.test.js: ' + msg);
	console.error('usage: node tests/browser/page.test.js FILE.html --traces N ' +
		'--spans M --click SPANID --attr KEY=VALUE --screenshot OUT.png');
	process.exit(2);
}

function parseArgs(argv) {
	const o = {};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a.startsWith('--')) {
			if (i + 1 >= argv.length)
				usage('missing value for ' + a);
			o[a.slice(2)] = argv[++i];
		} else if (!o.file) {
			o.file = a;
		} else {
			usage('unexpected argument ' + a);
		}
	}
	for (const k of ['file', 'traces', 'spans', 'click', 'attr', 'screenshot'])
		if (o[k] === undefined)
			usage('missing ' + (k === 'file' ? 'FILE.html' : '--' + k));
	o.traces = Number(o.traces);
	o.spans = Number(o.spans);
	if (!Number.isInteger(o.traces) || !Number.isInteger(o.spans))
		usage('--traces and --spans take integers');
	const eq = o.attr.indexOf('=');
	if (eq <= 0)
		usage('--attr takes KEY=VALUE');
	o.attrKey = o.attr.slice(0, eq);
	o.attrValue = o.attr.slice(eq + 1);
	return o;
}

function loadPlaywright() {
	const tries = [];
	if (process.env.AT_BROWSER_DIR)
		tries.push(path.resolve(process.env.AT_BROWSER_DIR, 'node_modules', 'playwright-core'));
	tries.push(path.resolve(__dirname, '..', '..', 'build', 'browser', 'node_modules', 'playwright-core'));
	tries.push('playwright-core');
	for (const t of tries) {
		try {
			return require(t);
		} catch (e) {
			if (e.code !== 'MODULE_NOT_FOUND')
				throw e;
		}
	}
	console.error('page.test.js: playwright-core not found; run scripts/setup-browser-test.sh');
	process.exit(2);
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	const file = path.resolve(o.file);
	if (!fs.existsSync(file))
		usage('no such file: ' + file);
	const { chromium } = loadPlaywright();

	let passed = 0, failed = 0;
	function check(ok, what, detail) {
		if (ok) {
			passed++;
			console.log('  ok   ' + what);
		} else {
			failed++;
			console.log('  FAIL ' + what + (detail !== undefined ? ': ' + detail : ''));
		}
	}

	const consoleErrors = [], pageErrors = [], network = [];
	const browser = await chromium.launch({
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update',
			'--disable-sync'],
	});
	try {
		const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
		await context.route('**/*', (route) => {
			const u = route.request().url();
			if (u.startsWith('file:') || u.startsWith('data:'))
				return route.continue();
			if (!network.includes(u))
				network.push(u);
			return route.abort('blockedbyclient');
		});
		const page = await context.newPage();
		page.on('console', (m) => {
			if (m.type() === 'error')
				consoleErrors.push(m.text());
		});
		page.on('pageerror', (e) => pageErrors.push(String(e)));
		page.on('request', (r) => {
			const u = r.url();
			if (!u.startsWith('file:') && !u.startsWith('data:') && !network.includes(u))
				network.push(u);
		});
		page.on('websocket', (w) => network.push(w.url()));
		page.setDefaultTimeout(10000);

		await page.goto(url.pathToFileURL(file).href, { waitUntil: 'load' });

		const rows = page.locator('.trace-row');
		const nTraces = await rows.count();
		check(nTraces === o.traces, 'trace rows: ' + o.traces, 'found ' + nTraces);

		if (nTraces > 0) {
			await rows.first().click();
			const spanRows = page.locator('.span-row');
			if (o.spans > 0)
				await spanRows.first().waitFor({ state: 'visible' }).catch(() => {});
			const nSpans = await spanRows.count();
			check(nSpans === o.spans, 'span rows of the first trace: ' + o.spans,
				'found ' + nSpans);
			const nVisible = await page.locator('.span-row:visible').count();
			check(nVisible === nSpans, 'all span rows visible when opened',
				nVisible + ' of ' + nSpans);

			/* collapse and expand the first span's children */
			const tg = spanRows.first().locator('.toggle:not(.leaf)');
			if (nSpans > 1 && await tg.count() === 1) {
				await tg.click();
				const nColl = await page.locator('.span-row:visible').count();
				check(nColl < nSpans, 'collapsing the first span hides its descendants',
					nColl + ' visible');
				await tg.click();
				const nExp = await page.locator('.span-row:visible').count();
				check(nExp === nSpans, 'expanding it shows them again', nExp + ' visible');
			}

			const target = page.locator('.span-row[data-span-id="' + o.click + '"]');
			if (await target.count() !== 1) {
				check(false, 'span row ' + o.click, 'found ' + await target.count());
			} else {
				await target.locator('.nm').click();
				const panel = page.locator('#span-panel');
				await panel.waitFor({ state: 'visible' }).catch(() => {});
				check(await panel.isVisible(), '#span-panel visible after clicking ' + o.click);
				const attrs = await panel.locator('.attr-row').evaluateAll((els) =>
					els.map((e) => {
						const k = e.querySelector('.attr-key');
						const v = e.querySelector('.attr-value');
						return [k ? k.textContent : null, v ? v.textContent : null];
					}));
				const hit = attrs.find((kv) => kv[0] === o.attrKey);
				check(hit !== undefined && hit[1] === o.attrValue,
					'attribute ' + o.attrKey + ' = ' + JSON.stringify(o.attrValue),
					hit ? 'value ' + JSON.stringify(hit[1]) :
						'no such key among ' + JSON.stringify(attrs.map((kv) => kv[0])));
			}
		}

		fs.mkdirSync(path.dirname(path.resolve(o.screenshot)), { recursive: true });
		await page.screenshot({ path: o.screenshot, fullPage: true });
		console.log('  screenshot: ' + o.screenshot);
		await context.close();
	} finally {
		await browser.close();
	}

	check(consoleErrors.length === 0, 'no console errors', JSON.stringify(consoleErrors));
	check(pageErrors.length === 0, 'no page errors', JSON.stringify(pageErrors));
	check(network.length === 0, 'no network requests', JSON.stringify(network));

	console.log('browser: ' + passed + ' passed, ' + failed + ' failed');
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.error('page.test.js: ' + (e && e.stack ? e.stack : e));
	console.log('browser: 0 passed, 1 failed');
	process.exit(1);
});
