#!/usr/bin/env node
// bench/fim: replays a realistic editing session (session.mjs) through a real `hearth lsp` with
// Microsoft's LSP client libraries (tests/lsp/connection.mjs) and reports, per completion request,
// the prompt tokens reused from the KV cache vs computed, the time to the first token and to the
// full suggestion, with p50/p95 — for each mode (KV reuse on, off, the classic prompt layout).
// See README.md for how to run it and how the session is built.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Server, position } from '../../tests/lsp/connection.mjs';
import { makeSession } from './session.mjs';

const MODES = {
  reuse: { kvReuse: true, lineInMiddle: true, prefillAhead: false },
  noshift: { kvReuse: true, kvShift: false, lineInMiddle: true, prefillAhead: false },
  classic: { kvReuse: true, lineInMiddle: false, prefillAhead: false },
  noreuse: { kvReuse: false, lineInMiddle: true, prefillAhead: false },
  nolookup: { kvReuse: true, lineInMiddle: true, lookupDraft: 0, prefillAhead: false },
  ahead: { kvReuse: true, lineInMiddle: true, prefillAhead: true },
};

function parseArgs(argv) {
  const o = { bin: 'build/hearth', git: 'f8be31f:lsp/server.c', lines: 6, debounce: 150,
    threads: 2, maxTokens: 16, modes: 'reuse,noreuse', cap: 30, seed: 1, pace: 0, coldWait: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = () => argv[++i];
    if (a === '--model' || a === '-m') o.model = v();
    else if (a === '--bin') o.bin = v();
    else if (a === '--file') { o.file = v(); o.git = null; }
    else if (a === '--git') o.git = v();
    else if (a === '--lines') o.lines = Number(v());
    else if (a === '--debounce') o.debounce = Number(v());
    else if (a === '--threads') o.threads = Number(v());
    else if (a === '--max-tokens') o.maxTokens = Number(v());
    else if (a === '--modes') o.modes = v();
    else if (a === '--cap') o.cap = Number(v());
    else if (a === '--seed') o.seed = Number(v());
    else if (a === '--json') o.json = v();
    else if (a === '--pace') o.pace = Number(v());
    else if (a === '--cold-wait') o.coldWait = true;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else throw new Error(`unknown argument ${a} (see bench/fim/README.md)`);
  }
  if (!o.model) throw new Error('usage: node bench/fim/run.mjs --model MODEL.gguf [options] (see README.md)');
  for (const m of o.modes.split(',')) if (!MODES[m]) throw new Error(`unknown mode ${m}`);
  return o;
}

function source(o) {
  if (o.file) return readFileSync(o.file, 'utf8');
  const [rev, path] = o.git.split(':');
  return execFileSync('git', ['show', `${rev}:${path}`], { encoding: 'utf8' });
}

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --cold-wait: the person looks at the file before typing. The cursor is where a plugin's BufEnter
// puts it (hearth/cursor), and the first request waits until the FIM lane is idle (a FIM-lane
// hearth/debugWork queued behind the prefill): the cold request after a pause at least that long.
// Returns how long that took.
async function readFirst(s, uri, index) {
  const t0 = performance.now();
  await s.conn.sendNotification('hearth/cursor', { textDocument: { uri },
    position: position(s.docs.get(uri).text, index) });
  await s.conn.sendRequest('hearth/debugWork', { ms: 0, lane: 'fim' });
  return performance.now() - t0;
}

