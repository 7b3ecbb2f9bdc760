import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkToken,
  parseSignedPath,
  SIGNED_PATH_PATTERN,
  signedPath,
  signValue,
  unsignValue,
} from '../../src/origin/tokens.ts';
import { PlaybackUrls } from '../../src/origin/playback-urls.ts';
import { createOriginHandler } from '../../src/origin/origin-handler.ts';
import { createAccount } from '../../src/db/accounts.ts';
import { insertAsset, updateAsset } from '../../src/db/assets.ts';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { formatWebinarId, newId, newWebinarId, parseWebinarId } from '../../src/ids.ts';
import { csvField, toCsv } from '../../src/services/csv.ts';
import { dropOffCurve } from '../../src/services/analytics.ts';
import { findNginx } from '../helpers/nginx.ts';

const secret = 'test-secret-test-secret-test-secret';
const root = path.resolve(import.meta.dirname, '../..');
const conf = fs.readFileSync(path.join(root, 'infra/nginx/onair-edge.conf'), 'utf8');

/** What nginx's secure_link_md5 computes for `"$expires$prefix $secret"`: the expiry string as sent. */
function md5(expires: string, prefix: string): string {
  return crypto.createHash('md5').update(`${expires}${prefix} ${secret}`).digest('base64url');
}

describe('playback tokens', () => {
  const now = 1_800_000_000;
  const path = signedPath('e', '123456789', 'rev_x/master.m3u8', now + 60, secret);
  const [, , hash, expires] = path.split('/');

  it('use the nginx secure_link_md5 hash of "<expires><prefix> <secret>"', () => {
    const expected = md5(String(now + 60), '/e/123456789/');
    expect(hash).toBe(expected);
    expect(path).toBe(`/s/${expected}/${now + 60}/e/123456789/rev_x/master.m3u8`);
  });

  it('open their own scope until they expire', () => {
    expect(checkToken(hash!, expires!, 'e', '123456789', secret, now)).toBe('ok');
    expect(checkToken(hash!, expires!, 'e', '123456789', secret, now + 61)).toBe('expired');
  });

  it('refuse another event, another secret, an altered hash or an altered expiry', () => {
    expect(checkToken(hash!, expires!, 'e', '987654321', secret, now)).toBe('invalid');
    expect(checkToken(hash!, expires!, 'a', '123456789', secret, now)).toBe('invalid');
    expect(checkToken(hash!, expires!, 'e', '123456789', 'another-secret-another-secret-xx', now)).toBe(
      'invalid',
    );
    const flipped = (hash![0] === 'A' ? 'B' : 'A') + hash!.slice(1);
    expect(checkToken(flipped, expires!, 'e', '123456789', secret, now)).toBe('invalid');
    expect(checkToken(hash!, String(now + 6000), 'e', '123456789', secret, now)).toBe('invalid');
    expect(checkToken('short', expires!, 'e', '123456789', secret, now)).toBe('invalid');
  });

  it('accept only the canonical expiry, however the hash was computed', () => {
    const prefix = '/e/123456789/';
    const e = String(now + 60);
    const odd = [
      `0${e}`, // nginx's ngx_atotm reads it as the same number; its md5 covers the zero
      `00${e}`,
      `+${e}`,
      ` ${e}`,
      `${e} `,
      `${e}.0`,
      '1800000060000', // 13 digits
      String(2 ** 53),
      String(2 ** 53 + 2),
      '1e10',
      '0x6B49D23C',
      '0',
      '-1',
      '',
      '١٨٠٠٠٠٠٠٦٠', // Arabic-Indic digits
    ];
    for (const text of odd) {
      // Signed over the exact string (what the edge checks) and over the number (what the origin used to).
      for (const h of [md5(text, prefix), md5(String(Number(text)), prefix), hash!]) {
        expect(checkToken(h, text, 'e', '123456789', secret, now), JSON.stringify(text)).toBe('invalid');
      }
    }
    // 12 digits is the longest canonical expiry.
    expect(checkToken(md5('999999999999', prefix), '999999999999', 'e', '123456789', secret, now)).toBe('ok');
  });

  it("accept only the canonical spelling of the hash (nginx ignores the last character's low 4 bits)", () => {
    const bytes = Buffer.from(hash!, 'base64url');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(hash!.at(-1)!);
    const aliases = Array.from(
      { length: 16 },
      (_, low) => hash!.slice(0, -1) + alphabet[(last & ~15) | low],
    ).filter((h) => h !== hash);
    expect(aliases).toHaveLength(15);
    for (const alias of aliases) {
      // Same 16 bytes once decoded, as nginx decodes them...
      expect(Buffer.from(alias, 'base64url').equals(bytes)).toBe(true);
      // ...but not the canonical text: refused by the origin and by the edge's location regex.
      expect(checkToken(alias, expires!, 'e', '123456789', secret, now)).toBe('invalid');
      expect(new RegExp(SIGNED_PATH_PATTERN).test(path.replace(hash!, alias))).toBe(false);
    }
    expect(checkToken(`${hash}==`, expires!, 'e', '123456789', secret, now)).toBe('invalid');
  });

  it('are only signed in canonical form', () => {
    for (const bad of [0, -60, 1.5, Number.NaN, Infinity, 1e12, 2 ** 53]) {
      expect(() => signedPath('a', 'as_x', 'rev/master.m3u8', bad, secret), String(bad)).toThrow(RangeError);
    }
    for (const id of ['', '.', '..', 'a/b', 'as_%2e', 'x'.repeat(65)]) {
      expect(() => signedPath('a', id, 'rev/master.m3u8', now, secret), id).toThrow(RangeError);
    }
    // A replay that ends before the natural expiry caps it, a broken cap is ignored, never NaN or 0.
    const urls = new PlaybackUrls(secret, 3600, () => now * 1000);
    expect(urls.expiresAt()).toBe(Math.ceil((now + 3600) / 60) * 60);
    expect(urls.expiresAt((now + 10) * 1000)).toBe(now + 10);
    expect(urls.expiresAt(Number.NaN)).toBe(urls.expiresAt());
    expect(urls.expiresAt(-5000)).toBe(1);
  });

  it('sign cookie values with HMAC and refuse tampering', () => {
    const signed = signValue('rg_abc|123', secret);
    expect(unsignValue(signed, secret)).toBe('rg_abc|123');
    expect(unsignValue(signed.replace('rg_abc', 'rg_abd'), secret)).toBeUndefined();
    expect(unsignValue('garbage', secret)).toBeUndefined();
  });
});

