/** Small facts about host programs and devices, shared by the driver probes. */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { messageOf } from '../errors.js';

/** The first line of `program --version` that names it (else the first), or why there is none. 2 s at most. */
export function versionLine(path: string, name: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: 2000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const lines = `${stdout}\n${stderr}`
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      const line = lines.find((l) => l.includes(name)) ?? lines[0];
      if (line !== undefined && (error === null || error.killed !== true)) resolve(line);
      else
        resolve(
          error !== null ? `version unknown (${path} --version: ${error.message.split('\n')[0]})` : 'version unknown',
        );
    });
  });
}

/** read-write access to a device node, as this process has it (access(2)). */
export function deviceAccess(path: string): { ok: boolean; detail: string } {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return { ok: true, detail: `${path} is read-write` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, detail: `${path} does not exist` };
    return { ok: false, detail: `${path} is not read-write for you (${code ?? messageOf(error)})` };
  }
}
