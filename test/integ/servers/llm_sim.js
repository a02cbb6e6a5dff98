// Simulated LLM providers for provider_server.js: OpenAI (+ Azure OpenAI and the
// OpenAI-compatible paths), Anthropic and Google Gemini, speaking their real wire formats
// (JSON bodies, SSE framing and event types, usage fields, error bodies and statuses) over
// whatever transport the server gives (HTTPS h2 / http1.1, plain HTTP). Deterministic.
// Owns: routing, key checks, knobs, the token rule, the send loop (delays, cuts), the log
// fields. Borrows: the wire shapes from llm_sim_openai.js, llm_sim_anthropic.js,
// llm_sim_gemini.js; the request log record (`rec`) and its writer from provider_server.js.
// Node built-ins only.
//
// Routes (anything else falls through to the server's 404):
//   OpenAI     POST .../chat/completions (any prefix: /v1, /openai/v1 (Groq), /api/v1
//                   (OpenRouter), /v1beta/openai (Gemini's compat), none (DeepSeek, Perplexity))
//              POST .../responses, POST .../embeddings (float or base64, as asked),
//              GET /v1/models, GET /v1/models/{id}
//   Azure      POST /openai/deployments/{dep}/chat/completions?api-version=V (also /embeddings;
//              without api-version: 404 "Resource not found", as Azure answers)
//   Anthropic  POST /v1/messages, POST /v1/messages/count_tokens; GET /v1/models[/{id}] when
//              the request carries anthropic-version or x-api-key (else it is OpenAI's)
//   Gemini     POST /v1beta/models/{model}:generateContent, :countTokens,
//              :streamGenerateContent?alt=sse (SSE) or without alt=sse (a JSON array sent
//              piece by piece), also under /v1/; GET /v1beta/models[/{model}]
// A wrong method on a route is a 405 in the provider's shape.
//
// Keys, where each provider takes them (the raw key is never logged; rec.path has ?key=
// redacted). A request without one gets the provider's real answer to that; a key containing
// "invalid" gets its invalid-key answer:
//   OpenAI     Authorization: Bearer K           missing: 401 invalid_request_error
//   Azure      api-key: K (or Bearer)            missing: 401 {"error":{"code":"401",...}}
//   Anthropic  x-api-key: K (or Bearer)          missing: 401 authentication_error
//              (anthropic-version is required too: 400 invalid_request_error without it)
//   Gemini     x-goog-api-key: K or ?key=K       missing: 403 PERMISSION_DENIED; invalid: 400
//                                                API_KEY_INVALID (as Google does, not 401)
//
// Token rule (same for every provider, so a test can compute what to expect):
//   P = max(1, ceil(C / 4)), C = Unicode code points of all prompt text: message contents
//       (strings and text parts), system / instructions / systemInstruction; roles, tool
//       definitions and non-text parts do not count. Embeddings: the inputs' text (a token
//       array counts one per element).
//   N = the `out` knob, default 12, cut to the request's max tokens (max_tokens,
//       max_completion_tokens, max_output_tokens, generationConfig.maxOutputTokens) when
//       that is smaller; then the finish reason is the provider's "length" one.
//   The reply text is N pieces of 4 characters cycling through
//   "Simulated reply from the modelux test provider. " (12 pieces = the sentence once), so
//   its length is 4 * N. Streams send one text delta per piece.
//   Knobs cached=X, cache_write=W, reasoning=R add the cached-input, cache-creation and
//   reasoning counts; they are reported as each provider does:
//   OpenAI chat   prompt_tokens P, completion_tokens N+R, total P+N+R,
//                 prompt_tokens_details.cached_tokens X, completion_tokens_details.reasoning_tokens R
//   OpenAI resp.  input_tokens P, output_tokens N+R, total, input_tokens_details.cached_tokens X,
//                 output_tokens_details.reasoning_tokens R
//   Embeddings    prompt_tokens P, total_tokens P
//   Anthropic     input_tokens P-X-W (uncached part), cache_read_input_tokens X,
//                 cache_creation_input_tokens W, output_tokens N+R
//   Gemini        promptTokenCount P, candidatesTokenCount N, thoughtsTokenCount R,
//                 cachedContentTokenCount X, totalTokenCount P+N+R (zero-valued fields
//                 omitted, as Google's JSON does)
//   X is capped at P, W at P-X.
//
// Served model: the requested model (knob suffix removed) mapped through SERVED below
// (e.g. gpt-4o -> gpt-4o-2024-08-06), unchanged when not listed; the served= knob overrides.
//
// Knobs: header `x-sim: k=v, k=v` (`,` `;` or spaces between), and/or a suffix on the model
// name `gpt-4o~error=rate~out=5` (Gemini: in the URL, Azure: in the deployment or body model).
// An unknown knob or a bad value is a 400 in the provider's shape.
//   error=auth|nokey|rate|server|bad|overloaded|NNN   answer with that error (the provider's
//         body and status; NNN = any 4xx/5xx status with the provider's shape for it)
//   stream_error=K   stream: right after the K-th text delta (K = 0: before the first; K is
//         capped at the number of deltas), the provider's in-stream error event, then the
//         stream ends normally (HTTP 200; no usage after it). OpenAI chat: a data chunk with
//         "error"; Responses: response.failed; Anthropic: event: error (overloaded_error);
//         Gemini: a chunk with a google.rpc error
//   cut=K            stream: right after the K-th text delta (same K rule), before any later
//         frame (so before the final usage), reset the stream: h2 RST_STREAM INTERNAL_ERROR,
//         http/1.1 connection closed mid-chunked-body, 100 ms after the last write so the
//         client has read what came before; non-stream: reset after half of the JSON body
//   delay=MS         stream: wait MS before each event (slow stream); non-stream: before the body
//   ttfb=MS          wait MS before the response headers
//   out=N, cached=X, cache_write=W, reasoning=R   token counts (see above)
//   served=NAME      served model
//
// Log: the server's JSON line of each LLM request gets an "llm" object:
//   {provider, endpoint, model (requested, as sent), served_model, stream, knobs, key_where,
//    key_last4, usage (the provider-native usage object the client received last: the final
//    one when complete; for a cut stream the last one sent before the cut, null if none),
//    usage_planned (what the complete answer carries), completed, cut, error ({status, type})}
'use strict';

