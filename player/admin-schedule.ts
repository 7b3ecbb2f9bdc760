/**
 * The schedule panel of an automated webinar's page: a rule editor (once, weekly, monthly, a custom
 * RRULE, just in time, on demand; time zone, blackout dates, replay days), the next sessions as
 * the server computes them from the schedule being edited (POST /api/events/schedule-preview),
 * and Save (PATCH /api/events/:id). The form is data (`schedule-form.ts`): one `buildSchedule`
 * makes the object both the preview and Save send, so what is previewed is what is saved.
 */
import { WEEKDAYS, type Schedule, type Weekday } from '../src/automated/schedule.ts';
import { dateLocale } from '../src/i18n/dates.ts';
import type { AdminEvent } from './admin-event.ts';
import { api } from './admin-session.ts';
import {
  addBlackoutDate,
  buildSchedule,
  dateLabel,
  formFromSchedule,
  MONTH_ORDINALS,
  removeBlackoutDate,
  sessionLabel,
  timeZoneChoices,
  type Ends,
  type Repeat,
  type ScheduleForm,
} from './schedule-form.ts';

/** How many sessions the preview lists (the API allows up to 20). */
const PREVIEW_COUNT = 8;
/** Quiet time after the last keystroke before the preview is asked for. */
const PREVIEW_DELAY_MS = 250;

const DAY_NAMES: Record<Weekday, string> = {
  MO: 'Monday',
  TU: 'Tuesday',
  WE: 'Wednesday',
  TH: 'Thursday',
  FR: 'Friday',
  SA: 'Saturday',
  SU: 'Sunday',
};
const ORDINAL_NAMES: Record<number, string> = {
  1: 'first',
  2: 'second',
  3: 'third',
  4: 'fourth',
  [-1]: 'last',
};

const dayBoxes = (name: string) =>
  WEEKDAYS.map(
    (d) =>
      `<label><span><input type="checkbox" name="${name}" id="${name}-${d}" value="${d}" /> ${DAY_NAMES[d]}</span></label>`,
  ).join('');

const options = (pairs: readonly (readonly [string | number, string])[]) =>
  pairs.map(([value, text]) => `<option value="${value}">${text}</option>`).join('');

