/**
 * SRT packets as the ingest gatekeeper needs them: the packet header, the handshake (CIF and
 * extensions), the streamid, and the few packets the gatekeeper writes itself (induction reply and
 * request, rejection). Pure: bytes in, bytes out. The layout is `draft-sharabayko-srt` §3 checked
 * against libsrt 1.5.1 (`srtcore/core.cpp`, `handshake.h`); see docs/design/srt-whip-ingest.md §A1.
 * Every field is big-endian.
 */

/** Header (16 bytes) plus the handshake CIF up to and including the peer IP (48 bytes). */
export const HANDSHAKE_BYTES = 64;
const HEADER_BYTES = 16;
const CIF = HEADER_BYTES;

/** Control packet types (draft §3.2). */
export const CONTROL = {
  handshake: 0,
  keepalive: 1,
  ack: 2,
  nak: 3,
  congestion: 4,
  shutdown: 5,
  ackack: 6,
  dropreq: 7,
  peerError: 8,
  user: 0x7fff,
} as const;

/** Handshake types (CIF @36). A value above 1000 is a rejection with reason `type - 1000`. */
export const HS_INDUCTION = 1;
export const HS_CONCLUSION = 0xffffffff;
/** Rejections start above this: `1000 + SRT_REJ_UNKNOWN` (0) is not one (libsrt tests `>`). */
export const HS_REJECTION_BASE = 1000;

/** The induction reply's extension field: "this listener speaks HSv5". */
export const SRT_MAGIC = 0x4a17;
/** The extension field of an HSv5 caller's induction request. */
const INDUCTION_REQUEST_EXT = 2;

/** Conclusion extension flags (CIF @22) and extension block types. */
export const HS_FLAG = { hsreq: 1, kmreq: 2, config: 4 } as const;
export const HS_EXT = {
  hsreq: 1,
  hsrsp: 2,
  kmreq: 3,
  kmrsp: 4,
  sid: 5,
  congestion: 6,
  filter: 7,
  group: 8,
} as const;

/** libsrt caps the streamid at 512 bytes (core.cpp `MAX_SID_LENGTH`). */
export const MAX_SID_BYTES = 512;

/**
 * Rejection reasons the gatekeeper itself gives. Below 1000: libsrt's core codes (`SRT_REJ_*`);
 * from 1000: application codes (`access_control.h`, `SRT_REJX_*`). The wire value is 1000 + these.
 */
export const SRT_REJECT = {
  version: 8, // SRT_REJ_VERSION
  group: 15, // SRT_REJ_GROUP
  badRequest: 1400, // SRT_REJX_BAD_REQUEST
  unauthorized: 1401, // SRT_REJX_UNAUTHORIZED
  overload: 1402, // SRT_REJX_OVERLOAD
  badMode: 1405, // SRT_REJX_BAD_MODE
  internal: 1500, // SRT_REJX_ISE
} as const;

export type SrtPacket =
  | {
      readonly kind: 'control';
      readonly type: number;
      readonly subtype: number;
      readonly info: number;
      readonly timestamp: number;
      readonly destSocketId: number;
    }
  | {
      readonly kind: 'data';
      readonly seq: number;
      /** R flag: the sender retransmitted this packet (after a NAK or a timeout). */
      readonly retransmitted: boolean;
      readonly messageNumber: number;
      readonly timestamp: number;
      readonly destSocketId: number;
    };

export interface HsExtension {
  readonly type: number;
  /** The block's content, its length a multiple of 4. */
  readonly content: Uint8Array;
}

