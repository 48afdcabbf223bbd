// Streamed suggestions (stream.ts): which partials count, what the provider serves while the
// person types, when the request is cancelled, and the retrigger throttle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePartial, Streams, Throttle } from '../src/stream';

const URI = 'file:///a.py';
const anchor = { line: 2, character: 4 };
const LINE = '    '; // the anchor line when the request was sent
const at = (character: number) => ({ line: 2, character });

function started() {
  const s = new Streams();
  let cancels = 0;
  const token = s.begin(URI, anchor, LINE, () => cancels++);
  return { s, token, cancels: () => cancels };
}

test('partials are checked: hostile shapes, other tokens and texts that do not grow are ignored', () => {
  for (const bad of [null, 5, 'x', {}, { token: 't' }, { text: 'x' }, { token: {}, text: 'x' }, { token: 't', text: 5 }])
    assert.equal(parsePartial(bad), undefined);
  assert.deepEqual(parsePartial({ token: 7, text: 'ab' }), { token: '7', text: 'ab' });
  const { s, token } = started();
  assert.equal(s.onPartial({ token: 'other', text: 'ret' }), false);
  assert.equal(s.onPartial({ token, text: 'ret' }), true);
  assert.equal(s.onPartial({ token, text: 'ret' }), false, 'the same text again');
  assert.equal(s.onPartial({ token, text: 'rx' }), false, 'not an extension');
  assert.equal(s.onPartial({ token, text: 'retu' }), true);
  assert.deepEqual(s.serve(URI, anchor, LINE), { kind: 'show', item: { insertText: 'retu', range: { start: anchor, end: anchor } } });
});

test('the latest partial is served while typing agrees with it; the request goes on', () => {
  const { s, token, cancels } = started();
  assert.deepEqual(s.serve(URI, anchor, LINE), { kind: 'wait' }, 'nothing yet, but in flight');
  s.onPartial({ token, text: 'return fib' });
  // typed "re": the same item, its range over what was typed (VS Code shows the rest)
  assert.deepEqual(s.serve(URI, at(6), '    re'),
    { kind: 'show', item: { insertText: 'return fib', range: { start: anchor, end: at(6) } } });
  s.onPartial({ token, text: 'return fib(n - 1)' });
  assert.equal((s.serve(URI, at(6), '    re') as { item: { insertText: string } }).item.insertText, 'return fib(n - 1)');
  // typed past what is known: wait for more
  assert.deepEqual(s.serve(URI, at(22), '    return fib(n - 1) '), { kind: 'wait' });
  assert.equal(cancels(), 0);
});

test('typing that contradicts it, or moving elsewhere, cancels the request once', () => {
  let { s, token, cancels } = started();
  s.onPartial({ token, text: 'return fib' });
  assert.deepEqual(s.serve(URI, at(6), '    rx'), { kind: 'none' });
  assert.equal(cancels(), 1);
  assert.deepEqual(s.serve(URI, at(6), '    re'), { kind: 'none' }, 'gone');
  assert.equal(cancels(), 1);
  for (const [uri, pos, line] of [['file:///b.py', anchor, LINE], [URI, { line: 3, character: 4 }, LINE],
    [URI, at(2), '  '], [URI, at(5), 'x   r']] as const) {
    ({ s, token, cancels } = started());
    s.onPartial({ token, text: 'return' });
    assert.deepEqual(s.serve(uri, pos, line), { kind: 'none' }, JSON.stringify([uri, pos, line]));
    assert.equal(cancels(), 1);
    assert.equal(s.cancelled, 1);
  }
});

test('the reply ends the stream: served, never cancelled; a failed reply drops it', async () => {
  const { s, token, cancels } = started();
  let firstIn = false;
  const first = s.first(token).then(() => { firstIn = true; });
  await Promise.resolve();
  assert.equal(firstIn, false);
  s.onPartial({ token, text: 'ret' });
  await first;
  assert.equal(s.finish(token, 'ret'), false, 'the same text as the last partial');
  assert.equal(s.finish(token, 'return n'), true);
  assert.deepEqual(s.serve(URI, at(7), '    ret'),
    { kind: 'show', item: { insertText: 'return n', range: { start: anchor, end: at(7) } } });
  assert.equal(s.onPartial({ token, text: 'return n + 1' }), false, 'nothing after the reply');
  assert.deepEqual(s.serve(URI, at(12), '    return n'), { kind: 'none' }, 'all of it typed');
  assert.deepEqual(s.serve(URI, at(6), '    rx'), { kind: 'none' });
  assert.equal(cancels(), 0, 'a finished request is not cancelled');

  const b = started();
  await Promise.all([b.s.first(b.token), Promise.resolve(b.s.finish(b.token, undefined))]);
  assert.deepEqual(b.s.serve(URI, anchor, LINE), { kind: 'none' });
  assert.equal(b.cancels(), 0);
});

test('a newer request replaces the stream', () => {
  const s = new Streams();
  const a = s.begin(URI, anchor, LINE, () => undefined);
  const b = s.begin(URI, at(5), '    r', () => undefined);
  assert.notEqual(a, b);
  assert.equal(s.onPartial({ token: a, text: 'x' }), false);
  assert.equal(s.onPartial({ token: b, text: 'eturn' }), true);
});

test('the throttle runs at once, then once more at the end of its window', async () => {
  let runs = 0;
  const t = new Throttle(30, () => runs++);
  t.poke();
  assert.equal(runs, 1);
  t.poke();
  t.poke();
  assert.equal(runs, 1);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(runs, 2);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(runs, 2, 'nothing pending');
  t.poke();
  t.dispose();
  assert.equal(runs, 3);
});
