// The status bar item's text and tooltip from the extension's state, as plain data.
// No `vscode` import, so Node's test runner can load it.
import { modelLabel } from './settings';

export interface StatusState {
  running: boolean;
  enabled: boolean;
  model: string; // path from the settings ('' = the server's own)
  loading: boolean; // the server is loading the completion model (hearth/model)
  loadingModel?: string; // which one
  pending?: boolean; // a suggestion is being computed
  indexing?: { message?: string; percentage?: number };
  lastLatencyMs?: number;
  error?: string;
}

export function statusText(s: StatusState): { text: string; tooltip: string } {
  const parts: string[] = [];
  let icon = s.enabled ? '$(sparkle)' : '$(circle-slash)';
  if (!s.running) icon = '$(debug-disconnect)';
  else if (s.error) icon = '$(warning)';
  else if (s.loading || s.indexing || s.pending) icon = '$(sync~spin)';
  parts.push(`${icon} hearth`);
  if (s.loading && s.running && !s.error) {
    parts.push(`loading ${s.loadingModel ? modelLabel(s.loadingModel) : 'the model'}…`);
  } else if (s.indexing) {
    const pct = typeof s.indexing.percentage === 'number' ? ` ${Math.round(s.indexing.percentage)}%` : '';
    parts.push(`indexing${pct}`);
  } else if (s.lastLatencyMs !== undefined) {
    parts.push(`${Math.round(s.lastLatencyMs)} ms`);
  }
  const tip = [
    `Model: ${s.model ? modelLabel(s.model) : "server's default"}${s.loading ? ' (loading)' : ''}`,
    `Completions: ${s.enabled ? 'on' : 'off'} (Hearth: Toggle Completions)`,
    s.indexing ? `Indexing: ${s.indexing.message ?? ''}${typeof s.indexing.percentage === 'number' ? ` ${Math.round(s.indexing.percentage)}%` : ''}` : 'Index: idle',
    s.lastLatencyMs !== undefined ? `Last suggestion: ${Math.round(s.lastLatencyMs)} ms` : 'Last suggestion: none yet',
    s.running ? 'Server: running' : 'Server: stopped',
  ];
  if (s.error) tip.push(`Error: ${s.error}`);
  return { text: parts.join(' '), tooltip: tip.join('\n') };
}

/**
 * The indexing state from a $/progress value of hearth.index (begin/report carry `message`, and
 * hearth's reports `files`/`filesTotal`; `percentage` when the server gives one); undefined at end.
 */
export function indexProgress(v: unknown, prev?: StatusState['indexing']): StatusState['indexing'] {
  if (v === null || typeof v !== 'object') return prev;
  const o = v as Record<string, unknown>;
  if (o.kind === 'end') return undefined;
  const message = typeof o.message === 'string' ? o.message : prev?.message;
  let percentage = typeof o.percentage === 'number' && o.percentage >= 0 && o.percentage <= 100 ? o.percentage : undefined;
  if (percentage === undefined && typeof o.files === 'number' && typeof o.filesTotal === 'number' && o.filesTotal > 0)
    percentage = Math.min(100, (100 * o.files) / o.filesTotal);
  return { message, percentage: percentage ?? prev?.percentage };
}
