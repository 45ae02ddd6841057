// RegistryClient against a real registry (Debian's docker-registry, distribution
// 2.8, anonymous, htpasswd and token auth) run as this user on 127.0.0.1, and
// against small lying registries written here.
import { selfSignedCertificate } from '../helpers/token-server.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestMismatchError, digestOf, hexOf } from '../../src/image/digest.js';
import { MediaType } from '../../src/image/media.js';
import type { Descriptor, Index, Manifest } from '../../src/image/oci.js';
import { RegistryClient, type Credentials } from '../../src/image/registry/client.js';
import { RegistryError } from '../../src/image/registry/errors.js';
import { freePort, needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';

const need = needRegistry('htpasswd', 'openssl');

function blob(data: Buffer, mediaType: string = MediaType.ociLayerGzip): Descriptor {
  return { mediaType, digest: digestOf(data), size: data.length };
}

const opener = (data: Buffer) => (start: number) => Readable.from([data.subarray(start)]);

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

function client(host: string, extra: { credentials?: Credentials; tlsVerify?: boolean } = {}): RegistryClient {
  return new RegistryClient({ registry: host, retryDelayMs: 10, ...extra });
}

/** Pushes a config and a layer and a manifest naming them; returns the manifest. */
async function pushImage(c: RegistryClient, repository: string, tag: string, layer = randomBytes(4096)) {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const configDesc = blob(config, MediaType.ociConfig);
  const layerDesc = blob(layer);
  for (const [desc, data] of [
    [configDesc, config],
    [layerDesc, layer],
  ] as const) {
    if (!(await c.blobExists(repository, desc.digest))) await c.pushBlob(repository, desc, opener(data));
  }
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDesc,
    layers: [layerDesc],
  };
  const body = Buffer.from(JSON.stringify(manifest));
  const digest = await c.putManifest(repository, tag, MediaType.ociManifest, body);
  return { body, digest, layer, layerDesc, configDesc };
}

