import { isIP } from 'node:net';

/**
 * The simulated controllers only ever talk to loopback: any other host is treated as
 * unresolvable, which is also how a real cluster without egress sees it.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** Go's resolver error for a host the sandbox will not contact. */
export function unreachableHostMessage(url: string, hostname: string): string {
  return `Get "${url}": dial tcp: lookup ${hostname}: no such host`;
}
