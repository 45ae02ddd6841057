// The rootless suite proves nothing when it runs as root: say who runs it, and fail as root.
import { userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';

describe('the integration suite', () => {
  it('runs as an unprivileged user', () => {
    const uid = process.getuid?.();
    console.log(`rootless tests run as uid ${uid} (${userInfo().username})`);
    expect(uid, 'integration tests must run as an unprivileged user (see README)').not.toBe(0);
  });
});
