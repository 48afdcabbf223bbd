// Working ahead of the request (issue 19): `hearth lsp` evaluates the prompt of the next inline
// completion when a document is opened, at hearth/cursor, after a newline and when the typist
// pauses, so the request evaluates only its last tokens. With tiny-qwen2-peaked (real Qwen2.5
// vocabulary and FIM tokens, deterministic under greedy decoding). A FIM-lane hearth/debugWork
// job queued after a prefill ends after it, and its reply carries the prefill counts.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, killAll } from './client.mjs';

afterEach(killAll);

const MODEL = `${process.env.HEARTH_REF_DIR || '../shared/reference'}/models/tiny-qwen2-peaked-Q8_0.gguf`;
const skip = existsSync(MODEL) ? false : `no ${MODEL}`;
const URI = 'file:///tmp/hearth-ahead-test/fib.py';
const lines = [];
for (let i = 0; i < 40; i++) lines.push(`def f${i}(x):\n    return x * ${i} + 1  # é🚀\n`);
const PREFIX = lines.join('') + 'def fib(n):\n    ';
const SUFFIX = '\n\nprint(fib(10))\n';
const TEXT = PREFIX + SUFFIX;

function at(text) {
  const ls = text.split('\n');
  return { line: ls.length - 1, character: ls[ls.length - 1].length };
}
const CURSOR = at(PREFIX);

async function start(options = {}, args = []) {
  const c = new Client(args);
  await c.initialize({ initializationOptions: { completionModel: MODEL, threads: 1, ...options } });
  await c.waitFor((m) => m.method === 'window/logMessage' && /completion model/.test(m.params.message),
    'model load', 60000);
  return c;
}