const http2 = require('http2');
const { CREATED, SimError } = require('./llm_sim_common');
const openai = require('./llm_sim_openai');
const anthropic = require('./llm_sim_anthropic');
const gemini = require('./llm_sim_gemini');

const PROVIDERS = [anthropic, gemini, openai]; // openai last: its routes are the catch-all
const MAX_BODY = 16 * 1024 * 1024;
const MAX_KNOB = 10000000;
const DEFAULT_OUT = 12;
const PHRASE = 'Simulated reply from the modelux test provider. ';

// Requested model -> served model, to tell the two apart in records.
const SERVED = {
	'gpt-4o': 'gpt-4o-2024-08-06',
	'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
	'gpt-4.1': 'gpt-4.1-2025-04-14',
	'o3-mini': 'o3-mini-2025-01-31',
	'claude-haiku-4-5': 'claude-haiku-4-5-20251001',
	'claude-sonnet-4-5': 'claude-sonnet-4-5-20250929',
	'claude-3-5-haiku-latest': 'claude-3-5-haiku-20241022',
	'gemini-flash-latest': 'gemini-2.5-flash',
	'gemini-pro-latest': 'gemini-2.5-pro',
};

const ERROR_KINDS = new Set(['auth', 'nokey', 'rate', 'server', 'bad', 'overloaded']);
const NUM_KNOBS = new Set(['stream_error', 'cut', 'delay', 'ttfb', 'out', 'cached', 'cache_write',
	'reasoning']);

// Knobs from "k=v, k=v" (header) or the "~k=v~k=v" model suffix; throws SimError('bad').
function parse_knobs(text, sep, into) {
	for (const item of text.split(sep)) {
		if (!item)
			continue;
		const eq = item.indexOf('=');
		const k = eq < 0 ? item : item.slice(0, eq);
		const v = eq < 0 ? '' : item.slice(eq + 1);
		if (k === 'error') {
			if (!ERROR_KINDS.has(v) && !(/^[45][0-9][0-9]$/.test(v)))
				throw new SimError('bad', `x-sim: error must be one of ${[...ERROR_KINDS].join(', ')} or a 4xx/5xx status, not '${v}'`);
			into.error = /^[0-9]+$/.test(v) ? Number(v) : v;
		} else if (k === 'served') {
			if (!/^[A-Za-z0-9._:/-]+$/.test(v))
				throw new SimError('bad', `x-sim: bad served model '${v}'`);
			into.served = v;
		} else if (NUM_KNOBS.has(k)) {
			if (!/^[0-9]+$/.test(v) || Number(v) > MAX_KNOB)
				throw new SimError('bad', `x-sim: ${k} must be an integer 0..${MAX_KNOB}, not '${v}'`);
			into[k] = Number(v);
		} else {
			throw new SimError('bad', `x-sim: unknown knob '${k}'`);
		}
	}
	return into;
}

// Split "model~k=v~k=v" into the model and its knobs (merged into <knobs>).
function model_knobs(model, knobs) {
	if (typeof model !== 'string')
		return model;
	const i = model.indexOf('~');
	if (i < 0)
		return model;
	parse_knobs(model.slice(i + 1), '~', knobs);
	return model.slice(0, i);
}

