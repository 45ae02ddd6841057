import { release } from 'node:os';

/** Linux 5.11 allows overlayfs in a user namespace (with userxattr since 5.11 too). */
export function kernelAtLeast(major: number, minor: number, version = release()): boolean {
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (match === null) return false;
  const [have, haveMinor] = [Number(match[1]), Number(match[2])];
  return have > major || (have === major && haveMinor >= minor);
}
