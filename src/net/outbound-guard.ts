import dns from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/**
 * Requests onair makes to URLs its users give it (webhook endpoints) must not reach the machine
 * itself or its private network (SSRF): the check runs on the URL, on every address its name
 * resolves to, and the connection then goes to an address that was checked, so a second DNS
 * answer cannot swap in 127.0.0.1 between check and connect (DNS rebinding).
 *
 * Address ranges follow the IANA special-purpose registries (RFC 6890 and updates): anything not
 * marked globally reachable is refused, as is IPv6 outside global unicast 2000::/3.
 */

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'unique-local'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved';

const CLASS_LABEL: Record<Exclude<AddressClass, 'public'>, string> = {
  loopback: 'a loopback address (this machine)',
  private: 'a private network address (RFC 1918)',
  shared: 'a carrier-grade NAT address (RFC 6598)',
  'link-local': 'a link-local address (this includes cloud metadata services)',
  'unique-local': 'a unique-local IPv6 address (RFC 4193)',
  unspecified: 'the unspecified address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  documentation: 'a documentation-only address',
  benchmarking: 'a benchmarking address (RFC 2544)',
  reserved: 'a reserved address',
};

type Range = readonly [base: bigint, prefix: number, cls: AddressClass | 'embedded-v4'];

function v4(text: string): bigint {
  return BigInt(parseIPv4(text)!);
}

// First match wins: narrower ranges come before the ranges that contain them.
const V4_RANGES: readonly Range[] = [
  [v4('0.0.0.0'), 8, 'unspecified'], // "this network" (RFC 791); 0.0.0.0 reaches this host on Linux
  [v4('10.0.0.0'), 8, 'private'],
  [v4('100.64.0.0'), 10, 'shared'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('169.254.0.0'), 16, 'link-local'], // 169.254.169.254: cloud instance metadata
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.0.0.0'), 24, 'reserved'], // IETF protocol assignments
  [v4('192.0.2.0'), 24, 'documentation'],
  [v4('192.88.99.0'), 24, 'reserved'], // deprecated 6to4 relay anycast (RFC 7526)
  [v4('192.168.0.0'), 16, 'private'],
  [v4('198.18.0.0'), 15, 'benchmarking'],
  [v4('198.51.100.0'), 24, 'documentation'],
  [v4('203.0.113.0'), 24, 'documentation'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('255.255.255.255'), 32, 'broadcast'],
  [v4('240.0.0.0'), 4, 'reserved'],
];

function v6(text: string): bigint {
  return parseIPv6(text)!;
}

const V6_RANGES: readonly Range[] = [
  [0n, 128, 'unspecified'], // ::
  [1n, 128, 'loopback'], // ::1
  [v6('::ffff:0:0'), 96, 'embedded-v4'], // IPv4-mapped
  [v6('::ffff:0:0:0'), 96, 'embedded-v4'], // IPv4-translated (RFC 2765)
  [0n, 96, 'embedded-v4'], // IPv4-compatible (deprecated, RFC 4291 2.5.5.1): ::7f00:1
  [v6('64:ff9b::'), 96, 'embedded-v4'], // NAT64 well-known prefix (RFC 6052)
  [v6('64:ff9b:1::'), 48, 'reserved'], // local-use NAT64 (RFC 8215)
  [v6('100::'), 64, 'reserved'], // discard-only (RFC 6666)
  [v6('2001:db8::'), 32, 'documentation'],
  [v6('2001::'), 23, 'reserved'], // IETF protocol assignments, Teredo 2001::/32 included
  [v6('2002::'), 16, 'embedded-v4'], // 6to4 (RFC 3056): the IPv4 address is bits 16-47
  [v6('3fff::'), 20, 'documentation'], // RFC 9637
  [v6('5f00::'), 16, 'reserved'], // SRv6 SIDs (RFC 9602)
  [v6('fc00::'), 7, 'unique-local'],
  [v6('fe80::'), 10, 'link-local'],
  [v6('fec0::'), 10, 'reserved'], // deprecated site-local
  [v6('ff00::'), 8, 'multicast'],
];

const GLOBAL_UNICAST_V6: readonly [bigint, number] = [v6('2000::'), 3];

