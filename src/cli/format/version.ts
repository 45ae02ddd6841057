// `hutch version` as podman prints it.
import type { VersionReport } from '../../verbs/version.js';
import { alignTabs } from './table.js';
import { isJsonFormat, renderTemplate, type ReportFormat } from './template.js';

const VERSION_REPORT: ReportFormat = { name: 'version', type: '*define.Version' };

export function formatVersion(report: VersionReport, format?: string): string {
  if (format !== undefined && isJsonFormat(format)) return `${JSON.stringify(report)}\n`;
  if (format !== undefined && format !== '') return renderTemplate(format, report, VERSION_REPORT);
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
