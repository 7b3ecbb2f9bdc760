import { createPlayer, webUrl, type Player } from './player.ts';
import { injectStyles, PLAYER_CSS } from './player.css.ts';
import { attachInteractions, INTERACTIONS_CSS, type InteractionsHandle } from './interactions.ts';
import { loadPageText, type PageText } from './i18n.ts';

/** What /w/<id>/info.json answers. */
interface EventInfo {
  webinarId: string;
  title: string;
  description: string;
  state: 'playable' | 'gated' | 'expired' | 'not_ready' | 'waiting' | 'ended' | 'choose';
  startsAt: string;
  type: string;
  schedule: { kind: string; timezone: string } | null;
  sessions?: { startsAt: string; state: string }[];
  gate: {
    emailRequired: boolean;
    fields: { name: 'off' | 'optional' | 'required'; company: 'off' | 'optional' | 'required' };
    privacyNoticeUrl: string | null;
    privacyNoticeVersion: string | null;
  };
  playback: {
    master: string;
    poster: string | null;
    storyboard: string | null;
    complete: boolean;
    live: boolean;
    /** Signed by the server for this viewing: heartbeats carry it back. */
    view: string;
  } | null;
  selfServiceUrl: string | null;
  /** The language of the page's words (the page's `<html lang>` says the same). */
  language: string;
}

const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const base = location.pathname.replace(/\/$/, '');
let player: Player | undefined;
let playerIsLive = false;
let countdownTimer: ReturnType<typeof setInterval> | undefined;
let pollTimer: ReturnType<typeof setTimeout> | undefined;
let interactions: InteractionsHandle | undefined;
/** The latest viewing grant from info.json (a replay that replaces the live stream gets a new one). */
let viewToken = '';
/** The privacy notice version the gate shows: the registration says it was the one read. */
let noticeVersion: string | undefined;
/** The page's words, loaded before anything is shown. */
let text: PageText;

const sessionLabel = (s: { startsAt: string; state: string }) => {
  const when = text.date(Date.parse(s.startsAt), 'short');
  return s.state === 'live' ? text.t('sessions.onNow', { when }) : when;
};

