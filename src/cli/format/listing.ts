// A listing's --format as podman's report package takes it (containers/common
// pkg/report): `json`, a Go template printed once per row, or `table TEMPLATE`:
// a heading row, then the rows, in tabwriter columns. Rows are objects with
// podman's field names; the template engine is renderTemplate's.
import { tabulate } from './table.js';
import { renderTemplate } from './template.js';

export type ListingFormat =
  { kind: 'default' } | { kind: 'json' } | { kind: 'template'; template: string } | { kind: 'table'; template: string };

/** What a --format value asks for: nothing or `table` is the verb's own table. */
export function parseListingFormat(format: string | undefined): ListingFormat {
  const text = format?.trim() ?? '';
  if (text === '' || text === 'table') return { kind: 'default' };
  if (text === 'json') return { kind: 'json' };
  if (text.startsWith('table ')) return { kind: 'table', template: text.slice('table '.length) };
  return { kind: 'template', template: text };
}

/** `ImageID` → `IMAGE ID`, `CreatedAt` → `CREATED AT`: podman's headings from field names (camelcase split). */
export function headingOf(field: string): string {
  return field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toUpperCase();
}

/**
 * The heading of every field of a row, nested objects too (`{{.Namespaces.UTS}}`
 * gets its heading like `{{.UTS}}`), podman's overrides first.
 */
export function headingsFor(row: Record<string, unknown>, overrides: Record<string, string>): Record<string, unknown> {
  const headings: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(row)) {
    headings[field] =
      value !== null && typeof value === 'object' && !Array.isArray(value) && !(field in overrides)
        ? headingsFor(value as Record<string, unknown>, overrides)
        : (overrides[field] ?? headingOf(field));
  }
  return headings;
}

/** The template's spaces outside its actions become tabs in a table, as podman's report does: each is a column. */
function tableTemplate(template: string): string {
  return template
    .split(/(\{\{.*?\}\})/s)
    .map((part) => (part.startsWith('{{') ? part : part.replace(/ /g, '\t').replace(/\\t/g, '\t')))
    .join('');
}

/**
 * The rows through a template: one rendering per row; with `table`, a heading
 * row first (unless noHeading) and the cells (tab-separated) in columns.
 */
export function renderListing(
  format: { kind: 'template' | 'table'; template: string },
  rows: readonly Record<string, unknown>[],
  options: { headings: Record<string, unknown>; noHeading: boolean },
): string {
  if (format.kind === 'template') return rows.map((row) => renderTemplate(format.template, row)).join('');
  const template = tableTemplate(format.template);
  const lines: string[] = [];
  if (!options.noHeading) lines.push(renderTemplate(template, options.headings));
  for (const row of rows) lines.push(renderTemplate(template, row));
  if (lines.length === 0) return '';
  const cells = lines
    .join('')
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => line.split('\t'));
  return tabulate(cells);
}
