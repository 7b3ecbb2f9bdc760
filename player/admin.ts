/** The marketer's recordings page: upload with progress, and every asset's processing progress, live. */
import { hiddenSecret } from './admin-dom.ts';
import { api, csrfHeaders, session, signIn } from './admin-session.ts';
import { refreshTeam, setTeamEvents, startTeam } from './admin-team.ts';
import { uploadResumable } from './tus-upload.ts';

interface AssetSummary {
  id: string;
  title: string;
  status: string;
  stage: string;
  progress: number;
  error: string | null;
  durationSeconds: number | null;
  playback: { player: string; complete: boolean } | null;
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

function say(text: string): void {
  $('#message').textContent = text;
}

function cell(row: HTMLTableRowElement, content: string | Node): void {
  const td = row.insertCell();
  // textContent, never innerHTML: titles are user input.
  if (typeof content === 'string') td.textContent = content;
  else td.append(content);
}

function render(assets: AssetSummary[]): void {
  const body = $<HTMLTableSectionElement>('#assets');
  body.replaceChildren();
  for (const a of assets) {
    const row = body.insertRow();
    const page = document.createElement('a');
    page.href = `/admin/assets/${a.id}`;
    page.textContent = a.title;
    cell(row, page);
    const status = document.createElement('span');
    status.textContent = a.status === 'failed' ? `failed: ${a.error ?? ''}` : `${a.status} (${a.stage})`;
    if (a.status === 'failed') status.className = 'failed';
    cell(row, status);
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = a.progress;
    bar.setAttribute('aria-label', `${a.title}: ${a.progress}%`);
    cell(row, a.status === 'failed' ? '' : bar);
    cell(row, a.durationSeconds ? `${Math.round(a.durationSeconds)} s` : '');
    if (a.playback) {
      const link = document.createElement('a');
      link.href = a.playback.player;
      link.textContent = a.playback.complete ? 'Play' : 'Play (encoding)';
      cell(row, link);
    } else cell(row, '');
  }
}

interface EventSummary {
  id: string;
  title: string;
  webinarId: string;
  pageUrl: string;
  type: string;
  live?: {
    status: string;
    rtmpUrl: string;
    /** `srt://host:port?streamid=<key>`; null when SRT is off. */
    srtUrl?: string | null;
    /** The WHIP endpoint (RFC 9725); null when WHIP is off. */
    whipUrl?: string | null;
    streamKey: string;
    lowLatency: boolean;
    obsSettings: Record<string, string | number>;
  };
}

interface LiveHealth {
  status: string;
  viewersNow: number;
  inputBitrate: number | null;
  speed: number | null;
  fallingBehind: boolean;
  keyframeAdvice: string | null;
}

/** Presenter settings and live controls of a live event: what a marketer sends the speaker. */
async function liveCell(e: EventSummary): Promise<Node> {
  const live = e.live!;
  const box = document.createElement('details');
  const summary = document.createElement('summary');
  const health = live.status === 'idle' || live.status === 'ended' ? undefined : await liveHealth(e.id);
  summary.textContent =
    live.status +
    (health
      ? ` · ${health.viewersNow} watching · ${health.inputBitrate ? Math.round(health.inputBitrate / 1000) : '?'} kbit/s in · speed ${health.speed?.toFixed(2) ?? '?'}${health.fallingBehind ? ' (falling behind!)' : ''}`
      : '');
  const list = document.createElement('dl');
  const add = (term: string, value: string, secret = false) => {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    if (secret) {
      const hidden = hiddenSecret(term, value);
      dd.append(hidden.text, ' ', hidden.toggle);
    } else dd.textContent = value;
    list.append(dt, dd);
  };
  if (health?.keyframeAdvice) add('Advice', health.keyframeAdvice);
  add('Server', live.rtmpUrl);
  add('Stream key', live.streamKey, true);
  for (const [k, v] of Object.entries(live.obsSettings)) add(k, String(v));
  if (live.srtUrl) {
    add('SRT URL', live.srtUrl, true);
    add(
      'OBS over SRT',
      'Settings > Stream > Service: Custom, Server: the SRT URL (with its streamid), Stream key: empty',
    );
  }
  if (live.whipUrl) add('WHIP URL', live.whipUrl);
  const present = document.createElement('a');
  present.href = `/present/${e.id}`;
  present.textContent = 'Go live from the browser';
  present.className = 'button';
  present.hidden = !live.whipUrl || live.status === 'ended';
  const rotate = document.createElement('button');
  rotate.type = 'button';
  rotate.textContent = 'New stream key';
  rotate.addEventListener(
    'click',
    () => void api(`/api/events/${e.id}/stream-key`, { method: 'POST' }).then(refresh),
  );
  const end = document.createElement('button');
  end.type = 'button';
  end.textContent = 'End event now';
  end.disabled = live.status === 'ended';
  end.addEventListener('click', () => void api(`/api/events/${e.id}/end`, { method: 'POST' }).then(refresh));
  // A presenter reads the settings and can end the stream; changing them is the staff's.
  const toggle = lowLatencyToggle(e.id, live);
  rotate.className = toggle.className = 'staff-only';
  box.append(summary, list, present, toggle, rotate, end);
  return box;
}

/** Off for viewers behind a CDN that cannot hold LL-HLS blocking requests; read at stream start. */
function lowLatencyToggle(id: string, live: NonNullable<EventSummary['live']>): HTMLLabelElement {
  const label = document.createElement('label');
  const text = document.createElement('span');
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = live.lowLatency;
  box.disabled = live.status === 'ended';
  // In a span, as on the form: labels are flex columns (admin.css).
  text.append(box, ' Low-latency HLS (about 2 s behind live)');
  label.append(text);
  box.addEventListener('change', () => {
    const body = JSON.stringify({ lowLatency: box.checked });
    void api(`/api/events/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body })
      .then((response) =>
        say(
          !response.ok
            ? 'Could not change low-latency HLS.'
            : live.status === 'idle'
              ? 'Saved.'
              : 'Saved. It applies from the next time the stream starts.',
        ),
      )
      .then(refresh);
  });
  return label;
}

/** Automated webinars: the session on air or the next one, and how many registered for it. */
async function sessionsCell(e: EventSummary): Promise<Node> {
  const response = await api(`/api/events/${e.id}/sessions`);
  const span = document.createElement('span');
  if (!response.ok) return span;
  const { sessions } = (await response.json()) as {
    sessions: { startsAt: string; state: string; registrants: number }[];
  };
  const next = sessions.find((s) => s.state === 'live' || s.state === 'upcoming');
  span.textContent = next
    ? `${next.state === 'live' ? 'on air since' : 'next'} ${new Date(next.startsAt).toLocaleString()} · ${next.registrants} registered · ${sessions.length} in 14 days`
    : 'no session in the next 14 days';
  return span;
}

async function liveHealth(id: string): Promise<LiveHealth | undefined> {
  const response = await api(`/api/events/${id}/live`);
  return response.ok ? ((await response.json()) as LiveHealth) : undefined;
}

interface Analytics {
  registrants: number;
  viewers: number;
  averageWatchSeconds: number;
}

/** The CSV export needs the session's credentials, so it is fetched here and handed to the browser as a file. */
async function downloadCsv(event: EventSummary): Promise<void> {
  const response = await api(`/api/events/${event.id}/registrants.csv`);
  if (!response.ok) return say('Could not export the registrants.');
  const link = document.createElement('a');
  link.href = URL.createObjectURL(await response.blob());
  link.download = `registrants-${event.webinarId}.csv`;
  link.click();
  URL.revokeObjectURL(link.href);
}

async function renderEvents(events: EventSummary[]): Promise<void> {
  const staff = session()?.role !== 'presenter';
  const stats = await Promise.all(
    events.map(async (e) =>
      staff ? ((await api(`/api/events/${e.id}/analytics`)).json() as Promise<Analytics>) : undefined,
    ),
  );
  const lives = await Promise.all(
    events.map((e) =>
      e.live ? liveCell(e) : e.type === 'automated' ? sessionsCell(e) : Promise.resolve(undefined),
    ),
  );
  const body = $<HTMLTableSectionElement>('#events');
  // Keep open presenter panels open across the refresh.
  const open = new Set([...body.querySelectorAll('details[open]')].map((d) => d.closest('tr')?.dataset.id));
  body.replaceChildren();
  events.forEach((e, i) => {
    const row = body.insertRow();
    row.dataset.id = e.id;
    const details = lives[i];
    if (details instanceof HTMLDetailsElement && open.has(e.id)) details.open = true;
    const link = document.createElement('a');
    // Staff manage the webinar on its page; a presenter opens the viewers' page.
    link.href = staff ? `/admin/events/${e.id}` : e.pageUrl;
    link.textContent = e.title;
    cell(row, link);
    cell(row, e.webinarId);
    cell(row, String(stats[i]?.registrants ?? 0));
    cell(row, String(stats[i]?.viewers ?? 0));
    cell(row, `${stats[i]?.averageWatchSeconds ?? 0} s`);
    cell(row, lives[i] ?? '');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Registrants (CSV)';
    button.addEventListener('click', () => void downloadCsv(e));
    cell(row, staff ? button : '');
  });
}

async function refresh(): Promise<void> {
  const events = await api('/api/events');
  if (events.status === 401) return location.assign('/admin');
  if (events.ok) {
    const list = ((await events.json()) as { events: EventSummary[] }).events;
    setTeamEvents(list);
    await renderEvents(list);
  }
  // Presenters see their events' stream settings only.
  if (session()?.role === 'presenter') return;
  const response = await api('/api/assets');
  if (!response.ok) return say('Could not load the recordings. Retrying…');
  const { assets } = (await response.json()) as { assets: AssetSummary[] };
  render(assets);
  const select = $<HTMLSelectElement>('#event-asset');
  const chosen = select.value;
  select.replaceChildren(
    ...assets
      .filter((a) => a.status === 'ready')
      .map((a) => {
        const option = document.createElement('option');
        option.value = a.id;
        option.textContent = a.title;
        return option;
      }),
  );
  if (chosen) select.value = chosen;
}

$('#event-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const value = (id: string) => $<HTMLInputElement>(`#${id}`).value.trim();
  const gated = $<HTMLInputElement>('#event-gated').checked;
  const type = $<HTMLSelectElement>('#event-type').value;
  const start = value('event-start');
  const body = {
    title: value('event-title'),
    type,
    ...(type === 'live'
      ? {
          startsAt: start ? new Date(start).toISOString() : new Date().toISOString(),
          lowLatency: $<HTMLInputElement>('#event-low-latency').checked,
        }
      : { assetId: $<HTMLSelectElement>('#event-asset').value }),
    ...(type === 'automated' ? { schedule: scheduleFromForm(start) } : {}),
    gate: gated
      ? {
          emailRequired: true,
          fields: { name: 'optional', company: 'off' },
          privacyNoticeUrl: value('event-notice'),
          privacyNoticeVersion: value('event-notice-version'),
        }
      : null,
  };
  void api('/api/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (response) => {
    const json = (await response.json()) as EventSummary & { error?: { message: string } };
    say(
      response.ok
        ? `Webinar created: ID ${json.webinarId}, page ${json.pageUrl}`
        : (json.error?.message ?? 'Failed.'),
    );
    return refresh();
  });
});

/** The automated schedule as the API takes it; local times are the marketer's, in the chosen zone. */
function scheduleFromForm(start: string): Record<string, unknown> {
  const value = (id: string) => $<HTMLInputElement>(`#${id}`).value.trim();
  const kind = $<HTMLSelectElement>('#schedule-kind').value;
  const common = { kind, timezone: value('schedule-tz'), replayDays: Number(value('schedule-replay') || 0) };
  if (kind === 'once') return { ...common, startsAt: new Date(start || Date.now()).toISOString() };
  if (kind === 'recurring') return { ...common, start: start.slice(0, 16), rrule: value('schedule-rrule') };
  if (kind === 'jit') {
    return {
      ...common,
      everyMinutes: Number(value('schedule-every')),
      openingHours: { from: value('schedule-from'), to: value('schedule-to') },
    };
  }
  return common;
}

function syncEventForm(): void {
  const type = $<HTMLSelectElement>('#event-type').value;
  const kind = $<HTMLSelectElement>('#schedule-kind').value;
  $('#event-asset-field').hidden = type === 'live';
  $('#schedule-fields').hidden = type !== 'automated';
  $('#event-low-latency-field').hidden = type !== 'live';
  $('#event-start-field').hidden = !(
    type === 'live' ||
    (type === 'automated' && (kind === 'once' || kind === 'recurring'))
  );
  $('#schedule-rrule-field').hidden = kind !== 'recurring';
  $('#schedule-every-field').hidden = kind !== 'jit';
  $('#schedule-hours-field').hidden = kind !== 'jit';
}
$<HTMLInputElement>('#schedule-tz').value = Intl.DateTimeFormat().resolvedOptions().timeZone;
$('#event-type').addEventListener('change', syncEventForm);
$('#schedule-kind').addEventListener('change', syncEventForm);

/** Resumable (tus): a dropped connection, or a reload and the same file chosen again, goes on where it stopped. */
async function upload(file: File, title: string): Promise<void> {
  const bar = $<HTMLProgressElement>('#upload-progress');
  bar.hidden = false;
  const percent = (sent: number, total: number) => (total > 0 ? (sent / total) * 100 : 100);
  const { done } = uploadResumable(file, {
    endpoint: '/api/uploads',
    metadata: { title, filename: file.name, ...(file.type ? { filetype: file.type } : {}) },
    headers: csrfHeaders,
    onProgress: (sent, total) => {
      bar.value = percent(sent, total);
      bar.setAttribute('aria-valuetext', `${Math.floor(bar.value)}%`);
    },
    onResume: (offset, total) =>
      say(`Resuming an earlier upload of this file at ${Math.floor(percent(offset, total))}%.`),
    onRetry: (delayMs) => say(`The connection dropped: trying again in ${Math.round(delayMs / 1000)} s.`),
  });
  try {
    await done;
    say(`Uploaded "${title}". Processing has started.`);
  } catch (err) {
    say(err instanceof Error ? err.message : 'Upload failed.');
  } finally {
    bar.hidden = true;
  }
  return refresh();
}

$('#upload-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const file = $<HTMLInputElement>('#file').files?.[0];
  if (file) void upload(file, $<HTMLInputElement>('#title').value);
});

/** A recording's title until the marketer types one: its file name, without the extension. */
function titleOf(file: File): string {
  return (
    file.name
      .replace(/\.[^.]{1,8}$/, '')
      .replace(/[_-]+/g, ' ')
      .trim()
      .slice(0, 200) || 'Recording'
  );
}

// Drag and drop: a recording dropped anywhere on the library uploads at once (the file field and
// its Upload button stay, for the keyboard).
const dropZone = $('#library');
dropZone.addEventListener('dragover', (e) => {
  if (!e.dataTransfer?.types.includes('Files')) return;
  e.preventDefault();
  dropZone.classList.add('dropping');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dropping'));
dropZone.addEventListener('drop', (e) => {
  dropZone.classList.remove('dropping');
  const file = e.dataTransfer?.files[0];
  if (!file) return;
  e.preventDefault();
  const title = $<HTMLInputElement>('#title');
  if (!title.value.trim()) title.value = titleOf(file);
  void upload(file, title.value);
});
void signIn().then(() => {
  startTeam();
  void refresh();
  setInterval(() => {
    void refresh();
    void refreshTeam();
  }, 5000);
});
