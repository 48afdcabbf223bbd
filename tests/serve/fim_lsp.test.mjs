// One FIM policy under both front ends: for every FIM family completion/ supports, `hearth serve`'s
// /v1/fim and `hearth lsp`'s inlineCompletion give byte-identical suggestions (and prompts of the
// same length) for the same document, cursor and other files — the LSP with them open, /v1/fim
// with them in input_extra. Models are synthetic (tiny-qwen2 shape, random weights) over each
// family's vocabulary: the kit's Qwen2.5-Coder, StarCoder and DeepSeek-Coder vocabularies, and
// tiny SentencePiece vocabularies written here with CodeLlama's and Codestral's FIM tokens.
// env: HEARTH_BIN, HEARTH_REF_DIR
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, killAll } from '../lsp/client.mjs';

const BIN = process.env.HEARTH_BIN;
const REF = process.env.HEARTH_REF_DIR;
const tmp = mkdtempSync(join(tmpdir(), 'hearth-fim-lsp-'));
const servers = [];
after(() => {
  servers.forEach((s) => s.kill('SIGTERM'));
  killAll();
  rmSync(tmp, { recursive: true, force: true });
});

// ---- a tiny GGUF writer: a SentencePiece vocabulary (no tensors) ----
function ggufVocab(path, name, controls) {
  const parts = [];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const str = (s) => { const b = Buffer.from(s, 'utf8'); u64(b.length); parts.push(b); };
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  // byte fallback for ASCII only: generated text stays ASCII (random weights pick any token)
  for (let b = 0; b < 128; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); types.push(6); }
  const words = ['\u2581', '\u2581\u2581', '\u2581\u2581\u2581\u2581', 'def', 'return', 'fib', 'print',
    'circle', '_area', 'self', '\u2581=', '\u2581+', '(n', ')', '):'];
  for (const w of words) { tokens.push(w); types.push(1); }
  for (const c of controls) { tokens.push(c); types.push(3); }
  const scores = tokens.map((_, i) => (types[i] === 1 ? -i : 0));
  parts.push(Buffer.from('GGUF'));
  u32(3);
  u64(0); // tensors
  u64(6); // key-value pairs
  str('general.architecture'); u32(8); str('llama');
  str('general.name'); u32(8); str(name);
  str('tokenizer.ggml.model'); u32(8); str('llama');
  str('tokenizer.ggml.tokens'); u32(9); u32(8); u64(tokens.length); tokens.forEach(str);
  str('tokenizer.ggml.scores'); u32(9); u32(6); u64(scores.length);
  for (const s of scores) { const b = Buffer.alloc(4); b.writeFloatLE(s); parts.push(b); }
  str('tokenizer.ggml.token_type'); u32(9); u32(5); u64(types.length);
  for (const t of types) { const b = Buffer.alloc(4); b.writeInt32LE(t); parts.push(b); }
  let out = Buffer.concat(parts);
  out = Buffer.concat([out, Buffer.alloc((32 - (out.length % 32)) % 32)]);
  writeFileSync(path, out);
  return path;
}

const FAMILIES = [
  { name: 'Qwen2.5-Coder', vocab: () => `${REF}/vocab/qwen2.5-coder.gguf` },
  { name: 'StarCoder2', vocab: () => `${REF}/vocab/starcoder.gguf` },
  { name: 'DeepSeek-Coder', vocab: () => `${REF}/vocab/deepseek-coder.gguf` },
  { name: 'CodeLlama', vocab: () => ggufVocab(join(tmp, 'codellama-vocab.gguf'), 'codellama',
    ['\u2581<PRE>', '\u2581<SUF>', '\u2581<MID>', '\u2581<EOT>']) },
  { name: 'Codestral', vocab: () => ggufVocab(join(tmp, 'codestral-vocab.gguf'), 'codestral',
    ['[INST]', '[PREFIX]', '[SUFFIX]']) },
];

function synth(family, seed = 2) {
  const out = join(tmp, `${family.name}-${seed}.gguf`);
  execFileSync(BIN, ['synth', '--like', 'tiny-qwen2', '--type', 'Q8_0', '--vocab', family.vocab(),
    '--seed', String(seed), '-o', out], { stdio: 'ignore' });
  return out;
}

// `hearth serve` on a free port, the LSP's context size (4096) so the windows match.
function startServer(model) {
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, ['serve', '--port', '0', '-t', '1', '-q', '-m', model, '-c', '4096'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    servers.push(p);
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) resolve({ url: m[1], proc: p, stderr: () => err });
    });
    p.on('exit', (code) => reject(new Error(`hearth serve exited ${code}: ${err}`)));
  });
}

async function fim(url, body) {
  const r = await fetch(`${url}/v1/fim`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body) });
  const json = await r.json();
  assert.equal(r.status, 200, JSON.stringify(json));
  return json;
}

function at(text) {
  const ls = text.split('\n');
  return { line: ls.length - 1, character: ls[ls.length - 1].length };
}

async function lspSuggest(model, docs, uri, prefix) {
  const c = new Client();
  await c.initialize({ initializationOptions: { completionModel: model, threads: 1, maxPromptMs: 0, maxGenMs: 0 } });
  const m = await c.waitFor((x) => x.method === 'window/logMessage' && /completion model/.test(x.params.message),
    'model load', 60000);
  assert.match(m.params.message, /loaded/);
  for (const d of docs) // opened in order: the last one is the most recently touched
    c.notify('textDocument/didOpen', { textDocument: { uri: d.uri, languageId: 'python', version: 1, text: d.text } });
  const r = await c.request('textDocument/inlineCompletion', {
    textDocument: { uri }, position: at(prefix), context: { triggerKind: 2 } });
  assert.ok(r.result, JSON.stringify(r.error));
  assert.equal(await c.close(), 0);
  return { text: r.result.items.length ? r.result.items[0].insertText : '', hearth: r.result.hearth };
}

