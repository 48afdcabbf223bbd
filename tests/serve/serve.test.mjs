// `hearth serve` driven by real HTTP clients: curl (Debian) and the official `openai` npm
// package. Two servers: a Qwen-vocabulary model (chat template, FIM tokens) with an embedding
// model, and stories260K behind an API key (greedy answers checked against `hearth run`).
// env: HEARTH_BIN, HEARTH_REF_DIR, HEARTH_TEST_DATA
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import net from 'node:net';
import OpenAI from 'openai';

const BIN = process.env.HEARTH_BIN;
const REF = process.env.HEARTH_REF_DIR;
const DATA = process.env.HEARTH_TEST_DATA;
const QWEN = `${REF}/models/tiny-qwen2-peaked-Q8_0.gguf`;
const EMBED = `${REF}/models/tiny-qwen3-embed-Q8_0.gguf`;
const STORIES = `${DATA}/stories260K.gguf`;
const KEY = 'test-secret-key';

const servers = [];
after(() => servers.forEach((s) => s.kill('SIGTERM')));

// Starts `hearth serve` on a free port; resolves with its base URL once it listens.
function startServer(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, ['serve', '--port', '0', '-t', '1', '-q', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
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

function curl(args) {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-w', '\n%{http_code}', ...args], { maxBuffer: 1 << 26 },
      (e, out) => {
        const i = out.lastIndexOf('\n');
        resolve({ status: Number(out.slice(i + 1)), body: out.slice(0, i) });
      });
  });
}

