/**
 * What the network tests share: servers on the host's loopback, requests to
 * published ports, the helper processes a sandbox's containers left running,
 * and a UDP echo server run inside a busybox container (Debian's busybox has
 * no UDP server applet: the host's node runs there, /usr bound read-only).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An HTTP server on 127.0.0.1 answering `body` to every request. */
export async function loopbackServer(body: string): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

/**
 * GET http://127.0.0.1:PORT/PATH from the host; retried until timeoutMs while
 * the container and its forwarder come up (a loaded machine takes seconds).
 */
export async function hostGet(port: number, path = '/', timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
      return await response.text();
    } catch (error) {
      if (Date.now() >= deadline) throw new Error(`GET 127.0.0.1:${port}${path}: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Sends one datagram to 127.0.0.1:PORT and resolves with the first reply (retries: UDP may be dropped). */
export async function udpRoundTrip(port: number, text: string, tries = 20): Promise<string> {
  const socket = createSocket('udp4');
  try {
    return await new Promise<string>((resolve, reject) => {
      let sent = 0;
      const send = () => {
        if (sent++ >= tries) {
          clearInterval(timer);
          reject(new Error(`no UDP reply from 127.0.0.1:${port}`));
          return;
        }
        socket.send(text, port, '127.0.0.1');
      };
      const timer = setInterval(send, 250);
      socket.once('message', (message) => {
        clearInterval(timer);
        resolve(message.toString());
      });
      send();
    });
  } finally {
    socket.close();
  }
}

/** The command line of every process of ours, by pid. */
export function processes(): Map<number, string> {
  const result = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      result.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim());
    } catch {
      // gone meanwhile
    }
  }
  return result;
}

/**
 * slirp4netns and pasta processes (and pasta's watchers) that belong to a
 * sandbox: their command lines name its runtime directory (API socket, pid
 * file) or, for a watcher, one of the given container pids.
 */
export function networkHelpers(runtime: string, containerPids: number[] = []): string[] {
  return [...processes().values()].filter(
    (cmd) =>
      (/(^|\/)(slirp4netns|pasta) /.test(cmd) && cmd.includes(runtime)) ||
      containerPids.some((pid) => cmd.includes(`tail --pid=${pid} `)),
  );
}

/** Polls until no helper of the sandbox is left (they die once the container is reaped); returns what is left. */
export async function helpersGone(
  runtime: string,
  containerPids: number[] = [],
  timeoutMs = 15_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let left = networkHelpers(runtime, containerPids);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = networkHelpers(runtime, containerPids);
  }
  return left;
}

/**
 * `hutch run` arguments for a UDP echo server on container port PORT: the
 * host's node, run through the host's dynamic loader from /usr (bound
 * read-only), logs `got TEXT from ADDRESS` and answers `echo:TEXT`.
 */
export function udpEchoArgs(port: number): string[] {
  const script = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>{console.log('got '+m+' from '+r.address);s.send('echo:'+m,r.port,r.address)});s.bind(${port})`;
  return [
    '-v',
    '/usr:/usr:ro',
    'busybox',
    '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
    '--library-path',
    '/usr/lib/x86_64-linux-gnu',
    process.execPath,
    '-e',
    script,
  ];
}
