// Streamed suggestions as plain data. A request carrying `hearth: { stream: token }` makes the
// server send `hearth/inlineCompletionPartial { token, text }` notifications before its reply:
// text is the whole suggestion so far, each one extending the last and a prefix of the reply.
// VS Code's InlineCompletionItemProvider cannot grow an item it was given, so the extension asks
// VS Code to ask again (editor.action.inlineSuggest.trigger) when the text grew, and the provider
// serves the latest text from here while what was typed since the request agrees with it; typing
// something else cancels the request. No `vscode` import, so Node's test runner can load it.
import { Item, Pos } from './bridge';

export interface PartialParams { token: string; text: string }

/** The params of hearth/inlineCompletionPartial, checked (undefined when malformed). */
export function parsePartial(params: unknown): PartialParams | undefined {
  const p = params as { token?: unknown; text?: unknown };
  if (p === null || typeof p !== 'object') return undefined;
  if ((typeof p.token !== 'string' && typeof p.token !== 'number') || typeof p.text !== 'string') return undefined;
  return { token: String(p.token), text: p.text };
}

/** What to offer: an item (the suggestion from where it was asked, over what was typed since),
 * nothing yet but the request goes on (typed past the text known so far), or nothing. */
export type Served = { kind: 'show'; item: Item } | { kind: 'wait' } | { kind: 'none' };

interface Stream {
  token: string;
  uri: string;
  anchor: Pos;
  lineBefore: string; // the anchor line's text before the anchor, when the request was sent
  text: string;
  done: boolean;
  cancel: () => void;
  arrived: () => void; // resolves first()
  first: Promise<void>;
}

/** The one suggestion being streamed (a new request replaces it). */
export class Streams {
  private current: Stream | undefined;
  private seq = 0;
  cancelled = 0;

  /** A new request at anchor of uri, whose line reads `line`; its token goes in
   * params.hearth.stream, cancel stops the request. */
  begin(uri: string, anchor: Pos, line: string, cancel: () => void): string {
    const token = `hearth-inline-${++this.seq}`;
    let arrived = (): void => undefined;
    const first = new Promise<void>((resolve) => { arrived = resolve; });
    this.current = { token, uri, anchor, lineBefore: line.slice(0, anchor.character), text: '', done: false, cancel, arrived, first };
    return token;
  }

  /** Resolves when token's first text (a partial or the reply) is in, or it was replaced. */
  first(token: string): Promise<void> {
    const s = this.current;
    return s && s.token === token ? s.first : Promise.resolve();
  }

  /** A partial; true when it made the current suggestion grow (ask VS Code to ask again). */
  onPartial(params: unknown): boolean {
    const p = parsePartial(params);
    const s = this.current;
    if (!p || !s || s.done || p.token !== s.token) return false;
    if (p.text.length <= s.text.length || !p.text.startsWith(s.text)) return false; // stale
    s.text = p.text;
    s.arrived();
    return true;
  }

  /** The reply's text (undefined: it failed or was cancelled); true when it changed the text. */
  finish(token: string, text: string | undefined): boolean {
    const s = this.current;
    if (!s || s.token !== token) return false;
    s.done = true;
    s.arrived();
    if (text === undefined) {
      this.current = undefined;
      return false;
    }
    const changed = text !== s.text;
    s.text = text;
    return changed;
  }

  /** What to show at pos of uri, whose line now reads `line`. A suggestion that what was typed
   * since contradicts is dropped (and its request cancelled when it still runs). */
  serve(uri: string, pos: Pos, line: string): Served {
    const s = this.current;
    if (!s) return { kind: 'none' };
    const typed = s.uri === uri && pos.line === s.anchor.line && pos.character >= s.anchor.character &&
      line.startsWith(s.lineBefore) ? line.slice(s.anchor.character, pos.character) : undefined;
    if (typed !== undefined && s.text.startsWith(typed) && s.text.length > typed.length)
      return { kind: 'show', item: { insertText: s.text, range: { start: s.anchor, end: pos } } };
    if (typed !== undefined && !s.done && typed.startsWith(s.text)) return { kind: 'wait' };
    if (typed !== undefined && s.done && typed === s.text) return { kind: 'none' }; // all typed
    this.drop();
    return { kind: 'none' };
  }

  private drop(): void {
    const s = this.current;
    this.current = undefined;
    if (s && !s.done) {
      s.cancel();
      this.cancelled++;
    }
  }
}

/** Runs fn at most once per `ms`: the first poke at once, pokes meanwhile once at the end. */
export class Throttle {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private again = false;

  constructor(private ms: number, private fn: () => void) {}

  poke(): void {
    if (this.timer) {
      this.again = true;
      return;
    }
    this.fn();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.again) {
        this.again = false;
        this.poke();
      }
    }, this.ms);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.again = false;
  }
}
