// WebSocket (RFC 6455) for provider_server.js, on the HTTP/1.1 upgrades its TLS ports receive.
// Node built-ins only: the handshake, framing and masking are done here.
//
// Routes (GET with Upgrade: websocket; anything else gets a plain HTTP error and no upgrade):
//   /v1/realtime?model=M  OpenAI's Realtime API in its wire shape: JSON text events. The server
//                         sends session.created at once; then, to the client's events:
//                           session.update           -> session.updated
//                           conversation.item.create -> conversation.item.created (its
//                                                       input_text parts join the prompt)
//                           response.create          -> response.created, one
//                                                       response.output_text.delta per piece,
//                                                       response.output_text.done,
//                                                       response.done with usage
//                           anything else            -> an "error" event (invalid_request_error)
//                         Key: Authorization: Bearer K (as OpenAI; missing: 401 JSON error
//                         before any upgrade).
//                         Tokens follow llm_sim.js's rule: input P = max(1, ceil(C / 4)) over
//                         the prompt's code points, output N = 12 pieces of 4 characters
//                         ("Simulated reply from the modelux test provider. "); usage is
//                         total_tokens, input_tokens, output_tokens, input_token_details
//                         {cached_tokens, text_tokens, audio_tokens}, output_token_details
//                         {text_tokens, audio_tokens}, as OpenAI reports it.
//   /ws-echo              every message (text or binary) sent back as it came.
// Ping is answered with pong; a close frame with a close frame carrying the same code, then the
// server ends the connection. A protocol error (unmasked client frame, a continuation without a
// start, a frame over 16 MiB) closes with 1002.
//
// Log (provider_server.js's writer): one line per connection when it closes:
//   {proto:"websocket", servername, alpn, method, path, status:101, remote, rport, local,
//    lport, extensions (the Sec-WebSocket-Extensions the client offered, or null: none is ever
//    accepted), bytes_in, bytes_out (message payload bytes), messages_in, messages_out,
//    close_code, llm:{provider:"openai", endpoint:"realtime", model, responses,
//    input_tokens, output_tokens} (realtime only)}
'use strict';

const crypto = require('crypto');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_FRAME = 16 << 20;
const REPLY = 'Simulated reply from the modelux test provider. ';
const PIECES = 12;

function frame(opcode, payload) {
	const n = payload.length;
	let h;
	if (n < 126) {
		h = Buffer.alloc(2);
		h[1] = n;
	} else if (n < 65536) {
		h = Buffer.alloc(4);
		h[1] = 126;
		h.writeUInt16BE(n, 2);
	} else {
		h = Buffer.alloc(10);
		h[1] = 127;
		h.writeBigUInt64BE(BigInt(n), 2);
	}
	h[0] = 0x80 | opcode; // FIN: the server never fragments
	return Buffer.concat([h, payload]);
}

// Client frames in, whole messages and control frames out.
class Reader {
	constructor() {
		this.buf = Buffer.alloc(0);
		this.parts = null;
		this.op = 0;
	}

	push(chunk) {
		this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
	}

	// The next message or control frame ({opcode, payload}), null when more bytes are needed;
	// throws on a protocol error.
	next() {
		for (;;) {
			const b = this.buf;
			if (b.length < 2)
				return null;
			const fin = (b[0] & 0x80) !== 0;
			const op = b[0] & 0x0f;
			let len = b[1] & 0x7f;
			let off = 2;
			if ((b[1] & 0x80) === 0)
				throw new Error('unmasked client frame');
			if (len === 126) {
				if (b.length < 4)
					return null;
				len = b.readUInt16BE(2);
				off = 4;
			} else if (len === 127) {
				if (b.length < 10)
					return null;
				len = Number(b.readBigUInt64BE(2));
				off = 10;
			}
			if (len > MAX_FRAME)
				throw new Error('frame too large');
			if (b.length < off + 4 + len)
				return null;
			const mask = b.subarray(off, off + 4);
			const payload = Buffer.from(b.subarray(off + 4, off + 4 + len));
			for (let i = 0; i < len; i++)
				payload[i] ^= mask[i & 3];
			this.buf = b.subarray(off + 4 + len);
			if (op >= 8)
				return { opcode: op, payload }; // control frames are never fragmented
			if (op !== 0) {
				if (this.parts)
					throw new Error('new message inside a fragmented one');
				this.parts = [payload];
				this.op = op;
			} else if (this.parts) {
				this.parts.push(payload);
			} else {
				throw new Error('continuation without a start');
			}
			if (fin) {
				const m = { opcode: this.op, payload: Buffer.concat(this.parts) };
				this.parts = null;
				return m;
			}
		}
	}
}

function tokens(text) {
	return Math.max(1, Math.ceil([...text].length / 4));
}