/** Automated webinars: switch this viewer to a session (registrants are moved, reminders too). */
async function chooseSession(sessionAt: string): Promise<void> {
  const response = await fetch(`${base}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sessionAt }),
  });
  if (response.ok) return show((await response.json()) as EventInfo);
  say(((await response.json()) as { error: { message: string } }).error.message);
}

function showSessions(info: EventInfo, heading: string): void {
  $('#sessions').hidden = false;
  $('#sessions-title').textContent = heading;
  const list = $('#session-list');
  list.replaceChildren();
  for (const s of info.sessions ?? []) {
    const item = document.createElement('li');
    item.textContent = sessionLabel(s);
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = text.t(s.state === 'live' ? 'sessions.joinNow' : 'sessions.choose');
    button.addEventListener('click', () => void chooseSession(s.startsAt));
    item.append(button);
    list.append(item);
  }
}

function poll(ms: number): void {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(() => void load(), ms);
}

/** The waiting room: start time in the viewer's own time zone, and a countdown to it. */
function showWaiting(startsAt: string): void {
  $('#waiting').hidden = false;
  const start = new Date(startsAt);
  $('#starts-at').textContent = text.t('waiting.startsAt', { when: text.date(start.getTime(), 'long') });
  const tick = () => {
    const seconds = Math.round((start.getTime() - Date.now()) / 1000);
    if (seconds <= 0) {
      $('#countdown').textContent = text.t('waiting.startingNow');
      return;
    }
    const d = Math.floor(seconds / 86_400);
    const h = Math.floor((seconds % 86_400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const two = (n: number) => String(n).padStart(2, '0');
    const clock = `${two(h)}:${two(m)}:${two(s)}`;
    $('#countdown').textContent = d > 0 ? text.t('waiting.countdownDays', { days: String(d), clock }) : clock;
  };
  tick();
  clearInterval(countdownTimer);
  countdownTimer = setInterval(tick, 1000);
}

function say(text: string): void {
  $('#state').textContent = text;
}

/**
 * Heartbeats every 10 s of playback: seconds played and position, for the marketer's analytics;
 * on a live stream also how far behind the live edge the player is, and its stalls (waiting for
 * data), which the operator's metrics show.
 */
function startHeartbeats(video: HTMLVideoElement): void {
  let lastTick = performance.now();
  let played = 0;
  let stalls = 0;
  let stalledSince: number | undefined;
  let stalledSeconds = 0;
  let started = false;
  video.addEventListener('timeupdate', () => {
    const t = performance.now();
    if (!video.paused) played += Math.min(1, (t - lastTick) / 1000);
    lastTick = t;
  });
  video.addEventListener('playing', () => {
    started = true;
    if (stalledSince !== undefined) stalledSeconds += (performance.now() - stalledSince) / 1000;
    stalledSince = undefined;
  });
  // A wait for data after playback began, not one the viewer caused by seeking.
  video.addEventListener('waiting', () => {
    if (!started || video.seeking || stalledSince !== undefined) return;
    stalls++;
    stalledSince = performance.now();
  });
  const behindLive = (): number | undefined => {
    const { seekable } = video;
    if (Number.isFinite(video.duration) || seekable.length === 0) return undefined;
    return Math.max(0, Math.round((seekable.end(seekable.length - 1) - video.currentTime) * 10) / 10);
  };
  const send = () => {
    if ((played <= 0 && stalls === 0) || !viewToken) return;
    const behind = behindLive();
    const body = JSON.stringify({
      view: viewToken,
      position: video.currentTime,
      played,
      ...(behind !== undefined ? { behindLive: Math.min(behind, 86_400) } : {}),
      ...(stalls > 0
        ? { stalls: Math.min(stalls, 1000), stalledSeconds: Math.min(stalledSeconds, 3600) }
        : {}),
    });
    played = 0;
    stalls = 0;
    stalledSeconds = 0;
    void fetch(`${base}/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      keepalive: true,
    });
  };
  setInterval(send, 10_000);
  addEventListener('pagehide', send);
}

