/*
 * at_render_html.c - the autotrace command's HTML page (see at_render.h).
 *
 * What: at_render_html() writes one self-contained HTML document: an
 * inline <style>, the traces as one JSON object in a
 * <script type="application/json" id="data"> element, and an inline
 * <script> that draws everything from that object: the header counts, the
 * per-endpoint summary (endpoint = the root span's service and name:
 * count, error rate, p50/p90/p99 and a latency histogram), the trace list
 * and, for the trace clicked, the findings and an interactive waterfall
 * (expand/collapse, errors in red, spans in findings highlighted, a side
 * panel with all the attributes, events and status of the span clicked).
 *
 * Why this way: the page must open anywhere, offline, as one file that
 * can be mailed or attached to a ticket; so nothing is loaded from
 * elsewhere (a Content-Security-Policy forbids it too), and the C side
 * only serialises data while the layout lives in the script.
 *
 * The JSON: {"title", "traces": [{"id", "start_ms", "dur", "err", "root",
 * "spans": [...], "findings": [...]}]}.  Each trace's spans are listed in
 * tree order (depth first from the roots, children by start time), each
 * with "p", the index of its parent in that list (-1 for roots and
 * orphans), and "d", its depth; spans not reachable from a root (a parent
 * cycle in bad input) follow as extra roots.  Times ("s", "e", event "t")
 * are nanoseconds from the trace's start, so they stay exact as doubles.
 * Findings name their spans by index in the same list.
 *
 * Contract and limits: strings are escaped for JSON, invalid UTF-8 is
 * replaced by U+FFFD, and "</" and "<!" are written as "<\/" and
 * "\u003c!", so no data can end the script element early.  The text
 * written outside the JSON (the title) is HTML-escaped.  Returns -1 on a
 * write error or when out of memory.  Tool-only: it allocates.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_render.h"
#include "at_traces.h"
#include "at_utf8.h"

/* The page's style sheet. */
static const char page_css[] =
	"* { box-sizing: border-box; }\n"
	"body { margin: 0; font: 13px/1.4 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d2330; background: #f6f7f9; }\n"
	"header { padding: 12px 20px; background: #23395b; color: #fff; }\n"
	"header h1 { margin: 0; font-size: 18px; font-weight: 600; }\n"
	"header .counts { margin-top: 2px; opacity: 0.85; }\n"
	"main { padding: 12px 20px 40px; }\n"
	"body.panel-open main { margin-right: 420px; }\n"
	"section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; margin-bottom: 14px; padding: 10px 12px; }\n"
	"#traces { max-height: 55vh; overflow: auto; }\n"
	"h2 { font-size: 15px; margin: 0 0 8px; }\n"
	"table { border-collapse: collapse; width: 100%; }\n"
	"th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eef0f3; white-space: nowrap; }\n"
	"th { font-weight: 600; color: #555e6e; cursor: pointer; user-select: none; }\n"
	"td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }\n"
	"tr.trace-row, tr.ep-row { cursor: pointer; }\n"
	"tr.trace-row:hover, tr.ep-row:hover { background: #eef4ff; }\n"
	"tr.selected { background: #dce8ff !important; }\n"
	"tr.has-error td.tid { color: #c62828; }\n"
	".mono { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, monospace; font-size: 12px; }\n"
	".err { color: #c62828; font-weight: 600; }\n"
	".muted { color: #7a8494; }\n"
	".hist { display: flex; align-items: flex-end; height: 24px; width: 132px; gap: 1px; border-bottom: 1px solid #b8c0cc; }\n"
	".hist div { flex: 1; background: #5b8def; min-height: 0; }\n"
	".hist div.zero { background: transparent; }\n"
	".filter { margin-left: 8px; font-weight: normal; font-size: 12px; }\n"
	".linkish { color: #2a5bd7; cursor: pointer; text-decoration: underline; background: none; border: 0; padding: 0; font: inherit; }\n"
	"#findings { margin: 0 0 10px; padding: 0; list-style: none; }\n"
	"#findings li { padding: 4px 8px; margin-bottom: 4px; background: #fff7d6; border-left: 4px solid #e0a800; border-radius: 3px; cursor: pointer; }\n"
	"#findings li .kind { font-weight: 600; margin-right: 6px; }\n"
	".toolbar { margin-bottom: 6px; }\n"
	".toolbar button { font: inherit; margin-right: 6px; padding: 2px 8px; border: 1px solid #c4cad4; background: #f3f5f8; border-radius: 4px; cursor: pointer; }\n"
	".wf-head, .span-row { display: flex; align-items: center; }\n"
	".wf-head { border-bottom: 1px solid #c4cad4; color: #7a8494; font-size: 11px; height: 18px; }\n"
	".wf-name { width: 38%; min-width: 260px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; padding-right: 6px; }\n"
	".wf-track { flex: 1; position: relative; height: 18px; }\n"
	".wf-head .wf-track span { position: absolute; top: 2px; white-space: nowrap; transform: translateX(-50%); }\n"
	".wf-head .wf-track span.first { transform: none; }\n"
	".wf-head .wf-track span.last { transform: translateX(-100%); }\n"
	".span-row { height: 22px; border-bottom: 1px solid #f0f2f5; cursor: pointer; }\n"
	".span-row:hover { background: #f1f5fd; }\n"
	".span-row.active { background: #dce8ff; }\n"
	".span-row.in-finding { background: #fff3c4; }\n"
	".span-row.in-finding.focus { background: #ffe27a; }\n"
	".span-row.hidden { display: none; }\n"
	".toggle { display: inline-block; width: 16px; height: 16px; line-height: 14px; padding: 0; margin-right: 2px; border: 0; background: none; cursor: pointer; color: #555e6e; font-size: 11px; text-align: center; }\n"
	".toggle.leaf { visibility: hidden; }\n"
	".svc { color: #5a6b85; margin-right: 6px; }\n"
	".span-row.error .nm { color: #c62828; font-weight: 600; }\n"
	".bar { position: absolute; top: 4px; height: 12px; min-width: 2px; background: #5b8def; border-radius: 2px; }\n"
	".span-row.critical .bar { background: #2e5fcc; }\n"
	".span-row.error .bar { background: #d93636; }\n"
	".span-row.in-finding .bar { box-shadow: 0 0 0 2px #e0a800; }\n"
	".dur { position: absolute; top: 2px; font-size: 11px; color: #555e6e; white-space: nowrap; }\n"
	".dur.inside { color: #fff; }\n"
	"#span-panel { position: fixed; top: 0; right: 0; bottom: 0; width: 410px; overflow: auto; background: #fff; border-left: 1px solid #c4cad4; box-shadow: -4px 0 12px rgba(0,0,0,0.08); padding: 10px 14px; }\n"
	"#span-panel.closed { display: none; }\n"
	"#span-panel h3 { margin: 0 26px 8px 0; font-size: 15px; word-break: break-all; }\n"
	"#span-panel h4 { margin: 12px 0 4px; font-size: 13px; color: #555e6e; }\n"
	"#span-panel .close { position: absolute; top: 6px; right: 10px; font-size: 18px; border: 0; background: none; cursor: pointer; }\n"
	".attr-row, .field-row, .ev-attr-row { display: flex; padding: 2px 0; border-bottom: 1px solid #f0f2f5; }\n"
	".attr-key, .field-key, .ev-attr-key { width: 40%; color: #555e6e; padding-right: 8px; word-break: break-all; }\n"
	".attr-value, .field-value, .ev-attr-value { flex: 1; word-break: break-all; white-space: pre-wrap; font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, monospace; font-size: 12px; }\n"
	".attr-type { color: #9aa3b2; font-size: 10px; margin-left: 6px; }\n"
	".event { margin: 6px 0; padding: 4px 6px; background: #f6f7f9; border-radius: 4px; }\n"
	".event .ev-head { font-weight: 600; }\n"
	".event .ev-time { color: #7a8494; font-weight: normal; margin-left: 6px; }\n"
	".ev-attr-row { margin-left: 10px; }\n"
	".empty { color: #7a8494; font-style: italic; }\n";