async function post(base, path, body, headers = {}) {
  const r = await fetch(base + path, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

function assertError(r, status, code) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
  assert.ok('type' in r.json.error && 'param' in r.json.error && 'code' in r.json.error);
  if (code) assert.equal(r.json.error.code, code);
}

function hearthRun(prompt, n) {
  return new Promise((resolve, reject) => {
    execFile(BIN, ['run', '-m', STORIES, '-p', prompt, '-n', String(n), '--temp', '0', '-t', '1'],
      (e, out) => (e ? reject(e) : resolve(out)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const qwen = await startServer(['-m', QWEN, '--embedding-model', EMBED, '--max-body', '65536',
  '--max-header', '4096', '--request-timeout-ms', '700', '-c', '2048', '--parallel', '4']);
const stories = await startServer(['-m', STORIES, '--api-key', KEY, '--parallel', '8']);
const qclient = new OpenAI({ baseURL: `${qwen.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const sclient = new OpenAI({ baseURL: `${stories.url}/v1`, apiKey: KEY, maxRetries: 0 });

test('health and models', async () => {
  const h = await (await fetch(`${qwen.url}/health`)).json();
  assert.equal(h.status, 'ok');
  const models = await qclient.models.list();
  const ids = models.data.map((m) => m.id);
  assert.deepEqual(ids, ['tiny-qwen2-peaked-Q8_0', 'tiny-qwen3-embed-Q8_0']);
});

test('greedy completion equals hearth run, with usage counts', async () => {
  const prompt = 'Once upon a time';
  const r = await sclient.completions.create({ model: 'x', prompt, max_tokens: 24, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 24);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 24);
  assert.equal(r.choices[0].text, await hearthRun(prompt, 24));
});

test('concurrent requests are decoded together and each gets its own answer', async () => {
  const prompts = ['Lily wanted to', 'The dog', 'One day, a little girl named', 'Tom and Sue',
    'The sun was', 'Once there was a big', 'Mom said', 'The bird flew'];
  const alone = [];
  for (const p of prompts) alone.push(await hearthRun(p, 32));
  const together = await Promise.all(prompts.map((prompt) => sclient.completions.create(
    { model: 'x', prompt, max_tokens: 32, temperature: 0 })));
  together.forEach((r, i) => assert.equal(r.choices[0].text, alone[i], prompts[i]));
});

test('stop strings end the text before them', async () => {
  const full = await hearthRun('Lily wanted to', 40);
  const cut = full.indexOf(' ', 12);
  const stop = full.slice(cut, cut + 4);
  const r = await sclient.completions.create({ model: 'x', prompt: 'Lily wanted to', max_tokens: 40,
    temperature: 0, stop: [stop, 'never-in-text'] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].text, full.slice(0, full.indexOf(stop)));
});

test('a seed makes sampling repeatable', async () => {
  const req = { model: 'x', prompt: 'The dog', max_tokens: 30, temperature: 0.9, top_p: 0.95, seed: 7 };
  const a = await sclient.completions.create(req);
  const b = await sclient.completions.create(req);
  assert.equal(a.choices[0].text, b.choices[0].text);
});

test('streamed chat equals the non-streamed answer (openai client)', async () => {
  const req = { model: 'x', messages: [{ role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Write a loop in C.' }], max_tokens: 20, temperature: 0 };
  const whole = await qclient.chat.completions.create(req);
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].message.role, 'assistant');
  const stream = await qclient.chat.completions.create({ ...req, stream: true,
    stream_options: { include_usage: true } });
  let text = '', chunks = 0, usage = null, finish = null;
  for await (const ch of stream) {
    chunks++;
    if (ch.usage) usage = ch.usage;
    if (ch.choices.length) {
      text += ch.choices[0].delta.content ?? '';
      finish = ch.choices[0].finish_reason ?? finish;
    }
  }
  assert.ok(chunks > 3);
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);
});

test('streamed completion over curl is server-sent events ending with [DONE]', async () => {
  const r = await curl(['-N', `${qwen.url}/v1/completions`, '-d',
    '{"prompt":"int main(","max_tokens":6,"temperature":0,"stream":true}']);
  assert.equal(r.status, 200);
  const events = r.body.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
  assert.equal(events.at(-1), '[DONE]');
  const last = JSON.parse(events.at(-2));
  assert.equal(last.choices[0].finish_reason, 'length');
});

test('fill-in-the-middle: /v1/fim reuses the KV cache like the LSP; suffix on /v1/completions', async () => {
  const pre = 'def add(a, b):\n    """Return the sum."""\n    return ';
  const a = await post(qwen.url, '/v1/fim', { prompt: pre, suffix: '\n\nprint(add(1, 2))\n',
    max_tokens: 8 });
  assert.equal(a.status, 200, JSON.stringify(a.json));
  assert.equal(a.json.object, 'text_completion');
  assert.equal(typeof a.json.choices[0].text, 'string');
  assert.ok(a.json.usage.prompt_tokens > 10);
  // the next keystroke: only what follows the common prefix is evaluated again
  const b = await post(qwen.url, '/v1/fim', { prompt: pre + 'a', suffix: '\n\nprint(add(1, 2))\n',
    max_tokens: 8 });
  assert.equal(b.status, 200);
  assert.ok(b.json.usage.prompt_tokens_details.cached_tokens > 5, JSON.stringify(b.json.usage));
  const c = await post(qwen.url, '/v1/completions', { prompt: pre, suffix: '\n', max_tokens: 8,
    temperature: 0 });
  assert.equal(c.status, 200);
  assert.equal(c.json.usage.completion_tokens <= 8, true);
  assertError(await post(qwen.url, '/v1/fim', { prompt: 1 }), 400);
  const noFim = await post(stories.url, '/v1/fim', { prompt: 'a', suffix: 'b' },
    { authorization: `Bearer ${KEY}` });
  assertError(noFim, 400);
});

test('embeddings: string and array input, float and base64 agree', async () => {
  const one = await post(qwen.url, '/v1/embeddings', { input: 'hello world', model: 'x' });
  assert.equal(one.status, 200);
  assert.equal(one.json.data.length, 1);
  const v = one.json.data[0].embedding;
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4);
  const many = await qclient.embeddings.create({ model: 'x', input: ['hello world', 'fn main() {}'] });
  assert.equal(many.data.length, 2);
  assert.equal(many.data[1].index, 1);
  // the same text alone and packed with another: different batch sizes take different matmul
  // kernels (tile vs one-row), whose last-bit differences the int8 activation rounding can
  // amplify to ~1e-3 in a component; a packing or masking error would change the whole vector
  const w = many.data[0].embedding;
  const cos = w.reduce((s, x, i) => s + x * v[i], 0);
  assert.ok(cos > 0.9999, `cosine ${cos}`);
  w.forEach((x, i) => assert.ok(Math.abs(x - v[i]) < 1e-2));
  assert.ok(many.usage.prompt_tokens > 0);
});

test('malformed and invalid requests get OpenAI-shaped 4xx errors', async () => {
  assertError(await post(qwen.url, '/v1/completions', '{"prompt": "x",'), 400, 'invalid_json');
  assertError(await post(qwen.url, '/v1/completions', '[1,2]'), 400);
  assertError(await post(qwen.url, '/v1/completions', { max_tokens: 3 }), 400);
  assertError(await post(qwen.url, '/v1/completions', { prompt: 'x', temperature: 9 }), 400);
  assertError(await post(qwen.url, '/v1/completions', { prompt: 'x', max_tokens: -1 }), 400);
  assertError(await post(qwen.url, '/v1/completions', { prompt: 'x', stop: [1] }), 400);
  assertError(await post(qwen.url, '/v1/chat/completions', { messages: [] }), 400);
  assertError(await post(qwen.url, '/v1/chat/completions', { messages: [{ role: 'x', content: 'y' }] }), 400);
  const effort = await post(qwen.url, '/v1/chat/completions',
    { messages: [{ role: 'user', content: 'y' }], reasoning_effort: 'extreme' });
  assertError(effort, 400);
  assert.match(effort.json.error.message, /reasoning_effort/);
  assertError(await post(qwen.url, '/v1/embeddings', { input: [] }), 400);
  assertError(await post(qwen.url, '/v1/embeddings', { input: 'x', encoding_format: 'hex' }), 400);
  assertError(await post(qwen.url, '/v1/completions', { prompt: 'word '.repeat(3000) }), 400,
    'context_length_exceeded');
  assertError(await post(qwen.url, '/v1/nothing', {}), 404);
  const r = await fetch(`${qwen.url}/v1/completions`);
  assertError({ status: r.status, json: await r.json() }, 405);
  const del = await curl(['-X', 'DELETE', `${qwen.url}/v1/completions`]);
  assert.equal(del.status, 405);
  const bad = await curl(['-X', 'BREW', `${qwen.url}/v1/completions`]); // not HTTP at all
  assert.equal(bad.status, 400);
});

test('limits: oversize body 413, oversize headers 431', async () => {
  const big = await curl([`${qwen.url}/v1/completions`, '-H', 'content-type: application/json',
    '--data-binary', JSON.stringify({ prompt: 'x'.repeat(100000) })]);
  assert.equal(big.status, 413);
  assert.match(JSON.parse(big.body).error.message, /too large/);
  const hdr = await curl([`${qwen.url}/health`, '-H', `x-filler: ${'y'.repeat(8000)}`]);
  assert.equal(hdr.status, 431);
});

test('slow partial headers time out with 408 and the connection closes', async () => {
  const got = await new Promise((resolve) => {
    const sock = net.connect(new URL(qwen.url).port, '127.0.0.1', () => {
      sock.write('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le');
    });
    let data = '';
    sock.on('data', (d) => { data += d; });
    sock.on('close', () => resolve(data));
    sock.on('error', () => resolve(data));
  });
  assert.match(got, /^HTTP\/1\.1 408 /);
});

test('API key: missing or wrong key is 401 on every route, the right key works', async () => {
  for (const path of ['/health', '/v1/models']) {
    const r = await fetch(stories.url + path);
    assertError({ status: r.status, json: await r.json() }, 401, 'invalid_api_key');
    const w = await fetch(stories.url + path, { headers: { authorization: 'Bearer wrong' } });
    assert.equal(w.status, 401);
  }
  const wrong = new OpenAI({ baseURL: `${stories.url}/v1`, apiKey: 'nope', maxRetries: 0 });
  await assert.rejects(wrong.completions.create({ model: 'x', prompt: 'a', max_tokens: 2 }),
    (e) => e.status === 401);
  const ok = await sclient.completions.create({ model: 'x', prompt: 'a', max_tokens: 2 });
  assert.equal(ok.usage.completion_tokens, 2);
});

test('binding a non-loopback address without --api-key is refused', async () => {
  const r = await new Promise((resolve) => {
    execFile(BIN, ['serve', '-m', STORIES, '--host', '0.0.0.0', '--port', '0'],
      (e, out, err) => resolve({ code: e ? e.code : 0, err }));
  });
  assert.notEqual(r.code, 0);
  assert.match(r.err, /requires --api-key/);
});

test('a client that disconnects cancels its generation', async () => {
  const before = await (await fetch(`${qwen.url}/health`)).json();
  const ac = new AbortController();
  const stream = await qclient.completions.create({ model: 'x', prompt: 'for (;;)',
    max_tokens: 100000, stream: true }, { signal: ac.signal });
  let n = 0;
  try {
    for await (const ch of stream) { // eslint-disable-line no-unused-vars
      if (++n === 3) ac.abort();
    }
  } catch (e) {
    assert.ok(ac.signal.aborted, String(e));
  }
  let h;
  for (let i = 0; i < 200; i++) {
    h = await (await fetch(`${qwen.url}/health`)).json();
    if (h.requests_active === 0 && h.requests_cancelled > before.requests_cancelled) break;
    await sleep(25);
  }
  assert.equal(h.requests_active, 0);
  assert.equal(h.requests_cancelled, before.requests_cancelled + 1);
});

test('a full queue answers 429; waiting requests run when a slot frees', async () => {
  const one = await startServer(['-m', QWEN, '--parallel', '1', '--max-queue', '1', '-c', '4096']);
  const client = new OpenAI({ baseURL: `${one.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const ac = new AbortController();
  const long = await client.completions.create({ model: 'x', prompt: 'while (1)', max_tokens: 4000,
    temperature: 0, stream: true }, { signal: ac.signal });
  const it = long[Symbol.asyncIterator]();
  await it.next(); // the long request holds the only slot now
  const queued = post(one.url, '/v1/completions', { prompt: 'x', max_tokens: 3, temperature: 0 });
  let h;
  for (let i = 0; i < 400; i++) {
    h = await (await fetch(`${one.url}/health`)).json();
    if (h.requests_queued === 1) break;
    await sleep(10);
  }
  assert.equal(h.requests_queued, 1);
  assertError(await post(one.url, '/v1/completions', { prompt: 'y', max_tokens: 3 }), 429, 'queue_full');
  ac.abort();
  await it.next().catch(() => {});
  const r = await queued;
  assert.equal(r.status, 200);
  assert.equal(r.json.usage.completion_tokens, 3);
  one.proc.kill('SIGTERM');
});

test('Expect: 100-continue gets its interim response before the body', async () => {
  const out = await new Promise((resolve) => {
    execFile('curl', ['-sv', '--expect100-timeout', '60', `${qwen.url}/v1/completions`, '-H',
      'Expect: 100-continue', '-d', '{"prompt":"x","max_tokens":2,"temperature":0}'],
      (e, stdout, stderr) => resolve({ stdout, stderr }));
  });
  assert.match(out.stderr, /< HTTP\/1\.1 100 Continue/);
  assert.equal(JSON.parse(out.stdout).usage.completion_tokens, 2);
});

test('servers stop cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  for (const s of [qwen, stories]) {
    const code = await new Promise((resolve) => {
      s.proc.on('exit', (c, sig) => resolve(c ?? sig));
      s.proc.kill('SIGTERM');
    });
    assert.equal(code, 0, s.stderr());
    assert.doesNotMatch(s.stderr(), /Sanitizer|runtime error/);
  }
});
