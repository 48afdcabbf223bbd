// Codebase answers from `hearth.ask`, as plain data. The server streams the answer as
// `hearth/answer` notifications {token, text, done, sources} (or $/progress reports carrying
// `text`), and the command's response {answer, sources} is final. Everything is checked: unknown
// shapes are ignored, never thrown on. No `vscode` import, so Node's test runner can load it.

export interface Source { uri: string; startLine: number; endLine: number; label: string }

export interface AnswerState { question: string; text: string; sources: Source[]; done: boolean; error?: string }

function num(v: unknown, d: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : d;
}

/** A Location {uri, range} or LocationLink {targetUri, targetRange}; 0-based lines. */
export function toSource(loc: unknown): Source | undefined {
  if (loc === null || typeof loc !== 'object') return undefined;
  const o = loc as Record<string, unknown>;
  const uri = typeof o.uri === 'string' ? o.uri : typeof o.targetUri === 'string' ? o.targetUri : undefined;
  if (!uri) return undefined;
  const range = (o.range ?? o.targetSelectionRange ?? o.targetRange) as
    { start?: { line?: unknown }; end?: { line?: unknown } } | undefined;
  const startLine = num(range?.start?.line, 0);
  const endLine = Math.max(startLine, num(range?.end?.line, startLine));
  const file = decodeURIComponent(uri.replace(/^file:\/\//, '')).split('/').pop() || uri;
  const label = `${file}:${startLine + 1}-${endLine + 1}`;
  return { uri, startLine, endLine, label };
}

export function toSources(list: unknown): Source[] {
  if (!Array.isArray(list)) return [];
  return list.map(toSource).filter((s): s is Source => s !== undefined);
}

/** Collects one question's answer from notifications and the response, in any order. */
export class Answer {
  readonly state: AnswerState;
  private streamed = false;

  constructor(readonly token: string, question: string) {
    this.state = { question, text: '', sources: [], done: false };
  }

  /** A `hearth/answer` notification's params; returns true when it changed the state. */
  onNotification(params: unknown): boolean {
    if (this.state.done || params === null || typeof params !== 'object') return false;
    const p = params as Record<string, unknown>;
    let changed = false;
    if (typeof p.text === 'string' && p.text !== '') {
      this.state.text += p.text;
      this.streamed = true;
      changed = true;
    }
    if (p.done === true) {
      this.state.sources = toSources(p.sources);
      this.state.done = true;
      changed = true;
    }
    return changed;
  }

  /** The executeCommand response (authoritative when it carries the answer). */
  onResponse(result: unknown): void {
    if (result !== null && typeof result === 'object') {
      const r = result as Record<string, unknown>;
      if (typeof r.answer === 'string' && r.answer !== '') this.state.text = r.answer;
      if (Array.isArray(r.sources)) this.state.sources = toSources(r.sources);
      this.state.done = true;
    } else if (!this.streamed) {
      this.state.done = true; // nothing came and nothing will
    }
  }

  onError(message: string): void {
    this.state.error = message;
    this.state.done = true;
  }
}

/** Routes notifications to answers by token (the latest answer when the token is unknown). */
export class Answers {
  private byToken = new Map<string, Answer>();
  private latest: Answer | undefined;

  start(token: string, question: string): Answer {
    const a = new Answer(token, question);
    this.byToken.set(token, a);
    this.latest = a;
    return a;
  }

  route(params: unknown): Answer | undefined {
    const token = params !== null && typeof params === 'object' ? (params as { token?: unknown }).token : undefined;
    const a = (token !== undefined && this.byToken.get(String(token))) || this.latest;
    return a && a.onNotification(params) ? a : undefined;
  }
}