/* The static skeleton the script fills. */
static const char page_body[] =
	"<main>\n"
	"<section id=\"endpoints\">\n"
	"<h2>Endpoints</h2>\n"
	"<table id=\"ep-table\"><thead><tr><th>endpoint</th><th class=\"num\">count</th><th class=\"num\">errors</th><th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">p99</th><th>latency</th></tr></thead>\n"
	"<tbody id=\"ep-body\"></tbody></table>\n"
	"</section>\n"
	"<section id=\"traces\">\n"
	"<h2>Traces<span class=\"filter\" id=\"trace-filter\"></span></h2>\n"
	"<table id=\"trace-table\"><thead><tr><th>trace</th><th>root</th><th>start</th><th class=\"num\">duration</th><th class=\"num\">spans</th><th class=\"num\">errors</th><th class=\"num\">findings</th></tr></thead>\n"
	"<tbody id=\"trace-body\"></tbody></table>\n"
	"</section>\n"
	"<section id=\"trace-view\" hidden></section>\n"
	"</main>\n"
	"<aside id=\"span-panel\" class=\"closed\"></aside>\n";

/* The script: draws the page from the JSON in #data. */
static const char page_js[] =
	"(function () {\n"
	"'use strict';\n"
	"var D = JSON.parse(document.getElementById('data').textContent);\n"
	"var traces = D.traces || [];\n"
	"var KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];\n"
	"var FKINDS = { 'n+1': 'N+1', 'sequential': 'Sequential', 'dominant': 'Dominant' };\n"
	"var TYPES = ['string', 'int', 'double', 'bool'];\n"
	"var cur = -1;\n"
	"var epFilter = null;\n"
	"var sortKey = null;\n"
	"var sortDir = 1;\n"
	"\n"
	"function $(id) { return document.getElementById(id); }\n"
	"function el(tag, cls, text) {\n"
	"\tvar e = document.createElement(tag);\n"
	"\tif (cls) e.className = cls;\n"
	"\tif (text !== undefined && text !== null) e.textContent = String(text);\n"
	"\treturn e;\n"
	"}\n"
	"function fmtDur(ns) {\n"
	"\tif (ns < 1000) return ns + ' ns';\n"
	"\tif (ns < 1e6) return (ns / 1e3).toFixed(2) + ' \\u00b5s';\n"
	"\tif (ns < 1e9) return (ns / 1e6).toFixed(2) + ' ms';\n"
	"\treturn (ns / 1e9).toFixed(2) + ' s';\n"
	"}\n"
	"function fmtTime(ms) {\n"
	"\tif (!ms) return '';\n"
	"\tvar d = new Date(ms);\n"
	"\tfunction p(n, w) { n = String(n); while (n.length < w) n = '0' + n; return n; }\n"
	"\treturn d.getFullYear() + '-' + p(d.getMonth() + 1, 2) + '-' + p(d.getDate(), 2) + ' ' +\n"
	"\t\tp(d.getHours(), 2) + ':' + p(d.getMinutes(), 2) + ':' + p(d.getSeconds(), 2) + '.' + p(d.getMilliseconds(), 3);\n"
	"}\n"
	"function pct(sorted, p) {\n"
	"\tif (!sorted.length) return 0;\n"
	"\tvar i = Math.ceil(p / 100 * sorted.length) - 1;\n"
	"\treturn sorted[Math.max(0, Math.min(sorted.length - 1, i))];\n"
	"}\n"
	"function rootOf(t) { return t.root >= 0 ? t.spans[t.root] : null; }\n"
	"function endpointOf(t) {\n"
	"\tvar r = rootOf(t);\n"
	"\tif (!r) return '(no spans)';\n"
	"\treturn r.svc ? r.svc + ': ' + r.name : r.name;\n"
	"}\n"
	"function errCount(t) {\n"
	"\tvar n = 0;\n"
	"\tfor (var i = 0; i < t.spans.length; i++) if (t.spans[i].st === 2) n++;\n"
	"\treturn n;\n"
	"}\n"
	"\n"
	"function header() {\n"
	"\tvar spans = 0, errs = 0, finds = 0;\n"
	"\ttraces.forEach(function (t) { spans += t.spans.length; if (t.err) errs++; finds += t.findings.length; });\n"
	"\t$('counts').textContent = traces.length + ' trace' + (traces.length === 1 ? '' : 's') + ' \\u00b7 ' +\n"
	"\t\tspans + ' span' + (spans === 1 ? '' : 's') + ' \\u00b7 ' + errs + ' with errors \\u00b7 ' +\n"
	"\t\tfinds + ' finding' + (finds === 1 ? '' : 's');\n"
	"}\n"
	"\n"
	"function histogram(durs) {\n"
	"\tvar box = el('div', 'hist');\n"
	"\tvar n = 16, lo = durs[0], hi = durs[durs.length - 1];\n"
	"\tvar counts = [], i;\n"
	"\tfor (i = 0; i < n; i++) counts.push(0);\n"
	"\tvar llo = Math.log(Math.max(lo, 1)), lhi = Math.log(Math.max(hi, 1));\n"
	"\tdurs.forEach(function (d) {\n"
	"\t\tvar b = lhi > llo ? Math.floor((Math.log(Math.max(d, 1)) - llo) / (lhi - llo) * n) : 0;\n"
	"\t\tcounts[Math.max(0, Math.min(n - 1, b))]++;\n"
	"\t});\n"
	"\tvar max = Math.max.apply(null, counts);\n"
	"\tfor (i = 0; i < n; i++) {\n"
	"\t\tvar bar = el('div', counts[i] ? '' : 'zero');\n"
	"\t\tbar.style.height = (max ? Math.max(counts[i] ? 8 : 0, counts[i] / max * 100) : 0) + '%';\n"
	"\t\tvar a = Math.exp(llo + (lhi - llo) * i / n), b = Math.exp(llo + (lhi - llo) * (i + 1) / n);\n"
	"\t\tbar.title = fmtDur(Math.round(a)) + ' \\u2013 ' + fmtDur(Math.round(b)) + ': ' + counts[i];\n"
	"\t\tbox.appendChild(bar);\n"
	"\t}\n"
	"\tbox.title = 'latency histogram (log scale), ' + fmtDur(lo) + ' \\u2013 ' + fmtDur(hi);\n"
	"\treturn box;\n"
	"}\n"
	"\n"
	"function endpoints() {\n"
	"\tvar map = {}, list = [];\n"
	"\ttraces.forEach(function (t) {\n"
	"\t\tvar k = endpointOf(t);\n"
	"\t\tif (!map[k]) { map[k] = { name: k, durs: [], errs: 0 }; list.push(map[k]); }\n"
	"\t\tmap[k].durs.push(t.dur);\n"
	"\t\tif (t.err) map[k].errs++;\n"
	"\t});\n"
	"\tlist.sort(function (a, b) { return b.durs.length - a.durs.length || (a.name < b.name ? -1 : 1); });\n"
	"\tvar body = $('ep-body');\n"
	"\tbody.textContent = '';\n"
	"\tif (!list.length) {\n"
	"\t\tvar tr = el('tr'), td = el('td', 'empty', 'No traces collected.');\n"
	"\t\ttd.colSpan = 7; tr.appendChild(td); body.appendChild(tr);\n"
	"\t\treturn;\n"
	"\t}\n"
	"\tlist.forEach(function (ep) {\n"
	"\t\tep.durs.sort(function (a, b) { return a - b; });\n"
	"\t\tvar tr = el('tr', 'ep-row');\n"
	"\t\ttr.appendChild(el('td', '', ep.name));\n"
	"\t\ttr.appendChild(el('td', 'num', ep.durs.length));\n"
	"\t\tvar rate = el('td', 'num' + (ep.errs ? ' err' : ''), (ep.errs / ep.durs.length * 100).toFixed(1) + ' %');\n"
	"\t\ttr.appendChild(rate);\n"
	"\t\ttr.appendChild(el('td', 'num', fmtDur(pct(ep.durs, 50))));\n"
	"\t\ttr.appendChild(el('td', 'num', fmtDur(pct(ep.durs, 90))));\n"
	"\t\ttr.appendChild(el('td', 'num', fmtDur(pct(ep.durs, 99))));\n"
	"\t\tvar h = el('td');\n"
	"\t\th.appendChild(histogram(ep.durs));\n"
	"\t\ttr.appendChild(h);\n"
	"\t\ttr.title = 'Show only the traces of this endpoint';\n"
	"\t\ttr.addEventListener('click', function () {\n"
	"\t\t\tepFilter = epFilter === ep.name ? null : ep.name;\n"
	"\t\t\ttraceList();\n"
	"\t\t});\n"
	"\t\tbody.appendChild(tr);\n"
	"\t});\n"
	"}\n"
	"\n"
	"var COLS = [\n"
	"\tfunction (t) { return t.id; },\n"
	"\tfunction (t) { return endpointOf(t); },\n"
	"\tfunction (t) { return t.start_ms; },\n"
	"\tfunction (t) { return t.dur; },\n"
	"\tfunction (t) { return t.spans.length; },\n"
	"\tfunction (t) { return errCount(t); },\n"
	"\tfunction (t) { return t.findings.length; }\n"
	"];\n"
	"\n"
	"function traceList() {\n"
	"\tvar body = $('trace-body');\n"
	"\tbody.textContent = '';\n"
	"\tvar idx = [];\n"
	"\tfor (var i = 0; i < traces.length; i++)\n"
	"\t\tif (epFilter === null || endpointOf(traces[i]) === epFilter) idx.push(i);\n"
	"\tif (sortKey !== null) {\n"
	"\t\tvar f = COLS[sortKey];\n"
	"\t\tidx.sort(function (a, b) {\n"
	"\t\t\tvar x = f(traces[a]), y = f(traces[b]);\n"
	"\t\t\treturn (x < y ? -1 : x > y ? 1 : a - b) * sortDir;\n"
	"\t\t});\n"
	"\t}\n"
	"\tvar fl = $('trace-filter');\n"
	"\tfl.textContent = '';\n"
	"\tif (epFilter !== null) {\n"
	"\t\tfl.appendChild(document.createTextNode('endpoint: ' + epFilter + ' '));\n"
	"\t\tvar clr = el('button', 'linkish', 'show all');\n"
	"\t\tclr.addEventListener('click', function () { epFilter = null; traceList(); });\n"
	"\t\tfl.appendChild(clr);\n"
	"\t}\n"
	"\tif (!idx.length) {\n"
	"\t\tvar tr0 = el('tr'), td0 = el('td', 'empty', 'No traces.');\n"
	"\t\ttd0.colSpan = 7; tr0.appendChild(td0); body.appendChild(tr0);\n"
	"\t}\n"
	"\tidx.forEach(function (i) {\n"
	"\t\tvar t = traces[i];\n"
	"\t\tvar tr = el('tr', 'trace-row' + (t.err ? ' has-error' : '') + (i === cur ? ' selected' : ''));\n"
	"\t\ttr.setAttribute('data-trace-id', t.id);\n"
	"\t\ttr.setAttribute('data-index', i);\n"
	"\t\tvar id = el('td', 'mono tid', t.id);\n"
	"\t\tid.title = t.id;\n"
	"\t\ttr.appendChild(id);\n"
	"\t\ttr.appendChild(el('td', '', endpointOf(t)));\n"
	"\t\ttr.appendChild(el('td', 'muted', fmtTime(t.start_ms)));\n"
	"\t\ttr.appendChild(el('td', 'num', fmtDur(t.dur)));\n"
	"\t\ttr.appendChild(el('td', 'num', t.spans.length));\n"
	"\t\tvar ne = errCount(t);\n"
	"\t\ttr.appendChild(el('td', 'num' + (ne ? ' err' : ''), ne));\n"
	"\t\ttr.appendChild(el('td', 'num', t.findings.length));\n"
	"\t\ttr.addEventListener('click', function () { openTrace(i); });\n"
	"\t\tbody.appendChild(tr);\n"
	"\t});\n"
	"}\n"
	"\n"
	"function setupSort() {\n"
	"\tvar ths = document.querySelectorAll('#trace-table th');\n"
	"\tArray.prototype.forEach.call(ths, function (th, k) {\n"
	"\t\tth.addEventListener('click', function () {\n"
	"\t\t\tif (sortKey === k) sortDir = -sortDir; else { sortKey = k; sortDir = 1; }\n"
	"\t\t\ttraceList();\n"
	"\t\t});\n"
	"\t});\n"
	"}\n"
	"\n"
	"function openTrace(i) {\n"
	"\tvar t = traces[i];\n"
	"\tif (!t) return;\n"
	"\tcur = i;\n"
	"\tclosePanel();\n"
	"\tArray.prototype.forEach.call(document.querySelectorAll('.trace-row'), function (r) {\n"
	"\t\tr.classList.toggle('selected', Number(r.getAttribute('data-index')) === i);\n"
	"\t});\n"
	"\tvar view = $('trace-view');\n"
	"\tview.textContent = '';\n"
	"\tview.hidden = false;\n"
	"\tvar h = el('h2');\n"
	"\th.appendChild(document.createTextNode('Trace '));\n"
	"\th.appendChild(el('span', 'mono', t.id));\n"
	"\th.appendChild(el('span', 'muted', '  ' + fmtDur(t.dur) + ', ' + t.spans.length + ' spans' +\n"
	"\t\t(errCount(t) ? ', ' + errCount(t) + (errCount(t) === 1 ? ' error' : ' errors') : '')));\n"
	"\tview.appendChild(h);\n"
	"\n"
	"\tvar inFinding = {};\n"
	"\tt.findings.forEach(function (f) { f.spans.forEach(function (s) { inFinding[s] = true; }); });\n"
	"\tif (t.findings.length) {\n"
	"\t\tvar ul = el('ul');\n"
	"\t\tul.id = 'findings';\n"
	"\t\tt.findings.forEach(function (f) {\n"
	"\t\t\tvar li = el('li', 'finding');\n"
	"\t\t\tli.appendChild(el('span', 'kind', FKINDS[f.kind] || f.kind));\n"
	"\t\t\tli.appendChild(document.createTextNode(f.text + ' (' + f.spans.length + ' spans, ' + fmtDur(f.total) + ')'));\n"
	"\t\t\tli.title = 'Highlight these spans';\n"
	"\t\t\tli.addEventListener('click', function () { focusFinding(f); });\n"
	"\t\t\tul.appendChild(li);\n"
	"\t\t});\n"
	"\t\tview.appendChild(ul);\n"
	"\t}\n"
	"\n"
	"\tvar tb = el('div', 'toolbar');\n"
	"\tvar ex = el('button', '', 'Expand all'), co = el('button', '', 'Collapse all');\n"
	"\tex.id = 'expand-all'; co.id = 'collapse-all';\n"
	"\ttb.appendChild(ex); tb.appendChild(co);\n"
	"\tview.appendChild(tb);\n"
	"\n"
	"\tvar wf = el('div');\n"
	"\twf.id = 'waterfall';\n"
	"\tvar head = el('div', 'wf-head');\n"
	"\thead.appendChild(el('div', 'wf-name', 'span'));\n"
	"\tvar axis = el('div', 'wf-track');\n"
	"\t[0, 25, 50, 75, 100].forEach(function (p) {\n"
	"\t\tvar s = el('span', p === 0 ? 'first' : p === 100 ? 'last' : '', fmtDur(Math.round(t.dur * p / 100)));\n"
	"\t\ts.style.left = p + '%';\n"
	"\t\taxis.appendChild(s);\n"
	"\t});\n"
	"\thead.appendChild(axis);\n"
	"\twf.appendChild(head);\n"
	"\n"
	"\tvar hasKids = [], rows = [], collapsed = [];\n"
	"\tt.spans.forEach(function (s) { if (s.p >= 0) hasKids[s.p] = true; });\n"
	"\tvar span = t.dur > 0 ? t.dur : 1;\n"
	"\tt.spans.forEach(function (s, k) {\n"
	"\t\tvar cls = 'span-row';\n"
	"\t\tif (s.st === 2) cls += ' error';\n"
	"\t\tif (inFinding[k]) cls += ' in-finding';\n"
	"\t\tif (s.crit) cls += ' critical';\n"
	"\t\tvar row = el('div', cls);\n"
	"\t\trow.setAttribute('data-span-id', s.id);\n"
	"\t\trow.setAttribute('data-index', k);\n"
	"\t\tvar name = el('div', 'wf-name');\n"
	"\t\tname.style.paddingLeft = Math.min(s.d * 14, 280) + 'px';\n"
	"\t\tvar tg = el('button', 'toggle' + (hasKids[k] ? '' : ' leaf'), hasKids[k] ? '\\u25be' : '');\n"
	"\t\ttg.title = 'Expand or collapse the children';\n"
	"\t\ttg.addEventListener('click', function (ev) {\n"
	"\t\t\tev.stopPropagation();\n"
	"\t\t\tcollapsed[k] = !collapsed[k];\n"
	"\t\t\trefresh();\n"
	"\t\t});\n"
	"\t\tname.appendChild(tg);\n"
	"\t\tif (s.svc) name.appendChild(el('span', 'svc', s.svc));\n"
	"\t\tname.appendChild(el('span', 'nm', s.name));\n"
	"\t\tname.title = (s.svc ? s.svc + ': ' : '') + s.name;\n"
	"\t\trow.appendChild(name);\n"
	"\t\tvar track = el('div', 'wf-track');\n"
	"\t\tvar left = Math.max(0, Math.min(100, s.s / span * 100));\n"
	"\t\tvar width = Math.max(0, Math.min(100 - left, (s.e - s.s) / span * 100));\n"
	"\t\tvar bar = el('div', 'bar');\n"
	"\t\tbar.style.left = left + '%';\n"
	"\t\tbar.style.width = width + '%';\n"
	"\t\ttrack.appendChild(bar);\n"
	"\t\tvar lab = el('span', 'dur', fmtDur(Math.max(0, s.e - s.s)));\n"
	"\t\tif (left + width <= 80) {\n"
	"\t\t\tlab.style.left = (left + width) + '%';\n"
	"\t\t\tlab.style.paddingLeft = '4px';\n"
	"\t\t} else if (width >= 12) {\n"
	"\t\t\tlab.className = 'dur inside';\n"
	"\t\t\tlab.style.right = (100 - left - width) + '%';\n"
	"\t\t\tlab.style.paddingRight = '4px';\n"
	"\t\t} else {\n"
	"\t\t\tlab.style.right = (100 - left) + '%';\n"
	"\t\t\tlab.style.paddingRight = '4px';\n"
	"\t\t}\n"
	"\t\ttrack.appendChild(lab);\n"
	"\t\trow.appendChild(track);\n"
	"\t\trow.addEventListener('click', function () { openPanel(t, k, row); });\n"
	"\t\trows.push(row);\n"
	"\t\twf.appendChild(row);\n"
	"\t});\n"
	"\tview.appendChild(wf);\n"
	"\n"
	"\tfunction refresh() {\n"
	"\t\tvar hidden = [];\n"
	"\t\tt.spans.forEach(function (s, k) {\n"
	"\t\t\tvar hide = s.p >= 0 && (hidden[s.p] || collapsed[s.p]);\n"
	"\t\t\thidden[k] = hide;\n"
	"\t\t\trows[k].classList.toggle('hidden', !!hide);\n"
	"\t\t\tvar tg = rows[k].firstChild.firstChild;\n"
	"\t\t\tif (hasKids[k]) tg.textContent = collapsed[k] ? '\\u25b8' : '\\u25be';\n"
	"\t\t});\n"
	"\t}\n"
	"\tfunction setAll(v) {\n"
	"\t\tt.spans.forEach(function (s, k) { collapsed[k] = v && !!hasKids[k]; });\n"
	"\t\trefresh();\n"
	"\t}\n"
	"\tex.addEventListener('click', function () { setAll(false); });\n"
	"\tco.addEventListener('click', function () { setAll(true); });\n"
	"\n"
	"\tfunction focusFinding(f) {\n"
	"\t\tvar on = {};\n"
	"\t\tf.spans.forEach(function (s) { on[s] = true; });\n"
	"\t\t/* make sure the finding's spans are visible */\n"
	"\t\tf.spans.forEach(function (s) {\n"
	"\t\t\tfor (var p = t.spans[s].p; p >= 0; p = t.spans[p].p) collapsed[p] = false;\n"
	"\t\t});\n"
	"\t\trefresh();\n"
	"\t\trows.forEach(function (r, k) { r.classList.toggle('focus', !!on[k]); });\n"
	"\t\tif (f.spans.length && rows[f.spans[0]].scrollIntoView) rows[f.spans[0]].scrollIntoView({ block: 'nearest' });\n"
	"\t}\n"
	"\ttry { history.replaceState(null, '', '#trace=' + t.id); } catch (e) { /* file: URLs may refuse */ }\n"
	"\tif (view.scrollIntoView) view.scrollIntoView({ block: 'start' });\n"
	"}\n"
	"\n"
	"function addRow(parent, cls, k, v, type) {\n"
	"\tvar r = el('div', cls + '-row');\n"
	"\tr.appendChild(el('span', cls + '-key', k));\n"
	"\tvar val = el('span', cls + '-value', v);\n"
	"\tr.appendChild(val);\n"
	"\tif (type !== undefined) r.appendChild(el('span', 'attr-type', TYPES[type] || ''));\n"
	"\tparent.appendChild(r);\n"
	"}\n"
	"\n"
	"function openPanel(t, k, row) {\n"
	"\tvar s = t.spans[k];\n"
	"\tvar p = $('span-panel');\n"
	"\tp.textContent = '';\n"
	"\tvar x = el('button', 'close', '\\u00d7');\n"
	"\tx.title = 'Close (Esc)';\n"
	"\tx.addEventListener('click', closePanel);\n"
	"\tp.appendChild(x);\n"
	"\tp.appendChild(el('h3', s.st === 2 ? 'err' : '', s.name));\n"
	"\tvar f = el('div', 'fields');\n"
	"\taddRow(f, 'field', 'service', s.svc);\n"
	"\taddRow(f, 'field', 'kind', KINDS[s.kind] || String(s.kind));\n"
	"\taddRow(f, 'field', 'span id', s.id);\n"
	"\taddRow(f, 'field', 'parent id', s.pid || '(none)');\n"
	"\taddRow(f, 'field', 'trace id', t.id);\n"
	"\taddRow(f, 'field', 'start', '+' + fmtDur(Math.max(0, s.s)) + ' into the trace');\n"
	"\taddRow(f, 'field', 'depth', s.d);\n"
	"\taddRow(f, 'field', 'duration', fmtDur(Math.max(0, s.e - s.s)));\n"
	"\taddRow(f, 'field', 'status', ['unset', 'ok', 'error'][s.st] + (s.msg ? ': ' + s.msg : ''));\n"
	"\tif (s.crit) addRow(f, 'field', 'critical path', 'yes');\n"
	"\tp.appendChild(f);\n"
	"\tp.appendChild(el('h4', '', 'Attributes (' + s.attrs.length + ')'));\n"
	"\tvar a = el('div', 'attrs');\n"
	"\tif (!s.attrs.length) a.appendChild(el('div', 'empty', 'none'));\n"
	"\ts.attrs.forEach(function (kv) { addRow(a, 'attr', kv[0], kv[1], kv[2]); });\n"
	"\tp.appendChild(a);\n"
	"\tp.appendChild(el('h4', '', 'Events (' + s.events.length + ')'));\n"
	"\tif (!s.events.length) p.appendChild(el('div', 'empty', 'none'));\n"
	"\ts.events.forEach(function (ev) {\n"
	"\t\tvar e = el('div', 'event');\n"
	"\t\tvar hd = el('div', 'ev-head', ev.name);\n"
	"\t\thd.appendChild(el('span', 'ev-time', '+' + fmtDur(Math.max(0, ev.t - s.s)) + ' into the span, +' +\n"
	"\t\t\tfmtDur(Math.max(0, ev.t)) + ' into the trace'));\n"
	"\t\te.appendChild(hd);\n"
	"\t\tev.attrs.forEach(function (kv) { addRow(e, 'ev-attr', kv[0], kv[1]); });\n"
	"\t\tp.appendChild(e);\n"
	"\t});\n"
	"\tp.classList.remove('closed');\n"
	"\tdocument.body.classList.add('panel-open');\n"
	"\tArray.prototype.forEach.call(document.querySelectorAll('.span-row.active'), function (r) { r.classList.remove('active'); });\n"
	"\trow.classList.add('active');\n"
	"}\n"
	"\n"
	"function closePanel() {\n"
	"\t$('span-panel').classList.add('closed');\n"
	"\tdocument.body.classList.remove('panel-open');\n"
	"\tArray.prototype.forEach.call(document.querySelectorAll('.span-row.active'), function (r) { r.classList.remove('active'); });\n"
	"}\n"
	"\n"
	"document.addEventListener('keydown', function (e) { if (e.key === 'Escape') closePanel(); });\n"
	"header();\n"
	"endpoints();\n"
	"setupSort();\n"
	"traceList();\n"
	"var m = /^#trace=([0-9a-f]+)$/.exec(location.hash);\n"
	"if (m) {\n"
	"\tfor (var i = 0; i < traces.length; i++) if (traces[i].id === m[1]) { openTrace(i); break; }\n"
	"}\n"
	"})();\n";

