#!/usr/bin/env node
// Fake LLM-provider endpoint for the integration tests: one process serving HTTPS (h2 and
// http/1.1), plain HTTP, a TCP echo and UDP echoes inside the provider network namespace.
// Node 18+ built-ins only (http2, http, net, dgram, crypto): no npm modules.
//
// Usage:
//   node provider_server.js --cert FILE --key FILE [--log FILE] [--bind ADDR]
//        [--tls-port N]... [--http-port N]... [--echo-port N]... [--udp-echo ADDR:PORT]...
// Defaults: --bind :: (dual stack, every address of the namespace), --tls-port 443,
// no plain HTTP, TCP echo or UDP echo unless asked. IPv6 UDP addresses go in brackets:
// --udp-echo [fd00:201::2]:443. Prints "ready" on stdout once every socket listens; exits 1
// with a message if one cannot.
//
// HTTP routes (TLS ports with ALPN h2 + http/1.1, and the plain HTTP ports; any method):
//   /hello               "hello sni=<SNI|none> alpn=<h2|http/1.1|none> peer=<client address>\n"
//                        (IPv4-mapped IPv6 peers are shown as plain IPv4)
//   /bytes?n=N&seed=S    N bytes of the deterministic stream below (Content-Length: N)
//   /bytes-sha256?n=N&seed=S   hex SHA-256 of that stream, then "\n"
//   /echo                the request body, streamed back as it arrives (POST or PUT)
//   /slow?n=K&ms=T       K lines "chunk I\n" (I = 0..K-1), one every T ms, each sent at once
//   /headers             the request headers as JSON
//   LLM API paths        simulated OpenAI / Azure OpenAI / Anthropic / Gemini endpoints:
//                        see llm_sim.js (routes, keys, token rule, x-sim knobs, log fields)
//   WebSocket upgrades   (HTTP/1.1 on the TLS ports) /v1/realtime (OpenAI's Realtime API) and
//                        /ws-echo: see ws_sim.js
//   anything else        404 "not found\n"
//
// The /bytes stream is the AES-128-CTR keystream with key = the first 16 bytes of
// SHA-256(seed as UTF-8) and an all-zero 16-byte IV, i.e. the encryption of N zero bytes:
//   key=$(printf %s "$seed" | sha256sum | cut -c1-32)
//   head -c "$n" /dev/zero | openssl enc -aes-128-ctr -K "$key" -iv 00000000000000000000000000000000
// (lib.sh's mlx_bytes_sha256 N SEED computes the digest that way.) seed defaults to "0".
//
// Log: one JSON object per line, appended when a request, echo connection or UDP datagram is
// done: {time, proto, servername, alpn, method, path, status, remote, rport, local, lport,
// bytes_in, bytes_out, aborted}, plus "llm" for the simulated LLM routes (llm_sim.js).
// HTTP byte counts are body bytes. A client can finish reading
// a response slightly before its line is written: poll the log (wait_for) rather than read it once.
'use strict';

const crypto = require('crypto');
const dgram = require('dgram');
const fs = require('fs');
const http = require('http');
const http2 = require('http2');
const net = require('net');
const llm_sim = require('./llm_sim');
const ws_sim = require('./ws_sim');

const MAX_BYTES = 8 * 1024 * 1024 * 1024; // cap for /bytes n
const MAX_SLOW = 100000;                  // cap for /slow n and ms
const CHUNK = 64 * 1024;

function usage(msg) {
	process.stderr.write(`provider_server: ${msg}\n`);
	process.exit(2);
}

function parse_args(argv) {
	const o = { bind: '::', tls: [], http: [], echo: [], udp: [], log: null, cert: null, key: null };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const v = argv[i + 1];
		if (v === undefined)
			usage(`${a} needs a value`);
		i++;
		switch (a) {
		case '--cert': o.cert = v; break;
		case '--key': o.key = v; break;
		case '--log': o.log = v; break;
		case '--bind': o.bind = v; break;
		case '--tls-port': o.tls.push(port(v)); break;
		case '--http-port': o.http.push(port(v)); break;
		case '--echo-port': o.echo.push(port(v)); break;
		case '--udp-echo': o.udp.push(hostport(v)); break;
		default: usage(`unknown option ${a}`);
		}
	}
	if (!o.tls.length)
		o.tls.push(443);
	if (!o.cert || !o.key)
		usage('--cert and --key are required');
	return o;
}

