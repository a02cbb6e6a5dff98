// Google Gemini API wire formats for llm_sim.js: models/{m}:generateContent (JSON),
// :streamGenerateContent (?alt=sse: "data: {...}\r\n\r\n" chunks; without alt=sse: one JSON
// array sent piece by piece, as Google does), :countTokens, GET models, usageMetadata, and the
// google.rpc error body {"error":{code, message, status, details?}}. Owns: the JSON shapes
// only. Borrows: routing contract, token plan and sending from llm_sim.js.
'use strict';

const { make_id, sse, bearer, push_text, need, opt_int } = require('./llm_sim_common');

const MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.0-flash', 'text-embedding-004'];
const RE_CALL = /^\/(v1beta|v1)\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;
const RE_MODELS = /^\/(v1beta|v1)\/models(?:\/([^/:]+))?$/;
const JSON_TYPE = 'application/json; charset=UTF-8';

function route(method, pathname, q) {
	let m = RE_CALL.exec(pathname);
	if (m)
		return { provider: 'gemini', endpoint: m[3], method: 'POST', version: m[1], model: m[2],
			sse: m[3] === 'streamGenerateContent' && q.get('alt') === 'sse' };
	m = RE_MODELS.exec(pathname);
	// GET /v1/models is OpenAI's and Anthropic's too: only /v1beta is taken for Gemini.
	if (m && m[1] === 'v1beta')
		return { provider: 'gemini', endpoint: 'models', method: 'GET', version: m[1],
			model_id: m[2] };
	return null;
}

function key(ctx) {
	if (typeof ctx.headers['x-goog-api-key'] === 'string')
		return { where: 'x-goog-api-key', value: ctx.headers['x-goog-api-key'] };
	if (ctx.query.has('key'))
		return { where: 'query', value: ctx.query.get('key') };
	const b = bearer(ctx.headers);
	return b === null ? null : { where: 'authorization', value: b };
}

function parse(ctx, j) {
	const r = ctx.route;
	if (r.endpoint === 'models')
		return { model: r.model_id || null, stream: false, texts: [] };
	const info = { model: r.model, stream: r.endpoint === 'streamGenerateContent', texts: [] };
	const sys = j.systemInstruction || j.system_instruction;
	if (sys && typeof sys === 'object')
		push_text(sys.parts, info.texts);
	need(Array.isArray(j.contents) && j.contents.length > 0,
		'* GenerateContentRequest.contents: contents is not specified\n');
	for (const c of j.contents) {
		need(c && typeof c === 'object' && Array.isArray(c.parts),
			'* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n');
		push_text(c.parts, info.texts);
	}
	const gc = j.generationConfig || j.generation_config || {};
	info.max = opt_int(gc.maxOutputTokens !== undefined ? gc.maxOutputTokens : gc.max_output_tokens,
		'generationConfig.maxOutputTokens');
	return info;
}

// usageMetadata with Google's habit of leaving out zero-valued counts.
function usage_meta(t, out_so_far, final) {
	const u = { promptTokenCount: t.prompt };
	if (out_so_far)
		u.candidatesTokenCount = out_so_far;
	u.totalTokenCount = t.prompt + out_so_far + t.reasoning;
	if (t.cached)
		u.cachedContentTokenCount = t.cached;
	u.promptTokensDetails = [{ modality: 'TEXT', tokenCount: t.prompt }];
	if (t.cached)
		u.cacheTokensDetails = [{ modality: 'TEXT', tokenCount: t.cached }];
	if (t.reasoning)
		u.thoughtsTokenCount = t.reasoning;
	if (final && out_so_far)
		u.candidatesTokensDetails = [{ modality: 'TEXT', tokenCount: out_so_far }];
	return u;
}

function reply(ctx) {
	const r = ctx.route;
	const t = ctx.tokens;
	if (r.endpoint === 'models') {
		const obj = (id) => ({ name: `models/${id}`, version: '001', displayName: id,
			inputTokenLimit: 1048576, outputTokenLimit: 65536,
			supportedGenerationMethods: ['generateContent', 'countTokens'] });
		return { status: 200, headers: { 'content-type': JSON_TYPE },
			json: r.model_id ? obj(r.model_id) : { models: MODELS.map(obj) } };
	}
	if (r.endpoint === 'countTokens')
		return { status: 200, headers: { 'content-type': JSON_TYPE }, json: { totalTokens: t.prompt,
			promptTokensDetails: [{ modality: 'TEXT', tokenCount: t.prompt }] } };

	const response_id = make_id('', ctx.body, 'gemini', 22);
	const finish = t.truncated ? 'MAX_TOKENS' : 'STOP';
	const chunk = (text, fin, u) => {
		const cand = { content: { parts: [{ text }], role: 'model' } };
		if (fin)
			cand.finishReason = finish;
		cand.index = 0;
		return { candidates: [cand], usageMetadata: u, modelVersion: ctx.served,
			responseId: response_id };
	};
	const usage = usage_meta(t, t.out, true);
	if (!ctx.info.stream)
		return { status: 200, headers: { 'content-type': JSON_TYPE }, usage,
			json: chunk(t.text, true, usage) };

	// One chunk per piece, each with the cumulative usage so far; the last one is final.
	const frames = [];
	const n = Math.max(1, t.pieces.length);
	for (let i = 0; i < n; i++) {
		const last = i === n - 1;
		const u = last ? usage : usage_meta(t, i + 1, false);
		const c = chunk(t.pieces[i] || '', last, u);
		let data;
		if (r.sse)
			data = sse(null, c, '\r\n');
		else
			data = (i === 0 ? '[' : ',\r\n') + JSON.stringify(c) + (last ? ']' : '');
		frames.push({ data, delta: i < t.pieces.length, usage: u });
	}
	return { frames, content_type: r.sse ? 'text/event-stream' : JSON_TYPE,
		headers: { 'x-gemini-service-tier': 'standard' }, usage };
}

// [status, google.rpc status, message] per error kind.
const ERRORS = {
	auth: [400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.'],
	nokey: [403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."],
	rate: [429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.'],
	server: [500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'],
	bad: [400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.'],
	overloaded: [503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'],
};
const STATUS_NAME = {
	400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
	409: 'ABORTED', 429: 'RESOURCE_EXHAUSTED', 499: 'CANCELLED', 500: 'INTERNAL',
	501: 'NOT_IMPLEMENTED', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};
const BY_STATUS = { 429: 'rate', 500: 'server', 503: 'overloaded' };

function error(ctx, kind, detail) {
	const name = typeof kind === 'number' ? BY_STATUS[kind] : kind;
	let e = ERRORS[name];
	if (!e) {
		let msg = detail || `Simulated error ${kind}`;
		if (kind === 401)
			msg = 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
		else if (kind === 404 && !detail)
			msg = `models/${ctx.route.model} is not found for API version ${ctx.route.version}, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`;
		e = [kind, STATUS_NAME[kind] || (kind >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION'), msg];
	}
	const [status, rpc, message] = e;
	const err = { code: status, message: (name === 'bad' && detail) || message, status: rpc };
	if (name === 'auth')
		err.details = [
			{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID',
				domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
			{ '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
		];
	return { status, headers: { 'content-type': JSON_TYPE }, json: { error: err } };
}

function stream_error_frame(ctx, sent) {
	const body = { error: { code: 500, message: ERRORS.server[2], status: 'INTERNAL' } };
	if (ctx.route.sse)
		return sse(null, body, '\r\n');
	return (sent ? ',\r\n' : '[') + JSON.stringify(body) + ']';
}

module.exports = { route, key, parse, reply, error, stream_error_frame };
