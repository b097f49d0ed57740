import { ParsedRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { lookup } from 'dns/promises';
import { BlockList, isIP } from 'net';

type Subnet = [address: string, prefix: number];

/** Loopback, link-local (cloud metadata services live there) and "this network". */
const LOCAL_V4: Subnet[] = [
  ['0.0.0.0', 8],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
];
const PRIVATE_V4: Subnet[] = [
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 3],
];

/**
 * The IPv4 subnets, also as IPv4-compatible (`::a.b.c.d`) and NAT64 (`64:ff9b::/96`)
 * IPv6 addresses; BlockList itself matches IPv4-mapped ones (`::ffff:a.b.c.d`, in any
 * spelling) against the IPv4 rules.
 */
function blockList(v4: Subnet[], v6: Subnet[]): BlockList {
  const list = new BlockList();
  for (const [address, prefix] of v4) {
    list.addSubnet(address, prefix, 'ipv4');
    const [a, b, c, d] = address.split('.').map(Number);
    const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
    list.addSubnet(`::${hex}`, 96 + prefix, 'ipv6');
    list.addSubnet(`64:ff9b::${hex}`, 96 + prefix, 'ipv6');
  }
  for (const [address, prefix] of v6) list.addSubnet(address, prefix, 'ipv6');
  return list;
}

const LOCAL = blockList(LOCAL_V4, [
  ['::', 127], // :: and ::1
  ['fe80::', 10],
]);
const NON_PUBLIC = blockList(
  [...LOCAL_V4, ...PRIVATE_V4],
  [
    ['::', 127],
    ['fe80::', 10],
    ['fc00::', 7],
    ['ff00::', 8],
  ],
);

function check(list: BlockList, address: string): boolean {
  const version = isIP(address);
  return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
}

/** Loopback, link-local or unspecified, however the address is spelled. */
export function isLocalAddress(address: string): boolean {
  return check(LOCAL, address);
}

/** Not a public address: local, private (RFC 1918, CGNAT, ULA) or multicast. */
export function isNonPublicAddress(address: string): boolean {
  return check(NON_PUBLIC, address);
}

/** A URL's host, lower case, an IPv6 address without its brackets. */
export function hostnameOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
}

/** The addresses a host stands for: itself when it is an IP, else what DNS answers. */
export async function addressesOf(hostname: string): Promise<string[]> {
  if (isIP(hostname)) return [hostname];
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    return ['127.0.0.1'];
  }
  return (await lookup(hostname, { all: true })).map(a => a.address);
}

/** Whether a host is listed in `patterns` (`name` or `*.domain`). */
export function hostMatches(hostname: string, patterns: string[]): boolean {
  return patterns.some(pattern => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.')
      ? hostname.endsWith(p.slice(1)) || hostname === p.slice(2)
      : hostname === p;
  });
}

/**
 * Why a host entered at runtime must not be used: it is, or resolves to, a loopback or
 * link-local address (unless listed in `allowedHosts`). A host that does not resolve is
 * let through: nothing could reach it either.
 */
export async function localHostProblem(
  hostname: string,
  allowedHosts: string[],
): Promise<string | undefined> {
  if (hostMatches(hostname, allowedHosts)) return undefined;
  let addresses: string[];
  try {
    addresses = await addressesOf(hostname);
  } catch {
    return undefined;
  }
  const local = addresses.find(isLocalAddress);
  return local
    ? `host "${hostname}" is a loopback or link-local address (${local}); allow it with gitops.registration.dangerouslyAllowHosts`
    : undefined;
}

/** {@link localHostProblem} for a URL; one that does not parse is the caller's to refuse. */
export async function localAddressProblem(
  rawUrl: string,
  allowedHosts: string[],
): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return undefined;
  }
  return localHostProblem(hostnameOf(url), allowedHosts);
}

/** {@link localHostProblem} for a delivery repository, scp-like Git URLs included. */
export function repositoryHostProblem(
  repository: ParsedRepositoryUrl,
  allowedHosts: string[],
): Promise<string | undefined> {
  // `host` carries a port when it is not the default: `[::1]:8443`, `127.0.0.1:7101`.
  const hostname = repository.host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return localHostProblem(hostname, allowedHosts);
}
