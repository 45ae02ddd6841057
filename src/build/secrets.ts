/**
 * `--secret id=ID,src=FILE` (or `env=VAR`, or `type=env`) as podman build
 * takes it: read once when the build starts, so a missing file is an error
 * before any step runs. The values stay in memory; RUN --mount=type=secret
 * gets them as a file of its own or a variable.
 */
import { readFileSync } from 'node:fs';
import { HutchError, messageOf } from '../errors.js';
import type { BuildSecret } from './steps/run-mounts.js';

export function readSecrets(specs: readonly string[], env: NodeJS.ProcessEnv): Map<string, BuildSecret> {
  const secrets = new Map<string, BuildSecret>();
  for (const spec of specs) {
    const fields = new Map<string, string>();
    for (const part of spec.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw badSecret(spec, `${JSON.stringify(part)} is not KEY=VALUE`);
      fields.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
    }
    const id = fields.get('id');
    if (id === undefined || id === '') throw badSecret(spec, 'id= is required');
    const type = fields.get('type') ?? (fields.has('env') ? 'env' : 'file');
    if (type === 'env') {
      const name = fields.get('env') ?? fields.get('src') ?? id;
      const value = env[name];
      if (value === undefined) throw badSecret(spec, `the environment has no ${name}`);
      secrets.set(id, { value: Buffer.from(value) });
    } else if (type === 'file') {
      const src = fields.get('src') ?? fields.get('source');
      if (src === undefined) throw badSecret(spec, 'src=FILE is required');
      try {
        secrets.set(id, { value: readFileSync(src) });
      } catch (error) {
        throw badSecret(spec, `read ${src}: ${messageOf(error)}`);
      }
    } else throw badSecret(spec, `type=${type}: use file or env`);
  }
  return secrets;
}

function badSecret(spec: string, why: string): HutchError {
  return new HutchError(`invalid --secret ${JSON.stringify(spec)}: ${why}`, {
    hint: 'write --secret id=NAME,src=FILE or --secret id=NAME,env=VARIABLE',
  });
}
