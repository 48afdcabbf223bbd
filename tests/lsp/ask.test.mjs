// hearth.index and hearth.ask through `hearth lsp` (issue 7): the index is built with $/progress,
// the answer streams as hearth/answer notifications and ends with sources as LSP Locations,
// didSave re-indexes the saved file, and a completion asked during an answer is answered before
// the answer ends (completion has priority; the chat worker yields between tokens) while no
// prefill ahead (hearth/cursor) runs during it.
// Models: tiny-qwen2-peaked (chat and FIM completion; random weights, deterministic under greedy).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync,
  writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, Client, killAll } from './client.mjs';

afterEach(killAll);

const REF = process.env.HEARTH_REF_DIR || '../shared/reference';
const CHAT = `${REF}/models/tiny-qwen2-peaked-Q8_0.gguf`;
const skip = existsSync(CHAT) ? false : `no ${CHAT}`;

function fixture() {
  const root = mkdtempSync(join(tmpdir(), 'hearth-lsp-ask-'));
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src', 'config.c'),
    '/* Parses the configuration file. */\nint parse_config(const char *path) {\n  return path != 0;\n}\n');
  writeFileSync(join(root, 'src', 'widgets.py'), 'def frobnicate_widgets(ws):\n    return ws\n');
  writeFileSync(join(root, 'README.md'), '# fixture\n');
  return root;
}

async function start(root, extra = {}) {
  const c = new Client(['--threads', '2']);
  const r = await c.initialize({ rootUri: `file://${root}`, capabilities: { window: { workDoneProgress: true } },
    initializationOptions: { chatModel: CHAT, chatContextSize: 4096, ...extra } });
  assert.deepEqual(r.result.capabilities.executeCommandProvider.commands.sort(), ['hearth.ask', 'hearth.index']);
  return c;
}

const progressOf = (c, token) => c.messages.filter((m) => m.method === '$/progress' &&
  JSON.stringify(m.params.token) === JSON.stringify(token)).map((m) => m.params.value);