/* s as a JSON string (NULL as ""), safe inside a <script> element. */
static void json_str(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s);

	putc('"', f);
	while (n > 0) {
		uint32_t cp;
		size_t len = at_utf8_decode(s, n, &cp);

		if (len == 0) {
			fputs("\\ufffd", f);
			len = 1;
		} else if (cp == '"' || cp == '\\') {
			putc('\\', f);
			putc((int)cp, f);
		} else if (cp == '\n') {
			fputs("\\n", f);
		} else if (cp == '\r') {
			fputs("\\r", f);
		} else if (cp == '\t') {
			fputs("\\t", f);
		} else if (cp < 0x20 || cp == 0x7f) {
			fprintf(f, "\\u%04x", (unsigned int)cp);
		} else if (cp == '<' && n > 1 && s[1] == '/') {
			fputs("<\\/", f);
			len = 2;
		} else if (cp == '<' && n > 1 && s[1] == '!') {
			fputs("\\u003c", f);
		} else if (cp == 0x2028 || cp == 0x2029) {
			fprintf(f, "\\u%04x", (unsigned int)cp);
		} else {
			fwrite(s, 1, len, f);
		}
		s += len;
		n -= len;
	}
	putc('"', f);
}

/* s as HTML text (element content or a quoted attribute value). */
static void html_text(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s);

	while (n > 0) {
		uint32_t cp;
		size_t len = at_utf8_decode(s, n, &cp);

		if (len == 0) {
			fputs("\xef\xbf\xbd", f);
			len = 1;
		} else if (cp == '&') {
			fputs("&amp;", f);
		} else if (cp == '<') {
			fputs("&lt;", f);
		} else if (cp == '>') {
			fputs("&gt;", f);
		} else if (cp == '"') {
			fputs("&quot;", f);
		} else if (cp == '\'') {
			fputs("&#39;", f);
		} else if (cp < 0x20 && cp != '\t' && cp != '\n') {
			putc(' ', f);
		} else {
			fwrite(s, 1, len, f);
		}
		s += len;
		n -= len;
	}
}

