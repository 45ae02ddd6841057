import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/image/digest.js';
import { MediaType } from '../../src/image/media.js';
import type { Descriptor, Index } from '../../src/image/oci.js';
import { NamesHistoryAnnotation, namesHistoryOf, recordNamesHistory } from '../../src/image/store/names-history.js';
import { emptyIndex, removeName, setName } from '../../src/image/store/refs.js';

const a: Descriptor = { mediaType: MediaType.ociManifest, digest: digestOf('a'), size: 1 };
const b: Descriptor = { mediaType: MediaType.ociManifest, digest: digestOf('b'), size: 1 };

/** One edit as updateIndex applies it. */
const apply = (index: Index, edit: (i: Index) => Index) => recordNamesHistory(index, edit(structuredClone(index)));

describe("names history, as containers/storage keeps podman's NamesHistory", () => {
  it("010-images' sequence: commit, tag, rmi of the tag, again", () => {
    let index = apply(emptyIndex(), (i) => setName(i, 'localhost/mti:latest', a));
    expect(namesHistoryOf(index, a.digest)).toEqual(['localhost/mti:latest']);
    index = apply(index, (i) => setName(i, 'localhost/r1:latest', a));
    index = apply(index, (i) => removeName(i, 'localhost/r1:latest', { keepNameless: true }));
    expect(namesHistoryOf(index, a.digest)).toEqual(['localhost/mti:latest', 'localhost/r1:latest']);
    index = apply(index, (i) => setName(i, 'localhost/r2:latest', a));
    index = apply(index, (i) => removeName(i, 'localhost/r2:latest', { keepNameless: true }));
    expect(namesHistoryOf(index, a.digest)).toEqual([
      'localhost/mti:latest',
      'localhost/r2:latest',
      'localhost/r1:latest',
    ]);
  });

  it('a tag goes in front; untagging every name keeps the history; a name that moves away leaves it', () => {
    let index = apply(emptyIndex(), (i) => setName(i, 'localhost/app:latest', a));
    index = apply(index, (i) => setName(i, 'localhost/app2:latest', a));
    expect(namesHistoryOf(index, a.digest)).toEqual(['localhost/app2:latest', 'localhost/app:latest']);
    index = apply(index, (i) => setName(i, 'localhost/app:latest', b));
    expect(namesHistoryOf(index, a.digest)).toEqual(['localhost/app2:latest', 'localhost/app:latest']);
    expect(namesHistoryOf(index, b.digest)).toEqual(['localhost/app:latest']);
    index = apply(index, (i) => removeName(i, 'localhost/app2:latest', { keepNameless: true }));
    expect(namesHistoryOf(index, a.digest)).toEqual(['localhost/app2:latest', 'localhost/app:latest']);
  });

  it('an image that leaves the index leaves its history; an index without history has no annotation', () => {
    let index = apply(emptyIndex(), (i) => setName(i, 'localhost/app:latest', a));
    expect(index.annotations?.[NamesHistoryAnnotation]).toBeDefined();
    index = apply(index, (i) => ({ ...i, manifests: [] }));
    expect(index.annotations).toBeUndefined();
  });

  it('a damaged annotation costs the history, not the index', () => {
    const index: Index = { ...emptyIndex(), annotations: { [NamesHistoryAnnotation]: '{oops' } };
    expect(namesHistoryOf(index, a.digest)).toEqual([]);
    expect(
      namesHistoryOf(
        apply(index, (i) => setName(i, 'x/y:1', a)),
        a.digest,
      ),
    ).toEqual(['x/y:1']);
  });
});