describe('the nginx edge and the origin share one URL grammar', () => {
  it('the edge location regex is SIGNED_PATH_PATTERN with named captures', () => {
    const location = /^\s*location ~ "(.*)" \{$/m.exec(conf)?.[1];
    expect(location).toBeDefined();
    expect(location!.replace(/\?<tok_[a-z]+>/g, '')).toBe(SIGNED_PATH_PATTERN);
  });

  it('parses a playback path, and says why it refuses one', () => {
    const p = signedPath('e', '123456789.1800000000', 'rev_x/720p/seg_00001.m4s', 1_800_000_060, secret);
    expect(parseSignedPath(p)).toEqual({
      hash: p.split('/')[2],
      expires: '1800000060',
      scope: 'e',
      id: '123456789.1800000000',
      revision: 'rev_x',
      file: ['720p', 'seg_00001.m4s'],
    });
    const base = p.slice(0, p.indexOf('rev_x'));
    expect(parseSignedPath('/healthz')).toBe('unsigned');
    expect(parseSignedPath(p.replace('/1800000060/', '/01800000060/'))).toBe('invalid-token');
    expect(parseSignedPath(p.replace('/s/', '/s//'))).toBe('invalid-token');
    expect(parseSignedPath(p.replace('/e/', '/x/'))).toBe('invalid-token');
    for (const rest of [
      'rev_x',
      'rev_x/',
      '/rev_x/master.m3u8',
      'rev_x//master.m3u8',
      'rev_x/720p//seg_00001.m4s',
      'rev_x/master.m3u8/',
      'rev_x/%2e%2e/%2e%2e/onair.sqlite',
      'rev_x/..%2f..%2fonair.sqlite',
      'rev_x/720p%2fseg_00001.m4s',
      'rev_x/../../../secret.key',
      'rev_x/./master.m3u8',
      'rev_x/.hidden.m3u8',
      'rev_x/720p\\seg_00001.m4s',
      '../rev_x/master.m3u8',
      '..',
      'rev;x/master.m3u8',
      'rev%00/master.m3u8',
      'r\u00e9v/master.m3u8',
      `${'r'.repeat(65)}/master.m3u8`,
      `rev_x/${'m'.repeat(124)}.m3u8`,
      'rev_x/a/b/c/seg.m4s',
    ]) {
      expect(parseSignedPath(base + rest), rest).toBe('bad-path');
    }
    expect(parseSignedPath(`${base}rev_x/${'m'.repeat(123)}.m3u8`)).not.toBe('bad-path');
  });
});

/** Sends exactly `target` as the request target (no client-side normalisation) and returns the status. */
function rawStatus(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n`);
    });
    let head = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      head += chunk;
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (match) {
        resolve(Number(match[1]));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`no status line for ${target}: ${head.slice(0, 80)}`)));
  });
}

describe('hostile playback paths get a 4xx, from the origin and from the nginx edge', () => {
  let dir: string;
  let db: Db;
  let origin: http.Server;
  let originPort: number;
  let originHits: string[] = [];
  const nowSeconds = Math.floor(Date.now() / 1000);
  const expires = String(Math.ceil((nowSeconds + 3600) / 60) * 60);
  const assetId = newId('as');
  const revision = newId('rev');
  let prefix: string;
  let token: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-tokens-'));
    db = openDatabase({ dataDir: dir });
    await migrateToLatest(db);
    const account = await createAccount(db, 'test');
    await insertAsset(db, {
      id: assetId,
      accountId: account.id,
      title: 't',
      sourceKey: `sources/${assetId}/source`,
      sourceBytes: 1,
      sourceName: undefined,
    });
    await updateAsset(db, assetId, { status: 'ready', stage: 'done', revision });
    const storage = new LocalStorage(path.join(dir, 'media'));
    const out = path.join(dir, 'media', 'assets', assetId, revision);
    fs.mkdirSync(path.join(out, '360p'), { recursive: true });
    fs.mkdirSync(path.join(out, 'thumbs'), { recursive: true });
    fs.writeFileSync(path.join(out, 'master.m3u8'), '#EXTM3U\n');
    fs.writeFileSync(path.join(out, '360p', 'index.m3u8'), '#EXTM3U\n');
    fs.writeFileSync(path.join(out, '360p', 'seg_00001.m4s'), Buffer.alloc(100));
    fs.writeFileSync(path.join(out, 'thumbs', '1.jpg'), Buffer.alloc(10));
    fs.writeFileSync(path.join(dir, 'media', 'assets', assetId, 'secret.key'), 'not for viewers');
    const handler = createOriginHandler({ db, storage, secret, cacheBytes: 1 << 20 });
    origin = http.createServer((req, res) => {
      originHits.push(req.url ?? '');
      handler(req, res);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    originPort = (origin.address() as net.AddressInfo).port;
    prefix = `/a/${assetId}/`;
    token = md5(expires, prefix);
  });

  afterAll(async () => {
    await new Promise((resolve) => origin?.close(resolve));
    await db?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const good = (rest: string) => `/s/${token}/${expires}${prefix}${revision}/${rest}`;
  const signedOver = (e: string, rest: string) => `/s/${md5(e, prefix)}/${e}${prefix}${revision}/${rest}`;
  const alias = (hash: string) => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    return hash.slice(0, -1) + alphabet[alphabet.indexOf(hash.at(-1)!) | 1];
  };
  const encoded = (text: string) => [...text].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');

  /** [what, raw request target, the origin's status]; the edge serves exactly what the origin serves. */
  function cases(): [string, string, number][] {
    const t = token;
    const p = `${prefix}${revision}`;
    return [
      ['the master playlist', good('master.m3u8'), 200],
      ['a segment', good('360p/seg_00001.m4s'), 200],
      ['a thumbnail', good('thumbs/1.jpg'), 200],
      ['a canonical name that does not exist', good('360p/seg_00002.m4s'), 404],
      ['an unpublished revision', `/s/${t}/${expires}${prefix}rev_zzzzzzzzzzzzzzzz/master.m3u8`, 404],
      ['a type the origin does not serve', good('360p/index.exe'), 404],
      // Token: every one of these is 403, and the edge answers it without asking the origin.
      ['leading zero, hash of the number', `/s/${t}/0${expires}${p}/master.m3u8`, 403],
      ['leading zero, hash of the string', signedOver(`0${expires}`, 'master.m3u8'), 403],
      ['plus sign', signedOver(`+${expires}`, 'master.m3u8'), 403],
      ['encoded space', `/s/${md5(` ${expires}`, prefix)}/%20${expires}${p}/master.m3u8`, 403],
      ['13 digits', signedOver('1800000060000', 'master.m3u8'), 403],
      ['2^53', signedOver(String(2 ** 53), 'master.m3u8'), 403],
      ['expired', signedOver(String(nowSeconds - 10), 'master.m3u8'), 403],
      // The same 16 bytes once decoded (see above): what the old edge let through to the origin.
      ['non-canonical spelling of the hash', good('master.m3u8').replace(`/${t}/`, `/${alias(t)}/`), 403],
      ['padded hash', good('master.m3u8').replace(`/${t}/`, `/${t}==/`), 403],
      ['escaped hash', good('master.m3u8').replace(`/${t}/`, `/${encoded(t[0]!)}${t.slice(1)}/`), 403],
      [
        'escaped expiry',
        good('master.m3u8').replace(`/${expires}/`, `/${encoded(expires[0]!)}${expires.slice(1)}/`),
        403,
      ],
      [
        'escaped asset id',
        good('master.m3u8').replace(assetId, encoded(assetId[0]!) + assetId.slice(1)),
        403,
      ],
      ['double slash before the hash', good('master.m3u8').replace('/s/', '/s//'), 403],
      ['dot segment in the prefix', `/s/${t}/${expires}/a/./${assetId}/${revision}/master.m3u8`, 403],
      ['unknown scope', good('master.m3u8').replace('/a/', '/x/'), 403],
      // Path below a valid prefix: never a file outside the revision, never a 5xx.
      ['double slash after the id', `/s/${t}/${expires}${prefix}/${revision}/master.m3u8`, 404],
      ['double slash in the file', good('360p//seg_00001.m4s'), 404],
      ['trailing slash', good('master.m3u8/'), 404],
      ['%2e%2e', good('%2e%2e/%2e%2e/%2e%2e/onair.sqlite'), 404],
      ['%2e%2e to a sibling', good('%2e%2e/secret.key'), 404],
      ['encoded slash', good('360p%2fseg_00001.m4s'), 404],
      ['..%2f', good('..%2f..%2fonair.sqlite'), 404],
      ['raw ..', good('../secret.key'), 404],
      ['raw .. climbing far', good('../../../../../../etc/passwd'), 404],
      [
        'raw .. back into the revision',
        `/s/${t}/${expires}${prefix}${revision}/../${revision}/master.m3u8`,
        404,
      ],
      ['. segment', good('./master.m3u8'), 404],
      ['hidden file', good('.work'), 404],
      ['backslash', good('360p\\seg_00001.m4s'), 404],
      ['NUL', good('master.m3u8%00.jpg'), 404],
      ['odd revision', `/s/${t}/${expires}${prefix}rev;x/master.m3u8`, 404],
      ['revision ..', `/s/${t}/${expires}${prefix}../master.m3u8`, 404],
      ['over-long revision', `/s/${t}/${expires}${prefix}${'r'.repeat(65)}/master.m3u8`, 404],
      ['over-long file name', good(`${'m'.repeat(300)}.m3u8`), 404],
      ['too deep', good('360p/a/b/seg_00001.m4s'), 404],
    ];
  }

  it('the origin alone', async () => {
    for (const [what, target, status] of cases()) {
      expect(await rawStatus(originPort, target), what).toBe(status);
    }
    // Far over any sane length: Node's own limit answers (431), still a 4xx.
    expect(await rawStatus(originPort, good(`${'x/'.repeat(20_000)}a.m3u8`))).toBe(431);
  });

  const nginx = findNginx();
  it.skipIf(!nginx)(
    'behind infra/nginx/onair-edge.conf run by run-edge.sh (skipped when nginx is not installed)',
    async () => {
      const work = path.join(dir, 'nginx');
      fs.mkdirSync(work);
      const edgePort = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(port));
        });
      });
      // Rendered and started by the script operators run (the key from the environment only).
      const child: ChildProcess = spawn(
        'bash',
        [
          path.join(root, 'infra/nginx/run-edge.sh'),
          '--port',
          `127.0.0.1:${edgePort}`,
          '--origin',
          `127.0.0.1:${originPort}`,
          '--dir',
          work,
          '--workers',
          '1',
          '--cache-size',
          '100m',
        ],
        {
          stdio: ['ignore', 'inherit', 'inherit'],
          env: { ...process.env, ONAIR_EDGE_KEY: secret, ONAIR_NGINX: nginx },
        },
      );
      try {
        const deadline = Date.now() + 5000;
        for (;;) {
          if (child.exitCode !== null)
            throw new Error(`nginx exited with ${child.exitCode} (its errors are above)`);
          if (
            await rawStatus(edgePort, '/s/').then(
              () => true,
              () => false,
            )
          )
            break;
          if (Date.now() > deadline) throw new Error('nginx did not start');
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const [what, target, status] of cases()) {
          originHits = [];
          const atEdge = await rawStatus(edgePort, target);
          expect(atEdge, what).toBeGreaterThanOrEqual(200);
          expect(atEdge, what).toBeLessThan(500);
          // The edge serves exactly what the origin serves...
          expect(atEdge === 200, `${what}: edge ${atEdge}, origin ${status}`).toBe(status === 200);
          // ...and answers a bad token itself, without a trip to the origin.
          if (status === 403) {
            expect(atEdge, what).toBe(403);
            expect(originHits, what).toEqual([]);
          }
        }
        // Served twice, the second time from the edge cache.
        originHits = [];
        expect(await rawStatus(edgePort, good('360p/seg_00001.m4s'))).toBe(200);
        expect(originHits).toEqual([]);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    },
  );
});

describe('webinar IDs', () => {
  it('are 9 random digits shown as 123-456-789 and typed with or without dashes', () => {
    const id = newWebinarId();
    expect(id).toMatch(/^[1-9]\d{8}$/);
    expect(formatWebinarId('123456789')).toBe('123-456-789');
    expect(parseWebinarId('123-456-789')).toBe('123456789');
    expect(parseWebinarId(' 123 456 789 ')).toBe('123456789');
    expect(parseWebinarId('12345678')).toBeUndefined();
    expect(parseWebinarId('abc-def-ghi')).toBeUndefined();
  });
});

describe('CSV (RFC 4180)', () => {
  it('quotes what needs quoting, doubles quotes and ends lines with CRLF', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['x,y', 'say "hi"'],
          ['line\nbreak', null],
        ],
      ),
    ).toBe('a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",\r\n');
  });

  it('keeps formula-looking cells as text', () => {
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField(-5)).toBe('-5');
  });
});

describe('dropOffCurve', () => {
  it('gives the share of viewers still watching at each tenth', () => {
    expect(dropOffCurve([100, 50, 10, 0], 100)).toEqual([
      1, 0.75, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25,
    ]);
    expect(dropOffCurve([], 100)).toHaveLength(11);
  });
});
