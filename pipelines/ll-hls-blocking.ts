/**
 * Blocking playlist reload (RFC 8216bis 6.2.5.2): a client of a Low-Latency HLS playlist asks for
 * `?_HLS_msn=M[&_HLS_part=P]` and the server holds its answer until the playlist holds segment M
 * (or part P of it). Pure: what to do with such a request, given what the playlist holds now.
 */

/** What the playlist holds now: its last whole segment, and the parts of the one in progress. */
export interface PlaylistEdge {
  /** Media sequence number of the last complete segment (-1: none yet). */
  readonly lastMsn: number;
  /** Parts of segment lastMsn + 1 already listed. */
  readonly pendingParts: number;
  readonly ended: boolean;
}

export type BlockingRequest = { msn: number; part: number | undefined } | 'none' | 'invalid';

/** Reads `_HLS_msn` / `_HLS_part` from a query string (digits only, without leading zeros). */
export function parseBlockingRequest(query: URLSearchParams): BlockingRequest {
  const msn = query.get('_HLS_msn');
  const part = query.get('_HLS_part');
  if (msn === null) return part === null ? 'none' : 'invalid';
  const number = (text: string) => (/^(0|[1-9][0-9]{0,9})$/.test(text) ? Number(text) : undefined);
  const m = number(msn);
  const p = part === null ? undefined : number(part);
  if (m === undefined || (part !== null && p === undefined)) return 'invalid';
  return { msn: m, part: p };
}

/**
 * `ready`: answer now. `wait`: hold the request until the playlist changes (then ask again).
 * `too-far`: the request is more than two segments ahead (RFC 8216bis 6.2.5.2: 400).
 */
export function blockingVerdict(
  edge: PlaylistEdge,
  req: { msn: number; part: number | undefined },
): 'ready' | 'wait' | 'too-far' {
  // A finished playlist never grows: whatever was asked, the answer is the playlist as it is.
  if (edge.ended) return 'ready';
  if (req.msn > edge.lastMsn + 2) return 'too-far';
  if (req.msn <= edge.lastMsn) return 'ready';
  // Segment lastMsn + 1 is in progress: with a part, ready once that part is listed.
  if (req.msn === edge.lastMsn + 1 && req.part !== undefined)
    return req.part < edge.pendingParts ? 'ready' : 'wait';
  return 'wait';
}

/**
 * The edge of a media playlist's text, read without parsing it in full (an origin judges every
 * blocking request by it): media sequence, whole segments, the parts listed after the last one.
 */
export function playlistEdge(text: string): PlaylistEdge {
  let mediaSequence = 0;
  let segments = 0;
  let pendingParts = 0;
  let ended = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) mediaSequence = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXT-X-PART:')) pendingParts += 1;
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (line !== '' && !line.startsWith('#')) {
      segments += 1;
      pendingParts = 0;
    }
  }
  return { lastMsn: mediaSequence + segments - 1, pendingParts, ended };
}
