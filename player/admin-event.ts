/**
 * One webinar in the app (`/admin/events/<id>`): its links and IDs to copy, then a panel per
 * concern, each a module of its own: the schedule (automated), the interactions timeline
 * (automated and on demand), registrants and analytics. Presenters are sent back to /admin.
 */
import { mountAnalytics } from './admin-analytics.ts';
import { el, errorOf, hiddenSecret } from './admin-dom.ts';
import { mountRegistrants } from './admin-registrants.ts';
import { mountSchedule } from './admin-schedule.ts';
import { mountSettings } from './admin-settings.ts';
import { api, requireSession } from './admin-session.ts';
import { mountTimeline } from './admin-timeline.ts';

/** What GET /api/events/:id answers (the fields the panels use). */
export interface AdminEvent {
  id: string;
  title: string;
  type: 'on_demand' | 'live' | 'automated';
  webinarId: string;
  pageUrl: string;
  embedHtml: string;
  assetId: string | null;
  startsAt: string;
  description: string | null;
  language: string;
  replayExpiresAt: string | null;
  gate: {
    emailRequired: boolean;
    fields: { name: 'off' | 'optional' | 'required'; company: 'off' | 'optional' | 'required' };
    privacyNoticeUrl: string | null;
    privacyNoticeVersion: string | null;
  };
  schedule?: unknown;
  interactions?: unknown;
  live?: {
    status: string;
    rtmpUrl: string | null;
    /** `srt://host:port?streamid=<key>`; null when SRT is off. */
    srtUrl?: string | null;
    /** The WHIP endpoint (RFC 9725); null when WHIP is off. */
    whipUrl?: string | null;
    streamKey: string;
  };
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

function say(text: string): void {
  $('#message').textContent = text;
}

/**
 * A term, its value and a Copy button (the join link, the ID, the embed snippet); a secret (the
 * stream key, an SRT URL carrying it) is shown as dots until its Show button is pressed.
 */
function fact(list: HTMLElement, term: string, value: string, copy = false, secret = false): void {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  const hidden = secret ? hiddenSecret(term, value) : undefined;
  const text = hidden?.text ?? document.createElement(copy ? 'code' : 'span');
  if (!hidden) text.textContent = value;
  dd.append(text);
  if (hidden) dd.append(' ', hidden.toggle);
  if (copy) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Copy';
    button.setAttribute('aria-label', `Copy the ${term.toLowerCase()}`);
    button.addEventListener('click', () => {
      void navigator.clipboard.writeText(value).then(
        () => say(`${term} copied.`),
        () => {
          hidden?.reveal();
          say(`Select the ${term.toLowerCase()} and copy it.`);
        },
      );
    });
    dd.append(' ', button);
  }
  list.append(dt, dd);
}

/** Where a live webinar's presenter sends the stream: OBS over RTMP or SRT, a WHIP encoder, or the browser. */
function streamFacts(list: HTMLElement, event: AdminEvent): void {
  const live = event.live;
  if (!live) return;
  if (live.rtmpUrl) fact(list, 'Server (RTMP)', live.rtmpUrl, true);
  fact(list, 'Stream key', live.streamKey, true, true);
  if (live.srtUrl) {
    fact(list, 'SRT URL', live.srtUrl, true, true);
    const dd = document.createElement('dd');
    dd.className = 'hint';
    dd.textContent =
      'In OBS: Settings > Stream > Service: Custom, Server: the SRT URL above (with its streamid), Stream key: empty.';
    list.append(dd);
  }
  if (!live.whipUrl) return;
  fact(list, 'WHIP URL', live.whipUrl, true);
  const dt = document.createElement('dt');
  dt.textContent = 'From the browser';
  const dd = document.createElement('dd');
  const link = document.createElement('a');
  link.href = `/present/${event.id}`;
  link.textContent = 'Go live from the browser';
  dd.append(link, ' ', ...presenterLinkControls(event));
  list.append(dt, dd);
}

/**
 * "Presenter link": a signed link for a guest presenter without an account (POST
 * /api/events/:id/presenter-link), shown once in a read-only field to copy. Presenters never see
 * this page (and the API refuses them).
 */
function presenterLinkControls(event: AdminEvent): HTMLElement[] {
  const make = el('button', {
    type: 'button',
    id: 'presenter-link',
    className: 'staff-only',
    textContent: 'Presenter link',
  });
  const field = el('input', { type: 'text', id: 'presenter-link-url', readOnly: true, size: 64 });
  const copy = el('button', { type: 'button', textContent: 'Copy' });
  copy.setAttribute('aria-label', 'Copy the presenter link');
  const expiry = el('span', { id: 'presenter-link-expiry' });
  const shown = el(
    'div',
    { className: 'staff-only', hidden: true },
    el('label', {}, 'Presenter link (anyone with it can go live on this event)', field),
    ' ',
    copy,
    ' ',
    expiry,
  );
  make.addEventListener('click', () => {
    make.disabled = true;
    void (async () => {
      const response = await api(`/api/events/${event.id}/presenter-link`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({}),
      });
      if (!response.ok) return say(await errorOf(response));
      const link = (await response.json()) as { url: string; expiresAt: string };
      field.value = link.url;
      expiry.textContent = `Works until ${new Date(link.expiresAt).toLocaleString()}, or until the stream key changes.`;
      shown.hidden = false;
      field.select();
    })()
      .catch((err: unknown) => say(String(err)))
      .finally(() => {
        make.disabled = false;
      });
  });
  copy.addEventListener('click', () => {
    void navigator.clipboard.writeText(field.value).then(
      () => say('Presenter link copied.'),
      () => {
        field.select();
        say('Select the presenter link and copy it.');
      },
    );
  });
  return [make, shown];
}

const KINDS = { on_demand: 'On demand', live: 'Live', automated: 'Automated' } as const;

async function main(): Promise<void> {
  const session = await requireSession();
  const id = /^\/admin\/events\/([A-Za-z0-9_]{1,40})$/.exec(location.pathname)?.[1];
  if (!id) return say('No such webinar.');
  if (session.role === 'presenter') return location.assign('/admin');
  const response = await api(`/api/events/${id}`);
  if (!response.ok)
    return say(response.status === 404 ? 'No such webinar in this account.' : 'Could not load it.');
  const event = (await response.json()) as AdminEvent;
  document.title = `onair · ${event.title}`;
  $('#event-title').textContent = event.title;
  const facts = $('#event-facts');
  fact(facts, 'Kind', KINDS[event.type]);
  fact(facts, 'Webinar ID', event.webinarId, true);
  fact(facts, 'Join link', event.pageUrl, true);
  fact(facts, 'Embed snippet', event.embedHtml, true);
  streamFacts(facts, event);
  const panels: [string, (e: AdminEvent, el: HTMLElement) => void | Promise<void>, boolean][] = [
    ['#settings-panel', mountSettings, true],
    ['#schedule-panel', mountSchedule, event.type === 'automated'],
    ['#timeline-panel', mountTimeline, event.type !== 'live' && event.assetId !== null],
    ['#registrants-panel', mountRegistrants, true],
    ['#analytics-panel', mountAnalytics, true],
  ];
  for (const [selector, mount, shown] of panels) {
    const el = $(selector);
    if (!shown) continue;
    el.hidden = false;
    await mount(event, el);
  }
}

void main().catch((err: unknown) => say(String(err)));
