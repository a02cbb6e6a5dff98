#!/usr/bin/env node
// The official `@google/genai` SDK (Gemini API, not Vertex), unmodified, as an application would
// use it; prints what the SDK reported as one JSON line (see sdk_common.mjs for the common
// options and the output). model = the response's modelVersion; usage = its usageMetadata
// (streaming: the last chunk's). Own options: --api generate|count (default generate).
import { load_sdk, parse_args, extra_headers, run, usage_exit } from './sdk_common.mjs';

const o = parse_args(process.argv.slice(2), { api: 'string' },
	{ api: 'generate', model: 'gemini-2.5-flash', key: 'AIzaSim-test-0000' });
const { mod, version } = load_sdk('@google/genai');
const { GoogleGenAI, ApiError } = mod;

const http = { headers: extra_headers(o), timeout: o.timeout };
if (o.base)
	http.baseUrl = o.base;
const ai = new GoogleGenAI({ apiKey: o.key, httpOptions: http });
const meta = { sdk: 'genai', sdk_version: version, api: o.api, stream: o.stream };

function request() {
	const config = {};
	if (o['max-tokens'] !== undefined)
		config.maxOutputTokens = o['max-tokens'];
	if (o.system !== undefined)
		config.systemInstruction = o.system;
	return { model: o.model, contents: o.prompt, config };
}

function finish_of(r) {
	return r.candidates && r.candidates[0] ? r.candidates[0].finishReason || null : null;
}

async function generate(partial) {
	if (!o.stream) {
		const r = await ai.models.generateContent(request());
		const text = r.text || '';
		return { model: r.modelVersion, usage: r.usageMetadata, text, text_len: text.length,
			finish: finish_of(r), id: r.responseId, events: 0 };
	}
	const s = await ai.models.generateContentStream(request());
	let text = '';
	let finish = null;
	let id = null;
	for await (const c of s) {
		partial.events++;
		text += c.text || '';
		if (c.usageMetadata)
			partial.usage = c.usageMetadata;
		if (c.modelVersion)
			partial.model = c.modelVersion;
		if (c.responseId)
			id = c.responseId;
		finish = finish_of(c) || finish;
		partial.text_len = text.length;
	}
	return { model: partial.model, usage: partial.usage, text, text_len: text.length, finish, id,
		events: partial.events };
}

async function count() {
	const r = await ai.models.countTokens({ model: o.model, contents: o.prompt });
	delete r.sdkHttpResponse; // the SDK's copy of the HTTP headers, not part of the answer
	return { model: null, usage: r, events: 0 };
}

const apis = { generate, count };
if (!apis[o.api])
	usage_exit(`--api must be one of ${Object.keys(apis).join(', ')}`);
await run(meta, apis[o.api], (e) => e instanceof ApiError);
