// Hostile traffic that protocol.test.mjs does not send: messages of 50 MB and over the limit,
// Content-Length that lies, bodies split in odd places, requests and notifications before
// initialize, positions out of range in completion requests, documents holding U+0000 and lone
// surrogates, and model paths that are fifos or directories. After each, the server must
// still answer a normal request.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, frame, killAll } from './client.mjs';

afterEach(killAll);

const URI = 'file:///tmp/hearth-test/h.txt';

async function doc(c, uri) {
  const r = await c.request('hearth/debugDocument', { textDocument: { uri } });
  assert.ok(r.result, JSON.stringify(r.error));
  return r.result;
}

// The server still serves: a request sent now gets its own answer.
async function alive(c) {
  const r = await c.request('no/such/method', {});
  assert.equal(r.error?.code, -32601, JSON.stringify(r));
}

const nullIdErrors = (c) => c.messages.filter((m) => m.error && m.id === null);

test('a 50 MB message is read whole; one over the 64 MB limit is refused and skipped', { timeout: 120000 }, async () => {
  const c = new Client();
  await c.initialize();
  const line = 'abcdefghij klmnopqrstuvwxyz 0123456789 é漢🚀\n'; // multi-byte, so bytes != chars
  const text = line.repeat(Math.ceil((50 << 20) / Buffer.byteLength(line)));
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'plaintext', version: 1, text } });
  // Deleting from line 0 to the middle of the last line proves the server split the 50 MB into
  // the same lines (and keeps the reply small: no 50 MB echo).
  const last = text.split('\n').length - 2;
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: { line: 0, character: 5 }, end: { line: last, character: 3 } }, text: 'END' }] });
  assert.equal((await doc(c, URI)).text, 'abcdeEND' + line.slice(3));

  // 70 MB: refused by its header alone, its body skipped, and the next request answered.
  const before = nullIdErrors(c).length;
  const huge = Buffer.alloc(70 << 20, 'x');
  c.raw(frame(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"x","params":"'), huge, Buffer.from('"}')])));
  await c.waitFor(() => nullIdErrors(c).length > before, 'the over-limit error', 60000);
  assert.equal(nullIdErrors(c)[before].error.code, -32700);
  assert.match(nullIdErrors(c)[before].error.message, /limit/);
  await alive(c);
  assert.equal(await c.close(), 0);
});

test('a Content-Length shorter or longer than the body costs errors, not the connection', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  const body = '{"jsonrpc":"2.0","id":"short","method":"no/such/method"}';
  // Announced 10 bytes short: the cut body is invalid JSON, its tail is garbage to skip.
  c.raw(Buffer.concat([Buffer.from(`Content-Length: ${body.length - 10}\r\n\r\n${body}`)]));
  await c.waitFor(() => nullIdErrors(c).length >= 1, 'parse error');
  assert.equal(nullIdErrors(c)[0].error.code, -32700);
  await alive(c);
  // Announced 10 bytes long: the next frame's first bytes complete it (invalid JSON), and the
  // frame after that is served.
  c.raw(`Content-Length: ${body.length + 10}\r\n\r\n${body}`);
  c.raw(frame('{"jsonrpc":"2.0","id":"eaten","method":"no/such/method"}'));
  await c.waitFor(() => nullIdErrors(c).length >= 2, 'parse error');
  assert.equal(nullIdErrors(c)[1].error.code, -32700);
  await alive(c);
  // Header names are case-insensitive; Content-Type is allowed; a body split across writes
  // in the middle of a multi-byte character is joined.
  const split = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 'split', method: 'no/such/method', params: { s: '漢🚀' } }));
  const cut = split.indexOf(Buffer.from('🚀')) + 2;
  c.raw(`content-length: ${split.length}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n`);
  c.raw(split.subarray(0, cut));
  await new Promise((r) => setTimeout(r, 50));
  c.raw(split.subarray(cut));
  assert.equal((await c.waitFor((m) => m.id === 'split')).error.code, -32601);
  assert.equal(await c.close(), 0);
});

test('before initialize: requests get -32002, notifications are dropped, exit still works', { timeout: 60000 }, async () => {
  const c = new Client();
  for (const method of ['textDocument/inlineCompletion', 'textDocument/completion', 'shutdown', 'no/such/method']) {
    const r = await c.request(method, { textDocument: { uri: URI }, position: { line: 0, character: 0 } });
    assert.equal(r.error?.code, -32002, `${method}: ${JSON.stringify(r)}`);
  }
  // Dropped: this document does not exist after initialize.
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'c', version: 1, text: 'int a;' } });
  await c.initialize();
  const r = await c.request('hearth/debugDocument', { textDocument: { uri: URI } });
  assert.equal(r.error?.code, -32602);
  assert.equal(await c.close(), 0);
});