// Replays the session on a fresh server in one mode; returns one record per request.
async function replay(o, session, mode, cap) {
  const s = new Server(['--completion-model', o.model, '--threads', String(o.threads)], o.bin);
  await s.initialize({ maxTokens: o.maxTokens, ...MODES[mode] });
  await s.modelLoaded();
  const uri = 'file:///bench/fim/' + (o.file || o.git.split(':')[1]).split('/').pop();
  const lang = /\.py$/.test(uri) ? 'python' : /\.(js|mjs)$/.test(uri) ? 'javascript' : 'c';
  s.open(uri, lang, session.initial);
  const out = [];
  let prevT = 0, idleSince = performance.now();
  for (const e of session.events) {
    // --pace: the session's pauses in real time (each capped), less what the last reply took,
    // so work the server does between requests (prefill ahead) has the time a typist gives it.
    const wait = Math.min(e.t - prevT, o.pace) - (performance.now() - idleSince);
    if (o.pace && wait > 0) await sleep(wait);
    prevT = e.t;
    if (e.kind === 'edit') { // one incremental didChange, positions in the text before it
      await s.edit(uri, e.start, e.end, e.text);
      idleSince = performance.now();
      continue;
    }
    if (out.length > cap) break;
    let coldWaitMs;
    if (e.why === 'cold' && o.coldWait) coldWaitMs = await readFirst(s, uri, e.cursor);
    const t0 = performance.now();
    const r = await s.inline(uri, e.cursor);
    const wall = performance.now() - t0;
    const h = r.hearth;
    if (!h || !(h.nPrompt > 0 || h.cached)) throw new Error(`a reply without prompt statistics: ${JSON.stringify(r)}`);
    out.push({ why: e.why, t: e.t, wallMs: wall, nPrompt: h.nPrompt, nReused: h.nReused,
      nEvaluated: h.nEvaluated, nGenerated: h.nGenerated, firstTokenMs: h.firstTokenMs,
      totalMs: h.totalMs, promptMs: h.promptMs, genMs: h.genMs, cached: h.cached, nDrafted: h.nDrafted ?? 0,
      nDraftAccepted: h.nDraftAccepted ?? 0, text: r.items[0]?.insertText ?? '', coldWaitMs });
    idleSince = performance.now();
    const x = out[out.length - 1];
    if (o.verbose)
      process.stderr.write(`${mode} #${out.length} ${x.why}: prompt ${x.nPrompt} (reused ${x.nReused}, computed ` +
        `${x.nEvaluated})${x.cached ? ' cached' : ''}, first token ${x.firstTokenMs?.toFixed(0)} ms, full ${wall.toFixed(0)} ms\n`);
  }
  await s.close();
  return out;
}

function summary(mode, recs) {
  const cold = recs.find((r) => r.why === 'cold');
  const keys = recs.filter((r) => r.why !== 'cold');
  const ran = keys.filter((r) => !r.cached); // served by the model, not the completion cache
  const f = (xs) => xs.map((x) => (Number.isFinite(x) ? x.toFixed(0) : '-'));
  const ttft = keys.map((r) => r.firstTokenMs ?? r.promptMs);
  const full = keys.map((r) => r.wallMs);
  const by = (why) => {
    const rs = keys.filter((r) => r.why === why);
    return rs.length ? f([pct(rs.map((r) => r.firstTokenMs ?? r.promptMs), 50), pct(rs.map((r) => r.firstTokenMs ?? r.promptMs), 95),
      pct(rs.map((r) => r.wallMs), 50), pct(rs.map((r) => r.wallMs), 95)]).join(' / ') + ` (${rs.length})` : '-';
  };
  return {
    mode, n: keys.length, newline: by('newline'), jump: by('jump'),
    coldWait: cold?.coldWaitMs !== undefined ? cold.coldWaitMs.toFixed(0) : '-',
    prompt: Math.round(mean(ran.map((r) => r.nPrompt))),
    reused: Math.round(mean(ran.map((r) => r.nReused))),
    computed: Math.round(mean(ran.map((r) => r.nEvaluated))),
    computedP50: pct(ran.map((r) => r.nEvaluated), 50),
    cached: keys.filter((r) => r.cached).length,
    coldMs: cold ? cold.wallMs.toFixed(0) : '-',
    coldPrompt: cold?.nPrompt,
    ttft: f([pct(ttft, 50), pct(ttft, 95)]),
    full: f([pct(full, 50), pct(full, 95)]),
    gen: Math.round(mean(ran.map((r) => r.nGenerated))),
    drafted: ran.reduce((a, r) => a + r.nDrafted, 0),
    accepted: ran.reduce((a, r) => a + r.nDraftAccepted, 0),
    // llama.vim's info line (context / prompt / predict / total), over the requests the model ran.
    vim: {
      n: ran.length,
      context: pct(ran.map((r) => r.nPrompt + r.nGenerated), 50),
      evaluated: [pct(ran.map((r) => r.nEvaluated), 50), pct(ran.map((r) => r.nEvaluated), 95)],
      promptMs: f([pct(ran.map((r) => r.promptMs), 50), pct(ran.map((r) => r.promptMs), 95)]),
      generated: pct(ran.map((r) => r.nGenerated), 50),
      genMs: f([pct(ran.map((r) => r.genMs), 50), pct(ran.map((r) => r.genMs), 95)]),
      total: f([pct(ran.map((r) => r.wallMs), 50), pct(ran.map((r) => r.wallMs), 95)]),
    },
  };
}

