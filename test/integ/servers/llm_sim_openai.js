// OpenAI wire formats for llm_sim.js: chat completions (JSON and SSE chunks with the optional
// final usage chunk), the Responses API (JSON and its typed SSE events), embeddings (float
// and base64), model listing, Azure OpenAI deployment paths, and both error body shapes.
// Owns: the JSON shapes only. Borrows: routing contract, token plan and sending from
// llm_sim.js (module interface: route, key, precheck, parse, reply, error, stream_error_frame).
'use strict';

const crypto = require('crypto');
const { CREATED, SimError, make_id, sse, bearer, push_text, need, opt_int } =
	require('./llm_sim_common');

const SSE_TYPE = 'text/event-stream; charset=utf-8';
const FINGERPRINT = 'fp_sim0001';
const MODELS = ['gpt-4o', 'gpt-4o-2024-08-06', 'gpt-4o-mini', 'gpt-4.1', 'o3-mini',
	'text-embedding-3-small', 'text-embedding-3-large'];
const PREFIX = '(?:/v1|/openai/v1|/openai|/api/v1|/v1beta/openai)?';
const RE_PATH = new RegExp(`^${PREFIX}/(chat/completions|responses|embeddings|models)(?:/([^/]+))?$`);
const RE_AZURE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;

function route(method, pathname) {
	let m = RE_AZURE.exec(pathname);
	if (m)
		return { provider: 'azure', endpoint: m[2] === 'embeddings' ? 'embeddings' : 'chat',
			method: 'POST', deployment: m[1] };
	m = RE_PATH.exec(pathname);
	if (!m || (m[2] !== undefined && m[1] !== 'models'))
		return null;
	const endpoint = m[1] === 'chat/completions' ? 'chat' : m[1];
	return { provider: 'openai', endpoint, method: endpoint === 'models' ? 'GET' : 'POST',
		model_id: m[2] };
}

function key(ctx) {
	if (ctx.route.provider === 'azure' && typeof ctx.headers['api-key'] === 'string')
		return { where: 'api-key', value: ctx.headers['api-key'] };
	const b = bearer(ctx.headers);
	return b === null ? null : { where: 'authorization', value: b };
}

function precheck(ctx) {
	if (ctx.route.provider === 'azure' && !ctx.query.get('api-version'))
		throw new SimError(404, 'Resource not found');
}

// Request -> {model, stream, max, texts, ...}; throws SimError('bad') like the API's 400s.
function parse(ctx, j) {
	const r = ctx.route;
	if (r.endpoint === 'models')
		return { model: r.model_id || null, stream: false, texts: [] };
	const model = j.model === undefined && r.provider === 'azure' ? undefined : j.model;
	if (r.provider !== 'azure')
		need(typeof model === 'string' && model.length > 0, "you must provide a model parameter");
	const info = { model: model === undefined ? null : model, deployment: r.deployment,
		stream: j.stream === true, texts: [] };
	if (r.endpoint === 'chat') {
		need(Array.isArray(j.messages) && j.messages.length > 0,
			"Missing required parameter: 'messages'.");
		for (const msg of j.messages) {
			need(msg && typeof msg === 'object' && typeof msg.role === 'string',
				"Invalid type for 'messages': each message needs a 'role'.");
			push_text(msg.content, info.texts);
		}
		info.max = opt_int(j.max_completion_tokens !== undefined ? j.max_completion_tokens
			: j.max_tokens, 'max_tokens');
		info.include_usage = !!(j.stream_options && j.stream_options.include_usage === true);
	} else if (r.endpoint === 'responses') {
		need(j.input !== undefined || j.previous_response_id !== undefined,
			"Missing required parameter: 'input'.");
		if (typeof j.instructions === 'string')
			info.texts.push(j.instructions);
		if (typeof j.input === 'string') {
			info.texts.push(j.input);
		} else if (Array.isArray(j.input)) {
			for (const item of j.input)
				if (item && typeof item === 'object')
					push_text(item.content, info.texts);
		}
		info.max = opt_int(j.max_output_tokens, 'max_output_tokens');
	} else { // embeddings
		need(j.input !== undefined, "Missing required parameter: 'input'.");
		const inputs = Array.isArray(j.input) && j.input.length && Array.isArray(j.input[0]) ? j.input
			: Array.isArray(j.input) && j.input.length && typeof j.input[0] === 'number' ? [j.input]
				: Array.isArray(j.input) ? j.input : [j.input];
		info.inputs = inputs;
		info.extra_prompt_tokens = 0;
		for (const x of inputs) {
			if (Array.isArray(x))
				info.extra_prompt_tokens += x.length; // token ids: one token each
			else {
				need(typeof x === 'string', "Invalid type for 'input'.");
				info.texts.push(x);
			}
		}
		info.stream = false;
		need(j.encoding_format === undefined || j.encoding_format === 'float' ||
			j.encoding_format === 'base64', "Invalid value for 'encoding_format'.");
		info.base64 = j.encoding_format === 'base64';
		info.dimensions = opt_int(j.dimensions, 'dimensions') || 8;
		need(info.dimensions <= 4096, "Invalid value for 'dimensions'.");
	}
	return info;
}

