/**
 * The user a container process runs as: `--user` and `--group-add` resolved
 * against the image's /etc/passwd and /etc/group, with docker's and podman's
 * rules (runc's libcontainer/user GetExecUser). Pure: the caller reads the
 * files from the container's root file system and passes their text.
 */
import { ExitCode, HutchError } from '../../errors.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups, without the primary gid, each once. */
  additionalGids: number[];
  /** HOME: the passwd entry's home directory, else `/`. */
  home: string;
  /** The passwd name, when the uid has an entry. */
  name: string | undefined;
}

export interface AccountFiles {
  /** The text of the container's /etc/passwd, or null when there is none. */
  passwd: string | null;
  group: string | null;
}

/** 2^32 - 1 is (uid_t)-1, "no change" to setresuid(2): not a valid id. */
const MAX_ID = 0xfffffffe;

function parseId(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const id = Number(text);
  return id <= MAX_ID ? id : undefined;
}

/** The colon-separated records of an account file: no comments, blank lines, or NIS `+`/`-` lines. */
function records(text: string): string[][] {
  return text
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.trim() !== '' && !line.startsWith('#') && !/^[+-]/.test(line))
    .map((line) => line.split(':'));
}

/** /etc/passwd (passwd(5)); lines too short or with a non-numeric id are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const [name, , uidText, gidText, , home, shell] of records(text)) {
    const uid = parseId(uidText ?? '');
    const gid = parseId(gidText ?? '');
    if (name === undefined || name === '' || uid === undefined || gid === undefined) continue;
    entries.push({ name, uid, gid, home: home ?? '', shell: shell ?? '' });
  }
  return entries;
}

/** /etc/group (group(5)); lines too short or with a non-numeric gid are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const [name, , gidText, memberText] of records(text)) {
    const gid = parseId(gidText ?? '');
    if (name === undefined || name === '' || gid === undefined) continue;
    const members = (memberText ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    entries.push({ name, gid, members });
  }
  return entries;
}

// docker's and podman's words; podman exits 126 for these (checked with
// podman 4.3: `podman run --user nosuch`, `--user 0:nosuch` and
// `--group-add nosuch` all exit 126): the container exists but its command
// cannot be started.
function noUser(name: string): HutchError {
  return new HutchError(`unable to find user ${name}: no matching entries in passwd file`, {
    hint: 'name a user of the image’s /etc/passwd, or give a numeric uid (--user 1000 or --user 1000:1000)',
    exitCode: ExitCode.CannotExecute,
  });
}

function noGroup(name: string): HutchError {
  return new HutchError(`unable to find group ${name}: no matching entries in group file`, {
    hint: 'name a group of the image’s /etc/group, or give a numeric gid',
    exitCode: ExitCode.CannotExecute,
  });
}

function badId(text: string): HutchError {
  return new HutchError(`invalid user or group id ${JSON.stringify(text)}: ids range from 0 to ${MAX_ID}`);
}

/**
 * Resolves `--user` (spec) and `--group-add`:
 *
 * - `''` (undefined too): the image's default, root;
 * - `name` / `uid`: the passwd entry gives uid, gid and home; a name that is
 *   not there is an error, a uid that is not there runs with gid 0 and
 *   HOME=/;
 * - `user:group` with a name or number on either side; an empty user is
 *   root, an empty group the user's primary group.
 *
 * Supplementary groups: the groups of /etc/group that list the user's name,
 * only when no group was given (with `user:group` the process gets exactly
 * that group, as in runc, docker and podman), plus every --group-add (name or
 * number), each once and without the primary gid.
 */
export function resolveUser(spec: string | undefined, files: AccountFiles, groupAdd: readonly string[]): ResolvedUser {
  const text = spec ?? '';
  const colon = text.indexOf(':');
  const userPart = colon < 0 ? text : text.slice(0, colon);
  const groupPart = colon < 0 ? undefined : text.slice(colon + 1);
  const passwd = files.passwd === null ? [] : parsePasswd(files.passwd);
  const groups = files.group === null ? [] : parseGroup(files.group);

  let uid: number;
  let entry: PasswdEntry | undefined;
  if (userPart === '') {
    uid = 0;
    entry = passwd.find((e) => e.uid === 0);
  } else if (/^\d+$/.test(userPart)) {
    const id = parseId(userPart);
    if (id === undefined) throw badId(userPart);
    uid = id;
    entry = passwd.find((e) => e.uid === uid);
  } else {
    entry = passwd.find((e) => e.name === userPart);
    if (entry === undefined) throw noUser(userPart);
    uid = entry.uid;
  }

  const findGroup = (name: string): number => {
    if (/^\d+$/.test(name)) {
      const id = parseId(name);
      if (id === undefined) throw badId(name);
      return id;
    }
    const group = groups.find((g) => g.name === name);
    if (group === undefined) throw noGroup(name);
    return group.gid;
  };

  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== '') gid = findGroup(groupPart);

  const supplementary: number[] = [];
  if (groupPart === undefined && entry !== undefined) {
    const name = entry.name;
    for (const group of groups) if (group.members.includes(name)) supplementary.push(group.gid);
  }
  for (const added of groupAdd) supplementary.push(findGroup(added.trim()));

  const additionalGids = [...new Set(supplementary)].filter((g) => g !== gid);
  const home = entry !== undefined && entry.home !== '' ? entry.home : '/';
  return { uid, gid, additionalGids, home, name: entry?.name };
}
