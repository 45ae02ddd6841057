// `hutch history`: podman's table (ID CREATED CREATED BY SIZE COMMENT), its
// --quiet, --format and JSON forms.
import { hexOf, shortId } from '../../image/digest.js';
import type { HistoryEntry } from '../../verbs/history.js';
import { goTimeString } from './images.js';
import { GO_ZERO_TIME, humanDuration, humanSize } from './go-units.js';
import { isJsonFormat, renderList, type ReportFormat } from './template.js';

export interface HistoryOptions {
  /** Ages and sizes for people (podman's -H, on by default); false: RFC 3339 times. */
  human?: boolean;
  noTrunc?: boolean;
  quiet?: boolean;
  format?: string;
  now?: Date;
}

export const HISTORY_REPORT: ReportFormat = {
  name: 'history',
  type: 'images.historyReporter',
  headers: {
    ID: 'ID',
    Created: 'CREATED',
    CreatedBy: 'CREATED BY',
    Size: 'SIZE',
    Comment: 'COMMENT',
    Tags: 'TAGS',
  },
};

const MISSING = '<missing>';

/** Go's time.RFC3339 of a UTC time (whole seconds). */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The object a --format template sees for one entry: podman's field names and values. */
export function historyTemplateRow(entry: HistoryEntry, options: HistoryOptions = {}): object {
  const now = options.now ?? new Date();
  const created = entry.created ?? new Date(GO_ZERO_TIME);
  const since = `${humanDuration(now.getTime() - created.getTime())} ago`;
  const createdBy =
    options.noTrunc !== true && entry.createdBy.length > 45 ? `${entry.createdBy.slice(0, 42)}...` : entry.createdBy;
  return {
    ID: entry.id === undefined ? MISSING : options.noTrunc === true ? hexOf(entry.id) : shortId(entry.id),
    Created: options.human === false ? rfc3339(created) : since,
    CreatedSince: since,
    CreatedAt: goTimeString(created),
    CreatedBy: createdBy,
    Size: humanSize(entry.size),
    Comment: entry.comment,
    Tags: [],
  };
}

/** What `hutch history` prints. */
export function formatHistory(entries: readonly HistoryEntry[], options: HistoryOptions = {}): string {
  if (options.format !== undefined && isJsonFormat(options.format)) return `${goJson(entries.map(historyJson))}\n`;
  const rows = entries.map((e) => historyTemplateRow(e, options));
  if (options.quiet === true) return renderList('{{.ID}}', rows, HISTORY_REPORT);
  const format =
    options.format === undefined || options.format === ''
      ? 'table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}'
      : options.format;
  return renderList(format, rows, HISTORY_REPORT);
}

/** podman's JSON object for one entry (ImageHistoryLayer, plus Created in RFC 3339). */
function historyJson(entry: HistoryEntry): Record<string, unknown> {
  return {
    id: entry.id === undefined ? MISSING : hexOf(entry.id),
    ...(entry.created === undefined ? {} : { created: entry.created.toISOString() }),
    ...(entry.createdBy === '' ? {} : { CreatedBy: entry.createdBy }),
    size: entry.size,
    ...(entry.comment === '' ? {} : { comment: entry.comment }),
    Created: rfc3339(entry.created ?? new Date(GO_ZERO_TIME)),
  };
}

/** Go's json.Marshal: one line, with <, > and & escaped. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