function show(info: EventInfo): void {
  document.title = info.title;
  $('#title').textContent = info.title;
  $('#webinar-id').textContent = text.t('event.webinarId', { id: info.webinarId });
  $('#description').textContent = info.description;
  $('#gate').hidden = info.state !== 'gated';
  if (info.selfServiceUrl) {
    $('#manage').hidden = false;
    $<HTMLAnchorElement>('#manage-link').href = info.selfServiceUrl;
  }
  $('#waiting').hidden = info.state !== 'waiting';
  $('#sessions').hidden = true;
  const automated = info.type === 'automated';
  if (automated && info.state === 'choose') {
    // On-demand sessions start when the viewer arrives; scheduled ones are picked.
    if (info.schedule?.kind === 'on_demand') return void chooseSession('now');
    return showSessions(info, text.t('sessions.pick'));
  }
  if (automated && info.state === 'ended') {
    player?.destroy();
    player = undefined;
    say(text.t(info.sessions?.length ? 'state.sessionEndedNext' : 'state.sessionEndedNone'));
    return showSessions(info, text.t('sessions.next'));
  }
  if (info.state !== 'waiting') clearInterval(countdownTimer);
  if (info.state === 'expired') return say(text.t('state.expired'));
  if (info.state === 'waiting') {
    say('');
    showWaiting(info.startsAt);
    // Checked every few seconds, so the stream appears within seconds of going live.
    return poll(3000);
  }
  if (info.state === 'ended') {
    player?.destroy();
    player = undefined;
    say(text.t('state.liveEnded'));
    return poll(3000);
  }
  if (info.state === 'not_ready') {
    say(text.t('state.notReady'));
    setTimeout(() => void load(), 10_000);
    return;
  }
  if (info.state === 'gated') {
    say(text.t('state.gated'));
    const { fields, privacyNoticeUrl, privacyNoticeVersion } = info.gate;
    for (const field of ['name', 'company'] as const) {
      $(`#${field}-field`).hidden = fields[field] === 'off';
      $<HTMLInputElement>(`#${field}`).required = fields[field] === 'required';
    }
    const sessions = automated && info.schedule?.kind !== 'on_demand' ? (info.sessions ?? []) : [];
    $('#session-field').hidden = sessions.length === 0;
    $<HTMLSelectElement>('#session').replaceChildren(
      ...sessions.map((s) => {
        const option = document.createElement('option');
        option.value = s.startsAt;
        option.textContent = sessionLabel(s);
        return option;
      }),
    );
    const notice = $('#notice');
    notice.replaceChildren();
    const noticeHref = privacyNoticeUrl ? webUrl(privacyNoticeUrl) : undefined;
    noticeVersion = (noticeHref && privacyNoticeVersion) || undefined;
    if (noticeHref) {
      const link = document.createElement('a');
      link.href = noticeHref;
      link.target = '_blank';
      link.rel = 'noopener';
      link.textContent = text.t('gate.noticeLink');
      // The link sits inside the sentence, wherever the language puts it.
      notice.append(
        ...(text.parts('gate.notice', { link, version: privacyNoticeVersion ?? '' }) as (string | Node)[]),
      );
    }
    return;
  }
  say('');
  // The live stream became the replay: swap players.
  if (player && playerIsLive && player.video.ended && info.playback && !info.playback.live) {
    interactions?.destroy();
    player.destroy();
    player = undefined;
  }
  if (info.playback) viewToken = info.playback.view;
  if (info.playback && !player) {
    player = createPlayer($('#player'), info.playback, say, text);
    playerIsLive = info.playback.live;
    (window as unknown as { onairPlayer: Player }).onairPlayer = player;
    startHeartbeats(player.video);
    if (automated) {
      interactions = attachInteractions(player, $('#player'), base, text);
      (window as unknown as { onairInteractions: InteractionsHandle }).onairInteractions = interactions;
    }
    if (playerIsLive) {
      // The stream ended (ENDLIST played out): fetch the state again to offer the replay.
      player.video.addEventListener('ended', () => poll(1000));
    }
  }
}

async function load(): Promise<void> {
  // A personal link from an email (`?k=`) signs this browser in; it is dropped from the address after.
  const key = new URLSearchParams(location.search).get('k');
  const response = await fetch(`${base}/info.json${key ? `?k=${encodeURIComponent(key)}` : ''}`);
  if (key) history.replaceState(null, '', location.pathname);
  if (response.status === 404) {
    $('#title').textContent = text.t('common.notFound');
    return say(text.t('event.notFound'));
  }
  if (!response.ok) return say(text.t('event.error'));
  show((await response.json()) as EventInfo);
}

$('#gate').addEventListener('submit', (e) => {
  e.preventDefault();
  for (const id of ['email', 'name', 'company']) $(`#${id}-error`).textContent = '';
  const value = (id: string) => $<HTMLInputElement>(`#${id}`).value.trim();
  const body = {
    email: value('email'),
    ...(value('name') ? { name: value('name') } : {}),
    ...(value('company') ? { company: value('company') } : {}),
    marketingConsent: $<HTMLInputElement>('#marketing').checked,
    ...($('#session-field').hidden ? {} : { sessionAt: $<HTMLSelectElement>('#session').value }),
    noticeVersion,
    // Times in this viewer's emails are shown in their own zone.
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  void (async () => {
    const response = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status === 201) return show((await response.json()) as EventInfo);
    const error = (
      (await response.json()) as {
        error: { message: string; details?: { field: string; message: string }[] };
      }
    ).error;
    let placed = false;
    for (const d of error.details ?? []) {
      const slot = document.querySelector(`#${d.field}-error`);
      if (slot) {
        slot.textContent = d.message;
        placed = true;
      }
    }
    if (!placed) say(error.message);
  })();
});

if (new URLSearchParams(location.search).has('embed')) document.body.classList.add('embed');
injectStyles(PLAYER_CSS + INTERACTIONS_CSS);
void loadPageText().then((loaded) => {
  text = loaded;
  return load();
});