function port(s) {
	const n = Number(s);
	if (!/^[0-9]+$/.test(s) || n < 1 || n > 65535)
		usage(`bad port ${s}`);
	return n;
}

function hostport(s) {
	const m = /^\[([0-9a-fA-F:.]+)\]:([0-9]+)$/.exec(s) || /^([0-9.]+):([0-9]+)$/.exec(s);
	if (!m)
		usage(`bad address:port ${s}`);
	return { addr: m[1], port: port(m[2]), type: net.isIPv6(m[1]) ? 'udp6' : 'udp4' };
}

const opt = parse_args(process.argv.slice(2));
const log_fd = opt.log ? fs.openSync(opt.log, 'a') : null;

function log(rec) {
	if (log_fd === null)
		return;
	// Synchronous append: one whole line per write, in order, nothing lost at exit.
	fs.writeSync(log_fd, JSON.stringify(Object.assign({ time: new Date().toISOString() }, rec)) + '\n');
}

function plain_addr(a) {
	return typeof a === 'string' && a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function int_param(q, name, dflt, max) {
	const s = q.get(name);
	if (s === null)
		return dflt;
	if (!/^[0-9]+$/.test(s) || Number(s) > max)
		return NaN;
	return Number(s);
}

function keystream(seed) {
	const key = crypto.createHash('sha256').update(seed, 'utf8').digest().subarray(0, 16);
	return crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
}

const ZEROS = Buffer.alloc(CHUNK);

function handler(req, res) {
	const h2 = req.httpVersionMajor === 2;
	const sock = h2 ? req.stream.session.socket : req.socket;
	const url = new URL(req.url, 'http://x');
	const q = url.searchParams;
	const rec = {
		proto: sock.encrypted ? 'https' : 'http',
		servername: sock.servername || null,
		alpn: sock.alpnProtocol || null,
		method: req.method,
		path: req.url,
		status: 0,
		remote: plain_addr(sock.remoteAddress),
		rport: sock.remotePort,
		local: plain_addr(sock.localAddress),
		lport: sock.localPort,
		bytes_in: 0,
		bytes_out: 0,
		aborted: false,
	};
	let logged = false;
	const done = (aborted) => {
		if (logged)
			return;
		logged = true;
		rec.status = res.statusCode;
		rec.aborted = aborted;
		log(rec);
	};
	res.on('finish', () => done(false));
	res.on('close', () => done(!res.writableFinished));

	const write = (chunk) => {
		rec.bytes_out += chunk.length;
		return res.write(chunk);
	};
	const send = (status, type, body) => {
		const b = Buffer.from(body);
		res.writeHead(status, { 'content-type': type, 'content-length': b.length });
		rec.bytes_out += b.length;
		res.end(b);
	};
	const bad = (msg) => send(400, 'text/plain', msg + '\n');

	// Every route but /echo ignores the body; read it anyway to count it and free the stream.
	if (url.pathname !== '/echo') {
		req.on('data', (c) => { rec.bytes_in += c.length; });
	}

	switch (url.pathname) {
	case '/hello':
		return send(200, 'text/plain',
			`hello sni=${rec.servername || 'none'} alpn=${rec.alpn || 'none'} peer=${rec.remote}\n`);

	case '/headers':
		return send(200, 'application/json', JSON.stringify(req.headers) + '\n');

	case '/bytes':
	case '/bytes-sha256': {
		const n = int_param(q, 'n', 0, MAX_BYTES);
		const seed = q.get('seed') === null ? '0' : q.get('seed');
		if (Number.isNaN(n))
			return bad(`n must be an integer 0..${MAX_BYTES}`);
		const ks = keystream(seed);
		if (url.pathname === '/bytes-sha256') {
			const h = crypto.createHash('sha256');
			for (let left = n; left > 0; left -= CHUNK)
				h.update(ks.update(left >= CHUNK ? ZEROS : ZEROS.subarray(0, left)));
			return send(200, 'text/plain', h.digest('hex') + '\n');
		}
		res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
		let left = n;
		const pump = () => {
			while (left > 0 && !res.destroyed) {
				const len = Math.min(left, CHUNK);
				left -= len;
				if (!write(ks.update(len === CHUNK ? ZEROS : ZEROS.subarray(0, len)))) {
					res.once('drain', pump);
					return;
				}
			}
			if (left === 0 && !res.writableEnded)
				res.end();
		};
		return pump();
	}

	case '/echo': {
		const hdrs = { 'content-type': 'application/octet-stream' };
		if (req.headers['content-length'] !== undefined)
			hdrs['content-length'] = req.headers['content-length'];
		res.writeHead(200, hdrs);
		req.on('data', (c) => {
			rec.bytes_in += c.length;
			if (!write(c)) {
				req.pause();
				res.once('drain', () => req.resume());
			}
		});
		req.on('end', () => res.end());
		return;
	}

	case '/slow': {
		const n = int_param(q, 'n', 5, MAX_SLOW);
		const ms = int_param(q, 'ms', 100, MAX_SLOW);
		if (Number.isNaN(n) || Number.isNaN(ms))
			return bad(`n and ms must be integers 0..${MAX_SLOW}`);
		res.writeHead(200, { 'content-type': 'text/plain' });
		if (res.flushHeaders)
			res.flushHeaders();
		let i = 0;
		const tick = () => {
			if (res.destroyed)
				return;
			if (i === n)
				return res.end();
			write(Buffer.from(`chunk ${i++}\n`));
			setTimeout(tick, ms);
		};
		return tick();
	}

	default:
		if (llm_sim.serve(req, res, rec, url))
			return;
		return send(404, 'text/plain', 'not found\n');
	}
}

// Each listen() resolves when bound; "ready" is printed once all are.
const pending = [];
function listening(what, server, listen) {
	pending.push(new Promise((resolve, reject) => {
		server.once('error', (e) => reject(new Error(`${what}: ${e.message}`)));
		listen(resolve);
	}));
}

const tls_opts = {
	key: fs.readFileSync(opt.key),
	cert: fs.readFileSync(opt.cert),
	allowHTTP1: true, // ALPN offers h2 and http/1.1; a client without ALPN gets http/1.1
};
const ipv6Only = false;

for (const p of opt.tls) {
	const s = http2.createSecureServer(tls_opts, handler);
	s.on('secureConnection', (sock) => sock.setNoDelay(true));
	s.on('upgrade', (req, sock, head) => ws_sim.upgrade(req, sock, head, {
		proto: 'https', servername: sock.servername || null, alpn: sock.alpnProtocol || null,
		method: req.method, path: req.url, status: 0, remote: plain_addr(sock.remoteAddress),
		rport: sock.remotePort, local: plain_addr(sock.localAddress), lport: sock.localPort,
		bytes_in: 0, bytes_out: 0, aborted: false,
		extensions: req.headers['sec-websocket-extensions'] || null,
	}, log));
	s.on('sessionError', () => {});
	listening(`tls :${p}`, s, (cb) => s.listen({ host: opt.bind, port: p, ipv6Only }, cb));
}

for (const p of opt.http) {
	const s = http.createServer(handler);
	s.on('connection', (sock) => sock.setNoDelay(true));
	listening(`http :${p}`, s, (cb) => s.listen({ host: opt.bind, port: p, ipv6Only }, cb));
}

for (const p of opt.echo) {
	const s = net.createServer({ allowHalfOpen: true }, (sock) => {
		const rec = {
			proto: 'tcp-echo', remote: plain_addr(sock.remoteAddress), rport: sock.remotePort,
			local: plain_addr(sock.localAddress), lport: sock.localPort,
		};
		sock.setNoDelay(true);
		sock.on('error', () => {});
		sock.on('close', () => {
			rec.bytes_in = sock.bytesRead;
			rec.bytes_out = sock.bytesWritten;
			log(rec);
		});
		sock.pipe(sock); // ends our side once the client has shut down its side
	});
	listening(`echo :${p}`, s, (cb) => s.listen({ host: opt.bind, port: p, ipv6Only }, cb));
}

for (const u of opt.udp) {
	const s = dgram.createSocket(u.type);
	s.on('message', (msg, rinfo) => {
		s.send(msg, rinfo.port, rinfo.address);
		log({
			proto: 'udp-echo', remote: rinfo.address, rport: rinfo.port, local: u.addr,
			lport: u.port, bytes_in: msg.length, bytes_out: msg.length,
		});
	});
	listening(`udp ${u.addr}:${u.port}`, s, (cb) => s.bind({ address: u.addr, port: u.port }, cb));
}

Promise.all(pending).then(() => {
	process.stdout.write('ready\n');
}, (e) => {
	process.stderr.write(`provider_server: ${e.message}\n`);
	process.exit(1);
});

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'])
	process.on(sig, () => process.exit(0));