const open = (c, text = TEXT) => c.notify('textDocument/didOpen',
  { textDocument: { uri: URI, languageId: 'python', version: 1, text } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const IDLE_MS = 300; // lsp/ahead.c: the pause after an edit (or a didOpen) before a prefill
const cursor = (c, position, uri = URI) => c.notify('hearth/cursor', { textDocument: { uri }, position });

// Waits for the prefills queued so far (FIFO in the FIM lane) and returns their counts.
async function prefills(c) {
  const r = await c.request('hearth/debugWork', { ms: 0, lane: 'fim' });
  assert.ok(r.result, JSON.stringify(r.error));
  return r.result.prefill;
}

async function inline(c, position) {
  const r = await c.request('textDocument/inlineCompletion', {
    textDocument: { uri: URI }, position, context: { triggerKind: 2 } });
  assert.ok(r.result, JSON.stringify(r.error));
  return r.result;
}

test('without prefill the first request evaluates its whole prompt (the baseline)', { skip, timeout: 120000 }, async () => {
  for (const c of [await start({ prefillAhead: false }), await start({}, ['--no-prefill-ahead'])]) {
    open(c);
    cursor(c, CURSOR);
    const p = await prefills(c);
    assert.equal(p.enabled, false);
    assert.equal(p.submitted, 0);
    const r = await inline(c, CURSOR);
    assert.equal(r.hearth.nReused, 0);
    assert.equal(r.hearth.nEvaluated, r.hearth.nPrompt);
    assert.equal(await c.close(), 0);
  }
});

test('after didOpen + hearth/cursor the first request evaluates only its last token, same text', { skip, timeout: 120000 }, async () => {
  const off = await start({ prefillAhead: false });
  open(off);
  const base = await inline(off, CURSOR);
  assert.equal(await off.close(), 0);

  const c = await start();
  open(c);
  cursor(c, CURSOR);
  const p = await prefills(c);
  assert.equal(p.enabled, true);
  assert.equal(p.finished, 1, JSON.stringify(p));
  assert.equal(p.last.why, 'cursor');
  assert.equal(p.last.nEvaluated, p.last.nPrompt - 1, JSON.stringify(p)); // all but the last token
  assert.equal(p.submitted, 1); // hearth/cursor replaced the didOpen guess before it began
  const r = await inline(c, CURSOR);
  assert.equal(r.hearth.nPrompt, base.hearth.nPrompt);
  assert.equal(r.hearth.nReused, r.hearth.nPrompt - 1, JSON.stringify(r.hearth));
  assert.equal(r.hearth.nEvaluated, 1);
  assert.equal(r.items[0]?.insertText, base.items[0]?.insertText); // the same suggestion
  assert.ok(base.items[0]?.insertText.trim(), 'the model offers something here');
  // The same place again: nothing to do.
  cursor(c, CURSOR);
  assert.equal((await prefills(c)).skipped, 1);
  assert.equal(await c.close(), 0);
});

test('a generic client (no hearth/cursor) gets the top of the file on didOpen', { skip, timeout: 120000 }, async () => {
  const c = await start();
  open(c);
  assert.equal((await prefills(c)).submitted, 0); // the guess waits for a hearth/cursor first
  await sleep(IDLE_MS + 300);
  const p = await prefills(c);
  assert.equal(p.finished, 1, JSON.stringify(p));
  assert.equal(p.last.why, 'open');
  const r = await inline(c, { line: 0, character: 0 });
  assert.equal(r.hearth.nReused, r.hearth.nPrompt - 1, JSON.stringify(r.hearth));
  assert.equal(await c.close(), 0);
});

test('a newline and a pause after an edit prefill where the cursor went', { skip, timeout: 120000 }, async () => {
  const c = await start();
  open(c);
  await sleep(IDLE_MS + 300);
  assert.equal((await prefills(c)).finished, 1); // the didOpen guess
  await inline(c, CURSOR);
  // A newline with the next line's indentation, as editors auto-indent: the new line's prompt is
  // evaluated at once (the suffix follows the grown prefix), the request pays its last token.
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: CURSOR, end: CURSOR }, text: 'return 1\n    ' }] });
  let p = await prefills(c);
  assert.equal(p.last.why, 'newline');
  assert.ok(p.last.nEvaluated > 6, JSON.stringify(p)); // the suffix again
  const next = { line: CURSOR.line + 1, character: 4 };
  const nl = await inline(c, next);
  assert.equal(nl.hearth.nEvaluated, 1, JSON.stringify(nl.hearth));
  // An edit without a request: IDLE_MS (300 ms) later the prompt there is evaluated.
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 3 }, contentChanges: [
    { range: { start: next, end: next }, text: 'if n < 2: return n' }] });
  await sleep(IDLE_MS + 400);
  p = await prefills(c);
  assert.equal(p.last.why, 'idle', JSON.stringify(p));
  // the didOpen guess, the newline, the refresh right after the new line's reply (built on moved
  // entries: finished, or cancelled by the idle one when it took longer), the idle one
  assert.equal(p.submitted, 4, JSON.stringify(p));
  assert.equal(p.finished + p.cancelled, 4, JSON.stringify(p));
  assert.ok(p.finished >= 3, JSON.stringify(p));
  const submitted = p.submitted;
  const idle = await inline(c, { line: next.line, character: 4 + 'if n < 2: return n'.length });
  assert.equal(idle.hearth.nEvaluated, 1, JSON.stringify(idle.hearth));
  // A request right after an edit: no idle prefill behind it.
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 4 }, contentChanges: [
    { range: { start: { line: next.line, character: 0 }, end: { line: next.line, character: 0 } }, text: '#' }] });
  await inline(c, { line: next.line, character: 1 });
  await sleep(IDLE_MS + 400);
  assert.equal((await prefills(c)).submitted, submitted);
  // Edits in another document (a workspace edit, a rename across files): not where the person
  // types, no prefill there.
  const other = 'file:///tmp/hearth-ahead-test/other.py';
  c.notify('textDocument/didOpen', { textDocument: { uri: other, languageId: 'python', version: 1, text: 'a = 1\n' } });
  c.notify('textDocument/didChange', { textDocument: { uri: other, version: 2 }, contentChanges: [
    { range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: 'b = 2\n' }] });
  await sleep(IDLE_MS + 400);
  assert.equal((await prefills(c)).submitted, submitted);
  assert.equal(await c.close(), 0);
});

test('a request during a long prefill cancels it promptly and gets the same answer', { skip, timeout: 120000 }, async () => {
  const off = await start({ prefillAhead: false });
  open(off);
  const base = await inline(off, CURSOR);
  assert.equal(await off.close(), 0);

  // 150 ms at each cancel check — before each 64-token chunk and between its two layers — so
  // ~300 ms per chunk: the prefill of this ~800-token prompt would take ~4 s.
  const c = await start({ debugPrefillChunkMs: 150 });
  open(c);
  cursor(c, CURSOR);
  await sleep(1500); // at most five chunks evaluated (each waits 300 ms), at least one even on a loaded machine
  const r = await inline(c, CURSOR);
  assert.equal(r.items[0]?.insertText, base.items[0]?.insertText);
  assert.ok(r.hearth.nReused >= 64, JSON.stringify(r.hearth)); // what the prefill did is kept
  // Promptly: the prefill stopped within a chunk of the request (a few were done by then),
  // far from the whole prompt it would have reached — counted, not timed, so load cannot flake it.
  assert.ok(r.hearth.nReused <= 6 * 64 && r.hearth.nPrompt > 8 * 64, JSON.stringify(r.hearth));
  assert.equal(r.hearth.nEvaluated, r.hearth.nPrompt - r.hearth.nReused, JSON.stringify(r.hearth));
  const p = await prefills(c);
  assert.equal(p.submitted, 1, JSON.stringify(p));
  assert.equal(p.cancelled, 1);
  assert.equal(p.finished, 0);
  assert.equal(await c.close(), 0);
});