describe.skipIf(need.skip)('an anonymous registry', () => {
  let registry: TestRegistry;
  let c: RegistryClient;
  const data = randomBytes(1024 * 1024 + 100);
  const desc = blob(data);

  beforeAll(async () => {
    registry = await startRegistry();
    c = client(registry.host);
  });
  afterAll(async () => {
    c?.close();
    await registry?.stop();
  });

  it('pushes a blob in one PUT and reads it back verified', async () => {
    expect(await c.blobExists('mono/app', desc.digest)).toBe(false);
    await c.pushBlob('mono/app', desc, opener(data));
    expect(await c.blobExists('mono/app', desc.digest)).toBe(true);
    const stream = await c.getBlob('mono/app', desc);
    expect(stream.start).toBe(0);
    expect((await readAll(stream)).equals(data)).toBe(true);
  });

  it('pushes a blob in PATCH chunks of 64 KiB', async () => {
    const opened: number[] = [];
    await c.pushBlob(
      'chunked/app',
      desc,
      (start) => {
        opened.push(start);
        return opener(data)(start);
      },
      { chunkSize: 64 * 1024 },
    );
    // One open per chunk, at each chunk's offset.
    expect(opened.length).toBe(Math.ceil(data.length / (64 * 1024)));
    expect(opened[1]).toBe(64 * 1024);
    expect((await readAll(await c.getBlob('chunked/app', desc))).equals(data)).toBe(true);
  });

  it('fails a push whose content does not match the digest, and leaves no blob', async () => {
    const other = randomBytes(1000);
    const lie = { ...blob(other), digest: digestOf('something else') };
    const error = await failure(c.pushBlob('lie/app', lie, opener(other)));
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.message).toMatch(/DIGEST_INVALID/);
    expect(await c.blobExists('lie/app', lie.digest)).toBe(false);
    // A source shorter than the descriptor says is our own error, not the registry's.
    const short = await failure(c.pushBlob('lie/app', { ...blob(other), size: 2000 }, opener(other)));
    expect(short.message).toMatch(/ended 1000 bytes short of 2000/);
  });

  it('mounts a blob from another repository (201), and cancels the upload when it cannot (202)', async () => {
    expect(await c.mountBlob('mounted/app', desc.digest, 'mono/app')).toBe(true);
    expect(await c.blobExists('mounted/app', desc.digest)).toBe(true);
    const unknown = digestOf('not pushed anywhere');
    expect(await c.mountBlob('mounted/app', unknown, 'mono/app')).toBe(false);
  });

  it('refuses a blob whose size is not what the descriptor says, before reading it', async () => {
    // Content-Length tells before a byte is read (a wrong digest is the lying registries' test below).
    for (const size of [desc.size - 1, desc.size + 1]) {
      const error = await failure(c.getBlob('mono/app', { ...desc, size }));
      expect(error).toBeInstanceOf(DigestMismatchError);
      expect(error.message).toBe(
        `blob ${desc.digest} from ${registry.host}/mono/app: content does not match its digest (expected ${size} bytes, got ${desc.size})`,
      );
    }
  });

  it('resumes a blob download with a Range request', async () => {
    const start = 300_000;
    const stream = await c.getBlob('mono/app', desc, { start, prefix: () => Readable.from([data.subarray(0, start)]) });
    const rest = await readAll(stream);
    // distribution serves ranges; were it to ignore them, start would be 0 and the whole blob would come.
    expect(stream.start).toBe(start);
    expect(rest.equals(data.subarray(start))).toBe(true);
    // A wrong prefix makes the whole blob fail verification.
    const bad = await c.getBlob('mono/app', desc, { start, prefix: () => Readable.from([randomBytes(start)]) });
    expect(await failure(readAll(bad))).toBeInstanceOf(DigestMismatchError);
  });

  it('puts a manifest and gets it by tag and by digest, HEAD and tags', async () => {
    const image = await pushImage(c, 'team/app', 'v1');
    expect(image.digest).toBe(digestOf(image.body));
    const byTag = await c.getManifest('team/app', 'v1', [MediaType.ociManifest]);
    expect(byTag).toEqual({ mediaType: MediaType.ociManifest, digest: image.digest, body: image.body });
    const byDigest = await c.getManifest('team/app', image.digest, [MediaType.ociManifest]);
    expect(byDigest.body.equals(image.body)).toBe(true);
    expect(await c.headManifest('team/app', 'v1', [MediaType.ociManifest])).toEqual({
      digest: image.digest,
      mediaType: MediaType.ociManifest,
      size: image.body.length,
    });
    expect(await c.headManifest('team/app', 'nope', [MediaType.ociManifest])).toBeUndefined();
    await c.putManifest('team/app', 'v2', MediaType.ociManifest, image.body);
    expect((await c.listTags('team/app')).sort()).toEqual(['v1', 'v2']);
    // By digest, the content must be what the digest says before it is sent.
    const wrong = await failure(c.putManifest('team/app', digestOf('x'), MediaType.ociManifest, image.body));
    expect(wrong).toBeInstanceOf(DigestMismatchError);
  });

  it('says what was not found, one line each', async () => {
    const manifest = await failure(c.getManifest('team/app', 'missing', []));
    expect(manifest).toBeInstanceOf(RegistryError);
    expect(manifest.message).toBe(`team/app:missing not found in ${registry.host} (404 MANIFEST_UNKNOWN)`);
    expect((manifest as RegistryError).status).toBe(404);
    expect((manifest as RegistryError).code).toBe('MANIFEST_UNKNOWN');
    const tags = await failure(c.listTags('no/such'));
    expect(tags.message).toBe(`repository no/such not found in ${registry.host} (404 NAME_UNKNOWN)`);
    const missing = digestOf('missing blob');
    const blobError = await failure(c.getBlob('team/app', { mediaType: MediaType.ociLayer, digest: missing, size: 1 }));
    expect(blobError.message).toBe(`blob ${missing} not found in team/app on ${registry.host} (404 BLOB_UNKNOWN)`);
    expect(await c.blobExists('team/app', missing)).toBe(false);
  });

  it('lists referrers through the tag fallback (distribution 2.8 has no referrers API)', async () => {
    const image = await pushImage(c, 'ref/app', 'v1');
    expect(await c.referrers('ref/app', image.digest)).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [],
    });
    const empty = Buffer.from('{}');
    await c.pushBlob('ref/app', blob(empty, MediaType.ociEmpty), opener(empty));
    const signature: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: 'application/vnd.example.signature',
      config: { ...blob(empty, MediaType.ociEmpty) },
      layers: [{ ...blob(empty, MediaType.ociEmpty) }],
      subject: { mediaType: MediaType.ociManifest, digest: image.digest, size: image.body.length },
    };
    const sigBody = Buffer.from(JSON.stringify(signature));
    const sigDigest = await c.putManifest('ref/app', digestOf(sigBody), MediaType.ociManifest, sigBody);
    const index: Index = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          digest: sigDigest,
          size: sigBody.length,
          artifactType: 'application/vnd.example.signature',
        },
      ],
    };
    await c.putManifest(
      'ref/app',
      `sha256-${hexOf(image.digest)}`,
      MediaType.ociIndex,
      Buffer.from(JSON.stringify(index)),
    );
    expect((await c.referrers('ref/app', image.digest)).manifests.map((d) => d.digest)).toEqual([sigDigest]);
    expect((await c.referrers('ref/app', image.digest, 'application/vnd.example.signature')).manifests).toHaveLength(1);
    expect((await c.referrers('ref/app', image.digest, 'application/other')).manifests).toEqual([]);
  });

  it('names a registry that is not there', async () => {
    const port = await freePort();
    const error = await failure(client(`127.0.0.1:${port}`).ping());
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.message).toBe(`cannot reach registry 127.0.0.1:${port} at http://127.0.0.1:${port}/v2/: ECONNREFUSED`);
    expect((error as RegistryError).hint).toMatch(/is the registry running\?.*--tls-verify=false/);
  });
});

