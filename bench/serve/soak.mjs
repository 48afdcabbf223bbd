// Soak: `hearth serve` under mixed traffic for a long time (issue 17, "nothing lost under load").
// N clients each send requests back to back, cycling through chat (half of them streamed), FIM
// (/v1/fim) and embeddings, with distinct texts. Prints the errors (any answer but 200, a stream
// without [DONE], a refused connection: want 0), p50/p99 latency per kind, requests done, and the
// server's resident memory at start (after a warm-up request of each kind) and at the end.
// Not a test: it runs for minutes. Plain fetch, no npm packages.
//
// usage: node bench/serve/soak.mjs --bin build/hearth --model CHAT.gguf --embed-model E.gguf
//        [--clients 32] [--duration 600 (seconds)] [--threads 2] [--ctx 1024] [--json]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]?.startsWith('--') ? true : all[i + 1] ?? true]);
  return acc;
}, []));
if (!args.model || !args['embed-model']) {
  console.error('usage: node bench/serve/soak.mjs --bin build/hearth --model CHAT.gguf --embed-model E.gguf ' +
    '[--clients 32] [--duration 600] [--threads 2] [--ctx 1024] [--json]');
  process.exit(2);
}
const BIN = args.bin ?? 'build/hearth';
const CLIENTS = Number(args.clients ?? 32);
const DURATION_MS = Number(args.duration ?? 600) * 1000;
const KINDS = ['chat', 'fim', 'embeddings'];

function start() {
  const a = ['serve', '-m', args.model, '--embedding-model', args['embed-model'], '--port', '0',
    '-t', String(args.threads ?? 2), '-q', '--parallel', '16', '-c', String(args.ctx ?? 1024),
    '--max-queue', String(Math.max(64, 2 * CLIENTS))];
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, a, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) resolve({ url: m[1], proc: p, stderr: () => err });
    });
    p.on('exit', (code) => reject(new Error(`hearth serve exited ${code}: ${err}`)));
  });
}

function rssMiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

const WORDS = ('int main void return struct static const char for while if else size_t buffer ' +
  'length count index value result error parse token stream queue').split(' ');
// A distinct text of about n words for request i.
function text(i, n) {
  let s = `// request ${i}\n`;
  for (let k = 0; k < n; k++) s += WORDS[(i * 7 + k * 13) % WORDS.length] + (k % 9 === 8 ? '\n' : ' ');
  return s;
}

// One request of a kind; resolves with null on success or a one-line reason.
async function one(url, kind, i) {
  let body, path;
  if (kind === 'chat') {
    path = '/v1/chat/completions';
    body = { messages: [{ role: 'user', content: text(i, 20 + (i % 40)) }], max_tokens: 16 + (i % 48),
      stream: i % 2 === 0, seed: i };
  } else if (kind === 'fim') {
    path = '/v1/fim';
    body = { prompt: text(i, 60 + (i % 200)), suffix: text(i + 1, 20), path: `src/f${i % 50}.c`, max_tokens: 24 };
  } else {
    path = '/v1/embeddings';
    body = { input: Array.from({ length: 1 + (i % 8) }, (_, k) => text(i * 8 + k, 30 + (k * 11) % 90)) };
  }
  const r = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body) });
  const got = await r.text();
  if (r.status !== 200) return `${kind} ${r.status}: ${got.slice(0, 160)}`;
  if (body.stream && !got.includes('data: [DONE]')) return `${kind}: stream without [DONE]`;
  return null;
}

const pct = (xs, q) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

const srv = await start();
const lat = Object.fromEntries(KINDS.map((k) => [k, []]));
const errors = [];
let seq = 0;
for (const k of KINDS) { // warm-up: each path touched once before the first RSS reading
  const e = await one(srv.url, k, seq++);
  if (e) errors.push(`warm-up ${e}`);
}
const rssStart = rssMiB(srv.proc.pid);
let rssPeak = rssStart;
const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, rssMiB(srv.proc.pid)); }, 1000);
const t0 = Date.now();
async function client(c) {
  for (let n = 0; Date.now() - t0 < DURATION_MS; n++) {
    const kind = KINDS[(c + n) % KINDS.length], i = seq++;
    const t = performance.now();
    let e;
    try {
      e = await one(srv.url, kind, i);
    } catch (x) {
      e = `${kind}: ${x.cause?.code ?? x.message}`;
    }
    if (e) errors.push(e);
    else lat[kind].push(performance.now() - t);
  }
}
await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
const secs = (Date.now() - t0) / 1000;
clearInterval(sampler);
const rssEnd = rssMiB(srv.proc.pid);
const health = await (await fetch(`${srv.url}/health`)).json();
srv.proc.kill('SIGTERM');
const exit = await new Promise((r) => srv.proc.on('exit', (code, sig) => r(code ?? sig)));

const rows = KINDS.map((k) => ({ kind: k, done: lat[k].length, p50_ms: Math.round(pct(lat[k], 0.5)),
  p99_ms: Math.round(pct(lat[k], 0.99)) }));
const out = { clients: CLIENTS, seconds: Math.round(secs), errors: errors.length, rows,
  rss_mib: { start: +rssStart.toFixed(1), peak: +rssPeak.toFixed(1), end: +rssEnd.toFixed(1) },
  served: health.requests_served, exit };
if (args.json) {
  console.log(JSON.stringify(out));
} else {
  console.log(`${CLIENTS} clients for ${out.seconds} s: ${errors.length} errors, ${health.requests_served} ` +
    `requests served, SIGTERM exit ${exit}`);
  console.log('| kind | done | p50 ms | p99 ms |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.kind} | ${r.done} | ${r.p50_ms} | ${r.p99_ms} |`);
  console.log(`RSS: ${out.rss_mib.start} MiB at start, ${out.rss_mib.peak} MiB peak, ${out.rss_mib.end} MiB at the end`);
  for (const e of errors.slice(0, 10)) console.log(`error: ${e}`);
}
process.exit(errors.length ? 1 : 0);
