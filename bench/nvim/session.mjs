// The scripted editing session of bench/nvim, as data for the Neovim driver (driver.lua): visits
// to places in two real files, each a few lines retyped key by key. A visit's text is removed in
// normal mode (not measured: the plugin asks only in insert mode), then `A` and the keys: the rest
// of a line, Enter and the next lines (without their indentation: the editor indents), with a word
// backspaced and typed again now and then. Deterministic for a given seed.
import { rng } from '../fim/session.mjs';

const between = (r, a, b) => a + (b - a) * r();
const indentOf = (l) => l.match(/^[ \t]*/)[0].length;

// Lines a visit may retype: code inside a function, not comments or preprocessor lines (an
// editor's comment leaders and '#' re-indentation would change what the keys produce).
function retypable(line) {
  const s = line.trim();
  if (s.length > 56 || /\t/.test(line.slice(indentOf(line)))) return false;
  return !/\/\*|\*\/|\/\/|#|"""|'''/.test(s) && !s.startsWith('*');
}

// Top-level definitions split a file into segments ("functions"); a jump goes to another one.
function segments(lines, lang) {
  const starts = lang === 'python' ? /^\s*(async\s+)?def\s|^class\s/ : /^[A-Za-z_]/;
  let seg = 0;
  return lines.map((l) => (starts.test(l) && !/;\s*$/.test(l) ? ++seg : seg));
}

// Where a visit can start: a line with room to retype its tail, and `n` retypable lines after it.
function candidates(lines, n) {
  const out = [];
  for (let i = 8; i + n < lines.length - 2; i++) {
    const l = lines[i];
    if (indentOf(l) === 0 || l.trim().length < 12 || !retypable(l)) continue;
    let ok = true;
    for (let k = 1; k <= n; k++) ok = ok && retypable(lines[i + k]);
    if (ok) out.push(i);
  }
  return out;
}

// Where in line `l` the retyped tail starts: a word start after a blank or an opening bracket,
// leaving at least 6 characters to type.
function tailStart(r, l) {
  const from = indentOf(l), spots = [];
  for (let j = from + 2; j <= l.length - 6; j++)
    if (/[\s(,=[]/.test(l[j - 1]) && /\w/.test(l[j])) spots.push(j);
  return spots.length ? spots[Math.floor(r() * spots.length)] : from;
}

// The keys of one visit with their kinds, gaps (ms until the next key) and pauses (the typist
// stops and looks: the driver then waits for the suggestion, see driver.lua).
function visitKeys(r, text, first, o) {
  const keys = [];
  // The first key at a new place is followed by a look (a pause): its time is then the cost of
  // the new place's prompt, not of wherever the typist happens to stop next.
  const push = (key, kind, gap, pause) =>
    keys.push({ key, kind: keys.length ? kind : first, gap: Math.round(gap), pause: pause || !keys.length });
  const gap = () => o.gapMs * between(r, 0.7, 1.3);
  const parts = text.split('\n');
  parts.forEach((part, li) => {
    if (li > 0) push('<CR>', 'newline', gap(), r() < 0.5);
    // One word of the line may be typed, backspaced and typed again.
    const words = [...part.matchAll(/\b\w{3,10}\b/g)];
    const redo = words.length && r() < 0.6 ? words[Math.floor(r() * words.length)] : null;
    for (let i = 0; i < part.length; i++) {
      const c = part[i];
      const last = i === part.length - 1;
      const wordEnd = redo && i === redo.index + redo[0].length - 1;
      const pause = last ? li === parts.length - 1 || r() < 0.6 : /[ (,.=]/.test(c) && r() < 0.2;
      push(c === '<' ? '<lt>' : c, 'inline', gap(), pause && !wordEnd);
      if (wordEnd) {
        for (let k = 0; k < redo[0].length; k++)
          push('<BS>', 'delete', o.gapMs * between(r, 0.4, 0.8), k === redo[0].length - 1 && r() < 0.7);
        for (const w of redo[0]) push(w, 'inline', gap(), false);
        keys[keys.length - 1].pause = pause;
      }
    }
  });
  keys[keys.length - 1].pause = true;
  return keys;
}

// files: [{ name, text, lang }] (the first is edited most, the second is jumped to); returns
// { visits: [...] } where a visit is { file, how: 'open' | 'jump' | 'switch', row (0-based),
// col (bytes kept of that line), deleteLines, text, keys, look (ms before typing) } and a round
// ends with { wipe: true }.
export function makeSession(files, opts) {
  const o = { seed: 1, gapMs: 300, lookMs: 3000, rounds: 2, lines: 2, ...opts };
  const r = rng(o.seed);
  const state = files.map((f) => {
    const lines = f.text.split('\n');
    return { f, lines, seg: segments(lines, f.lang), cands: candidates(lines, o.lines), used: new Set(), lastSeg: -1 };
  });
  const pick = (s) => {
    // A line in another segment than the last visit's, not retyped yet (else any).
    let pool = s.cands.filter((i) => s.seg[i] !== s.lastSeg && ![...Array(o.lines + 3).keys()].some((k) => s.used.has(i - 1 + k)));
    if (!pool.length) pool = s.cands;
    if (!pool.length) throw new Error(`${s.f.name}: no line to retype (a file of code with functions is needed)`);
    const row = pool[Math.floor(r() * pool.length)];
    for (let k = 0; k <= o.lines; k++) s.used.add(row + k);
    s.lastSeg = s.seg[row];
    return row;
  };
  const visit = (fi, how) => {
    const s = state[fi];
    const row = pick(s);
    const line = s.lines[row];
    const col = tailStart(r, line);
    const text = [line.slice(col), ...s.lines.slice(row + 1, row + 1 + o.lines).map((l) => l.trim())].join('\n');
    const first = how === 'open' ? 'first_open' : 'jump';
    return { file: s.f.name, how, row, col, deleteLines: o.lines, text,
      look: how === 'open' ? o.lookMs : Math.round(o.gapMs * between(r, 1, 3)),
      keys: visitKeys(r, text, first, o) };
  };
  const visits = [];
  const two = files.length > 1;
  for (let round = 0; round < o.rounds; round++) {
    visits.push(visit(0, 'open'), visit(0, 'jump'));
    if (two) visits.push(visit(1, 'open'), visit(1, 'jump'), visit(0, 'switch'));
    visits.push({ wipe: true });
  }
  return { visits };
}
