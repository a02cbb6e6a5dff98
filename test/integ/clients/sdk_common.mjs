// Shared by the SDK client programs (sdk_openai.mjs, sdk_anthropic.mjs, sdk_gemini.mjs): option
// parsing, loading the pinned SDKs from test/npm/node_modules, and the one-line JSON result.
// Owns: the command-line contract and the output format below. Borrows: nothing but Node.
//
// Common options (each program adds its own):
//   --model M         model (default per program)
//   --prompt TEXT     the user message (default "Hello from the modelux SDK test.")
//   --system TEXT     a system prompt / instructions (not sent when absent)
//   --max-tokens N    the request's max output tokens (Anthropic needs one: default 1024)
//   --stream          stream the answer
//   --key K           API key (default "sk-sim-test-0000", or per program)
//   --base URL        base URL; default: the SDK's own (the real provider host name, which
//                     the test DNS points at the simulator)
//   --header 'K: V'   an extra request header (repeatable)
//   --sim KNOBS       shorthand for --header 'x-sim: KNOBS' (llm_sim.js knobs)
//   --retries N       SDK retries (default 0: a test wants to see each error once)
//   --timeout MS      request timeout (default 20000)
// Output: exactly one JSON line on stdout.
//   success: {"ok":true, sdk, sdk_version, api, stream, model, usage, text, text_len, finish,
//             id, events, ...}  - model and usage exactly as the SDK returned them
//   failure: {"ok":false, sdk, sdk_version, api, stream, error:{class, name, api_error, status,
//             message, type, cause}, partial:{text_len, events, model, usage}}
//             class = the error's constructor name; api_error = instanceof the SDK's API error
// Exit status: 0 on success, 1 when the call failed (the JSON says why), 2 on a usage error.
// Environment: MLX_NPM_DIR = the npm project holding node_modules (default ../../npm from
// here); NODE_EXTRA_CA_CERTS for the test CA.
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
const npm_dir = process.env.MLX_NPM_DIR || resolve(here, '../../npm');
const npm_require = createRequire(join(npm_dir, 'package.json'));

// Load an SDK and its version; a clear message when scripts/npm-deps.sh has not run.
export function load_sdk(name) {
	let mod;
	try {
		mod = npm_require(name);
	} catch (e) {
		usage_exit(`cannot load ${name} from ${npm_dir}/node_modules (run scripts/npm-deps.sh): ${e.message}`);
	}
	let version = null;
	try {
		const pj = npm_require.resolve(`${name}/package.json`);
		version = JSON.parse(readFileSync(pj, 'utf8')).version;
	} catch (e) {
		// Some packages do not export package.json: walk up from the entry point.
		let d = dirname(npm_require.resolve(name));
		for (let i = 0; i < 5 && version === null; i++, d = dirname(d)) {
			try {
				const pj = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
				if (pj.name === name)
					version = pj.version;
			} catch (e2) { /* keep walking */ }
		}
	}
	return { mod, version };
}

export function usage_exit(msg) {
	process.stderr.write(`${process.argv[1].split('/').pop()}: ${msg}\n`);
	process.exit(2);
}

// <spec>: {name: 'flag' | 'string' | 'int' | 'list'} for the program's own options.
export function parse_args(argv, spec, defaults) {
	const all = Object.assign({
		model: 'string', prompt: 'string', system: 'string', 'max-tokens': 'int', stream: 'flag',
		key: 'string', base: 'string', header: 'list', sim: 'string', retries: 'int',
		timeout: 'int',
	}, spec);
	const o = Object.assign({
		prompt: 'Hello from the modelux SDK test.', key: 'sk-sim-test-0000', header: [],
		retries: 0, timeout: 20000, stream: false,
	}, defaults);
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (!a.startsWith('--') || !(a.slice(2) in all))
			usage_exit(`unknown option ${a}`);
		const name = a.slice(2);
		const kind = all[name];
		if (kind === 'flag') {
			o[name] = true;
			continue;
		}
		const v = argv[++i];
		if (v === undefined)
			usage_exit(`${a} needs a value`);
		if (kind === 'int') {
			if (!/^[0-9]+$/.test(v))
				usage_exit(`${a} needs an integer`);
			o[name] = Number(v);
		} else if (kind === 'list') {
			o[name].push(v);
		} else {
			o[name] = v;
		}
	}
	return o;
}

// The extra headers of --header and --sim as an object.
export function extra_headers(o) {
	const h = {};
	for (const s of o.header) {
		const i = s.indexOf(':');
		if (i <= 0)
			usage_exit(`--header needs 'Name: value', not '${s}'`);
		h[s.slice(0, i).trim().toLowerCase()] = s.slice(i + 1).trim();
	}
	if (o.sim !== undefined)
		h['x-sim'] = o.sim;
	return h;
}

function print(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

// Run <fn>(partial) and print its result; <partial> collects what a failing stream saw.
export async function run(meta, fn, is_api_error) {
	const partial = { text_len: 0, events: 0, model: null, usage: null };
	try {
		const r = await fn(partial);
		print(Object.assign({ ok: true }, meta, r));
		process.exitCode = 0;
	} catch (e) {
		const err = {
			class: e && e.constructor ? e.constructor.name : typeof e,
			name: e && e.name,
			api_error: !!is_api_error(e),
			status: e && e.status !== undefined ? e.status : null,
			message: e && e.message !== undefined ? String(e.message) : String(e),
			type: (e && (e.type || (e.error && e.error.type) || (e.error && e.error.error &&
				e.error.error.type))) || null,
			cause: e && e.cause ? String(e.cause.message || e.cause) : null,
		};
		print(Object.assign({ ok: false }, meta, { error: err, partial }));
		process.exitCode = 1;
	}
}