// kvShift (completion/shift.c): runs of 32+ cached tokens move to their new positions instead of
// being evaluated again; moved entries are approximations until a prefill re-evaluates them in
// place. A text with a long suffix, so a newline or a jump moves runs.
const after = [];
for (let i = 0; i < 30; i++) after.push(`def g${i}(y):\n    return y - ${i}\n`);
const LONG = PREFIX + '\n' + after.join('');

test('moved cache entries are made exact again at a pause (kvShift + refresh)', { skip, timeout: 120000 }, async () => {
  const c = await start();
  open(c, LONG);
  cursor(c, CURSOR);
  await prefills(c);
  await inline(c, CURSOR);
  // A newline: its prefill moves the suffix (nothing to evaluate but the new line), then evaluates
  // the moved entries again, exactly, since no request interrupts it.
  c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: CURSOR, end: CURSOR }, text: 'return 1\n    ' }] });
  let p = await prefills(c);
  assert.equal(p.last.why, 'newline', JSON.stringify(p));
  assert.ok(p.last.nReused > p.last.nPrompt - 32, JSON.stringify(p)); // moved, not evaluated
  assert.ok(p.refreshed >= 32, JSON.stringify(p));
  const next = { line: CURSOR.line + 1, character: 4 };
  const nl = await inline(c, next);
  assert.equal(nl.hearth.nEvaluated, 1, JSON.stringify(nl.hearth));
  assert.equal(nl.hearth.stale, false);
  // The same text on a server that never moved anything: the refreshed cache is exact.
  const off = await start({ prefillAhead: false, kvShift: false });
  open(off, LONG);
  off.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
    { range: { start: CURSOR, end: CURSOR }, text: 'return 1\n    ' }] });
  const fresh = await inline(off, next);
  assert.equal(fresh.hearth.nShifted, 0);
  assert.equal(nl.items[0]?.insertText, fresh.items[0]?.insertText);
  assert.equal(await off.close(), 0);
  // A jump by request alone (no hearth/cursor): the reply is built on moved entries (stale), and
  // right after it a prefill at the same place refreshes them.
  const up = { line: 20, character: 4 };
  const before = (await prefills(c)).refreshed;
  const jump = await inline(c, up);
  assert.ok(jump.hearth.nShifted >= 32 && jump.hearth.stale, JSON.stringify(jump.hearth));
  await sleep(IDLE_MS + 400);
  p = await prefills(c);
  assert.equal(p.last.why, 'refresh', JSON.stringify(p));
  assert.ok(p.refreshed - before >= jump.hearth.nShifted, JSON.stringify(p));
  assert.equal(p.last.nEvaluated, 0, JSON.stringify(p));
  assert.equal(await c.close(), 0);
});

test('the prompt budget: a far jump gets a small prompt at once, the whole one is built beside it', { skip, timeout: 120000 }, async () => {
  const c = await start();
  open(c, LONG);
  const top = { line: 2, character: 4 };
  cursor(c, top);
  await prefills(c);
  await inline(c, top);
  // A budget of 64 tokens at a speed the server assumes (not measured, so load cannot move the
  // decisions): a jump to the end lacks ~1000, a keystroke at a built place 1 or 2. Prefill slowed
  // to a big model's pace (each cancel check waits), so a keystroke cuts the whole build short.
  const settings = (hearth) => c.notify('workspace/didChangeConfiguration', { settings: { hearth } });
  settings({ maxPromptMs: 64, debugTokensPerMs: 1, debugPrefillChunkMs: 150 });
  const end = { line: LONG.split('\n').length - 3, character: 4 };
  const far = await inline(c, end);
  assert.ok(far.hearth.shrink > 0, JSON.stringify(far.hearth));
  await sleep(IDLE_MS + 500); // the whole prompt's build has begun
  const type = (ch, version) => c.notify('textDocument/didChange', { textDocument: { uri: URI, version },
    contentChanges: [{ range: { start: { line: end.line, character: ch }, end: { line: end.line, character: ch } }, text: 'x' }] });
  type(4, 2);
  const cut = await inline(c, { line: end.line, character: 5 });
  settings({ debugPrefillChunkMs: 0 }); // before the refresh this reply arms (IDLE_MS) is submitted
  let p = await prefills(c);
  assert.equal(p.last.why, 'refresh', JSON.stringify(p));
  assert.ok(p.cancelled >= 1, JSON.stringify(p));
  // The small prompt outlived the cut build (the quick cache): only the typed line is evaluated.
  assert.ok(cut.hearth.shrink > 0 && cut.hearth.nEvaluated <= 4, JSON.stringify({ cut: cut.hearth, far: far.hearth }));
  // A pause long enough: the whole prompt is built, and the next keystroke takes it.
  await sleep(IDLE_MS + 400);
  p = await prefills(c);
  assert.equal(p.last.why, 'refresh', JSON.stringify(p));
  assert.ok(p.last.nPrompt > far.hearth.nPrompt, JSON.stringify({ p, far: far.hearth }));
  type(5, 3);
  const next = await inline(c, { line: end.line, character: 6 });
  assert.equal(next.hearth.shrink, 0, JSON.stringify(next.hearth));
  assert.ok(Math.abs(next.hearth.nPrompt - p.last.nPrompt) <= 2, JSON.stringify(next.hearth)); // the line's last token
  assert.ok(next.hearth.nEvaluated <= 3, JSON.stringify(next.hearth));
  assert.equal(await c.close(), 0);
});

