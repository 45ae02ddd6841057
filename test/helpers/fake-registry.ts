/**
 * A registry that lies, for the bad-input tests: it serves one image (its
 * manifest, config and blobs, copied from a real registry) and can corrupt a
 * blob, stop in the middle of one, or send it slowly. Listens on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeImage {
  repository: string;
  tag: string;
  manifest: { mediaType: string; body: Buffer };
  blobs: Map<string, Buffer>;
}

export interface Misbehaviour {
  /** Flip a byte in the middle of this blob (same length). */
  corrupt?: string;
  /** Send only the first half of this blob, then close the connection. */
  truncate?: string;
  /** Send blobs at about this many bytes a second. */
  bytesPerSecond?: number;
}

export interface FakeRegistry {
  host: string;
  /** Resolves once the registry has sent at least `bytes` of the blob in one response (an event to cut a pull at). */
  sent(digest: string, bytes: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startFakeRegistry(image: FakeImage, misbehaviour: Misbehaviour): Promise<FakeRegistry> {
  const waiting: { digest: string; bytes: number; resolve: () => void }[] = [];
  const progress = (digest: string, at: number) => {
    for (const w of [...waiting]) {
      if (w.digest !== digest || at < w.bytes) continue;
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  };
  const server: Server = createServer((request, response) => {
    const url = request.url ?? '';
    if (url === '/v2/' || url === '/v2') {
      response.writeHead(200, { 'Docker-Distribution-Api-Version': 'registry/2.0' }).end('{}');
      return;
    }
    const manifest = `/v2/${image.repository}/manifests/`;
    if (url.startsWith(manifest)) {
      response.writeHead(200, {
        'Content-Type': image.manifest.mediaType,
        'Content-Length': image.manifest.body.length,
      });
      response.end(request.method === 'HEAD' ? undefined : image.manifest.body);
      return;
    }
    const blobPrefix = `/v2/${image.repository}/blobs/`;
    const digest = url.startsWith(blobPrefix) ? url.slice(blobPrefix.length) : '';
    const blob = image.blobs.get(digest);
    if (blob === undefined) {
      response.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
      return;
    }
    let body = blob;
    if (misbehaviour.corrupt === digest) {
      body = Buffer.from(blob);
      const middle = Math.floor(body.length / 2);
      body[middle] = (body[middle] as number) ^ 0xff;
    }
    response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    if (request.method === 'HEAD') return void response.end();
    const limit = misbehaviour.truncate === digest ? Math.floor(body.length / 2) : body.length;
    const chunk =
      misbehaviour.bytesPerSecond === undefined ? limit : Math.max(1, Math.floor(misbehaviour.bytesPerSecond / 10));
    let at = 0;
    const send = () => {
      if (at >= limit) {
        if (limit < body.length) response.destroy();
        else response.end();
        return;
      }
      const next = Math.min(limit, at + chunk);
      response.write(body.subarray(at, next));
      at = next;
      progress(digest, at);
      if (misbehaviour.bytesPerSecond === undefined) send();
      else setTimeout(send, 100);
    };
    send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    sent: (digest, bytes) => new Promise<void>((resolve) => waiting.push({ digest, bytes, resolve })),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Copies an image (manifest and blobs) out of a real registry, for startFakeRegistry. */
export async function fetchImage(registryUrl: string, repository: string, tag: string): Promise<FakeImage> {
  const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, { headers: { Accept: accept } });
  const body = Buffer.from(await response.arrayBuffer());
  const manifest = JSON.parse(body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  const blobs = new Map<string, Buffer>();
  for (const digest of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
    const blob = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`);
    blobs.set(digest, Buffer.from(await blob.arrayBuffer()));
  }
  return {
    repository,
    tag,
    manifest: { mediaType: response.headers.get('content-type') ?? '', body },
    blobs,
  };
}
