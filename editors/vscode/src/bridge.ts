// The protocol side of inline completion, as plain data: what to send for
// textDocument/inlineCompletion and how to turn the server's answer into items for VS Code's
// InlineCompletionItemProvider. Positions are LSP's (line, UTF-16 character), which are VS Code's
// too. No `vscode` import, so Node's test runner can load it.

export interface Pos { line: number; character: number }
export interface Range { start: Pos; end: Pos }
export interface Item { insertText: string; range: Range }

/** hearth/cursor: where the cursor is, so the server prepares the next suggestion's prompt. */
export function cursorParams(uri: string, pos: Pos) {
  return { textDocument: { uri }, position: { line: pos.line, character: pos.character } };
}

export function inlineParams(uri: string, pos: Pos, automatic: boolean) {
  return { textDocument: { uri }, position: pos, context: { triggerKind: automatic ? 2 : 1 } };
}

function isPos(p: unknown): p is Pos {
  const o = p as Pos;
  return typeof o === 'object' && o !== null && Number.isInteger(o.line) && Number.isInteger(o.character) &&
    o.line >= 0 && o.character >= 0;
}

function isRange(r: unknown): r is Range {
  const o = r as Range;
  return typeof o === 'object' && o !== null && isPos(o.start) && isPos(o.end);
}

function before(a: Pos, b: Pos): boolean {
  return a.line < b.line || (a.line === b.line && a.character < b.character);
}

/**
 * Items from an InlineCompletionList or an item array (the two shapes LSP 3.18 allows). Each item
 * keeps its range when valid (it must contain the cursor), else it is placed at the cursor;
 * snippet StringValues give their text; empty or malformed items are dropped.
 */
export function toItems(result: unknown, cursor: Pos): Item[] {
  if (result === null || typeof result !== 'object') return [];
  const list = Array.isArray(result) ? result : (result as { items?: unknown }).items;
  if (!Array.isArray(list)) return [];
  const out: Item[] = [];
  for (const it of list) {
    if (it === null || typeof it !== 'object') continue;
    let text: unknown = (it as { insertText?: unknown }).insertText;
    if (text !== null && typeof text === 'object' && (text as { kind?: unknown }).kind === 'snippet')
      text = snippetText(String((text as { value?: unknown }).value ?? ''));
    if (typeof text !== 'string' || text === '') continue;
    const r = (it as { range?: unknown }).range;
    const range = isRange(r) && !before(cursor, r.start) && !before(r.end, cursor)
      ? r : { start: cursor, end: cursor };
    out.push({ insertText: text, range });
  }
  return out;
}

/** A snippet's plain text: `${1:default}` -> default, `$1`/`$0` dropped, `\$` unescaped. */
export function snippetText(s: string): string {
  return s.replace(/\\([$}\\])|\$\{\d+:([^}]*)\}|\$\{\d+\}|\$\d+/g,
    (_m, escaped?: string, placeholder?: string) => escaped ?? placeholder ?? '');
}

/**
 * One request at a time: starting a new one cancels the previous (the server also cancels an
 * older completion for the same document, this stops us waiting for it).
 */
export class Latest {
  private current: { cancel: () => void } | undefined;
  cancelled = 0;

  begin(cancel: () => void): () => boolean {
    if (this.current) {
      this.current.cancel();
      this.cancelled++;
    }
    const mine = { cancel };
    this.current = mine;
    return () => this.current === mine; // "am I still the latest?"
  }

  end(isLatest: () => boolean): void {
    if (isLatest()) this.current = undefined;
  }
}

/** Waits `ms` unless aborted; resolves true when the wait completed. */
export function debounce(ms: number, onAbort: (abort: () => void) => void): Promise<boolean> {
  return new Promise((resolve) => {
    if (ms <= 0) { resolve(true); return; }
    const t = setTimeout(() => resolve(true), ms);
    onAbort(() => { clearTimeout(t); resolve(false); });
  });
}
