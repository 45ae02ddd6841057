/**
 * The syntax of instruction values, shared by parse (literal values) and
 * resolve (values known only after expansion): signals, EXPOSE ports, --chmod
 * modes, Go durations (HEALTHCHECK), and the URL and Git sources of ADD.
 */

const SIGNALS = [
  'HUP',
  'INT',
  'QUIT',
  'ILL',
  'TRAP',
  'ABRT',
  'IOT',
  'BUS',
  'FPE',
  'KILL',
  'USR1',
  'SEGV',
  'USR2',
  'PIPE',
  'ALRM',
  'TERM',
  'STKFLT',
  'CHLD',
  'CLD',
  'CONT',
  'STOP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'XCPU',
  'XFSZ',
  'VTALRM',
  'PROF',
  'WINCH',
  'IO',
  'POLL',
  'PWR',
  'SYS',
  'UNUSED',
];

/** moby/sys/signal.ParseSignal's accepted forms: a number 1–64, a name with or without SIG, RTMIN+n, RTMAX-n. */
export function checkSignal(value: string, fail: (reason: string) => never): void {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n < 1 || n > 64) fail(`Invalid signal: ${value}`);
    return;
  }
  const name = value.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS.includes(name)) return;
  const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt !== null) {
    const n = Number(rt[3] ?? 0);
    if ((rt[1] === 'MIN' && rt[2] !== '-' && n <= 30) || (rt[1] === 'MAX' && rt[2] !== '+' && n <= 30)) return;
  }
  fail(`Invalid signal: ${value}`);
}

/** EXPOSE `port[-port][/proto]` → `port/proto` keys, one per port (docker/go-connections/nat). */
export function parsePorts(spec: string, fail: (reason: string) => never): string[] {
  const slash = spec.lastIndexOf('/');
  const range = slash < 0 ? spec : spec.slice(0, slash);
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1).toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) fail(`invalid proto: ${spec.slice(slash + 1)}`);
  if (range.includes(':')) fail(`invalid port ${JSON.stringify(spec)}: EXPOSE takes a container port, not a mapping`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(range);
  if (m === null) fail(`invalid containerPort: ${range}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535) fail(`invalid containerPort: ${range}`);
  if (end < start) fail(`invalid range specified for the Port: ${range}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** A --chmod value: octal up to 07777, or chmod(1) symbolic clauses. */
export function validChmod(value: string): boolean {
  if (/^[0-7]+$/.test(value)) return parseInt(value, 8) <= 0o7777;
  return /^([ugoa]*[-+=]([rwxXst]*|[ugo]))(,[ugoa]*[-+=]([rwxXst]*|[ugo]))*$/.test(value);
}

// Shared with run's --health-* flags: Go's time.ParseDuration, in one place.
export { parseGoDuration } from '../../units.js';

export function isHttpUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Git sources ADD accepts: git@host:path, git://, ssh://, and http(s) URLs of a .git repository. */
export function isGitUrl(source: string): boolean {
  if (/^(git@[^:]+:|git:\/\/|ssh:\/\/)/.test(source)) return true;
  if (!isHttpUrl(source)) return false;
  const path = source.replace(/#.*$/, '').replace(/^https?:\/\/[^/]+/i, '');
  return /\.git\/?$/.test(path);
}
