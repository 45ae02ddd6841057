/**
 * Which of this process's fds from 3 on were handed to it by its caller (a
 * shell's `3<FILE`), for `run --preserve-fds`. Node marks every fd it
 * inherits close-on-exec at start-up, so the flag tells nothing; what tells
 * is what node opens itself, into the lowest free slots, first an epoll fd:
 * anonymous inodes (eventpoll, eventfd, signalfd…) and pipes it holds both
 * ends of. A caller's gap in 3…3+N-1 is filled by the first of those, so it
 * is found.
 */
import { readdirSync, readlinkSync } from 'node:fs';

function target(fd: number | string): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

export function isInheritedFd(fd: number): boolean {
  const link = target(fd);
  if (link === undefined || link.startsWith('anon_inode:')) return false;
  if (!link.startsWith('pipe:')) return true;
  // A pipe of node's own: the other end is open here too.
  let others = 0;
  for (const name of readdirSync('/proc/self/fd')) if (name !== String(fd) && target(name) === link) others++;
  return others === 0;
}
