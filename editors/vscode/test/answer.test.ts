import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Answers, toSource, toSources } from '../src/answer';
import { chatHtml, escapeHtml, parsePageMessage } from '../src/chatHtml';

const loc = { uri: 'file:///repo/src/alpha.c', range: { start: { line: 9, character: 0 }, end: { line: 19, character: 3 } } };

test('sources are LSP Locations or LocationLinks, shown as file:start-end', () => {
  assert.deepEqual(toSource(loc), { uri: 'file:///repo/src/alpha.c', startLine: 9, endLine: 19, label: 'alpha.c:10-20' });
  const link = { targetUri: 'file:///repo/b%20c.py', targetRange: { start: { line: 0, character: 0 }, end: { line: 4, character: 0 } } };
  assert.equal(toSource(link)?.label, 'b c.py:1-5');
  assert.deepEqual(toSources([loc, null, 3, { uri: 5 }, { range: {} }]).length, 1);
  assert.deepEqual(toSources('nope'), []);
});

test('a streamed answer: chunks append, done brings the sources, the response is final', () => {
  const all = new Answers();
  const a = all.start('t1', 'where?');
  assert.equal(all.route({ token: 't1', text: 'The answer ', done: false }), a);
  assert.equal(all.route({ token: 't1', text: 'streams.', done: false }), a);
  assert.equal(a.state.text, 'The answer streams.');
  assert.equal(a.state.done, false);
  assert.equal(all.route({ token: 't1', text: '', done: true, sources: [loc] }), a);
  assert.equal(a.state.done, true);
  assert.equal(a.state.sources[0].label, 'alpha.c:10-20');
  assert.equal(all.route({ token: 't1', text: 'late' }), undefined, 'nothing after done');
  a.onResponse({ answer: 'The answer streams.', sources: [loc, loc] });
  assert.equal(a.state.sources.length, 2);
});

test('an answer only in the response, an unknown token, and errors', () => {
  const all = new Answers();
  const a = all.start('t1', 'q1');
  a.onResponse({ answer: 'whole', sources: [loc] });
  assert.deepEqual([a.state.text, a.state.done, a.state.sources.length], ['whole', true, 1]);
  const b = all.start('t2', 'q2');
  assert.equal(all.route({ token: 'server-made-42', text: 'x' }), b, 'unknown tokens go to the latest question');
  assert.equal(all.route(null), undefined);
  assert.equal(all.route({ token: 't2', text: 7 }), undefined);
  b.onError('boom');
  assert.deepEqual([b.state.error, b.state.done], ['boom', true]);
  const c = all.start('t3', 'q3');
  c.onResponse(null);
  assert.equal(c.state.done, true, 'a null response with no stream ends the answer');
});

test('the chat page escapes what it embeds and validates messages from the page', () => {
  assert.equal(escapeHtml('<a href="x">&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
  const html = chatHtml('NONCE123', 'vscode-resource:');
  assert.match(html, /script-src 'nonce-NONCE123'/);
  assert.match(html, /<script nonce="NONCE123">/);
  assert.ok(!/innerHTML/.test(html), 'answers are set with textContent only');
  assert.deepEqual(parsePageMessage({ type: 'ask', question: ' why? ' }), { type: 'ask', question: 'why?' });
  assert.equal(parsePageMessage({ type: 'ask', question: '  ' }), undefined);
  assert.deepEqual(parsePageMessage({ type: 'open', uri: 'file:///a', startLine: -3, endLine: 'x' }),
    { type: 'open', uri: 'file:///a', startLine: 0, endLine: 0 });
  assert.equal(parsePageMessage({ type: 'run', cmd: 'rm' }), undefined);
  assert.equal(parsePageMessage('ask'), undefined);
});
