import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { srtBridgeArgs } from '../../pipelines/srt-bridge-args.ts';
import {
  buildInductionReply,
  buildInductionRequest,
  buildRejection,
  CONTROL,
  decodeStringExtension,
  encodeHandshake,
  encodeStringExtension,
  HS_CONCLUSION,
  HS_EXT,
  HS_INDUCTION,
  isShutdown,
  parseHandshake,
  parsePacket,
  parseStreamId,
  proposedLatencyMs,
  rejectionReason,
  SRT_MAGIC,
  streamIdOf,
  withCookie,
  type Handshake,
} from '../../pipelines/srt-handshake.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * Captured once from a real caller: `ffmpeg … -f mpegts 'srt://127.0.0.1:PORT?streamid=abcdef&latency=500000'`
 * (ffmpeg 5.1, libsrt 1.5.1) against a UDP socket that answered the induction with cookie 0x12345678.
 */
const GOLDEN_INDUCTION = hex(
  '80000000000000000000026200000000' +
    '00000004000000026bc764d7000005dc00002000000000010ebc796d000000000100007f000000000000000000000000',
);
const GOLDEN_CONCLUSION = hex(
  '80000000000000000000137800000000' +
    '00000005000000056bc764d7000005dc00002000ffffffff0ebc796d123456780100007f000000000000000000000000' +
    // HSREQ (1, 3 words): SRT 1.5.1, flags 0xbf, TSBPD 500 ms | 500 ms
    '0001000300010501000000bf01f401f4' +
    // SID (5, 2 words): "abcdef", each word reversed
    '000500026463626100006665',
);
const CALLER_SOCKET = 0x0ebc796d;

describe('a real caller’s handshake', () => {
  it('parses the induction request (HSv4 with the HSv5 marker 2)', () => {
    const hs = parseHandshake(GOLDEN_INDUCTION);
    expect(hs).toMatchObject({
      version: 4,
      extensionField: 2,
      type: HS_INDUCTION,
      socketId: CALLER_SOCKET,
      cookie: 0,
      mtu: 1500,
      flowWindow: 8192,
      extensions: [],
    });
  });

  it('parses the conclusion: flags, streamid with reversed words, latency', () => {
    const hs = parseHandshake(GOLDEN_CONCLUSION);
    expect(hs).toMatchObject({
      destSocketId: 0,
      version: 5,
      encryption: 0,
      extensionField: 5, // HSREQ | CONFIG
      initialSeq: 0x6bc764d7,
      type: HS_CONCLUSION,
      socketId: CALLER_SOCKET,
      cookie: 0x12345678,
    });
    expect(hs?.extensions.map((e) => e.type)).toEqual([HS_EXT.hsreq, HS_EXT.sid]);
    expect(hs && streamIdOf(hs)).toEqual({ sid: 'abcdef' });
    expect(hs && proposedLatencyMs(hs)).toBe(500);
  });

  it('encodes back to the same bytes', () => {
    const hs = parseHandshake(GOLDEN_CONCLUSION);
    expect(hs && toHex(encodeHandshake(hs))).toBe(toHex(GOLDEN_CONCLUSION));
  });
});

describe('string extensions', () => {
  it('reverse every 4-byte word, zero-padded (libsrt HtoILA + htonl)', () => {
    expect(toHex(encodeStringExtension('abcdef'))).toBe('6463626100006665');
    expect(Buffer.from(encodeStringExtension('live')).toString()).toBe('evil');
    expect(decodeStringExtension(hex('6463626100006665'))).toBe('abcdef');
  });

  it('round-trip any text without NUL', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        fc.pre(!s.includes('\0'));
        expect(decodeStringExtension(encodeStringExtension(s))).toBe(s);
      }),
    );
  });

  it('caps the streamid at 512 bytes', () => {
    const base = parseHandshake(GOLDEN_CONCLUSION) as Handshake;
    const long = {
      ...base,
      extensions: [{ type: HS_EXT.sid, content: encodeStringExtension('k'.repeat(513)) }],
    };
    expect(streamIdOf(parseHandshake(encodeHandshake(long)) as Handshake)).toEqual({ tooLong: true });
    const max = {
      ...base,
      extensions: [{ type: HS_EXT.sid, content: encodeStringExtension('k'.repeat(512)) }],
    };
    expect(streamIdOf(parseHandshake(encodeHandshake(max)) as Handshake)).toEqual({ sid: 'k'.repeat(512) });
  });
});

