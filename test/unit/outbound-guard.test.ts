import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkOutboundUrl,
  classifyAddress,
  guardedPost,
  OutboundRefusal,
  resolveOutbound,
  type AddressClass,
  type LookupAll,
} from '../../src/net/outbound-guard.ts';

const strict = { allowPrivate: false };

function refusal(fn: () => unknown): OutboundRefusal {
  try {
    fn();
  } catch (err) {
    if (err instanceof OutboundRefusal) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

async function refusalOf(promise: Promise<unknown>): Promise<OutboundRefusal> {
  const err = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  if (err instanceof OutboundRefusal) return err;
  throw err;
}

describe('classifyAddress', () => {
  const cases: [string, AddressClass][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['172.15.255.255', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['100.128.0.1', 'public'],
    ['100.63.255.255', 'public'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['192.88.99.1', 'reserved'],
    ['8.8.8.8', 'public'],
    ['93.184.215.14', 'public'],
    ['1.1.1.1', 'public'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::FFFF:7F00:0001', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'], // 169.254.169.254
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0:7f00:1', 'loopback'], // IPv4-translated
    ['::7f00:1', 'loopback'], // IPv4-compatible
    ['::127.0.0.1', 'loopback'],
    ['::a00:1', 'private'],
    ['64:ff9b::7f00:1', 'loopback'], // NAT64
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::c0a8:101', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b::808:808', 'public'],
    ['64:ff9b:1::1', 'reserved'],
    ['2002:7f00:1::', 'loopback'], // 6to4 of 127.0.0.1
    ['2002:c0a8:101::1', 'private'], // 6to4 of 192.168.1.1
    ['2002:a9fe:a9fe::', 'link-local'],
    ['2002:808:808::1', 'public'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['fec0::1', 'reserved'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['2001::1', 'reserved'], // Teredo
    ['100::1', 'reserved'],
    ['3fff::1', 'documentation'],
    ['::2', 'unspecified'], // IPv4-compatible 0.0.0.2
    ['1::', 'reserved'], // outside 2000::/3
    ['4000::1', 'reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001::200e', 'public'],
  ];
  it.each(cases)('%s is %s', (address, cls) => {
    expect(classifyAddress(address)).toBe(cls);
  });

  it('refuses to classify what is not an IP address', () => {
    for (const text of ['localhost', '0177.0.0.1', '2130706433', '127.1', '', '1.2.3.4.5', ':::1']) {
      expect(() => classifyAddress(text), text).toThrow(TypeError);
    }
  });
});

describe('checkOutboundUrl', () => {
  // Every one of these reaches this machine, its network or a metadata service.
  const refused = [
    'http://127.0.0.1/',
    'http://127.0.0.1:8080/hook',
    'HTTP://127.0.0.1/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://0x7F000001/',
    'http://0177.0.0.1/',
    'http://017700000001/',
    'http://0x7f.0.0.1/',
    'http://0x7f.1/',
    'http://127.1/',
    'http://127.0.1/',
    'http://127.0.0.1./',
    'http://%31%32%37.0.0.1/',
    'http://①②⑦.0.0.1/',
    'http://127。0。0。1/',
    'http://evil@127.0.0.1/',
    'http://evil.com@127.0.0.1:80/',
    'http://user:pass@127.0.0.1/',
    'http://127.0.0.1#@evil.com/',
    'http://127.0.0.1?@evil.com/',
    'http://0/',
    'http://0.0.0.0/',
    'http://[::]/',
    'http://[::1]/',
    'http://[0:0:0:0:0:0:0:1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::127.0.0.1]/',
    'http://[64:ff9b::127.0.0.1]/',
    'http://[64:ff9b::a00:1]/',
    'http://[2002:7f00:1::]/',
    'http://[2002:c0a8:101::1]/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://[fd00:ec2::254]/',
    'http://[ff02::1]/',
    'http://169.254.169.254/latest/meta-data/',
    'http://2852039166/', // 169.254.169.254 in decimal
    'http://10.0.0.1/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://224.0.0.1/',
    'http://255.255.255.255/',
    'http://240.0.0.1/',
    'http://localhost/',
    'http://localhost:3000/hook',
    'http://LOCALHOST/',
    'http://LocalHost./',
    'http://localhost./',
    'http://%6c%6fcalhost/',
    'http://api.localhost/',
    'http://a.b.LOCALHOST./',
    'https://evil@localhost/',
  ];
  it.each(refused)('refuses %s', (url) => {
    const err = refusal(() => checkOutboundUrl(url, strict));
    expect(err.code).toBe('non_public');
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/only sends webhooks to public internet addresses/);
  });

  it('says what the address is, and which IPv4 address an IPv6 form carries', () => {
    expect(refusal(() => checkOutboundUrl('http://2130706433/', strict)).message).toMatch(
      /^127\.0\.0\.1 is a loopback address/,
    );
    expect(refusal(() => checkOutboundUrl('http://[::ffff:7f00:1]/', strict)).message).toMatch(
      /^127\.0\.0\.1 \(inside ::ffff:7f00:1\) is a loopback address/,
    );
    expect(refusal(() => checkOutboundUrl('http://169.254.169.254/', strict)).message).toMatch(/metadata/);
    expect(refusal(() => checkOutboundUrl('http://[2002:c0a8:101::1]/', strict)).message).toMatch(
      /192\.168\.1\.1 .*private network/,
    );
  });

  it.each([
    'http://93.184.215.14/hook',
    'https://8.8.8.8:8443/x',
    'http://172.32.0.1/',
    'http://100.128.0.1/',
    'http://[2606:4700:4700::1111]/',
    'http://[64:ff9b::808:808]/',
    'http://[2002:808:808::1]/',
    'https://hooks.example.com/onair',
    'https://localhost.example.com/',
    'https://mylocalhost/',
  ])('accepts %s (names are checked when resolved)', (url) => {
    expect(checkOutboundUrl(url, strict).href).toBe(new URL(url).href);
  });

  it('only http(s), no credentials, a usable port', () => {
    const cases: [string, string][] = [
      ['ftp://example.com/', 'scheme'],
      ['file:///etc/passwd', 'scheme'],
      ['gopher://example.com:70/_', 'scheme'],
      ['javascript:alert(1)', 'scheme'],
      ['data:text/plain,hi', 'scheme'],
      ['http://user:pw@example.com/', 'credentials'],
      ['http://user@example.com/', 'credentials'],
      ['http://:pw@example.com/', 'credentials'],
      ['http://example.com:0/', 'port'],
      ['http://example.com:65536/', 'invalid_url'],
      ['http://1.2.3.4.5/', 'invalid_url'],
      ['not a url', 'invalid_url'],
      ['http://[fe80::1%25eth0]/', 'invalid_url'],
    ];
    for (const [url, code] of cases)
      expect(refusal(() => checkOutboundUrl(url, strict)).code, url).toBe(code);
  });

  it('with allowPrivate, private targets pass; the other rules still apply', () => {
    const open = { allowPrivate: true };
    for (const url of ['http://127.0.0.1:8080/', 'http://localhost/', 'http://[::1]/', 'http://10.0.0.5/']) {
      expect(checkOutboundUrl(url, open).href).toBe(new URL(url).href);
    }
    expect(refusal(() => checkOutboundUrl('http://u:p@127.0.0.1/', open)).code).toBe('credentials');
    expect(refusal(() => checkOutboundUrl('ftp://127.0.0.1/', open)).code).toBe('scheme');
  });
});

function fakeDns(answers: Record<string, string[] | Error>): LookupAll & { calls: string[] } {
  const calls: string[] = [];
  const lookup = (hostname: string) => {
    calls.push(hostname);
    const answer = answers[hostname];
    if (answer instanceof Error) return Promise.reject(answer);
    if (!answer) return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
    return Promise.resolve(
      answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }) as const),
    );
  };
  return Object.assign(lookup, { calls });
}

describe('resolveOutbound', () => {
  const dns = fakeDns({
    'public.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    'mixed.example': ['93.184.215.14', '127.0.0.1'],
    'v6loop.example': ['::1'],
    'mapped.example': ['::ffff:10.0.0.1'],
    'metadata.example': ['169.254.169.254'],
    'empty.example': [],
    'flaky.example': Object.assign(new Error('timeout'), { code: 'EAI_AGAIN' }),
  });
  const policy = { allowPrivate: false, lookup: dns };

  it('returns every address when all are public', async () => {
    const addresses = await resolveOutbound(new URL('https://public.example/x'), policy);
    expect(addresses.map((a) => a.address)).toEqual([
      '93.184.215.14',
      '2606:2800:21f:cb07:6820:80da:af6b:8b2c',
    ]);
  });

  it('refuses a name when any one of its addresses is not public', async () => {
    for (const [host, shown] of [
      ['mixed.example', '127.0.0.1'],
      ['v6loop.example', '::1'],
      ['mapped.example', '10.0.0.1'],
      ['metadata.example', '169.254.169.254'],
    ]) {
      const err = await refusalOf(resolveOutbound(new URL(`http://${host}/`), policy));
      expect(err.code, host).toBe('non_public');
      expect(err.message).toContain(`${host}, which resolves to ${shown}`);
    }
  });

  it('says so when a name does not resolve; that may change, so it is not permanent', async () => {
    for (const host of ['nowhere.example', 'empty.example', 'flaky.example']) {
      const err = await refusalOf(resolveOutbound(new URL(`http://${host}/`), policy));
      expect(err.code, host).toBe('unresolvable');
      expect(err.message).toMatch(/does not resolve/);
      expect(err.permanent).toBe(false);
    }
  });

  it('does not look up IP literals, and checks them', async () => {
    const before = dns.calls.length;
    expect(await resolveOutbound(new URL('http://[2606:4700:4700::1111]/'), policy)).toEqual([
      { address: '2606:4700:4700::1111', family: 6 },
    ]);
    expect((await refusalOf(resolveOutbound(new URL('http://127.0.0.1/'), policy))).code).toBe('non_public');
    expect(dns.calls.length).toBe(before);
  });

  it('resolves a trailing-dot name without the dot', async () => {
    const err = await refusalOf(resolveOutbound(new URL('http://mixed.example./'), policy));
    expect(err.code).toBe('non_public');
    expect(dns.calls.at(-1)).toBe('mixed.example');
  });
});

describe('guardedPost', () => {
  const received: { url: string; body: string; host: string }[] = [];
  let listener: http.Server;
  let port: number;

  beforeAll(async () => {
    listener = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ url: req.url ?? '', body, host: req.headers.host ?? '' });
        res.writeHead(req.url === '/redirect' ? 302 : 204, { location: 'http://127.0.0.1/elsewhere' }).end();
      });
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

  const post = { headers: { 'content-type': 'application/json' }, body: '{"a":1}', timeoutMs: 5000 };

  it('refuses before connecting: the listener gets nothing', async () => {
    const before = received.length;
    for (const url of [
      `http://127.0.0.1:${port}/x`,
      `http://localhost:${port}/x`,
      `http://2130706433:${port}/x`,
    ]) {
      expect((await refusalOf(guardedPost(url, post, { allowPrivate: false }))).code).toBe('non_public');
    }
    const dns = fakeDns({ 'rebind.test': ['127.0.0.1'] });
    const err = await refusalOf(
      guardedPost(`http://rebind.test:${port}/x`, post, { allowPrivate: false, lookup: dns }),
    );
    expect(err.code).toBe('non_public');
    expect(received.length).toBe(before);
  });

  it('connects to the address it checked: a second DNS answer is never asked for (rebinding)', async () => {
    // First answer 127.0.0.1 (allowed here), every later answer an unroutable address: if the
    // request resolved the name again to connect, it would not reach the listener.
    let calls = 0;
    const rebinding: LookupAll = (hostname) => {
      calls += 1;
      expect(hostname).toBe('hooks.test');
      return Promise.resolve([{ address: calls === 1 ? '127.0.0.1' : '192.0.2.1', family: 4 }]);
    };
    const { status } = await guardedPost(`http://hooks.test:${port}/pinned`, post, {
      allowPrivate: true,
      lookup: rebinding,
    });
    expect(status).toBe(204);
    expect(calls).toBe(1);
    expect(received.at(-1)).toEqual({ url: '/pinned', body: '{"a":1}', host: `hooks.test:${port}` });
  });

  it('does not follow redirects', async () => {
    const before = received.length;
    const { status } = await guardedPost(`http://127.0.0.1:${port}/redirect`, post, { allowPrivate: true });
    expect(status).toBe(302);
    expect(received.length).toBe(before + 1);
  });
});
