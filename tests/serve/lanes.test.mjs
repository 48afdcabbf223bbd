// hearth serve on runtime/'s scheduler (issue 17): a big /v1/embeddings request runs in slices in
// the embedding lane, between steps of continuous batching, so a concurrent stream keeps getting
// tokens; a request whose client disconnects stops within one slice; SIGTERM or SIGINT during it
// exits in seconds (it took 85 s when the request ran whole on the scheduler thread).
// env: HEARTH_BIN, HEARTH_REF_DIR
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const BIN = process.env.HEARTH_BIN;
const REF = process.env.HEARTH_REF_DIR;
const QWEN = resolve(`${REF}/models/tiny-qwen2-peaked-Q8_0.gguf`);
const EMBED = resolve(`${REF}/models/tiny-qwen3-embed-Q8_0.gguf`);
const skip = existsSync(QWEN) && existsSync(EMBED) ? false : 'no reference models';

const servers = [];
after(() => servers.forEach((s) => s.kill('SIGKILL')));

function startServer(env = {}) {
  return new Promise((resolveUrl, reject) => {
    const p = spawn(BIN, ['serve', '--port', '0', '-t', '1', '-q', '-m', QWEN, '--embedding-model', EMBED,
      '--max-body', String(16 << 20)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    servers.push(p);
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) resolveUrl({ url: m[1], proc: p, stderr: () => err });
    });
    p.on('exit', (code) => reject(new Error(`hearth serve exited ${code}: ${err}`)));
  });
}

// n distinct texts of about 1 200 tokens each; a slice holds ~0.25 s of work (at least one text),
// and each text differs, so no slice is answered from the vector cache.
const WORDS = 'alpha beta gamma delta epsilon zeta eta theta iota kappa '.repeat(30);
const SLOW = process.env.HEARTH_SANITIZE === '1';
const inputs = (n) => Array.from({ length: n }, (_, i) => `${i} ${WORDS}`);

const health = async (url) => (await fetch(`${url}/health`)).json();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitSlices(url, n) {
  for (let i = 0; i < 2000; i++) {
    const h = await health(url);
    if (h.embedding_slices >= n) return h;
    await sleep(10);
  }
  throw new Error(`fewer than ${n} embedding slices`);
}

const N_STREAM = SLOW ? 30 : 120;
test('a stream keeps getting tokens while a big embedding request runs', { skip, timeout: 300000 }, async () => {
  const s = await startServer();
  const events = [];
  const embed = fetch(`${s.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: inputs(N_STREAM) }) })
    .then(async (r) => { const j = await r.json(); events.push('embedding done'); return { status: r.status, j }; });
  const h0 = await waitSlices(s.url, 1); // in flight
  const r = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'for (;;)', max_tokens: 8, temperature: 0, stream: true }) });
  const reader = r.body.getReader();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    if ((text.match(/"text"/g) || []).length >= 1 && !events.includes('first token')) events.push('first token');
  }
  events.push('stream done');
  const hs = await health(s.url);
  const e = await embed;
  assert.equal(e.status, 200, JSON.stringify(e.j).slice(0, 300));
  assert.equal(e.j.data.length, N_STREAM);
  assert.match(text, /\[DONE\]/);
  assert.deepEqual(events, ['first token', 'stream done', 'embedding done']);
  const total = (await health(s.url)).embedding_slices;
  console.log(`slices: ${h0.embedding_slices} when the stream began, ${hs.embedding_slices} when it ended, ${total} in all`);
  assert.ok(hs.embedding_slices < total, 'the embedding was still running when the stream ended');
  s.proc.kill('SIGTERM');
});

test('the embedding request of a client that disconnects stops within one slice', { skip, timeout: 300000 }, async () => {
  const s = await startServer();
  const before = await health(s.url);
  const ac = new AbortController();
  const req = fetch(`${s.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: inputs(300) }), signal: ac.signal }).catch((e) => e);
  const h1 = await waitSlices(s.url, 2);
  ac.abort();
  await req;
  let h;
  for (let i = 0; i < 1000; i++) {
    h = await health(s.url);
    if (h.requests_cancelled > before.requests_cancelled && h.requests_active === 0) break;
    await sleep(10);
  }
  assert.equal(h.requests_cancelled, before.requests_cancelled + 1);
  assert.equal(h.requests_active, 0);
  await sleep(500);
  const h2 = await health(s.url);
  console.log(`slices: ${h1.embedding_slices} seen before the abort, ${h2.embedding_slices} in all`);
  assert.equal(h2.embedding_slices, h.embedding_slices, 'no slice after the request ended');
  // the slice running at the abort, and one that may have started while the abort travelled
  assert.ok(h2.embedding_slices <= h1.embedding_slices + 2, `${h1.embedding_slices} -> ${h2.embedding_slices}`);
  s.proc.kill('SIGTERM');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} during a big embedding request exits within seconds`, { skip, timeout: 300000 }, async () => {
    const s = await startServer();
    const req = fetch(`${s.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: inputs(300) }) }).then((r) => r.status, () => 'closed');
    await waitSlices(s.url, 1);
    const t0 = Date.now();
    const code = await new Promise((res) => {
      s.proc.on('exit', (c, sig) => res(c ?? sig));
      s.proc.kill(signal);
    });
    const ms = Date.now() - t0;
    console.log(`${signal}: exit ${code} after ${ms} ms; the request: ${await req}`);
    assert.equal(code, 0, s.stderr());
    assert.ok(ms < 5000, `${signal} took ${ms} ms`); // the whole request takes ~20 s at -t 1
  });
}

