// podman's report layer (containers/common report) over the Go template
// engine: --format json, `table …` templates with headers aligned as Go's
// tabwriter does, plain templates one per row.
import { tabulate } from './table.js';
import { renderTemplate } from './template.js';

/** `json` or `{{json .}}`: podman prints the whole list as JSON instead of rows. */
export function isJsonFormat(format: string | undefined): boolean {
  return format !== undefined && /^(json|\{\{\s*json\s*\.\s*\}\})$/i.test(format.trim());
}

/** A format that asks for podman's table: `table` and a template. */
export function isTableFormat(format: string): boolean {
  return format.startsWith('table ');
}

/** Spaces between actions become tabs (column breaks), as podman does for `table` formats. */
function tableTemplate(template: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < template.length; i++) {
    if (template.startsWith('{{', i)) depth++;
    if (template.startsWith('}}', i) && depth > 0) depth--;
    const c = template[i] as string;
    out += c === ' ' && depth === 0 ? '\t' : c;
  }
  return out;
}

/** podman's escapes in --format: a written `\t` or `\n` is a tab or a newline. */
function unescape(template: string): string {
  return template.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/** Lines of tab-separated cells laid out as Go's text/tabwriter (minwidth 12, padding 2). */
export function alignTabs(text: string): string {
  if (text === '') return '';
  const lines = text.replace(/\n$/, '').split('\n');
  return tabulate(lines.map((line) => line.split('\t')));
}

export interface ReportOptions {
  /** Header text per field (podman's: the field name, upper case, words apart); fields without one print `<no value>`. */
  headers: Record<string, string>;
  noHeading?: boolean;
}

/**
 * Renders rows with a user's --format: `table TEMPLATE` prints a header line
 * (unless noHeading) and aligns the columns; any other template prints each
 * row as it renders, without a header. JSON is the caller's (isJsonFormat).
 */
export function renderRows(format: string, rows: readonly object[], options: ReportOptions): string {
  if (!isTableFormat(format)) {
    const template = unescape(format);
    return rows.map((row) => renderTemplate(template, row)).join('');
  }
  const template = tableTemplate(unescape(format.slice('table '.length)));
  const header = options.noHeading === true ? '' : renderTemplate(template, options.headers);
  return alignTabs(header + rows.map((row) => renderTemplate(template, row)).join(''));
}
