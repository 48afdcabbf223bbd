// Streamed suggestions (issue 19) through `hearth lsp` with tiny-qwen2-peaked (random weights:
// gibberish, but deterministic under greedy decoding). At the cursor used here the model's
// continuation is one long line, so a suggestion generates for a while and partial texts are
// observable. A client opts in per request with params.hearth.stream = token and then gets
// hearth/inlineCompletionPartial {token, text} notifications before the reply.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Client } from './client.mjs';
import { killAll } from './client.mjs';

afterEach(killAll);

const MODEL = `${process.env.HEARTH_REF_DIR || '../shared/reference'}/models/tiny-qwen2-peaked-Q8_0.gguf`;
const skip = existsSync(MODEL) ? false : `no ${MODEL}`;
const URI = 'file:///tmp/hearth-test/fib.py';
const HEAD = 'import sys\n\n\ndef fib(n):\n    if n < 2:\n        return n\n    ';
const TAIL = '\n\n\nif __name__ == "__main__":\n    print(fib(int(sys.argv[1])))\n';
const PARTIAL = 'hearth/inlineCompletionPartial';

function at(text) {
  const ls = text.split('\n');
  return { line: ls.length - 1, character: ls[ls.length - 1].length };
}

async function start(options = {}) {
  const c = new Client();
  const init = await c.initialize({ initializationOptions: { completionModel: MODEL, threads: 1, ...options } });
  const m = await c.waitFor((m) => m.method === 'window/logMessage' && /completion model/.test(m.params.message),
    'model load', 60000);
  assert.match(m.params.message, /loaded/);
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: HEAD + TAIL } });
  return { c, init };
}

function inlineParams(stream) {
  const p = { textDocument: { uri: URI }, position: at(HEAD), context: { triggerKind: 2 } };
  if (stream !== undefined) p.hearth = { stream };
  return p;
}

// The partial texts of token received before message index `upto` (default: all so far).
function partials(c, token, upto = c.messages.length) {
  return c.messages.slice(0, upto).filter((m) => m.method === PARTIAL && m.params.token === token)
    .map((m) => m.params.text);
}

test('partials grow in order, each a prefix of the reply, which is the non-streamed suggestion', { skip, timeout: 180000 }, async () => {
  const { c, init } = await start({ maxTokens: 120 });
  assert.equal(init.result.capabilities.experimental.hearth.streamSuggestions, true);
  const r = await c.request('textDocument/inlineCompletion', inlineParams('tok-1'));
  assert.ok(r.result, JSON.stringify(r.error));
  const final = r.result.items[0].insertText;
  const replyAt = c.messages.findIndex((m) => m.id === r.id);
  const texts = partials(c, 'tok-1');
  assert.ok(texts.length >= 2, `${texts.length} partials for a ${r.result.hearth.nGenerated}-token suggestion`);
  assert.equal(r.result.hearth.nPartials, texts.length);
  assert.equal(partials(c, 'tok-1', replyAt).length, texts.length, 'every partial came before the reply');
  for (let i = 0; i < texts.length; i++) {
    assert.ok(texts[i].length > 0 && final.startsWith(texts[i]), `partial ${i} ${JSON.stringify(texts[i])} vs ${JSON.stringify(final)}`);
    if (i > 0) assert.ok(texts[i].length > texts[i - 1].length && texts[i].startsWith(texts[i - 1]), `partial ${i} grows`);
  }
  // The same request without a token: no notification, the same text (from the cache here).
  const before = c.messages.filter((m) => m.method === PARTIAL).length;
  const plain = await c.request('textDocument/inlineCompletion', inlineParams());
  assert.equal(plain.result.items[0].insertText, final);
  assert.equal(plain.result.hearth.nPartials, 0);
  assert.equal(c.messages.filter((m) => m.method === PARTIAL).length, before);
  assert.equal(await c.close(), 0);

  // A fresh server and a client that never asked: the same suggestion computed again, and no
  // hearth/ notification at all.
  const { c: b } = await start({ maxTokens: 120 });
  const other = await b.request('textDocument/inlineCompletion', inlineParams());
  assert.equal(other.result.hearth.cached, false);
  assert.equal(other.result.items[0].insertText, final);
  assert.deepEqual(b.messages.filter((m) => m.method?.startsWith('hearth/')), []);
  assert.equal(await b.close(), 0);
});

test('a cancel mid-stream stops generation; no partial follows the cancelled reply', { skip, timeout: 180000 }, async () => {
  const { c } = await start({ maxTokens: 4096, contextSize: 8192 });
  const id = 'streamed';
  const reply = c.request('textDocument/inlineCompletion', inlineParams(7), id);
  await c.waitFor((m) => m.method === PARTIAL && m.params.token === 7, 'a first partial', 60000);
  c.notify('$/cancelRequest', { id });
  const r = await reply;
  assert.equal(r.error?.code, -32800, JSON.stringify(r).slice(0, 300));
  const log = await c.waitFor((m) => m.method === 'window/logMessage' && /cancelled after/.test(m.params.message), 'the cancel log');
  const generated = Number(/after (\d+) generated/.exec(log.params.message)[1]);
  assert.ok(generated > 0 && generated < 4096, log.params.message);
  // Another request answered later: nothing for token 7 came after the cancelled reply.
  const replyAt = c.messages.findIndex((m) => m.id === id);
  await c.request('hearth/debugDocument', { textDocument: { uri: URI } });
  assert.equal(partials(c, 7).length, partials(c, 7, replyAt).length);
  assert.ok(partials(c, 7).length >= 1);
  assert.equal(await c.close(), 0);
});

test('a stream token that is not an integer or a short string is refused', { skip, timeout: 120000 }, async () => {
  const { c } = await start();
  for (const bad of [{}, [1], true, 1.5, 'x'.repeat(300)]) {
    const r = await c.request('textDocument/inlineCompletion', inlineParams(bad));
    assert.equal(r.error?.code, -32602, JSON.stringify(bad));
  }
  // hearth that is not an object, or without stream: an ordinary request.
  for (const hearth of [5, 'x', null, {}]) {
    const r = await c.request('textDocument/inlineCompletion', { ...inlineParams(), hearth });
    assert.ok(r.result, JSON.stringify(r.error));
  }
  // textDocument/completion ignores it.
  const comp = await c.request('textDocument/completion', { ...inlineParams('t') });
  assert.ok(Array.isArray(comp.result.items));
  assert.equal(c.messages.filter((m) => m.method === PARTIAL && m.params.token === 't').length, 0);
  assert.equal(await c.close(), 0);
});
