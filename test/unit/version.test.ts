import { describe, expect, it } from 'vitest';
import { formatVersion } from '../../src/cli/format/version.js';
import { version } from '../../src/package.js';
import { versionReport } from '../../src/verbs/version.js';

describe('version', () => {
  const report = versionReport();

  it("podman's Client section, with hutch's version and node's", () => {
    expect(report.Client.Version).toBe(version);
    expect(report.Client.GoVersion).toBe(`node ${process.version}`);
    expect(report.Client.OsArch).toMatch(/^linux\/\w+$/);
    const lines = formatVersion(report).split('\n');
    expect(lines[0]).toBe('Client:       hutch');
    expect(lines[1]).toBe(`Version:      ${version}`);
    expect(lines[3]).toBe(`Go Version:   node ${process.version}`);
    expect(lines[4]).toMatch(/^Built: {8}\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
  });

  it('--format: a template over the report, or json on one line', () => {
    expect(formatVersion(report, '{{.Client.Version}}')).toBe(`${version}\n`);
    expect(formatVersion(report, 'json')).toBe(`${JSON.stringify(report)}\n`);
  });
});