interface Fake {
  host: string;
  requests: { method: string; url: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

/**
 * A registry written here: GET /v2/ answers 200 (unless the handler takes it), the rest is `handler`'s.
 * With `tls`, it speaks HTTPS only.
 */
async function fake(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  tls?: { key: Buffer; cert: Buffer },
): Promise<Fake> {
  const requests: Fake['requests'] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res);
    if (!res.headersSent && !res.writableEnded && req.url === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    }
  };
  const server = tls === undefined ? http.createServer(listener) : https.createServer(tls, listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('registries that misbehave', () => {
  const data = randomBytes(256 * 1024);
  const desc = blob(data);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest }));
  const fakes: Fake[] = [];
  const start = async (handler: Parameters<typeof fake>[0], tls?: Parameters<typeof fake>[1]) => {
    const f = await fake(handler, tls);
    fakes.push(f);
    return f;
  };

  it.skipIf(need.skip)(
    'speaks HTTPS: unverified with tlsVerify false, and names an untrusted certificate',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hutch-tls-'));
      try {
        selfSignedCertificate(join(dir, 'key.pem'), join(dir, 'cert.pem'), '/CN=127.0.0.1');
        const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
        const f = await start((req, res) => {
          if (req.url?.includes('/manifests/'))
            res.writeHead(200, { 'content-type': MediaType.ociManifest }).end(manifest);
        }, tls);
        const insecure = client(f.host, { tlsVerify: false });
        expect((await insecure.getManifest('a/b', 'v1', [])).body.equals(manifest)).toBe(true);
        insecure.close();
        const verified = client(f.host);
        const error = await failure(verified.ping());
        expect(error.message).toBe(
          `cannot reach registry ${f.host} at https://${f.host}/v2/: DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)`,
        );
        expect((error as RegistryError).hint).toMatch(/self-signed certificate use --tls-verify=false/);
        verified.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
  afterAll(async () => {
    for (const f of fakes) await f.close();
  });

  it('refuses a manifest that does not match the digest asked for, or the one the registry claims', async () => {
    const f = await start((req, res) => {
      if (req.url?.includes('/manifests/')) {
        res.writeHead(200, {
          'content-type': MediaType.ociManifest,
          'docker-content-digest': req.url.includes('claims') ? digestOf('other') : digestOf(manifest),
        });
        res.end(manifest);
      }
    });
    const c = client(f.host);
    const asked = digestOf('the manifest we wanted');
    const error = await failure(c.getManifest('a/b', asked, []));
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error.message).toContain(`manifest a/b@${asked} from ${f.host}: content does not match its digest`);
    expect(await failure(c.getManifest('a/b', 'claims', []))).toBeInstanceOf(DigestMismatchError);
    expect((await c.getManifest('a/b', 'fine', [])).digest).toBe(digestOf(manifest));
    c.close();
  });

  it('fails a blob whose bytes differ, and one with too many bytes', async () => {
    const f = await start((req, res) => {
      if (req.url?.includes('/blobs/')) {
        // No Content-Length: the verifier is what notices.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
        res.end(
          req.url.includes('sha256:') && req.url.endsWith(hexOf(desc.digest))
            ? Buffer.concat([data, data])
            : randomBytes(data.length),
        );
      }
    });
    const c = client(f.host);
    const tooMuch = await failure(c.getBlob('a/b', desc).then(readAll));
    expect(tooMuch).toBeInstanceOf(DigestMismatchError);
    expect(tooMuch.message).toMatch(
      new RegExp(`blob ${desc.digest} from ${f.host}/a/b: .*expected ${data.length} bytes, got \\d+`),
    );
    const other = { ...desc, digest: digestOf('x') };
    const differ = await failure(c.getBlob('a/b', other).then(readAll));
    expect(differ).toBeInstanceOf(DigestMismatchError);
    expect(differ.message).toContain(`expected ${other.digest}`);
    c.close();
  });

  it('fails a blob when the registry stops in the middle, naming the bytes received', async () => {
    const f = await start((req, res) => {
      if (req.url?.includes('/blobs/')) {
        res.writeHead(200, { 'content-length': String(data.length) });
        res.write(data.subarray(0, 100_000), () => setTimeout(() => res.socket?.destroy(), 50));
      }
    });
    const c = client(f.host);
    const error = await failure(c.getBlob('a/b', desc).then(readAll));
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.message).toBe(
      `blob ${desc.digest} from ${f.host}/a/b: the connection broke after 100000 of ${data.length} bytes (ECONNRESET)`,
    );
    c.close();
  });