// A long /v1/fim (~1 000 prompt tokens, 1 000 generated: seconds at -t 1) holds the scheduler
// thread for all of it; past its first second a small step of continuous batching runs every
// 0.25 s of it, so a stream that arrives meanwhile is answered before the FIM ends. Before, the
// stream waited for the whole FIM (a 4 096-token FIM stalled a stream for 18 s). The FIM itself
// is not cut short. The test hook HEARTH_TEST_FIM_STEPS=1 runs the step at every check of the FIM
// (its 16 prompt chunks and 1 000 generated pieces) instead of by time, so the outcome does not
// depend on the machine's speed.
const LINES = Array.from({ length: 600 }, (_, i) => `    total_${i} = compute(items[${i}], factor * ${i}) + offset_${i};`).join('\n');
const FIM_TOKENS = SLOW ? 150 : 1000; // ~50x slower under the sanitizers
const longFim = (tag) => ({ prompt: `def run_${tag}(items, factor):\n${LINES}\n    result = `,
  suffix: `\n${LINES}\n    return result\n`, max_tokens: FIM_TOKENS, max_lines: 100000 });
const postJson = (url, path, body, signal) => fetch(url + path, { method: 'POST',
  headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

async function waitActive(url, n) {
  for (let i = 0; i < 2000; i++) {
    const h = await health(url);
    if (h.requests_active >= n) return h;
    await sleep(5);
  }
  throw new Error(`fewer than ${n} active requests`);
}

test('a stream keeps getting tokens while a long FIM runs', { skip, timeout: 300000 }, async () => {
  const s = await startServer({ HEARTH_TEST_FIM_STEPS: '1' });
  const events = [];
  const fim = postJson(s.url, '/v1/fim', longFim('a'))
    .then(async (r) => { const j = await r.json(); events.push('fim done'); return { status: r.status, j }; });
  await waitActive(s.url, 1); // the FIM is running
  const r = await postJson(s.url, '/v1/completions', { prompt: 'for (;;)', max_tokens: 4, temperature: 0, stream: true });
  const text = await r.text();
  events.push('stream done');
  const f = await fim;
  assert.match(text, /\[DONE\]/);
  assert.equal(f.status, 200, JSON.stringify(f.j).slice(0, 300));
  assert.equal(f.j.usage.completion_tokens, FIM_TOKENS);
  assert.equal(f.j.choices[0].finish_reason, 'length');
  assert.deepEqual(events, ['stream done', 'fim done']);
  s.proc.kill('SIGTERM');
});

test('a long FIM stops when its client disconnects, and on SIGTERM', { skip, timeout: 300000 }, async () => {
  const s = await startServer();
  const ac = new AbortController();
  const req = postJson(s.url, '/v1/fim', longFim('b'), ac.signal).catch((e) => e);
  await waitActive(s.url, 1);
  ac.abort();
  await req;
  let h;
  for (let i = 0; i < 2000; i++) {
    h = await health(s.url);
    if (h.requests_active === 0) break;
    await sleep(5);
  }
  assert.equal(h.requests_active, 0);
  assert.equal(h.requests_cancelled, 1);
  const fim = postJson(s.url, '/v1/fim', longFim('c')).then((r) => r.status, () => 'closed');
  await waitActive(s.url, 1);
  const code = await new Promise((res) => {
    s.proc.on('exit', (c, sig) => res(c ?? sig));
    s.proc.kill('SIGTERM');
  });
  console.log(`SIGTERM during a FIM: exit ${code}; the request: ${await fim}`); // 200 before
  assert.equal(code, 0, s.stderr());
  assert.ok([503, 'closed'].includes(await fim), 'a FIM cut short by the stop is not a 200');
});
