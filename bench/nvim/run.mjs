#!/usr/bin/env node
// bench/nvim: keystroke to ghost text in Neovim, through the real plugin (editors/nvim) and the
// real `hearth lsp`. Builds the scripted session (session.mjs) over two real files copied into a
// scratch workspace, runs headless Neovim with driver.lua, and prints p50/p95 per kind of key.
// See README.md for what is measured and how.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeSession } from './session.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const KINDS = ['inline', 'newline', 'delete', 'jump', 'first_open'];

function parseArgs(argv) {
  const o = { bin: 'build/hearth', nvim: 'nvim', file: 'git:f8be31f:lsp/server.c',
    secondFile: 'git:f8be31f:lsp/methods.c', gapMs: 300, lookMs: 3000, pauseMs: 1500,
    settleMs: 60000, pollMs: 3, rounds: 2, lines: 2, seed: 1, timeoutMs: 3600000 };
  const num = { '--gap-ms': 'gapMs', '--look-ms': 'lookMs', '--pause-ms': 'pauseMs',
    '--settle-ms': 'settleMs', '--poll-ms': 'pollMs', '--rounds': 'rounds', '--lines': 'lines',
    '--seed': 'seed', '--threads': 'threads', '--max-tokens': 'maxTokens',
    '--debounce-ms': 'debounceMs', '--timeout-ms': 'timeoutMs', '--max-prompt-ms': 'maxPromptMs' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (num[a]) {
      const x = Number(v());
      if (!Number.isFinite(x) || x < 0) throw new Error(`${a}: not a number >= 0`);
      o[num[a]] = x;
    } else if (a === '--model' || a === '-m') o.model = v();
    else if (a === '--bin') o.bin = v();
    else if (a === '--nvim') o.nvim = v();
    else if (a === '--plugin') o.plugin = v();
    else if (a === '--file') o.file = v();
    else if (a === '--second-file') o.secondFile = v();
    else if (a === '--simd') o.simd = v();
    else if (a === '--json') o.json = v();
    else if (a === '--server-log') o.serverLog = v();
    else if (a === '--from') o.from = v();
    else if (a === '--label') o.label = v();
    else if (a === '--check') o.check = true;
    else throw new Error(`unknown argument ${a} (see bench/nvim/README.md)`);
  }
  if (!o.model && !o.from) throw new Error('usage: node bench/nvim/run.mjs --model MODEL.gguf [options] (see bench/nvim/README.md)');
  return o;
}

// A file's text: a path, or git:REV:PATH (read with git show, so every run sees the same text).
function source(spec) {
  const m = /^git:([^:]+):(.+)$/.exec(spec);
  if (!m) return { name: basename(spec), text: readFileSync(spec, 'utf8') };
  const text = execFileSync('git', ['-C', resolve(here, '../..'), 'show', `${m[1]}:${m[2]}`], { encoding: 'utf8' });
  return { name: basename(m[2]), text };
}

const LANG = { c: 'c', h: 'c', py: 'python', js: 'javascript', mjs: 'javascript', ts: 'typescript',
  go: 'go', rs: 'rust', java: 'java', lua: 'lua', cpp: 'cpp', cc: 'cpp', hpp: 'cpp' };
const langOf = (name) => LANG[name.split('.').pop()] || 'c';

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const f0 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(0));

function machine() {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const model = (/^model name\s*:\s*(.*)$/m.exec(info) || [, 'unknown'])[1];
  return { cpu: model, avx512: /\bavx512f\b/.test(info), vnni: /\bavx512_vnni\b/.test(info),
    cores: cpus().length, load: loadavg().map((x) => x.toFixed(2)).join(' ') };
}

function summarize(samples) {
  return KINDS.map((kind) => {
    const ks = samples.filter((s) => s.kind === kind);
    const got = ks.filter((s) => s.first != null);
    // Final: the suggestion complete on screen (its reply came) before the next key.
    const fin = got.filter((s) => s.final != null && s.reply != null).map((s) => s.final);
    return { kind, n: got.length, of: ks.length, p50: pct(got.map((s) => s.first), 50),
      p95: pct(got.map((s) => s.first), 95), missed: ks.length - got.length,
      fin50: pct(fin, 50), fin95: pct(fin, 95), finN: fin.length };
  });
}

