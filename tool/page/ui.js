/*
 * ui.js - the live dashboard (served by at_api.c).  Everything it shows
 * comes from the JSON API under /api/ (the same one scripts use): the
 * trace list is fetched again every second with the filters in the query,
 * rows are updated in place (a trace whose late spans came updates its
 * row, and its waterfall when open); the other views are fetched when
 * shown and refreshed with the list.  Nothing is loaded from elsewhere.
 * The Compare tab shows /api/diff: against the mark ("Mark baseline now":
 * the page's clock, kept in sessionStorage, sent as ?since=MS), else
 * against the server's --baseline file.
 * Data is always set as text (textContent), never parsed as HTML.
 */
(function () {
'use strict';
var KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
var POLL_MS = 1000;
var state = { tab: 'traces', list: [], open: null, openKey: '', cmp: null, services: {}, mark: 0, diffTick: 0 };

function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
	var e = document.createElement(tag);
	if (cls) e.className = cls;
	if (text !== undefined && text !== null) e.textContent = String(text);
	return e;
}
function td(text, cls) { return el('td', cls, text); }
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
function fmtDur(ns) {
	if (ns < 1000) return ns + ' ns';
	if (ns < 1e6) return (ns / 1e3).toFixed(1) + ' \u00b5s';
	if (ns < 1e9) return (ns / 1e6).toFixed(2) + ' ms';
	return (ns / 1e9).toFixed(2) + ' s';
}
function fmtTime(ms) {
	var d = new Date(ms);
	function p(n, w) { n = String(n); while (n.length < w) n = '0' + n; return n; }
	return p(d.getHours(), 2) + ':' + p(d.getMinutes(), 2) + ':' + p(d.getSeconds(), 2) + '.' + p(d.getMilliseconds(), 3);
}
function pctText(x) { return (x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0) + ' %'; }
/* A colour per service: distinct ones in the order services are first
 * seen on this page, so that two services never share one. */
var PALETTE = ['#3b7ddd', '#e07b39', '#2fa36b', '#9b59b6', '#d6a319', '#17a2b8', '#c0392b', '#7f8c8d',
	'#e84393', '#6c5ce7', '#00b894', '#a0522d'];
var colours = {}, nColours = 0;
function colour(name) {
	if (!colours[name]) colours[name] = PALETTE[nColours++ % PALETTE.length];
	return colours[name];
}
function getJSON(path) {
	return fetch(path, { cache: 'no-store' }).then(function (r) {
		if (!r.ok && r.status !== 404) throw new Error(path + ': ' + r.status);
		return r.json();
	});
}

/* ---- tabs ---- */
function showTab(tab) {
	state.tab = tab;
	document.querySelectorAll('#tabs button').forEach(function (b) {
		b.classList.toggle('on', b.getAttribute('data-tab') === tab);
	});
	document.querySelectorAll('main > .view').forEach(function (v) {
		v.hidden = v.id !== 'view-' + tab;
	});
	refreshTab();
}
function refreshTab() {
	if (state.tab === 'map') return getJSON('/api/services').then(drawMap);
	if (state.tab === 'endpoints') return getJSON('/api/endpoints').then(drawEndpoints);
	if (state.tab === 'cache') return getJSON('/api/cache').then(drawCache);
	if (state.tab === 'db') return getJSON('/api/db').then(drawDb);
	if (state.tab === 'diff') return getJSON('/api/diff' + (state.mark ? '?since=' + state.mark : '')).then(drawDiff);
	return Promise.resolve();
}

/* ---- the trace list ---- */
function filterQuery() {
	var q = [];
	function add(k, v) { if (v) q.push(k + '=' + encodeURIComponent(v)); }
	add('service', $('f-service').value);
	add('endpoint', $('f-endpoint').value.trim());
	add('status', $('f-status').value);
	add('min_ms', $('f-min').value.trim());
	add('attr', $('f-attr').value.trim());
	return q.join('&');
}
function rowKey(t) { return t.spans + '/' + t.late + '/' + t.dur + '/' + t.findings + '/' + t.status; }

function drawList(d) {
	var body = $('trace-body'), have = {};
	state.list = d.traces;
	$('counts').textContent = d.total + ' trace' + (d.total === 1 ? '' : 's') + ' \u00b7 ' + d.spans + ' spans';
	$('f-count').textContent = d.matched + ' matching';
	Array.prototype.forEach.call(body.children, function (tr) { have[tr.getAttribute('data-id')] = tr; });
	var prev = null;
	d.traces.forEach(function (t) {
		if (t.service) state.services[t.service] = 1;
		var tr = have[t.id];
		delete have[t.id];
		if (!tr) {
			tr = el('tr', 'trace-row fresh');
			tr.addEventListener('animationend', function () { tr.classList.remove('fresh'); });
			tr.setAttribute('data-id', t.id);
			tr.addEventListener('click', function () { state.cmp = null; openTrace(t.id); });
		}
		if (tr.getAttribute('data-key') !== rowKey(t)) {
			tr.setAttribute('data-key', rowKey(t));
			clear(tr);
			tr.classList.toggle('has-error', !!t.err);
			tr.appendChild(td(fmtTime(t.start_ms), 'mono'));
			var s = td(''); var c = el('span', 'chip'); c.style.background = colour(t.service || '?');
			s.appendChild(c); s.appendChild(document.createTextNode(t.service || '?')); tr.appendChild(s);
			tr.appendChild(td(t.endpoint || t.op));
			tr.appendChild(td(t.status ? String(t.status) : (t.err ? 'error' : 'ok'), 'st'));
			tr.appendChild(td(fmtDur(t.dur), 'num'));
			tr.appendChild(td(t.spans + (t.late ? ' (+' + t.late + ' late)' : ''), 'num'));
			tr.appendChild(td(t.errors, 'num'));
			var f = td('');
			t.tags.forEach(function (g) { f.appendChild(el('span', 'tag' + (g === 'error' ? ' error' : ''), g)); });
			tr.appendChild(f);
		}
		tr.classList.toggle('selected', state.open === t.id);
		/* keep the server's order (newest first) */
		var want = prev ? prev.nextSibling : body.firstChild;
		if (want !== tr) body.insertBefore(tr, want);
		prev = tr;
		if (state.open === t.id && state.openKey !== rowKey(t)) openTrace(t.id, true);
	});
	Object.keys(have).forEach(function (id) { body.removeChild(have[id]); });
	var sel = $('f-service');
	Object.keys(state.services).sort().forEach(function (s) {
		if (!Array.prototype.some.call(sel.options, function (o) { return o.value === s; }))
			sel.appendChild(el('option', '', s)).value = s;
	});
}

function poll() {
	getJSON('/api/traces?' + filterQuery()).then(function (d) {
		$('live').classList.remove('off');
		drawList(d);
		/* the comparison rebuilds both sides on the server: every 3 s */
		if (state.tab === 'traces' || (state.tab === 'diff' && ++state.diffTick % 3)) return null;
		return refreshTab();
	}).catch(function () {
		$('live').classList.add('off');
	}).then(function () { setTimeout(poll, POLL_MS); });
}

/* ---- one trace ---- */
function openTrace(id, quiet) {
	state.open = id;
	var row = state.list.filter(function (t) { return t.id === id; })[0];
	if (row) state.openKey = rowKey(row);
	document.querySelectorAll('#trace-body tr').forEach(function (tr) {
		tr.classList.toggle('selected', tr.getAttribute('data-id') === id);
	});
	var want = [getJSON('/api/traces/' + id)];
	if (state.cmp) want.push(getJSON('/api/traces/' + state.cmp));
	Promise.all(want).then(function (ts) { drawTrace(ts[0], ts[1], quiet); });
}

/* The error's cause chain: the deepest failing span first, then its
 * failing ancestors up to the root. */
function causeChain(t) {
	var deepest = -1;
	t.spans.forEach(function (s, i) {
		if ((s.st === 2 || s.err) && (deepest < 0 || s.d > t.spans[deepest].d)) deepest = i;
	});
	var chain = [];
	for (var i = deepest; i >= 0; i = t.spans[i].p) chain.push(i);
	return chain;
}

function spanLabel(s) { return s.op || s.name; }

function waterfall(t, onSpan, marks) {
	var box = el('div', 'waterfall'), dur = Math.max(t.dur, 1);
	var head = el('div', 'wf-head');
	head.appendChild(el('div', 'wf-name', 'operation'));
	var tr = el('div', 'wf-track');
	tr.appendChild(el('span', '', '0'));
	var end = el('span', '', fmtDur(t.dur)); end.style.position = 'absolute'; end.style.right = '0';
	tr.appendChild(end);
	head.appendChild(tr);
	box.appendChild(head);
	t.spans.forEach(function (s, i) {
		var row = el('div', 'span-row');
		row.setAttribute('data-span-id', s.id);
		row.setAttribute('data-service', s.svc);
		if (s.crit) row.classList.add('critical');
		if (s.st === 2 || s.err) row.classList.add('error');
		if (s.late) row.classList.add('late');
		if (marks && marks[i]) row.classList.add('in-finding');
		var nm = el('div', 'wf-name');
		nm.style.paddingLeft = (4 + s.d * 14) + 'px';
		nm.appendChild(el('span', 'nm', spanLabel(s)));
		nm.appendChild(el('span', 'svc', s.svc + (s.mp ? ' \u00b7 parent missing' : '')));
		nm.title = spanLabel(s) + ' (' + s.svc + ', ' + (KINDS[s.kind] || s.kind) + ')';
		row.appendChild(nm);
		var track = el('div', 'wf-track');
		var bar = el('div', 'bar');
		bar.style.left = (100 * s.s / dur) + '%';
		bar.style.width = Math.max(0.2, 100 * (s.e - s.s) / dur) + '%';
		bar.style.background = colour(s.svc || '?');
		track.appendChild(bar);
		var dl = el('span', 'dur', fmtDur(s.e - s.s) + (s.err ? ' \u00b7 ' + s.err : ''));
		if (s.e / dur > 0.8 && (s.e - s.s) / dur > 0.15) { /* inside a long bar's end */
			dl.style.right = Math.max(0, 100 - 100 * s.e / dur + 0.5) + '%';
			dl.classList.add('inside');
		} else if (s.e / dur > 0.8) { /* before a short bar near the end */
			dl.style.right = (100 - 100 * s.s / dur + 0.5) + '%';
		} else {
			dl.style.left = (100 * s.e / dur + 0.5) + '%';
		}
		track.appendChild(dl);
		row.appendChild(track);
		row.addEventListener('click', function () {
			document.querySelectorAll('.span-row.active').forEach(function (r) { r.classList.remove('active'); });
			row.classList.add('active');
			onSpan(s);
		});
		box.appendChild(row);
	});
	return box;
}

function legend(t) {
	var l = el('div', 'legend'), seen = {};
	t.spans.forEach(function (s) {
		if (seen[s.svc]) return;
		seen[s.svc] = 1;
		var it = el('span', 'svc-legend');
		var c = el('span', 'chip'); c.style.background = colour(s.svc || '?');
		it.appendChild(c); it.appendChild(document.createTextNode(s.svc || '?'));
		l.appendChild(it);
	});
	l.appendChild(el('span', '', 'outlined bar: critical path \u00b7 red outline: error'));
	return l;
}

function drawTrace(t, other, quiet) {
	var v = $('trace-view');
	if (!t || !t.spans) { v.hidden = true; return; }
	var scroll = window.scrollY;
	clear(v);
	v.hidden = false;
	var root = t.spans[t.root] || t.spans[0];
	v.appendChild(el('h2', '', (t.endpoint || spanLabel(root)) + (t.http_status ? ' \u2192 ' + t.http_status : '') +
		' \u00b7 ' + fmtDur(t.dur) + ' \u00b7 ' + t.spans.length + ' spans'));
	var bar = el('div', 'toolbar');
	bar.appendChild(el('span', 'mono muted', 'trace ' + t.id));
	var pick = el('select', '');
	pick.id = 'compare-with';
	pick.appendChild(el('option', '', 'compare with\u2026')).value = '';
	state.list.forEach(function (x) {
		if (x.id !== t.id && x.endpoint && x.endpoint === t.endpoint) {
			var o = el('option', '', fmtTime(x.start_ms) + ' \u00b7 ' + fmtDur(x.dur) + (x.err ? ' \u00b7 error' : ''));
			o.value = x.id;
			if (x.id === state.cmp) o.selected = true;
			pick.appendChild(o);
		}
	});
	pick.addEventListener('change', function () { state.cmp = pick.value || null; openTrace(t.id); });
	bar.appendChild(pick);
	var close = el('button', '', 'close');
	close.type = 'button';
	close.addEventListener('click', function () { state.open = null; state.cmp = null; v.hidden = true; closePanel(); });
	bar.appendChild(close);
	v.appendChild(bar);

	var chain = causeChain(t);
	if (chain.length) {
		var c = el('div', 'chain');
		c.appendChild(el('strong', '', 'Error, deepest cause first:'));
		var ol = el('ol');
		chain.forEach(function (i) {
			var s = t.spans[i];
			ol.appendChild(el('li', '', spanLabel(s) + ' (' + s.svc + '): ' + (s.err || s.msg || 'error')));
		});
		c.appendChild(ol);
		v.appendChild(c);
	}
	var marks = {};
	if (t.findings.length) {
		var ul = el('ul', 'findings');
		t.findings.forEach(function (f) {
			var li = el('li');
			li.appendChild(el('span', 'tag' + (f.tag === 'error' ? ' error' : ''), f.tag));
			li.appendChild(document.createTextNode(f.text + ' (' + fmtDur(f.total) + ')'));
			if (f.fix) li.appendChild(el('span', 'fix', 'fix: ' + f.fix));
			li.addEventListener('click', function () {
				document.querySelectorAll('#trace-view .span-row').forEach(function (r, i) {
					r.classList.toggle('in-finding', f.spans.indexOf(i) >= 0);
				});
			});
			ul.appendChild(li);
		});
		v.appendChild(ul);
	}
	v.appendChild(legend(t));
	if (other && other.spans) {
		var grid = el('div', 'compare');
		var a = el('div'), b = el('div');
		a.appendChild(el('h3', '', 'this trace \u00b7 ' + fmtDur(t.dur)));
		a.appendChild(waterfall(t, function (s) { showSpan(s); }, marks));
		b.appendChild(el('h3', '', 'compared \u00b7 ' + fmtDur(other.dur)));
		b.appendChild(waterfall(other, function (s) { showSpan(s); }, {}));
		grid.appendChild(a);
		grid.appendChild(b);
		v.appendChild(compareSummary(t, other));
		v.appendChild(grid);
	} else {
		v.appendChild(waterfall(t, function (s) { showSpan(s); }, marks));
	}
	if (quiet) window.scrollTo(0, scroll);
	else v.scrollIntoView({ block: 'nearest' });
}

/* Per operation: how many and how long in each trace. */
function compareSummary(a, b) {
	var ops = {};
	function add(t, k) {
		t.spans.forEach(function (s) {
			var key = s.svc + ' \u00b7 ' + spanLabel(s);
			var o = ops[key] || (ops[key] = [0, 0, 0, 0]);
			o[k] += 1;
			o[k + 2] += s.e - s.s;
		});
	}
	add(a, 0);
	add(b, 1);
	var tbl = el('table', 'cmp-sum');
	var h = el('tr');
	['operation', 'this: count', 'compared: count', 'this: time', 'compared: time'].forEach(function (x, i) {
		h.appendChild(el('th', i ? 'num' : '', x));
	});
	tbl.appendChild(h);
	Object.keys(ops).sort().forEach(function (k) {
		var o = ops[k], r = el('tr');
		r.appendChild(td(k));
		r.appendChild(td(o[0], 'num' + (o[0] > o[1] ? ' worse' : o[0] < o[1] ? ' better' : '')));
		r.appendChild(td(o[1], 'num'));
		r.appendChild(td(fmtDur(o[2]), 'num'));
		r.appendChild(td(fmtDur(o[3]), 'num'));
		tbl.appendChild(r);
	});
	return tbl;
}

/* ---- the span panel ---- */
function closePanel() {
	$('span-panel').className = 'closed';
	document.body.classList.remove('panel-open');
}
function attrRows(box, title, attrs) {
	box.appendChild(el('h4', '', title));
	if (!attrs || !attrs.length) { box.appendChild(el('div', 'empty', 'none')); return; }
	attrs.forEach(function (a) {
		var r = el('div', 'attr-row');
		r.appendChild(el('div', 'attr-key', a[0]));
		r.appendChild(el('div', 'attr-value', a[1]));
		box.appendChild(r);
	});
}
function showSpan(s) {
	var p = $('span-panel');
	clear(p);
	p.className = '';
	document.body.classList.add('panel-open');
	var x = el('button', 'close', '\u00d7');
	x.type = 'button';
	x.addEventListener('click', closePanel);
	p.appendChild(x);
	p.appendChild(el('h3', '', spanLabel(s)));
	attrRows(p, 'Span', [['service', s.svc], ['name', s.name], ['kind', KINDS[s.kind] || String(s.kind)],
		['duration', fmtDur(s.e - s.s)], ['status', ['unset', 'ok', 'error'][s.st] + (s.msg ? ': ' + s.msg : '')],
		['span id', s.id], ['parent id', s.pid + (s.mp ? ' (never arrived)' : '')]].concat(s.err ? [['error', s.err]] : []));
	attrRows(p, 'Span attributes', s.attrs);
	attrRows(p, 'Resource attributes', s.res);
	if (s.events && s.events.length) {
		p.appendChild(el('h4', '', 'Events'));
		s.events.forEach(function (e) {
			attrRows(p, e.name + ' at ' + fmtDur(e.t), e.attrs);
		});
	}
}

/* ---- service map ---- */
function drawMap(d) {
	var box = $('map-box');
	clear(box);
	var NS = 'http://www.w3.org/2000/svg';
	function sv(tag, attrs, text) {
		var e = document.createElementNS(NS, tag);
		Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
		if (text !== undefined) e.textContent = text;
		return e;
	}
	/* columns: the longest path from a node nobody calls */
	var col = {}, ids = d.nodes.map(function (n) { return n.id; });
	ids.forEach(function (id) { col[id] = 0; });
	for (var pass = 0; pass < ids.length; pass++) {
		var moved = false;
		d.edges.forEach(function (e) {
			if (col[e.to] !== undefined && col[e.from] !== undefined && col[e.to] < col[e.from] + 1 && col[e.from] + 1 < ids.length) {
				col[e.to] = col[e.from] + 1;
				moved = true;
			}
		});
		if (!moved) break;
	}
	var rows = {}, pos = {}, W = 200, H = 44, GX = 230, GY = 56, maxRow = 0, maxCol = 0;
	d.nodes.forEach(function (n) {
		var c = col[n.id], r = rows[c] || 0;
		rows[c] = r + 1;
		pos[n.id] = { x: 20 + c * (W + GX), y: 20 + r * (H + GY) };
		maxRow = Math.max(maxRow, r);
		maxCol = Math.max(maxCol, c);
	});
	var svg = sv('svg', { id: 'map', viewBox: '0 0 ' + (40 + (maxCol + 1) * (W + GX)) + ' ' + (40 + (maxRow + 1) * (H + GY)),
		height: String(60 + (maxRow + 1) * (H + GY)) });
	var defs = sv('defs');
	var m = sv('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '8', markerHeight: '8', orient: 'auto-start-reverse' });
	m.appendChild(sv('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#7a8494' }));
	defs.appendChild(m);
	svg.appendChild(defs);
	d.edges.forEach(function (e) {
		var a = pos[e.from], b = pos[e.to];
		if (!a || !b) return;
		var g = sv('g', { 'class': 'edge' + (e.errors ? ' errors' : ''), 'data-from': e.from, 'data-to': e.to });
		var x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
		if (b.x <= a.x) { x1 = a.x + W / 2; y1 = a.y + H; x2 = b.x + W / 2; y2 = b.y; }
		g.appendChild(sv('path', { d: 'M ' + x1 + ' ' + y1 + ' C ' + (x1 + 50) + ' ' + y1 + ' ' + (x2 - 50) + ' ' + y2 + ' ' + x2 + ' ' + y2,
			'marker-end': 'url(#arrow)' }));
		var label = e.calls + ' call' + (e.calls === 1 ? '' : 's') + (e.errors ? ' \u00b7 ' + pctText(e.err_rate) + ' err' : '');
		/* labels just before the arrow head, at the callee's height */
		var lx = b.x > a.x ? x2 - 14 : (x1 + x2) / 2, ly = b.x > a.x ? y2 : (y1 + y2) / 2;
		var t1 = sv('text', { x: String(lx), y: String(ly - 18), 'text-anchor': b.x > a.x ? 'end' : 'middle', 'class': 'edge-label' }, label);
		var t2 = sv('text', { x: String(lx), y: String(ly - 6), 'text-anchor': b.x > a.x ? 'end' : 'middle' },
			'p50 ' + fmtDur(e.p50) + ' \u00b7 p99 ' + fmtDur(e.p99));
		g.appendChild(t1);
		g.appendChild(t2);
		svg.appendChild(g);
	});
	d.nodes.forEach(function (n) {
		var p = pos[n.id];
		var g = sv('g', { 'class': 'node ' + n.type, 'data-id': n.id, transform: 'translate(' + p.x + ',' + p.y + ')' });
		g.appendChild(sv('rect', { width: String(W), height: String(H), rx: '6' }));
		if (n.type === 'service') g.appendChild(sv('rect', { width: '6', height: String(H), fill: colour(n.id), stroke: 'none' }));
		var label = n.label.length > 28 ? n.label.slice(0, 27) + '\u2026' : n.label;
		g.appendChild(sv('text', { x: '12', y: '18' }, label));
		g.appendChild(sv('text', { x: '12', y: '34', 'class': 'type' }, n.type));
		g.appendChild(sv('title', {}, n.label + ' (' + n.type + ')'));
		g.addEventListener('click', function () { filterByNode(n, d.edges); });
		svg.appendChild(g);
	});
	box.appendChild(svg);
	var body = $('edge-body'), labels = {};
	d.nodes.forEach(function (n) { labels[n.id] = n.label; });
	clear(body);
	d.edges.forEach(function (e) {
		var r = el('tr');
		r.appendChild(td(labels[e.from] || e.from));
		r.appendChild(td(labels[e.to] || e.to));
		r.appendChild(td(e.calls, 'num'));
		r.appendChild(td(e.errors ? e.errors + ' (' + pctText(e.err_rate) + ')' : '0', 'num'));
		r.appendChild(td(fmtDur(e.p50), 'num'));
		r.appendChild(td(fmtDur(e.p99), 'num'));
		body.appendChild(r);
	});
}

function resetFilters() {
	['f-endpoint', 'f-min', 'f-attr'].forEach(function (id) { $(id).value = ''; });
	$('f-service').value = '';
	$('f-status').value = '';
}
function setServiceFilter(s) {
	var sel = $('f-service');
	if (!Array.prototype.some.call(sel.options, function (o) { return o.value === s; }))
		sel.appendChild(el('option', '', s)).value = s;
	sel.value = s;
}
/* A service: its traces; a database, cache or host: the traces of the
 * services calling it whose spans name that address. */
function filterByNode(n, edges) {
	resetFilters();
	if (n.type === 'service') {
		setServiceFilter(n.id);
	} else {
		var bar = n.id.indexOf('|'), addr = n.id.slice(bar + 1), colon = addr.lastIndexOf(':');
		$('f-attr').value = 'server.address~' + (colon > 0 ? addr.slice(0, colon) : addr);
		var callers = edges.filter(function (e) { return e.to === n.id; });
		if (callers.length === 1) setServiceFilter(callers[0].from);
	}
	showTab('traces');
	poll.now();
}

/* ---- endpoints, cache, database ---- */
function listEndpoint(name) {
	resetFilters();
	$('f-endpoint').value = name;
	showTab('traces');
	poll.now();
}
function drawEndpoints(d) {
	var body = $('ep-body');
	clear(body);
	d.endpoints.forEach(function (e) {
		var r = el('tr', 'ep-row');
		var s = td(''); var c = el('span', 'chip'); c.style.background = colour(e.service || '?');
		s.appendChild(c); s.appendChild(document.createTextNode(e.service));
		r.appendChild(s);
		r.appendChild(td(e.method));
		r.appendChild(td(e.route, 'mono'));
		r.appendChild(td(e.count, 'num'));
		r.appendChild(td(e.rate.toFixed(2), 'num'));
		r.appendChild(td(e.errors ? e.errors + ' (' + pctText(e.err_rate) + ')' : '0', 'num' + (e.errors ? ' err' : '')));
		r.appendChild(td(fmtDur(e.p50), 'num'));
		r.appendChild(td(fmtDur(e.p90), 'num'));
		r.appendChild(td(fmtDur(e.p99), 'num'));
		r.appendChild(td(e.queries_per_req.toFixed(1), 'num'));
		r.addEventListener('click', function () { listEndpoint(e.name); });
		body.appendChild(r);
	});
}
function drawCache(d) {
	var body = $('cache-body');
	clear(body);
	if (!d.keys.length) {
		var r0 = el('tr'); var c0 = td('no cache reads yet (Redis GETs show here)', 'empty'); c0.colSpan = 8;
		r0.appendChild(c0); body.appendChild(r0);
	}
	d.keys.forEach(function (k) {
		var r = el('tr', 'cache-row');
		r.appendChild(td(k.service));
		r.appendChild(td(k.key, 'mono'));
		r.appendChild(td(k.count, 'num'));
		r.appendChild(td(k.hits, 'num hits'));
		r.appendChild(td(k.misses, 'num misses'));
		var rate = td('');
		if (k.hits + k.misses) {
			var b = el('span', 'rate'), f = el('div');
			f.style.width = (100 * k.hit_rate) + '%';
			b.appendChild(f);
			rate.appendChild(b);
			rate.appendChild(document.createTextNode(pctText(k.hit_rate)));
		} else {
			rate.appendChild(el('span', 'muted', 'no reads'));
		}
		r.appendChild(rate);
		r.appendChild(td(fmtDur(k.p50), 'num'));
		r.appendChild(td(fmtDur(k.p99), 'num'));
		body.appendChild(r);
	});
}
function drawDb(d) {
	var body = $('db-body');
	clear(body);
	d.statements.forEach(function (s) {
		var r = el('tr', 'db-row clickable' + (s.max_per_req >= 5 ? ' nplus' : ''));
		r.appendChild(td(s.service));
		r.appendChild(td(s.statement, 'stmt'));
		r.appendChild(td(s.count, 'num'));
		r.appendChild(td(fmtDur(s.total), 'num'));
		r.appendChild(td(fmtDur(s.p50), 'num'));
		r.appendChild(td(fmtDur(s.p99), 'num'));
		r.appendChild(td(s.per_req.toFixed(1), 'num'));
		r.appendChild(td(s.max_per_req + (s.max_per_req >= 5 ? ' N+1?' : ''), 'num'));
		r.title = 'list the traces with this statement';
		r.addEventListener('click', function () {
			resetFilters();
			setServiceFilter(s.service);
			$('f-attr').value = 'db.query.text~' + s.statement.split(/\s+/).slice(0, 2).join(' ');
			showTab('traces');
			poll.now();
		});
		body.appendChild(r);
	});
}

/* ---- compare against a baseline ---- */
function loadMark() {
	try { return Number(sessionStorage.getItem('autotrace.mark')) || 0; } catch (e) { return 0; }
}
function setMark(ms) {
	state.mark = ms;
	try {
		if (ms) sessionStorage.setItem('autotrace.mark', String(ms));
		else sessionStorage.removeItem('autotrace.mark');
	} catch (e) { /* private mode: kept for this page only */ }
	refreshTab();
}
/* "a -> b (+12 %)", the change only when both sides have a value */
function change(a, b, fmt, pct) {
	var t = fmt(a) + ' \u2192 ' + fmt(b);
	if (pct !== null && pct !== undefined) t += ' (' + (pct > 0 ? '+' : '') + pct.toFixed(0) + ' %)';
	return t;
}
function drawDiff(d) {
	var body = $('diff-body'), ul = $('diff-new'), base = $('diff-base');
	$('diff-unmark').hidden = !state.mark;
	if (d.mode === 'mark') base.textContent = 'baseline: the traces before ' + fmtTime(d.since_ms) + ' (' + d.before_traces + ') vs after (' + d.after_traces + ')';
	else if (d.mode === 'file') base.textContent = 'baseline: the --baseline file (' + d.before_traces + ' traces) vs the ' + d.after_traces + ' traces kept';
	else base.textContent = 'no baseline yet: mark one now, then make the change and send traffic (or start serve with --baseline FILE)';
	base.appendChild(el('span', d.worse ? 'err' : '', ' \u2014 ' + d.worse + ' worse'));
	clear(body);
	clear(ul);
	if (!d.endpoints.length) {
		var r0 = el('tr'); var c0 = td(d.mode === 'none' ? 'no baseline' : 'no endpoints on either side', 'empty'); c0.colSpan = 7;
		r0.appendChild(c0); body.appendChild(r0);
	}
	function f1(x) { return x.toFixed(1); }
	d.endpoints.forEach(function (e) {
		var r = el('tr', 'diff-row ' + e.state + (e.worse ? ' worse' : ''));
		r.setAttribute('data-name', e.name);
		r.appendChild(td(e.worse ? '!' : e.state === 'new' ? '+' : e.state === 'gone' ? '\u2212' : '', 'mark'));
		var n = td(''); var c = el('span', 'chip'); c.style.background = colour(e.service || '?');
		n.appendChild(c); n.appendChild(document.createTextNode(e.name));
		r.appendChild(n);
		if (e.state !== 'both') {
			var x = e.after || e.before;
			r.appendChild(td((e.state === 'new' ? 'new: ' : 'gone: ') + x.count, 'num'));
			r.appendChild(td(fmtDur(x.p50), 'num'));
			r.appendChild(td(fmtDur(x.p99), 'num'));
			r.appendChild(td(f1(x.queries_per_req), 'num'));
			r.appendChild(td(x.errors, 'num' + (x.errors ? ' err' : '')));
		} else {
			var a = e.before, b = e.after;
			r.appendChild(td(a.count + ' \u2192 ' + b.count, 'num'));
			r.appendChild(td(change(a.p50, b.p50, fmtDur, e.p50_change), 'num'));
			r.appendChild(td(change(a.p99, b.p99, fmtDur, e.p99_change), 'num'));
			r.appendChild(td(change(a.queries_per_req, b.queries_per_req, f1, null), 'num' + (b.queries_per_req >= a.queries_per_req + 1 ? ' err' : '')));
			r.appendChild(td(a.errors + ' \u2192 ' + b.errors, 'num' + (b.errors > a.errors ? ' err' : '')));
		}
		r.title = 'list the traces of this endpoint';
		r.addEventListener('click', function () { listEndpoint(e.name); });
		body.appendChild(r);
	});
	if (!d.appeared.length) ul.appendChild(el('li', 'none', 'no new N+1 or error'));
	d.appeared.forEach(function (w) {
		var li = el('li', 'appeared ' + (w.kind === 'error' ? 'error' : 'nplus'));
		li.appendChild(el('b', '', 'new ' + w.kind + ': '));
		li.appendChild(document.createTextNode(w.what + ' (' + w.times + (w.times === 1 ? ' time)' : ' times)')));
		ul.appendChild(li);
	});
}

/* ---- wiring ---- */
var timer = null;
poll.now = function () {
	getJSON('/api/traces?' + filterQuery()).then(drawList).catch(function () {});
};
document.querySelectorAll('#tabs button').forEach(function (b) {
	b.addEventListener('click', function () { showTab(b.getAttribute('data-tab')); });
});
['f-service', 'f-status'].forEach(function (id) { $(id).addEventListener('change', poll.now); });
['f-endpoint', 'f-min', 'f-attr'].forEach(function (id) {
	$(id).addEventListener('input', function () {
		clearTimeout(timer);
		timer = setTimeout(poll.now, 250);
	});
});
$('filters').addEventListener('submit', function (e) { e.preventDefault(); poll.now(); });
$('f-clear').addEventListener('click', function () { resetFilters(); poll.now(); });
$('diff-mark').addEventListener('click', function () { setMark(Date.now()); });
$('diff-unmark').addEventListener('click', function () { setMark(0); });
state.mark = loadMark();
poll();
})();