export interface Handshake {
  readonly timestamp: number;
  readonly destSocketId: number;
  readonly version: number;
  /** 0, or 2/3/4 for AES-128/192/256 (advertised by a listener). */
  readonly encryption: number;
  /** Induction: 2 (request) or `SRT_MAGIC` (reply); conclusion: `HS_FLAG` bits. */
  readonly extensionField: number;
  readonly initialSeq: number;
  readonly mtu: number;
  readonly flowWindow: number;
  /** Unsigned: `HS_INDUCTION`, `HS_CONCLUSION`, or 1000 + a rejection reason. */
  readonly type: number;
  readonly socketId: number;
  readonly cookie: number;
  /** 16 bytes, informational (the sender's idea of the peer's address). */
  readonly peerIp: Uint8Array;
  /** Parsed only from HSv5 conclusions; empty otherwise. */
  readonly extensions: readonly HsExtension[];
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The 16-byte header of any SRT packet, or undefined if it is too short to be one. */
export function parsePacket(bytes: Uint8Array): SrtPacket | undefined {
  if (bytes.length < HEADER_BYTES) return undefined;
  const v = view(bytes);
  const w0 = v.getUint32(0);
  const w1 = v.getUint32(4);
  const timestamp = v.getUint32(8);
  const destSocketId = v.getUint32(12);
  if (w0 & 0x80000000) {
    return {
      kind: 'control',
      type: (w0 >>> 16) & 0x7fff,
      subtype: w0 & 0xffff,
      info: w1,
      timestamp,
      destSocketId,
    };
  }
  // Data: word 1 is PP(2) O(1) KK(2) R(1) message number(26).
  return {
    kind: 'data',
    seq: w0,
    retransmitted: ((w1 >>> 26) & 1) === 1,
    messageNumber: w1 & 0x03ffffff,
    timestamp,
    destSocketId,
  };
}

export function isControl(bytes: Uint8Array, type: number): boolean {
  const p = parsePacket(bytes);
  return p?.kind === 'control' && p.type === type;
}

/** A SHUTDOWN from the caller: the presenter stopped on purpose (a drop just goes silent). */
export function isShutdown(bytes: Uint8Array): boolean {
  return isControl(bytes, CONTROL.shutdown);
}

/** A handshake packet's CIF and extensions, or undefined if it is not a well-formed handshake. */
export function parseHandshake(bytes: Uint8Array): Handshake | undefined {
  if (bytes.length < HANDSHAKE_BYTES || !isControl(bytes, CONTROL.handshake)) return undefined;
  const v = view(bytes);
  const hs = {
    timestamp: v.getUint32(8),
    destSocketId: v.getUint32(12),
    version: v.getUint32(CIF),
    encryption: v.getUint16(CIF + 4),
    extensionField: v.getUint16(CIF + 6),
    initialSeq: v.getUint32(CIF + 8),
    mtu: v.getUint32(CIF + 12),
    flowWindow: v.getUint32(CIF + 16),
    type: v.getUint32(CIF + 20),
    socketId: v.getUint32(CIF + 24),
    cookie: v.getUint32(CIF + 28),
    peerIp: bytes.slice(CIF + 32, HANDSHAKE_BYTES),
  };
  // Extensions follow only an HSv5 conclusion that announces them (the induction's extension
  // field is not a set of flags).
  const announced = hs.version === 5 && hs.type === HS_CONCLUSION && hs.extensionField !== 0;
  if (!announced) return { ...hs, extensions: [] };
  const extensions: HsExtension[] = [];
  let at = HANDSHAKE_BYTES;
  while (at + 4 <= bytes.length) {
    const type = v.getUint16(at);
    const end = at + 4 + v.getUint16(at + 2) * 4;
    if (end > bytes.length) return undefined;
    extensions.push({ type, content: bytes.slice(at + 4, end) });
    at = end;
  }
  return at === bytes.length ? { ...hs, extensions } : undefined;
}

/** A handshake as bytes (the inverse of `parseHandshake`; extensions are written as given). */
export function encodeHandshake(hs: Handshake): Uint8Array {
  const size = HANDSHAKE_BYTES + hs.extensions.reduce((n, e) => n + 4 + e.content.length, 0);
  const out = new Uint8Array(size);
  const v = view(out);
  v.setUint32(0, 0x80000000 | (CONTROL.handshake << 16));
  v.setUint32(8, hs.timestamp);
  v.setUint32(12, hs.destSocketId);
  v.setUint32(CIF, hs.version);
  v.setUint16(CIF + 4, hs.encryption);
  v.setUint16(CIF + 6, hs.extensionField);
  v.setUint32(CIF + 8, hs.initialSeq);
  v.setUint32(CIF + 12, hs.mtu);
  v.setUint32(CIF + 16, hs.flowWindow);
  v.setUint32(CIF + 20, hs.type);
  v.setUint32(CIF + 24, hs.socketId);
  v.setUint32(CIF + 28, hs.cookie);
  out.set(hs.peerIp.subarray(0, 16), CIF + 32);
  let at = HANDSHAKE_BYTES;
  for (const e of hs.extensions) {
    if (e.content.length % 4 !== 0) throw new Error('an SRT handshake extension is a whole number of words');
    v.setUint16(at, e.type);
    v.setUint16(at + 2, e.content.length / 4);
    out.set(e.content, at + 4);
    at += 4 + e.content.length;
  }
  return out;
}

/**
 * A string extension (SID, congestion) as on the wire: UTF-8, zero-padded to whole words, each
 * 4-byte word reversed. libsrt stores the string as little-endian words (`HtoILA`) and then sends
 * every CIF word big-endian, so "abcdef" is `64 63 62 61 00 00 66 65`.
 */
export function encodeStringExtension(text: string): Uint8Array {
  const utf8 = new TextEncoder().encode(text);
  const padded = new Uint8Array(Math.ceil(utf8.length / 4) * 4);
  padded.set(utf8);
  return reverseWords(padded);
}

export function decodeStringExtension(content: Uint8Array): string {
  const bytes = reverseWords(content);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, end));
}

function reverseWords(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    for (let k = 0; k < 4; k++) out[i + k] = bytes[i + 3 - k] ?? 0;
  }
  return out;
}

