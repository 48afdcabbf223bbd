// hearth lsp over real pipes: lifecycle, position encodings, documents with multi-byte text,
// incremental trees, hostile frames, scheduling and cancellation.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, frame, killAll } from './client.mjs';

afterEach(killAll);

const URI = 'file:///tmp/hearth-test/a.c';

test('initialize negotiates utf-16 by default and shutdown + exit exits 0', { timeout: 60000 }, async () => {
  const c = new Client();
  const r = await c.initialize();
  assert.equal(r.result.capabilities.positionEncoding, 'utf-16');
  assert.equal(r.result.capabilities.textDocumentSync.change, 2);
  assert.equal(r.result.serverInfo.name, 'hearth');
  const again = await c.request('initialize', { capabilities: {} });
  assert.equal(again.error.code, -32600);
  assert.equal(await c.close(), 0);
});

test('initialize picks utf-8 when the client offers it', { timeout: 60000 }, async () => {
  const c = new Client();
  const r = await c.initialize({ capabilities: { general: { positionEncodings: ['utf-8', 'utf-16'] } } });
  assert.equal(r.result.capabilities.positionEncoding, 'utf-8');
  assert.equal(await c.close(), 0);
});

test('requests before initialize get -32002; exit without shutdown exits 1', { timeout: 60000 }, async () => {
  const c = new Client();
  const r = await c.request('hearth/debugDocument', { textDocument: { uri: URI } });
  assert.equal(r.error.code, -32002);
  c.notify('exit', null);
  assert.equal(await c.exited, 1);
});

test('requests after shutdown are refused; closing stdin after shutdown exits 0', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  assert.equal((await c.request('shutdown', null)).result, null);
  const r = await c.request('hearth/debugDocument', { textDocument: { uri: URI } });
  assert.equal(r.error.code, -32600);
  c.proc.stdin.end();
  assert.equal(await c.exited, 0);
});

test('closing stdin without shutdown exits 1', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  c.proc.stdin.end();
  assert.equal(await c.exited, 1);
});

// A deterministic generator, so a failure replays the same edits.
function rng(seed) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

// LSP (line, character) of a JS string index: JS strings are UTF-16, as the protocol's default.
function positionUtf16(text, index) {
  const before = text.slice(0, index).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}

function positionUtf8(text, index) {
  const before = text.slice(0, index).split('\n');
  return { line: before.length - 1, character: Buffer.byteLength(before[before.length - 1]) };
}

// Indices that do not split a surrogate pair.
function boundary(text, i) {
  const c = text.charCodeAt(i - 1);
  return c >= 0xd800 && c <= 0xdbff ? i - 1 : i;
}

const PIECES = ['é', '🚀', '漢字', 'x', ' ', '\n', '(', ')', '{', '}', ';', 'int a', '"ü"', '// 💡\n'];

async function randomEdits(c, uri, text, n, position, seed) {
  const r = rng(seed);
  for (let v = 2; v < n + 2; v++) {
    const a = boundary(text, Math.floor(r() * (text.length + 1)));
    const b = boundary(text, Math.min(text.length, a + Math.floor(r() * 4)));
    const ins = r() < 0.7 ? PIECES[Math.floor(r() * PIECES.length)] : '';
    const range = { start: position(text, a), end: position(text, b) };
    text = text.slice(0, a) + ins + text.slice(b);
    c.notify('textDocument/didChange', {
      textDocument: { uri, version: v }, contentChanges: [{ range, text: ins }],
    });
  }
  return text;
}

const SOURCE = 'int main(void) {\n  const char *s = "é🚀漢字";\n  return 0;\n}\n';

async function doc(c, uri) {
  const r = await c.request('hearth/debugDocument', { textDocument: { uri } });
  assert.ok(r.result, JSON.stringify(r.error));
  return r.result;
}