test('prefill never runs for a remote backend (even with a local fallback)', { skip, timeout: 120000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-ahead-'));
  try {
    mkdirSync(join(dir, 'hearth'));
    writeFileSync(join(dir, 'hearth', 'config.json'), JSON.stringify({ completion: { backend: 'openai',
      base_url: 'http://127.0.0.1:9/v1', model: 'x', retries: 0, connect_timeout_s: 1, fallback: 'local' } }));
    process.env.XDG_CONFIG_HOME = dir;
    const c = new Client(['--completion-model', MODEL, '--threads', '1']);
    delete process.env.XDG_CONFIG_HOME;
    await c.initialize();
    open(c);
    cursor(c, CURSOR);
    c.notify('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [
      { range: { start: CURSOR, end: CURSOR }, text: 'x\n' }] });
    const p = await prefills(c);
    assert.equal(p.submitted, 0, JSON.stringify(p));
    assert.equal(p.finished + p.cancelled + p.failed, 0);
    assert.equal(await c.close(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hostile hearth/cursor params are ignored; the server keeps serving', { skip, timeout: 120000 }, async () => {
  const c = await start();
  // Before didOpen (a plugin attaching a buffer): kept, and used when the document opens.
  c.notify('hearth/cursor', { textDocument: { uri: URI }, position: { line: 1, character: 2 } });
  open(c, 'x = 1\ny = 2\n');
  let p = await prefills(c);
  assert.equal(p.submitted, 1, JSON.stringify(p));
  assert.equal(p.last.why, 'cursor');
  const bad = [
    [], {}, { textDocument: 5 }, { textDocument: { uri: 7 }, position: { line: 0, character: 0 } },
    { textDocument: { uri: URI } }, { textDocument: { uri: URI }, position: { line: -1, character: 0 } },
    { textDocument: { uri: URI }, position: { line: 0, character: -3 } },
    { textDocument: { uri: URI }, position: { line: 'a', character: 0 } },
    { textDocument: { uri: URI }, position: { line: 0, character: 1.5 } },
    { textDocument: { uri: URI }, position: { line: 3, character: 0 } }, // past the last line
    { textDocument: { uri: URI }, position: { line: 1e15, character: 0 } },
  ];
  for (const params of bad) c.send({ jsonrpc: '2.0', method: 'hearth/cursor', params });
  // Refused before dispatch (params neither object nor array).
  for (const params of [null, 5, 'x']) c.send({ jsonrpc: '2.0', method: 'hearth/cursor', params });
  // A line too big for an integer: jansson reads a real, which the handler ignores.
  c.raw(Buffer.from('Content-Length: 94\r\n\r\n{"jsonrpc":"2.0","method":"hearth/cursor","params":{"position":{"line":99999999999999999999}}}'));
  p = await prefills(c);
  assert.equal(p.ignored, bad.length + 1, JSON.stringify(p));
  assert.equal(p.submitted, 1);
  // A document that is not open: remembered for its didOpen (a line past its end is ignored then).
  c.notify('hearth/cursor', { textDocument: { uri: 'file:///not/open.py' }, position: { line: 9, character: 0 } });
  assert.equal((await prefills(c)).submitted, 1);
  c.notify('textDocument/didOpen', { textDocument: { uri: 'file:///not/open.py', languageId: 'python', version: 1, text: 'z = 3\n' } });
  p = await prefills(c);
  assert.equal(p.submitted, 1);
  assert.equal(p.ignored, bad.length + 2);
  // A character past the line's end is the line's end, as for requests.
  cursor(c, { line: 1, character: 1e9 });
  p = await prefills(c);
  assert.equal(p.submitted, 2, JSON.stringify(p));
  assert.equal(p.last.why, 'cursor');
  const r = await inline(c, { line: 1, character: 5 });
  assert.equal(r.hearth.nEvaluated, 1, JSON.stringify(r.hearth));
  assert.equal(await c.close(), 0);
});
