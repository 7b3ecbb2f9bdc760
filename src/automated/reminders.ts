import type { JobQueues } from '../queue/catalogue.ts';

export type MailKind = 'confirmation' | 'reminder' | 'missed';

/** Deterministic: the same mail is queued once, however often (restarts, retries, double clicks). */
export function mailJobId(
  kind: MailKind,
  registrantId: string,
  sessionAt: string,
  offsetSeconds = 0,
): string {
  return `mail-${kind}-${registrantId}-${Date.parse(sessionAt) / 1000}-${offsetSeconds}`;
}

export interface SessionMails {
  registrantId: string;
  sessionStartMs: number;
  sessionEndMs: number;
  baseUrl: string;
  /** Reminder offsets before the start, seconds. */
  offsetsSeconds: readonly number[];
  /** Whether the no-show email makes sense (there is a replay). */
  replay: boolean;
  /** How long after the end the no-show email goes. */
  missedDelaySeconds: number;
  confirmation: boolean;
}

/**
 * Queues a registrant's mails for their session: the confirmation now, a reminder per offset whose
 * time is still ahead (one already past at registration is skipped), and the no-show mail after
 * the end. All as BullMQ delayed jobs.
 */
export async function queueSessionMails(queues: JobQueues, m: SessionMails, nowMs: number): Promise<void> {
  const sessionAt = new Date(m.sessionStartMs).toISOString();
  const base = { registrantId: m.registrantId, sessionAt, baseUrl: m.baseUrl };
  if (m.confirmation) {
    await queues.add(
      'send-email',
      { ...base, kind: 'confirmation' },
      mailJobId('confirmation', m.registrantId, sessionAt),
    );
  }
  for (const offset of m.offsetsSeconds) {
    const at = m.sessionStartMs - offset * 1000;
    if (at <= nowMs) continue;
    await queues.add(
      'send-email',
      { ...base, kind: 'reminder', offsetSeconds: offset },
      mailJobId('reminder', m.registrantId, sessionAt, offset),
      { delayMs: at - nowMs },
    );
  }
  if (m.replay) {
    await queues.add(
      'send-email',
      { ...base, kind: 'missed' },
      mailJobId('missed', m.registrantId, sessionAt),
      {
        delayMs: m.sessionEndMs + m.missedDelaySeconds * 1000 - nowMs,
      },
    );
  }
}

/** Removes the still-pending mails of a registrant's session (moved or cancelled). */
export async function cancelSessionMails(
  queues: JobQueues,
  registrantId: string,
  sessionAt: string,
  offsetsSeconds: readonly number[],
): Promise<void> {
  await queues.remove('send-email', mailJobId('missed', registrantId, sessionAt));
  for (const offset of offsetsSeconds) {
    await queues.remove('send-email', mailJobId('reminder', registrantId, sessionAt, offset));
  }
}