test('incremental utf-16 edits of multi-byte text match a reference, and the tree too', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'c', version: 1, text: SOURCE } });
  // 🚀 is two UTF-16 units: inserting at character 22 of line 1 lands after it.
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: { line: 1, character: 22 }, end: { line: 1, character: 22 } }, text: '|' }] });
  assert.equal((await doc(c, URI)).text, SOURCE.replace('🚀', '🚀|'));
  let expect = await randomEdits(c, URI, SOURCE.replace('🚀', '🚀|'), 300, positionUtf16, 7);
  const d = await doc(c, URI);
  assert.equal(d.text, expect);
  assert.equal(d.version, 301);
  assert.equal(d.grammar, 'c');
  assert.ok(d.parses > 300, `incremental parses: ${d.parses}`);
  // The tree after 300 incremental re-parses equals a fresh parse of the same text.
  c.notify('textDocument/didOpen', { textDocument: { uri: URI + '2', languageId: 'c', version: 1, text: expect } });
  assert.equal(d.tree, (await doc(c, URI + '2')).tree);
  // A full-text change replaces everything.
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 400 }, contentChanges: [{ text: 'int x;' }] });
  const full = await doc(c, URI);
  assert.equal(full.text, 'int x;');
  assert.match(full.tree, /^\(translation_unit \(declaration/);
  assert.equal(await c.close(), 0);
});

test('utf-8 positions count bytes', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize({ capabilities: { general: { positionEncodings: ['utf-8'] } } });
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: 'x = "é🚀"\n' } });
  // byte 7 of line 0 is right after é (2 bytes) and before 🚀 (4 bytes)
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: { line: 0, character: 7 }, end: { line: 0, character: 11 } }, text: '漢' }] });
  assert.equal((await doc(c, URI)).text, 'x = "é漢"\n');
  const expect = await randomEdits(c, URI, 'x = "é漢"\n', 200, positionUtf8, 11);
  const d = await doc(c, URI);
  assert.equal(d.text, expect);
  assert.equal(d.grammar, 'python');
  assert.equal(await c.close(), 0);
});

test('positions past the end clamp; CRLF and CR end lines', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'plaintext', version: 1, text: 'ab\r\ncd\ref' } });
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: { line: 1, character: 99 }, end: { line: 1, character: 99 } }, text: '!' },
    { range: { start: { line: 2, character: 1 }, end: { line: 2, character: 1 } }, text: '?' },
    { range: { start: { line: 9, character: 0 }, end: { line: 9, character: 0 } }, text: '$' }] });
  const d = await doc(c, URI);
  assert.equal(d.text, 'ab\r\ncd!\re?f$');
  assert.equal(d.tree ?? null, null); // no grammar for plaintext
  assert.equal(await c.close(), 0);
});

test('every grammar parses its language', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  const samples = {
    c: ['int f(void) { return 1; }', 'function_definition'],
    cpp: ['class A { public: int x; };', 'class_specifier'],
    python: ['def f():\n    return 1\n', 'function_definition'],
    javascript: ['function f() { return <a/>; }', 'jsx_self_closing_element'],
    typescript: ['let x: number = 1;', 'type_annotation'],
    typescriptreact: ['const a = <div>{x as number}</div>;', 'jsx_element'],
    go: ['package main\nfunc main() {}\n', 'function_declaration'],
    rust: ['fn main() { let x = 1; }', 'function_item'],
    java: ['class A { void f() {} }', 'method_declaration'],
    lua: ['local function f() return 1 end', 'function_declaration'],
    shellscript: ['for i in 1 2; do echo "$i"; done', 'for_statement'],
    json: ['{"a": [1, 2]}', 'pair'],
  };
  for (const [lang, [text, node]] of Object.entries(samples)) {
    const uri = `file:///s/${lang}`;
    c.notify('textDocument/didOpen', { textDocument: { uri, languageId: lang, version: 1, text } });
    const d = await doc(c, uri);
    assert.ok(d.tree && d.tree.includes(`(${node}`), `${lang}: ${d.tree}`);
    assert.ok(!d.tree.includes('ERROR'), `${lang}: ${d.tree}`);
  }
  assert.equal(await c.close(), 0);
});