function inRange(value: bigint, bits: number, base: bigint, prefix: number): boolean {
  const shift = BigInt(bits - prefix);
  return value >> shift === base >> shift;
}

/** Strict dotted-decimal IPv4 (what DNS answers and the WHATWG URL parser produce). */
function parseIPv4(text: string): number | undefined {
  if (net.isIPv4(text) === false) return undefined;
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function parseIPv6(text: string): bigint | undefined {
  const address = text.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) does not change the class
  if (!net.isIPv6(address)) return undefined;
  let groups = address;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (tail) {
    const n = parseIPv4(tail[1]!)!;
    groups = `${address.slice(0, -tail[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = '', rest] = groups.split('::');
  const left = head ? head.split(':') : [];
  const right = rest === undefined ? [] : rest ? rest.split(':') : [];
  const missing = 8 - left.length - right.length;
  const all = rest === undefined ? left : [...left, ...Array<string>(missing).fill('0'), ...right];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function v4Text(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
}

/**
 * What kind of address this is. Takes a canonical IP address (as DNS answers or `new URL` give
 * it, IPv6 without brackets); IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64,
 * 6to4) are judged by the IPv4 address inside. Throws on anything that is not an IP address.
 */
export function classifyAddress(address: string): AddressClass {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const four = parseIPv4(text);
  if (four !== undefined) return classifyIn(BigInt(four), 32, V4_RANGES);
  const six = parseIPv6(text);
  if (six === undefined) throw new TypeError(`not an IP address: ${address}`);
  for (const [base, prefix, cls] of V6_RANGES) {
    if (!inRange(six, 128, base, prefix)) continue;
    if (cls !== 'embedded-v4') return cls;
    const embedded = prefix === 16 ? (six >> 80n) & 0xffffffffn : six & 0xffffffffn;
    return classifyIn(embedded, 32, V4_RANGES);
  }
  return inRange(six, 128, ...GLOBAL_UNICAST_V6) ? 'public' : 'reserved';
}

function classifyIn(value: bigint, bits: number, ranges: readonly Range[]): AddressClass {
  for (const [base, prefix, cls] of ranges) {
    if (inRange(value, bits, base, prefix)) return cls === 'embedded-v4' ? 'reserved' : cls;
  }
  return 'public';
}

/** Says which IPv4 address an IPv6 form carries, for messages ("127.0.0.1 inside ::ffff:7f00:1"). */
function describe(address: string): string {
  const six = parseIPv6(address);
  if (six === undefined || net.isIPv4(address)) return address;
  for (const [base, prefix, cls] of V6_RANGES) {
    if (cls !== 'embedded-v4' || !inRange(six, 128, base, prefix)) continue;
    if (six === 0n || six === 1n) break;
    const embedded = prefix === 16 ? (six >> 80n) & 0xffffffffn : six & 0xffffffffn;
    return `${v4Text(embedded)} (inside ${address})`;
  }
  return address;
}

export type RefusalCode = 'invalid_url' | 'scheme' | 'credentials' | 'port' | 'non_public' | 'unresolvable';

/** A URL onair will not send to; the message says why, in words an API caller can act on. */
export class OutboundRefusal extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundRefusal';
  }

  /** A name that does not resolve may resolve later; every other refusal stays true. */
  get permanent(): boolean {
    return this.code !== 'unresolvable';
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address a name resolves to (getaddrinfo, like a connect would use). */
export type LookupAll = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemLookup: LookupAll = async (hostname) =>
  (await dns.lookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

export interface OutboundPolicy {
  /**
   * Allow loopback, private, link-local... targets (WEBHOOK_ALLOW_PRIVATE): for self-hosters whose
   * receivers live on their own network. Scheme, credential and port rules still apply.
   */
  readonly allowPrivate: boolean;
  /** Name resolution; tests pass their own. */
  readonly lookup?: LookupAll;
}

const HINT = 'onair only sends webhooks to public internet addresses';

function refuseAddress(host: string, address: string, cls: AddressClass): never {
  const label = CLASS_LABEL[cls as Exclude<AddressClass, 'public'>];
  const what = host === address ? describe(address) : `${host}, which resolves to ${describe(address)},`;
  throw new OutboundRefusal('non_public', `${what} is ${label}: ${HINT}.`);
}

/** The host without IPv6 brackets and without the trailing dot of a fully-qualified name. */
function bareHost(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') ? host.slice(1, -1) : host.replace(/\.$/, '');
}

/**
 * Checks what can be checked without the network: http(s) only, no user name or password, a
 * usable port, and a host that is not a non-public IP literal nor a `localhost` name (RFC 6761
 * 6.3). Returns the parsed URL; store `href` so delivery parses exactly what was checked. The
 * WHATWG parser has already turned decimal, hex, octal, short and percent-encoded IPv4 forms into
 * a dotted quad and lower-cased the host.
 */
export function checkOutboundUrl(text: string, policy: Pick<OutboundPolicy, 'allowPrivate'>): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OutboundRefusal('invalid_url', 'This is not a valid URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundRefusal('scheme', 'The URL must start with http:// or https://.');
  }
  const host = bareHost(url);
  if (!policy.allowPrivate) {
    if (net.isIP(host)) {
      const cls = classifyAddress(host);
      if (cls !== 'public') refuseAddress(host, host, cls);
    } else if (host === 'localhost' || host.endsWith('.localhost')) {
      throw new OutboundRefusal('non_public', `${host} is this machine (a loopback name): ${HINT}.`);
    }
  }
  if (url.username || url.password) {
    throw new OutboundRefusal(
      'credentials',
      'The URL must not contain a user name or password: verify deliveries with the signature header instead.',
    );
  }
  // The URL parser already refuses ports above 65535; port 0 cannot be connected to.
  if (url.port === '0') throw new OutboundRefusal('port', 'The URL has port 0, which cannot be reached.');
  return url;
}

/**
 * Resolves the URL's host and checks every address it resolves to: one non-public answer is
 * enough to refuse (a name can hold a public and a private record and the connect picks either).
 * The result is what a request must connect to.
 */
export async function resolveOutbound(url: URL, policy: OutboundPolicy): Promise<ResolvedAddress[]> {
  const host = bareHost(url);
  const literal = net.isIP(host);
  let addresses: ResolvedAddress[];
  if (literal) {
    addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await (policy.lookup ?? systemLookup)(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new OutboundRefusal(
        'unresolvable',
        `${host} does not resolve to an address${code ? ` (${code})` : ''}: check the host name.`,
      );
    }
    if (addresses.length === 0) {
      throw new OutboundRefusal(
        'unresolvable',
        `${host} does not resolve to an address: check the host name.`,
      );
    }
  }
  if (!policy.allowPrivate) {
    for (const { address } of addresses) {
      const cls = classifyAddress(address);
      if (cls !== 'public') refuseAddress(host, address, cls);
    }
  }
  return addresses;
}

/** A `lookup` for http.request that answers only with the addresses already checked. */
function pinnedLookup(addresses: readonly ResolvedAddress[]): net.LookupFunction {
  return (_hostname, options, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : undefined;
    const usable = family ? addresses.filter((a) => a.family === family) : addresses;
    if (usable.length === 0) {
      const err: NodeJS.ErrnoException = new Error('no checked address of the requested family');
      err.code = 'ENOTFOUND';
      callback(err, '');
    } else if (options.all) {
      callback(
        null,
        usable.map((a) => ({ address: a.address, family: a.family })),
      );
    } else {
      callback(null, usable[0]!.address, usable[0]!.family);
    }
  };
}

export interface GuardedPost {
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/**
 * POSTs to a user-given URL after checking it and every address its name resolves to, connecting
 * only to those addresses. Redirects are not followed (a 3xx is returned like any status). The
 * answer's body is not read. Throws OutboundRefusal before any connection when the target is
 * refused, and network errors as they come.
 */
export async function guardedPost(
  target: string,
  request: GuardedPost,
  policy: OutboundPolicy,
): Promise<{ status: number }> {
  const url = checkOutboundUrl(target, policy);
  const addresses = await resolveOutbound(url, policy);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, {
      method: 'POST',
      headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
      // IP literals connect directly; names go through this lookup. TLS still verifies the
      // certificate against the host name (SNI and checkServerIdentity use the URL's host).
      lookup: pinnedLookup(addresses),
      // A fresh connection each time: a pooled socket must not outlive the check it passed.
      agent: false,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    req.on('response', (res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.destroy();
    });
    req.on('error', reject);
    req.end(request.body);
  });
}
