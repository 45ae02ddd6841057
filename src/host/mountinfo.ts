/** The mount table of a process, as proc(5) describes /proc/PID/mountinfo. */

/** One mount of /proc/self/mountinfo (proc(5)). */
export interface MountInfo {
  mountPoint: string;
  options: string[];
  optional: string[];
  fsType: string;
}

/** proc(5)'s mountinfo lines; octal escapes (\040 for a space) decoded. */
export function parseMountinfo(text: string): MountInfo[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (fields.length < 10 || dash < 6) continue;
    mounts.push({
      mountPoint: unescape(fields[4] as string),
      options: (fields[5] as string).split(','),
      optional: fields.slice(6, dash),
      fsType: fields[dash + 1] as string,
    });
  }
  return mounts;
}