function served_model(base, knobs) {
	if (knobs.served)
		return knobs.served;
	return Object.prototype.hasOwnProperty.call(SERVED, base) ? SERVED[base] : base;
}

function code_points(s) {
	let n = 0;
	for (const _ of s) // eslint-disable-line no-unused-vars
		n++;
	return n;
}

// Token plan of one request (see the header). <texts>: prompt strings; <max>: requested cap.
function plan_tokens(texts, max, knobs, extra_prompt_tokens) {
	let chars = 0;
	for (const t of texts)
		chars += code_points(t);
	const prompt = Math.max(1, Math.ceil(chars / 4) + (extra_prompt_tokens || 0));
	const cached = Math.min(knobs.cached || 0, prompt);
	const cache_write = Math.min(knobs.cache_write || 0, prompt - cached);
	const wanted = knobs.out === undefined ? DEFAULT_OUT : knobs.out;
	const capped = typeof max === 'number' && max >= 0 && max < wanted;
	const out = capped ? max : wanted;
	const pieces = [];
	for (let i = 0; i < out; i++) {
		const at = (4 * i) % PHRASE.length;
		pieces.push(PHRASE.slice(at, at + 4));
	}
	return {
		prompt, cached, cache_write, out, reasoning: knobs.reasoning || 0,
		truncated: capped, pieces, text: pieces.join(''),
	};
}

function key_last4(k) {
	return typeof k === 'string' && k.length >= 8 ? k.slice(-4) : null;
}

function sleep(ms) {
	return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

// Reset the response mid-body: RST_STREAM on h2, a closed connection on http/1.1. The reset
// comes CUT_GRACE_MS after the last write: a client's HTTP stack drops data it has received but
// not yet handed up when the stream errors, and the point of a cut is a client that saw part
// of the answer.
const CUT_GRACE_MS = 100;
async function reset(res) {
	await sleep(CUT_GRACE_MS);
	if (gone(res))
		return;
	if (res.stream && typeof res.stream.close === 'function')
		res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
	else
		res.socket.destroy();
}

function gone(res) {
	return res.destroyed || res.writableEnded || (res.stream && res.stream.destroyed);
}

// Write and wait for drain when the transport is full. Resolves false when the client left.
function write(res, rec, chunk) {
	if (gone(res))
		return Promise.resolve(false);
	const b = Buffer.from(chunk);
	rec.bytes_out += b.length;
	if (res.write(b))
		return Promise.resolve(true);
	return new Promise((resolve) => {
		const done = () => {
			res.off('drain', done);
			res.off('close', done);
			resolve(!gone(res));
		};
		res.once('drain', done);
		res.once('close', done);
	});
}

function head(res, status, headers) {
	if (gone(res))
		return false;
	res.writeHead(status, headers);
	if (res.flushHeaders)
		res.flushHeaders();
	return true;
}

async function send_json(res, rec, llm, knobs, out) {
	const body = Buffer.from(JSON.stringify(out.json));
	await sleep(knobs.ttfb);
	if (!head(res, out.status, Object.assign({
		'content-type': 'application/json',
		'content-length': body.length,
	}, out.headers)))
		return;
	await sleep(knobs.delay);
	if (knobs.cut !== undefined && out.status < 400) {
		await write(res, rec, body.subarray(0, body.length >> 1));
		llm.cut = true;
		llm.usage = null;
		return reset(res);
	}
	if (await write(res, rec, body)) {
		llm.completed = out.status < 400;
		res.end();
	}
}

// <out.frames>: [{data, delta (a text delta: counts for cut/stream_error), usage}].
async function send_stream(res, rec, llm, knobs, out, mod, ctx) {
	await sleep(knobs.ttfb);
	if (!head(res, 200, Object.assign({
		'content-type': out.content_type,
		'cache-control': 'no-cache',
	}, out.headers)))
		return;
	// cut=K / stream_error=K act right after the K-th text delta, before whatever frame comes
	// next (K = 0: before the first delta); K is capped at the number of deltas.
	const n_deltas = out.frames.filter((f) => f.delta).length;
	const at = (k) => (k === undefined ? undefined : Math.min(k, n_deltas));
	const cut = at(knobs.cut);
	const fail = at(knobs.stream_error);
	const now = (k, f) => k !== undefined && deltas === k && (k > 0 || f.delta);
	let deltas = 0;
	let sent = 0;
	for (const f of out.frames) {
		if (now(cut, f)) {
			llm.cut = true;
			return reset(res);
		}
		if (now(fail, f)) {
			await sleep(knobs.delay);
			llm.error = { status: 200, type: 'stream_error' };
			if (await write(res, rec, mod.stream_error_frame(ctx, sent)))
				res.end();
			return;
		}
		await sleep(knobs.delay);
		if (!await write(res, rec, f.data))
			return;
		sent++;
		if (f.delta)
			deltas++;
		if (f.usage)
			llm.usage = f.usage;
	}
	if (cut !== undefined) { // a stream without text deltas: cut after its last frame
		llm.cut = true;
		return reset(res);
	}
	llm.completed = true;
	res.end();
}

function send_error(res, rec, llm, mod, ctx, kind, detail) {
	const e = mod.error(ctx, kind, detail);
	llm.error = { status: e.status, type: typeof kind === 'number' ? 'status' : kind };
	llm.usage = null;
	return send_json(res, rec, llm, {}, { status: e.status, json: e.json, headers: e.headers });
}

// Handle an LLM route. Returns false (nothing sent) when <url> is not one.
function serve(req, res, rec, url) {
	const q = url.searchParams;
	let pathname;
	try {
		pathname = decodeURIComponent(url.pathname);
	} catch (e) {
		return false;
	}
	let mod = null;
	let route = null;
	for (const m of PROVIDERS) {
		route = m.route(req.method, pathname, q, req.headers);
		if (route) {
			mod = m;
			break;
		}
	}
	if (!route)
		return false;

	const llm = {
		provider: route.provider, endpoint: route.endpoint, model: null, served_model: null,
		stream: false, knobs: {}, key_where: null, key_last4: null, usage: null,
		usage_planned: null, completed: false, cut: false, error: null,
	};
	rec.llm = llm;
	if (q.has('key')) { // never log a key given in the URL
		const u = new URL(req.url, 'http://x');
		u.searchParams.set('key', 'REDACTED');
		rec.path = u.pathname + u.search;
	}

	const chunks = [];
	let size = 0;
	let too_big = false;
	req.on('data', (c) => {
		size += c.length;
		if (size > MAX_BODY)
			too_big = true;
		else
			chunks.push(c);
	});
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		const ctx = { route, query: q, headers: req.headers, body, created: CREATED };
		respond(req, res, rec, llm, mod, ctx, too_big).catch((e) => {
			process.stderr.write(`llm_sim: ${e.stack || e}\n`);
			if (!res.headersSent)
				send_error(res, rec, llm, mod, ctx, 'server', null);
			else
				reset(res);
		});
	});
	return true;
}

