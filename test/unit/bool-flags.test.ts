/** pflag's `--flag=BOOL` and `-f=BOOL` for commander (src/cli/bool-flags.ts). */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { acceptBoolValues, rewriteBoolValues } from '../../src/cli/bool-flags.js';

const flags = [{ long: 'archive', short: 'a' }, { long: 'overwrite' }];

describe('rewriteBoolValues', () => {
  it("takes strconv.ParseBool's spellings, long and short", () => {
    expect(rewriteBoolValues(['-a=false', 'x', 'y'], flags)).toEqual(['--no-archive', 'x', 'y']);
    expect(rewriteBoolValues(['--archive=true'], flags)).toEqual(['--archive']);
    expect(rewriteBoolValues(['--archive=0', '--overwrite=T'], flags)).toEqual(['--no-archive', '--overwrite']);
    expect(rewriteBoolValues(['--archive=FALSE', '-a=1'], flags)).toEqual(['--no-archive', '--archive']);
  });

  it('leaves other arguments, and everything after --, alone', () => {
    expect(rewriteBoolValues(['--other=false', '-b=false', 'a=false'], flags)).toEqual([
      '--other=false',
      '-b=false',
      'a=false',
    ]);
    expect(rewriteBoolValues(['--', '-a=false'], flags)).toEqual(['--', '-a=false']);
  });

  it('refuses a value that is no boolean, as pflag does', () => {
    expect(() => rewriteBoolValues(['-a=maybe'], flags)).toThrow(
      'invalid argument "maybe" for "-a, --archive" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
    );
  });
});

describe('acceptBoolValues', () => {
  it('lets a commander command parse them; without one the option stays unset (the caller’s default)', () => {
    const parse = (argv: string[]) => {
      let seen: { options: Record<string, unknown>; args: string[] } | undefined;
      const program = new Command().exitOverride();
      const cp = program
        .command('cp')
        .argument('<a>')
        .argument('<b>')
        .option('-a, --archive')
        .option('--no-archive')
        .option('--overwrite')
        .action((a: string, b: string, options: Record<string, unknown>) => {
          seen = { options, args: [a, b] };
        });
      acceptBoolValues(cp, flags);
      program.parse(['node', 'hutch', 'cp', ...argv]);
      return seen;
    };
    expect(parse(['-a=false', '-', 'c:/tmp/'])).toEqual({ options: { archive: false }, args: ['-', 'c:/tmp/'] });
    expect(parse(['src', 'dst'])).toEqual({ options: {}, args: ['src', 'dst'] });
    expect(parse(['-a', '--overwrite=true', 'src', 'dst'])).toEqual({
      options: { archive: true, overwrite: true },
      args: ['src', 'dst'],
    });
  });
});
