// `hutch version` as podman prints it.
import type { VersionReport } from '../../verbs/version.js';
import { alignTabs, isJsonFormat } from './report.js';
import { renderTemplate } from './template.js';

export function formatVersion(report: VersionReport, format?: string): string {
  if (isJsonFormat(format)) return `${JSON.stringify(report)}\n`;
  if (format !== undefined && format !== '') return renderTemplate(format.replace(/^table /, ''), report);
  const c = report.Client;
  return alignTabs(
    [
      'Client:\thutch',
      `Version:\t${c.Version}`,
      `API Version:\t${c.APIVersion}`,
      `Go Version:\t${c.GoVersion}`,
      ...(c.GitCommit === '' ? [] : [`Git Commit:\t${c.GitCommit}`]),
      `Built:\t${c.BuiltTime}`,
      `OS/Arch:\t${c.OsArch}`,
    ].join('\n'),
  );
}
