/**
 * `--tz`: the container's /etc/localtime, as podman sets it: a zone of the
 * host's /usr/share/zoneinfo (`--tz Europe/Paris`), or the host's own
 * /etc/localtime (`--tz local`). The zone is checked at create; at each start
 * its file is copied into the container's userdata/ and bind-mounted, so the
 * container never sees the host's zoneinfo tree (TZ is not set, as podman
 * leaves it).
 */
import { copyFileSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { HutchError } from '../../errors.js';
import type { BindMount } from './spec.js';

const ZONEINFO = '/usr/share/zoneinfo';

/** The host file a --tz value names; HutchError (podman's words) when there is none. */
export function timezoneFile(tz: string): string {
  const path = tz === 'local' ? '/etc/localtime' : normalize(join(ZONEINFO, tz));
  if (tz !== 'local' && (isAbsolute(tz) || !path.startsWith(`${ZONEINFO}/`))) {
    throw new HutchError(`invalid --tz ${JSON.stringify(tz)}: not a zone of ${ZONEINFO}`, {
      hint: 'give a zone such as Europe/Paris or UTC, or local for the host’s',
    });
  }
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // reported below
  }
  if (!isFile) {
    throw new HutchError(`running container create option: stat ${path}: no such file or directory`, {
      hint: `ls ${ZONEINFO} lists the zones this host knows`,
    });
  }
  return path;
}

/** Copies the zone into userdata and returns the bind mount of /etc/localtime (at each start). */
export function localtimeMount(tz: string, userdata: string): BindMount {
  const copy = join(userdata, 'localtime');
  copyFileSync(timezoneFile(tz), copy);
  return { type: 'bind', source: copy, destination: '/etc/localtime', readonly: false, recursive: false, options: [] };
}
