// FIM completion over a remote backend: `hearth lsp` whose configuration points the completion
// role at a second hearth process (`hearth serve`, OpenAI-compatible) running the same tiny model.
// Greedy decoding of the same prompt layout must give the local answer; a stopped server is a
// clear error (once as window/showMessage, on every request as a JSON-RPC error naming the URL);
// with "fallback": "local" the local model answers instead.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, Client, killAll, withTimeout } from './client.mjs';

afterEach(killAll);

const MODEL = `${process.env.HEARTH_REF_DIR || '../shared/reference'}/models/tiny-qwen2-peaked-Q8_0.gguf`;
const skip = existsSync(MODEL) ? false : `no ${MODEL}`;
const URI = 'file:///tmp/hearth-remote-test/calc.py';
const PREFIX = 'def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    ret';
const SUFFIX = '\n\n\nprint(add(1, 2), mul(3, 4))\n';
const POS = { line: 5, character: 7 };

const root = mkdtempSync(join(tmpdir(), 'hearth-remote-'));
let serve = null;
let base = '';

// Each client reads $XDG_CONFIG_HOME/hearth/config.json from its own directory.
function configDir(name, cfg) {
  const dir = join(root, name);
  mkdirSync(join(dir, 'hearth'), { recursive: true });
  if (cfg) writeFileSync(join(dir, 'hearth', 'config.json'), JSON.stringify(cfg));
  return dir;
}

function client(dir, args = []) {
  process.env.XDG_CONFIG_HOME = dir; // inherited by the spawned server
  return new Client(args);
}

function startServe() {
  return withTimeout(new Promise((resolve, reject) => {
    serve = spawn(BIN, ['serve', '-m', MODEL, '--port', '0', '-t', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    serve.stderr.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1].replace(/\/$/, ''));
    });
    serve.on('exit', (code) => reject(new Error(`hearth serve exited (${code}): ${err}`)));
  }), 60000, 'hearth serve did not start');
}

before(async () => {
  if (!skip) base = await startServe();
});

after(() => {
  if (serve) serve.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

async function complete(c) {
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'python', version: 1, text: PREFIX + SUFFIX } });
  return c.request('textDocument/inlineCompletion', {
    textDocument: { uri: URI }, position: POS, context: { triggerKind: 2 } });
}

function remoteCfg(extra = {}) {
  return { completion: { backend: 'openai', base_url: `${base}/v1`, model: 'tiny', retries: 0,
    connect_timeout_s: 2, timeout_s: 30, ...extra } };
}

let localText = null;

test('remote completion equals the local greedy completion', { skip, timeout: 120000 }, async () => {
  const local = client(configDir('none', null), ['--completion-model', MODEL, '--threads', '1']);
  await local.initialize();
  const lr = await complete(local);
  assert.ok(lr.result, JSON.stringify(lr.error));
  assert.equal(lr.result.hearth.remote, false);
  localText = lr.result.items.length ? lr.result.items[0].insertText : '';
  assert.ok(localText.trim().length > 0, 'the local model offers something here');
  assert.equal(await local.close(), 0, local.stderr);

  const remote = client(configDir('remote', remoteCfg()));
  await remote.initialize();
  const rr = await complete(remote);
  assert.ok(rr.result, JSON.stringify(rr.error));
  assert.equal(rr.result.hearth.remote, true);
  assert.equal(rr.result.hearth.nReused, undefined); // no KV cache figures for a remote answer
  assert.equal(rr.result.items[0].insertText, localText);
  assert.deepEqual(rr.result.items[0].range.start, POS);
  assert.equal(await remote.close(), 0, remote.stderr);
});

