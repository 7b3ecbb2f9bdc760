import type { EventRow } from '../db/events.ts';

export type PublishDecision =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly code: 'unknown_key' | 'disabled' | 'ended' | 'too_early';
      readonly reason: string;
    };

/**
 * Whether a stream key may publish now (the "already publishing" check happens in Redis).
 * Reasons are what the presenter's encoder log will show, so they say what to do.
 */
export function decidePublish(
  event: EventRow | undefined,
  nowMs: number,
  earlyMinutes: number,
): PublishDecision {
  if (!event || event.type !== 'live' || !event.stream_key) {
    return {
      ok: false,
      code: 'unknown_key',
      reason: 'Unknown stream key: copy it again from the event page.',
    };
  }
  if (event.stream_key_disabled) {
    return { ok: false, code: 'disabled', reason: 'This stream key is disabled.' };
  }
  if (event.ended_at || event.live_status === 'ended') {
    return { ok: false, code: 'ended', reason: 'This event has ended.' };
  }
  const opensAt = Date.parse(event.starts_at) - earlyMinutes * 60_000;
  if (nowMs < opensAt) {
    return {
      ok: false,
      code: 'too_early',
      reason: `Too early: streaming opens at ${new Date(opensAt).toISOString()}, ${earlyMinutes} minutes before the start.`,
    };
  }
  return { ok: true };
}
