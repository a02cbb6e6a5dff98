// Helpers shared by the simulated providers (llm_sim*.js): the request-error type, stable ids,
// SSE framing, and the prompt-text walkers. Owns nothing stateful; Node built-ins only.
'use strict';

const crypto = require('crypto');

const CREATED = 1735689600; // 2025-01-01T00:00:00Z: the `created` of every object we make

class SimError extends Error {
	// <kind>: 'auth' | 'nokey' | 'rate' | 'server' | 'bad' | 'overloaded' or an HTTP status;
	// <detail>: the message for bad requests (shown to the client in the provider's shape).
	constructor(kind, detail) {
		super(detail || String(kind));
		this.kind = kind;
		this.detail = detail || null;
	}
}

// Deterministic ids: the same request body (and salt) gives the same id.
function make_id(prefix, body, salt, len) {
	return prefix + crypto.createHash('sha256').update(body).update(salt || '')
		.digest('hex').slice(0, len || 24);
}

// One SSE event. <event> may be null (data-only framing, as OpenAI chat and Gemini use);
// <eol> is the line ending ("\n", or "\r\n" as Gemini sends).
function sse(event, data, eol) {
	const e = eol || '\n';
	const d = typeof data === 'string' ? data : JSON.stringify(data);
	return (event ? `event: ${event}${e}` : '') + `data: ${d}${e}${e}`;
}

function bearer(headers) {
	const a = headers.authorization;
	if (typeof a !== 'string')
		return null;
	const m = /^Bearer\s+(.*)$/i.exec(a);
	return m ? m[1].trim() : '';
}

// Push the text of <content> into <out>: a string, or an array of parts whose text is in
// `.text` (OpenAI text/input_text/output_text parts, Anthropic text blocks, Gemini parts).
// Other parts (images, tool calls, ...) carry no counted text.
function push_text(content, out) {
	if (typeof content === 'string') {
		out.push(content);
	} else if (Array.isArray(content)) {
		for (const p of content) {
			if (typeof p === 'string')
				out.push(p);
			else if (p && typeof p === 'object' && typeof p.text === 'string')
				out.push(p.text);
		}
	}
	return out;
}

function need(cond, detail) {
	if (!cond)
		throw new SimError('bad', detail);
}

function opt_int(v, what) {
	if (v === undefined || v === null)
		return undefined;
	need(Number.isInteger(v) && v >= 0, `${what} must be a non-negative integer`);
	return v;
}

module.exports = { CREATED, SimError, make_id, sse, bearer, push_text, need, opt_int };