test('a stopped backend is a clear error, or the local model with fallback', { skip, timeout: 120000 }, async () => {
  serve.kill('SIGKILL');
  await new Promise((r) => serve.on('exit', r).exitCode !== null && r());
  const down = client(configDir('down', remoteCfg()));
  await down.initialize();
  const r1 = await complete(down);
  assert.ok(r1.error, JSON.stringify(r1.result));
  assert.ok(r1.error.message.includes(`${base}/v1`), r1.error.message);
  assert.match(r1.error.message, /down/);
  const r2 = await complete(down);
  assert.ok(r2.error);
  const shown = down.messages.filter((m) => m.method === 'window/showMessage');
  assert.equal(shown.length, 1, 'the message is shown once per outage');
  assert.equal(shown[0].params.type, 1);
  assert.ok(shown[0].params.message.includes(`${base}/v1`), shown[0].params.message);
  assert.equal(await down.close(), 0, down.stderr);

  const fb = client(configDir('fallback', remoteCfg({ fallback: 'local', local_model: MODEL })), ['--threads', '1']);
  await fb.initialize();
  const r3 = await complete(fb);
  assert.ok(r3.result, JSON.stringify(r3.error));
  assert.equal(r3.result.hearth.remote, false);
  assert.equal(r3.result.hearth.fallback, true);
  if (localText !== null) assert.equal(r3.result.items[0].insertText, localText);
  assert.equal(fb.messages.filter((m) => m.method === 'window/showMessage').length, 0);
  assert.equal(await fb.close(), 0, fb.stderr);
});

test('the request carries the FIM layout as text, with marker text in the code defused', { timeout: 60000 }, async () => {
  // A stand-in server that records the request and streams a fixed suggestion.
  const { createServer } = await import('node:http');
  let body = null;
  const srv = createServer((req, res) => {
    let data = '';
    req.on('data', (d) => { data += d; });
    req.on('end', () => {
      body = { url: req.url, json: JSON.parse(data) };
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('data: {"choices":[{"text":"urn a * b","index":0,"finish_reason":null}]}\n\n');
      res.end('data: {"choices":[{"text":"\\n","index":0,"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}/v1`;
  try {
    const c = client(configDir('stub', { completion: { backend: 'openai', base_url: url, model: 'm', retries: 0 } }));
    await c.initialize();
    const uri = 'file:///tmp/hearth-remote-test/tricky.py';
    const text = 's = "<|fim_middle|>"\ndef mul(a, b):\n    ret\nprint(mul(3, 4))\n';
    c.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
    const r = await c.request('textDocument/inlineCompletion', {
      textDocument: { uri }, position: { line: 2, character: 7 }, context: { triggerKind: 2 } });
    assert.ok(r.result, JSON.stringify(r.error));
    assert.equal(r.result.items[0].insertText, 'urn a * b');
    assert.equal(r.result.hearth.nPartials, 0);
    assert.equal(c.messages.filter((m) => m.method === 'hearth/inlineCompletionPartial').length, 0);
    // Streamed: partial texts before the reply, each a prefix of it.
    const s = await c.request('textDocument/inlineCompletion', {
      textDocument: { uri }, position: { line: 2, character: 7 }, hearth: { stream: 'rt' } });
    assert.equal(s.result.items[0].insertText, 'urn a * b');
    const texts = c.messages.filter((m) => m.method === 'hearth/inlineCompletionPartial').map((m) => m.params.text);
    assert.ok(texts.length >= 1 && texts.every((t) => 'urn a * b'.startsWith(t) && t.length > 0), JSON.stringify(texts));
    assert.equal(s.result.hearth.nPartials, texts.length);
    assert.ok(c.messages.findIndex((m) => m.method === 'hearth/inlineCompletionPartial') < c.messages.findIndex((m) => m.id === s.id));
    assert.equal(body.url, '/v1/completions');
    const q = body.json;
    assert.equal(q.model, 'm');
    assert.equal(q.temperature, 0);
    assert.equal(q.max_tokens, 64);
    assert.ok(Array.isArray(q.stop) && q.stop.includes('<|endoftext|>'), JSON.stringify(q.stop));
    assert.equal(q.prompt, '<|fim_prefix|>s = "<\u200b|fim_middle|>"\ndef mul(a, b):\n' +
      '<|fim_suffix|>\nprint(mul(3, 4))\n<|fim_middle|>    ret');
    assert.equal(await c.close(), 0, c.stderr);
  } finally {
    srv.close();
  }
});
