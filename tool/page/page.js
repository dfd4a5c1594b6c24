(function () {
'use strict';
var D = JSON.parse(document.getElementById('data').textContent);
var traces = D.traces || [];
var KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
var FKINDS = { 'n+1': 'N+1', 'sequential': 'Sequential', 'dominant': 'Dominant' };
var TYPES = ['string', 'int', 'double', 'bool'];
var cur = -1;
var epFilter = null;
var sortKey = null;
var sortDir = 1;

function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
	var e = document.createElement(tag);
	if (cls) e.className = cls;
	if (text !== undefined && text !== null) e.textContent = String(text);
	return e;
}
function fmtDur(ns) {
	if (ns < 1000) return ns + ' ns';
	if (ns < 1e6) return (ns / 1e3).toFixed(2) + ' \u00b5s';
	if (ns < 1e9) return (ns / 1e6).toFixed(2) + ' ms';
	return (ns / 1e9).toFixed(2) + ' s';
}
function fmtTime(ms) {
	if (!ms) return '';
	var d = new Date(ms);
	function p(n, w) { n = String(n); while (n.length < w) n = '0' + n; return n; }
	return d.getFullYear() + '-' + p(d.getMonth() + 1, 2) + '-' + p(d.getDate(), 2) + ' ' +
		p(d.getHours(), 2) + ':' + p(d.getMinutes(), 2) + ':' + p(d.getSeconds(), 2) + '.' + p(d.getMilliseconds(), 3);
}
function pct(sorted, p) {
	if (!sorted.length) return 0;
	var i = Math.ceil(p / 100 * sorted.length) - 1;
	return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
}
/* A distinct colour per service, in the order first seen. */
var PALETTE = ['#3b7ddd', '#e07b39', '#2fa36b', '#9b59b6', '#d6a319', '#17a2b8', '#7f8c8d', '#e84393'];
var svcColours = {}, nSvc = 0;
function svcColour(name) {
	if (!svcColours[name]) svcColours[name] = PALETTE[nSvc++ % PALETTE.length];
	return svcColours[name];
}
function rootOf(t) { return t.root >= 0 ? t.spans[t.root] : null; }
function endpointOf(t) {
	var r = rootOf(t);
	if (!r) return '(no spans)';
	/* the endpoint (service method route) when known, else the root's
	 * operation (GET /orders/{id}), with the HTTP status */
	var name = t.endpoint || (r.svc ? r.svc + ': ' : '') + (r.op || r.name);
	return name + (t.http_status ? ' \u2192 ' + t.http_status : '');
}
function errCount(t) {
	var n = 0;
	for (var i = 0; i < t.spans.length; i++) if (t.spans[i].st === 2) n++;
	return n;
}

function header() {
	var spans = 0, errs = 0, finds = 0;
	traces.forEach(function (t) { spans += t.spans.length; if (t.err) errs++; finds += t.findings.length; });
	$('counts').textContent = traces.length + ' trace' + (traces.length === 1 ? '' : 's') + ' \u00b7 ' +
		spans + ' span' + (spans === 1 ? '' : 's') + ' \u00b7 ' + errs + ' with errors \u00b7 ' +
		finds + ' finding' + (finds === 1 ? '' : 's');
}

function histogram(durs) {
	var box = el('div', 'hist');
	var n = 16, lo = durs[0], hi = durs[durs.length - 1];
	var counts = [], i;
	for (i = 0; i < n; i++) counts.push(0);
	var llo = Math.log(Math.max(lo, 1)), lhi = Math.log(Math.max(hi, 1));
	durs.forEach(function (d) {
		var b = lhi > llo ? Math.floor((Math.log(Math.max(d, 1)) - llo) / (lhi - llo) * n) : 0;
		counts[Math.max(0, Math.min(n - 1, b))]++;
	});
	var max = Math.max.apply(null, counts);
	for (i = 0; i < n; i++) {
		var bar = el('div', counts[i] ? '' : 'zero');
		bar.style.height = (max ? Math.max(counts[i] ? 8 : 0, counts[i] / max * 100) : 0) + '%';
		var a = Math.exp(llo + (lhi - llo) * i / n), b = Math.exp(llo + (lhi - llo) * (i + 1) / n);
		bar.title = fmtDur(Math.round(a)) + ' \u2013 ' + fmtDur(Math.round(b)) + ': ' + counts[i];
		box.appendChild(bar);
	}
	box.title = 'latency histogram (log scale), ' + fmtDur(lo) + ' \u2013 ' + fmtDur(hi);
	return box;
}

function endpoints() {
	var map = {}, list = [];
	traces.forEach(function (t) {
		var k = endpointOf(t);
		if (!map[k]) { map[k] = { name: k, durs: [], errs: 0 }; list.push(map[k]); }
		map[k].durs.push(t.dur);
		if (t.err) map[k].errs++;
	});
	list.sort(function (a, b) { return b.durs.length - a.durs.length || (a.name < b.name ? -1 : 1); });
	var body = $('ep-body');
	body.textContent = '';
	if (!list.length) {
		var tr = el('tr'), td = el('td', 'empty', 'No traces collected.');
		td.colSpan = 7; tr.appendChild(td); body.appendChild(tr);
		return;
	}
	list.forEach(function (ep) {
		ep.durs.sort(function (a, b) { return a - b; });
		var tr = el('tr', 'ep-row');
		tr.appendChild(el('td', '', ep.name));
		tr.appendChild(el('td', 'num', ep.durs.length));
		var rate = el('td', 'num' + (ep.errs ? ' err' : ''), (ep.errs / ep.durs.length * 100).toFixed(1) + ' %');
		tr.appendChild(rate);
		tr.appendChild(el('td', 'num', fmtDur(pct(ep.durs, 50))));
		tr.appendChild(el('td', 'num', fmtDur(pct(ep.durs, 90))));
		tr.appendChild(el('td', 'num', fmtDur(pct(ep.durs, 99))));
		var h = el('td');
		h.appendChild(histogram(ep.durs));
		tr.appendChild(h);
		tr.title = 'Show only the traces of this endpoint';
		tr.addEventListener('click', function () {
			epFilter = epFilter === ep.name ? null : ep.name;
			traceList();
		});
		body.appendChild(tr);
	});
}

var COLS = [
	function (t) { return t.id; },
	function (t) { return endpointOf(t); },
	function (t) { return t.start_ms; },
	function (t) { return t.dur; },
	function (t) { return t.spans.length; },
	function (t) { return errCount(t); },
	function (t) { return t.findings.length; }
];

function traceList() {
	var body = $('trace-body');
	body.textContent = '';
	var idx = [];
	for (var i = 0; i < traces.length; i++)
		if (epFilter === null || endpointOf(traces[i]) === epFilter) idx.push(i);
	if (sortKey !== null) {
		var f = COLS[sortKey];
		idx.sort(function (a, b) {
			var x = f(traces[a]), y = f(traces[b]);
			return (x < y ? -1 : x > y ? 1 : a - b) * sortDir;
		});
	}
	var fl = $('trace-filter');
	fl.textContent = '';
	if (epFilter !== null) {
		fl.appendChild(document.createTextNode('endpoint: ' + epFilter + ' '));
		var clr = el('button', 'linkish', 'show all');
		clr.addEventListener('click', function () { epFilter = null; traceList(); });
		fl.appendChild(clr);
	}
	if (!idx.length) {
		var tr0 = el('tr'), td0 = el('td', 'empty', 'No traces.');
		td0.colSpan = 7; tr0.appendChild(td0); body.appendChild(tr0);
	}
	idx.forEach(function (i) {
		var t = traces[i];
		var tr = el('tr', 'trace-row' + (t.err ? ' has-error' : '') + (i === cur ? ' selected' : ''));
		tr.setAttribute('data-trace-id', t.id);
		tr.setAttribute('data-index', i);
		var id = el('td', 'mono tid', t.id);
		id.title = t.id;
		tr.appendChild(id);
		tr.appendChild(el('td', '', endpointOf(t)));
		tr.appendChild(el('td', 'muted', fmtTime(t.start_ms)));
		tr.appendChild(el('td', 'num', fmtDur(t.dur)));
		tr.appendChild(el('td', 'num', t.spans.length));
		var ne = errCount(t);
		tr.appendChild(el('td', 'num' + (ne ? ' err' : ''), ne));
		tr.appendChild(el('td', 'num', t.findings.length));
		tr.addEventListener('click', function () { openTrace(i); });
		body.appendChild(tr);
	});
}

function setupSort() {
	var ths = document.querySelectorAll('#trace-table th');
	Array.prototype.forEach.call(ths, function (th, k) {
		th.addEventListener('click', function () {
			if (sortKey === k) sortDir = -sortDir; else { sortKey = k; sortDir = 1; }
			traceList();
		});
	});
}

function openTrace(i) {
	var t = traces[i];
	if (!t) return;
	cur = i;
	closePanel();
	Array.prototype.forEach.call(document.querySelectorAll('.trace-row'), function (r) {
		r.classList.toggle('selected', Number(r.getAttribute('data-index')) === i);
	});
	var view = $('trace-view');
	view.textContent = '';
	view.hidden = false;
	var h = el('h2');
	h.appendChild(document.createTextNode('Trace '));
	h.appendChild(el('span', 'mono', t.id));
	h.appendChild(el('span', 'muted', '  ' + fmtDur(t.dur) + ', ' + t.spans.length + ' spans' +
		(errCount(t) ? ', ' + errCount(t) + (errCount(t) === 1 ? ' error' : ' errors') : '')));
	view.appendChild(h);

	var inFinding = {};
	t.findings.forEach(function (f) { f.spans.forEach(function (s) { inFinding[s] = true; }); });
	if (t.findings.length) {
		var ul = el('ul');
		ul.id = 'findings';
		t.findings.forEach(function (f) {
			var li = el('li', 'finding');
			li.appendChild(el('span', 'kind', f.tag || FKINDS[f.kind] || f.kind));
			li.appendChild(document.createTextNode(f.text + ' (' + f.spans.length + ' spans, ' + fmtDur(f.total) + ')' +
				(f.fix ? ' \u2014 fix: ' + f.fix : '')));
			li.title = 'Highlight these spans';
			li.addEventListener('click', function () { focusFinding(f); });
			ul.appendChild(li);
		});
		view.appendChild(ul);
	}

	var tb = el('div', 'toolbar');
	var ex = el('button', '', 'Expand all'), co = el('button', '', 'Collapse all');
	ex.id = 'expand-all'; co.id = 'collapse-all';
	tb.appendChild(ex); tb.appendChild(co);
	view.appendChild(tb);

	var wf = el('div');
	wf.id = 'waterfall';
	var head = el('div', 'wf-head');
	head.appendChild(el('div', 'wf-name', 'span'));
	var axis = el('div', 'wf-track');
	[0, 25, 50, 75, 100].forEach(function (p) {
		var s = el('span', p === 0 ? 'first' : p === 100 ? 'last' : '', fmtDur(Math.round(t.dur * p / 100)));
		s.style.left = p + '%';
		axis.appendChild(s);
	});
	head.appendChild(axis);
	wf.appendChild(head);

	var hasKids = [], rows = [], collapsed = [];
	t.spans.forEach(function (s) { if (s.p >= 0) hasKids[s.p] = true; });
	var span = t.dur > 0 ? t.dur : 1;
	t.spans.forEach(function (s, k) {
		var cls = 'span-row';
		if (s.st === 2) cls += ' error';
		if (inFinding[k]) cls += ' in-finding';
		if (s.crit) cls += ' critical';
		var row = el('div', cls);
		row.setAttribute('data-span-id', s.id);
		row.setAttribute('data-index', k);
		var name = el('div', 'wf-name');
		name.style.paddingLeft = Math.min(s.d * 14, 280) + 'px';
		var tg = el('button', 'toggle' + (hasKids[k] ? '' : ' leaf'), hasKids[k] ? '\u25be' : '');
		tg.title = 'Expand or collapse the children';
		tg.addEventListener('click', function (ev) {
			ev.stopPropagation();
			collapsed[k] = !collapsed[k];
			refresh();
		});
		name.appendChild(tg);
		if (s.svc) name.appendChild(el('span', 'svc', s.svc));
		name.appendChild(el('span', 'nm', s.op || s.name));
		name.title = (s.svc ? s.svc + ': ' : '') + (s.op || s.name);
		row.appendChild(name);
		var track = el('div', 'wf-track');
		var left = Math.max(0, Math.min(100, s.s / span * 100));
		var width = Math.max(0, Math.min(100 - left, (s.e - s.s) / span * 100));
		var bar = el('div', 'bar');
		bar.style.left = left + '%';
		bar.style.width = width + '%';
		if (s.st !== 2) bar.style.background = svcColour(s.svc || '');
		track.appendChild(bar);
		var lab = el('span', 'dur', fmtDur(Math.max(0, s.e - s.s)));
		if (left + width <= 80) {
			lab.style.left = (left + width) + '%';
			lab.style.paddingLeft = '4px';
		} else if (width >= 12) {
			lab.className = 'dur inside';
			lab.style.right = (100 - left - width) + '%';
			lab.style.paddingRight = '4px';
		} else {
			lab.style.right = (100 - left) + '%';
			lab.style.paddingRight = '4px';
		}
		track.appendChild(lab);
		row.appendChild(track);
		row.addEventListener('click', function () { openPanel(t, k, row); });
		rows.push(row);
		wf.appendChild(row);
	});
	view.appendChild(wf);

	function refresh() {
		var hidden = [];
		t.spans.forEach(function (s, k) {
			var hide = s.p >= 0 && (hidden[s.p] || collapsed[s.p]);
			hidden[k] = hide;
			rows[k].classList.toggle('hidden', !!hide);
			var tg = rows[k].firstChild.firstChild;
			if (hasKids[k]) tg.textContent = collapsed[k] ? '\u25b8' : '\u25be';
		});
	}
	function setAll(v) {
		t.spans.forEach(function (s, k) { collapsed[k] = v && !!hasKids[k]; });
		refresh();
	}
	ex.addEventListener('click', function () { setAll(false); });
	co.addEventListener('click', function () { setAll(true); });

	function focusFinding(f) {
		var on = {};
		f.spans.forEach(function (s) { on[s] = true; });
		/* make sure the finding's spans are visible */
		f.spans.forEach(function (s) {
			for (var p = t.spans[s].p; p >= 0; p = t.spans[p].p) collapsed[p] = false;
		});
		refresh();
		rows.forEach(function (r, k) { r.classList.toggle('focus', !!on[k]); });
		if (f.spans.length && rows[f.spans[0]].scrollIntoView) rows[f.spans[0]].scrollIntoView({ block: 'nearest' });
	}
	try { history.replaceState(null, '', '#trace=' + t.id); } catch (e) { /* file: URLs may refuse */ }
	if (view.scrollIntoView) view.scrollIntoView({ block: 'start' });
}

function addRow(parent, cls, k, v, type) {
	var r = el('div', cls + '-row');
	r.appendChild(el('span', cls + '-key', k));
	var val = el('span', cls + '-value', v);
	r.appendChild(val);
	if (type !== undefined) r.appendChild(el('span', 'attr-type', TYPES[type] || ''));
	parent.appendChild(r);
}

function openPanel(t, k, row) {
	var s = t.spans[k];
	var p = $('span-panel');
	p.textContent = '';
	var x = el('button', 'close', '\u00d7');
	x.title = 'Close (Esc)';
	x.addEventListener('click', closePanel);
	p.appendChild(x);
	p.appendChild(el('h3', s.st === 2 ? 'err' : '', s.op || s.name));
	var f = el('div', 'fields');
	addRow(f, 'field', 'service', s.svc);
	addRow(f, 'field', 'kind', KINDS[s.kind] || String(s.kind));
	addRow(f, 'field', 'span id', s.id);
	addRow(f, 'field', 'parent id', s.pid || '(none)');
	addRow(f, 'field', 'trace id', t.id);
	addRow(f, 'field', 'start', '+' + fmtDur(Math.max(0, s.s)) + ' into the trace');
	addRow(f, 'field', 'depth', s.d);
	addRow(f, 'field', 'duration', fmtDur(Math.max(0, s.e - s.s)));
	addRow(f, 'field', 'status', ['unset', 'ok', 'error'][s.st] + (s.msg ? ': ' + s.msg : ''));
	if (s.crit) addRow(f, 'field', 'critical path', 'yes');
	p.appendChild(f);
	p.appendChild(el('h4', '', 'Attributes (' + s.attrs.length + ')'));
	var a = el('div', 'attrs');
	if (!s.attrs.length) a.appendChild(el('div', 'empty', 'none'));
	s.attrs.forEach(function (kv) { addRow(a, 'attr', kv[0], kv[1], kv[2]); });
	p.appendChild(a);
	p.appendChild(el('h4', '', 'Events (' + s.events.length + ')'));
	if (!s.events.length) p.appendChild(el('div', 'empty', 'none'));
	s.events.forEach(function (ev) {
		var e = el('div', 'event');
		var hd = el('div', 'ev-head', ev.name);
		hd.appendChild(el('span', 'ev-time', '+' + fmtDur(Math.max(0, ev.t - s.s)) + ' into the span, +' +
			fmtDur(Math.max(0, ev.t)) + ' into the trace'));
		e.appendChild(hd);
		ev.attrs.forEach(function (kv) { addRow(e, 'ev-attr', kv[0], kv[1]); });
		p.appendChild(e);
	});
	p.classList.remove('closed');
	document.body.classList.add('panel-open');
	Array.prototype.forEach.call(document.querySelectorAll('.span-row.active'), function (r) { r.classList.remove('active'); });
	row.classList.add('active');
}

function closePanel() {
	$('span-panel').classList.add('closed');
	document.body.classList.remove('panel-open');
	Array.prototype.forEach.call(document.querySelectorAll('.span-row.active'), function (r) { r.classList.remove('active'); });
}

document.addEventListener('keydown', function (e) { if (e.key === 'Escape') closePanel(); });
header();
endpoints();
setupSort();
traceList();
var m = /^#trace=([0-9a-f]+)$/.exec(location.hash);
if (m) {
	for (var i = 0; i < traces.length; i++) if (traces[i].id === m[1]) { openTrace(i); break; }
}
})();
