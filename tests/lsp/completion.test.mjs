// Fill-in-the-middle completion through `hearth lsp` with tiny-qwen2-peaked (the real Qwen2.5
// vocabulary and FIM tokens, random weights: gibberish, but deterministic under greedy decoding).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Client, frame, killAll } from './client.mjs';

afterEach(killAll);

const MODEL = `${process.env.HEARTH_REF_DIR || '../shared/reference'}/models/tiny-qwen2-peaked-Q8_0.gguf`;
const skip = existsSync(MODEL) ? false : `no ${MODEL}`;
const URI = 'file:///tmp/hearth-test/fib.py';
const lines = [];
for (let i = 0; i < 40; i++) lines.push(`def f${i}(x):\n    return x * ${i} + 1  # é🚀\n`);
const PREFIX = lines.join('') + 'def fib(n):\n    ';
const SUFFIX = '\n\nprint(fib(10))\n';

async function loaded(c) {
  const m = await c.waitFor((m) => m.method === 'window/logMessage' && /completion model/.test(m.params.message),
    'model load', 60000);
  assert.match(m.params.message, /loaded/);
}

function at(text) {
  const ls = text.split('\n');
  return { line: ls.length - 1, character: ls[ls.length - 1].length };
}

async function inline(c, pos) {
  const r = await c.request('textDocument/inlineCompletion', {
    textDocument: { uri: URI }, position: pos, context: { triggerKind: 2 } });
  assert.ok(r.result, JSON.stringify(r.error));
  return r.result;
}

test('inline completion is deterministic and reuses the KV cache after a keystroke', { skip, timeout: 120000 }, async () => {
  const c = new Client();
  await c.initialize({ initializationOptions: { completionModel: MODEL, threads: 2 } });
  await loaded(c);
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: PREFIX + SUFFIX } });
  const first = await inline(c, at(PREFIX));
  assert.equal(first.items.length, 1);
  const item = first.items[0];
  assert.ok(item.insertText.trim().length > 0, JSON.stringify(item));
  assert.deepEqual(item.range.start, at(PREFIX));
  assert.ok(item.insertText.split('\n').length <= 8);
  assert.equal(first.hearth.nReused, 0);
  assert.equal(first.hearth.nEvaluated, first.hearth.nPrompt);
  assert.ok(first.hearth.nPrompt > 400, `prompt of ${first.hearth.nPrompt} tokens`);

  const again = await inline(c, at(PREFIX));
  assert.equal(again.items[0].insertText, item.insertText);
  assert.equal(again.hearth.nEvaluated, 1); // the whole prompt was cached

  // Type one character at the cursor: only the tokens after the edit are evaluated again.
  const pos = at(PREFIX);
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: pos, end: pos }, text: 'r' }] });
  const typed = await inline(c, { line: pos.line, character: pos.character + 1 });
  assert.ok(typed.hearth.nReused > typed.hearth.nPrompt - 20, JSON.stringify(typed.hearth));
  assert.ok(typed.hearth.nEvaluated < 20, JSON.stringify(typed.hearth));
  assert.ok(typed.items.length <= 1);

  const log = c.messages.find((m) => m.method === 'window/logMessage' && /evaluated/.test(m.params.message));
  assert.ok(log, 'a log line reports the evaluated tokens');

  // A newer request for the same document cancels the older one (both arrive in one write).
  const p1 = new Promise((resolve) => c.pending.set('old', resolve));
  const p2 = new Promise((resolve) => c.pending.set('new', resolve));
  const req = (id) => frame(JSON.stringify({ jsonrpc: '2.0', id, method: 'textDocument/inlineCompletion',
    params: { textDocument: { uri: URI }, position: at(PREFIX) } }));
  c.raw(Buffer.concat([req('old'), req('new')]));
  assert.equal((await p1).error?.code, -32800);
  assert.ok((await p2).result.items);

  const comp = await c.request('textDocument/completion', { textDocument: { uri: URI }, position: at(PREFIX) });
  assert.ok(Array.isArray(comp.result.items));
  assert.equal(comp.result.isIncomplete, true);
  assert.equal(await c.close(), 0);
});

test('the --completion-model flag works and gives the same suggestion', { skip, timeout: 120000 }, async () => {
  const a = new Client(['--completion-model', MODEL, '--threads', '1']);
  await a.initialize();
  await loaded(a);
  a.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: PREFIX + SUFFIX } });
  const r = await inline(a, at(PREFIX));
  const b = new Client();
  await b.initialize({ initializationOptions: { completionModel: MODEL } });
  b.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: PREFIX + SUFFIX } });
  const r2 = await inline(b, at(PREFIX));
  assert.equal(r.items[0].insertText, r2.items[0].insertText);
  assert.equal(await a.close(), 0);
  assert.equal(await b.close(), 0);
});

test('model loading is reported with window/workDoneProgress', { skip, timeout: 120000 }, async () => {
  const c = new Client();
  await c.initialize({ capabilities: { window: { workDoneProgress: true } },
    initializationOptions: { completionModel: MODEL } });
  const create = await c.waitFor((m) => m.method === 'window/workDoneProgress/create', 'create');
  const token = create.params.token;
  const end = await c.waitFor((m) => m.method === '$/progress' && m.params.value.kind === 'end', 'end');
  const progress = c.messages.filter((m) => m.method === '$/progress');
  assert.deepEqual(progress.map((m) => [m.params.token, m.params.value.kind]), [[token, 'begin'], [token, 'end']]);
  assert.equal(end.params.value.message, 'loaded');
  // The begin came only after the client agreed to the token.
  assert.ok(c.messages.indexOf(create) < c.messages.indexOf(progress[0]));
  assert.equal(await c.close(), 0);
});

test('without a model, completion fails with RequestFailed; a bad model path is reported', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: 'x' } });
  let r = await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: { line: 0, character: 1 } });
  assert.equal(r.error.code, -32803);
  c.notify('workspace/didChangeConfiguration', { settings: { hearth: { completionModel: '/nonexistent.gguf' } } });
  const log = await c.waitFor((m) => m.method === 'window/logMessage' && /completion model/.test(m.params.message));
  assert.equal(log.params.type, 1);
  r = await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: { line: 0, character: 1 } });
  assert.equal(r.error.code, -32803);
  r = await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position: { line: -1, character: 1 } });
  assert.equal(r.error.code, -32602);
  assert.equal(await c.close(), 0);
});
