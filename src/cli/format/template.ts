// --format: Go templates run as podman 4.3.1 runs them (containers/common's report package over Go's
// text/template, which lives in ./go-template/), and inspect's JSON.
//
// podman's report package, which this mirrors:
// - `\t` and `\n` typed in the template become a tab and a newline, and a newline ends the template
//   when it has none. If the template then does not parse (a `"\n"` inside a string literal), the
//   text as typed is parsed instead, and that parse's error is the one reported.
// - A listing runs the template once per row: it is wrapped in `{{range .}}…{{end -}}` unless it
//   starts with `{{range .}}` itself.
// - `table ` in front asks for a table: the prefix goes, every space becomes a tab, a header row
//   comes first (the same template run over the column titles), and the text goes through Go's
//   tabwriter.
import { TemplateError } from './go-template/errors.js';
import { execute, FUNC_NAMES } from './go-template/exec.js';
import type { Tree } from './go-template/nodes.js';
import { parseTemplate } from './go-template/parser.js';
import { declareMap, declareStruct } from './go-template/values.js';
import { alignTabs } from './table.js';

/** How podman runs one command's --format template. */
export interface ReportFormat {
  /** The template's name in its errors (`template: ps:1:13: executing "ps" …`): podman's command name. */
  name: string;
  /** The Go type the template runs on, named in `can't evaluate field Nope in type containers.psReporter`. */
  type: string;
  /**
   * The titles of a table's header row by field name, as podman has them for the command. Other
   * fields of the first row are titled from their names; a field of neither prints `<no value>`.
   */
  headers?: Readonly<Record<string, string>>;
  /** Fields that hold a struct (ps's Namespaces): their fields get titles too, for `{{.Namespaces.UTS}}`. */
  structs?: readonly string[];
}

const TABLE = 'table ';

/** podman's report.IsJSON: `json` or `{{json .}}` asks for the command's JSON output, not a template. */
export function isJsonFormat(format: string): boolean {
  return /^\s*(json|\{\{\s*json\s*(\.)?\s*\}\})\s*$/.test(format);
}

const TABLE_REPLACEMENTS: Record<string, string> = { 'table ': '', '\\t': '\t', '\\n': '\n', ' ': '\t' };

/** report.NormalizeFormat. */
function normalizeFormat(format: string): string {
  const text = format.startsWith(TABLE)
    ? format.replace(/table |\\t|\\n| /g, (m) => TABLE_REPLACEMENTS[m] as string)
    : format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** report.EnforceRange. */
function enforceRange(format: string): string {
  return format.startsWith('{{range .}}') || format.startsWith('{{ range . }}')
    ? format
    : `{{range .}}${format}{{end -}}`;
}

/** The template as normalized, or as typed when that does not parse (podman's second try). */
function parseBoth(name: string, normalized: string, typed: string): Map<string, Tree> {
  try {
    return parseTemplate(name, normalized, FUNC_NAMES);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    return parseTemplate(name, typed, FUNC_NAMES);
  }
}

interface Parsed {
  trees: Map<string, Tree>;
  table: boolean;
}

/** report.Formatter.Parse: a listing's template (ranged over the rows) or a single object's. */
function parse(template: string, name: string, listing: boolean): Parsed {
  if (template.startsWith(TABLE)) {
    const ranged = (text: string): string => `{{range .}}${text}{{end -}}`;
    return {
      trees: parseBoth(name, ranged(normalizeFormat(template)), ranged(template.slice(TABLE.length))),
      table: true,
    };
  }
  if (listing)
    return { trees: parseBoth(name, enforceRange(normalizeFormat(template)), enforceRange(template)), table: false };
  return { trees: parseBoth(name, normalizeFormat(template), template), table: false };
}

function asStruct(value: unknown, type: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)
    ? declareStruct(value, type)
    : value;
}

/** fatih/camelcase's Split, which report.Headers titles fields with: `IPv6Enabled` is I Pv 6 Enabled. */
function splitCamelCase(field: string): string[] {
  const classOf = (c: string): number => (/\p{Ll}/u.test(c) ? 1 : /\p{Lu}/u.test(c) ? 2 : /\p{Nd}/u.test(c) ? 3 : 4);
  const runs: string[][] = [];
  let last = 0;
  for (const c of field) {
    const cls = classOf(c);
    if (cls === last) (runs.at(-1) as string[]).push(c);
    else runs.push([c]);
    last = cls;
  }
  for (let i = 0; i < runs.length - 1; i++) {
    const run = runs[i] as string[];
    const next = runs[i + 1] as string[];
    if (classOf(run[0] as string) === 2 && classOf(next[0] as string) === 1) next.unshift(run.pop() as string);
  }
  return runs.filter((r) => r.length > 0).map((r) => r.join(''));
}

/** A field's column title as podman makes one: `CreatedAt` is CREATED AT. */
export function columnTitle(field: string): string {
  return splitCamelCase(field).join(' ').toUpperCase();
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The header row: each field's title, podman's own first. A struct field (report.structs) gets
 * titles for its fields; any other field is its title, so `{{.Labels.x}}` fails as in podman.
 */
function headerRow(report: ReportFormat, rows: readonly unknown[]): Record<string, unknown> {
  const first = rows.find(isRecord) ?? {};
  const titles = (fields: string[]) =>
    Object.fromEntries(fields.map((k) => [k, report.headers?.[k] ?? columnTitle(k)]));
  const nested = Object.fromEntries(
    (report.structs ?? []).map((field) => {
      const value = first[field];
      return [field, declareMap(titles(isRecord(value) ? Object.keys(value) : []))];
    }),
  );
  return declareMap({ ...titles(Object.keys(first)), ...report.headers, ...nested });
}

/**
 * A listing's --format (ps, images, volume ls, …) over its rows, as podman prints it: the template
 * once per row, or a `table` with podman's header row (unless noHeading) aligned by tabwriter.
 */
export function renderList(
  template: string,
  rows: readonly unknown[],
  report: ReportFormat,
  options: { noHeading?: boolean } = {},
): string {
  const { trees, table } = parse(template, report.name, true);
  let out = '';
  if (table && options.noHeading !== true) out += execute(trees, report.name, [headerRow(report, rows)]);
  out += execute(
    trees,
    report.name,
    rows.map((row) => asStruct(row, report.type)),
  );
  return table ? alignTabs(out) : out;
}

/** A single object's --format (info, version): the template once over the value. */
export function renderTemplate(template: string, value: unknown, report: ReportFormat): string {
  const { trees, table } = parse(template, report.name, false);
  const out = execute(trees, report.name, asStruct(value, report.type));
  return table ? alignTabs(out) : out;
}

const INSPECT: ReportFormat = { name: 'inspect', type: 'interface {}' };

/** inspect's --format over the objects found: one template run over the list, errors as podman words them. */
export function renderInspect(template: string, objects: readonly unknown[]): string {
  const { trees, table } = parse(template, INSPECT.name, true);
  let out: string;
  try {
    out = execute(
      trees,
      INSPECT.name,
      objects.map((o) => asStruct(o, INSPECT.type)),
    );
  } catch (error) {
    if (error instanceof TemplateError) {
      throw new TemplateError(`inspecting object: printing inspect output: ${error.message}`);
    }
    throw error;
  }
  return table ? alignTabs(out) : out;
}

/** podman prints inspect output indented by five spaces. */
export function formatInspect(objects: Record<string, unknown>[], format?: string): string {
  if (format === undefined || format === '' || isJsonFormat(format)) return `${JSON.stringify(objects, null, 5)}\n`;
  return renderInspect(format, objects);
}
