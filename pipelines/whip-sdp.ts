/**
 * The pure part of WHIP ingest (RFC 9725): which of the publisher's offered codecs onair takes, the
 * SDP file the bridge ffmpeg reads the forwarded RTP from, trickle-ICE fragments (RFC 8840), and
 * the bridge's argv. No I/O: `src/live/whip-ingest.ts` runs the peer connection and the bridge.
 */

/** The payload types the forwarder rewrites RTP to, and the bridge's SDP declares. */
export const VIDEO_PT = 96;
export const AUDIO_PT = 111;

export interface OfferedCodec {
  readonly payloadType: number;
  /** As in `a=rtpmap` (`H264`, `VP8`, `opus`). */
  readonly name: string;
  readonly clockRate: number;
  readonly channels?: number;
  /** The `a=fmtp` parameters, or ''. */
  readonly fmtp: string;
  /** The `a=rtcp-fb` values (`nack`, `nack pli`, `transport-cc`…). */
  readonly feedback: readonly string[];
}

export interface OfferedMedia {
  readonly kind: string;
  readonly mid?: string;
  readonly direction?: string;
  /** Port 0: a rejected or stopped section. */
  readonly port: number;
  readonly codecs: readonly OfferedCodec[];
}

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

function lines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((l) => l.length > 0);
}