static void json_hex(FILE *f, const uint8_t *b, size_t n)
{
	putc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
	putc('"', f);
}

/* Nanoseconds from the trace's start (negative if before it). */
static int64_t rel_ns(const struct at_tv_trace *tr, uint64_t t)
{
	return (int64_t)(t - tr->start_ns);
}

static void json_attrs(FILE *f, const struct at_tv_attr *a, size_t n)
{
	putc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			putc(',', f);
		putc('[', f);
		json_str(f, a[i].key);
		putc(',', f);
		json_str(f, a[i].value);
		fprintf(f, ",%d]", (int)a[i].type);
	}
	putc(']', f);
}

/* A span of the trace and its position in trace->spans, sorted by pointer. */
struct span_ix {
	const struct at_tv_span *s;
	size_t i;
};

static int span_ix_cmp(const void *a, const void *b)
{
	const struct at_tv_span *x = ((const struct span_ix *)a)->s;
	const struct at_tv_span *y = ((const struct span_ix *)b)->s;

	return x < y ? -1 : x > y;
}

/* The trace's spans in tree order; see the comment at the top. */
struct span_order {
	struct span_ix *ix;        /* by pointer */
	const struct at_tv_span **order;
	long *parent;              /* index in order, -1 */
	int *depth;
	size_t *pos;               /* by trace->spans index: index in order */
	unsigned char *seen;       /* by trace->spans index */
	size_t n;
};

