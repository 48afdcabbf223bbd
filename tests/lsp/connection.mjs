// An LSP client on Microsoft's own libraries (vscode-jsonrpc framing and dispatch,
// vscode-languageserver-protocol request types) over the stdio of a real `hearth lsp` process:
// the same code VS Code's language client runs, so the server is tested against a real client,
// not only against our hand-written one (client.mjs). Used by jsonrpc.test.mjs and bench/fim.
import { spawn } from 'node:child_process';
import {
  CancellationTokenSource, StreamMessageReader, StreamMessageWriter, createMessageConnection,
} from 'vscode-jsonrpc/node';
import {
  DidChangeTextDocumentNotification, DidOpenTextDocumentNotification, ExitNotification,
  InitializeRequest, InitializedNotification, InlineCompletionRequest, LogMessageNotification,
  ShutdownRequest, WorkDoneProgressCreateRequest,
} from 'vscode-languageserver-protocol';

export { CancellationTokenSource };
export const BIN = process.env.HEARTH_BIN || 'build/hearth';

const live = new Set();

// Kills servers a failed test left running, so the runner can exit (use in afterEach).
export function killAll() {
  for (const s of live) s.proc.kill('SIGKILL');
  live.clear();
}

export class Server {
  constructor(args = [], bin = BIN) {
    this.proc = spawn(bin, ['lsp', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    this.stderr = '';
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => {
      live.delete(this);
      this.conn.dispose();
      resolve(code);
    }));
    this.conn = createMessageConnection(new StreamMessageReader(this.proc.stdout),
      new StreamMessageWriter(this.proc.stdin));
    this.logs = []; // window/logMessage texts, in order
    this.logWaiters = [];
    this.conn.onNotification(LogMessageNotification.type, (p) => {
      this.logs.push(p.message);
      this.logWaiters = this.logWaiters.filter((w) => !w(p.message));
    });
    this.conn.onRequest(WorkDoneProgressCreateRequest.type, () => null);
    this.conn.onNotification('$/progress', () => {});
    this.conn.onError(() => {}); // a killed server closes the pipes mid-message
    this.conn.listen();
    this.docs = new Map(); // uri -> { text, version }
  }

  async initialize(initializationOptions, capabilities = {}) {
    const r = await this.conn.sendRequest(InitializeRequest.type,
      { processId: process.pid, rootUri: null, capabilities, initializationOptions });
    await this.conn.sendNotification(InitializedNotification.type, {});
    return r;
  }

  // The first log message matching re (already received or future).
  waitLog(re, ms = 120000) {
    const seen = this.logs.find((m) => re.test(m));
    if (seen) return Promise.resolve(seen);
    return withTimeout(new Promise((resolve) => {
      this.logWaiters.push((m) => (re.test(m) ? (resolve(m), true) : false));
    }), ms, `no log matching ${re}`);
  }

  // Waits for the model the settings named; throws if loading failed.
  async modelLoaded() {
    const m = await this.waitLog(/completion model/);
    if (!/loaded/.test(m)) throw new Error(m);
  }

  open(uri, languageId, text) {
    this.docs.set(uri, { text, version: 1 });
    return this.conn.sendNotification(DidOpenTextDocumentNotification.type,
      { textDocument: { uri, languageId, version: 1, text } });
  }

  // Replaces [start, end) (JS string indices, i.e. UTF-16 units as the protocol's default
  // encoding) with text, sent as one incremental didChange; the client's copy follows.
  edit(uri, start, end, text) {
    const d = this.docs.get(uri);
    const range = { start: position(d.text, start), end: position(d.text, end) };
    d.text = d.text.slice(0, start) + text + d.text.slice(end);
    d.version++;
    return this.conn.sendNotification(DidChangeTextDocumentNotification.type,
      { textDocument: { uri, version: d.version }, contentChanges: [{ range, text }] });
  }

  // Types text at index one character per didChange (surrogate pairs stay whole); returns the
  // index after it.
  async type(uri, index, text) {
    for (const ch of text) {
      await this.edit(uri, index, index, ch);
      index += ch.length;
    }
    return index;
  }

  inline(uri, index, token) {
    const pos = position(this.docs.get(uri).text, index);
    return this.conn.sendRequest(InlineCompletionRequest.type,
      { textDocument: { uri }, position: pos, context: { triggerKind: 2 } }, token);
  }

  async close() {
    await this.conn.sendRequest(ShutdownRequest.type);
    await this.conn.sendNotification(ExitNotification.type);
    return withTimeout(this.exited, 30000, 'server did not exit');
  }
}

// LSP (line, character) of a JS string index.
export function position(text, index) {
  const before = text.slice(0, index).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}

export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(what)), ms); })])
    .finally(() => clearTimeout(t));
}
