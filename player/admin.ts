/** The marketer's recordings page: upload with progress, and every asset's processing progress, live. */
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

const KEY_STORAGE = 'onair.apiKey';
const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

function apiKey(): string | null {
  return localStorage.getItem(KEY_STORAGE);
}

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
    cell(row, a.title);
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
    streamKey: string;
    obsSettings: Record<string, string | number>;
  };
}

interface LiveHealth {
  status: string;
  viewersNow: number;
  inputBitrate: number | null;
  speed: number | null;
  fallingBehind: boolean;
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
  const add = (term: string, value: string) => {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    list.append(dt, dd);
  };
  add('Server', live.rtmpUrl);
  add('Stream key', live.streamKey);
  for (const [k, v] of Object.entries(live.obsSettings)) add(k, String(v));
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
  box.append(summary, list, rotate, end);
  return box;
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

function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(path, { ...init, headers: { authorization: `Bearer ${apiKey() ?? ''}`, ...init.headers } });
}

/** The CSV export needs the API key, so it is fetched here and handed to the browser as a file. */
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
  const stats = await Promise.all(
    events.map(async (e) => (await api(`/api/events/${e.id}/analytics`)).json() as Promise<Analytics>),
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
    link.href = e.pageUrl;
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
    cell(row, button);
  });
}

async function refresh(): Promise<void> {
  const key = apiKey();
  if (!key) return say('Enter your API key (printed when onair first started).');
  const response = await api('/api/assets');
  if (response.status === 401) return say('That API key is not valid.');
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
  const events = await api('/api/events');
  if (events.ok) await renderEvents(((await events.json()) as { events: EventSummary[] }).events);
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
      ? { startsAt: start ? new Date(start).toISOString() : new Date().toISOString() }
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

function upload(file: File, title: string): Promise<void> {
  const key = apiKey();
  if (!key) return Promise.resolve(say('Enter your API key first.'));
  const bar = $<HTMLProgressElement>('#upload-progress');
  bar.hidden = false;
  return new Promise((resolve) => {
    // XMLHttpRequest, not fetch: it reports upload progress. The body is the file itself.
    const xhr = new XMLHttpRequest();
    const query = new URLSearchParams({ title, filename: file.name });
    xhr.open('POST', `/api/assets?${query.toString()}`);
    xhr.setRequestHeader('authorization', `Bearer ${key}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) bar.value = (e.loaded / e.total) * 100;
    };
    xhr.onload = () => {
      bar.hidden = true;
      if (xhr.status === 202) say(`Uploaded "${title}". Processing has started.`);
      else
        say(
          (JSON.parse(xhr.responseText) as { error?: { message?: string } }).error?.message ??
            'Upload failed.',
        );
      resolve(refresh());
    };
    xhr.onerror = () => {
      bar.hidden = true;
      say('The upload was interrupted. Try again.');
      resolve();
    };
    xhr.send(file);
  });
}

$('#key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  localStorage.setItem(KEY_STORAGE, $<HTMLInputElement>('#key').value.trim());
  say('');
  void refresh();
});
$('#upload-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const file = $<HTMLInputElement>('#file').files?.[0];
  if (file) void upload(file, $<HTMLInputElement>('#title').value);
});
void refresh();
setInterval(() => void refresh(), 5000);
