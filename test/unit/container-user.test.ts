import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import { parseGroup, parsePasswd, resolveUser } from '../../src/run/container/user.js';

const passwd = [
  '# comment',
  'root:x:0:0:root:/root:/bin/sh',
  '',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'alice:x:1000:1000:Alice:/home/alice:/bin/bash',
  'nohome:x:1001:1001::',
  'short:x:1002',
  'bad:x:abc:1:::',
  '+nisuser::::::',
  'dup:x:1000:5::/dup:/bin/sh',
].join('\n');

const group = [
  'root:x:0:',
  'wheel:x:10:alice,root',
  'staff:x:50: bob , alice',
  'alice:x:1000:alice',
  'broken:x',
  '# users:x:100:alice',
  'audio:x:29:',
].join('\r\n');

const files = { passwd, group };

function thrown(fn: () => unknown): HutchError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HutchError);
    return error as HutchError;
  }
  throw new Error('expected a HutchError');
}

describe('account files', () => {
  it('parse passwd tolerating comments, blank, short and NIS lines', () => {
    const entries = parsePasswd(passwd);
    expect(entries.map((e) => e.name)).toEqual(['root', 'daemon', 'alice', 'nohome', 'dup']);
    expect(entries[2]).toEqual({ name: 'alice', uid: 1000, gid: 1000, home: '/home/alice', shell: '/bin/bash' });
    expect(entries[3]).toMatchObject({ home: '', shell: '' });
  });

  it('parse group members, trimming spaces and CRLF', () => {
    const entries = parseGroup(group);
    expect(entries.map((e) => e.name)).toEqual(['root', 'wheel', 'staff', 'alice', 'audio']);
    expect(entries[2]).toEqual({ name: 'staff', gid: 50, members: ['bob', 'alice'] });
    expect(entries[0]?.members).toEqual([]);
  });
});

describe('resolveUser', () => {
  it('defaults to root with root’s groups and home', () => {
    expect(resolveUser('', files, [])).toEqual({
      uid: 0,
      gid: 0,
      additionalGids: [10],
      home: '/root',
      name: 'root',
    });
    expect(resolveUser(undefined, files, [])).toEqual(resolveUser('', files, []));
  });

  it('runs as root without any account file', () => {
    expect(resolveUser('', { passwd: null, group: null }, [])).toEqual({
      uid: 0,
      gid: 0,
      additionalGids: [],
      home: '/',
      name: undefined,
    });
  });

  it('takes uid, gid, home and member groups from a name', () => {
    expect(resolveUser('alice', files, [])).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [10, 50],
      home: '/home/alice',
      name: 'alice',
    });
  });

  it('looks a number up by uid, first entry first', () => {
    expect(resolveUser('1000', files, [])).toMatchObject({ uid: 1000, gid: 1000, name: 'alice', home: '/home/alice' });
    expect(resolveUser('1000', files, []).additionalGids).toEqual([10, 50]);
  });

  it('accepts a uid without an entry: gid 0, HOME=/', () => {
    expect(resolveUser('1234', files, [])).toEqual({
      uid: 1234,
      gid: 0,
      additionalGids: [],
      home: '/',
      name: undefined,
    });
  });

  it('uses / for an empty home', () => {
    expect(resolveUser('nohome', files, []).home).toBe('/');
  });

  it('refuses a name that is not in passwd, with docker’s words and podman’s 126', () => {
    const error = thrown(() => resolveUser('nosuch', files, []));
    expect(error.message).toBe('unable to find user nosuch: no matching entries in passwd file');
    expect(error.exitCode).toBe(126);
    expect(thrown(() => resolveUser('root', { passwd: null, group: null }, [])).message).toMatch(
      /unable to find user root/,
    );
  });

  it('gives exactly the named group with user:group, without member groups', () => {
    expect(resolveUser('alice:staff', files, [])).toMatchObject({ uid: 1000, gid: 50, additionalGids: [] });
    expect(resolveUser('1000:50', files, [])).toMatchObject({ uid: 1000, gid: 50, additionalGids: [] });
    expect(resolveUser('1234:wheel', files, [])).toMatchObject({ uid: 1234, gid: 10, additionalGids: [], home: '/' });
    expect(resolveUser('5:7', { passwd: null, group: null }, [])).toMatchObject({ uid: 5, gid: 7 });
  });

  it('reads an empty side as root or the primary group', () => {
    expect(resolveUser(':50', files, [])).toMatchObject({ uid: 0, gid: 50, additionalGids: [] });
    expect(resolveUser('alice:', files, [])).toMatchObject({ uid: 1000, gid: 1000, additionalGids: [] });
  });

  it('refuses a group name that is not in the group file', () => {
    const error = thrown(() => resolveUser('alice:nosuch', files, []));
    expect(error.message).toBe('unable to find group nosuch: no matching entries in group file');
    expect(error.exitCode).toBe(126);
    expect(() => resolveUser('alice:wheel', { passwd, group: null }, [])).toThrow(/unable to find group wheel/);
  });

  it('adds --group-add names and numbers, once each, without the primary gid', () => {
    expect(resolveUser('alice', files, ['audio', '77', 'wheel', '1000', '77']).additionalGids).toEqual([
      10, 50, 29, 77,
    ]);
    expect(resolveUser('1234:wheel', files, ['staff']).additionalGids).toEqual([50]);
    expect(() => resolveUser('alice', files, ['nosuch'])).toThrow(/unable to find group nosuch/);
  });

  it('refuses ids out of range', () => {
    expect(() => resolveUser('4294967295', files, [])).toThrow(HutchError);
    expect(() => resolveUser('0:99999999999', files, [])).toThrow(/invalid user or group id/);
  });
});