test('wrong param types and out-of-range positions in completion requests', { timeout: 60000 }, async () => {
  const c = new Client(); // no model: requests that pass validation fail with RequestFailed
  await c.initialize();
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'c', version: 1, text: 'int a;\n' } });
  const bad = [
    { textDocument: { uri: URI }, position: { line: 'zero', character: 0 } },
    { textDocument: { uri: URI }, position: { line: 0 } },
    { textDocument: { uri: URI }, position: { line: 0, character: -5 } },
    { textDocument: { uri: URI }, position: { line: 1.5, character: 0 } },
    { textDocument: { uri: 42 }, position: { line: 0, character: 0 } },
    { textDocument: { uri: 'file:///not/open' }, position: { line: 0, character: 0 } },
    { position: { line: 0, character: 0 } },
    [1, 2, 3],
  ];
  for (const method of ['textDocument/inlineCompletion', 'textDocument/completion'])
    for (const params of bad) {
      const r = await c.request(method, params);
      assert.equal(r.error?.code, -32602, `${method} ${JSON.stringify(params)}: ${JSON.stringify(r)}`);
    }
  // Far past the end is clamped, not refused (clients race edits): it reaches the model stage.
  for (const position of [{ line: 1e9, character: 0 }, { line: 0, character: 2 ** 40 }]) {
    const r = await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI }, position });
    assert.equal(r.error?.code, -32803, JSON.stringify(r));
  }
  c.send({ jsonrpc: '2.0', id: 'p', method: 'textDocument/completion', params: 'a string' });
  assert.equal((await c.waitFor((m) => m.id === 'p')).error.code, -32602);
  // A cancel for an unknown id, or with a bad id, is ignored.
  c.notify('$/cancelRequest', { id: 'never-sent' });
  c.notify('$/cancelRequest', { id: { nested: true } });
  c.notify('$/cancelRequest', null);
  await alive(c);
  assert.equal(await c.close(), 0);
});

// A JavaScript string may hold U+0000 and lone surrogates, and JSON.stringify sends them as
// \u0000 and \ud800 escapes. Refusing the didOpen left the server without the document while
// the editor went on editing it: it is accepted, NUL kept, each lone surrogate made U+FFFD (one
// UTF-16 unit, like the editor's), so later positions still agree with the editor's copy.
test('documents holding U+0000 and lone surrogates are kept in step with the editor', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  const text = 'a\u0000b\ud800c\udc00d\ud83d\ude80e\n\\ud800 stays text\n';
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'c', version: 1, text } });
  const want = text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  assert.equal(want, 'a\u0000b\ufffdc\ufffdd\ud83d\ude80e\n\\ud800 stays text\n');
  assert.equal((await doc(c, URI)).text, want);
  // UTF-16 positions after the NUL and the replaced surrogates: 'X' lands before 'e', and a
  // lone surrogate inside a change is replaced the same way.
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: { line: 0, character: 9 }, end: { line: 0, character: 9 } }, text: 'X\udfff\u0000' }] });
  assert.equal((await doc(c, URI)).text, 'a\u0000b\ufffdc\ufffdd\ud83d\ude80X\ufffd\u0000e\n\\ud800 stays text\n');
  assert.equal(nullIdErrors(c).length, 0, JSON.stringify(nullIdErrors(c)));
  assert.equal(await c.close(), 0);
});

// A model path that is a fifo (or a directory) is named for what it is, at once: opening a fifo
// for reading would wait for a writer forever, and "no such file" sends the user looking for a
// file that is there.
test('a completion model that is a fifo or a directory is refused at once, named', { timeout: 60000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-fifo-'));
  const fifo = join(dir, 'model.gguf');
  execFileSync('mkfifo', [fifo]);
  try {
    for (const [model, kind] of [[fifo, /fifo/], [dir, /directory/]]) {
      const c = new Client();
      await c.initialize({ initializationOptions: { completionModel: model, threads: 1 } });
      c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'c', version: 1, text: 'int a' } });
      const r = await c.request('textDocument/inlineCompletion', { textDocument: { uri: URI },
        position: { line: 0, character: 5 }, context: { triggerKind: 1 } });
      const said = JSON.stringify(r.error ?? r.result) + c.stderr +
        JSON.stringify(c.messages.filter((m) => m.method?.startsWith('window/')));
      assert.match(said, kind);
      assert.doesNotMatch(said, /no such file/);
      assert.equal(await c.close(), 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
