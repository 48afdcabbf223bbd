// Measures time to first token after a keystroke with the two FIM layouts (not a ctest test: run
// by hand). Opens a real source file, puts the cursor ~60% down inside a line, warms the cache,
// then types characters one at a time and reports per-keystroke prompt tokens evaluated and
// firstTokenMs for: line-in-middle (default), --classic-layout, and --no-kv-reuse.
//   HEARTH_BIN=build/hearth node tests/lsp/fim_layout_latency.mjs MODEL.gguf SOURCE [THREADS] [MODES]
// MODES: comma-separated subset of line-in-middle,classic,no-reuse (default: all three).
import { readFileSync } from 'node:fs';
import { Client } from './client.mjs';

const [model, source, threads = '2', only] = process.argv.slice(2);
const text = readFileSync(source, 'utf8');
const lines = text.split('\n');
const line = Math.floor(lines.length * 0.6);
const character = Math.floor(lines[line].length / 2);
const URI = `file://${source}`;
const typed = 'value_';
const modes = [['line-in-middle', []], ['classic', ['--classic-layout']], ['no-reuse', ['--no-kv-reuse']]];

function median(a) { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; }

const results = {};
for (const [name, flags] of modes.filter(([n]) => !only || only.split(',').includes(n))) {
  const c = new Client(['--completion-model', model, '--threads', threads, '--max-tokens', '16', ...flags]);
  await c.initialize();
  await c.waitFor((m) => m.method === 'window/logMessage' && /completion model/.test(m.params.message), 'load', 600000);
  c.notify('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'c', version: 1, text } });
  let pos = { line, character };
  const ask = async () => {
    const id = c.nextId++;
    const p = new Promise((resolve) => c.pending.set(id, resolve));
    c.send({ jsonrpc: '2.0', id, method: 'textDocument/inlineCompletion', params: { textDocument: { uri: URI }, position: pos } });
    const r = await p;
    if (!r.result) throw new Error(JSON.stringify(r.error));
    return r.result.hearth;
  };
  const cold = await ask();
  const rows = [];
  let v = 1;
  for (const ch of typed) {
    c.notify('textDocument/didChange', { textDocument: { uri: URI, version: ++v }, contentChanges: [{ range: { start: pos, end: pos }, text: ch }] });
    pos = { line, character: pos.character + 1 };
    rows.push(await ask());
  }
  results[name] = { cold, rows };
  await c.close();
  const f = (k) => median(rows.map((r) => r[k])).toFixed(1);
  console.log(`${name.padEnd(15)} prompt ${cold.nPrompt} tok, cold first token ${cold.firstTokenMs.toFixed(0)} ms; ` +
    `after a keystroke (median of ${rows.length}): evaluated ${f('nEvaluated')} tok, first token ${f('firstTokenMs')} ms, prompt ${f('promptMs')} ms`);
}
