// A small LSP client over the real `hearth lsp` process (node built-ins only): frames messages,
// matches responses to requests, keeps notifications, and can send raw bytes for hostile tests.
import { spawn } from 'node:child_process';

export const BIN = process.env.HEARTH_BIN || 'build/hearth';

const live = new Set();

// Kills servers a failed test left running, so the runner can exit (use in afterEach).
export function killAll() {
  for (const c of live) c.proc.kill('SIGKILL');
  live.clear();
}

export class Client {
  constructor(args = []) {
    this.proc = spawn(BIN, ['lsp', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    this.buf = Buffer.alloc(0);
    this.nextId = 1;
    this.pending = new Map();
    this.messages = []; // every message from the server, in order
    this.waiters = [];
    this.stderr = '';
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.proc.stdout.on('data', (d) => this.onData(d));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => {
      live.delete(this);
      resolve(code);
    }));
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /Content-Length: (\d+)/i.exec(this.buf.subarray(0, end).toString());
      if (!m) throw new Error('server sent a frame without Content-Length');
      const len = Number(m[1]);
      if (this.buf.length < end + 4 + len) return;
      const msg = JSON.parse(this.buf.subarray(end + 4, end + 4 + len).toString('utf8'));
      this.buf = this.buf.subarray(end + 4 + len);
      this.messages.push(msg);
      if (msg.method && msg.id !== undefined) // a request from the server: agree
        this.send({ jsonrpc: '2.0', id: msg.id, result: null });
      if (msg.id !== undefined && this.pending.has(msg.id)) {
        this.pending.get(msg.id)(msg);
        this.pending.delete(msg.id);
      }
      this.waiters = this.waiters.filter((w) => !w(msg));
    }
  }

  raw(bytes) { this.proc.stdin.write(bytes); }

  send(msg) {
    const body = Buffer.from(JSON.stringify(msg), 'utf8');
    this.raw(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  }

  // The whole response message ({id, result} or {id, error}).
  request(method, params, id = this.nextId++) {
    const p = new Promise((resolve) => this.pending.set(id, resolve));
    this.send({ jsonrpc: '2.0', id, method, params });
    return withTimeout(p, 20000, `no response to ${method}`);
  }

  notify(method, params) { this.send({ jsonrpc: '2.0', method, params }); }

  // The next message (already received or future) matching pred.
  waitFor(pred, what = 'message', ms = 20000) {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return withTimeout(new Promise((resolve) => {
      this.waiters.push((m) => (pred(m) ? (resolve(m), true) : false));
    }), ms, `timed out waiting for ${what}`);
  }

  // maxPromptMs and maxGenMs 0 unless a test asks: the prompt budget shrinks windows by the
  // measured prefill speed, and the generation cap cuts suggestions by the clock, which a loaded
  // machine or a sanitizer build would make vary; tests count prompt tokens and compare texts, and
  // both have tests of their own.
  async initialize(params = {}) {
    const initializationOptions = { maxPromptMs: 0, maxGenMs: 0, ...params.initializationOptions };
    const r = await this.request('initialize', { processId: null, rootUri: null,
      capabilities: {}, ...params, initializationOptions });
    this.notify('initialized', {});
    return r;
  }

  async close() {
    await this.request('shutdown', null);
    this.notify('exit', null);
    return withTimeout(this.exited, 20000, 'server did not exit');
  }
}

export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(what)), ms); })])
    .finally(() => clearTimeout(t));
}

// A frame with an exact body (string or Buffer), for hand-made hostile input.
export function frame(body) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b]);
}
