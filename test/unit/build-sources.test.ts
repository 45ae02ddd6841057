import { describe, expect, it } from 'vitest';
import { checkDestination, destinationFor } from '../../src/build/sources.js';

const at = { line: 3, column: 6 };

describe('destinations', () => {
  const file = { name: 'a.txt', type: 'file' as const };
  it('a file lands inside a directory destination, else at the destination', () => {
    expect(destinationFor(file, '/dst/')).toBe('/dst/a.txt');
    expect(destinationFor(file, '/dst')).toBe('/dst');
    expect(destinationFor(file, '/dst', { destIsDir: true })).toBe('/dst/a.txt');
    expect(destinationFor(file, 'rel/', { workdir: '/app' })).toBe('/app/rel/a.txt');
    expect(destinationFor(file, '.', { workdir: '/app' })).toBe('/app/a.txt');
    expect(destinationFor({ name: 'src', type: 'directory' }, '/dst')).toBe('/dst');
  });

  it('several sources need a directory ending in /', () => {
    const two = [file, file].map((f) => ({ ...f, source: f.name, path: f.name, entries: [] }));
    expect(() => checkDestination('Containerfile', 'COPY', two, { text: '/dst', position: at })).toThrow(
      'Containerfile:3:6: When using COPY with more than one source file, the destination must be a directory and end with a /',
    );
    expect(() => checkDestination('Containerfile', 'COPY', two, { text: '/dst/', position: at })).not.toThrow();
  });
});