function headers(ctx) {
	return {
		'x-request-id': make_id('req_', ctx.body, 'openai', 32),
		'openai-processing-ms': '1',
		'openai-version': '2020-10-01',
	};
}

const AZURE_FILTER = {
	hate: { filtered: false, severity: 'safe' },
	self_harm: { filtered: false, severity: 'safe' },
	sexual: { filtered: false, severity: 'safe' },
	violence: { filtered: false, severity: 'safe' },
};

function chat_usage(t) {
	return {
		prompt_tokens: t.prompt,
		completion_tokens: t.out + t.reasoning,
		total_tokens: t.prompt + t.out + t.reasoning,
		prompt_tokens_details: { cached_tokens: t.cached, audio_tokens: 0 },
		completion_tokens_details: { reasoning_tokens: t.reasoning, audio_tokens: 0,
			accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
	};
}

function reply_chat(ctx) {
	const t = ctx.tokens;
	const azure = ctx.route.provider === 'azure';
	const id = make_id('chatcmpl-', ctx.body, '', 29);
	const usage = chat_usage(t);
	const finish = t.truncated ? 'length' : 'stop';
	const base = { id, object: 'chat.completion', created: CREATED, model: ctx.served };
	if (!ctx.info.stream) {
		const choice = { index: 0, message: { role: 'assistant', content: t.text, refusal: null,
			annotations: [] }, logprobs: null, finish_reason: finish };
		if (azure)
			choice.content_filter_results = AZURE_FILTER;
		const json = Object.assign(base, { choices: [choice], usage,
			system_fingerprint: FINGERPRINT });
		if (azure)
			json.prompt_filter_results = [{ prompt_index: 0, content_filter_results: AZURE_FILTER }];
		else
			json.service_tier = 'default';
		return { status: 200, json, usage, headers: headers(ctx) };
	}
	// Stream: chat.completion.chunk objects; with include_usage every chunk has "usage": null
	// and a last chunk with no choices carries the usage.
	const frames = [];
	const chunk = (choices, extra) => {
		const c = { id, object: 'chat.completion.chunk', created: CREATED, model: ctx.served,
			system_fingerprint: FINGERPRINT, choices };
		if (!azure)
			c.service_tier = 'default';
		if (ctx.info.include_usage)
			c.usage = null;
		return Object.assign(c, extra);
	};
	if (azure) // Azure opens with the prompt filter results in a chunk with no choices
		frames.push({ data: sse(null, { choices: [], created: 0, id: '', model: '', object: '',
			prompt_filter_results: [{ prompt_index: 0, content_filter_results: AZURE_FILTER }] }) });
	frames.push({ data: sse(null, chunk([{ index: 0, delta: { role: 'assistant', content: '',
		refusal: null }, logprobs: null, finish_reason: null }])) });
	for (const p of t.pieces) {
		const choice = { index: 0, delta: { content: p }, logprobs: null, finish_reason: null };
		if (azure)
			choice.content_filter_results = AZURE_FILTER;
		frames.push({ data: sse(null, chunk([choice])), delta: true });
	}
	frames.push({ data: sse(null, chunk([{ index: 0, delta: {}, logprobs: null,
		finish_reason: finish }])) });
	if (ctx.info.include_usage)
		frames.push({ data: sse(null, chunk([], { usage })), usage });
	frames.push({ data: sse(null, '[DONE]') });
	return { frames, content_type: SSE_TYPE, headers: headers(ctx),
		usage: ctx.info.include_usage ? usage : null };
}

function reply_responses(ctx) {
	const t = ctx.tokens;
	const id = make_id('resp_', ctx.body, '', 48);
	const msg_id = make_id('msg_', ctx.body, 'msg', 48);
	const usage = {
		input_tokens: t.prompt,
		input_tokens_details: { cached_tokens: t.cached },
		output_tokens: t.out + t.reasoning,
		output_tokens_details: { reasoning_tokens: t.reasoning },
		total_tokens: t.prompt + t.out + t.reasoning,
	};
	const reasoning = t.reasoning ? [{ id: make_id('rs_', ctx.body, 'rs', 48), type: 'reasoning',
		summary: [] }] : [];
	const part = (text) => ({ type: 'output_text', annotations: [], logprobs: [], text });
	const message = (status, content) => ({ id: msg_id, type: 'message', status, content,
		role: 'assistant' });
	const response = (status, output, u, err) => ({
		id, object: 'response', created_at: CREATED, status, background: false, error: err || null,
		incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
		instructions: null, max_output_tokens: ctx.info.max === undefined ? null : ctx.info.max,
		model: ctx.served, output, parallel_tool_calls: true, previous_response_id: null,
		reasoning: { effort: null, summary: null }, service_tier: 'default', store: true,
		temperature: 1.0, text: { format: { type: 'text' }, verbosity: 'medium' },
		tool_choice: 'auto', tools: [], top_p: 1.0, truncation: 'disabled', usage: u,
		user: null, metadata: {},
	});
	const final_status = t.truncated ? 'incomplete' : 'completed';
	const done_output = reasoning.concat([message('completed', [part(t.text)])]);
	if (!ctx.info.stream)
		return { status: 200, json: response(final_status, done_output, usage), usage,
			headers: headers(ctx) };

	const frames = [];
	let seq = 0;
	const ev = (type, body, extra) => {
		frames.push(Object.assign({ data: sse(type, Object.assign({ type, sequence_number: seq++ },
			body)) }, extra));
	};
	ev('response.created', { response: response('in_progress', [], null) });
	ev('response.in_progress', { response: response('in_progress', [], null) });
	const oi = reasoning.length; // output index of the message
	if (reasoning.length) {
		ev('response.output_item.added', { output_index: 0, item: reasoning[0] });
		ev('response.output_item.done', { output_index: 0, item: reasoning[0] });
	}
	ev('response.output_item.added', { output_index: oi, item: message('in_progress', []) });
	ev('response.content_part.added', { item_id: msg_id, output_index: oi, content_index: 0,
		part: part('') });
	for (const p of t.pieces)
		ev('response.output_text.delta', { item_id: msg_id, output_index: oi, content_index: 0,
			delta: p, logprobs: [] }, { delta: true });
	ev('response.output_text.done', { item_id: msg_id, output_index: oi, content_index: 0,
		text: t.text, logprobs: [] });
	ev('response.content_part.done', { item_id: msg_id, output_index: oi, content_index: 0,
		part: part(t.text) });
	ev('response.output_item.done', { output_index: oi, item: done_output[oi] });
	// A failure mid-stream (stream_error knob) ends with response.failed, as the API does when
	// the model errors after it started answering.
	ctx.failed_frame = (seq) => sse('response.failed', { type: 'response.failed',
		sequence_number: seq, response: response('failed', [], null,
			{ code: 'server_error', message: ERRORS.server[1] }) });
	ev(t.truncated ? 'response.incomplete' : 'response.completed',
		{ response: response(final_status, done_output, usage) }, { usage });
	return { frames, content_type: SSE_TYPE, headers: headers(ctx), usage };
}

// A deterministic vector per input: bytes of SHA-256(model, index, input) mapped to [-1, 1).
function vector(model, i, input, dims) {
	const v = new Float32Array(dims);
	let block = Buffer.alloc(0);
	for (let k = 0; k < dims; k++) {
		if (k % 32 === 0)
			block = crypto.createHash('sha256').update(`${model}\0${i}\0${JSON.stringify(input)}\0${k}`)
				.digest();
		v[k] = (block[k % 32] - 128) / 128;
	}
	return v;
}

function reply_embeddings(ctx) {
	const info = ctx.info;
	const usage = { prompt_tokens: ctx.tokens.prompt, total_tokens: ctx.tokens.prompt };
	const data = info.inputs.map((x, i) => {
		const v = vector(info.base_model || info.deployment, i, x, info.dimensions);
		return { object: 'embedding', index: i, embedding: info.base64
			? Buffer.from(v.buffer).toString('base64') : Array.from(v) };
	});
	return { status: 200, json: { object: 'list', data, model: ctx.served, usage }, usage,
		headers: headers(ctx) };
}

function model_obj(id) {
	return { id, object: 'model', created: CREATED, owned_by: 'system' };
}

function reply(ctx) {
	switch (ctx.route.endpoint) {
	case 'chat': return reply_chat(ctx);
	case 'responses': return reply_responses(ctx);
	case 'embeddings': return reply_embeddings(ctx);
	default: // models
		return { status: 200, headers: headers(ctx), json: ctx.route.model_id
			? model_obj(ctx.route.model_id) : { object: 'list', data: MODELS.map(model_obj) } };
	}
}

// [status, message, type, code] per error kind, OpenAI's shape.
const ERRORS = {
	auth: [401, 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
		'invalid_request_error', 'invalid_api_key'],
	nokey: [401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
		'invalid_request_error', null],
	rate: [429, 'Rate limit reached for requests in organization org-sim on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.',
		'requests', 'rate_limit_exceeded'],
	server: [500, 'The server had an error while processing your request. Sorry about that!',
		'server_error', null],
	bad: [400, 'Invalid request.', 'invalid_request_error', null],
	overloaded: [503, 'The engine is currently overloaded, please try again later.',
		'server_error', null],
};
const BY_STATUS = { 400: 'bad', 401: 'auth', 429: 'rate', 500: 'server', 503: 'overloaded' };

// Azure's own error bodies ({code, message}) for what its gateway answers itself.
const AZURE = {
	auth: [401, '401', 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.'],
	nokey: [401, '401', 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.'],
	rate: [429, '429', 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second.'],
	server: [500, 'InternalServerError', 'The service is temporarily unable to process your request. Please try again later.'],
	overloaded: [503, 'ServiceUnavailable', 'The service is temporarily unable to process your request. Please try again later.'],
};

function error(ctx, kind, detail) {
	const h = headers(ctx);
	const name = typeof kind === 'number' ? BY_STATUS[kind] : kind;
	if (ctx.route.provider === 'azure' && (AZURE[name] || (typeof kind === 'number' && !name))) {
		const [status, code, message] = AZURE[name] || [kind, String(kind), detail || 'Simulated error'];
		if (status === 429)
			h['retry-after'] = '1';
		return { status, headers: h, json: { error: { code, message } } };
	}
	let e = ERRORS[name];
	if (!e && kind === 404 && !detail)
		e = [404, `The model \`${(ctx.info && (ctx.info.base_model || ctx.info.deployment)) || ''}\` does not exist or you do not have access to it.`,
			'invalid_request_error', 'model_not_found'];
	if (!e)
		e = [kind, detail || `Simulated error ${kind}`,
			kind >= 500 ? 'server_error' : 'invalid_request_error', null];
	const [status, message, type, code] = e;
	if (status === 429)
		h['retry-after'] = '1';
	return { status, headers: h, json: { error: { message: (name === 'bad' && detail) || message,
		type, param: null, code } } };
}

// The in-stream error after <sent> frames (a Responses event's sequence_number is its index).
function stream_error_frame(ctx, sent) {
	if (ctx.route.endpoint === 'responses')
		return ctx.failed_frame(sent);
	return sse(null, { error: { message: ERRORS.server[1], type: 'server_error', param: null,
		code: null } });
}

module.exports = { route, key, precheck, parse, reply, error, stream_error_frame };
