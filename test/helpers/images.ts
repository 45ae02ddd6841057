/**
 * Image fixtures, built once and cached under ~/.cache/hutch-test/ (outside
 * the checkout): a busybox root file system tar (deterministic, small) and a
 * Debian bookworm minbase one (debootstrap, about 200 MB, many owners, hard
 * links, symlinks). Also the tools to compare an unpacked layer with its tar.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';
import { hutchBin, subidRanges } from './requires.js';

export const fixtureCache = join(process.env.HOME ?? homedir(), '.cache', 'hutch-test');

const BUSYBOX = '/bin/busybox';
const MTIME = new Date(1_700_000_000 * 1000);

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes a file atomically (temp + rename), so concurrent test files never see half a fixture. */
async function atomically(path: string, write: (temp: string) => Promise<void> | void): Promise<string> {
  mkdirSync(fixtureCache, { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await write(temp);
    renameSync(temp, path);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return path;
}

interface FixtureEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link';
  mode: number;
  uid?: number;
  gid?: number;
  body?: Buffer;
  linkname?: string;
}

/**
 * A busybox root file system tar: bin/busybox from Debian's busybox-static,
 * every applet of `busybox --list-full` (a symlink in bin/, a hard link to
 * bin/busybox elsewhere), etc/passwd and etc/group with root and user 1000, a
 * 1777 tmp, a home owned by 1000:1000. Entries sorted, fixed mtimes, owners 0
 * unless said; cached by the busybox binary's hash. Returns the path.
 */
export async function busyboxRootfsTar(): Promise<string> {
  const binary = readFileSync(BUSYBOX);
  // The recipe's version is part of the key: a changed recipe must not reuse an old tar.
  const path = join(fixtureCache, `busybox-rootfs-v1-${sha256(binary).slice(0, 16)}.tar`);
  if (existsSync(path)) return path;
  const list = spawnSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' });
  if (list.status !== 0) throw new Error(`busybox --list-full failed: ${list.stderr}`);
  const entries: FixtureEntry[] = [];
  const dirs = new Set([
    'bin',
    'dev',
    'etc',
    'home',
    'proc',
    'root',
    'sbin',
    'sys',
    'tmp',
    'usr',
    'usr/bin',
    'usr/sbin',
    'var',
  ]);
  for (const dir of dirs) {
    entries.push({ name: dir, type: 'directory', mode: dir === 'tmp' ? 0o1777 : dir === 'root' ? 0o700 : 0o755 });
  }
  entries.push({ name: 'home/user', type: 'directory', mode: 0o755, uid: 1000, gid: 1000 });
  entries.push({
    name: 'home/user/hello.txt',
    type: 'file',
    mode: 0o640,
    uid: 1000,
    gid: 1000,
    body: Buffer.from('hello from user 1000\n'),
  });
  entries.push({ name: 'bin/busybox', type: 'file', mode: 0o755, body: binary });
  entries.push({
    name: 'etc/passwd',
    type: 'file',
    mode: 0o644,
    body: Buffer.from('root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n'),
  });
  entries.push({ name: 'etc/group', type: 'file', mode: 0o644, body: Buffer.from('root:x:0:\nuser:x:1000:\n') });
  entries.push({
    name: 'etc/shadow',
    type: 'file',
    mode: 0o600,
    gid: 42,
    body: Buffer.from('root:*:19000:0:99999:7:::\nuser:*:19000:0:99999:7:::\n'),
  });
  const seen = new Set(entries.map((e) => e.name));
  for (const applet of list.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')) {
    if (seen.has(applet) || !dirs.has(applet.slice(0, applet.lastIndexOf('/')))) continue;
    seen.add(applet);
    entries.push(
      applet.startsWith('bin/')
        ? { name: applet, type: 'symlink', mode: 0o777, linkname: 'busybox' }
        : { name: applet, type: 'link', mode: 0o755, linkname: 'bin/busybox' },
    );
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return atomically(path, async (temp) => {
    const archive = pack();
    const writing = pipeline(archive, createWriteStream(temp));
    for (const e of entries) {
      await new Promise<void>((resolve, reject) => {
        const header = {
          name: e.type === 'directory' ? `${e.name}/` : e.name,
          type: e.type,
          mode: e.mode,
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          uname: '',
          gname: '',
          mtime: MTIME,
          ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
          ...(e.body === undefined ? {} : { size: e.body.length }),
        };
        const done = (error?: Error | null) => (error ? reject(error) : resolve());
        if (e.body === undefined) archive.entry(header, done);
        else archive.entry(header, e.body, done);
      });
    }
    archive.finalize();
    await writing;
  });
}

/** The Debian archive URL of the host's apt sources (deb822 format), for debootstrap. */
export function debianMirror(): string {
  const text = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
  for (const stanza of text.split(/\n\s*\n/)) {
    const uris = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
    const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1] ?? '';
    if (uris !== undefined && suites.split(/\s+/).includes('bookworm')) return uris;
  }
  throw new Error('no bookworm URIs in /etc/apt/sources.list.d/debian.sources');
}

/**
 * `debootstrap --variant=minbase bookworm` run as the test user inside
 * `hutch unshare` (root of the session's user namespace), tarred with numeric
 * owners and cached. debootstrap refuses a target where mknod fails ("mounted
 * with noexec or nodev"), as it does in any user namespace; container=lxc makes
 * it skip that probe and bind-mount /dev entries instead, as in LXC. env must
 * be a sandbox's (its session). About a minute the first time.
 */
export function debianRootfsTar(env: NodeJS.ProcessEnv): string {
  const path = join(fixtureCache, 'debian-bookworm-minbase.tar');
  if (existsSync(path)) return path;
  mkdirSync(fixtureCache, { recursive: true });
  const work = mkdtempSync(join(fixtureCache, 'debootstrap-'));
  const root = join(work, 'root');
  const temp = `${path}.${process.pid}.tmp`;
  const runEnv = { ...env, PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, container: 'lxc' };
  const run = (args: string[]) => {
    const result = spawnSync(hutchBin, ['unshare', ...args], { env: runEnv, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (result.status !== 0) {
      throw new Error(
        `hutch unshare ${args.join(' ')} failed (${result.status}):\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-4000)}`,
      );
    }
  };
  try {
    run(['debootstrap', '--variant=minbase', 'bookworm', root, debianMirror()]);
    run(['tar', '--format=gnu', '--sort=name', '--numeric-owner', '-C', root, '-cf', temp, '.']);
    renameSync(temp, path);
  } finally {
    spawnSync(hutchBin, ['unshare', 'rm', '-rf', work, temp], { env: runEnv });
  }
  return path;
}

/** One entry of a tar or of a directory tree, as compared field by field. */
export interface TreeEntry {
  type: 'f' | 'd' | 'l' | 'c' | 'b' | 'p';
  /** Permission bits with setuid, setgid, sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** sha256 of a file's content. */
  sha256?: string;
  /** A symlink's target. */
  link?: string;
  /** For a hard link of the tar: the entry it links to. */
  hardlinkOf?: string;
}

/** A tar's entries by cleaned name (the root is '.'), hard links resolved to what they link to. */
export async function readTarTree(path: string): Promise<Map<string, TreeEntry>> {
  const entries = new Map<string, TreeEntry>();
  const parser = extract();
  const feeding = pipeline(createReadStream(path), parser);
  const clean = (name: string) => name.replace(/^\.\//, '').replace(/\/+$/, '') || '.';
  for await (const entry of parser) {
    const h = entry.header;
    const name = clean(h.name);
    const base = { mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, size: 0 };
    if (h.type === 'file' || h.type === 'contiguous-file') {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of entry) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      entries.set(name, { ...base, type: 'f', size, sha256: hash.digest('hex') });
      continue;
    }
    entry.resume();
    if (h.type === 'directory') entries.set(name, { ...base, type: 'd' });
    else if (h.type === 'symlink') entries.set(name, { ...base, type: 'l', link: h.linkname });
    else if (h.type === 'link') {
      const target = entries.get(clean(h.linkname));
      if (target === undefined) throw new Error(`${name}: hard link to ${h.linkname}, which comes later or not at all`);
      entries.set(name, { ...target, hardlinkOf: clean(h.linkname) });
    } else if (h.type === 'character-device') entries.set(name, { ...base, type: 'c' });
    else if (h.type === 'block-device') entries.set(name, { ...base, type: 'b' });
    else if (h.type === 'fifo') entries.set(name, { ...base, type: 'p' });
  }
  await feeding;
  return entries;
}

/**
 * A directory tree as root of the session sees it (`hutch unshare`, so ids
 * are the image's own and no mode stops it): type, mode, owner, size, content
 * hash, link target, and inode (to find hard links).
 */
export function readDirTree(dir: string, env: NodeJS.ProcessEnv): Map<string, TreeEntry & { inode: number }> {
  const script = `cd "$1" && find . -printf '%p\\0%y\\0%m\\0%U\\0%G\\0%s\\0%l\\0%i\\0' && printf '\\1' && find . -type f -print0 | xargs -0 -r sha256sum -z`;
  const result = spawnSync(hutchBin, ['unshare', 'sh', '-c', script, 'sh', dir], {
    env,
    encoding: 'latin1',
    maxBuffer: 1 << 30,
  });
  if (result.status !== 0) throw new Error(`listing ${dir} failed: ${result.stderr}`);
  const output = Buffer.from(result.stdout, 'latin1');
  const split = output.indexOf(1);
  const fields = output.subarray(0, split).toString('utf8').split('\0');
  const tree = new Map<string, TreeEntry & { inode: number }>();
  const clean = (name: string) => name.replace(/^\.\//, '') || '.';
  for (let i = 0; i + 8 <= fields.length; i += 8) {
    const [name, type, mode, uid, gid, size, link, inode] = fields.slice(i, i + 8) as string[];
    tree.set(clean(name as string), {
      type: type as TreeEntry['type'],
      mode: parseInt(mode as string, 8),
      uid: Number(uid),
      gid: Number(gid),
      size: type === 'f' ? Number(size) : 0,
      ...(type === 'l' ? { link } : {}),
      inode: Number(inode),
    });
  }
  for (const line of output
    .subarray(split + 1)
    .toString('utf8')
    .split('\0')) {
    const match = /^([a-f0-9]{64}) {2}(.*)$/s.exec(line);
    if (match === null) continue;
    const entry = tree.get(clean(match[2] as string));
    if (entry !== undefined) entry.sha256 = match[1] as string;
  }
  return tree;
}

/**
 * Field-by-field differences between a tar and the tree it was unpacked to
 * (at most `limit`); [] when they agree. Hard links must share the inode of
 * what they link to.
 */
export function diffTrees(
  tar: Map<string, TreeEntry>,
  dir: Map<string, TreeEntry & { inode: number }>,
  limit = 20,
): string[] {
  const problems: string[] = [];
  const say = (p: string) => problems.length < limit && problems.push(p);
  for (const [name, want] of tar) {
    const got = dir.get(name);
    if (got === undefined) {
      say(`${name}: missing`);
      continue;
    }
    for (const field of ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'link'] as const) {
      if (name === '.' && field !== 'type' && field !== 'mode' && field !== 'uid' && field !== 'gid') continue;
      if (want[field] !== got[field])
        say(`${name}: ${field} is ${String(got[field])}, the tar says ${String(want[field])}`);
    }
    if (want.hardlinkOf !== undefined && dir.get(want.hardlinkOf)?.inode !== got.inode) {
      say(`${name}: not a hard link of ${want.hardlinkOf}`);
    }
  }
  for (const name of dir.keys()) if (!tar.has(name) && name !== '.') say(`${name}: not in the tar`);
  return problems;
}

/** The user's first subordinate uid and gid (what id 1 of the session is on disk). */
export function subidStarts(): { uid: number; gid: number } {
  const first = (file: string) => {
    const range = subidRanges(file)[0];
    if (range === undefined) throw new Error(`no range for this user in ${file}`);
    return range.start;
  };
  return { uid: first('/etc/subuid'), gid: first('/etc/subgid') };
}

/** sha256 hex of a file. */
export function fileSha256(path: string): string {
  return sha256(readFileSync(path));
}