describe('the streamid', () => {
  it('is a plain key or the access-control syntax with m=publish', () => {
    expect(parseStreamId('live_abc123')).toEqual({ ok: true, key: 'live_abc123' });
    expect(parseStreamId('#!::r=live_abc123,m=publish')).toEqual({ ok: true, key: 'live_abc123' });
    expect(parseStreamId('#!::m=publish,u=ada,r=live_abc123')).toEqual({ ok: true, key: 'live_abc123' });
    expect(parseStreamId('#!::r=live_abc123')).toEqual({ ok: true, key: 'live_abc123' });
  });

  it('refuses a request or bidirectional mode (1405), a missing key (1401) and bad syntax (1400)', () => {
    expect(parseStreamId('#!::r=live_abc123,m=request')).toEqual({ ok: false, reason: 1405 });
    expect(parseStreamId('#!::r=live_abc123,m=bidirectional')).toEqual({ ok: false, reason: 1405 });
    expect(parseStreamId('#!::m=publish')).toEqual({ ok: false, reason: 1401 });
    expect(parseStreamId('')).toEqual({ ok: false, reason: 1401 });
    expect(parseStreamId('#!::r')).toEqual({ ok: false, reason: 1400 });
  });
});

describe('what the gatekeeper sends', () => {
  it('answers an induction with the same size, HSv5, SRT magic and the cookie, to the caller’s socket', () => {
    const reply = buildInductionReply(parseHandshake(GOLDEN_INDUCTION) as Handshake, 0xcafef00d);
    expect(reply.length).toBe(GOLDEN_INDUCTION.length);
    expect(parsePacket(reply)).toMatchObject({
      kind: 'control',
      type: CONTROL.handshake,
      destSocketId: CALLER_SOCKET,
    });
    expect(parseHandshake(reply)).toMatchObject({
      version: 5,
      encryption: 0,
      extensionField: SRT_MAGIC,
      type: HS_INDUCTION,
      socketId: CALLER_SOCKET,
      cookie: 0xcafef00d,
      initialSeq: 0x6bc764d7,
    });
  });

  it('refuses with the conclusion’s CIF, type 1000 + reason, 64 bytes to the caller’s socket', () => {
    const rejection = buildRejection(GOLDEN_CONCLUSION, 1401);
    expect(rejection.length).toBe(64);
    const hs = parseHandshake(rejection) as Handshake;
    expect(hs.type).toBe(2401);
    expect(hs.destSocketId).toBe(CALLER_SOCKET);
    expect(rejectionReason(hs)).toBe(1401);
    // Everything else in the CIF is the caller's own.
    expect(toHex(rejection.subarray(16, 36))).toBe(toHex(GOLDEN_CONCLUSION.subarray(16, 36)));
    expect(toHex(rejection.subarray(40, 64))).toBe(toHex(GOLDEN_CONCLUSION.subarray(40, 64)));
    expect(parseHandshake(buildRejection(GOLDEN_CONCLUSION, 8))?.type).toBe(1008);
    // 1000 + SRT_REJ_UNKNOWN is not a rejection for libsrt (it tests `> 1000`).
    expect(() => buildRejection(GOLDEN_CONCLUSION, 0)).toThrow();
    expect(rejectionReason(parseHandshake(GOLDEN_CONCLUSION) as Handshake)).toBeUndefined();
  });

  it('rewrites only the cookie word of a stored conclusion', () => {
    const out = withCookie(GOLDEN_CONCLUSION, 0xdeadbeef);
    expect(toHex(out.subarray(0, 44))).toBe(toHex(GOLDEN_CONCLUSION.subarray(0, 44)));
    expect(toHex(out.subarray(44, 48))).toBe('deadbeef');
    expect(toHex(out.subarray(48))).toBe(toHex(GOLDEN_CONCLUSION.subarray(48)));
    expect(toHex(GOLDEN_CONCLUSION.subarray(44, 48))).toBe('12345678');
  });

  it('builds an induction request like a caller’s', () => {
    const hs = parseHandshake(GOLDEN_INDUCTION) as Handshake;
    const ours = buildInductionRequest(hs);
    // Same as the caller's except its timestamp and its idea of our address.
    expect(toHex(ours.subarray(16, 48))).toBe(toHex(GOLDEN_INDUCTION.subarray(16, 48)));
  });
});