  it('retries a 500, and gives up on a registry that keeps failing', async () => {
    let calls = 0;
    const f = await start((req, res) => {
      if (req.url?.includes('/manifests/ok')) {
        calls++;
        if (calls === 1) {
          res.writeHead(500).end();
          return;
        }
        res.writeHead(200, { 'content-type': MediaType.ociManifest }).end(manifest);
      } else if (req.url?.includes('/manifests/')) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'down for maintenance' }] }));
      }
    });
    const c = client(f.host);
    expect((await c.getManifest('a/b', 'ok', [])).body.equals(manifest)).toBe(true);
    expect(calls).toBe(2);
    const error = await failure(c.getManifest('a/b', 'down', []));
    expect(error.message).toBe(`registry ${f.host} failed (503 UNAVAILABLE) on a/b:down: down for maintenance`);
    expect(f.requests.filter((r) => r.url.endsWith('/down'))).toHaveLength(3);
    c.close();
  });

  it('waits for Retry-After on 429, at most 3 attempts', async () => {
    let calls = 0;
    const f = await start((req, res) => {
      if (req.url?.includes('/manifests/once')) {
        calls++;
        if (calls === 1) res.writeHead(429, { 'retry-after': '1' }).end();
        else res.writeHead(200, { 'content-type': MediaType.ociManifest }).end(manifest);
      } else if (req.url?.includes('/manifests/')) {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }));
      }
    });
    const c = client(f.host);
    const before = Date.now();
    await c.getManifest('a/b', 'once', []);
    expect(Date.now() - before).toBeGreaterThanOrEqual(950);
    const error = await failure(c.getManifest('a/b', 'always', []));
    expect(error.message).toBe(
      `registry ${f.host} is rate limiting requests for a/b:always (429 TOOMANYREQUESTS); gave up after 3 attempts; it asks to wait 1 s`,
    );
    expect(f.requests.filter((r) => r.url.endsWith('/always'))).toHaveLength(3);
    c.close();
  });

  it('follows a blob redirect to another host, without the Authorization header', async () => {
    const storage = await start((req, res) => {
      if (req.url?.startsWith('/storage/')) res.writeHead(200, { 'content-length': String(data.length) }).end(data);
    });
    const f = await start((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
        return;
      }
      if (req.url?.includes('/blobs/')) {
        res.writeHead(307, { location: `http://${storage.host}/storage/${hexOf(desc.digest)}?signature=s3cr3t` }).end();
      }
    });
    const c = client(f.host, { credentials: { username: 'u', password: 'p' } });
    expect((await readAll(await c.getBlob('a/b', desc))).equals(data)).toBe(true);
    expect(f.requests.find((r) => r.url.includes('/blobs/'))?.authorization).toMatch(/^Basic /);
    const fetched = storage.requests.find((r) => r.url.startsWith('/storage/'));
    expect(fetched).toBeDefined();
    expect(fetched?.authorization).toBeUndefined();
    c.close();
  });

  it('refuses a manifest over 4 MiB, announced or not', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const f = await start((req, res) => {
      if (req.url?.includes('/manifests/announced')) {
        res.writeHead(200, { 'content-length': String(big.length), 'content-type': MediaType.ociManifest }).end(big);
      } else if (req.url?.includes('/manifests/')) {
        res.writeHead(200, { 'transfer-encoding': 'chunked', 'content-type': MediaType.ociManifest }).end(big);
      }
    });
    const c = client(f.host);
    expect((await failure(c.getManifest('a/b', 'announced', []))).message).toBe(
      `manifest a/b:announced from ${f.host} is too large (4194305 bytes; the limit is 4194304)`,
    );
    expect((await failure(c.getManifest('a/b', 'streamed', []))).message).toBe(
      `manifest a/b:streamed from ${f.host} is too large (more than 4194304 bytes)`,
    );
    c.close();
  });

  it('falls back to the tag schema for referrers when the API answers 404', async () => {
    const f = await start((req, res) => {
      if (req.url?.includes('/referrers/') || req.url?.includes('/manifests/')) res.writeHead(404).end();
    });
    const c = client(f.host);
    const subject = digestOf('subject');
    expect((await c.referrers('a/b', subject)).manifests).toEqual([]);
    expect(f.requests.map((r) => r.url)).toContain(`/v2/a/b/manifests/sha256-${hexOf(subject)}`);
    c.close();
  });
});

