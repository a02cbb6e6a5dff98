#!/usr/bin/env node
// The official `openai` SDK, unmodified, as an application would use it; prints what the SDK
// reported as one JSON line (see sdk_common.mjs for the common options and the output).
// Own options:
//   --api chat|responses|embeddings|models   (default chat)
//   --no-usage          chat stream without stream_options.include_usage
//   --azure             AzureOpenAI client: --endpoint URL (default https://myres.openai.azure.com),
//                       --deployment NAME (default: the model), --api-version V (2024-10-21)
//   --input TEXT        embeddings input (repeatable; default: the prompt)
// Default model: gpt-4o (embeddings: text-embedding-3-small).
// Streams: chat iterates create({stream: true}); responses uses responses.stream() and its
// finalResponse() (the SDK's own event accumulator).
import { load_sdk, parse_args, extra_headers, run, usage_exit } from './sdk_common.mjs';

const o = parse_args(process.argv.slice(2), {
	api: 'string', 'no-usage': 'flag', azure: 'flag', endpoint: 'string', deployment: 'string',
	'api-version': 'string', input: 'list',
}, { api: 'chat', endpoint: 'https://myres.openai.azure.com',
	'api-version': '2024-10-21', input: [] });
if (o.model === undefined)
	o.model = o.api === 'embeddings' ? 'text-embedding-3-small' : 'gpt-4o';
const { mod, version } = load_sdk('openai');
const { OpenAI, AzureOpenAI, APIError } = mod;

const common = { apiKey: o.key, maxRetries: o.retries, timeout: o.timeout,
	defaultHeaders: extra_headers(o) };
const client = o.azure
	? new AzureOpenAI(Object.assign(common, { endpoint: o.endpoint, apiVersion: o['api-version'],
		deployment: o.deployment || o.model }))
	: new OpenAI(Object.assign(common, o.base ? { baseURL: o.base } : {}));

const meta = { sdk: 'openai', sdk_version: version, api: o.azure ? `azure-${o.api}` : o.api,
	stream: o.stream };

function chat_messages() {
	const m = [];
	if (o.system !== undefined)
		m.push({ role: 'system', content: o.system });
	m.push({ role: 'user', content: o.prompt });
	return m;
}

async function chat(partial) {
	const req = { model: o.model, messages: chat_messages() };
	if (o['max-tokens'] !== undefined)
		req.max_tokens = o['max-tokens'];
	if (!o.stream) {
		const r = await client.chat.completions.create(req);
		const c = r.choices[0];
		return { model: r.model, usage: r.usage, text: c.message.content,
			text_len: c.message.content.length, finish: c.finish_reason, id: r.id, events: 0 };
	}
	req.stream = true;
	if (!o['no-usage'])
		req.stream_options = { include_usage: true };
	const s = await client.chat.completions.create(req);
	let text = '';
	let finish = null;
	let id = null;
	for await (const chunk of s) {
		partial.events++;
		if (chunk.model) // Azure's first chunk (prompt filter results) has model ""
			partial.model = chunk.model;
		if (chunk.id)
			id = chunk.id;
		if (chunk.usage)
			partial.usage = chunk.usage;
		for (const c of chunk.choices || []) {
			if (c.delta && typeof c.delta.content === 'string')
				text += c.delta.content;
			if (c.finish_reason)
				finish = c.finish_reason;
		}
		partial.text_len = text.length;
	}
	return { model: partial.model, usage: partial.usage, text, text_len: text.length, finish, id,
		events: partial.events };
}

async function responses(partial) {
	const req = { model: o.model, input: o.prompt };
	if (o.system !== undefined)
		req.instructions = o.system;
	if (o['max-tokens'] !== undefined)
		req.max_output_tokens = o['max-tokens'];
	let r;
	if (!o.stream) {
		r = await client.responses.create(req);
	} else {
		const s = client.responses.stream(req);
		for await (const ev of s) {
			partial.events++;
			if (ev.type === 'response.output_text.delta')
				partial.text_len += ev.delta.length;
			if (ev.response && ev.response.model)
				partial.model = ev.response.model;
			if (ev.response && ev.response.usage)
				partial.usage = ev.response.usage;
		}
		r = await s.finalResponse();
	}
	return { model: r.model, usage: r.usage, text: r.output_text, text_len: r.output_text.length,
		finish: r.status, id: r.id, events: partial.events };
}

async function embeddings() {
	const input = o.input.length ? (o.input.length === 1 ? o.input[0] : o.input) : o.prompt;
	const r = await client.embeddings.create({ model: o.model, input });
	return { model: r.model, usage: r.usage, vectors: r.data.length,
		dims: r.data.length ? r.data[0].embedding.length : 0,
		first: r.data.length ? r.data[0].embedding.slice(0, 2) : [], events: 0 };
}

async function models() {
	const ids = [];
	for await (const m of client.models.list())
		ids.push(m.id);
	return { model: null, usage: null, ids, events: 0 };
}

const apis = { chat, responses, embeddings, models };
if (!apis[o.api])
	usage_exit(`--api must be one of ${Object.keys(apis).join(', ')}`);
await run(meta, apis[o.api], (e) => e instanceof APIError);
