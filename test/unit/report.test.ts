import { describe, expect, it } from 'vitest';
import { alignTabs, isJsonFormat, renderRows } from '../../src/cli/format/report.js';

const rows = [
  { Name: 'localhost/app', Tag: 'latest' },
  { Name: 'a', Tag: 'a-long-tag-name' },
];
const headers = { Name: 'NAME', Tag: 'TAG' };

describe("podman's report layer", () => {
  it('json and {{json .}} mean the whole list as JSON', () => {
    expect(isJsonFormat('json')).toBe(true);
    expect(isJsonFormat('{{ json . }}')).toBe(true);
    expect(isJsonFormat('{{json .Name}}')).toBe(false);
    expect(isJsonFormat(undefined)).toBe(false);
  });

  it('a plain template prints each row as it renders, escapes understood, no header', () => {
    expect(renderRows('{{.Name}}\\t{{.Tag}}', rows, { headers })).toBe('localhost/app\tlatest\na\ta-long-tag-name\n');
  });

  it('table: spaces between actions are columns, a header row, tabwriter alignment', () => {
    expect(renderRows('table {{.Name}} {{.Tag}}', rows, { headers })).toBe(
      'NAME           TAG\nlocalhost/app  latest\na              a-long-tag-name\n',
    );
    expect(renderRows('table {{.Name}} {{.Tag}}', rows, { headers, noHeading: true })).toBe(
      'localhost/app  latest\na              a-long-tag-name\n',
    );
    // A field without a header prints Go's <no value>, as podman does.
    expect(renderRows('table {{.Name}}\t{{.Nothing}}', rows, { headers }).split('\n')[0]).toBe(
      'NAME           <no value>',
    );
  });

  it('tabwriter: minimum width 12, padding 2, the last cell unpadded', () => {
    expect(alignTabs('a\tb\nlonger-than-twelve\tc\n')).toBe('a                   b\nlonger-than-twelve  c\n');
    expect(alignTabs('')).toBe('');
  });
});
