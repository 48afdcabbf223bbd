// What the server reports about itself, as plain data: each problem (no model, a model not found,
// no fill-in-the-middle tokens, a load that failed, the server stopping) becomes one message with
// what to do, shown once however often completion replies repeat it; hearth/model gives the
// model's loading for the status bar. No `vscode` import, so Node's test runner can load it.

export const DEFAULT_MODEL = 'qwen2.5-coder-1.5b'; // the catalogue's default completion model

/** The problem without the prefixes the server puts on one text in different places. */
function keyOf(msg: string): string {
  let k = msg;
  for (let i = 0; i < 3; i++) k = k.replace(/^hearth: /, '').replace(/^completion: /, '');
  return k;
}

/** What to do about a problem, from its text; undefined when the text already says it. */
export function advice(msg: string): string | undefined {
  if (msg.includes('no completion model'))
    return `Run \`hearth pull ${DEFAULT_MODEL}\` (the default completion model) or set hearth.completionModel to a catalogue name or a .gguf path.`;
  if (msg.includes('fill-in-the-middle'))
    return `Set hearth.completionModel to a code model with FIM tokens, e.g. \`hearth pull ${DEFAULT_MODEL}\`.`;
  if (msg.includes('is not installed')) return undefined; // it names the `hearth pull` to run
  if (msg.includes('no such file') || msg.includes('cannot read'))
    return 'Check hearth.completionModel: a catalogue name (`hearth pull --list`), an installed model (`hearth list`) or a .gguf path.';
  if (msg.includes('stopped')) return 'Details in the Hearth output; run "Hearth: Restart Server" to start it again.';
  return 'Details in the Hearth output.';
}

export class Notices {
  private shown = new Set<string>();
  loading: string | undefined; // the model being loaded
  model: string | undefined; // the model loaded
  error: string | undefined; // the last problem

  /** The message to show for `msg` the first time this problem is seen, else undefined. */
  problem(msg: unknown): string | undefined {
    if (typeof msg !== 'string' || msg === '') return undefined;
    const key = keyOf(msg);
    this.error = key;
    if (this.shown.has(key)) return undefined;
    this.shown.add(key);
    const a = advice(key);
    return `Hearth: ${key}${a ? ` ${a}` : ''}`;
  }

  /** A failed request: cancellations (ours) are not problems. */
  requestError(e: unknown): string | undefined {
    const o = (e ?? {}) as { code?: unknown; message?: unknown };
    if (o.code === -32800 || o.code === -32801) return undefined; // RequestCancelled, ContentModified
    if (typeof o.message === 'string' && /cancel/i.test(o.message) && o.code === undefined) return undefined;
    return this.problem(typeof o.message === 'string' ? o.message : String(e));
  }

  /** hearth/model {state, model, message}: the loading state; a failed load's problem to show. */
  onModel(params: unknown): string | undefined {
    const p = (params ?? {}) as { state?: unknown; model?: unknown; message?: unknown };
    const model = typeof p.model === 'string' ? p.model : '?';
    if (p.state === 'loading') {
      this.loading = model;
      return undefined;
    }
    this.loading = undefined;
    if (p.state === 'loaded') {
      this.model = model;
      this.error = undefined;
    } else if (p.state === 'failed') {
      return this.problem(typeof p.message === 'string' ? p.message : `cannot load ${model}`);
    }
    return undefined;
  }

  /** window/showMessage: errors and warnings are problems (shown once); the rest passes. */
  onShowMessage(params: unknown): { text: string; problem: boolean } | undefined {
    const p = (params ?? {}) as { type?: unknown; message?: unknown };
    if (typeof p.message !== 'string') return undefined;
    if (p.type === 1 || p.type === 2) {
      const text = this.problem(p.message);
      return text ? { text, problem: true } : undefined;
    }
    return { text: p.message, problem: false };
  }

  /** A new server: its problems are news again. */
  reset(): void {
    this.shown.clear();
    this.loading = this.model = this.error = undefined;
  }
}
