/**
 * `hutch version`: podman's shape (a Client section: Version, APIVersion,
 * GoVersion, GitCommit, BuiltTime, Built, OsArch, Os) with hutch's facts:
 * its version (it has no separate API: the same), the node that runs it
 * where podman names its Go, the time the running bundle was written.
 */
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hostPlatform } from '../image/oci.js';
import { version } from '../package.js';

export interface ClientVersion {
  APIVersion: string;
  Version: string;
  GoVersion: string;
  GitCommit: string;
  BuiltTime: string;
  /** Unix seconds; 0 when unknown. */
  Built: number;
  OsArch: string;
  Os: string;
}

export interface VersionReport {
  Client: ClientVersion;
}

export function versionReport(): VersionReport {
  const platform = hostPlatform();
  let built = 0;
  try {
    built = Math.floor(statSync(fileURLToPath(import.meta.url)).mtimeMs / 1000);
  } catch {
    // Not from a file (an eval, a test runner's transform): podman's 0.
  }
  return {
    Client: {
      APIVersion: version,
      Version: version,
      GoVersion: `node ${process.version}`,
      GitCommit: '',
      BuiltTime: ansic(new Date(built * 1000)),
      Built: built,
      OsArch: `${platform.os}/${platform.architecture}`,
      Os: platform.os,
    },
  };
}

/** Go's time.ANSIC in local time: `Thu Jan  1 00:00:00 1970`. */
function ansic(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${days[date.getDay()]} ${months[date.getMonth()]} ${String(date.getDate()).padStart(2, ' ')} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${date.getFullYear()}`
  );
}
