import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/image/digest.js';
import { MediaType } from '../../src/image/media.js';
import type { Descriptor } from '../../src/image/oci.js';
import { emptyRegistriesConf } from '../../src/image/registries-conf/config.js';
import { findImage, type ResolvedImage } from '../../src/image/store/resolve.js';

const manifest = (label: string): Descriptor => ({
  mediaType: MediaType.ociManifest,
  digest: digestOf(`manifest ${label}`),
  size: 100,
});
const A = manifest('a');
const B = manifest('b');

describe('findImage (resolveImage)', () => {
  const image = (id: string, names: string[], manifest: Descriptor): ResolvedImage =>
    ({
      id: `sha256:${id.padEnd(64, '0')}`,
      names,
      manifestDescriptor: manifest,
    }) as unknown as ResolvedImage;
  const one = image('abc1', ['docker.io/library/busybox:latest', 'localhost/bb:1'], A);
  const two = image('abc2', [], B);
  const three = image('fedcba', ['localhost:5000/team/app:1'], manifest('c'));
  const images = [one, two, three];
  const conf = emptyRegistriesConf();
  const find = (input: string) => findImage(input, images, [], conf);

  it('finds by full id, sha256: id, manifest digest', () => {
    expect(find(one.id)?.image).toBe(one);
    expect(find(one.id.slice(7))?.image).toBe(one);
    expect(find(B.digest)?.image).toBe(two);
    expect(find(B.digest)?.name).toBeUndefined();
  });

  it('finds by name and reports which name matched', () => {
    expect(find('busybox')).toEqual({ image: one, name: 'docker.io/library/busybox:latest' });
    expect(find('bb:1')).toEqual({ image: one, name: 'localhost/bb:1' });
    expect(find('app:1')).toEqual({ image: three, name: 'localhost:5000/team/app:1' });
  });

  it('finds by a unique short id of 3 hex digits or more; an ambiguous one is an error', () => {
    expect(find('fedc')?.image).toBe(three);
    expect(find('abc2')?.image).toBe(two);
    expect(() => find('abc')).toThrow(/^abc: the short id matches 2 images: abc100000000, abc200000000$/);
    expect(find('fe')).toBeUndefined();
  });

  it('a name beats a short id that looks the same', () => {
    const named = image('dead', ['docker.io/library/fedc:latest'], manifest('d'));
    expect(findImage('fedc', [...images, named], [], conf)?.image).toBe(named);
  });

  it('a short name tries its alias, localhost/, the search registries, then docker.io', () => {
    const four = image(
      'f4',
      ['quay.io/x/app:latest', 'localhost/app:latest', 'docker.io/library/app:latest'],
      manifest('e'),
    );
    const five = image('f5', ['example.com/tools/app:latest'], manifest('f'));
    const search = { ...conf, unqualifiedSearchRegistries: ['quay.io'] };
    expect(findImage('app', [four, five], [], conf)?.name).toBe('localhost/app:latest');
    expect(findImage('x/app', [four, five], [], search)?.name).toBe('quay.io/x/app:latest');
    const aliased = { ...search, aliases: new Map([['app', { value: 'example.com/tools/app', origin: 'f' }]]) };
    expect(findImage('app', [four, five], [], aliased)).toEqual({ image: five, name: 'example.com/tools/app:latest' });
    const docker = image('f6', ['docker.io/library/app:latest'], manifest('g'));
    expect(findImage('app', [docker], [], search)?.name).toBe('docker.io/library/app:latest');
  });

  it('undefined for what is not there', () => {
    expect(find('nosuch')).toBeUndefined();
    expect(find(`sha256:${'1'.repeat(64)}`)).toBeUndefined();
    expect(find('sha256:zz')).toBeUndefined();
  });
});