async function respond(req, res, rec, llm, mod, ctx, too_big) {
	const route = ctx.route;
	const key = mod.key(ctx);
	if (key) {
		llm.key_where = key.where;
		llm.key_last4 = key_last4(key.value);
	}
	if (route.method !== req.method)
		return send_error(res, rec, llm, mod, ctx, 405, `${req.method} is not allowed here`);
	if (!key || !key.value)
		return send_error(res, rec, llm, mod, ctx, 'nokey', null);
	if (/invalid/i.test(key.value))
		return send_error(res, rec, llm, mod, ctx, 'auth', null);
	if (too_big)
		return send_error(res, rec, llm, mod, ctx, 413, 'request body too large');
	let json = null;
	if (route.method === 'POST') {
		try {
			json = JSON.parse(ctx.body.toString('utf8'));
		} catch (e) {
			return send_error(res, rec, llm, mod, ctx, 'bad', 'invalid JSON body');
		}
		if (json === null || typeof json !== 'object' || Array.isArray(json))
			return send_error(res, rec, llm, mod, ctx, 'bad', 'the body must be a JSON object');
	}

	const knobs = {};
	let info;
	try {
		if (mod.precheck)
			mod.precheck(ctx); // throws SimError: a header or query parameter is missing
		if (typeof req.headers['x-sim'] === 'string')
			parse_knobs(req.headers['x-sim'], /[\s,;]+/, knobs);
		info = mod.parse(ctx, json); // {model (as sent), base_model, stream, max, texts, ...}
		llm.model = info.model;
		llm.stream = !!info.stream;
		info.base_model = model_knobs(info.model, knobs);
		if (info.deployment !== undefined)
			info.deployment = model_knobs(info.deployment, knobs);
	} catch (e) {
		if (!(e instanceof SimError))
			throw e;
		return send_error(res, rec, llm, mod, ctx, e.kind, e.detail);
	}
	llm.knobs = knobs;
	llm.served_model = served_model(info.base_model || info.deployment || '', knobs);
	ctx.info = info;
	if (knobs.error !== undefined)
		return send_error(res, rec, llm, mod, ctx, knobs.error, null);

	ctx.served = llm.served_model;
	ctx.tokens = plan_tokens(info.texts || [], info.max, knobs, info.extra_prompt_tokens);
	const out = mod.reply(ctx);
	llm.usage_planned = out.usage || null;
	if (out.frames)
		return send_stream(res, rec, llm, knobs, out, mod, ctx);
	llm.usage = out.usage || null;
	return send_json(res, rec, llm, knobs, out);
}

module.exports = { serve, plan_tokens, PHRASE };