const DIR = '/tmp/hearth-fim-lsp';
const APP = `${DIR}/app.py`;
const lines = [];
for (let i = 0; i < 30; i++) lines.push(`def f${i}(x):\n    return x * ${i} + 1\n`);
// inside an expression: random weights give a non-empty line here (checked below, over all)
const PREFIX = `import os\n\n${lines.join('')}def main():\n    x = fib(`;
const SUFFIX = ')\n    return x\n';
const suggestions = [];

for (const family of FAMILIES) {
  test(`/v1/fim and the LSP give the same suggestion: ${family.name}`, { timeout: 180000 }, async () => {
    const model = synth(family);
    const srv = await startServer(model);
    const viaLsp = await lspSuggest(model, [{ uri: `file://${APP}`, text: PREFIX + SUFFIX }], `file://${APP}`, PREFIX);
    const viaApi = await fim(srv.url, { prompt: PREFIX, suffix: SUFFIX, path: APP, language: 'python' });
    assert.equal(viaApi.choices[0].text, viaLsp.text, `${family.name}: /v1/fim vs LSP`);
    suggestions.push(viaLsp.text);
    assert.equal(viaApi.usage.prompt_tokens, viaLsp.hearth.nPrompt, 'the same prompt');
    assert.equal(viaApi.usage.completion_tokens, viaLsp.hearth.nGenerated);
    // the caller's line limit is the LSP's by default: a larger one lets more lines through
    assert.ok(viaApi.choices[0].text.split('\n').length <= 8);
    srv.proc.kill('SIGTERM');
  });
}

test('the suggestions compared are not all empty', () => {
  assert.equal(suggestions.length, FAMILIES.length);
  assert.ok(suggestions.filter((t) => t.length > 0).length >= 3, JSON.stringify(suggestions));
});

test('/v1/fim takes other files as input_extra and builds the LSP\'s cross-file context', { timeout: 180000 }, async () => {
  const model = synth(FAMILIES[0], 1); // a seed whose suggestion here is not empty
  const srv = await startServer(model);
  const geometry = `${DIR}/geometry.py`;
  const geoText = 'import math\n\n' +
    Array.from({ length: 40 }, (_, i) => `# a comment line about the configuration, number ${i}\n`).join('') +
    '\n\ndef circle_area(r):\n    return math.pi * r * r\n\n\ndef unrelated():\n    pass\n';
  const prefix = 'def main():\n    a = circle_area(2)\n    b = max(a, ';
  const suffix = ')\n    return b\n';
  const viaLsp = await lspSuggest(model, [{ uri: `file://${geometry}`, text: geoText },
    { uri: `file://${APP}`, text: prefix + suffix }], `file://${APP}`, prefix);
  assert.equal(viaLsp.hearth.nChunks, 2, JSON.stringify(viaLsp.hearth)); // the ring + the definition
  const body = { prompt: prefix, suffix, filename: APP, input_extra: [{ filename: geometry, text: geoText }] };
  const viaApi = await fim(srv.url, body);
  assert.equal(viaApi.choices[0].text, viaLsp.text);
  assert.ok(viaLsp.text.length > 0);
  assert.equal(viaApi.usage.prompt_tokens, viaLsp.hearth.nPrompt, 'the same prompt with its chunks');
  // without the other file the prompt is shorter: the chunks came from input_extra
  const alone = await fim(srv.url, { ...body, input_extra: [] });
  assert.ok(alone.usage.prompt_tokens < viaApi.usage.prompt_tokens - 20, JSON.stringify(alone.usage));
  // hostile input_extra: bounded count, typed fields
  const bad = async (b) => {
    const r = await fetch(`${srv.url}/v1/fim`, { method: 'POST', body: JSON.stringify(b) });
    assert.equal(r.status, 400, JSON.stringify(b).slice(0, 200));
  };
  await bad({ prompt: 'a', input_extra: {} });
  await bad({ prompt: 'a', input_extra: [{ filename: 'x.py' }] });
  await bad({ prompt: 'a', input_extra: [{ filename: 7, text: 'x' }] });
  await bad({ prompt: 'a', input_extra: Array.from({ length: 33 }, () => ({ text: 'x' })) });
  await bad({ prompt: 'a', max_lines: 0 });
  await bad({ prompt: 'a', language: ['python'] });
  await bad({ prompt: 'a', path: 'a.py', filename: 'a.py' });
  srv.proc.kill('SIGTERM');
});

test('/v1/completions with a suffix uses the model\'s own FIM family (StarCoder2)', { timeout: 180000 }, async () => {
  const model = synth(FAMILIES[1]);
  const srv = await startServer(model);
  const r = await fetch(`${srv.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'def add(a, b):\n    return ', suffix: '\n', max_tokens: 4, temperature: 0 }) });
  const json = await r.json();
  assert.equal(r.status, 200, JSON.stringify(json)); // was: "no fill-in-the-middle tokens"
  // <fim_prefix> prompt <fim_suffix> suffix <fim_middle>: the texts' tokens plus three markers
  // (completion/'s builder is checked token by token in test_completion_fim)
  const count = (t) => execFileSync(BIN, ['tokenize', '-m', model, t]).toString().trim().split(/\s+/).length;
  assert.equal(json.usage.prompt_tokens, count('def add(a, b):\n    return ') + count('\n') + 3);
  srv.proc.kill('SIGTERM');
});
