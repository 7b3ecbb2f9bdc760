import { formatDateTime, mailLocale } from '../i18n/dates.ts';
import { DEFAULT_LANGUAGE, type Language } from '../i18n/languages.ts';
import { translator, type ServerTranslator } from '../i18n/messages.ts';
import type { MailKind } from './reminders.ts';

/** The words of a session email, in the registrant's language. Pure: fields in, subject and bodies out. */
export interface SessionMailFields {
  readonly kind: MailKind;
  readonly offsetSeconds?: number;
  readonly title: string;
  readonly startMs: number;
  /** The zone the time is shown in: the registrant's browser's, else the event's. */
  readonly timezone: string;
  readonly joinUrl: string;
  readonly selfServiceUrl: string;
  readonly unsubscribeUrl: string;
  readonly replayDays: number;
  /** Default `en`. */
  readonly language?: Language | undefined;
}

export interface ComposedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** "in 2 hours": the reminder's subject, by the largest whole unit of its offset. */
function reminderSubject(t: ServerTranslator, seconds: number, title: string): string {
  // 24 hours reads better than 1 day for the usual day-before reminder.
  if (seconds % 86_400 === 0 && seconds !== 86_400)
    return t.t('mail.reminder.subject.days', { count: seconds / 86_400, title });
  if (seconds % 3600 === 0) return t.t('mail.reminder.subject.hours', { count: seconds / 3600, title });
  if (seconds % 60 === 0) return t.t('mail.reminder.subject.minutes', { count: seconds / 60, title });
  return t.t('mail.reminder.subject.seconds', { count: seconds, title });
}

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The HTML body every mail shares: the intro, one button, the data and unsubscribe links. */
function htmlBody(
  t: ServerTranslator,
  f: { intro: string; action: string; joinUrl: string; selfServiceUrl: string; unsubscribeUrl: string },
): string {
  return `<!doctype html><html lang="${t.language}"><body style="font-family:system-ui,sans-serif;line-height:1.5">
<p>${escape(f.intro)}</p>
<p><a href="${escape(f.joinUrl)}" style="display:inline-block;padding:10px 16px;background:#1a56db;color:#fff;border-radius:6px;text-decoration:none">${escape(f.action)}</a></p>
<p style="color:#555;font-size:13px"><a href="${escape(f.selfServiceUrl)}">${escape(t.t('mail.data'))}</a> · <a href="${escape(f.unsubscribeUrl)}">${escape(t.t('mail.stop'))}</a></p>
</body></html>`;
}

export function composeSessionMail(f: SessionMailFields): ComposedMail {
  const t = translator(f.language ?? DEFAULT_LANGUAGE);
  const title = f.title;
  const when = formatDateTime(f.startMs, mailLocale(t.language), 'mail', f.timezone);
  const lines: { subject: string; intro: string; action: string } =
    f.kind === 'confirmation'
      ? {
          subject: t.t('mail.confirmation.subject', { title }),
          intro: t.t('mail.confirmation.intro', { title, when }),
          action: t.t('mail.confirmation.action'),
        }
      : f.kind === 'reminder'
        ? {
            subject: reminderSubject(t, f.offsetSeconds ?? 0, title),
            intro: t.t('mail.reminder.intro', { title, when }),
            action: t.t('mail.reminder.action'),
          }
        : {
            subject: t.t('mail.missed.subject', { title }),
            intro: t.t('mail.missed.intro', { title, when, days: f.replayDays }),
            action: t.t('mail.missed.action'),
          };
  const text = [
    lines.intro,
    '',
    t.t('mail.line', { label: lines.action, url: f.joinUrl }),
    '',
    t.t('mail.line', { label: t.t('mail.sessionData'), url: f.selfServiceUrl }),
    t.t('mail.line', { label: t.t('mail.stop'), url: f.unsubscribeUrl }),
  ].join('\n');
  return { subject: lines.subject, text, html: htmlBody(t, { ...f, ...lines }) };
}

/** The words of the mail that hands a registrant their personal links (live and on-demand webinars). */
export interface AccessMailFields {
  readonly title: string;
  /** `registered`: a new registration; `again`: the address was typed again in another browser. */
  readonly reason: 'registered' | 'again';
  readonly joinUrl: string;
  readonly selfServiceUrl: string;
  readonly unsubscribeUrl: string;
  /** Default `en`. */
  readonly language?: Language | undefined;
}

export function composeAccessMail(f: AccessMailFields): ComposedMail {
  const t = translator(f.language ?? DEFAULT_LANGUAGE);
  const title = f.title;
  const subject =
    f.reason === 'registered'
      ? t.t('mail.confirmation.subject', { title })
      : t.t('mail.access.subject.again', { title });
  const intro =
    f.reason === 'registered'
      ? t.t('mail.access.intro.registered', { title })
      : t.t('mail.access.intro.again', { title });
  const action = t.t('mail.access.link');
  const text = [
    intro,
    '',
    t.t('mail.line', { label: action, url: f.joinUrl }),
    '',
    t.t('mail.line', { label: t.t('mail.access.data'), url: f.selfServiceUrl }),
    t.t('mail.line', { label: t.t('mail.stop'), url: f.unsubscribeUrl }),
  ].join('\n');
  return { subject, text, html: htmlBody(t, { ...f, intro, action }) };
}