const o = parseArgs(process.argv.slice(2));
const src = source(o);
const session = makeSession(src, { typedLines: o.lines, debounceMs: o.debounce, seed: o.seed });
const nReq = session.events.filter((e) => e.kind === 'request').length;
console.log(`file ${o.file || o.git} (${src.split('\n').length - 1} lines); typing ${o.lines} lines from line ` +
  `${session.firstLine + 1}: ${session.typed} keystrokes over ${session.seconds.toFixed(0)} s of session ` +
  `time, ${nReq} requests (debounce ${o.debounce} ms); model ${o.model}; ${o.threads} threads; ` +
  `maxTokens ${o.maxTokens}`);
const all = {};
const rows = [];
for (const mode of o.modes.split(',')) {
  const cap = ['reuse', 'noshift', 'nolookup', 'ahead'].includes(mode) ? Infinity : o.cap; // the slow modes: their first requests
  all[mode] = await replay(o, session, mode, cap);
  rows.push(summary(mode, all[mode]));
  if (o.json) writeFileSync(o.json, JSON.stringify({ options: o, summary: rows, requests: all }, null, 1));
}
console.log('\n| mode | requests | prompt tokens (mean) | reused (mean) | computed (mean / p50) | served from the completion cache | ' +
  'first token p50 / p95 (ms) | full suggestion p50 / p95 (ms) | tokens generated (mean) | lookup drafts accepted | cold request (ms, prompt tokens) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.mode} | ${r.n} | ${r.prompt} | ${r.reused} | ${r.computed} / ${r.computedP50} | ${r.cached} | ` +
    `${r.ttft.join(' / ')} | ${r.full.join(' / ')} | ${r.gen} | ${r.accepted} / ${r.drafted} | ${r.coldMs} (${r.coldPrompt}) |`);
console.log('\n| mode | after a newline: first token p50 / p95, full p50 / p95 (ms) (requests) | after a jump: the same | ' +
  'waited before the cold request (ms, --cold-wait) |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.mode} | ${r.newline} | ${r.jump} | ${r.coldWait} |`);
console.log("\nIn llama.vim's terms (its info line: context / prompt / predict / total), over the requests the " +
  'model ran (not the suggestion cache): context = prompt + generated tokens (what the KV cache holds after ' +
  'the request), prompt = new prompt tokens evaluated, predict = tokens generated, total = client time to the reply.');
console.log('\n| mode | requests | context (p50) | prompt: tokens p50 / p95 | prompt ms p50 / p95 | predict: tokens (p50) | ' +
  'predict ms p50 / p95 | total ms p50 / p95 |');
console.log('|---|---|---|---|---|---|---|---|');
for (const { mode, vim: v } of rows)
  console.log(`| ${mode} | ${v.n} | ${v.context} | ${v.evaluated.join(' / ')} | ${v.promptMs.join(' / ')} | ${v.generated} | ` +
    `${v.genMs.join(' / ')} | ${v.total.join(' / ')} |`);
// Moving cached runs (kvShift) is an approximation: how many suggestions it changed.
if (all.reuse && all.noshift) {
  const pairs = all.reuse.map((r, i) => [r, all.noshift[i]]).filter(([a, b]) => b && !a.cached && !b.cached);
  const same = pairs.filter(([a, b]) => a.text === b.text).length;
  const moved = pairs.filter(([a, b]) => a.nReused > b.nReused);
  const movedSame = moved.filter(([a, b]) => a.text === b.text).length;
  console.log(`\nreuse (kvShift) vs noshift: ${same} of ${pairs.length} suggestions identical; of the ` +
    `${moved.length} requests that moved cached runs, ${movedSame} identical.`);
}
if (o.json) writeFileSync(o.json, JSON.stringify({ options: o, summary: rows, requests: all }, null, 1));