/* Index of s in trace->spans, or -1 if s is not one of them. */
static long span_index(const struct span_order *o, size_t n_spans,
		       const struct at_tv_span *s)
{
	struct span_ix key = { .s = s }, *hit;

	hit = bsearch(&key, o->ix, n_spans, sizeof(*o->ix), span_ix_cmp);
	return hit ? (long)hit->i : -1;
}

static int start_cmp(const void *a, const void *b)
{
	const struct at_tv_span *x = *(const struct at_tv_span *const *)a;
	const struct at_tv_span *y = *(const struct at_tv_span *const *)b;

	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

/* Depth-first from s (not yet seen), with an explicit stack. */
static void order_from(struct span_order *o, const struct at_tv_trace *tr,
		       size_t si, size_t *stack)
{
	size_t top = 0;

	o->seen[si] = 1;
	stack[top++] = si;
	o->depth[si] = 0;       /* by spans index while on the stack */
	o->parent[si] = -1;
	while (top > 0) {
		size_t i = stack[--top];
		const struct at_tv_span *s = tr->spans[i];
		size_t at = o->n++;

		o->order[at] = s;
		o->pos[i] = at;
		/* push the children in reverse, so that they come out in order */
		for (size_t c = s->n_children; c-- > 0;) {
			long ci = span_index(o, tr->n_spans, s->children[c]);

			if (ci < 0 || o->seen[ci])
				continue;
			o->seen[ci] = 1;
			stack[top++] = (size_t)ci;
			o->depth[ci] = o->depth[i] + 1;
			o->parent[ci] = (long)i;
		}
	}
}

static void order_free(struct span_order *o)
{
	free(o->ix);
	free(o->order);
	free(o->parent);
	free(o->depth);
	free(o->pos);
	free(o->seen);
}

static int order_build(struct span_order *o, const struct at_tv_trace *tr)
{
	size_t n = tr->n_spans, nr = 0;
	const struct at_tv_span **roots = NULL;
	size_t *stack = NULL;
	int ret = -1;

	memset(o, 0, sizeof(*o));
	o->ix = calloc(n + 1, sizeof(*o->ix));
	o->order = calloc(n + 1, sizeof(*o->order));
	o->parent = calloc(n + 1, sizeof(*o->parent));
	o->depth = calloc(n + 1, sizeof(*o->depth));
	o->pos = calloc(n + 1, sizeof(*o->pos));
	o->seen = calloc(n + 1, 1);
	roots = calloc(tr->n_roots + 1, sizeof(*roots));
	stack = calloc(n + 1, sizeof(*stack));
	if (!o->ix || !o->order || !o->parent || !o->depth || !o->pos ||
	    !o->seen || !roots || !stack)
		goto out;
	for (size_t i = 0; i < n; i++) {
		o->ix[i].s = tr->spans[i];
		o->ix[i].i = i;
	}
	qsort(o->ix, n, sizeof(*o->ix), span_ix_cmp);

	for (size_t r = 0; r < tr->n_roots; r++)
		roots[nr++] = tr->roots[r];
	qsort(roots, nr, sizeof(*roots), start_cmp);
	for (size_t r = 0; r < nr; r++) {
		long i = span_index(o, n, roots[r]);

		if (i >= 0 && !o->seen[i])
			order_from(o, tr, (size_t)i, stack);
	}
	for (size_t i = 0; i < n; i++)
		if (!o->seen[i])
			order_from(o, tr, i, stack);
	ret = 0;
out:
	free(roots);
	free(stack);
	return ret;
}

/* Position in the tree order of a span of the trace, or -1. */
static long order_pos(const struct span_order *o, const struct at_tv_trace *tr,
		      const struct at_tv_span *s)
{
	long i = s ? span_index(o, tr->n_spans, s) : -1;

	return i < 0 ? -1 : (long)o->pos[i];
}

/*
 * The span shown as the trace's root (its endpoint): the earliest span
 * without a parent, else the earliest root (an orphan), as a position.
 */
static long root_pos(const struct span_order *o, const struct at_tv_trace *tr)
{
	const struct at_tv_span *best = NULL;

	for (int pass = 0; pass < 2 && !best; pass++) {
		for (size_t r = 0; r < tr->n_roots; r++) {
			const struct at_tv_span *s = tr->roots[r];

			if (pass == 0 && s->has_parent)
				continue;
			if (!best || s->start_ns < best->start_ns)
				best = s;
		}
	}
	if (!best && o->n)
		best = o->order[0];
	return order_pos(o, tr, best);
}

static const char *finding_kind(enum at_tv_finding_kind k)
{
	switch (k) {
	case AT_FIND_N_PLUS_ONE:
		return "n+1";
	case AT_FIND_SEQUENTIAL:
		return "sequential";
	case AT_FIND_DOMINANT:
		return "dominant";
	}
	return "other";
}

static void json_span(FILE *f, const struct at_tv_trace *tr,
		      const struct span_order *o, size_t at)
{
	const struct at_tv_span *s = o->order[at];
	long si = span_index(o, tr->n_spans, s);
	long p = o->parent[si];

	fputs("{\"id\":", f);
	json_hex(f, s->span_id, sizeof(s->span_id));
	fputs(",\"pid\":", f);
	if (s->has_parent)
		json_hex(f, s->parent_id, sizeof(s->parent_id));
	else
		fputs("\"\"", f);
	fprintf(f, ",\"p\":%ld,\"d\":%d,\"name\":", p < 0 ? -1L : (long)o->pos[p],
		o->depth[si]);
	json_str(f, s->name);
	fputs(",\"svc\":", f);
	json_str(f, s->service);
	fprintf(f, ",\"kind\":%d,\"s\":%" PRId64 ",\"e\":%" PRId64
		",\"st\":%d,\"crit\":%d,\"msg\":", s->kind, rel_ns(tr, s->start_ns),
		rel_ns(tr, s->end_ns > s->start_ns ? s->end_ns : s->start_ns),
		s->status >= 0 && s->status <= 2 ? s->status : 0, s->critical ? 1 : 0);
	json_str(f, s->status_msg);
	fputs(",\"attrs\":", f);
	json_attrs(f, s->attrs, s->n_attrs);
	fputs(",\"events\":[", f);
	for (size_t e = 0; e < s->n_events; e++) {
		const struct at_tv_event *ev = &s->events[e];

		if (e)
			putc(',', f);
		fputs("{\"name\":", f);
		json_str(f, ev->name);
		fprintf(f, ",\"t\":%" PRId64 ",\"attrs\":", rel_ns(tr, ev->time_ns));
		json_attrs(f, ev->attrs, ev->n_attrs);
		putc('}', f);
	}
	fputs("]}", f);
}

static int json_trace(FILE *f, const struct at_tv_trace *tr)
{
	struct span_order o;
	uint64_t dur = tr->end_ns > tr->start_ns ? tr->end_ns - tr->start_ns : 0;

	if (order_build(&o, tr)) {
		order_free(&o);
		return -1;
	}
	fputs("{\"id\":", f);
	json_hex(f, tr->trace_id, sizeof(tr->trace_id));
	fprintf(f, ",\"start_ms\":%" PRIu64 ",\"dur\":%" PRIu64
		",\"err\":%d,\"root\":%ld,\"spans\":[\n",
		tr->start_ns / 1000000, dur, tr->has_error ? 1 : 0, root_pos(&o, tr));
	for (size_t i = 0; i < o.n; i++) {
		if (i)
			fputs(",\n", f);
		json_span(f, tr, &o, i);
	}
	fputs("],\"findings\":[", f);
	for (size_t k = 0; k < tr->n_findings; k++) {
		const struct at_tv_finding *fd = &tr->findings[k];
		int first = 1;

		if (k)
			putc(',', f);
		fputs("\n{\"kind\":", f);
		json_str(f, finding_kind(fd->kind));
		fputs(",\"text\":", f);
		json_str(f, fd->text);
		fprintf(f, ",\"total\":%" PRIu64 ",\"parent\":%ld,\"spans\":[",
			fd->total_ns, order_pos(&o, tr, fd->parent));
		for (size_t j = 0; j < fd->n_spans; j++) {
			long p = order_pos(&o, tr, fd->spans[j]);

			if (p < 0)
				continue;
			fprintf(f, "%s%ld", first ? "" : ",", p);
			first = 0;
		}
		fputs("]}", f);
	}
	fputs("]}", f);
	order_free(&o);
	return 0;
}

int at_render_html(FILE *f, const struct at_traces *t, const char *title)
{
	int ret = 0;

	if (!title || !*title)
		title = "autotrace";
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<link rel=\"icon\" href=\"data:,\">\n<title>", f);
	html_text(f, title);
	fputs("</title>\n<style>\n", f);
	fputs(page_css, f);
	fputs("</style>\n</head>\n<body>\n<header><h1>", f);
	html_text(f, title);
	fputs("</h1><div class=\"counts\" id=\"counts\"></div></header>\n", f);
	fputs(page_body, f);
	fputs("<script type=\"application/json\" id=\"data\">\n{\"title\":", f);
	json_str(f, title);
	fputs(",\"traces\":[\n", f);
	for (size_t i = 0; t && i < t->n_traces; i++) {
		if (i)
			fputs(",\n", f);
		if (json_trace(f, &t->traces[i]))
			ret = -1;
	}
	fputs("\n]}\n</script>\n<script>\n", f);
	fputs(page_js, f);
	fputs("</script>\n</body>\n</html>\n", f);
	if (fflush(f) || ferror(f))
		ret = -1;
	return ret;
}