describe.skipIf(need.skip)('a registry with htpasswd auth', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd', users: { alice: 'wonderland' } });
  });
  afterAll(async () => registry?.stop());

  it('says that credentials are needed, then that they are wrong', async () => {
    const anonymous = client(registry.host);
    const error = await failure(anonymous.getManifest('team/app', 'v1', []));
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.message).toBe(`registry ${registry.host} requires credentials for team/app (401 UNAUTHORIZED)`);
    expect((error as RegistryError).hint).toBe(`log in with: hutch login ${registry.host}`);
    const wrong = client(registry.host, { credentials: { username: 'alice', password: 'nope' } });
    expect((await failure(wrong.ping())).message).toBe(
      `registry ${registry.host} refused the credentials (401 UNAUTHORIZED)`,
    );
    expect((await failure(wrong.getManifest('team/app', 'v1', []))).message).toBe(
      `registry ${registry.host} refused the credentials for team/app (401 UNAUTHORIZED)`,
    );
    anonymous.close();
    wrong.close();
  });

  it('works with the right credentials', async () => {
    const c = client(registry.host, { credentials: { username: 'alice', password: 'wonderland' } });
    await c.ping();
    const image = await pushImage(c, 'team/app', 'v1');
    expect((await c.getManifest('team/app', 'v1', [])).digest).toBe(image.digest);
    expect((await readAll(await c.getBlob('team/app', image.layerDesc))).equals(image.layer)).toBe(true);
    c.close();
  });
});

