#!/usr/bin/env node
/*
 * dashboard.test.js - the live dashboard of `autotrace serve`, in Debian's
 * Chromium (headless, through playwright-core), fed by real traced
 * programs: the demo system (scripts/demo/: a Python frontend -> a Python
 * backend -> PostgreSQL, and Redis as the backend's cache) run under
 * libautotrace with no tracing code, exporting to the serve.
 *
 *   node tests/browser/dashboard.test.js --build build --dsn DSN \
 *       --redis-port N --out DIR
 *
 * Checks, each waiting on a condition (never a fixed sleep): the page
 * loads with no request leaving 127.0.0.1; the trace list grows as
 * requests are made; the status filter narrows it to the failing request;
 * the attribute filter finds a trace by a span attribute; the service map
 * shows frontend -> backend -> postgresql with call counts; a waterfall
 * opens with one colour per service and operation names (GET /catalog,
 * SELECT items), the span panel has span and resource attributes; the
 * error's cause chain starts at the failing query; two traces of one
 * endpoint side by side; the endpoints view (RED), the cache view with
 * hits and misses for item:?, the database view with the N+1 statement.
 * Screenshots: DIR/dashboard-{list,trace,compare,map,cache,db,overview}.png.
 *
 * Prints "dashboard: N passed, N failed", exits 0 only if all passed.
 */
'use strict';

const path = require('path');
const fs = require('fs');
const h = require('./harness');

const get = h.get;