/** The editor's markup: static, every field labelled; `data-show` lists the kinds a field is for. */
const MARKUP = `
<form id="schedule-form" class="schedule-form" novalidate>
  <label>Airs
    <select id="schedule-repeat">${options([
      ['once', 'Once, at a set time'],
      ['weekly', 'Every week, on chosen days'],
      ['monthly', 'Every month'],
      ['rrule', 'Custom rule (RRULE)'],
      ['jit', 'Just in time: every few minutes within opening hours'],
      ['on_demand', 'On demand: each viewer starts on arrival'],
    ])}</select></label>
  <label>Time zone <select id="schedule-timezone"></select></label>
  <label data-show="once weekly monthly rrule"><span id="schedule-date-text">First date</span>
    <input id="schedule-date" type="date" aria-describedby="schedule-date-hint" /></label>
  <label data-show="once weekly monthly rrule">Time <input id="schedule-time" type="time" /></label>
  <p id="schedule-date-hint" class="hint" data-show="once weekly monthly rrule">Dates and times are in the time zone above; they stay put when its clocks change.</p>
  <fieldset id="schedule-weekdays" data-show="weekly"><legend>On</legend>${dayBoxes('schedule-weekday')}</fieldset>
  <label data-show="weekly">Every (weeks) <input id="schedule-weeks" type="number" min="1" max="52" step="1" /></label>
  <label data-show="monthly">On
    <select id="schedule-monthly-by">${options([
      ['day', 'a day of the month'],
      ['weekday', 'a weekday of the month'],
    ])}</select></label>
  <label data-show="monthly" data-monthly="day">Day of the month
    <select id="schedule-month-day">${options([
      ...Array.from({ length: 31 }, (_, i) => [i + 1, String(i + 1)] as const),
      [-1, 'last day'],
    ])}</select></label>
  <label data-show="monthly" data-monthly="weekday">Which
    <select id="schedule-month-ordinal">${options(MONTH_ORDINALS.map((n) => [n, ORDINAL_NAMES[n]!]))}</select></label>
  <label data-show="monthly" data-monthly="weekday">Weekday
    <select id="schedule-month-weekday">${options(WEEKDAYS.map((d) => [d, DAY_NAMES[d]]))}</select></label>
  <label data-show="monthly">Every (months) <input id="schedule-months" type="number" min="1" max="12" step="1" /></label>
  <label data-show="weekly monthly">Ends
    <select id="schedule-ends">${options([
      ['never', 'never'],
      ['count', 'after a number of sessions'],
      ['until', 'on a date'],
    ])}</select></label>
  <label data-show="weekly monthly" data-ends="count">Sessions <input id="schedule-count" type="number" min="1" max="10000" step="1" /></label>
  <label data-show="weekly monthly" data-ends="until">Last date <input id="schedule-until" type="date" /></label>
  <label data-show="rrule">Rule (RFC 5545 RRULE)
    <input id="schedule-rrule" type="text" maxlength="300" spellcheck="false" autocomplete="off" /></label>
  <label data-show="jit">Every (minutes) <input id="schedule-every" type="number" min="5" max="1440" step="1" /></label>
  <label data-show="jit">Opens at <input id="schedule-open-from" type="time" /></label>
  <label data-show="jit">Closes at (00:00: midnight) <input id="schedule-open-to" type="time" /></label>
  <fieldset id="schedule-open-days" data-show="jit"><legend>Open on</legend>${dayBoxes('schedule-open-day')}</fieldset>
  <label>Replay for (days, 0: none) <input id="schedule-replay" type="number" min="0" max="365" step="1" /></label>
  <fieldset id="schedule-blackouts" data-show="once weekly monthly rrule jit"><legend>Blackout dates (no sessions)</legend>
    <label>Date <input id="schedule-blackout-date" type="date" /></label>
    <button type="button" id="schedule-blackout-add">Add blackout date</button>
    <ul id="schedule-blackout-list"></ul>
  </fieldset>
  <p><button type="submit" id="schedule-save">Save schedule</button>
    <span id="schedule-save-status" role="status"></span></p>
</form>
<section aria-labelledby="schedule-preview-title">
  <h3 id="schedule-preview-title">Next sessions</h3>
  <p id="schedule-preview-status" role="status"></p>
  <ol id="schedule-preview"></ol>
</section>`;

/** The schedule of an event as the API returned it (null when it has none). */
function scheduleOfEvent(event: AdminEvent): Schedule | null {
  const s = event.schedule as { kind?: unknown; timezone?: unknown } | null | undefined;
  return s && typeof s.kind === 'string' && typeof s.timezone === 'string' ? (s as Schedule) : null;
}

async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? `Failed (${response.status}).`;
  } catch {
    return `Failed (${response.status}).`;
  }
}

const isAbort = (err: unknown) => err instanceof DOMException && err.name === 'AbortError';

