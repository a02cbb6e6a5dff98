// Anthropic wire formats for llm_sim.js: POST /v1/messages (JSON, and SSE with message_start /
// content_block_start / ping / content_block_delta / content_block_stop / message_delta /
// message_stop), /v1/messages/count_tokens, GET /v1/models, and the error body
// {"type":"error","error":{type, message}}. Owns: the JSON shapes only. Borrows: routing
// contract, token plan and sending from llm_sim.js.
'use strict';

const { CREATED, SimError, make_id, sse, bearer, push_text, need, opt_int } =
	require('./llm_sim_common');

const SSE_TYPE = 'text/event-stream; charset=utf-8';
const MODELS = ['claude-haiku-4-5-20251001', 'claude-sonnet-4-6', 'claude-opus-4-7'];
const CREATED_AT = new Date(CREATED * 1000).toISOString().replace('.000Z', 'Z');

function route(method, pathname, q, headers) {
	if (pathname === '/v1/messages')
		return { provider: 'anthropic', endpoint: 'messages', method: 'POST' };
	if (pathname === '/v1/messages/count_tokens')
		return { provider: 'anthropic', endpoint: 'count_tokens', method: 'POST' };
	// /v1/models is OpenAI's path too: it is Anthropic's when the request says so.
	const m = /^\/v1\/models(?:\/([^/]+))?$/.exec(pathname);
	if (m && (headers['anthropic-version'] !== undefined || headers['x-api-key'] !== undefined))
		return { provider: 'anthropic', endpoint: 'models', method: 'GET', model_id: m[1] };
	return null;
}

function key(ctx) {
	if (typeof ctx.headers['x-api-key'] === 'string')
		return { where: 'x-api-key', value: ctx.headers['x-api-key'] };
	const b = bearer(ctx.headers);
	return b === null ? null : { where: 'authorization', value: b };
}

function precheck(ctx) {
	if (ctx.headers['anthropic-version'] === undefined)
		throw new SimError('bad', 'anthropic-version: header is required');
}

function parse(ctx, j) {
	const r = ctx.route;
	if (r.endpoint === 'models')
		return { model: r.model_id || null, stream: false, texts: [] };
	need(typeof j.model === 'string' && j.model.length > 0, 'model: Field required');
	need(Array.isArray(j.messages), 'messages: Field required');
	const info = { model: j.model, stream: j.stream === true, texts: [] };
	push_text(j.system, info.texts);
	for (const m of j.messages) {
		need(m && typeof m === 'object' && (m.role === 'user' || m.role === 'assistant'),
			"messages: Input tag does not match any of the expected tags: 'user', 'assistant'");
		push_text(m.content, info.texts);
	}
	if (r.endpoint === 'messages') {
		need(j.max_tokens !== undefined, 'max_tokens: Field required');
		info.max = opt_int(j.max_tokens, 'max_tokens');
	}
	return info;
}

function headers(ctx) {
	return { 'request-id': make_id('req_011CSim', ctx.body, 'anthropic', 16) };
}

function reply(ctx) {
	const r = ctx.route;
	const t = ctx.tokens;
	if (r.endpoint === 'models') {
		const obj = (id) => ({ type: 'model', id, display_name: id, created_at: CREATED_AT });
		return { status: 200, headers: headers(ctx), json: r.model_id ? obj(r.model_id)
			: { data: MODELS.map(obj), has_more: false, first_id: MODELS[0],
				last_id: MODELS[MODELS.length - 1] } };
	}
	const input = t.prompt - t.cached - t.cache_write; // input_tokens counts the uncached part
	if (r.endpoint === 'count_tokens')
		return { status: 200, headers: headers(ctx), json: { input_tokens: t.prompt } };

	const id = make_id('msg_01', ctx.body, '', 22);
	const output = t.out + t.reasoning;
	const stop = t.truncated ? 'max_tokens' : 'end_turn';
	const usage = {
		input_tokens: input,
		cache_creation_input_tokens: t.cache_write,
		cache_read_input_tokens: t.cached,
		cache_creation: { ephemeral_5m_input_tokens: t.cache_write, ephemeral_1h_input_tokens: 0 },
		output_tokens: output,
		service_tier: 'standard',
	};
	const message = (content, stop_reason, u) => ({ id, type: 'message', role: 'assistant',
		model: ctx.served, content, stop_reason, stop_sequence: null, usage: u });
	if (!ctx.info.stream)
		return { status: 200, headers: headers(ctx), usage,
			json: message([{ type: 'text', text: t.text }], stop, usage) };

	// message_start carries the input counts and an early output count; message_delta the
	// cumulative totals (output and, as the current API does, the input-side counts again).
	const start_usage = Object.assign({}, usage, { output_tokens: Math.min(1, output) });
	const final_usage = { input_tokens: input, cache_creation_input_tokens: t.cache_write,
		cache_read_input_tokens: t.cached, output_tokens: output };
	const frames = [];
	const ev = (type, body, extra) => frames.push(Object.assign({ data: sse(type,
		Object.assign({ type }, body)) }, extra));
	ev('message_start', { message: message([], null, start_usage) }, { usage: start_usage });
	ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
	ev('ping', {});
	for (const p of t.pieces)
		ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } },
			{ delta: true });
	ev('content_block_stop', { index: 0 });
	ev('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: final_usage },
		{ usage: final_usage });
	ev('message_stop', {});
	return { frames, content_type: SSE_TYPE, headers: headers(ctx), usage: final_usage };
}

// [status, type, message] per error kind.
const ERRORS = {
	auth: [401, 'authentication_error', 'invalid x-api-key'],
	nokey: [401, 'authentication_error', 'x-api-key header is required'],
	rate: [429, 'rate_limit_error', 'This request would exceed the rate limit for your organization (sim) of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the request rate or contact sales to discuss your options for a rate limit increase.'],
	server: [500, 'api_error', 'Internal server error'],
	bad: [400, 'invalid_request_error', 'Invalid request'],
	overloaded: [529, 'overloaded_error', 'Overloaded'],
};
const BY_STATUS = {
	400: 'bad', 401: 'auth', 429: 'rate', 500: 'server', 529: 'overloaded',
};
const TYPE_BY_STATUS = {
	403: 'permission_error', 404: 'not_found_error', 413: 'request_too_large',
	504: 'timeout_error',
};

function error(ctx, kind, detail) {
	const name = typeof kind === 'number' ? BY_STATUS[kind] : kind;
	let e = ERRORS[name];
	if (!e)
		e = [kind, TYPE_BY_STATUS[kind] || (kind >= 500 ? 'api_error' : 'invalid_request_error'),
			detail || `Simulated error ${kind}`];
	const [status, type, message] = e;
	const h = headers(ctx);
	if (status === 429)
		h['retry-after'] = '1';
	if (status === 401)
		h['x-should-retry'] = 'false';
	return { status, headers: h, json: { type: 'error', error: { type,
		message: (name === 'bad' && detail) || message }, request_id: h['request-id'] } };
}

function stream_error_frame() {
	return sse('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
}

module.exports = { route, key, precheck, parse, reply, error, stream_error_frame };