async function main() {
	const o = h.parseArgs(process.argv.slice(2), ['build', 'dsn', 'out'],
		'dashboard.test.js --build DIR --dsn DSN [--redis-port N] --out DIR');
	const { chromium } = h.loadPlaywright('dashboard.test.js');
	const build = path.resolve(o.build);
	const work = fs.mkdtempSync('/tmp/at-dash-');
	const procs = [];
	const t = h.tally(), check = t.check, step = t.step;
	const seen = { network: [], consoleErrors: [], pageErrors: [] };

	/* the dashboard, and the demo system traced */
	const port = await h.startServe(build, [], procs);
	const base = 'http://127.0.0.1:' + port + '/';
	const fport = await h.startDemo(build, port, work, o.dsn, o['redis-port'], procs);
	const { browser, context, page } = await h.openPage(chromium, base, seen);
	try {
		const rows = page.locator('#trace-body tr.trace-row');
		const shot = (name) => page.screenshot({ path: path.join(o.out, 'dashboard-' + name + '.png'), fullPage: true });
		fs.mkdirSync(o.out, { recursive: true });

		/* the list updates as requests are made */
		await step('the list shows /catalog after a request', async () => {
			check((await get(fport, '/catalog')).status === 200, 'GET /catalog -> 200');
			await page.locator('#trace-body tr.trace-row', { hasText: 'GET /catalog' }).first().waitFor();
		});
		const before = await rows.count();
		await step('the list grows with the next requests (/catalog, /checkout)', async () => {
			await get(fport, '/catalog');
			check((await get(fport, '/checkout')).status === 502, 'GET /checkout -> 502');
			await page.waitForFunction((n) => document.querySelectorAll('#trace-body tr.trace-row').length >= n + 2, before);
			await page.locator('#trace-body tr.trace-row', { hasText: '502' }).first().waitFor();
		});
		if (o['redis-port']) {
			/* an id this run alone uses: a miss, then a hit */
			const id = 1000 + (process.pid % 100000);
			await step('cached item requests listed (/item/ID twice)', async () => {
				await get(fport, '/item/' + id);
				await get(fport, '/item/' + id);
				await page.locator('#trace-body tr.trace-row', { hasText: '/item' }).nth(1).waitFor();
			});
		}
		await shot('list');
		const total = await rows.count();

		/* filters narrow it */
		await step('status=error narrows the list to the failing request', async () => {
			await page.selectOption('#f-status', 'error');
			await page.waitForFunction(() => {
				const r = document.querySelectorAll('#trace-body tr.trace-row');
				return r.length > 0 && Array.prototype.every.call(r, (x) => /502/.test(x.textContent));
			});
			return (await rows.count()) < total;
		});
		await page.selectOption('#f-status', '');
		await page.waitForFunction((n) => document.querySelectorAll('#trace-body tr.trace-row').length === n, total);
		await step('an attribute filter (url.path=/broken) finds the trace whose span has it', async () => {
			await page.fill('#f-attr', 'url.path=/broken');
			await page.waitForFunction(() => {
				const r = document.querySelectorAll('#trace-body tr.trace-row');
				return r.length === 1 && /checkout/.test(r[0].textContent);
			});
		});
		await page.click('#f-clear');
		await page.waitForFunction((n) => document.querySelectorAll('#trace-body tr.trace-row').length === n, total);

		/* a waterfall */
		await step('a /catalog waterfall: operation names, a colour per service, critical path', async () => {
			await page.locator('#trace-body tr.trace-row', { hasText: 'GET /catalog' }).first().click();
			await page.locator('#trace-view .span-row').nth(3).waitFor();
			const names = await page.locator('#trace-view .span-row .nm').allTextContents();
			const colours = await page.locator('#trace-view .span-row .bar').evaluateAll((b) =>
				Array.from(new Set(b.map((x) => x.style.background))));
			check(names.some((n) => n === 'GET /catalog'), 'a row named GET /catalog', JSON.stringify(names.slice(0, 5)));
			check(names.some((n) => n === 'GET /items'), 'a row named GET /items');
			check(names.some((n) => /^SELECT items/.test(n)), 'a row named SELECT items', JSON.stringify(names));
			check(colours.length >= 2, 'bars in at least two colours (frontend, backend)', JSON.stringify(colours));
			check(await page.locator('#trace-view .span-row.critical').count() > 0, 'critical path marked');
			check(await page.locator('#trace-view .findings li', { hasText: 'N+1' }).count() === 1, 'the N+1 finding');
		});
		await step('span detail: span and resource attributes', async () => {
			await page.locator('#trace-view .span-row[data-service="backend"] .nm', { hasText: 'SELECT' }).first().click();
			await page.locator('#span-panel h4', { hasText: 'Resource attributes' }).waitFor();
			const kv = await page.locator('#span-panel .attr-row').evaluateAll((els) =>
				els.map((e) => [e.querySelector('.attr-key').textContent, e.querySelector('.attr-value').textContent]));
			check(kv.some((x) => x[0] === 'db.query.text' && /items/.test(x[1])), 'db.query.text in the span attributes');
			check(kv.some((x) => x[0] === 'service.name' && x[1] === 'backend'), 'service.name=backend in the resource attributes');
		});
		await shot('trace');
		await step('compare two /catalog traces side by side', async () => {
			const opts = await page.locator('#compare-with option').count();
			if (opts < 2)
				return false;
			const v = await page.locator('#compare-with option').nth(1).getAttribute('value');
			await page.selectOption('#compare-with', v);
			await page.locator('#trace-view .compare .waterfall').nth(1).waitFor();
		});
		await shot('compare');
		await step('the failing request: cause chain starts at the failing query', async () => {
			await page.locator('#trace-body tr.trace-row', { hasText: '502' }).first().click();
			await page.locator('#trace-view .chain li').first().waitFor();
			const first = await page.locator('#trace-view .chain li').first().textContent();
			return /SELECT orders/.test(first) && /does not exist/.test(first);
		});
		await page.click('#span-panel .close').catch(() => {});

		/* the service map */
		await step('service map: frontend -> backend -> postgresql with counts', async () => {
			await page.click('#tabs button[data-tab="map"]');
			await page.locator('#map .edge[data-from="frontend"][data-to="backend"]').waitFor();
			const fb = await page.locator('#map .edge[data-from="frontend"][data-to="backend"] .edge-label').textContent();
			const pg = page.locator('#map .edge[data-from="backend"]').filter({ has: page.locator('text=/calls?/') });
			await page.locator('#map .node.database').first().waitFor();
			const db = await page.locator('#map .node.database').first().getAttribute('data-id');
			const bd = await page.locator('#map .edge[data-from="backend"][data-to="' + db + '"] .edge-label').textContent();
			check(/^\d+ calls?/.test(fb) && parseInt(fb, 10) >= 3, 'frontend -> backend: ' + fb);
			check(/^postgresql\|/.test(db), 'a postgresql node: ' + db);
			check(parseInt(bd, 10) >= 16, 'backend -> ' + db + ': ' + bd);
			return (await pg.count()) >= 1;
		});
		await shot('map');
		await step('clicking the backend node lists its traces', async () => {
			await page.locator('#map .node[data-id="backend"]').click();
			await page.waitForFunction(() => document.getElementById('f-service').value === 'backend' &&
				!document.getElementById('view-traces').hidden);
		});
		await page.click('#f-clear');

		/* endpoints, cache, database */
		await step('endpoints (RED): frontend GET /catalog and backend GET /items/{id}', async () => {
			await page.click('#tabs button[data-tab="endpoints"]');
			await page.locator('#ep-body tr', { hasText: '/catalog' }).first().waitFor();
			if (o['redis-port'])
				await page.locator('#ep-body tr', { hasText: '/items/{id}' }).first().waitFor();
		});
		if (o['redis-port']) {
			await step('cache view: item:? with a hit and a miss', async () => {
				await page.click('#tabs button[data-tab="cache"]');
				const row = page.locator('#cache-body tr.cache-row', { hasText: 'item:' }).first();
				await row.waitFor();
				const hits = Number(await row.locator('td.hits').textContent());
				const misses = Number(await row.locator('td.misses').textContent());
				check(hits >= 1 && misses >= 1, 'hits ' + hits + ', misses ' + misses);
			});
			await shot('cache');
		}
		await step('database view: the N+1 statement, 8 per request', async () => {
			await page.click('#tabs button[data-tab="db"]');
			const row = page.locator('#db-body tr.nplus').first();
			await row.waitFor();
			return /SELECT name FROM items/.test(await row.textContent());
		});
		await shot('db');
		await page.click('#tabs button[data-tab="traces"]');
		await page.locator('#trace-body tr.trace-row', { hasText: 'GET /catalog' }).first().click();
		await page.locator('#trace-view .span-row').nth(3).waitFor();
		await step('opening a trace from the list leaves the comparison', async () =>
			(await page.locator('#trace-view .compare').count()) === 0);
		await shot('overview');
		await context.close();
	} finally {
		await browser.close();
		for (const p of procs.reverse())
			p.kill('SIGTERM');
		fs.rmSync(work, { recursive: true, force: true });
	}
	console.log('  screenshots: ' + path.join(o.out, 'dashboard-*.png'));
	t.finish('dashboard', seen);
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