test('hostile frames and JSON get JSON-RPC errors and the server keeps serving', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  const errors = () => c.messages.filter((m) => m.error && m.id === null);
  const expectError = async (n, code) => {
    const m = await c.waitFor(() => errors().length >= n, `error ${n}`).then(() => errors()[n - 1]);
    assert.equal(m.error.code, code, JSON.stringify(m));
  };
  c.raw(frame('{"jsonrpc": "2.0", "id": 1, "method": '));
  await expectError(1, -32700);
  c.raw(frame('[1, 2]'));
  await expectError(2, -32600);
  c.raw(frame(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]))); // invalid UTF-8
  await expectError(3, -32700);
  c.raw('Content-Type: text/plain\r\n\r\n{}'); // no Content-Length
  await expectError(4, -32700);
  c.raw('Content-Length: 99999999999999999999\r\n\r\n');
  await expectError(5, -32700);
  c.raw('Content-Length: twelve\r\n\r\n');
  await expectError(6, -32700);
  c.raw('Content-Length: 1' + 'x'.repeat(20000)); // a header section that never ends
  await expectError(7, -32700);
  c.raw(frame('{"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}'));
  await expectError(8, -32600);

  let r = await c.request('no/such/method', {});
  assert.equal(r.error.code, -32601);
  r = await c.request('hearth/debugDocument', { textDocument: 5 });
  assert.equal(r.error.code, -32602);
  r = await c.request('hearth/debugDocument', []);
  assert.equal(r.error.code, -32602);
  r = await c.request('hearth/debugDocument', { textDocument: { uri: 'file:///nope' } });
  assert.equal(r.error.code, -32602);
  c.send({ jsonrpc: '1.0', id: 77, method: 'shutdown' });
  assert.equal((await c.waitFor((m) => m.id === 77)).error.code, -32600);
  c.send({ jsonrpc: '2.0', id: 78, method: 'textDocument/didOpen', params: {} });
  assert.equal((await c.waitFor((m) => m.id === 78)).error.code, -32600);

  // Wrong types in notifications are logged, and change nothing.
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'c', version: 'one', text: 'x' } });
  await c.waitFor((m) => m.method === 'window/logMessage' && /didOpen/.test(m.params.message), 'log');
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'c', version: 1, text: 'int a;' } });
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'x' },
    { range: { start: { line: -1, character: 0 }, end: { line: 0, character: 0 } }, text: 'y' }] });
  assert.equal((await doc(c, URI)).text, 'int a;'); // the bad change rejected the whole batch

  // A 20 MB document arrives whole, in one frame.
  const big = 'int a;\n'.repeat(3 * 1024 * 1024);
  c.notify('textDocument/didOpen', { textDocument: { uri: URI + 'big', languageId: 'json', version: 1, text: big } });
  assert.equal((await doc(c, URI + 'big')).text.length, big.length);
  // Over the parse limit: kept, but without a tree (parsing it would stall the loop), and said so.
  assert.ok(c.messages.some((m) => m.method === 'window/logMessage' && /over the 4 MiB parse limit/.test(m.params.message)));
  assert.equal(await c.close(), 0);
});

test('the loop answers while a job runs; cancel and supersede stop jobs', { timeout: 60000 }, async () => {
  const c = new Client();
  await c.initialize();
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'c', version: 1, text: 'int a;' } });
  // The job would take 20 s; the loop must answer meanwhile, and the cancel must end it early.
  const t0 = Date.now();
  const slowId = 'slow-1';
  let slowDone = false;
  const slow = c.request('hearth/debugWork', { ms: 20000 }, slowId).finally(() => { slowDone = true; });
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [{ text: 'int b;' }] });
  assert.equal((await doc(c, URI)).text, 'int b;');
  assert.equal(slowDone, false, 'didChange waited for the job');
  c.notify('$/cancelRequest', { id: slowId });
  const slowResp = await slow;
  assert.equal(slowResp.error?.code, -32800, JSON.stringify(slowResp));
  assert.ok(Date.now() - t0 < 15000, 'cancel did not stop the job early');

  // A newer job for the same document supersedes the older one.
  const older = c.request('hearth/debugWork', { ms: 20000, textDocument: { uri: URI } });
  const newer = c.request('hearth/debugWork', { ms: 10, textDocument: { uri: URI } });
  assert.equal((await older).error?.code, -32800);
  assert.equal((await newer).result.ms, 10);
  assert.equal(await c.close(), 0);
});
