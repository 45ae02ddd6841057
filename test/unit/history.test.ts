import { describe, expect, it } from 'vitest';
import { formatHistory } from '../../src/cli/format/history.js';
import { digestOf, type Digest } from '../../src/image/digest.js';
import { MediaType } from '../../src/image/media.js';
import type { HistoryEntry as ConfigEntry } from '../../src/image/oci.js';
import type { ResolvedImage } from '../../src/image/store/resolve.js';
import { historyOf } from '../../src/verbs/history.js';

const layer = (n: number) => digestOf(`layer ${n}`);
const sizes: Record<string, number> = { [layer(1)]: 1_996_800, [layer(2)]: 124 };

function image(layers: Digest[], history: ConfigEntry[]): ResolvedImage {
  const id = digestOf(`config ${layers.join()} ${history.length}`);
  return {
    id,
    names: [],
    namesHistory: [],
    manifestDescriptor: { mediaType: MediaType.ociManifest, digest: digestOf(`m ${id}`), size: 1 },
    manifest: { schemaVersion: 2, config: { mediaType: MediaType.ociConfig, digest: id, size: 1 }, layers: [] },
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers }, history },
    configSize: 1,
    size: 1,
    created: undefined,
  };
}

const add: ConfigEntry = {
  created: '2026-12-08T01:38:28Z',
  created_by: `/bin/sh -c #(nop) ADD file:${layer(1).slice(7)} in /`,
  comment: 'imported from tarball',
};
const label: ConfigEntry = {
  created: '2026-12-08T01:40:00Z',
  created_by: '/bin/sh -c #(nop) LABEL a=b',
  empty_layer: true,
};
const run: ConfigEntry = { created: '2026-12-08T01:41:00Z', created_by: '/bin/sh -c echo hi > /hello' };
const cmd: ConfigEntry = {
  created: '2026-12-08T01:41:01Z',
  created_by: '/bin/sh -c #(nop) CMD ["sh"]',
  empty_layer: true,
};

const base = image([layer(1)], [add]);
const app = image([layer(1), layer(2)], [add, label, run, cmd]);

describe("history: podman's walk down the history and the layers", () => {
  const entries = historyOf(app, [base, app], (diffId) => sizes[diffId] ?? 0);

  it("newest first; a layer-making entry takes its layer's size; an image on top of a layer names it once", () => {
    expect(entries.map((e) => [e.id, e.size, e.createdBy.slice(0, 20)])).toEqual([
      [app.id, 0, '/bin/sh -c #(nop) CM'],
      [undefined, 124, '/bin/sh -c echo hi >'],
      // The base image's top layer is below: podman gives the entry there the base's id.
      [base.id, 0, '/bin/sh -c #(nop) LA'],
      [undefined, 1_996_800, '/bin/sh -c #(nop) AD'],
    ]);
  });

  it("prints podman's table, ids, RFC 3339 times, JSON", () => {
    const now = new Date('2026-12-08T01:42:01Z');
    const table = formatHistory(entries, { now }).split('\n');
    expect(table[0]).toBe(
      'ID            CREATED             CREATED BY                                     SIZE        COMMENT',
    );
    expect(table[1]).toBe(
      `${app.id.slice(7, 19)}  About a minute ago  /bin/sh -c #(nop) CMD ["sh"]                   0 B         `,
    );
    expect(table[4]).toBe(
      `<missing>     3 minutes ago       /bin/sh -c #(nop) ADD file:${layer(1).slice(7, 22)}...  2 MB        imported from tarball`,
    );
    expect(formatHistory(entries, { quiet: true })).toBe(
      `${app.id.slice(7, 19)}\n<missing>\n${base.id.slice(7, 19)}\n<missing>\n`,
    );
    expect(formatHistory(entries, { human: false, format: '{{.Created}}' }).split('\n')[0]).toBe(
      '2026-12-08T01:41:01Z',
    );
    expect(formatHistory(entries, { noTrunc: true, format: '{{.ID}} {{.CreatedBy}}' }).split('\n')[3]).toBe(
      `<missing> ${add.created_by}`,
    );
    const json = formatHistory(entries, { format: 'json' });
    expect(json).toContain('"id":"\\u003cmissing\\u003e"');
    expect(json).toContain('"CreatedBy":"/bin/sh -c echo hi \\u003e /hello"');
    expect(JSON.parse(json)).toHaveLength(4);
  });
});
