/**
 * One admission for every way a presenter publishes. RTMP checks the key in node-media-server's
 * prePublish; SRT (the UDP gatekeeper) and WHIP (the HTTP POST) check it here before any media is
 * accepted, then run a per-session *bridge* ffmpeg that republishes the stream to the local RTMP
 * ingest under a one-time stream name. From there on the live job, its pull, the publisher record
 * in Redis, health and webhooks are the same as for OBS over RTMP.
 */

export type PublishProtocol = 'rtmp' | 'srt' | 'whip';

export type RefusalCode = 'unknown_key' | 'disabled' | 'ended' | 'too_early' | 'busy' | 'error';

export interface Refusal {
  readonly ok: false;
  readonly code: RefusalCode;
  /** Words for the presenter (WHIP's response body; SRT callers see only the code). */
  readonly reason: string;
}

export interface Admission {
  readonly ok: true;
  readonly eventId: string;
  /** Where the bridge publishes: `rtmp://127.0.0.1:<port>/live/<one-time name>`. Use it once. */
  readonly rtmpUrl: string;
  /** SRT: the event encrypts its stream with this passphrase; the bridge requires it of the caller. */
  readonly srtPassphrase?: string;
  /**
   * The bridge is over. `stopped`: the presenter ended on purpose (WHIP DELETE, SRT SHUTDOWN), so
   * the event ends at once; otherwise it was a drop, and the reconnect grace applies. Idempotent.
   */
  end(how: { stopped: boolean }): void;
}

/** Checks a stream key and claims the event's single publisher slot, or says why not. */
export type Admit = (
  streamKey: string,
  ip: string,
  protocol: Exclude<PublishProtocol, 'rtmp'>,
) => Promise<Admission | Refusal>;

/** The HTTP status of a WHIP refusal (RFC 9725 §4.2: 401 for a bad token, 409 when taken). */
export function whipStatus(code: RefusalCode): number {
  switch (code) {
    case 'unknown_key':
      return 401;
    case 'busy':
      return 409;
    case 'disabled':
    case 'ended':
    case 'too_early':
      return 403;
    case 'error':
      return 503;
  }
}

/**
 * The SRT rejection reason a caller gets (libsrt `access_control.h`: application codes are 1000 and
 * up, and go on the wire as handshake type 1000 + code).
 */
export function srtRejectCode(code: RefusalCode): number {
  switch (code) {
    case 'unknown_key':
      return 1401; // SRT_REJX_UNAUTHORIZED
    case 'disabled':
    case 'too_early':
      return 1403; // SRT_REJX_FORBIDDEN
    case 'ended':
      return 1404; // SRT_REJX_NOTFOUND
    case 'busy':
      return 1409; // SRT_REJX_CONFLICT
    case 'error':
      return 1500; // SRT_REJX_ISE
  }
}