// One Realtime session: the events a client sends, answered as OpenAI does.
function realtime(model, send_json, rec) {
	let seq = 0;
	let prompt = '';
	const id = (p) => `${p}_sim_${String(++seq).padStart(6, '0')}`;
	const session = {
		id: 'sess_sim_000001', object: 'realtime.session', type: 'realtime', model,
		output_modalities: ['text'], instructions: '', tools: [], tool_choice: 'auto',
		max_output_tokens: 'inf',
	};
	rec.llm = { provider: 'openai', endpoint: 'realtime', model, responses: 0, input_tokens: 0,
		output_tokens: 0 };
	send_json({ type: 'session.created', event_id: id('event'), session });
	return (ev) => {
		switch (ev && ev.type) {
		case 'session.update':
			Object.assign(session, ev.session || {});
			return send_json({ type: 'session.updated', event_id: id('event'), session });
		case 'conversation.item.create': {
			const item = Object.assign({ id: id('item'), object: 'realtime.item' }, ev.item || {});
			for (const c of (item.content || []))
				if (c && (c.type === 'input_text' || c.type === 'text') && typeof c.text === 'string')
					prompt += c.text;
			return send_json({ type: 'conversation.item.created', event_id: id('event'),
				previous_item_id: null, item });
		}
		case 'response.create': {
			const rid = id('resp');
			const iid = id('item');
			const P = tokens(prompt || ' ');
			const N = PIECES;
			let text = '';
			send_json({ type: 'response.created', event_id: id('event'), response: {
				id: rid, object: 'realtime.response', status: 'in_progress', output: [],
				usage: null } });
			for (let i = 0; i < N; i++) {
				const delta = REPLY.slice((i * 4) % REPLY.length, (i * 4) % REPLY.length + 4);
				text += delta;
				send_json({ type: 'response.output_text.delta', event_id: id('event'),
					response_id: rid, item_id: iid, output_index: 0, content_index: 0, delta });
			}
			send_json({ type: 'response.output_text.done', event_id: id('event'),
				response_id: rid, item_id: iid, output_index: 0, content_index: 0, text });
			const usage = {
				total_tokens: P + N, input_tokens: P, output_tokens: N,
				input_token_details: { cached_tokens: 0, text_tokens: P, audio_tokens: 0 },
				output_token_details: { text_tokens: N, audio_tokens: 0 },
			};
			rec.llm.responses++;
			rec.llm.input_tokens += P;
			rec.llm.output_tokens += N;
			return send_json({ type: 'response.done', event_id: id('event'), response: {
				id: rid, object: 'realtime.response', status: 'completed',
				output: [{ id: iid, object: 'realtime.item', type: 'message', role: 'assistant',
					status: 'completed', content: [{ type: 'output_text', text }] }],
				usage } });
		}
		default:
			return send_json({ type: 'error', event_id: id('event'), error: {
				type: 'invalid_request_error', code: 'invalid_value',
				message: `Invalid value: '${String(ev && ev.type)}'. Unsupported event type.`,
				param: 'type', event_id: (ev && ev.event_id) || null } });
		}
	};
}

// refuse - a plain HTTP answer instead of the upgrade, then close.
function refuse(sock, status, reason, type, body, rec, log) {
	const b = Buffer.from(body);
	sock.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: ${type}\r\n` +
		`content-length: ${b.length}\r\nconnection: close\r\n\r\n` + body);
	rec.status = status;
	rec.bytes_out = b.length;
	log(rec);
}

// upgrade - provider_server.js's 'upgrade' handler: <rec> is the connection's log record.
function upgrade(req, sock, head, rec, log) {
	const url = new URL(req.url, 'http://x');
	const key = req.headers['sec-websocket-key'];
	const routes = ['/v1/realtime', '/ws-echo'];
	sock.on('error', () => {});
	if (!routes.includes(url.pathname))
		return refuse(sock, 404, 'Not Found', 'text/plain', 'not found\n', rec, log);
	if (req.method !== 'GET' || !/^websocket$/i.test(req.headers.upgrade || '') ||
	    req.headers['sec-websocket-version'] !== '13' || !key ||
	    Buffer.from(key, 'base64').length !== 16)
		return refuse(sock, 400, 'Bad Request', 'text/plain', 'not a WebSocket handshake\n', rec,
			log);
	if (url.pathname === '/v1/realtime' && !/^Bearer \S+/.test(req.headers.authorization || ''))
		return refuse(sock, 401, 'Unauthorized', 'application/json', JSON.stringify({ error: {
			message: 'You didn\'t provide an API key. You need to provide your API key in an ' +
				'Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).',
			type: 'invalid_request_error', param: null, code: null } }) + '\n', rec, log);

	const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
	sock.setNoDelay(true);
	sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
		`Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
	Object.assign(rec, { proto: 'websocket', status: 101, messages_in: 0, messages_out: 0,
		close_code: null });
	let closed = false;
	const send = (opcode, payload) => {
		if (closed)
			return;
		if (opcode <= 2) {
			rec.messages_out++;
			rec.bytes_out += payload.length;
		}
		sock.write(frame(opcode, payload));
	};
	const close = (code) => {
		if (closed)
			return;
		const p = Buffer.alloc(2);
		p.writeUInt16BE(code, 0);
		send(8, p);
		closed = true;
		sock.end();
	};
	const on_message = url.pathname === '/ws-echo'
		? (m) => send(m.opcode, m.payload)
		: (() => {
			const rt = realtime(url.searchParams.get('model') || '',
				(ev) => send(1, Buffer.from(JSON.stringify(ev))), rec);
			return (m) => {
				let ev = null;
				try {
					ev = JSON.parse(m.payload.toString('utf8'));
				} catch (e) {
					ev = { type: '(not JSON)' };
				}
				rt(ev);
			};
		})();
	const reader = new Reader();
	const feed = (chunk) => {
		reader.push(chunk);
		try {
			for (let m = reader.next(); m && !closed; m = reader.next()) {
				if (m.opcode === 8) {
					rec.close_code = m.payload.length >= 2 ? m.payload.readUInt16BE(0) : 1005;
					close(rec.close_code === 1005 ? 1000 : rec.close_code);
				} else if (m.opcode === 9) {
					send(10, m.payload);
				} else if (m.opcode === 1 || m.opcode === 2) {
					rec.messages_in++;
					rec.bytes_in += m.payload.length;
					on_message(m);
				}
			}
		} catch (e) {
			close(1002);
		}
	};
	if (head && head.length)
		feed(head);
	sock.on('data', feed);
	sock.on('close', () => log(rec));
}

module.exports = { upgrade };