describe.skipIf(need.skip)('a registry with token auth', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({
      auth: 'token',
      users: { alice: 'wonderland' },
      anonymousPull: true,
      refreshTokens: { 'refresh-alice': 'alice' },
    });
  });
  afterAll(async () => registry?.stop());

  it('pushes with credentials, asking for pull,push', async () => {
    const c = client(registry.host, { credentials: { username: 'alice', password: 'wonderland' } });
    const image = await pushImage(c, 'team/app', 'v1');
    const requests = registry.tokenServer?.requests ?? [];
    const push = requests.find((r) => r.scopes.includes('repository:team/app:pull,push'));
    expect(push).toMatchObject({ method: 'GET', user: 'alice', service: 'hutch-test-registry', status: 200 });
    // The pull,push token serves the reads that follow: no new token for them.
    const count = requests.length;
    await c.getManifest('team/app', 'v1', []);
    await c.getManifest('team/app', image.digest, []);
    expect(requests.length).toBe(count);
    // A mount asks for pull on the source repository too.
    expect(await c.mountBlob('team/copy', image.layerDesc.digest, 'team/app')).toBe(true);
    expect(requests.at(-1)?.scopes).toEqual(['repository:team/app:pull', 'repository:team/copy:pull,push']);
    c.close();
  });

  it('pulls anonymously, and cannot push so', async () => {
    const c = client(registry.host);
    const got = await c.getManifest('team/app', 'v1', []);
    expect(got.mediaType).toBe(MediaType.ociManifest);
    const anonymous = (registry.tokenServer?.requests ?? []).filter((r) => r.user === undefined);
    expect(anonymous.at(-1)).toMatchObject({
      scopes: ['repository:team/app:pull'],
      granted: ['repository:team/app:pull'],
    });
    const error = await failure(pushImage(c, 'team/app', 'v9'));
    expect(error.message).toBe(`registry ${registry.host} requires credentials for team/app (401 UNAUTHORIZED)`);
    c.close();
  });

  it('reports a wrong password as refused credentials', async () => {
    const c = client(registry.host, { credentials: { username: 'alice', password: 'nope' } });
    const error = await failure(c.getManifest('team/app', 'v1', []));
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.message).toBe(`registry ${registry.host} refused the credentials for team/app (401 UNAUTHORIZED)`);
    expect(error.message).not.toContain('nope');
    expect((await failure(c.ping())).message).toBe(
      `registry ${registry.host} refused the credentials (401 UNAUTHORIZED)`,
    );
    c.close();
  });

  it('gets tokens with an identity token (OAuth2 refresh-token grant)', async () => {
    const c = client(registry.host, { credentials: { identitytoken: 'refresh-alice' } });
    await pushImage(c, 'team/other', 'v1');
    const posted = (registry.tokenServer?.requests ?? []).filter((r) => r.method === 'POST');
    expect(posted.at(-1)).toMatchObject({ grantType: 'refresh_token', user: 'alice', status: 200 });
    expect(posted.some((r) => r.scopes.includes('repository:team/other:pull,push'))).toBe(true);
    c.close();
  });
});
