// --format: the subset of Go's text/template podman's verbs take, and inspect's JSON.
import { HutchError } from '../../errors.js';

/**
 * A subset of Go's text/template, enough for podman's --format: `{{.Field}}`,
 * `{{.A.B}}`, `{{json .A}}`, `{{.}}`, with `\n` and `\t` escapes in the
 * template. Values print as Go prints them (`[a b]`, `map[k:v]`, `<no value>`).
 * A newline ends the output when the template has none.
 */
export function renderTemplate(template: string, value: unknown): string {
  const text = template.replace(/\\n/g, '\n').replace(/\\t/g, '\t');
  const out = text.replace(
    /\{\{\s*(json\s+)?(\.[A-Za-z0-9_.]*)\s*\}\}/g,
    (_all, json: string | undefined, path: string) => {
      let current: unknown = value;
      for (const key of path.split('.').filter((k) => k !== '')) {
        current =
          current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
      }
      return json !== undefined ? JSON.stringify(current ?? null) : goString(current);
    },
  );
  if (/\{\{/.test(out))
    throw new HutchError(`unsupported --format template ${JSON.stringify(template)}`, {
      hint: 'hutch understands {{.Field}}, {{.Field.Sub}} and {{json .Field}}',
    });
  return out.endsWith('\n') ? out : `${out}\n`;
}

function goString(value: unknown): string {
  if (value === undefined) return '<no value>';
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goString).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, v]) => `${k}:${goString(v)}`).join(' ')}]`;
  }
  return String(value);
}

/** podman prints inspect output indented by five spaces. */
export function formatInspect(objects: Record<string, unknown>[], format?: string): string {
  if (format === undefined || format === '' || format === 'json') return `${JSON.stringify(objects, null, 5)}\n`;
  return objects.map((o) => renderTemplate(format, o)).join('');
}
