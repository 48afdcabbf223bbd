// The plain modules against the real `hearth lsp` (HEARTH_BIN, HEARTH_MODEL; skipped without
// them): the inline-completion bridge turns the server's reply into an item at the cursor, and
// Answers rebuilds a hearth.ask answer from its hearth/answer notifications and response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cursorParams, inlineParams, toItems } from '../src/bridge';
import { Answers } from '../src/answer';
import { Streams } from '../src/stream';
import { Notices } from '../src/notice';

const BIN = process.env.HEARTH_BIN || '';
const MODEL = process.env.HEARTH_MODEL || '';
const skip = BIN && MODEL && existsSync(BIN) && existsSync(MODEL) ? false : 'HEARTH_BIN / HEARTH_MODEL not given';

type Msg = { id?: number | string; method?: string; params?: any; result?: any; error?: any };

class Server {
  proc: ChildProcessWithoutNullStreams;
  buf = Buffer.alloc(0);
  next = 1;
  pending = new Map<number, (m: Msg) => void>();
  notes: Msg[] = [];

  constructor(env?: NodeJS.ProcessEnv) {
    this.proc = spawn(BIN, ['lsp', '--threads', '2'], { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    this.proc.stdout.on('data', (d: Buffer) => this.onData(d));
  }

  onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/Content-Length: (\d+)/i.exec(this.buf.subarray(0, end).toString())?.[1]);
      if (this.buf.length < end + 4 + len) return;
      const m: Msg = JSON.parse(this.buf.subarray(end + 4, end + 4 + len).toString('utf8'));
      this.buf = this.buf.subarray(end + 4 + len);
      if (m.method && m.id !== undefined) this.send({ id: m.id, result: null }); // agree to requests
      else if (m.method) this.notes.push(m);
      else if (typeof m.id === 'number' && this.pending.has(m.id)) this.pending.get(m.id)!(m);
    }
  }

  send(m: Msg): void {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...m }), 'utf8');
    this.proc.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  }

  request(method: string, params: unknown, ms = 60000): Promise<Msg> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply to ${method}`)), ms);
      this.pending.set(id, (m) => { clearTimeout(t); resolve(m); });
      this.send({ id, method, params });
    });
  }

  async close(): Promise<void> {
    await this.request('shutdown', null);
    this.send({ method: 'exit' });
    await new Promise((r) => this.proc.on('exit', r));
  }
}

test('the bridge turns the real server reply into an item at the cursor', { skip, timeout: 120000 }, async () => {
  const s = new Server();
  try {
    await s.request('initialize', { processId: null, rootUri: null, capabilities: {}, initializationOptions: { completionModel: MODEL } });
    s.send({ method: 'initialized', params: {} });
    const uri = 'file:///tmp/hearth-vscode-test/a.py';
    const text = 'def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    ';
    s.send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'python', version: 1, text } } });
    const cursor = { line: 4, character: 4 };
    const r = await s.request('textDocument/inlineCompletion', inlineParams(uri, cursor, true));
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const items = toItems(r.result, cursor);
    assert.equal(items.length, 1);
    assert.equal(items[0].insertText, r.result.items[0].insertText);
    assert.ok(items[0].insertText.length > 0);
    assert.deepEqual(items[0].range, { start: cursor, end: cursor });
  } finally {
    await s.close();
  }
});

test('Streams serves the real server\'s partial suggestions, each a prefix of the reply', { skip, timeout: 120000 }, async () => {
  const s = new Server();
  try {
    await s.request('initialize', { processId: null, rootUri: null, capabilities: {}, initializationOptions: { completionModel: MODEL, maxTokens: 200, maxGenMs: 0 } });
    s.send({ method: 'initialized', params: {} });
    const uri = 'file:///tmp/hearth-vscode-test/fib.py';
    const text = 'import sys\n\n\ndef fib(n):\n    if n < 2:\n        return n\n    \n';
    s.send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'python', version: 1, text } } });
    const cursor = { line: 6, character: 4 };
    const streams = new Streams();
    const token = streams.begin(uri, cursor, '    ', () => assert.fail('not cancelled'));
    const r = await s.request('textDocument/inlineCompletion', { ...inlineParams(uri, cursor, true), hearth: { stream: token } });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const final = toItems(r.result, cursor)[0].insertText;
    const partials = s.notes.filter((m) => m.method === 'hearth/inlineCompletionPartial');
    assert.ok(partials.length >= 2, `${partials.length} partials`);
    for (const m of partials) {
      assert.equal(streams.onPartial(m.params), true);
      const served = streams.serve(uri, cursor, '    ');
      assert.equal(served.kind, 'show');
      assert.ok(final.startsWith((served as { item: { insertText: string } }).item.insertText));
    }
    streams.finish(token, final);
    assert.deepEqual(streams.serve(uri, cursor, '    '), { kind: 'show', item: { insertText: final, range: { start: cursor, end: cursor } } });
  } finally {
    await s.close();
  }
});

test('hearth/cursor from cursorParams makes the server prepare that prompt', { skip, timeout: 120000 }, async () => {
  const s = new Server();
  try {
    await s.request('initialize', { processId: null, rootUri: null, capabilities: {}, initializationOptions: { completionModel: MODEL } });
    s.send({ method: 'initialized', params: {} });
    const uri = 'file:///tmp/hearth-vscode-test/b.py';
    const text = 'def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    ';
    s.send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'python', version: 1, text } } });
    const cursor = { line: 4, character: 4 };
    s.send({ method: 'hearth/cursor', params: cursorParams(uri, cursor) });
    const w = await s.request('hearth/debugWork', { ms: 0, lane: 'fim' }); // queued behind the prefill
    assert.equal(w.result.prefill.finished, 1, JSON.stringify(w.result.prefill));
    const r = await s.request('textDocument/inlineCompletion', inlineParams(uri, cursor, true));
    assert.equal(r.result.hearth.nEvaluated, 1, JSON.stringify(r.result.hearth)); // only the last token
  } finally {
    await s.close();
  }
});

test('Answers rebuilds a real hearth.ask answer and its sources', { skip, timeout: 120000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-vscode-ask-'));
  const s = new Server();
  try {
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src', 'config.c'), '/* Parses the configuration file. */\nint parse_config(const char *path) {\n  return path != 0;\n}\n');
    await s.request('initialize', { processId: null, rootUri: `file://${root}`, capabilities: {},
      initializationOptions: { chatModel: MODEL, chatContextSize: 4096 } });
    s.send({ method: 'initialized', params: {} });
    const idx = await s.request('workspace/executeCommand', { command: 'hearth.index', arguments: [{}], workDoneToken: 'ix' });
    assert.equal(idx.error, undefined, JSON.stringify(idx.error));
    const answers = new Answers();
    const a = answers.start('q1', 'what does parse_config do?');
    const r = await s.request('workspace/executeCommand', { command: 'hearth.ask',
      arguments: [{ question: 'what does parse_config do?', maxTokens: 16 }], workDoneToken: 'q1' });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const notes = s.notes.filter((m) => m.method === 'hearth/answer');
    assert.ok(notes.length >= 2, 'streamed pieces and the final notification');
    for (const n of notes) answers.route(n.params);
    assert.equal(a.state.done, true, 'the done notification ends it');
    assert.equal(a.state.text, r.result.answer, 'the streamed pieces make the answer');
    a.onResponse(r.result);
    assert.equal(a.state.text, r.result.answer);
    assert.ok(a.state.sources.some((src) => src.label.startsWith('config.c:1-') && src.uri === `file://${root}/src/config.c`),
      JSON.stringify(a.state.sources));
  } finally {
    await s.close();
    rmSync(root, { recursive: true, force: true });
  }
});