test('hearth.index builds the index with $/progress begin/report/end', { skip, timeout: 60000 }, async () => {
  const root = fixture();
  try {
    const c = await start(root);
    const r = await c.request('workspace/executeCommand', { command: 'hearth.index', arguments: [] });
    assert.ok(r.result, JSON.stringify(r.error));
    assert.equal(r.result.files, 3);
    assert.equal(r.result.added, 3);
    assert.ok(r.result.chunks >= 3);
    assert.ok(existsSync(join(root, '.hearth', 'index.sqlite')));
    // The server created the token (window/workDoneProgress/create), then begin ... end on it.
    const create = c.messages.find((m) => m.method === 'window/workDoneProgress/create');
    assert.ok(create, 'progress token requested');
    const values = await c.waitFor(() => progressOf(c, create.params.token).some((v) => v.kind === 'end'), 'progress end')
      .then(() => progressOf(c, create.params.token));
    assert.equal(values[0].kind, 'begin');
    assert.equal(values.at(-1).kind, 'end');
    assert.match(values.at(-1).message, /3 files, \d+ chunks/);
    const reports = values.filter((v) => v.kind === 'report');
    assert.ok(reports.length >= 1, 'at least the final report');
    assert.equal(reports.at(-1).files, 3);
    assert.equal(reports.at(-1).filesTotal, 3);

    // A client-given workDoneToken is used as is; nothing changed: all unchanged.
    const again = await c.request('workspace/executeCommand', { command: 'hearth.index', arguments: [{}], workDoneToken: 'mine' });
    assert.equal(again.result.unchanged, 3);
    await c.waitFor(() => progressOf(c, 'mine').some((v) => v.kind === 'end'), 'end on the given token');
    assert.equal(progressOf(c, 'mine')[0].kind, 'begin');

    const bad = await c.request('workspace/executeCommand', { command: 'hearth.nope', arguments: [] });
    assert.equal(bad.error.code, -32602);
    await c.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('hearth.ask streams hearth/answer and returns sources as Locations', { skip, timeout: 60000 }, async () => {
  const root = fixture();
  try {
    const c = await start(root);
    const none = await c.request('workspace/executeCommand', { command: 'hearth.ask', arguments: ['anything'] });
    assert.match(none.error.message, /no index|hearth index|index/i, 'asking before indexing names the index');
    await c.request('workspace/executeCommand', { command: 'hearth.index', arguments: [] });
    const id = 4242;
    const r = await c.request('workspace/executeCommand', { command: 'hearth.ask',
      arguments: [{ question: 'what does parse_config do?', mode: 'lexical', maxTokens: 12 }] }, id);
    assert.ok(r.result, JSON.stringify(r.error));
    const notes = c.messages.filter((m) => m.method === 'hearth/answer' && m.params.token === id).map((m) => m.params);
    assert.ok(notes.length >= 2, 'pieces, then the final notification');
    const last = notes.at(-1);
    assert.equal(last.done, true);
    assert.ok(notes.slice(0, -1).every((n) => n.done === false && typeof n.text === 'string'));
    assert.equal(notes.slice(0, -1).map((n) => n.text).join(''), r.result.answer, 'the pieces make the answer');
    assert.ok(r.result.answer.length > 0);
    assert.deepEqual(last.sources, r.result.sources);
    const first = r.result.sources[0];
    assert.equal(first.uri, `file://${root}/src/config.c`);
    assert.deepEqual(first.range, { start: { line: 0, character: 0 }, end: { line: 4, character: 0 } });
    // The reply arrives after every notification of its answer.
    const iReply = c.messages.findIndex((m) => m.id === id && m.result);
    const iDone = c.messages.findIndex((m) => m.method === 'hearth/answer' && m.params.token === id && m.params.done);
    assert.ok(iDone < iReply);
    const bad = await c.request('workspace/executeCommand', { command: 'hearth.ask', arguments: [{ k: 3 }] });
    assert.equal(bad.error.code, -32602);
    await c.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

// hearth.index and hearth.ask share one embedding model acquired through the registry (issue 14):
// the build leaves it loaded for the questions that follow, it stays mapped between questions, and
// an over-long question is refused as a query.
test('hearth.ask keeps its embedding model between questions', { skip, timeout: 60000 }, async () => {
  const root = fixture();
  const EMBED = `${REF}/models/tiny-bert-F16.gguf`;
  const mapped = (c) => readFileSync(`/proc/${c.proc.pid}/maps`, 'utf8').includes('tiny-bert-F16.gguf');
  try {
    const c = await start(root, { embeddingModel: EMBED });
    const ix = await c.request('workspace/executeCommand', { command: 'hearth.index', arguments: [] });
    assert.ok(ix.result && ix.result.vectors > 0, JSON.stringify(ix));
    assert.ok(mapped(c), 'the index build leaves the shared model loaded');
    for (const question of ['what does parse_config do?', 'where are widgets frobnicated?']) {
      const r = await c.request('workspace/executeCommand', { command: 'hearth.ask',
        arguments: [{ question, mode: 'vector', maxTokens: 4 }] });
      assert.ok(r.result && r.result.sources.length > 0, JSON.stringify(r.error));
      assert.ok(mapped(c), 'the embedding model stays loaded after a question');
    }
    const long = await c.request('workspace/executeCommand', { command: 'hearth.ask',
      arguments: [{ question: 'word. '.repeat(2000), mode: 'vector', maxTokens: 4 }] });
    assert.match(long.error.message, /query is \d+ tokens.*at most 512/);
    // The search stays open between questions (issue 15: no index load per query) and still
    // sees a re-index: a new file's definition is found by the next question.
    const fds = readdirSync(`/proc/${c.proc.pid}/fd`).map((f) => {
      try { return readlinkSync(`/proc/${c.proc.pid}/fd/${f}`); } catch { return ''; }
    });
    assert.ok(fds.some((l) => l.endsWith('index.sqlite')), 'the index stays open between questions');
    writeFileSync(join(root, 'src', 'late.py'), 'def zorble_the_quux(x):\n    return x\n');
    await c.request('workspace/executeCommand', { command: 'hearth.index', arguments: [] });
    const late = await c.request('workspace/executeCommand', { command: 'hearth.ask',
      arguments: [{ question: 'zorble_the_quux', mode: 'hybrid', maxTokens: 4 }] });
    assert.ok(late.result && late.result.sources.some((l) => l.uri.endsWith('src/late.py')),
      JSON.stringify(late.result ? late.result.sources : late.error));
    await c.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('didSave re-indexes the saved file', { skip, timeout: 60000 }, async () => {
  const root = fixture();
  try {
    const c = await start(root);
    await c.request('workspace/executeCommand', { command: 'hearth.index', arguments: [] });
    const uri = `file://${root}/src/widgets.py`;
    const text = 'def polish_gadgets_now(ws):\n    return ws\n';
    c.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
    writeFileSync(join(root, 'src', 'widgets.py'), text);
    c.notify('textDocument/didSave', { textDocument: { uri } });
    const log = await c.waitFor((m) => m.method === 'window/logMessage' && /re-index/.test(m.params.message), 're-index log');
    assert.match(log.params.message, /0 added, 1 changed, 0 deleted, 2 unchanged/);
    const hits = execFileSync(BIN, ['search', 'polish_gadgets_now', '--root', root, '--json', '--mode', 'lexical'])
      .toString().trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(hits[0].path, 'src/widgets.py');
    assert.equal(hits[0].symbol, 'polish_gadgets_now');
    await c.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('a completion asked during an answer is answered before the answer ends', { skip, timeout: 400000 }, async () => {
  const root = fixture();
  try {
    const c = await start(root, { completionModel: CHAT });
    await c.waitFor((m) => m.method === 'window/logMessage' && /completion model/.test(m.params.message), 'model load', 60000);
    await c.request('workspace/executeCommand', { command: 'hearth.index', arguments: [] });
    const uri = `file://${root}/src/widgets.py`;
    // A client that sends hearth/cursor gets no didOpen guess (a prefill 300 ms after the open,
    // which would land during the answer at a time of its own and count as a second skip).
    c.notify('hearth/cursor', { textDocument: { uri: `file://${root}/elsewhere.py` }, position: { line: 0, character: 0 } });
    c.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text: 'def f(x):\n    return ' } });
    const askId = 777; // sent by hand: the answer may take longer than request()'s timeout
    c.send({ jsonrpc: '2.0', id: askId, method: 'workspace/executeCommand', params: { command: 'hearth.ask',
      arguments: [{ question: 'parse_config', mode: 'lexical', maxTokens: 150 }] } });
    const ask = c.waitFor((m) => m.id === askId && (m.result || m.error), 'the answer', 300000);
    await c.waitFor((m) => m.method === 'hearth/answer' && m.params.token === askId, 'first answer piece');
    // No prefill ahead while the answer streams (it would stall the text being read).
    const work = async () => (await c.request('hearth/debugWork', { ms: 0, lane: 'fim' })).result.prefill;
    const before = await work();
    c.notify('hearth/cursor', { textDocument: { uri }, position: { line: 0, character: 3 } });
    const during = await work();
    assert.equal(during.submitted, before.submitted, JSON.stringify(during));
    assert.equal(during.skipped, before.skipped + 1, JSON.stringify({ before, during }));
    const comp = await c.request('textDocument/inlineCompletion', { textDocument: { uri },
      position: { line: 1, character: 11 }, context: { triggerKind: 2 } });
    assert.ok(comp.result, JSON.stringify(comp.error));
    const iComp = c.messages.findIndex((m) => m.id === comp.id && m.result);
    const done = await ask;
    assert.ok(done.result, JSON.stringify(done.error));
    const iDone = c.messages.findIndex((m) => m.method === 'hearth/answer' && m.params.token === askId && m.params.done);
    assert.ok(iComp < iDone, `completion at message ${iComp}, answer done at ${iDone}`);
    await c.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('the chat model loads on the first question and unloads after the idle time', { skip, timeout: 60000 }, async () => {
  const root = fixture();
  try {
    const c = await start(root, { chatIdleSeconds: 1 });
    await c.request('workspace/executeCommand', { command: 'hearth.index', arguments: [] });
    const r = await c.request('workspace/executeCommand', { command: 'hearth.ask',
      arguments: [{ question: 'parse_config', mode: 'lexical', maxTokens: 4 }] });
    assert.ok(r.result, JSON.stringify(r.error));
    await c.waitFor((m) => m.method === 'window/logMessage' && /chat model unloaded/.test(m.params.message), 'unload', 20000);
    const again = await c.request('workspace/executeCommand', { command: 'hearth.ask',
      arguments: [{ question: 'parse_config', mode: 'lexical', maxTokens: 4 }] });
    assert.equal(again.result.answer, r.result.answer, 'reloaded: the same greedy answer');
    await c.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});
