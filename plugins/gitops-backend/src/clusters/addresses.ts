import { ParsedRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { lookup as lookupCallback, LookupAddress } from 'dns';
import { lookup } from 'dns/promises';
import { BlockList, isIP, LookupFunction } from 'net';

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

/**
 * Which addresses a connection may not reach, checked when it is made (not only when the
 * URL was accepted): a host name that resolved to a public address at registration may
 * resolve to 127.0.0.1 or 169.254.169.254 later (DNS rebinding).
 */
export interface AddressPolicy {
  /** `local`: loopback, link-local, unspecified; `non-public`: also private and multicast. */
  refuse: 'local' | 'non-public';
  /** Hosts (`name` or `*.domain`) connected to whatever they resolve to. */
  allowedHosts: string[];
  /** The configuration key that allows a host, named in the refusal. */
  allowKey: string;
}

/** Why a connection to `address` (what `hostname` resolved to) is refused, or undefined. */
export function addressRefusal(
  hostname: string,
  address: string,
  policy: AddressPolicy,
): string | undefined {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (hostMatches(host, policy.allowedHosts)) return undefined;
  const refused =
    policy.refuse === 'local'
      ? isLocalAddress(address)
      : isNonPublicAddress(address);
  return refused
    ? `host "${host}" resolves to ${
        policy.refuse === 'local' ? 'a loopback or link-local' : 'a non-public'
      } address (${address}) at connect time; allow it with ${policy.allowKey}`
    : undefined;
}

/** Refuses a connection, as a DNS failure would (the request fails with this message). */
export class RefusedAddressError extends Error {
  readonly code = 'EREFUSEDADDRESS';
  constructor(message: string) {
    super(message);
    this.name = 'RefusedAddressError';
  }
}

/**
 * A `lookup` for `net.connect` (an Agent's or a request's option) that resolves as Node
 * does and fails when any address the host resolves to is refused by the policy: the
 * check and the connection use the same answer, so there is no window to rebind in.
 * Node does not call `lookup` for an IP literal: check those with {@link addressRefusal}.
 */
export function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    lookupCallback(
      hostname,
      { ...options, all: true },
      (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
        if (error) {
          callback(error, '', 0);
          return;
        }
        for (const { address } of addresses) {
          const refusal = addressRefusal(hostname, address, policy);
          if (refusal) {
            callback(new RefusedAddressError(refusal), '', 0);
            return;
          }
        }
        if (options.all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(
            null,
            addresses,
          );
        } else if (addresses.length === 0) {
          callback(
            Object.assign(new Error(`no address for ${hostname}`), {
              code: 'ENOTFOUND',
            }),
            '',
            0,
          );
        } else {
          callback(null, addresses[0].address, addresses[0].family);
        }
      },
    );
  };
}

/**
 * The refusal of a URL whose host is an IP literal (or `localhost`, which Node resolves
 * through {@link guardedLookup} anyway), checked before connecting.
 */
export function literalHostRefusal(
  url: URL,
  policy: AddressPolicy | undefined,
): string | undefined {
  if (!policy) return undefined;
  const hostname = hostnameOf(url);
  return isIP(hostname)
    ? addressRefusal(hostname, hostname, policy)
    : undefined;
}
