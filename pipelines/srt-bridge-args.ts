/**
 * The per-session bridge of an admitted SRT caller: an SRT listener on loopback that accepts the
 * one caller the gatekeeper relays to it, and republishes its stream to the local RTMP ingest.
 * See docs/design/srt-whip-ingest.md §A1 ("Bridge command").
 */
export interface SrtBridgeSpec {
  /** The loopback UDP port the listener binds (chosen free by the caller). */
  port: number;
  /** The connection's latency in ms; SRT then takes the larger of both sides' (draft §4.4). */
  latencyMs: number;
  /** The RTMP URL the admission gave (one-time name). */
  rtmpUrl: string;
  /** The event's SRT passphrase, when it has one (10–64 characters, libsrt's limit). */
  passphrase?: string;
  /** How long the listener waits for its caller before giving up, in ms. */
  listenTimeoutMs: number;
}

export function srtBridgeArgs(spec: SrtBridgeSpec): string[] {
  // ffmpeg's SRT times are in µs (`ffmpeg -h protocol=srt`).
  const us = (ms: number) => String(Math.round(ms * 1000));
  const input = `srt://127.0.0.1:${spec.port}?mode=listener&latency=${us(spec.latencyMs)}&listen_timeout=${us(spec.listenTimeoutMs)}`;
  return [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error'],
    // An option rather than a URL field: no escaping of whatever characters the passphrase has.
    ...(spec.passphrase ? ['-passphrase', spec.passphrase] : []),
    // MPEG-TS may add streams at any time, so ffmpeg probes a live TS input for the whole
    // analyzeduration (5 s by default, measured here) before it writes anything: keep that to 1 s.
    // The caller's stream starts with this connection, so its first frames carry the parameters.
    ...['-analyzeduration', '1000000'],
    ...['-i', input],
    ...['-map', '0:v:0', '-map', '0:a:0?'],
    // FLV carries H.264 and AAC only; SRT encoders often send MP2, AC-3 or Opus audio.
    ...['-c:v', 'copy', '-c:a', 'aac', '-b:a', '160k', '-ar', '48000'],
    ...['-f', 'flv', spec.rtmpUrl],
  ];
}
