import { PassThrough, type Readable } from 'node:stream';

/**
 * Splits a stream into two that each see every byte, at the pace of the
 * slower one (backpressure), so a blob can be stored and unpacked while it
 * downloads without ever being held in memory. An error on either side
 * destroys the source and the other side. A side that is destroyed without an
 * error (its consumer needs no more) simply stops receiving.
 */
export function tee(source: Readable): [PassThrough, PassThrough] {
  const branches = [new PassThrough(), new PassThrough()] as const;
  const blocked = new Set<PassThrough>();
  const unblock = (branch: PassThrough) => {
    if (blocked.delete(branch) && blocked.size === 0) source.resume();
  };
  source.on('data', (chunk: Buffer) => {
    for (const branch of branches) {
      if (branch.destroyed) continue;
      if (!branch.write(chunk) && !blocked.has(branch)) {
        blocked.add(branch);
        branch.once('drain', () => unblock(branch));
      }
    }
    if (blocked.size > 0) source.pause();
  });
  source.once('end', () => branches.forEach((b) => b.end()));
  source.once('error', (error) => branches.forEach((b) => b.destroy(error)));
  for (const branch of branches) {
    branch.once('error', (error) => {
      source.destroy(error);
      for (const other of branches) if (other !== branch) other.destroy(error);
    });
    branch.once('close', () => unblock(branch));
  }
  return [branches[0], branches[1]];
}