/** The caller's streamid, or undefined when it sent none; `tooLong` when over libsrt's limit. */
export function streamIdOf(hs: Handshake): { sid: string } | { tooLong: true } | undefined {
  const ext = hs.extensions.find((e) => e.type === HS_EXT.sid);
  if (!ext) return undefined;
  if (ext.content.length > MAX_SID_BYTES) return { tooLong: true };
  return { sid: decodeStringExtension(ext.content) };
}

/**
 * The latency the caller proposes, in ms: HSREQ's third word is `rcvTSBPD << 16 | sndTSBPD`. A
 * sending caller's own half is the low one; the larger half is taken so that neither is undercut.
 */
export function proposedLatencyMs(hs: Handshake): number | undefined {
  const ext = hs.extensions.find((e) => e.type === HS_EXT.hsreq);
  if (!ext || ext.content.length < 12) return undefined;
  const word = view(ext.content).getUint32(8);
  return Math.max(word >>> 16, word & 0xffff);
}

export function hasExtension(hs: Handshake, type: number): boolean {
  return hs.extensions.some((e) => e.type === type);
}

export type StreamIdDecision = { ok: true; key: string } | { ok: false; reason: number };

/**
 * The stream key in a streamid: either the plain key, or the access-control syntax
 * `#!::r=<key>,m=publish` (draft-sharabayko-srt, appendix "SRT Access Control"). This endpoint
 * only takes publishers: `m=request` or `m=bidirectional` is SRT_REJX_BAD_MODE. A missing `m` is
 * taken as publish (the draft's default is request, but a presenter who leaves it out means to send).
 */
export function parseStreamId(sid: string): StreamIdDecision {
  if (!sid.startsWith('#!::')) {
    return sid === '' ? { ok: false, reason: SRT_REJECT.unauthorized } : { ok: true, key: sid };
  }
  const fields = new Map<string, string>();
  for (const pair of sid.slice(4).split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return { ok: false, reason: SRT_REJECT.badRequest };
    fields.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const mode = fields.get('m');
  if (mode !== undefined && mode !== 'publish') return { ok: false, reason: SRT_REJECT.badMode };
  const key = fields.get('r');
  return key ? { ok: true, key } : { ok: false, reason: SRT_REJECT.unauthorized };
}

/**
 * The listener's answer to an induction request, without keeping state (libsrt
 * `processConnectRequest`): the request echoed to the caller's socket id, as HSv5, with the SRT
 * magic and the given cookie. Same size as the request, so it amplifies nothing.
 */
export function buildInductionReply(request: Handshake, cookie: number): Uint8Array {
  return encodeHandshake({
    ...request,
    destSocketId: request.socketId,
    version: 5,
    encryption: 0,
    extensionField: SRT_MAGIC,
    type: HS_INDUCTION,
    cookie,
    extensions: [],
  });
}

/** An HSv5 caller's induction request (what the gatekeeper sends the bridge for its cookie). */
export function buildInductionRequest(from: {
  socketId: number;
  initialSeq: number;
  mtu: number;
  flowWindow: number;
}): Uint8Array {
  return encodeHandshake({
    ...from,
    timestamp: 0,
    destSocketId: 0,
    version: 4,
    encryption: 0,
    extensionField: INDUCTION_REQUEST_EXT,
    type: HS_INDUCTION,
    cookie: 0,
    peerIp: new Uint8Array(16),
    extensions: [],
  });
}

/**
 * libsrt's refusal of a conclusion (core.cpp l.11090–11130): the conclusion's CIF without
 * extensions, handshake type 1000 + reason, sent to the caller's socket id. `reason` is a core code
 * (< 1000) or an application code (`srtRejectCode`, ≥ 1000).
 */
export function buildRejection(conclusion: Uint8Array, reason: number): Uint8Array {
  if (conclusion.length < HANDSHAKE_BYTES) throw new Error('not a handshake');
  if (reason <= 0) throw new Error('reason 0 is not a rejection for libsrt');
  const out = conclusion.slice(0, HANDSHAKE_BYTES);
  const v = view(out);
  v.setUint32(0, 0x80000000 | (CONTROL.handshake << 16));
  v.setUint32(4, 0);
  v.setUint32(12, v.getUint32(CIF + 24));
  v.setUint32(CIF + 20, HS_REJECTION_BASE + reason);
  return out;
}

/** The reason of a rejection handshake (its type − 1000), or undefined if it is none. */
export function rejectionReason(hs: Handshake): number | undefined {
  return hs.type > HS_REJECTION_BASE && hs.type !== HS_CONCLUSION ? hs.type - HS_REJECTION_BASE : undefined;
}

/** A copy of a handshake with another SYN cookie (the only word the relay changes). */
export function withCookie(handshake: Uint8Array, cookie: number): Uint8Array {
  const out = handshake.slice();
  view(out).setUint32(CIF + 28, cookie >>> 0);
  return out;
}
