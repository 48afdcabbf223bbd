// Fill-in-the-middle completion through `hearth lsp` with tiny-qwen2-peaked (the real Qwen2.5
// vocabulary and FIM tokens, random weights: gibberish, but deterministic under greedy decoding).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Client, frame, killAll } from './client.mjs';

afterEach(killAll);

const MODEL = `${process.env.HEARTH_REF_DIR || '../shared/reference'}/models/tiny-qwen2-peaked-Q8_0.gguf`;
const skip = existsSync(MODEL) ? false : `no ${MODEL}`;
// These tests count what each request evaluates itself: no prefill ahead of it (issue 19, tested
// in ahead.test.mjs), which would do part of that work between the edit and the request.
const OWN = { prefillAhead: false };
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
  await c.initialize({ initializationOptions: { completionModel: MODEL, threads: 2, ...OWN } });
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
  assert.equal(again.hearth.nEvaluated, 0); // the same context: the completion cache answers
  assert.equal(again.hearth.cached, true);

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

test('stats carry time to first token; kvReuse false (and --no-kv-reuse) evaluates every prompt whole', { skip, timeout: 120000 }, async () => {
  for (const c of [new Client(['--no-kv-reuse']), new Client()]) {
    const opts = c.proc.spawnargs.includes('--no-kv-reuse') ? {} : { kvReuse: false };
    await c.initialize({ initializationOptions: { completionModel: MODEL, threads: 1, ...opts } });
    await loaded(c);
    c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: PREFIX + SUFFIX } });
    for (let i = 0; i < 2; i++) {
      const r = await inline(c, at(PREFIX));
      const h = r.hearth;
      assert.equal(h.kvReuse, false);
      assert.equal(h.nReused, 0, JSON.stringify(h));
      assert.equal(h.nEvaluated, h.nPrompt);
      for (const k of ['firstTokenMs', 'totalMs', 'promptMs', 'genMs', 'queueMs'])
        assert.equal(typeof h[k], 'number', k);
      assert.ok(h.firstTokenMs <= h.totalMs && h.firstTokenMs >= h.promptMs, JSON.stringify(h));
    }
    assert.equal(await c.close(), 0);
  }
});

test('typing inside a line re-evaluates that line only; a newline re-evaluates the suffix once', { skip, timeout: 120000 }, async () => {
  const c = new Client();
  await c.initialize({ initializationOptions: { completionModel: MODEL, threads: 1, ...OWN } });
  await loaded(c);
  let text = PREFIX + SUFFIX;
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text } });
  let pos = at(PREFIX);
  const first = await inline(c, pos);
  assert.equal(first.hearth.kvReuse, true);
  let version = 1;
  const type = async (s) => {
    c.notify('textDocument/didChange', { textDocument: { uri: URI, version: ++version }, contentChanges: [
      { range: { start: pos, end: pos }, text: s }] });
    pos = s === '\n' ? { line: pos.line + 1, character: 0 } : { line: pos.line, character: pos.character + s.length };
    return (await inline(c, pos)).hearth;
  };
  // "return fib(n - 1)" typed a character at a time: each request evaluates a handful of tokens.
  for (const ch of 'return fib') {
    const h = await type(ch);
    assert.ok(h.nEvaluated <= 6, `${ch}: ${JSON.stringify(h)}`);
    assert.ok(h.nReused >= h.nPrompt - 6);
  }
  const nl = await type('\n');
  assert.ok(nl.nEvaluated > 6, 'the suffix follows the grown prefix'); // one re-evaluation
  const after = await type('x');
  assert.ok(after.nEvaluated <= 6, JSON.stringify(after));
  assert.equal(await c.close(), 0);
});

test('backspace-and-retype is served from the cache; typing the suggestion serves the rest', { skip, timeout: 120000 }, async () => {
  const c = new Client();
  await c.initialize({ initializationOptions: { completionModel: MODEL, threads: 1, ...OWN } });
  await loaded(c);
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: PREFIX + SUFFIX } });
  const pos = at(PREFIX);
  const first = await inline(c, pos);
  const shown = first.items[0].insertText;
  assert.equal(first.hearth.cached, false);
  assert.ok(shown.length > 1 && shown[0] !== '\n', JSON.stringify(shown));
  let version = 1;
  const edit = (range, text) => c.notify('textDocument/didChange', { textDocument: { uri: URI, version: ++version },
    contentChanges: [{ range, text }] });
  const next = { line: pos.line, character: pos.character + 1 };
  const other = shown[0] === 'Q' ? 'Z' : 'Q';
  edit({ start: pos, end: pos }, other); // a character the suggestion does not start with
  const typed = await inline(c, next);
  assert.equal(typed.hearth.cached, false);
  assert.ok(typed.hearth.nEvaluated > 0);
  edit({ start: pos, end: next }, ''); // backspace
  const back = await inline(c, pos);
  assert.equal(back.hearth.cached, true);
  assert.equal(back.hearth.nEvaluated, 0);
  assert.equal(back.items[0].insertText, shown);
  edit({ start: pos, end: pos }, shown[0]); // type-through: the rest, without the model
  const through = await inline(c, next);
  assert.equal(through.hearth.cached, true, JSON.stringify(through.hearth));
  assert.equal(through.hearth.nEvaluated, 0);
  assert.equal(through.items[0].insertText, shown.slice(1));
  assert.equal(await c.close(), 0);
});

test('cross-file context: another buffer\'s definition enters the prompt, which stays stable while typing', { skip, timeout: 120000 }, async () => {
  const c = new Client();
  await c.initialize({ initializationOptions: { completionModel: MODEL, threads: 1, ...OWN } });
  await loaded(c);
  const other = 'file:///tmp/hearth-test/geometry.py';
  c.notify('textDocument/didOpen', { textDocument: { uri: other, languageId: 'python', version: 1,
    text: 'import math\n\n' + Array.from({ length: 40 }, (_, i) => `# a comment line about the configuration, number ${i}\n`).join('') +
      '\n\ndef circle_area(r):\n    return math.pi * r * r\n\n\ndef unrelated():\n    pass\n' } });
  const text = 'def main():\n    a = circle_area(2)\n    b = ';
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: text + '\n' } });
  let pos = at(text);
  const first = await inline(c, pos);
  assert.ok(first.hearth.nChunks >= 2, JSON.stringify(first.hearth)); // the ring chunk + the definition
  for (const [i, ch] of [...'circ'].entries()) {
    c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 + i }, contentChanges: [
      { range: { start: pos, end: pos }, text: ch }] });
    pos = { line: pos.line, character: pos.character + 1 };
    const h = (await inline(c, pos)).hearth;
    assert.equal(h.nChunks, first.hearth.nChunks);
    assert.ok(h.nEvaluated <= 6, JSON.stringify(h));
  }
  assert.equal(await c.close(), 0);
  const off = new Client(['--context-tokens', '0']);
  await off.initialize({ initializationOptions: { completionModel: MODEL, threads: 1 } });
  off.notify('textDocument/didOpen', { textDocument: { uri: other, languageId: 'python', version: 1, text: 'def circle_area(r):\n    return r\n' } });
  off.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: text + '\n' } });
  assert.equal((await inline(off, at(text))).hearth.nChunks, 0);
  assert.equal(await off.close(), 0);
});
