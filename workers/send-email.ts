import type { Job } from 'bullmq';
import { sessionInvite } from '../src/automated/ics.ts';
import { composeAccessMail, composeSessionMail } from '../src/automated/emails.ts';
import { personalLinks } from '../src/automated/links.ts';
import { mailJobId } from '../src/automated/reminders.ts';
import { isValidTimeZone } from '../src/automated/schedule.ts';
import { replayDaysOf } from '../src/automated/sessions.ts';
import { watchedSession } from '../src/db/analytics.ts';
import { findAsset } from '../src/db/assets.ts';
import { recordEmailSent, wasEmailSent } from '../src/db/emails.ts';
import { findEvent, scheduleOf } from '../src/db/events.ts';
import { findRegistrant, type RegistrantRow } from '../src/db/registrants.ts';
import type { EventRow } from '../src/db/events.ts';
import { isLanguage, type Language } from '../src/i18n/languages.ts';
import type { JobPayload } from '../src/queue/catalogue.ts';
import { Mailer } from '../src/services/mailer.ts';
import type { WorkerDeps } from './deps.ts';

/**
 * A registrant's mails are in the event's language when it sets one, else in the one their
 * browser asked for when they registered (English when neither says).
 */
export function mailLanguage(event: EventRow, registrant: RegistrantRow): Language {
  if (isLanguage(event.language)) return event.language;
  return isLanguage(registrant.language) ? registrant.language : 'en';
}

/**
 * Sends one session email. Whatever changed since it was queued decides: an erased or moved
 * registrant, one who opted out of reminders, or a no-show mail for someone who did watch, gets
 * nothing. A mail is recorded as sent (by its job id), so a retry after a crash never sends it twice.
 */
export function createSendEmailProcessor(deps: WorkerDeps) {
  const mailer = new Mailer(deps.config.smtpUrl, deps.config.mailFrom);
  let warned = false;

  return async function processSendEmail(job: Job<JobPayload<'send-email'>>): Promise<void> {
    const { kind, registrantId, sessionAt, offsetSeconds, baseUrl } = job.data;
    const id = mailJobId(kind, registrantId, sessionAt, offsetSeconds ?? 0);
    const log = deps.log.child({ mail: kind, registrantId });
    if (!mailer.configured) {
      if (!warned) log.warn('emails are not sent: SMTP_URL is not set');
      warned = true;
      return;
    }
    const registrant = await findRegistrant(deps.db, registrantId);
    if (!registrant?.email || registrant.anonymised_at) return;
    if (registrant.session_at !== sessionAt) return; // moved to another session since
    if (kind !== 'confirmation' && registrant.reminders_off) return;
    const event = await findEvent(deps.db, registrant.event_id);
    const schedule = event ? scheduleOf(event) : undefined;
    const asset = event?.asset_id ? await findAsset(deps.db, event.asset_id) : undefined;
    if (!event || !schedule || !asset?.duration_seconds) return;
    if (kind === 'missed') {
      if ((await watchedSession(deps.db, registrantId, sessionAt)) || replayDaysOf(schedule) === 0) return;
    }
    if (await wasEmailSent(deps.db, id)) return;

    const startMs = Date.parse(sessionAt);
    const links = personalLinks(baseUrl, event, registrantId, deps.secret);
    const language = mailLanguage(event, registrant);
    const mail = composeSessionMail({
      kind,
      ...(offsetSeconds !== undefined ? { offsetSeconds } : {}),
      title: event.title,
      startMs,
      // The time as the registrant's own clock shows it (their browser's zone), else the event's.
      timezone:
        registrant.time_zone && isValidTimeZone(registrant.time_zone)
          ? registrant.time_zone
          : schedule.timezone,
      language,
      joinUrl: links.join,
      selfServiceUrl: links.selfService,
      unsubscribeUrl: links.unsubscribe,
      replayDays: replayDaysOf(schedule),
    });
    const invite =
      kind === 'missed'
        ? undefined
        : sessionInvite({
            uid: `${event.id}-${registrantId}@onair`,
            title: event.title,
            description: event.description,
            url: links.join,
            startMs,
            endMs: startMs + asset.duration_seconds * 1000,
            timezone: schedule.timezone,
            organizerName: 'onair',
            organizerEmail: deps.config.mailFrom.replace(/^.*<([^>]+)>.*$/, '$1'),
            // Later sessions of the same registration replace the calendar entry.
            sequence: Math.floor(startMs / 1000) - 1_700_000_000,
            stampMs: Date.now(),
            language,
          });
    await mailer.send({
      to: registrant.email,
      ...mail,
      unsubscribeUrl: links.unsubscribe,
      ...(invite ? { invite } : {}),
    });
    await recordEmailSent(deps.db, { id, registrantId, kind });
    log.info('email sent', { sessionAt });
  };
}

/**
 * Sends a registrant of a live or on-demand webinar their personal links. Nothing for an erased
 * registrant or one who stopped the emails; recorded as sent by its job id, so a retry after a
 * crash never sends it twice.
 */
export function createSendAccessLinkProcessor(deps: WorkerDeps) {
  const mailer = new Mailer(deps.config.smtpUrl, deps.config.mailFrom);

  return async function processSendAccessLink(job: Job<JobPayload<'send-access-link'>>): Promise<void> {
    const { registrantId, reason, baseUrl } = job.data;
    if (!mailer.configured) return;
    const id = `access-${job.id ?? registrantId}`;
    const registrant = await findRegistrant(deps.db, registrantId);
    if (!registrant?.email || registrant.anonymised_at || registrant.reminders_off) return;
    const event = await findEvent(deps.db, registrant.event_id);
    if (!event) return;
    if (await wasEmailSent(deps.db, id)) return;
    const links = personalLinks(baseUrl, event, registrantId, deps.secret);
    const mail = composeAccessMail({
      title: event.title,
      reason,
      language: mailLanguage(event, registrant),
      joinUrl: links.join,
      selfServiceUrl: links.selfService,
      unsubscribeUrl: links.unsubscribe,
    });
    await mailer.send({ to: registrant.email, ...mail, unsubscribeUrl: links.unsubscribe });
    await recordEmailSent(deps.db, { id, registrantId, kind: `access-${reason}` });
    deps.log.info('email sent', { mail: 'access', registrantId });
  };
}
