// hearth lsp driven by Microsoft's client libraries (vscode-jsonrpc + vscode-languageserver-protocol,
// see connection.mjs) with tiny-qwen2-peaked (the real Qwen2.5 vocabulary and FIM tokens, random
// weights: gibberish, but deterministic under greedy decoding): the lifecycle with its exit codes,
// opening and typing, inline completion, $/cancelRequest, a didChange served while a completion
// generates, and a newer completion superseding an older one.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ExitNotification, LSPErrorCodes, TextDocumentSyncKind } from 'vscode-languageserver-protocol';
import { CancellationTokenSource, Server, killAll, position } from './connection.mjs';

afterEach(killAll);

const MODEL = `${process.env.HEARTH_REF_DIR || '../shared/reference'}/models/tiny-qwen2-peaked-Q8_0.gguf`;
const skip = existsSync(MODEL) ? false : `no ${MODEL}`;
const URI = 'file:///tmp/hearth-test/fib.py';
const HEAD = 'import sys\n\n\ndef fib(n):\n    if n < 2:\n        return n\n    ';
const TAIL = '\n\n\nif __name__ == "__main__":\n    print(fib(int(sys.argv[1])))\n';
// Settings that make one completion generate for a long time (seconds: this model's greedy
// continuation here is a loop without newlines, so no line limit stops it before 4096 tokens),
// so that what the loop does meanwhile is observable.
const LONG = { maxTokens: 4096, contextSize: 8192 };

// The server's copy of a document (hearth/debugDocument, a test-only request).
function serverText(s, uri) {
  return s.conn.sendRequest('hearth/debugDocument', { textDocument: { uri } }).then((d) => d.text);
}

// Rejections of a request promise, as their JSON-RPC error code.
function errorCode(p) {
  return p.then((r) => assert.fail(`expected an error, got ${JSON.stringify(r).slice(0, 200)}`),
    (e) => e.code);
}

test('initialize and shutdown + exit (exit code 0); exit without shutdown (exit code 1)', { timeout: 60000 }, async () => {
  const s = new Server();
  const r = await s.initialize();
  assert.equal(r.capabilities.positionEncoding, 'utf-16');
  assert.equal(r.capabilities.textDocumentSync.change, TextDocumentSyncKind.Incremental);
  assert.equal(r.capabilities.textDocumentSync.openClose, true);
  assert.ok(r.capabilities.inlineCompletionProvider);
  assert.ok(r.capabilities.completionProvider);
  assert.equal(r.serverInfo.name, 'hearth');
  assert.equal(await s.close(), 0);

  const t = new Server();
  await t.initialize();
  await t.conn.sendNotification(ExitNotification.type);
  assert.equal(await t.exited, 1);
});

test('open, type character by character, inline completion at the cursor', { skip, timeout: 120000 }, async () => {
  const s = new Server();
  await s.initialize({ completionModel: MODEL, threads: 1 });
  await s.modelLoaded();
  s.open(URI, 'python', HEAD + TAIL);
  let cursor = HEAD.length;
  const first = await s.inline(URI, cursor);
  assert.equal(first.items.length, 1);
  assert.deepEqual(first.items[0].range.start, position(s.docs.get(URI).text, cursor));
  assert.ok(first.items[0].insertText.trim().length > 0);

  // Typing (one incremental didChange per character, multi-byte ones included) keeps the
  // server's text equal to ours, and the next completion reuses most of the KV cache.
  cursor = await s.type(URI, cursor, 'return fib(n - 1) + fib(n - 2)  # é🚀');
  assert.equal(await serverText(s, URI), s.docs.get(URI).text);
  const typed = await s.inline(URI, cursor);
  assert.deepEqual(typed.items[0]?.range.start ?? position(s.docs.get(URI).text, cursor),
    position(s.docs.get(URI).text, cursor));
  assert.ok(typed.hearth.nReused > 0, JSON.stringify(typed.hearth));
  assert.ok(typed.hearth.nEvaluated < typed.hearth.nPrompt, JSON.stringify(typed.hearth));
  // The same context again: the same suggestion, from the cache.
  const again = await s.inline(URI, cursor);
  assert.deepEqual(again.items, typed.items);
  assert.equal(await s.close(), 0);
});

test('$/cancelRequest ends a generating completion with RequestCancelled (-32800)', { skip, timeout: 120000 }, async () => {
  const s = new Server();
  await s.initialize({ completionModel: MODEL, threads: 1, ...LONG });
  await s.modelLoaded();
  s.open(URI, 'python', HEAD + TAIL);
  const cts = new CancellationTokenSource();
  const p = s.inline(URI, HEAD.length, cts.token);
  await new Promise((r) => setTimeout(r, 200)); // a moment, so that it is generating
  cts.cancel(); // vscode-jsonrpc sends $/cancelRequest with the request's id
  assert.equal(await errorCode(p), LSPErrorCodes.RequestCancelled);
  // The server goes on: with a short generation again, the next completion is answered.
  await s.conn.sendNotification('workspace/didChangeConfiguration', { settings: { hearth: { maxTokens: 16 } } });
  const next = await s.inline(URI, HEAD.length);
  assert.ok(next.hearth.nGenerated <= 16, JSON.stringify(next.hearth));
  assert.equal(await s.close(), 0);
});

test('a didChange is processed while a completion generates', { skip, timeout: 120000 }, async () => {
  const s = new Server();
  await s.initialize({ completionModel: MODEL, threads: 1, ...LONG });
  await s.modelLoaded();
  s.open(URI, 'python', HEAD + TAIL);
  const cts = new CancellationTokenSource();
  let answered = false;
  const slow = s.inline(URI, HEAD.length, cts.token).finally(() => { answered = true; });
  // Edit elsewhere in the document, then ask for the document: the reply shows the edit while
  // the completion is still generating.
  await s.edit(URI, 0, 0, '# edited while generating\n');
  assert.equal(await serverText(s, URI), s.docs.get(URI).text);
  assert.equal(answered, false, 'the completion ended before the edit was served');
  // Only the cancel ends it: it was still generating.
  cts.cancel();
  assert.equal(await errorCode(slow), LSPErrorCodes.RequestCancelled);
  assert.equal(await s.close(), 0);
});

test('a newer completion for the same document cancels the older one', { skip, timeout: 120000 }, async () => {
  const s = new Server();
  await s.initialize({ completionModel: MODEL, threads: 1, ...LONG });
  await s.modelLoaded();
  s.open(URI, 'python', HEAD + TAIL);
  s.open(URI + '.other', 'python', HEAD + TAIL);
  const older = s.inline(URI, HEAD.length);
  await s.type(URI, HEAD.length, 'r');
  const newerCts = new CancellationTokenSource();
  const newer = s.inline(URI, HEAD.length + 1, newerCts.token);
  assert.equal(await errorCode(older), LSPErrorCodes.RequestCancelled);
  // The newer one is running now (it would generate for long): cancel it too.
  newerCts.cancel();
  assert.equal(await errorCode(newer), LSPErrorCodes.RequestCancelled);
  assert.equal(await s.close(), 0);
});
