import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../src/image/digest.js';
import { MediaType } from '../../src/image/media.js';
import { RefNameAnnotation, type Descriptor, type Index } from '../../src/image/oci.js';
import { emptyRegistriesConf } from '../../src/image/registries-conf/config.js';
import {
  addNameless,
  emptyIndex,
  matchName,
  matchShortName,
  namesOf,
  normalizeName,
  normalizeTag,
  parseIndex,
  readIndex,
  refNameOf,
  removeName,
  setName,
  updateIndex,
  writeIndex,
} from '../../src/image/store/refs.js';

const manifest = (label: string): Descriptor => ({
  mediaType: MediaType.ociManifest,
  digest: digestOf(`manifest ${label}`),
  size: 100,
});
const A = manifest('a');
const B = manifest('b');

const entries = (index: Index) => index.manifests.map((e) => [e.digest === A.digest ? 'A' : 'B', refNameOf(e) ?? null]);

describe('index edits', () => {
  it('setName adds a named entry and drops the nameless one', () => {
    let index = addNameless(emptyIndex(), A) as Index;
    expect(entries(index)).toEqual([['A', null]]);
    index = setName(index, 'docker.io/library/busybox:latest', A);
    expect(entries(index)).toEqual([['A', 'docker.io/library/busybox:latest']]);
    expect(index.manifests[0]?.annotations).toEqual({ [RefNameAnnotation]: 'docker.io/library/busybox:latest' });
  });

  it('a name that moves leaves its old image nameless; a second name keeps it named', () => {
    let index = setName(emptyIndex(), 'docker.io/library/busybox:latest', A);
    index = setName(index, 'localhost/a:1', A);
    index = setName(index, 'docker.io/library/busybox:latest', B);
    expect(entries(index)).toEqual([
      ['A', 'localhost/a:1'],
      ['B', 'docker.io/library/busybox:latest'],
    ]);
    index = setName(index, 'localhost/a:1', B);
    expect(entries(index)).toEqual([
      ['B', 'docker.io/library/busybox:latest'],
      ['A', null],
      ['B', 'localhost/a:1'],
    ]);
    expect(namesOf(index, B.digest)).toEqual(['docker.io/library/busybox:latest', 'localhost/a:1']);
  });

  it('setting a name to where it already points changes nothing; addNameless of a known manifest neither', () => {
    const index = setName(emptyIndex(), 'x.io/a:1', A);
    expect(setName(index, 'x.io/a:1', A)).toBe(index);
    expect(addNameless(index, A)).toBeUndefined();
  });

  it('removeName untags; the last name leaves a nameless entry or nothing', () => {
    let index = setName(setName(emptyIndex(), 'x.io/a:1', A), 'x.io/a:2', A);
    index = removeName(index, 'x.io/a:1', { keepNameless: true });
    expect(entries(index)).toEqual([['A', 'x.io/a:2']]);
    expect(entries(removeName(index, 'x.io/a:2', { keepNameless: true }))).toEqual([['A', null]]);
    expect(entries(removeName(index, 'x.io/a:2', { keepNameless: false }))).toEqual([]);
  });
});

