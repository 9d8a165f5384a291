// What `proa check` found, and how it is shown: one finding per line, by section,
// the first blocking problem last (or as JSON with --json).
import { escapeControls } from '../shared/log.ts';

export type Status = 'ok' | 'info' | 'warn' | 'fail';
export interface Finding { section: string; status: Status; text: string }

export class Report {
  readonly findings: Finding[] = [];
  /**
   * A finding: `text` is one line whatever it quotes (the API's strings may hold a newline
   * or an escape sequence that would forge a line or hide the rest of the terminal), so
   * control characters are escaped as in the logs; `block`, proa's own multi-line text
   * (a Role to apply), follows it line by line.
   */
  add(section: string, status: Status, text: string, block?: string): void {
    const lines = [escapeControls(text), ...(block?.split('\n').map(escapeControls) ?? [])];
    this.findings.push({ section, status, text: lines.join('\n') });
  }
  get blocking(): Finding | undefined {
    return this.findings.find((f) => f.status === 'fail');
  }
}

/** A body as JSON, or undefined when it is not JSON. */
export function json(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

export const field = (v: unknown, key: string): unknown => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined);

export function render(report: Report, source: string, asJson: boolean): string {
  const blocking = report.blocking;
  const problems = report.findings.filter((f) => f.status === 'fail').map((f) => f.text);
  if (asJson) return JSON.stringify({ ok: !blocking, source, findings: report.findings, ...(blocking ? { blocking: blocking.text, problems } : {}) }, null, 2) + '\n';
  const lines = [`proa check, with ${escapeControls(source)}`];
  let section = '';
  for (const f of report.findings) {
    if (f.section !== section) lines.push((section = f.section));
    const [first, ...rest] = f.text.split('\n');
    lines.push(`  ${f.status.padEnd(5)} ${first}`, ...rest.map((l) => `        ${l}`));
  }
  const warnings = report.findings.filter((f) => f.status === 'warn').length;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''} above: ${problems.length} in all)` : '';
  lines.push(blocking ? `blocking: ${blocking.text.split('\n')[0]}${more}` : `proa would work here${warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''} above)` : ''}`);
  return lines.join('\n') + '\n';
}
