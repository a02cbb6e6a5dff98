#!/usr/bin/env node
// The official `@anthropic-ai/sdk`, unmodified, as an application would use it; prints what the
// SDK reported as one JSON line (see sdk_common.mjs for the common options and the output).
// Own options:
//   --api messages|count|models   (default messages; count = messages.countTokens)
//   --raw     stream by iterating messages.create({stream: true}) and adding up the usage of
//             message_start and message_delta by hand, instead of messages.stream() and its
//             finalMessage() (the SDK's own accumulator, the default)
import { load_sdk, parse_args, extra_headers, run, usage_exit } from './sdk_common.mjs';

const o = parse_args(process.argv.slice(2), { api: 'string', raw: 'flag' },
	{ api: 'messages', model: 'claude-haiku-4-5', key: 'sk-ant-api03-sim-test-0000',
		'max-tokens': 1024 });
const { mod, version } = load_sdk('@anthropic-ai/sdk');
const Anthropic = mod.Anthropic || mod.default;

const client = new Anthropic(Object.assign({ apiKey: o.key, maxRetries: o.retries,
	timeout: o.timeout, defaultHeaders: extra_headers(o) }, o.base ? { baseURL: o.base } : {}));
const meta = { sdk: 'anthropic', sdk_version: version, api: o.api, stream: o.stream };

function request() {
	const req = { model: o.model, max_tokens: o['max-tokens'],
		messages: [{ role: 'user', content: o.prompt }] };
	if (o.system !== undefined)
		req.system = o.system;
	return req;
}

function text_of(content) {
	return content.filter((b) => b.type === 'text').map((b) => b.text).join('');
}

async function messages(partial) {
	if (!o.stream) {
		const m = await client.messages.create(request());
		const text = text_of(m.content);
		return { model: m.model, usage: m.usage, text, text_len: text.length,
			finish: m.stop_reason, id: m.id, events: 0 };
	}
	if (o.raw) {
		const s = await client.messages.create(Object.assign(request(), { stream: true }));
		let text = '';
		let finish = null;
		let id = null;
		for await (const ev of s) {
			partial.events++;
			if (ev.type === 'message_start') {
				partial.model = ev.message.model;
				id = ev.message.id;
				partial.usage = Object.assign({}, ev.message.usage);
			} else if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') {
				text += ev.delta.text;
			} else if (ev.type === 'message_delta') {
				for (const [k, v] of Object.entries(ev.usage))
					if (v !== null && v !== undefined)
						partial.usage[k] = v;
				finish = ev.delta.stop_reason;
			}
			partial.text_len = text.length;
		}
		return { model: partial.model, usage: partial.usage, text, text_len: text.length,
			finish, id, events: partial.events };
	}
	const s = client.messages.stream(request());
	for await (const ev of s) {
		partial.events++;
		if (ev.type === 'message_start') {
			partial.model = ev.message.model;
			partial.usage = ev.message.usage;
		} else if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') {
			partial.text_len += ev.delta.text.length;
		}
	}
	const m = await s.finalMessage();
	const text = text_of(m.content);
	return { model: m.model, usage: m.usage, text, text_len: text.length, finish: m.stop_reason,
		id: m.id, events: partial.events };
}

async function count() {
	const r = await client.messages.countTokens({ model: o.model,
		messages: [{ role: 'user', content: o.prompt }] });
	return { model: null, usage: r, events: 0 };
}

async function models() {
	const ids = [];
	for await (const m of client.models.list())
		ids.push(m.id);
	return { model: null, usage: null, ids, events: 0 };
}

const apis = { messages, count, models };
if (!apis[o.api])
	usage_exit(`--api must be one of ${Object.keys(apis).join(', ')}`);
await run(meta, apis[o.api], (e) => e instanceof mod.APIError);