export function mountSchedule(event: AdminEvent, panel: HTMLElement): void {
  panel.insertAdjacentHTML('beforeend', MARKUP);
  const $ = <T extends HTMLElement = HTMLInputElement>(id: string) => panel.querySelector<T>(`#${id}`)!;
  const locale = dateLocale('en', navigator.languages);
  const saved = scheduleOfEvent(event);
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let blackouts: string[] = [];

  const zone = $<HTMLSelectElement>('schedule-timezone');
  for (const tz of timeZoneChoices(Intl.supportedValuesOf('timeZone'), saved?.timezone ?? browserZone)) {
    zone.append(new Option(tz.replace(/_/g, ' '), tz));
  }

  const checked = (name: string) =>
    [...panel.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map(
      (i) => i.value as Weekday,
    );
  const check = (name: string, days: readonly Weekday[]) => {
    for (const box of panel.querySelectorAll<HTMLInputElement>(`input[name="${name}"]`))
      box.checked = days.includes(box.value as Weekday);
  };
  const numberOf = (id: string) => ($(id).value === '' ? NaN : Number($(id).value));

  function readForm(): ScheduleForm {
    const repeat = $<HTMLSelectElement>('schedule-repeat').value as Repeat;
    return {
      repeat,
      timezone: zone.value,
      date: $('schedule-date').value,
      time: $('schedule-time').value,
      weekdays: checked('schedule-weekday'),
      interval: numberOf(repeat === 'monthly' ? 'schedule-months' : 'schedule-weeks'),
      monthlyBy: $<HTMLSelectElement>('schedule-monthly-by').value as 'day' | 'weekday',
      monthDay: Number($<HTMLSelectElement>('schedule-month-day').value),
      monthOrdinal: Number($<HTMLSelectElement>('schedule-month-ordinal').value),
      monthWeekday: $<HTMLSelectElement>('schedule-month-weekday').value as Weekday,
      ends: $<HTMLSelectElement>('schedule-ends').value as Ends,
      count: numberOf('schedule-count'),
      until: $('schedule-until').value,
      rrule: $('schedule-rrule').value,
      everyMinutes: numberOf('schedule-every'),
      openFrom: $('schedule-open-from').value,
      openTo: $('schedule-open-to').value,
      openDays: checked('schedule-open-day'),
      blackoutDates: blackouts,
      replayDays: numberOf('schedule-replay'),
    };
  }

  function fill(form: ScheduleForm): void {
    $<HTMLSelectElement>('schedule-repeat').value = form.repeat;
    zone.value = form.timezone;
    $('schedule-date').value = form.date;
    $('schedule-time').value = form.time;
    check('schedule-weekday', form.weekdays);
    $('schedule-weeks').value = String(form.interval);
    $('schedule-months').value = String(form.interval);
    $<HTMLSelectElement>('schedule-monthly-by').value = form.monthlyBy;
    $<HTMLSelectElement>('schedule-month-day').value = String(form.monthDay);
    $<HTMLSelectElement>('schedule-month-ordinal').value = String(form.monthOrdinal);
    $<HTMLSelectElement>('schedule-month-weekday').value = form.monthWeekday;
    $<HTMLSelectElement>('schedule-ends').value = form.ends;
    $('schedule-count').value = String(form.count);
    $('schedule-until').value = form.until;
    $('schedule-rrule').value = form.rrule;
    $('schedule-every').value = String(form.everyMinutes);
    $('schedule-open-from').value = form.openFrom;
    $('schedule-open-to').value = form.openTo;
    check('schedule-open-day', form.openDays);
    $('schedule-replay').value = String(form.replayDays);
    blackouts = form.blackoutDates;
    renderBlackouts();
    showFields();
  }

  /** Only the fields of the chosen kind (and of its sub-choices) are shown. */
  function showFields(): void {
    const repeat = $<HTMLSelectElement>('schedule-repeat').value;
    const monthlyBy = $<HTMLSelectElement>('schedule-monthly-by').value;
    const ends = $<HTMLSelectElement>('schedule-ends').value;
    for (const el of panel.querySelectorAll<HTMLElement>('[data-show]')) {
      el.hidden =
        !el.dataset.show!.split(' ').includes(repeat) ||
        (el.dataset.monthly !== undefined && el.dataset.monthly !== monthlyBy) ||
        (el.dataset.ends !== undefined && el.dataset.ends !== ends);
    }
    $('schedule-date-text').textContent = repeat === 'once' ? 'Date' : 'First date';
  }

  function renderBlackouts(): void {
    $('schedule-blackout-list').replaceChildren(
      ...blackouts.map((date) => {
        const item = document.createElement('li');
        const time = document.createElement('time');
        time.dateTime = date;
        time.textContent = dateLabel(date, locale);
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.textContent = 'Remove';
        remove.setAttribute('aria-label', `Remove the blackout date ${dateLabel(date, locale)}`);
        remove.addEventListener('click', () => {
          blackouts = removeBlackoutDate(blackouts, date);
          renderBlackouts();
          $('schedule-blackout-date').focus();
          changed();
        });
        item.append(time, ' ', remove);
        return item;
      }),
    );
  }

  function addBlackout(): void {
    const input = $('schedule-blackout-date');
    if (!input.value) return input.focus();
    blackouts = addBlackoutDate(blackouts, input.value);
    input.value = '';
    renderBlackouts();
    changed();
  }

  // ---- preview: the server's sessions for exactly the object Save would send ----

  const previewStatus = $<HTMLParagraphElement>('schedule-preview-status');
  const previewList = $<HTMLOListElement>('schedule-preview');
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: AbortController | undefined;

  function previewError(message: string): void {
    previewList.replaceChildren();
    previewList.removeAttribute('aria-busy');
    previewStatus.textContent = message;
    previewStatus.classList.add('failed');
  }

  async function preview(): Promise<void> {
    inFlight?.abort();
    let schedule: Schedule;
    try {
      schedule = buildSchedule(readForm());
    } catch (err) {
      return previewError(err instanceof Error ? err.message : String(err));
    }
    const controller = new AbortController();
    inFlight = controller;
    previewList.setAttribute('aria-busy', 'true');
    const response = await api('/api/events/schedule-preview', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ schedule, count: PREVIEW_COUNT }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const message = await errorMessage(response);
      if (inFlight === controller) previewError(message);
      return;
    }
    const body = (await response.json()) as { sessions: { startsAt: string }[] };
    if (inFlight !== controller) return;
    previewStatus.classList.remove('failed');
    previewList.replaceChildren(
      ...body.sessions.map(({ startsAt }) => {
        const item = document.createElement('li');
        const time = document.createElement('time');
        time.dateTime = startsAt;
        time.textContent = sessionLabel(Date.parse(startsAt), schedule.timezone, locale);
        item.append(time);
        return item;
      }),
    );
    previewList.removeAttribute('aria-busy');
    const n = body.sessions.length;
    previewStatus.textContent =
      schedule.kind === 'on_demand'
        ? 'On demand: there are no set times; each viewer starts their own session when they arrive.'
        : n === 0
          ? 'No sessions in the next 400 days.'
          : `${n === PREVIEW_COUNT ? `The next ${n} sessions` : n === 1 ? 'The only session ahead' : `The ${n} sessions ahead`}, in ${schedule.timezone} time:`;
  }

  function runPreview(): void {
    void preview().catch((err: unknown) => {
      // A newer edit aborted this request: its own preview is on the way.
      if (!isAbort(err)) previewError(`Could not preview the schedule: ${String(err)}`);
    });
  }

  const saveStatus = $('schedule-save-status');
  function changed(): void {
    showFields();
    saveStatus.textContent = '';
    clearTimeout(timer);
    timer = setTimeout(runPreview, PREVIEW_DELAY_MS);
  }

  async function save(): Promise<void> {
    let schedule: Schedule;
    try {
      schedule = buildSchedule(readForm());
    } catch (err) {
      saveStatus.textContent = err instanceof Error ? err.message : String(err);
      return;
    }
    const button = $<HTMLButtonElement>('schedule-save');
    button.disabled = true;
    saveStatus.textContent = 'Saving…';
    try {
      const response = await api(`/api/events/${event.id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ schedule }),
      });
      saveStatus.textContent = response.ok ? 'Saved' : await errorMessage(response);
    } finally {
      button.disabled = false;
    }
  }

  const form = $<HTMLFormElement>('schedule-form');
  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void save().catch((err: unknown) => (saveStatus.textContent = `Could not save: ${String(err)}`));
  });
  $('schedule-blackout-add').addEventListener('click', addBlackout);
  // Enter in the blackout date field adds the date (not the whole form's Save).
  $('schedule-blackout-date').addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    addBlackout();
  });

  fill(formFromSchedule(saved, browserZone, Date.now()));
  runPreview();
}
