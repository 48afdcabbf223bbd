// runtime/ under `hearth serve` (issue 14): the batched path, /v1/fim's completion engine and
// /v1/embeddings share one loaded model when they name the same file (the registry counts loads
// per file and /health reports them), and their three contexts run on one engine thread pool.
// env: HEARTH_BIN, HEARTH_REF_DIR
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = process.env.HEARTH_BIN;
const QWEN = resolve(`${process.env.HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf`);
const skip = existsSync(QWEN) ? false : `no ${QWEN}`;
const THREADS = 2;

const servers = [];
after(() => servers.forEach((s) => s.kill('SIGTERM')));

function startServer(args) {
  return new Promise((resolveUrl, reject) => {
    const p = spawn(BIN, ['serve', '--port', '0', '-t', String(THREADS), '-q', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    servers.push(p);
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) resolveUrl(m[1]);
    });
    p.on('exit', (code) => reject(new Error(`hearth serve exited ${code}: ${err}`)));
  });
}

async function post(base, path, body) {
  const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

test('one GGUF is opened once for /v1/completions, /v1/fim and /v1/embeddings', { skip, timeout: 120000 }, async () => {
  // the embedding model named through a symlink: the registry knows it is the same file
  const dir = mkdtempSync(join(tmpdir(), 'hearth-serve-runtime-'));
  const link = join(dir, 'same-model.gguf');
  symlinkSync(QWEN, link);
  try {
    const url = await startServer(['-m', QWEN, '--embedding-model', link]);
    const c = await post(url, '/v1/completions', { prompt: 'def add(a, b):', max_tokens: 4, temperature: 0 });
    assert.equal(c.status, 200, JSON.stringify(c.json));
    const f = await post(url, '/v1/fim', { prompt: 'def add(a, b):\n    return ', suffix: '\n', max_tokens: 4 });
    assert.equal(f.status, 200, JSON.stringify(f.json));
    const e = await post(url, '/v1/embeddings', { input: 'hello' });
    assert.equal(e.status, 200, JSON.stringify(e.json));
    const h = await (await fetch(`${url}/health`)).json();
    assert.equal(h.models.length, 1, JSON.stringify(h.models));
    assert.equal(h.models[0].loads, 1, 'loaded once');
    assert.equal(h.models[0].users, 2, 'the generation model and the embedding model');
    assert.equal(h.engine_threads, THREADS, 'three contexts, one pool');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
