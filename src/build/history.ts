/**
 * The `created_by` of each history entry, as buildah and Docker's classic
 * builder write them: `/bin/sh -c #(nop) INSTRUCTION …` for steps that only
 * change the config, the command itself for RUN (prefixed `|N K=V …` with the
 * build ARGs it saw), and `COPY file:HASH in DEST` for COPY and ADD.
 */
export function nopCreatedBy(text: string): string {
  return `/bin/sh -c #(nop) ${text}`;
}

export function runCreatedBy(args: readonly string[], buildArgs: readonly [string, string][]): string {
  const command = args.join(' ');
  if (buildArgs.length === 0) return command;
  return `|${buildArgs.length} ${buildArgs.map(([k, v]) => `${k}=${v}`).join(' ')} ${command}`;
}

export function copyCreatedBy(
  instruction: 'COPY' | 'ADD',
  what: 'file' | 'dir' | 'multi',
  hash: string,
  dest: string,
): string {
  return nopCreatedBy(`${instruction} ${what}:${hash.replace(/^sha256:/, '')} in ${dest} `);
}
