/** Local accounts, as /etc/passwd names them. */
import { readFileSync } from 'node:fs';

/** The name /etc/passwd gives `uid`; undefined when it has none (or there is no /etc/passwd). */
export function passwdName(uid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields.length >= 3 && Number(fields[2]) === uid && fields[2] !== '') return fields[0];
    }
  } catch {
    // no /etc/passwd: the caller falls back to something else
  }
  return undefined;
}
