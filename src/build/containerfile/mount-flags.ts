/**
 * RUN --mount: the flag's CSV value parsed into a Mount as BuildKit's
 * ParseMount does (keys and types checked, values kept as written), then,
 * when the step runs, its values expanded in the step's scope and the
 * defaults BuildKit fills in (secret target and id, cache id). What a mount
 * does is steps/run-mounts.ts.
 */
import { posix } from 'node:path';
import type { Position } from './ast.js';
import type { Mount, MountType, Text } from './instructions.js';
import { BuildfileError } from './parser.js';

const MOUNT_TYPES = new Set<MountType>(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);

/** Splits a CSV field list as encoding/csv does for one record (quotes, "" inside quotes). */
function csvFields(text: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return undefined;
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') return undefined;
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? text.length : comma;
      field = text.slice(i, end);
      if (field.includes('"')) return undefined;
      i = end;
    }
    out.push(field);
    if (i >= text.length) return out;
    i++;
  }
}

function parseBool(value: string): boolean | undefined {
  if (/^(1|t|T|TRUE|true|True)$/.test(value)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(value)) return false;
  return undefined;
}

/** BuildKit's ParseMount, keys and types only; values stay as written for expansion. */
export function parseMount(spec: Text, fail: (position: Position, reason: string) => never): Mount {
  const fields = csvFields(spec.text);
  if (fields === undefined) fail(spec.position, `failed to parse csv mounts: ${JSON.stringify(spec.text)}`);
  const mount: Mount = { type: 'bind', spec };
  const at = spec.position;
  let roAuto = true;
  const values: [string, string][] = [];
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    if (value === undefined) {
      if (key === 'readonly' || key === 'ro') {
        mount.readonly = true;
        roAuto = false;
      } else if (key === 'readwrite' || key === 'rw') {
        mount.readonly = false;
        roAuto = false;
      } else if (key === 'required') mount.required = true;
      else fail(at, `invalid field '${field}' must be a key=value pair`);
      continue;
    }
    if (key === 'type') {
      const type = value.toLowerCase() as MountType;
      if (!MOUNT_TYPES.has(type)) fail(at, `unsupported mount type ${JSON.stringify(value)}`);
      mount.type = type;
      continue;
    }
    values.push([key, value]);
  }
  const text = (value: string): Text => ({ text: value, position: at });
  for (const [key, value] of values) {
    switch (key) {
      case 'source':
      case 'src':
        mount.source = text(value);
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.target = text(value);
        break;
      case 'from':
        mount.from = text(value);
        break;
      case 'id':
        mount.id = text(value);
        break;
      case 'readonly':
      case 'ro':
      case 'readwrite':
      case 'rw': {
        const b = parseBool(value);
        if (b === undefined) fail(at, `invalid value for ${key}: ${value}`);
        const writable = key === 'readwrite' || key === 'rw';
        mount.readonly = writable ? !b : b;
        roAuto = false;
        break;
      }
      case 'required': {
        if (mount.type !== 'secret' && mount.type !== 'ssh') {
          fail(at, `unexpected key '${key}' for mount type '${mount.type}'`);
        }
        const b = parseBool(value);
        if (b === undefined) fail(at, `invalid value for required: ${value}`);
        mount.required = b;
        break;
      }
      case 'size':
        if (mount.type !== 'tmpfs') fail(at, `unexpected key '${key}' for mount type '${mount.type}'`);
        mount.size = text(value);
        break;
      case 'sharing':
        if (mount.type !== 'cache') fail(at, `invalid cache sharing set for ${mount.type} mount`);
        if (!['shared', 'private', 'locked'].includes(value.toLowerCase())) {
          fail(at, `unrecognized cache sharing mode ${JSON.stringify(value)}: shared, private or locked`);
        }
        mount.sharing = value.toLowerCase() as Mount['sharing'];
        break;
      case 'mode':
      case 'uid':
      case 'gid': {
        if (mount.type !== 'secret' && mount.type !== 'ssh' && mount.type !== 'cache') {
          fail(at, `${key} not allowed for ${JSON.stringify(mount.type)} type mounts`);
        }
        const ok = value.includes('$') || (key === 'mode' ? /^[0-7]+$/.test(value) : /^\d+$/.test(value));
        if (!ok) fail(at, `invalid ${key} ${JSON.stringify(value)}`);
        mount[key] = text(value);
        break;
      }
      case 'env':
        if (mount.type !== 'secret') fail(at, `unexpected key '${key}' for mount type '${mount.type}'`);
        mount.env = text(value);
        break;
      default:
        fail(at, `unexpected key '${key}' in '${key}=${value}'`);
    }
  }
  if (roAuto) mount.readonly = !(mount.type === 'cache' || mount.type === 'tmpfs');
  if (mount.type === 'secret') {
    if (mount.from !== undefined) fail(at, 'secret mount should not have a from');
    if (mount.source === undefined && mount.target === undefined && mount.id === undefined && mount.env === undefined) {
      fail(at, 'invalid secret mount. one of source, target required');
    }
    if (mount.source !== undefined && mount.id !== undefined) fail(at, "both source and id can't be set");
  }
  if ((mount.type === 'bind' || mount.type === 'cache' || mount.type === 'tmpfs') && mount.target === undefined) {
    fail(at, `${mount.type} mount requires a target`);
  }
  return mount;
}

/** A mount with its values expanded by `x`, checked again, and BuildKit's defaults filled in. */
export function resolveMount(file: string, m: Mount, x: (t: Text) => string): Mount<string> {
  const o = (t: Text | undefined) => (t === undefined ? undefined : x(t));
  const out: Mount<string> = {
    type: m.type,
    spec: m.spec,
    target: o(m.target),
    source: o(m.source),
    from: o(m.from),
    id: o(m.id),
    sharing: m.sharing,
    readonly: m.readonly,
    required: m.required,
    mode: o(m.mode),
    uid: o(m.uid),
    gid: o(m.gid),
    size: o(m.size),
    env: o(m.env),
  };
  for (const key of ['mode', 'uid', 'gid'] as const) {
    const value = out[key];
    if (value === undefined) continue;
    const ok = key === 'mode' ? /^[0-7]+$/.test(value) : /^\d+$/.test(value);
    if (!ok) throw new BuildfileError(file, m.spec.position, `invalid ${key} ${JSON.stringify(value)}`);
  }
  if (m.type === 'secret' && out.target === undefined && out.env === undefined) {
    out.target = `/run/secrets/${out.id ?? posix.basename(out.source ?? '')}`;
  }
  if (m.type === 'secret' && out.id === undefined) out.id = out.source ?? posix.basename(out.target ?? '');
  if (m.type === 'cache' && out.id === undefined) out.id = out.target;
  for (const key of Object.keys(out) as (keyof Mount<string>)[]) if (out[key] === undefined) delete out[key];
  return out;
}
