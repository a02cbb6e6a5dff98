#!/usr/bin/env node
// HTTP/2 test client (Node built-ins only) for what curl and nghttp cannot show from a script:
// per-chunk arrival times, many concurrent streams on one connection, cancelling one stream
// while another goes on. Prints one JSON line on stdout; exits 1 on a connection error.
//
//   node h2client.js --ca FILE --origin https://host[:port] MODE ...
//   times PATH                 {"status":S,"times":[ms of each DATA chunk since the head]}
//   many PATH N                N concurrent GETs: {"ok":K,"statuses":{...},"bytes":B}
//   cancel SLOWPATH PATH MS    open SLOWPATH, cancel it after MS ms while PATH completes:
//                              {"cancelled":true,"other_status":S,"other_body":"..."}
//   post PATH FILE             POST the file, print {"status":S,"sha256":hex of the response}
'use strict';
const http2 = require('http2');
const fs = require('fs');
const crypto = require('crypto');

const args = process.argv.slice(2);
let ca = null, origin = null;
while (args.length && args[0].startsWith('--')) {
	const k = args.shift(), v = args.shift();
	if (k === '--ca') ca = fs.readFileSync(v);
	else if (k === '--origin') origin = v;
}
const mode = args.shift();
// A 20 MB upload is buffered by Node: allow it (the default cap is 10 MB per session).
const session = http2.connect(origin, { ca, maxSessionMemory: 200,
	settings: { initialWindowSize: 4 * 1024 * 1024 } });
session.on('connect', () => session.setLocalWindowSize(16 * 1024 * 1024));
session.on('error', (e) => { console.error('h2client:', e.message); process.exit(1); });
const done = (o) => { console.log(JSON.stringify(o)); session.close(); };

function get(path, opts = {}) {
	return session.request({ ':method': opts.method || 'GET', ':path': path }, opts.req || {});
}

if (mode === 'times') {
	const r = get(args[0]);
	let t0 = 0, status = 0;
	const times = [];
	r.on('response', (h) => { status = h[':status']; t0 = Date.now(); });
	r.on('data', () => times.push(Date.now() - t0));
	r.on('end', () => done({ status, times }));
} else if (mode === 'many') {
	const n = Number(args[1]);
	let left = n, ok = 0, bytes = 0;
	const statuses = {};
	for (let i = 0; i < n; i++) {
		const r = get(args[0]);
		let st = 0;
		r.on('response', (h) => { st = h[':status']; statuses[st] = (statuses[st] || 0) + 1; });
		r.on('data', (d) => { bytes += d.length; });
		r.on('end', () => { if (st === 200) ok++; if (--left === 0) done({ ok, statuses, bytes }); });
		r.on('error', () => { if (--left === 0) done({ ok, statuses, bytes }); });
	}
} else if (mode === 'cancel') {
	const slow = get(args[0]);
	slow.on('error', () => {});
	slow.resume();
	setTimeout(() => {
		slow.close(http2.constants.NGHTTP2_CANCEL);
		const r = get(args[1]);
		let body = '', st = 0;
		r.setEncoding('utf8');
		r.on('response', (h) => { st = h[':status']; });
		r.on('data', (d) => { body += d; });
		r.on('end', () => done({ cancelled: true, other_status: st, other_body: body }));
	}, Number(args[2]));
} else if (mode === 'post') {
	const data = fs.readFileSync(args[1]);
	const r = get(args[0], { method: 'POST' });
	const h = crypto.createHash('sha256');
	let st = 0;
	r.on('response', (hd) => { st = hd[':status']; });
	r.on('data', (d) => h.update(d));
	r.on('end', () => done({ status: st, sha256: h.digest('hex') }));
	r.end(data);
} else {
	console.error('h2client: unknown mode', mode);
	process.exit(2);
}
