import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSecrets } from '../../src/build/secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'hutch-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readSecrets (--secret)', () => {
  it('reads files and variables by id', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'from-file');
    const secrets = readSecrets([`id=a,src=${file}`, 'id=b,env=VALUE', 'id=VALUE,type=env'], { VALUE: 'from-env' });
    expect(secrets.get('a')?.value.toString()).toBe('from-file');
    expect(secrets.get('b')?.value.toString()).toBe('from-env');
    expect(secrets.get('VALUE')?.value.toString()).toBe('from-env');
  });

  it('refuses what cannot be read, naming the spec', () => {
    expect(() => readSecrets(['src=/x'], {})).toThrow(/invalid --secret "src=\/x": id= is required/);
    expect(() => readSecrets(['id=a'], {})).toThrow(/src=FILE is required/);
    expect(() => readSecrets([`id=a,src=${join(dir, 'missing')}`], {})).toThrow(/read .*missing: ENOENT/);
    expect(() => readSecrets(['id=a,env=NOPE'], {})).toThrow(/the environment has no NOPE/);
    expect(() => readSecrets(['id=a,type=ssh'], {})).toThrow(/type=ssh: use file or env/);
    expect(() => readSecrets(['id=a,junk'], {})).toThrow(/"junk" is not KEY=VALUE/);
  });
});
