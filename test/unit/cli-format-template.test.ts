// podman's --format layer (src/cli/format/template.ts): listings, tables and their headers,
// single objects, inspect, and the template normalization. Expected texts are what podman 4.3.1
// printed on the development host for the same templates over the same values.
import { describe, expect, it } from 'vitest';
import { IMAGES_REPORT, PS_REPORT } from '../../src/cli/format/reports.js';
import { alignTabs } from '../../src/cli/format/table.js';
import {
  columnTitle,
  formatInspect,
  isJsonFormat,
  renderInspect,
  renderList,
  renderTemplate,
} from '../../src/cli/format/template.js';
import { TemplateError } from '../../src/cli/format/go-template/errors.js';
import { HutchError } from '../../src/errors.js';

const rows = () => [
  { ID: '43877bc1fddd', Names: 'c1', Image: 'localhost/busybox:latest', Labels: { z: 'y', a: 'b' }, Pid: 0 },
  { ID: '95e353a18a2c', Names: 'c2', Image: 'localhost/busybox:latest', Labels: {}, Pid: 0 },
];
const ps = (template: string) => renderList(template, rows(), PS_REPORT);
const error = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('renderList (ps, images, volume ls, network ls)', () => {
  it('runs the template once per row, a newline after each unless it ends with one', () => {
    expect(ps('{{.ID}} {{.Names}}')).toBe('43877bc1fddd c1\n95e353a18a2c c2\n');
    expect(ps('x{{.ID}}y\\n')).toBe('x43877bc1fdddy\nx95e353a18a2cy\n');
    expect(ps('{{.Names}}\\t{{.ID}}')).toBe('c1\t43877bc1fddd\nc2\t95e353a18a2c\n');
    expect(ps('{{.Labels}}')).toBe('map[a:b z:y]\nmap[]\n');
    expect(ps('{{json .Labels}}')).toBe('{"a":"b","z":"y"}\n{}\n');
    expect(ps('{{.ID | upper}}')).toBe('43877BC1FDDD\n95E353A18A2C\n');
    expect(ps('{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}')).toBe('a=b;z=y;\n\n');
    expect(ps('{{if .Labels}}L{{else}}none{{end}}')).toBe('L\nnone\n');
    expect(ps('{{.Names | printf "%-10s|"}}')).toBe('c1        |\nc2        |\n');
    expect(ps('{{.Labels.a}}|{{index .Labels "a"}}|{{index .Labels "zz"}}')).toBe('b|b|\n<no value>||\n');
  });

  it('leaves a template that ranges over the rows itself unwrapped', () => {
    expect(ps('{{range .}}{{.Names}},{{end}}')).toBe('c1,c2,\n');
    expect(ps('{{ range . }}{{.Names}};{{end}}\\n')).toBe('c1;c2;\n');
    expect(ps('{{len $}}')).toBe('2\n2\n');
  });

  it('parses the template as typed when the escapes make it fail ("\\n" in a string)', () => {
    // No newline added and \n left alone: podman's second parse is of the raw text.
    expect(ps('{{printf "x\\n"}}|')).toBe('x\n|x\n|');
    expect(ps('{{printf "x\\n"}}|\\n')).toBe('x\n|\\nx\n|\\n');
  });

  it('a table has a header row from podman titles, then the rows, aligned as tabwriter', () => {
    expect(ps('table {{.ID}}\\t{{.Names}}')).toBe('CONTAINER ID  NAMES\n43877bc1fddd  c1\n95e353a18a2c  c2\n');
    // Spaces become tabs in a table.
    expect(ps('table {{.ID}} {{.Names}} {{.Image}}')).toBe(
      'CONTAINER ID  NAMES       IMAGE\n' +
        '43877bc1fddd  c1          localhost/busybox:latest\n' +
        '95e353a18a2c  c2          localhost/busybox:latest\n',
    );
    expect(ps('table {{.ID}}\\n')).toBe('CONTAINER ID\n43877bc1fddd\n95e353a18a2c\n');
    // Functions run on the header too.
    expect(ps('table {{.ID | upper}}\\t{{truncate .Names 1}}')).toBe(
      'CONTAINER ID  N\n43877BC1FDDD  c\n95E353A18A2C  c\n',
    );
    // A field podman has no title for prints <no value> in the header.
    expect(renderList('table {{.Restarts}}', [], PS_REPORT)).toBe('<no value>\n');
    expect(renderList('table {{.ID}} {{.Repository}}', [], IMAGES_REPORT)).toBe('IMAGE ID    REPOSITORY\n');
    expect(renderList('table {{.ID}}', rows(), PS_REPORT, { noHeading: true })).toBe('43877bc1fddd\n95e353a18a2c\n');
  });

  it('titles fields podman has no title for from their names', () => {
    expect(
      renderList('table {{.ShortName}}\\t{{.IPv6Enabled}}', [{ ShortName: 'a', IPv6Enabled: false }], {
        name: 'ls',
        type: 'x',
      }),
    ).toBe('SHORT NAME  I PV 6 ENABLED\na           false\n');
    expect(columnTitle('CreatedAt')).toBe('CREATED AT');
    expect(columnTitle('PDFLoader')).toBe('PDF LOADER');
    expect(columnTitle('ParentId')).toBe('PARENT ID');
  });

  it('`table` alone is no table; `table ` is removed wherever it stands', () => {
    expect(ps('table')).toBe('table\ntable\n');
    expect(ps('table {{.Names}} table {{.ID}}')).toBe(
      'NAMES       CONTAINER ID\nc1          43877bc1fddd\nc2          95e353a18a2c\n',
    );
  });

  it("fails on a row's missing field naming podman's type, as podman does", () => {
    expect(error(() => ps('{{.Nope}}'))).toBe(
      'template: ps:1:13: executing "ps" at <.Nope>: can\'t evaluate field Nope in type containers.psReporter',
    );
    expect(error(() => ps('{{.Nope.Something.Else}}'))).toBe(
      'template: ps:1:18: executing "ps" at <.Nope.Something.Else>: can\'t evaluate field Nope in type containers.psReporter',
    );
    expect(error(() => ps('table {{.ID | upper}}\\t{{.Labels.h}}'))).toBe(
      'template: ps:1:36: executing "ps" at <.Labels.h>: can\'t evaluate field h in type string',
    );
    // No rows, nothing runs.
    expect(renderList('{{.Nope}}', [], PS_REPORT)).toBe('');
  });

  it('reports parse errors as podman: one line, exit 125', () => {
    const e = (() => {
      try {
        ps('{{ .ID ');
      } catch (err) {
        return err as HutchError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(HutchError);
    expect(e.exitCode).toBe(125);
    expect(e.message).toBe('template: ps:1: unexpected "{" in operand');
    expect(error(() => ps('{{ .ID }'))).toBe('template: ps:1: unexpected "}" in operand');
    expect(error(() => ps('{{nofunc .ID}}'))).toBe('template: ps:1: function "nofunc" not defined');
    expect(error(() => ps('{{define "x"}}[{{.}}]{{end}}{{template "x" .ID}}'))).toBe(
      'template: ps:1: unexpected <define> in command',
    );
  });
});

describe('renderTemplate (info, version)', () => {
  const version = { name: 'version', type: '*define.Version' };
  const value = () => ({ Client: { APIVersion: '4.3.1', Version: '4.3.1', Built: 0 } });

  it('runs once over the value', () => {
    expect(renderTemplate('{{.Client.Version}}', value(), version)).toBe('4.3.1\n');
    expect(renderTemplate('{{. | printf "%T"}}', value(), version)).toBe('*define.Version\n');
    expect(
      renderTemplate('{{define "T"}}[{{.}}]{{end}}{{template "T" "x"}}{{block "B" 5}}<{{.}}>{{end}}', {}, version),
    ).toBe('[x]<5>\n');
  });

  it('names the field at column 2, with no range around the template', () => {
    expect(error(() => renderTemplate('{{.Nope}}', value(), version))).toBe(
      'template: version:1:2: executing "version" at <.Nope>: can\'t evaluate field Nope in type *define.Version',
    );
    expect(error(() => renderTemplate('{{.Nope', value(), { name: 'info', type: '*define.Info' }))).toBe(
      'template: info:1: unclosed action',
    );
  });
});

describe('renderInspect and formatInspect', () => {
  const container = () => ({
    Id: 'd2619c0cab75',
    State: { OciVersion: '1.0.2-dev', Status: 'created', Running: false, Pid: 0 },
    Config: { Labels: { h: '<a&b>', u: 'é€' }, Cmd: ['true'] },
  });

  it('runs over every object; maps and structs print and encode as Go does', () => {
    expect(
      renderInspect('{{.Config.Labels.nope}}|{{index .Config.Labels "nope"}}|{{.Config.Labels}}', [container()]),
    ).toBe('<no value>||map[h:<a&b> u:é€]\n');
    expect(renderInspect('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}', [container()])).toBe(
      'h=<a&b> u=é€ \n',
    );
    expect(renderInspect('{{.State}}', [container()])).toBe('{1.0.2-dev created false 0}\n');
    expect(renderInspect('{{json .State}}', [container()])).toBe(
      '{"OciVersion":"1.0.2-dev","Status":"created","Running":false,"Pid":0}\n',
    );
    expect(renderInspect('{{.Id}}', [container(), container()])).toBe('d2619c0cab75\nd2619c0cab75\n');
    // table: the prefix goes and tabwriter aligns, but inspect prints no header.
    expect(renderInspect('table {{.Id}}', [container()])).toBe('d2619c0cab75\n');
  });

  it('words execution errors as podman inspect does', () => {
    expect(error(() => renderInspect('{{.Nope}}', [container()]))).toBe(
      'inspecting object: printing inspect output: template: inspect:1:13: executing "inspect" at <.Nope>: ' +
        "can't evaluate field Nope in type interface {}",
    );
    expect(error(() => renderInspect('{{len .Config.Labels.missing}}', [container()]))).toBe(
      'inspecting object: printing inspect output: template: inspect:1:13: executing "inspect" at ' +
        '<len .Config.Labels.missing>: error calling len: reflect: call of reflect.Value.Type on zero Value',
    );
    expect(error(() => renderInspect('{{ .ID ', [container()]))).toBe('template: inspect:1: unexpected "{" in operand');
  });

  it('prints JSON for json and {{json .}}', () => {
    expect(formatInspect([{ A: 1 }])).toBe('[\n     {\n          "A": 1\n     }\n]\n');
    expect(formatInspect([{ A: 1 }], '{{json .}}')).toBe(formatInspect([{ A: 1 }]));
    expect(formatInspect([{ A: 1 }], '{{.A}}')).toBe('1\n');
  });
});

describe('isJsonFormat', () => {
  it('is podman report.IsJSON', () => {
    for (const f of ['json', ' json ', '{{json .}}', '{{ json . }}', '{{json}}']) expect(isJsonFormat(f)).toBe(true);
    for (const f of ['{{json .Labels}}', 'table json', 'JSON', '{{.}}']) expect(isJsonFormat(f)).toBe(false);
  });
});

describe('alignTabs (Go text/tabwriter, minwidth 12, padding 2)', () => {
  it('pads a column to its widest cell plus 2, at least 12; the last cell of a line stays as is', () => {
    expect(alignTabs('a\tb\nlonger-than-twelve\tc\n')).toBe('a                   b\nlonger-than-twelve  c\n');
    expect(alignTabs('a\tb\tc\n')).toBe('a           b           c\n');
  });

  it('aligns a column over the consecutive lines that have it', () => {
    // The second line has no tab: it ends the block, the third starts a new one.
    expect(alignTabs('aaaaaaaaaaaaaaaaaa\tb\nplain\nc\td\n')).toBe('aaaaaaaaaaaaaaaaaa  b\nplain\nc           d\n');
    expect(alignTabs('x\t\ty\n')).toBe('x                       y\n');
  });

  it('counts characters, not bytes, and keeps a last line without newline', () => {
    expect(alignTabs('é\tx\nab\ty')).toBe('é           x\nab          y');
  });
});
