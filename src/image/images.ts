/**
 * Images as podman shows them: the object `image inspect` prints for an
 * image, and the pure formatting podman's listings share (tables as its
 * tabwriter lays them out, sizes and ages as docker/go-units prints them, a
 * subset of Go templates for --format). The verbs are in src/verbs.
 */
import { HutchError } from '../errors.js';
import { hexOf } from './digest.js';
import { MediaType } from './media.js';
import { repoDigests, type ResolvedImage } from './store/store.js';
import { tagOf } from './store/refs.js';

// ---------------------------------------------------------------------------
// inspect

export function inspectJson(image: ResolvedImage): Record<string, unknown> {
  const config = image.config as ResolvedImage['config'] & { comment?: string; docker_version?: string };
  const history = config.history ?? [];
  const tagged = image.names.filter((n) => tagOf(n) !== undefined);
  return {
    Id: hexOf(image.id),
    Digest: image.manifestDescriptor.digest,
    RepoTags: tagged,
    RepoDigests: repoDigests(image),
    Parent: '',
    Comment: config.comment ?? history.at(-1)?.comment ?? '',
    Created: config.created ?? '',
    Config: config.config ?? {},
    Version: config.docker_version ?? '',
    Author: config.author ?? '',
    Architecture: config.architecture,
    Os: config.os,
    ...(config.variant === undefined ? {} : { Variant: config.variant }),
    Size: image.size,
    VirtualSize: image.size,
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Labels: config.config?.Labels ?? null,
    Annotations: image.manifest.annotations ?? {},
    ManifestType: image.manifest.mediaType ?? image.manifestDescriptor.mediaType ?? MediaType.ociManifest,
    User: config.config?.User ?? '',
    History: history,
    NamesHistory: [],
  };
}

/** podman prints inspect output indented by five spaces. */
export function formatInspect(objects: Record<string, unknown>[], format?: string): string {
  if (format === undefined || format === '' || format === 'json') return `${JSON.stringify(objects, null, 5)}\n`;
  return objects.map((o) => renderTemplate(format, o)).join('');
}

// ---------------------------------------------------------------------------
// Formatting, as podman does it

/**
 * Columns as Go's text/tabwriter lays out podman's tables (minwidth 12,
 * padding 2): every cell but the last of a row is padded to its column's width.
 */
export function tabulate(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < row.length - 1) widths[i] = Math.max(widths[i] ?? 12, cell.length + 2);
    });
  }
  return rows
    .map((row) => `${row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i] ?? 12) : cell)).join('')}\n`)
    .join('');
}

/** go-units HumanSizeWithPrecision(size, 3): decimal units, three significant digits ("4.5 MB", "824 kB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${goPrecision3(size)} ${units[i]}`;
}

/** Go's %.3g. */
function goPrecision3(value: number): string {
  const text = value.toPrecision(3);
  const [mantissa, exponent] = text.split('e') as [string, string | undefined];
  const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
  if (exponent === undefined) return trimmed;
  const e = Number(exponent);
  return `${trimmed}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** go-units HumanDuration: "Less than a second", "About a minute", "2 days", "3 weeks"… */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3600000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3600000 / 24 / 365)} years`;
}

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
