/** podman cp's path rules (src/run/copy/cp-paths.ts): arguments, endings, relative container paths. */
import { describe, expect, it } from 'vitest';
import {
  baseName,
  containerPathAbs,
  hostPathAbs,
  namesContent,
  parseCpArgument,
  preserveBasePath,
  withoutContentSuffix,
} from '../../src/run/copy/cp-paths.js';

describe('parseCpArgument', () => {
  it('cuts at the first colon unless the argument starts with . or /', () => {
    expect(parseCpArgument('web:/etc/hosts')).toEqual({ container: 'web', path: '/etc/hosts' });
    expect(parseCpArgument('web:etc')).toEqual({ container: 'web', path: 'etc' });
    // podman's rule, not docker's: a slash before the colon does not make it a host path.
    expect(parseCpArgument('dir/a:b')).toEqual({ container: 'dir/a', path: 'b' });
    expect(parseCpArgument('web:a:b')).toEqual({ container: 'web', path: 'a:b' });
    expect(parseCpArgument('/tmp/a:b')).toEqual({ container: undefined, path: '/tmp/a:b' });
    expect(parseCpArgument('./a:b')).toEqual({ container: undefined, path: './a:b' });
    expect(parseCpArgument('file')).toEqual({ container: undefined, path: 'file' });
    expect(parseCpArgument('-')).toEqual({ container: undefined, path: '-' });
  });

  it('leaves an empty path empty, for the caller to refuse', () => {
    expect(parseCpArgument('web:')).toEqual({ container: 'web', path: '' });
    expect(parseCpArgument(':x')).toEqual({ container: '', path: 'x' });
    expect(parseCpArgument('')).toEqual({ container: undefined, path: '' });
  });
});

describe('preserveBasePath', () => {
  it('puts back the "/" or "/." cleaning dropped', () => {
    expect(preserveBasePath('dir/', '/abs/dir')).toBe('/abs/dir/');
    expect(preserveBasePath('dir/.', '/abs/dir')).toBe('/abs/dir/.');
    expect(preserveBasePath('/.', '/')).toBe('/.');
    expect(preserveBasePath('/', '/')).toBe('/');
    expect(preserveBasePath('dir', '/abs/dir')).toBe('/abs/dir');
    // "dir." is a name, not the "/." form.
    expect(preserveBasePath('dir.', '/abs/dir.')).toBe('/abs/dir.');
  });
});

describe('containerPathAbs and hostPathAbs', () => {
  it('starts relative container paths at the working directory', () => {
    expect(containerPathAbs('file', '/srv')).toBe('/srv/file');
    // "." is the directory itself, as in podman: only "DIR/." names its content.
    expect(containerPathAbs('.', '/srv')).toBe('/srv');
    expect(containerPathAbs('./', '/srv')).toBe('/srv/');
    expect(containerPathAbs('subdir/.', '/srv')).toBe('/srv/subdir/.');
    expect(containerPathAbs('../../etc', '/srv')).toBe('/etc');
    expect(containerPathAbs('/tmp//x/', '/srv')).toBe('/tmp/x/');
    expect(containerPathAbs('x', '')).toBe('/x');
  });

  it('makes host paths absolute against the working directory', () => {
    expect(hostPathAbs('a/b/', '/home/u')).toBe('/home/u/a/b/');
    expect(hostPathAbs('/x/./y/.', '/home/u')).toBe('/x/y/.');
  });
});

describe('names', () => {
  it("takes the last element as Go's filepath.Base does", () => {
    expect(baseName('/a/b')).toBe('b');
    expect(baseName('/a/b/')).toBe('b');
    expect(baseName('/a/b/.')).toBe('.');
    expect(baseName('/')).toBe('/');
    expect(baseName('')).toBe('.');
  });

  it('tells the content form apart', () => {
    expect(namesContent('/a/.')).toBe(true);
    expect(namesContent('/a.')).toBe(false);
    expect(withoutContentSuffix('/a/.')).toBe('/a');
    expect(withoutContentSuffix('/.')).toBe('/');
    expect(withoutContentSuffix('/a.')).toBe('/a.');
  });
});