// What the extension shows for the real server's problems: hearth/model drives the status bar's
// loading state; a missing model and no model at all are each one warning with what to do, however
// many completion replies repeat them.
test('Notices turn the real server\'s hearth/model and errors into one warning each', { skip, timeout: 120000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'hearth-vscode-home-')); // no installed or configured model
  const env = { ...process.env, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home };
  const uri = 'file:///tmp/hearth-vscode-test/n.py';
  const open = (s: Server) => s.send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'python', version: 1, text: 'x = ' } } });
  const cursor = { line: 0, character: 4 };
  for (const [model, wantState, wantText] of [[MODEL, 'loaded', ''], ['/nonexistent/m.gguf', 'failed', 'no such file'],
    ['qwen2.5-coder-7b', 'failed', "run 'hearth pull qwen2.5-coder-7b'"]] as const) {
    const s = new Server(env);
    const notices = new Notices();
    try {
      await s.request('initialize', { processId: null, rootUri: null, capabilities: {}, initializationOptions: { completionModel: model, modelStatus: true } });
      s.send({ method: 'initialized', params: {} });
      open(s);
      const r = await s.request('textDocument/inlineCompletion', inlineParams(uri, cursor, true));
      const states = s.notes.filter((m) => m.method === 'hearth/model');
      assert.deepEqual(states.map((m) => m.params.state), ['loading', wantState], JSON.stringify(states));
      notices.onModel(states[0].params);
      assert.equal(notices.loading, model, 'loading while the load runs');
      const shown = notices.onModel(states[1].params);
      assert.equal(notices.loading, undefined);
      if (wantState === 'loaded') {
        assert.equal(shown, undefined);
        assert.equal(notices.model, model);
        assert.equal(r.error, undefined);
        continue;
      }
      assert.ok(shown && shown.includes(wantText), shown);
      assert.ok(r.error, 'the completion fails too');
      assert.equal(notices.requestError(r.error), undefined, 'the reply repeats the problem: not shown again');
      const sm = s.notes.find((m) => m.method === 'window/showMessage');
      assert.equal(notices.onShowMessage(sm?.params), undefined, 'showMessage repeats it too');
    } finally {
      await s.close();
    }
  }
  const s = new Server(env); // no model at all: the error reply says how to get one
  try {
    await s.request('initialize', { processId: null, rootUri: null, capabilities: {} });
    s.send({ method: 'initialized', params: {} });
    open(s);
    const notices = new Notices();
    const r1 = await s.request('textDocument/inlineCompletion', inlineParams(uri, cursor, true));
    const r2 = await s.request('textDocument/inlineCompletion', inlineParams(uri, cursor, true));
    const shown = notices.requestError(r1.error);
    assert.ok(shown && shown.includes('no completion model') && shown.includes('hearth pull qwen2.5-coder-1.5b'), shown);
    assert.equal(notices.requestError(r2.error), undefined, 'once');
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});
