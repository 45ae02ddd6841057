/** IPv4 networks as hutch's network code needs them: parse, format, contain, overlap. */
import { isIPv4 } from 'node:net';

export interface Cidr {
  /** The network address (host bits cleared). */
  network: string;
  prefix: number;
}

export function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}

export function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `10.0.2.0/24` with a prefix in [min, max]; undefined for anything else. Host bits are cleared. */
export function parseCidr(text: string, min = 1, max = 25): Cidr | undefined {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text.trim());
  if (match === null || !isIPv4(match[1] as string)) return undefined;
  const prefix = Number(match[2]);
  if (prefix < min || prefix > max) return undefined;
  return { network: numberToIpv4((ipv4ToNumber(match[1] as string) & maskOf(prefix)) >>> 0), prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${cidr.network}/${cidr.prefix}`;
}

/** The address offset from the network address (offset 2 of 10.89.0.0/24 is 10.89.0.2). */
export function addressAt(cidr: Cidr, offset: number): string {
  return numberToIpv4((ipv4ToNumber(cidr.network) + offset) >>> 0);
}

export function sizeOf(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const mask = maskOf(Math.min(a.prefix, b.prefix));
  return (ipv4ToNumber(a.network) & mask) >>> 0 === (ipv4ToNumber(b.network) & mask) >>> 0;
}

export function contains(cidr: Cidr, address: string): boolean {
  const mask = maskOf(cidr.prefix);
  return (ipv4ToNumber(address) & mask) >>> 0 === ipv4ToNumber(cidr.network);
}
