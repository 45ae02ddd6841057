// Sizes and ages as podman prints them through docker/go-units.

/** Go's zero time (ms since the epoch): podman's date for what has none. */
export const GO_ZERO_TIME = Date.parse('0001-01-01T00:00:00Z');
/**
 * go-units HumanSizeWithPrecision(size, 3) with the space podman's listings
 * put before the unit: decimal units, three significant digits ("4.5 MB", "824 kB").
 */
export function humanSize(bytes: number): string {
  const [number, unit] = scaled(bytes);
  return `${goPrecision(number, 3)} ${unit}`;
}

/** go-units HumanSizeWithPrecision(size, precision) as it is: no space ("2.005MB", "12B"); HumanSize is precision 4. */
export function goHumanSize(bytes: number, precision = 4): string {
  const [number, unit] = scaled(bytes);
  return `${goPrecision(number, precision)}${unit}`;
}

function scaled(bytes: number): [number, string] {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return [size, units[i] as string];
}

/** Go's %.Ng. */
function goPrecision(value: number, precision: number): string {
  const text = value.toPrecision(precision);
  const [mantissa, exponent] = text.split('e') as [string, string | undefined];
  const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
  if (exponent === undefined) return trimmed;
  const e = Number(exponent);
  return `${trimmed}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** go-units HumanDuration: "Less than a second", "About a minute", "2 days", "3 weeks"… */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3600000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3600000 / 24 / 365)} years`;
}
