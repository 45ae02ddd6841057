import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { passwdName } from './accounts.js';

/** Who runs hutch, as the host sees them (inside the session node is uid 0). */
export interface Identity {
  uid: number;
  gid: number;
  name: string | undefined;
  /** Real root needs no user namespace of its own. */
  root: boolean;
  /** The session holder's pid when this process runs inside the session. */
  session: number | undefined;
}

interface MapLine {
  inside: number;
  outside: number;
  count: number;
}

export function parseIdMap(text: string): MapLine[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isInteger))
    .map(([inside, outside, count]) => ({
      inside: inside as number,
      outside: outside as number,
      count: count as number,
    }));
}

/** The host id that id 0 of this process's user namespace stands for. */
function outsideIdOfRoot(file: string): number | undefined {
  const lines = parseIdMap(readFileSync(file, 'utf8'));
  const root = lines.find((l) => l.inside === 0);
  // The initial namespace maps 0 to 0 over the whole range.
  if (root === undefined || (root.outside === 0 && root.count === 4294967295)) return undefined;
  return root.outside;
}

export function currentIdentity(env: NodeJS.ProcessEnv = process.env): Identity {
  const session = Number(env.HUTCH_SESSION);
  if (Number.isInteger(session) && session > 1 && process.getuid?.() === 0) {
    const uid = outsideIdOfRoot('/proc/self/uid_map');
    const gid = outsideIdOfRoot('/proc/self/gid_map');
    if (uid !== undefined && gid !== undefined) {
      return { uid, gid, name: passwdName(uid) ?? env.USER ?? env.LOGNAME, root: false, session };
    }
  }
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = passwdName(uid) ?? env.USER;
  }
  return { uid, gid, name, root: uid === 0, session: undefined };
}
