import type { MailKind } from './reminders.ts';

/** The words of a session email. Pure: fields in, subject and bodies out. */
export interface SessionMailFields {
  readonly kind: MailKind;
  readonly offsetSeconds?: number;
  readonly title: string;
  readonly startMs: number;
  readonly timezone: string;
  readonly joinUrl: string;
  readonly selfServiceUrl: string;
  readonly unsubscribeUrl: string;
  readonly replayDays: number;
}

export interface ComposedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

function when(startMs: number, timezone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(startMs));
}

function inWords(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? '24 hours' : `${seconds / 86_400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function composeSessionMail(f: SessionMailFields): ComposedMail {
  const at = when(f.startMs, f.timezone);
  const lines: { subject: string; intro: string; action: string } =
    f.kind === 'confirmation'
      ? {
          subject: `You're registered: ${f.title}`,
          intro: `You're registered for "${f.title}" on ${at}. The calendar invite is attached.`,
          action: 'Your personal join link',
        }
      : f.kind === 'reminder'
        ? {
            subject: `Starting in ${inWords(f.offsetSeconds ?? 0)}: ${f.title}`,
            intro: `"${f.title}" starts ${at}.`,
            action: 'Join here',
          }
        : {
            subject: `Sorry we missed you: watch the replay of ${f.title}`,
            intro: `You couldn't make "${f.title}" on ${at}. The replay is yours for the next ${f.replayDays} days.`,
            action: 'Watch the replay',
          };
  const text = [
    lines.intro,
    '',
    `${lines.action}: ${f.joinUrl}`,
    '',
    `Your data (download, withdraw consent, delete): ${f.selfServiceUrl}`,
    `Stop these emails: ${f.unsubscribeUrl}`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5">
<p>${escape(lines.intro)}</p>
<p><a href="${escape(f.joinUrl)}" style="display:inline-block;padding:10px 16px;background:#1a56db;color:#fff;border-radius:6px;text-decoration:none">${escape(lines.action)}</a></p>
<p style="color:#555;font-size:13px"><a href="${escape(f.selfServiceUrl)}">Your data</a> · <a href="${escape(f.unsubscribeUrl)}">Stop these emails</a></p>
</body></html>`;
  return { subject: lines.subject, text, html };
}

/** The words of the mail that hands a registrant their personal links (live and on-demand webinars). */
export interface AccessMailFields {
  readonly title: string;
  /** `registered`: a new registration; `again`: the address was typed again in another browser. */
  readonly reason: 'registered' | 'again';
  readonly joinUrl: string;
  readonly selfServiceUrl: string;
  readonly unsubscribeUrl: string;
}

export function composeAccessMail(f: AccessMailFields): ComposedMail {
  const subject =
    f.reason === 'registered' ? `You're registered: ${f.title}` : `Your link to watch: ${f.title}`;
  const intro =
    f.reason === 'registered'
      ? `You're registered for "${f.title}". Your personal link brings you back to it from any browser.`
      : `Someone registered for "${f.title}" with this address in another browser. If that was you, open your personal link there to watch as yourself. If it wasn't, ignore this email: nothing of yours was shared or changed.`;
  const text = [
    intro,
    '',
    `Your personal link: ${f.joinUrl}`,
    '',
    `Your data (download, correct, restrict, withdraw consent, delete): ${f.selfServiceUrl}`,
    `Stop these emails: ${f.unsubscribeUrl}`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5">
<p>${escape(intro)}</p>
<p><a href="${escape(f.joinUrl)}" style="display:inline-block;padding:10px 16px;background:#1a56db;color:#fff;border-radius:6px;text-decoration:none">Your personal link</a></p>
<p style="color:#555;font-size:13px"><a href="${escape(f.selfServiceUrl)}">Your data</a> · <a href="${escape(f.unsubscribeUrl)}">Stop these emails</a></p>
</body></html>`;
  return { subject, text, html };
}
