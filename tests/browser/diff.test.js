#!/usr/bin/env node
/*
 * diff.test.js - the live dashboard's Compare tab (/api/diff) in Debian's
 * Chromium (headless, through playwright-core) against `autotrace serve`
 * fed by the demo system run under libautotrace ("something changed after
 * the deploy").
 *
 *   node tests/browser/diff.test.js --build build --dsn DSN --psql PSQL \
 *       --out DIR
 *
 * The database (DSN) starts with one row in items, so /catalog makes two
 * queries and no N+1.  Baseline traffic (/catalog three times), then
 * "Mark baseline now" on the page; then the change: seven more rows (the
 * backend's loop becomes an N+1) and traffic again with a request that
 * fails (/checkout, a new endpoint and a new error).  The Compare tab must
 * show the /items endpoint marked worse (queries per request up), the new
 * N+1 and the new error, and the /checkout endpoint as new; reloading the
 * page keeps the mark.  Then a second serve with --baseline (the first
 * one's --json file) answers /api/diff in "file" mode.  Each check waits
 * on a condition, never a fixed sleep.  Screenshot: DIR/dashboard-diff.png.
 *
 * Prints "diff: N passed, N failed", exits 0 only if all passed.
 */
'use strict';

const path = require('path');
const fs = require('fs');
const { spawnSync } = require('child_process');
const h = require('./harness');

async function main() {
	const o = h.parseArgs(process.argv.slice(2), ['build', 'dsn', 'psql', 'out'],
		'diff.test.js --build DIR --dsn DSN --psql PSQL --out DIR');
	const { chromium } = h.loadPlaywright('diff.test.js');
	const build = path.resolve(o.build);
	const work = fs.mkdtempSync('/tmp/at-diff-');
	const procs = [];
	const t = h.tally(), check = t.check, step = t.step;
	const seen = { network: [], consoleErrors: [], pageErrors: [] };
	const runJson = path.join(work, 'run.json');

	const port = await h.startServe(build, ['--json', runJson], procs);
	const base = 'http://127.0.0.1:' + port + '/';
	const fport = await h.startDemo(build, port, work, o.dsn, '', procs);
	const { browser, context, page } = await h.openPage(chromium, base, seen);
	const catalogRows = () => page.locator('#trace-body tr.trace-row', { hasText: 'GET /catalog' });
	try {
		fs.mkdirSync(o.out, { recursive: true });
		await step('no baseline yet: the Compare tab says so', async () => {
			await page.click('#tabs button[data-tab="diff"]');
			await page.locator('#diff-base', { hasText: 'no baseline' }).waitFor();
		});

		/* the baseline: /catalog with one item */
		await page.click('#tabs button[data-tab="traces"]');
		await step('baseline traffic listed (/catalog x3)', async () => {
			for (let i = 0; i < 3; i++)
				check((await h.get(fport, '/catalog')).status === 200, 'GET /catalog -> 200');
			await catalogRows().nth(2).waitFor();
		});
		await step('mark baseline now', async () => {
			await page.click('#tabs button[data-tab="diff"]');
			await page.click('#diff-mark');
			await page.locator('#diff-base', { hasText: 'baseline: the traces before' }).waitFor();
			await page.locator('#diff-unmark').waitFor();
		});

		/* the change, and traffic after it */
		const r = spawnSync(o.psql, ['-X', '-q', o.dsn, '-c',
			'INSERT INTO items SELECT i, \'item \' || i FROM generate_series(2, 8) i'],
		{ encoding: 'utf8', env: Object.assign({}, process.env, { PGOPTIONS: '-cclient_min_messages=warning' }) });
		check(r.status === 0, 'the change: seven more items', r.stderr);
		await step('traffic after the change (/catalog x3, /checkout)', async () => {
			for (let i = 0; i < 3; i++)
				check((await h.get(fport, '/catalog')).status === 200, 'GET /catalog -> 200');
			check((await h.get(fport, '/checkout')).status === 502, 'GET /checkout -> 502');
		});

		const worse = page.locator('#diff-body tr.diff-row.worse', { hasText: 'backend GET /items' });
		await step('the Compare tab marks backend GET /items worse (queries per request up)', async () => {
			await worse.waitFor();
			await page.waitForFunction(() => {
				const b = document.getElementById('diff-base').textContent;
				const m = /\((\d+)\) vs after \((\d+)\)/.exec(b);
				return m && Number(m[1]) >= 3 && Number(m[2]) >= 4;
			});
			const cells = await worse.locator('td').allTextContents();
			check(cells[0] === '!', 'the row starts with !', JSON.stringify(cells));
			check(/^3 \u2192 3$/.test(cells[2]), 'count 3 -> 3', cells[2]);
			const q = /([\d.]+) \u2192 ([\d.]+)/.exec(cells[5]);
			check(q && Number(q[2]) >= Number(q[1]) + 5, 'queries per request up by 7', cells[5]);
		});
		await step('the N+1 that appeared is listed', async () => {
			const li = page.locator('#diff-new li.appeared.nplus').first();
			await li.waitFor();
			return /new N\+1/.test(await li.textContent()) &&
				/SELECT name FROM items/.test(await li.textContent());
		});
		await step('the new error is listed, and /checkout is a new endpoint', async () => {
			const li = page.locator('#diff-new li.appeared.error').first();
			await li.waitFor();
			check(/new error/.test(await li.textContent()), 'new error: ' + await li.textContent());
			await page.locator('#diff-body tr.diff-row.new', { hasText: 'frontend GET /checkout' }).waitFor();
		});
		await step('an endpoint that did not change is not marked worse', async () => {
			/* only /catalog (the frontend's side of the N+1) and /items
			 * changed; /checkout is new, so not compared */
			const names = await page.locator('#diff-body tr.diff-row.worse').evaluateAll((rs) =>
				rs.map((x) => x.getAttribute('data-name')));
			return names.length > 0 && names.every((n) => /\/catalog|\/items/.test(n));
		});
		await page.screenshot({ path: path.join(o.out, 'dashboard-diff.png'), fullPage: true });
		await step('the mark survives a reload', async () => {
			await page.reload({ waitUntil: 'load' });
			await page.click('#tabs button[data-tab="diff"]');
			await worse.waitFor();
		});
		await step('a worse row opens its traces', async () => {
			await worse.click();
			await page.waitForFunction(() => !document.getElementById('view-traces').hidden &&
				/backend GET \/items/.test(document.getElementById('f-endpoint').value));
		});
		await context.close();

		/* a --json file as the baseline of another serve */
		await step('serve --baseline FILE: /api/diff compares with the file', async () => {
			const want = fs.readFileSync(runJson, 'utf8').split('\n').filter((l) => l).length;
			check(want > 0, 'the first serve wrote ' + want + ' lines of OTLP-JSON');
			const port2 = await h.startServe(build, ['--baseline', runJson], procs);
			const d = JSON.parse((await h.get(port2, '/api/diff')).body);
			check(d.mode === 'file', 'mode file: ' + d.mode);
			check(d.before_traces >= 7, 'the file\'s traces are the before set: ' + d.before_traces);
			return d.endpoints.length > 0 && d.endpoints.every((e) => e.state === 'gone');
		});
	} finally {
		await browser.close();
		for (const p of procs.reverse())
			p.kill('SIGTERM');
		fs.rmSync(work, { recursive: true, force: true });
	}
	console.log('  screenshot: ' + path.join(o.out, 'dashboard-diff.png'));
	t.finish('diff', seen);
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