describe('packet kinds', () => {
  it('tells SHUTDOWN, NAK and retransmitted data apart', () => {
    const control = (type: number) =>
      hex((((0x8000 | type) << 16) >>> 0).toString(16).padStart(8, '0') + '00'.repeat(12));
    expect(isShutdown(control(CONTROL.shutdown))).toBe(true);
    expect(isShutdown(control(CONTROL.nak))).toBe(false);
    expect(isShutdown(GOLDEN_CONCLUSION)).toBe(false);
    expect(parsePacket(control(CONTROL.dropreq))).toMatchObject({ kind: 'control', type: 7 });
    // Data, seq 5, word 1 = PP=11 O=0 KK=00 R=1 msgno 9.
    const data = hex('00000005' + 'c4000009' + '00000000' + '00000001' + 'ffff');
    expect(parsePacket(data)).toMatchObject({ kind: 'data', seq: 5, retransmitted: true, messageNumber: 9 });
    expect(parsePacket(hex('00000005c0000009'))).toBeUndefined();
    expect(isShutdown(data)).toBe(false);
  });
});

describe('malformed handshakes', () => {
  it('are refused, not misread', () => {
    expect(parseHandshake(GOLDEN_CONCLUSION.subarray(0, 63))).toBeUndefined();
    // An extension that claims more words than the packet has.
    expect(parseHandshake(GOLDEN_CONCLUSION.subarray(0, GOLDEN_CONCLUSION.length - 4))).toBeUndefined();
    // Trailing bytes that are not a whole extension header.
    expect(parseHandshake(Uint8Array.from([...GOLDEN_CONCLUSION, 0, 1]))).toBeUndefined();
  });

  it('never throw on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        parsePacket(bytes);
        parseHandshake(bytes);
        if (bytes.length >= 4)
          parseHandshake(Uint8Array.from([0x80, 0, 0, 0, ...GOLDEN_CONCLUSION.subarray(4, 64), ...bytes]));
      }),
    );
  });

  it('round-trip through encode and parse', () => {
    const u32 = fc.nat({ max: 0xffffffff });
    const extension = fc.record({
      type: fc.integer({ min: 1, max: 0xffff }),
      content: fc
        .integer({ min: 0, max: 20 })
        .chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 })),
    });
    const handshake = fc.record({
      timestamp: u32,
      destSocketId: u32,
      version: fc.constant(5),
      encryption: fc.integer({ min: 0, max: 4 }),
      extensionField: fc.integer({ min: 1, max: 7 }),
      initialSeq: fc.nat({ max: 0x7fffffff }),
      mtu: u32,
      flowWindow: u32,
      type: fc.constant(HS_CONCLUSION),
      socketId: u32,
      cookie: u32,
      peerIp: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      extensions: fc.array(extension, { maxLength: 5 }),
    });
    fc.assert(
      fc.property(handshake, (hs) => {
        expect(parseHandshake(encodeHandshake(hs))).toEqual(hs);
      }),
    );
  });
});

describe('the bridge command', () => {
  it('listens on loopback once and republishes H.264 with AAC audio to RTMP', () => {
    expect(
      srtBridgeArgs({
        port: 40000,
        latencyMs: 500,
        rtmpUrl: 'rtmp://127.0.0.1:1935/live/once',
        listenTimeoutMs: 10_000,
      }),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-analyzeduration',
      '1000000',
      '-i',
      'srt://127.0.0.1:40000?mode=listener&latency=500000&listen_timeout=10000000',
      '-map',
      '0:v:0',
      '-map',
      '0:a:0?',
      '-c:v',
      'copy',
      '-c:a',
      'aac',
      '-b:a',
      '160k',
      '-ar',
      '48000',
      '-f',
      'flv',
      'rtmp://127.0.0.1:1935/live/once',
    ]);
  });

  it('passes a passphrase as an option, unescaped', () => {
    const args = srtBridgeArgs({
      port: 1,
      latencyMs: 120,
      rtmpUrl: 'rtmp://x/live/y',
      passphrase: 'a&b c=d1234',
      listenTimeoutMs: 1000,
    });
    expect(args.slice(4, 6)).toEqual(['-passphrase', 'a&b c=d1234']);
  });
});
