// WebSocket clients for the integration tests, over wss:// to the real provider host names with
// NODE_EXTRA_CA_CERTS, as an application would run them.
//
//   node ws_client.mjs realtime [--model M] [--prompt TEXT] [--key K] [--header 'K: V']...
//       (options as in sdk_common.mjs, plus --url, --binary and --texts for echo)
//       The official openai SDK's Realtime client (OpenAIRealtimeWS, over the ws package):
//       waits for session.created, sends conversation.item.create with the prompt as
//       input_text and response.create, collects the text deltas, waits for response.done.
//       {"ok":true, sdk_version, session_model, text, deltas, usage, events}
//   node ws_client.mjs echo [--url URL] [--binary BYTES] [--texts N]
//       The ws package against /ws-echo (default wss://api.openai.com/ws-echo): one binary
//       message of BYTES pseudo-random bytes (default 1 MiB) and N small text messages
//       (default 100), each checked against what comes back, in order.
//       {"ok":true, binary_sha256, binary_same, texts_same, messages}
// Failure: {"ok":false, error:{message, status}} (status: the HTTP status of a refused
// upgrade, when there was one). Exit status 0 on success, 1 on failure, 2 on a usage error.
// Environment: MLX_NPM_DIR as in sdk_common.mjs.
import { createHash, randomBytes } from 'node:crypto';
import { extra_headers, load_sdk, parse_args, usage_exit } from './sdk_common.mjs';

const mode = process.argv[2];
const o = parse_args(process.argv.slice(3), { url: 'string', binary: 'int', texts: 'int' }, {
	model: 'gpt-realtime', prompt: 'Hello from the modelux realtime test.',
	url: 'wss://api.openai.com/ws-echo', binary: 1 << 20, texts: 100,
});
const headers = extra_headers(o);

function done(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
	process.exit(obj.ok ? 0 : 1);
}

function fail(e, status) {
	const m = /Unexpected server response: (\d+)/.exec(String(e && e.message));
	done({ ok: false, error: { message: String(e && e.message ? e.message : e),
		status: status || (m ? Number(m[1]) : null) } });
}

setTimeout(() => fail(new Error('timed out')), o.timeout).unref();

if (mode === 'realtime') {
	const { mod: OpenAI, version } = load_sdk('openai');
	const { mod: rtws } = load_sdk('openai/realtime/ws');
	const client = new OpenAI.OpenAI({ apiKey: o.key });
	const rt = new rtws.OpenAIRealtimeWS({ model: o.model, options: { headers } }, client);
	const r = { ok: true, sdk_version: version, session_model: null, text: '', deltas: 0,
		usage: null, events: 0 };
	rt.on('event', () => { r.events++; });
	rt.on('error', (e) => fail(e));
	rt.socket.on('unexpected-response', (req, res) => fail(new Error(`HTTP ${res.statusCode}`),
		res.statusCode));
	rt.on('session.created', (ev) => {
		r.session_model = ev.session.model;
		rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user',
			content: [{ type: 'input_text', text: o.prompt }] } });
		rt.send({ type: 'response.create' });
	});
	rt.on('response.output_text.delta', (ev) => {
		r.text += ev.delta;
		r.deltas++;
	});
	rt.on('response.done', (ev) => {
		r.usage = ev.response.usage;
		rt.close();
		done(r);
	});
} else if (mode === 'echo') {
	const { mod: ws } = load_sdk('ws');
	const sock = new ws.WebSocket(o.url, { headers });
	const bin = randomBytes(o.binary);
	const want = [bin];
	for (let i = 0; i < o.texts; i++)
		want.push(`text message ${i} ${'x'.repeat(i)}`);
	let got = 0;
	let binary_same = false;
	let texts_same = true;
	sock.on('unexpected-response', (req, res) => fail(new Error(`HTTP ${res.statusCode}`),
		res.statusCode));
	sock.on('error', (e) => fail(e));
	sock.on('open', () => {
		for (const m of want)
			sock.send(m);
	});
	sock.on('message', (data, is_binary) => {
		const w = want[got++];
		if (got === 1)
			binary_same = is_binary && Buffer.compare(data, bin) === 0;
		else if (is_binary || data.toString() !== w)
			texts_same = false;
		if (got === want.length) {
			sock.close(1000);
			sock.on('close', () => done({ ok: binary_same && texts_same,
				binary_sha256: createHash('sha256').update(bin).digest('hex'), binary_same,
				texts_same, messages: got }));
		}
	});
} else {
	usage_exit('mode is realtime or echo');
}
