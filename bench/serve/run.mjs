// Throughput and latency of `hearth serve` under 1, 4 and 16 concurrent clients: completions
// (total generated tokens/s, requests/s, p50/p95 latency), embeddings (requests/s, p50/p95) and
// the time to the first streamed token of a chat answer. Plain fetch: no npm packages.
//
// usage: node bench/serve/run.mjs --bin build/hearth --model M.gguf [--embed-model E.gguf]
//        [--threads 2] [--clients 1,4,16] [--requests 2] [--max-tokens 64] [--json]
// --requests: requests per client at each concurrency level.
import { spawn } from 'node:child_process';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]?.startsWith('--') ? true : all[i + 1] ?? true]);
  return acc;
}, []));
const BIN = args.bin ?? 'build/hearth';
const CLIENTS = String(args.clients ?? '1,4,16').split(',').map(Number);
const PER_CLIENT = Number(args.requests ?? 2);
const MAX_TOKENS = Number(args['max-tokens'] ?? 64);
const THREADS = String(args.threads ?? 2);

function start() {
  const a = ['serve', '-m', args.model, '--port', '0', '-t', THREADS, '-q', '--parallel', '16',
    '-c', '1024'];
  if (args['embed-model']) a.push('--embedding-model', args['embed-model']);
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, a, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) resolve({ url: m[1], proc: p });
    });
    p.on('exit', (code) => reject(new Error(`hearth serve exited ${code}: ${err}`)));
  });
}

const WORDS = ('int main void return struct static const char for while if else size_t buffer ' +
  'length count index value result error parse token stream queue').split(' ');
// A distinct prompt of about n words per request, so no two requests share their text.
function prompt(i, n) {
  let s = `// request ${i}\n`;
  for (let k = 0; k < n; k++) s += WORDS[(i * 7 + k * 13) % WORDS.length] + ' ';
  return s;
}

async function post(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body) });
  const j = await r.json();
  if (r.status !== 200) throw new Error(JSON.stringify(j));
  return j;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// C clients, each sending PER_CLIENT requests one after another.
async function load(c, makeRequest) {
  const lat = [];
  let tokens = 0, next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, async () => {
    for (let k = 0; k < PER_CLIENT; k++) {
      const t = performance.now();
      const n = await makeRequest(next++); // (tokens += await ... would lose concurrent updates)
      tokens += n;
      lat.push(performance.now() - t);
    }
  }));
  const s = (performance.now() - t0) / 1000;
  return { clients: c, requests: lat.length, seconds: s, tokens_per_s: tokens / s,
    requests_per_s: lat.length / s, p50_ms: pct(lat, 50), p95_ms: pct(lat, 95) };
}

async function ttft(url, i) {
  const t = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: prompt(i, 40) }], max_tokens: 16,
      temperature: 0, stream: true }) });
  const reader = r.body.getReader();
  let first = null, buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += new TextDecoder().decode(value);
    if (first === null && /"content":"[^"]/.test(buf)) first = performance.now() - t;
  }
  return first ?? performance.now() - t;
}

const server = await start();
const rows = { completions: [], embeddings: [], chat_ttft_ms: [] };
try {
  await post(`${server.url}/v1/completions`, { prompt: 'warm up', max_tokens: 4 });
  for (const c of CLIENTS)
    rows.completions.push(await load(c, async (i) => (await post(`${server.url}/v1/completions`,
      { prompt: prompt(i, 12), max_tokens: MAX_TOKENS, temperature: 0 })).usage.completion_tokens));
  if (args['embed-model'])
    for (const c of CLIENTS)
      rows.embeddings.push(await load(c, async (i) => (await post(`${server.url}/v1/embeddings`,
        { input: prompt(i, 64) })).usage.prompt_tokens));
  for (let i = 0; i < 5; i++) rows.chat_ttft_ms.push(await ttft(server.url, 1000 + i));
} finally {
  server.proc.kill('SIGTERM');
}

if (args.json) {
  console.log(JSON.stringify(rows, null, 1));
} else {
  const f = (x, d = 1) => x.toFixed(d);
  console.log(`completions (${MAX_TOKENS} tokens each, ~20-token prompts, ${PER_CLIENT} per client)`);
  console.log('| clients | requests | generated tok/s | requests/s | p50 ms | p95 ms |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const r of rows.completions)
    console.log(`| ${r.clients} | ${r.requests} | ${f(r.tokens_per_s)} | ${f(r.requests_per_s, 2)} | ` +
      `${f(r.p50_ms, 0)} | ${f(r.p95_ms, 0)} |`);
  if (rows.completions.length > 1) {
    const one = rows.completions[0].tokens_per_s, last = rows.completions.at(-1).tokens_per_s;
    console.log(`\n${rows.completions.at(-1).clients} clients / 1 client: ${f(last / one, 2)}x total tok/s`);
  }
  if (rows.embeddings.length) {
    console.log('\nembeddings (one ~70-token text per request)');
    console.log('| clients | requests | embedded tok/s | requests/s | p50 ms | p95 ms |');
    console.log('|---:|---:|---:|---:|---:|---:|');
    for (const r of rows.embeddings)
      console.log(`| ${r.clients} | ${r.requests} | ${f(r.tokens_per_s)} | ${f(r.requests_per_s, 2)} | ` +
        `${f(r.p50_ms, 0)} | ${f(r.p95_ms, 0)} |`);
  }
  const t = rows.chat_ttft_ms;
  console.log(`\nchat time to first streamed token (1 client, ~50-token prompt): ` +
    `median ${f(pct(t, 50), 0)} ms over ${t.length} (min ${f(Math.min(...t), 0)}, max ${f(Math.max(...t), 0)})`);
}
