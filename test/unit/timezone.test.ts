/** --tz: the host's zone files, checked at create, copied at start. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localtimeMount, timezoneFile } from '../../src/run/container/timezone.js';

describe('--tz', () => {
  it('names a file of /usr/share/zoneinfo (Debian package tzdata), or local', () => {
    expect(timezoneFile('Europe/Paris')).toBe('/usr/share/zoneinfo/Europe/Paris');
    expect(timezoneFile('local')).toBe('/etc/localtime');
    const userdata = mkdtempSync(join(tmpdir(), 'hutch-tz-'));
    try {
      expect(localtimeMount('Europe/Paris', userdata)).toEqual({
        type: 'bind',
        source: join(userdata, 'localtime'),
        destination: '/etc/localtime',
        readonly: false,
        recursive: false,
        options: [],
      });
      expect(readFileSync(join(userdata, 'localtime'))).toEqual(readFileSync('/usr/share/zoneinfo/Europe/Paris'));
    } finally {
      rmSync(userdata, { recursive: true, force: true });
    }
  });

  it('refuses a zone the host does not have, in podman’s words, and paths out of the zone tree', () => {
    expect(() => timezoneFile('Bogus/Zone')).toThrow(
      'running container create option: stat /usr/share/zoneinfo/Bogus/Zone: no such file or directory',
    );
    expect(() => timezoneFile('../../etc/passwd')).toThrow('not a zone of /usr/share/zoneinfo');
    expect(() => timezoneFile('/etc/passwd')).toThrow('not a zone of /usr/share/zoneinfo');
  });
});
