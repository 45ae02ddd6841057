/**
 * iproute2 inside a network namespace: `nsenter --net=/proc/PID/ns/net ip
 * -batch -`, run from the session (node is root of its user namespace, which
 * owns every namespace hutch makes; nsenter is single-threaded, so it may
 * setns where node cannot). One exec per batch of commands.
 */
import { spawn } from 'node:child_process';
import { delimiter } from 'node:path';
import { HutchError } from '../../errors.js';
import { findOnPath } from '../../host/idmap.js';

/** ip lives in /usr/sbin or /sbin, which an ordinary user's PATH often lacks. */
export function tool(name: string, debianPackage: string): string {
  const path = findOnPath(name, [process.env.PATH ?? '', '/usr/sbin', '/sbin', '/usr/bin', '/bin'].join(delimiter));
  if (path === undefined) {
    throw new HutchError(`${name} not found`, { hint: `install ${debianPackage} (apt-get install ${debianPackage})` });
  }
  return path;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCommand(path: string, args: string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** The network namespace file of a process, as nsenter takes it. */
export function netnsOf(pid: number): string {
  return `/proc/${pid}/ns/net`;
}

/**
 * Runs ip commands (one per line, without the leading `ip`) in a network
 * namespace, in order; stops at the first that fails and throws with its
 * message, naming what was being done.
 */
export async function ipBatch(netns: string, commands: string[], what: string): Promise<void> {
  if (commands.length === 0) return;
  const result = await runCommand(
    tool('nsenter', 'util-linux'),
    [`--net=${netns}`, '--', tool('ip', 'iproute2'), '-batch', '-'],
    `${commands.join('\n')}\n`,
  );
  if (result.code !== 0) {
    const message = result.stderr
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .slice(-2)
      .join('; ');
    throw new HutchError(`${what}: ${message || `nsenter/ip exited with status ${result.code}`}`);
  }
}

/** Like ipBatch, but every failure is ignored (teardown of what may already be gone). */
export async function ipBatchQuiet(netns: string, commands: string[]): Promise<void> {
  try {
    await runCommand(
      tool('nsenter', 'util-linux'),
      [`--net=${netns}`, '--', tool('ip', 'iproute2'), '-force', '-batch', '-'],
      `${commands.join('\n')}\n`,
    );
  } catch {
    // nothing to undo
  }
}

export function unshareTool(): string {
  return tool('unshare', 'util-linux');
}