describe('index.json on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hutch-refs-'));
    mkdirSync(join(dir, 'tmp'));
    writeIndex(join(dir, 'index.json'), emptyIndex(), join(dir, 'tmp'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes atomically, leaving no temp file', () => {
    writeIndex(join(dir, 'index.json'), setName(emptyIndex(), 'x.io/a:1', A), join(dir, 'tmp'));
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(readIndex(join(dir, 'index.json')).manifests).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).mediaType).toBe(MediaType.ociIndex);
  });

  it('serializes concurrent updates: none is lost', async () => {
    const names = Array.from({ length: 25 }, (_, i) => `x.io/app:${i}`);
    await Promise.all(
      names.map((name) =>
        updateIndex(join(dir, 'index.json'), join(dir, 'index.lock'), join(dir, 'tmp'), (index) =>
          setName(index, name, A),
        ),
      ),
    );
    const index = readIndex(join(dir, 'index.json'));
    expect(namesOf(index, A.digest).sort()).toEqual([...names].sort());
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('an edit that throws leaves the file as it was', async () => {
    const before = readFileSync(join(dir, 'index.json'), 'utf8');
    await expect(
      updateIndex(join(dir, 'index.json'), join(dir, 'index.lock'), join(dir, 'tmp'), () => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(before);
  });

  it('refuses a broken index.json with the fix', () => {
    writeFileSync(join(dir, 'index.json'), '{"schemaVersion": 2, "manifests": [{"digest": "sha256:12"}]}');
    expect(() => readIndex(join(dir, 'index.json'))).toThrow(/an entry is not a valid descriptor/);
    expect(() => parseIndex('nope', 'index.json')).toThrow(/^index.json: not valid JSON/);
    expect(() => parseIndex('{"schemaVersion":1}', 'index.json')).toThrow(
      'index.json: not an OCI image index (schemaVersion 2 with a manifests array)',
    );
  });
});

describe('names', () => {
  it('names what it makes as podman does: a short name under localhost/, a full one normalized', () => {
    expect(normalizeName('busybox')).toBe('localhost/busybox:latest');
    expect(normalizeName('busybox:1.36')).toBe('localhost/busybox:1.36');
    expect(normalizeName('team/app')).toBe('localhost/team/app:latest');
    expect(normalizeName('library/app')).toBe('localhost/library/app:latest');
    expect(normalizeName('docker.io/busybox')).toBe('docker.io/library/busybox:latest');
    expect(normalizeName('localhost:5000/app:1')).toBe('localhost:5000/app:1');
    expect(normalizeTag('quay.io/x/y')).toBe('quay.io/x/y:latest');
    expect(() => normalizeTag(`busybox@${A.digest}`)).toThrow(
      `invalid image name "busybox@${A.digest}": tagging with a digest is not supported`,
    );
  });

  const stored = [
    'docker.io/library/busybox:latest',
    'localhost/myimg:latest',
    'localhost:5000/team/app:1',
    'quay.io/x/tool:2',
    'quay.io/y/tool:2',
  ];

  it('matchName: the alias, localhost/, the search registries, docker.io', () => {
    const o = { shortNames: { ...emptyRegistriesConf(), unqualifiedSearchRegistries: ['quay.io'] } };
    expect(matchName('busybox', stored, o)).toBe('docker.io/library/busybox:latest');
    expect(matchName('docker.io/busybox:latest', stored, o)).toBe('docker.io/library/busybox:latest');
    expect(matchName('myimg', stored, o)).toBe('localhost/myimg:latest');
    expect(matchName('localhost:5000/team/app:1', stored, o)).toBe('localhost:5000/team/app:1');
    expect(matchName('busybox:1', stored, o)).toBeUndefined();
    expect(matchName('Not A Name', stored, o)).toBeUndefined();
    expect(matchName('x/tool:2', stored, o)).toBe('quay.io/x/tool:2');
    const aliases = new Map([['tool', { value: 'quay.io/y/tool', origin: 'registries.conf' }]]);
    expect(matchName('tool:2', stored, { shortNames: { ...o.shortNames, aliases } })).toBe('quay.io/y/tool:2');
  });

  it('matchName by digest needs the manifest digest of the name', () => {
    const digestOfName = (name: string): Digest | undefined =>
      name.startsWith('docker.io/library/busybox') ? A.digest : undefined;
    expect(
      matchName(`busybox@${A.digest}`, stored, { shortNames: emptyRegistriesConf(), digestOf: digestOfName }),
    ).toBe('docker.io/library/busybox:latest');
    expect(
      matchName(`busybox@${B.digest}`, stored, { shortNames: emptyRegistriesConf(), digestOf: digestOfName }),
    ).toBeUndefined();
  });

  it('matchShortName: a unique repository suffix with the same tag', () => {
    expect(matchShortName('team/app:1', stored)).toBe('localhost:5000/team/app:1');
    expect(matchShortName('app:1', stored)).toBe('localhost:5000/team/app:1');
    expect(matchShortName('app', stored)).toBeUndefined();
    expect(() => matchShortName('tool:2', stored)).toThrow(
      'tool:2: the short name matches several images: quay.io/x/tool:2, quay.io/y/tool:2',
    );
    expect(matchShortName('example.com/app:1', stored)).toBeUndefined();
  });
});