/** The audio and video sections of an SDP offer, with their codecs in the offer's order. */
export function parseOfferMedia(sdp: string): OfferedMedia[] {
  interface Draft {
    kind: string;
    port: number;
    mid?: string;
    direction?: string;
    order: number[];
    rtpmap: Map<number, { name: string; clockRate: number; channels?: number }>;
    fmtp: Map<number, string>;
    feedback: Map<number, string[]>;
  }
  const drafts: Draft[] = [];
  let current: Draft | undefined;
  for (const line of lines(sdp)) {
    const m = /^m=(\w+) (\d+)(?:\/\d+)? [\w/]+((?: \d+)*)$/.exec(line);
    if (m) {
      current = {
        kind: m[1] ?? '',
        port: Number(m[2]),
        order: (m[3] ?? '')
          .trim()
          .split(' ')
          .filter((s) => s !== '')
          .map(Number),
        rtpmap: new Map(),
        fmtp: new Map(),
        feedback: new Map(),
      };
      drafts.push(current);
      continue;
    }
    if (!current || !line.startsWith('a=')) continue;
    const attr = line.slice(2);
    const colon = attr.indexOf(':');
    const name = colon === -1 ? attr : attr.slice(0, colon);
    const value = colon === -1 ? '' : attr.slice(colon + 1);
    if (DIRECTIONS.has(name)) current.direction = name;
    else if (name === 'mid') current.mid = value.trim();
    else if (name === 'rtpmap') {
      const r = /^(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?$/.exec(value.trim());
      if (r) {
        const channels = r[4] === undefined ? undefined : Number(r[4]);
        current.rtpmap.set(Number(r[1]), {
          name: r[2] ?? '',
          clockRate: Number(r[3]),
          ...(channels === undefined ? {} : { channels }),
        });
      }
    } else if (name === 'fmtp') {
      const f = /^(\d+) (.*)$/.exec(value.trim());
      if (f) current.fmtp.set(Number(f[1]), (f[2] ?? '').trim());
    } else if (name === 'rtcp-fb') {
      const f = /^(\d+) (.*)$/.exec(value.trim());
      if (f) {
        const pt = Number(f[1]);
        current.feedback.set(pt, [...(current.feedback.get(pt) ?? []), (f[2] ?? '').trim()]);
      }
    }
  }
  return drafts
    .filter((d) => d.kind === 'audio' || d.kind === 'video')
    .map((d) => ({
      kind: d.kind,
      port: d.port,
      ...(d.mid === undefined ? {} : { mid: d.mid }),
      ...(d.direction === undefined ? {} : { direction: d.direction }),
      codecs: d.order.flatMap((pt): OfferedCodec[] => {
        const map = d.rtpmap.get(pt);
        if (!map) return [];
        return [{ payloadType: pt, ...map, fmtp: d.fmtp.get(pt) ?? '', feedback: d.feedback.get(pt) ?? [] }];
      }),
    }));
}

/** `a=fmtp` parameters as a map (`packetization-mode=1;profile-level-id=42e01f`). */
export function fmtpParams(fmtp: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of fmtp.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * How much onair likes an H.264 variant (higher is better; undefined: unusable). FLV/RTP need
 * packetization-mode 1 (FU-A, RFC 6184 §6.3); Constrained Baseline (42e0xx) is what every browser
 * encodes, then Baseline (4200xx), then anything else in mode 1.
 */
function h264Rank(codec: OfferedCodec): number | undefined {
  const params = fmtpParams(codec.fmtp);
  if (params.get('packetization-mode') !== '1') return undefined;
  const profile = (params.get('profile-level-id') ?? '').toLowerCase();
  if (profile.startsWith('42e0')) return 3;
  if (profile.startsWith('4200')) return 2;
  return 1;
}

export interface CodecPick {
  readonly video: OfferedCodec;
  /** Absent when the publisher sends no audio (the bridge then adds silence). */
  readonly audio?: OfferedCodec;
}

export type CodecChoice =
  ({ readonly ok: true } & CodecPick) | { readonly ok: false; readonly reason: string };

/**
 * The codecs onair answers with: H.264 packetization-mode 1 if offered, else VP8 (the bridge
 * re-encodes either), and Opus. Exactly one sending video section is required; audio is optional.
 */
export function chooseCodecs(media: readonly OfferedMedia[]): CodecChoice {
  const live = media.filter((m) => m.port !== 0 && (m.direction === undefined || m.direction !== 'inactive'));
  const videos = live.filter((m) => m.kind === 'video');
  const audios = live.filter((m) => m.kind === 'audio');
  if (videos.length !== 1) {
    return {
      ok: false,
      reason: videos.length === 0 ? 'The offer has no video.' : 'Send one video track only.',
    };
  }
  if (audios.length > 1) return { ok: false, reason: 'Send one audio track at most.' };
  const codecs = videos[0]?.codecs ?? [];
  let video: OfferedCodec | undefined;
  let best = 0;
  for (const c of codecs) {
    if (c.name.toLowerCase() !== 'h264' || c.clockRate !== 90000) continue;
    const rank = h264Rank(c) ?? 0;
    if (rank > best) [video, best] = [c, rank];
  }
  video ??= codecs.find((c) => c.name.toLowerCase() === 'vp8' && c.clockRate === 90000);
  if (!video)
    return { ok: false, reason: 'The offer has neither H.264 (packetization-mode=1) nor VP8 video.' };
  const audioMedia = audios[0];
  if (!audioMedia) return { ok: true, video };
  const audio = audioMedia.codecs.find((c) => c.name.toLowerCase() === 'opus' && c.clockRate === 48000);
  if (!audio) return { ok: false, reason: 'The offer has audio but no Opus.' };
  return { ok: true, video, audio };
}

/**
 * The SDP file the bridge ffmpeg reads: video RTP on `port` (RTCP `port + 1`), audio on `port + 2`
 * (RTCP `port + 3`), payload types `VIDEO_PT`/`AUDIO_PT` (the forwarder rewrites them). H.264 has no
 * `sprop-parameter-sets`: the decoder takes SPS/PPS from the keyframes the forwarder asks for.
 */
export function bridgeSdp(pick: CodecPick, port: number): string {
  const out = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=onair whip bridge', 'c=IN IP4 127.0.0.1', 't=0 0'];
  const v = pick.video;
  out.push(`m=video ${port} RTP/AVP ${VIDEO_PT}`, `a=rtcp:${port + 1}`);
  if (v.name.toLowerCase() === 'h264') {
    const params = fmtpParams(v.fmtp);
    const profile = params.get('profile-level-id') ?? '42e01f';
    out.push(
      `a=rtpmap:${VIDEO_PT} H264/90000`,
      `a=fmtp:${VIDEO_PT} packetization-mode=1;profile-level-id=${profile}`,
    );
  } else {
    out.push(`a=rtpmap:${VIDEO_PT} VP8/90000`);
  }
  out.push('a=recvonly');
  if (pick.audio) {
    out.push(`m=audio ${port + 2} RTP/AVP ${AUDIO_PT}`, `a=rtcp:${port + 3}`);
    out.push(`a=rtpmap:${AUDIO_PT} opus/48000/2`, 'a=recvonly');
  }
  return out.join('\r\n') + '\r\n';
}

/** The first RTP/RTCP port of each stream in `bridgeSdp`. */
export function bridgePorts(port: number): {
  video: number;
  videoRtcp: number;
  audio: number;
  audioRtcp: number;
} {
  return { video: port, videoRtcp: port + 1, audio: port + 2, audioRtcp: port + 3 };
}

export interface TrickleCandidate {
  /** The `candidate:…` attribute value, as `RTCIceCandidateInit.candidate` wants it. */
  readonly candidate: string;
  readonly sdpMid?: string;
  readonly sdpMLineIndex?: number;
}

export interface TrickleFragment {
  readonly ufrag?: string;
  readonly pwd?: string;
  readonly candidates: readonly TrickleCandidate[];
  readonly endOfCandidates: boolean;
}

/**
 * An `application/trickle-ice-sdpfrag` body (RFC 8840 §9; WHIP RFC 9725 §4.3.1): ICE credentials
 * (session or media level), then per `m=` section its `a=mid` and `a=candidate` lines.
 */
export function parseTrickleFragment(body: string): TrickleFragment {
  let ufrag: string | undefined;
  let pwd: string | undefined;
  let index = -1;
  let endOfCandidates = false;
  const pending: { candidate: string; index: number }[] = [];
  const mids = new Map<number, string>();
  for (const line of lines(body)) {
    if (line.startsWith('m=')) index++;
    else if (line.startsWith('a=mid:')) mids.set(index, line.slice(6).trim());
    else if (line.startsWith('a=ice-ufrag:')) ufrag = line.slice(12).trim();
    else if (line.startsWith('a=ice-pwd:')) pwd = line.slice(10).trim();
    else if (line.startsWith('a=candidate:')) pending.push({ candidate: line.slice(2).trim(), index });
    else if (line.trim() === 'a=end-of-candidates') endOfCandidates = true;
  }
  const candidates = pending.map(({ candidate, index: i }): TrickleCandidate => {
    const m = mids.get(i);
    // The fragment's m= index is not the description's (bundled sections are left out): prefer the mid.
    if (m !== undefined) return { candidate, sdpMid: m };
    return i >= 0 ? { candidate, sdpMLineIndex: i } : { candidate };
  });
  return {
    ...(ufrag === undefined ? {} : { ufrag }),
    ...(pwd === undefined ? {} : { pwd }),
    candidates,
    endOfCandidates,
  };
}

/** The connection address of an `a=candidate:` line (or `candidate:` value); undefined if malformed. */
export function candidateAddress(line: string): string | undefined {
  // foundation component transport priority address port "typ" type …
  const parts = line.replace(/^a=/, '').split(/\s+/);
  return parts.length >= 8 ? parts[4] : undefined;
}

/**
 * The answer with only the candidates whose address `keep` accepts (e.g. behind 1:1 NAT, only the
 * public address: a private one is only an extra check that can never succeed).
 */
export function filterAnswerCandidates(sdp: string, keep: (address: string) => boolean): string {
  const out = sdp.split('\r\n').filter((line) => {
    if (!line.startsWith('a=candidate:')) return true;
    const address = candidateAddress(line);
    return address !== undefined && keep(address);
  });
  return out.join('\r\n');
}

export interface WhipBridgePlan {
  readonly sdpPath: string;
  /** Where the bridge publishes (`rtmp://127.0.0.1:<port>/live/<one-time name>`). */
  readonly rtmpUrl: string;
  /** Constant output frame rate. */
  readonly fps: number;
  /** Fixed GOP (frames): a keyframe every segment, so the worker can copy this rung. */
  readonly gopFrames: number;
  /** The output picture: the source is scaled into it (kept aspect, padded), so resizes mid-stream do not reach the encoder. */
  readonly width: number;
  readonly height: number;
  /** False when the publisher sends no audio: the bridge adds silence (the live ladder expects AAC). */
  readonly audio: boolean;
  readonly crf?: number;
  readonly maxVideoKbps?: number;
  readonly audioKbps?: number;
  readonly x264Preset?: string;
  readonly logLevel?: string;
}

/**
 * The bridge ffmpeg: RTP (SDP file) in, re-encoded once to constant-frame-rate H.264 with a fixed
 * GOP and AAC, out as FLV to the local RTMP ingest. Re-encoding normalises what WebRTC senders do:
 * VP8, variable frame rate, resolution changes under load, keyframes only on request.
 */
export function whipBridgeArgs(plan: WhipBridgePlan): string[] {
  const fps = String(plan.fps);
  const { width: w, height: h } = plan;
  const kbps = plan.maxVideoKbps ?? 4000;
  const args = ['-hide_banner', '-nostdin', '-loglevel', plan.logLevel ?? 'warning'];
  // rtpdec's default reorder window (100 ms, rtsp.c) is shorter than a NACK retransmission round.
  args.push('-protocol_whitelist', 'file,udp,rtp', '-max_delay', '500000', '-reorder_queue_size', '500');
  args.push('-f', 'sdp', '-i', plan.sdpPath);
  if (!plan.audio) args.push('-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo');
  args.push('-map', '0:v:0', '-map', plan.audio ? '0:a:0' : '1:a:0');
  args.push(
    '-vf',
    `fps=${fps},scale=${w}:${h}:force_original_aspect_ratio=decrease,` +
      `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p`,
  );
  args.push('-c:v', 'libx264', '-preset', plan.x264Preset ?? 'veryfast', '-tune', 'zerolatency');
  args.push('-crf', String(plan.crf ?? 21), '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`);
  // Fixed GOP, no scene-cut keyframes: every segment downstream starts on a keyframe.
  args.push('-g', String(plan.gopFrames), '-keyint_min', String(plan.gopFrames), '-sc_threshold', '0');
  args.push('-r', fps, '-pix_fmt', 'yuv420p');
  // Fill audio gaps (Opus DTX, losses) so A/V stay aligned in FLV.
  if (plan.audio) args.push('-af', 'aresample=async=1');
  args.push('-c:a', 'aac', '-ar', '48000', '-ac', '2', '-b:a', `${plan.audioKbps ?? 160}k`);
  if (!plan.audio) args.push('-shortest');
  args.push('-flvflags', 'no_duration_filesize', '-f', 'flv', plan.rtmpUrl);
  return args;
}