// Where the time went, p50 of each part, over the keys whose grey text came from a reply.
function breakdown(samples) {
  return KINDS.map((kind) => {
    const ks = samples.filter((s) => s.kind === kind && s.first != null && s.reply != null && s.totalMs != null);
    const run = ks.filter((s) => !s.cached); // the model's parts: over the replies it computed
    const p = (f, xs = ks) => f0(pct(xs.map(f).filter((x) => x != null && !Number.isNaN(x)), 50));
    return { kind, n: ks.length, req: p((s) => s.req), queue: p((s) => s.queueMs),
      prompt: p((s) => s.promptMs, run), evaluated: p((s) => s.nEvaluated, run), context: p((s) => s.nPrompt, run),
      gen: p((s) => s.genMs, run), generated: p((s) => s.nGenerated, run), total: p((s) => s.totalMs),
      rest: p((s) => s.reply - s.req - s.totalMs), firstToken: p((s) => s.req + s.firstTokenMs, run),
      cached: ks.filter((s) => s.cached).length };
  });
}

async function runNvim(o, config, ws) {
  const cfgPath = join(ws, 'nvb-config.json');
  writeFileSync(cfgPath, JSON.stringify(config));
  const args = ['--headless', '--clean', '-u', 'NONE', '-i', 'NONE', '-n', '-c', `luafile ${join(here, 'driver.lua')}`];
  const p = spawn(o.nvim, args, { cwd: ws, env: { ...process.env, NVB_CONFIG: cfgPath },
    stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => {
    err += d;
    process.stderr.write(d);
  });
  const code = await new Promise((res) => p.on('exit', (c) => res(c)));
  return { code, err };
}

// Prints the tables for one model's samples.
function report(label, samples) {
  const rows = summarize(samples);
  console.log('\n| model | kind | n | p50 ms | p95 ms | missed | final p50 / p95 ms (n) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${label} | ${r.kind.replace('_', ' ')} | ${r.n}${r.n !== r.of ? ` of ${r.of}` : ''} | ${f0(r.p50)} | ` +
      `${f0(r.p95)} | ${r.missed} | ${f0(r.fin50)} / ${f0(r.fin95)} (${r.finN}) |`);
  const missedAll = samples.filter((s) => s.first == null).length;
  const why = {};
  for (const s of samples) if (s.missed) why[s.missed] = (why[s.missed] || 0) + 1;
  console.log(`\n${samples.length} keys, ${missedAll} never got ghost text before the next key ` +
    `(${Object.entries(why).map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
    `${samples.filter((s) => s.through).length} kept by typing through the suggestion`);

  console.log('\nWhere the time goes (p50 over keys with grey text from a reply): key to request sent ' +
    '(debounce), server queue, prefill (tokens evaluated of the prompt), decode (tokens generated), ' +
    'server total, the rest of the reply\'s time (transport, Neovim); key to first token = request sent + the server\'s ' +
    'firstTokenMs (the earliest a streamed first piece can show); answers from the suggestion cache (no model run; ' +
    'prefill and decode are over the others)');
  console.log('\n| model | kind | n | to request | queue | prefill ms (tokens / context) | decode ms (tokens) | server total | rest | key to first token | from cache |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const b of breakdown(samples))
    console.log(`| ${label} | ${b.kind.replace('_', ' ')} | ${b.n} | ${b.req} | ${b.queue} | ${b.prompt} (${b.evaluated} / ` +
      `${b.context}) | ${b.gen} (${b.generated}) | ${b.total} | ${b.rest} | ${b.firstToken} | ${b.cached} |`);
  // The engine's pace in this run (a shared machine's load shows here first).
  const ran = samples.filter((s) => s.promptMs != null && !s.cached);
  const pre = pct(ran.filter((s) => s.nEvaluated > 100).map((s) => (s.nEvaluated / s.promptMs) * 1000), 50);
  const dec = pct(ran.filter((s) => s.nGenerated >= 32).map((s) => (s.nGenerated / s.genMs) * 1000), 50);
  console.log(`\nEngine pace in this run (p50 over the replies seen): prefill ${f0(pre)} tokens/s (replies evaluating ` +
    `over 100 tokens), decode ${f0(dec)} tokens/s (replies generating 32 or more, prompt lookup included)`);
  return rows;
}

const o = parseArgs(process.argv.slice(2));
if (o.from) { // the tables again from a --json file
  const samples = readFileSync(o.from, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  report(o.label || samples[0]?.model || basename(o.from), samples);
  process.exit(0);
}
if (o.simd) {
  const help = execFileSync(o.bin, ['lsp', '--help'], { encoding: 'utf8' });
  if (!help.includes('--simd')) throw new Error(`${o.bin} lsp has no --simd option`);
}
const files = [source(o.file), source(o.secondFile)].map((f) => ({ ...f, lang: langOf(f.name) }));
if (files[0].name === files[1].name) files[1].name = '2-' + files[1].name;
const session = makeSession(files, { seed: o.seed, gapMs: o.gapMs, lookMs: o.lookMs, rounds: o.rounds, lines: o.lines });
const ws = mkdtempSync(join(tmpdir(), 'nvb-ws-'));
mkdirSync(join(ws, '.git')); // the workspace root for the plugin
for (const f of files) writeFileSync(join(ws, f.name), f.text);

const initOptions = { completionModel: resolve(o.model) };
if (o.threads) initOptions.threads = o.threads;
if (o.maxTokens) initOptions.maxTokens = o.maxTokens;
if (o.maxPromptMs !== undefined) initOptions.maxPromptMs = o.maxPromptMs;
const cmd = [resolve(o.bin), 'lsp', ...(o.simd ? ['--simd', o.simd] : [])];
const visits = session.visits;
const nKeys = visits.reduce((a, v) => a + (v.keys ? v.keys.length : 0), 0);
const config = { plugin: resolve(o.plugin || join(here, '../../editors/nvim')), cmd, initOptions, debounceMs: o.debounceMs,
  files: files.map((f) => ({ name: f.name, path: join(ws, f.name) })), visits,
  nVisits: visits.filter((v) => !v.wipe).length, pollMs: o.pollMs, pauseMs: o.pauseMs,
  settleMs: o.settleMs, timeoutMs: o.timeoutMs, out: join(ws, 'nvb-samples.jsonl'),
  serverLog: o.serverLog ? resolve(o.serverLog) : undefined };
const m0 = machine();
const label = o.label || basename(o.model).replace(/\.gguf$/, '');
console.log(`files ${files.map((f) => `${f.name} (${f.text.split('\n').length - 1} lines)`).join(', ')}; ` +
  `${config.nVisits} visits, ${nKeys} keys, gap ${o.gapMs} ms, look ${o.lookMs} ms, seed ${o.seed}; ` +
  `model ${o.model}; threads ${o.threads || 'server default'}; maxTokens ${o.maxTokens || 'server default (64)'}; ` +
  `maxPromptMs ${o.maxPromptMs ?? 'server default'}; ` +
  `debounce ${o.debounceMs ?? 'plugin default'}\ncpu ${m0.cpu} (${m0.cores} cpus, avx512 ${m0.avx512 ? 'yes' : 'no'}` +
  `${m0.vnni ? ', vnni' : ''}); load before ${m0.load}`);

const { code } = await runNvim(o, config, ws);
let lines = [];
try {
  lines = readFileSync(config.out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
} catch (e) {
  throw new Error(`the driver wrote no samples (nvim exit ${code})`);
}
const meta = lines.find((l) => l.type === 'meta');
const samples = lines.filter((l) => l.type !== 'meta').map((s) => ({ model: label, ...s }));
console.log(`load after ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${meta.nvim}, plugin debounce ${meta.debounceMs} ms; ` +
  `session ${meta.status}${meta.serverErrors.length ? '; server errors: ' + meta.serverErrors.join(' | ') : ''}`);

const rows = report(label, samples);

if (o.json) writeFileSync(o.json, samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
rmSync(ws, { recursive: true, force: true });

// --check (the smoke test): every kind has samples, times are non-negative, the session ended.
if (o.check) {
  const bad = [];
  if (code !== 0 || meta.status !== 'ok') bad.push(`session ${meta.status}, nvim exit ${code}`);
  for (const r of rows) if (!(r.n > 0)) bad.push(`no ${r.kind} sample with ghost text`);
  for (const s of samples)
    for (const k of ['first', 'final', 'req', 'reply'])
      if (s[k] != null && !(s[k] >= 0)) bad.push(`key ${s.key} (${s.kind}): ${k} = ${s[k]}`);
  if (bad.length) {
    console.error('check failed:\n  ' + bad.join('\n  '));
    process.exit(1);
  }
  console.log('check passed');
}
process.exit(code === 0 ? 0 : 1);
