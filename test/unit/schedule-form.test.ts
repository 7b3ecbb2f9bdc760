import { describe, expect, it } from 'vitest';
import { ScheduleSchema } from '../../src/automated/schedule-schema.ts';
import { sessionStarts, type Schedule } from '../../src/automated/schedule.ts';
import {
  addBlackoutDate,
  buildSchedule,
  dateLabel,
  defaultForm,
  formFromSchedule,
  removeBlackoutDate,
  sessionLabel,
  timeZoneChoices,
  untilOf,
  weekdayOf,
  type ScheduleForm,
} from '../../player/schedule-form.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const NOW = Date.parse('2026-12-02T10:00:00Z');

/** A form as the panel would read it: the defaults, then what the marketer chose. */
const form = (changes: Partial<ScheduleForm>, timezone = 'Europe/Rome'): ScheduleForm => ({
  ...defaultForm(timezone, NOW),
  ...changes,
});

/** The sessions of a schedule over the year 2027, as the server lists them. */
const year = (schedule: Schedule) =>
  sessionStarts(schedule, Date.UTC(2027, 0, 1), Date.UTC(2028, 0, 1)).map(iso);

describe('the schedule form builds the schedule the API takes', () => {
  it('weekly on Tuesday and Thursday at 16:00 in Rome, across the March clock change', () => {
    const schedule = buildSchedule(
      form({ repeat: 'weekly', date: '2027-03-20', time: '16:00', weekdays: ['TH', 'TU'] }),
    );
    expect(schedule).toEqual({
      kind: 'recurring',
      start: '2027-03-20T16:00',
      rrule: 'FREQ=WEEKLY;BYDAY=TU,TH',
      timezone: 'Europe/Rome',
      replayDays: 7,
    });
    expect(ScheduleSchema.parse(schedule)).toEqual(schedule);
    expect(year(schedule).slice(0, 4)).toEqual([
      '2027-03-23T15:00:00.000Z',
      '2027-03-25T15:00:00.000Z',
      // 28 March: Rome moves to CEST (UTC+2), 16:00 stays 16:00.
      '2027-03-30T14:00:00.000Z',
      '2027-04-01T14:00:00.000Z',
    ]);
  });

  it('every other week, a number of sessions or a last date (the end of that day in the zone)', () => {
    const counted = buildSchedule(
      form({
        repeat: 'weekly',
        date: '2027-01-05',
        time: '09:30',
        weekdays: ['TU'],
        interval: 2,
        ends: 'count',
        count: 3,
      }),
    );
    expect(counted).toMatchObject({ rrule: 'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=3' });
    expect(year(counted)).toEqual([
      '2027-01-05T08:30:00.000Z',
      '2027-01-19T08:30:00.000Z',
      '2027-02-02T08:30:00.000Z',
    ]);
    // 23:59:59 in Rome is 21:59:59Z in summer and 22:59:59Z in winter.
    expect(untilOf('2027-07-13', 'Europe/Rome')).toBe('20270713T215959Z');
    expect(untilOf('2027-01-12', 'Europe/Rome')).toBe('20270112T225959Z');
    expect(untilOf('2027-01-12', 'America/New_York')).toBe('20270113T045959Z');
    const until = buildSchedule(
      form(
        {
          repeat: 'weekly',
          date: '2027-01-04',
          time: '23:30',
          weekdays: ['MO', 'TU'],
          ends: 'until',
          until: '2027-01-12',
        },
        'America/New_York',
      ),
    );
    expect(until).toMatchObject({ rrule: 'FREQ=WEEKLY;BYDAY=MO,TU;UNTIL=20270113T045959Z' });
    // The last date's session is kept, though it is the next day in UTC.
    expect(year(until)).toEqual([
      '2027-01-05T04:30:00.000Z',
      '2027-01-06T04:30:00.000Z',
      '2027-01-12T04:30:00.000Z',
      '2027-01-13T04:30:00.000Z',
    ]);
  });

  it('monthly on a day of the month (or its last day) or on the second Tuesday or last Friday', () => {
    const rule = (changes: Partial<ScheduleForm>) =>
      (
        buildSchedule(form({ repeat: 'monthly', date: '2027-01-01', time: '10:00', ...changes })) as {
          rrule: string;
        }
      ).rrule;
    expect(rule({ monthlyBy: 'day', monthDay: 15 })).toBe('FREQ=MONTHLY;BYMONTHDAY=15');
    expect(rule({ monthlyBy: 'day', monthDay: -1, interval: 3 })).toBe(
      'FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1',
    );
    expect(rule({ monthlyBy: 'weekday', monthOrdinal: 2, monthWeekday: 'TU' })).toBe(
      'FREQ=MONTHLY;BYDAY=2TU',
    );
    const lastFriday = buildSchedule(
      form({
        repeat: 'monthly',
        date: '2027-01-01',
        time: '10:00',
        monthlyBy: 'weekday',
        monthOrdinal: -1,
        monthWeekday: 'FR',
      }),
    );
    expect(year(lastFriday).slice(0, 3)).toEqual([
      '2027-01-29T09:00:00.000Z',
      '2027-02-26T09:00:00.000Z',
      '2027-03-26T09:00:00.000Z',
    ]);
  });

  it('once: the local date and time in the zone as an instant, DST included', () => {
    expect(buildSchedule(form({ repeat: 'once', date: '2027-03-30', time: '10:00' }))).toEqual({
      kind: 'once',
      startsAt: '2027-03-30T08:00:00Z',
      timezone: 'Europe/Rome',
      replayDays: 7,
    });
    expect(buildSchedule(form({ repeat: 'once', date: '2027-01-30', time: '10:00' }))).toMatchObject({
      startsAt: '2027-01-30T09:00:00Z',
    });
  });

  it('just in time: every day leaves the list out, closing at 00:00 is the end of the day', () => {
    const jit = buildSchedule(
      form({
        repeat: 'jit',
        everyMinutes: 30,
        openFrom: '22:00',
        openTo: '00:00',
        blackoutDates: ['2027-01-02'],
      }),
    );
    expect(jit).toEqual({
      kind: 'jit',
      everyMinutes: 30,
      openingHours: { from: '22:00', to: '24:00' },
      timezone: 'Europe/Rome',
      blackoutDates: ['2027-01-02'],
      replayDays: 7,
    });
    expect(ScheduleSchema.parse(jit)).toEqual(jit);
    expect(year(jit).slice(0, 5)).toEqual([
      '2027-01-01T21:00:00.000Z',
      '2027-01-01T21:30:00.000Z',
      '2027-01-01T22:00:00.000Z',
      '2027-01-01T22:30:00.000Z',
      // 2 January is blacked out.
      '2027-01-03T21:00:00.000Z',
    ]);
    const weekdays = buildSchedule(form({ repeat: 'jit', openDays: ['FR', 'MO'] }));
    expect(weekdays).toMatchObject({ openingHours: { from: '09:00', to: '17:00', days: ['MO', 'FR'] } });
  });

  it('on demand and a custom rule', () => {
    expect(
      buildSchedule(form({ repeat: 'on_demand', blackoutDates: ['2027-01-01'], replayDays: 0 })),
    ).toEqual({
      kind: 'on_demand',
      timezone: 'Europe/Rome',
      replayDays: 0,
    });
    expect(
      buildSchedule(
        form({ repeat: 'rrule', date: '2027-01-01', time: '08:00', rrule: ' FREQ=DAILY;COUNT=2 ' }),
      ),
    ).toMatchObject({ kind: 'recurring', start: '2027-01-01T08:00', rrule: 'FREQ=DAILY;COUNT=2' });
  });

  it('says what to fill in', () => {
    const fails = (changes: Partial<ScheduleForm>) => () => buildSchedule(form(changes));
    expect(fails({ repeat: 'weekly', weekdays: [] })).toThrow('Choose at least one weekday');
    expect(fails({ repeat: 'weekly', date: '' })).toThrow('Choose the first date');
    expect(fails({ repeat: 'once', date: '' })).toThrow('Choose the date');
    expect(fails({ repeat: 'once', time: '' })).toThrow('Choose the time');
    expect(fails({ repeat: 'weekly', interval: NaN })).toThrow(
      'The number of weeks must be a whole number from 1 to 52',
    );
    expect(fails({ repeat: 'weekly', ends: 'until', until: '' })).toThrow('Choose the last date');
    expect(fails({ repeat: 'weekly', date: '2027-02-01', ends: 'until', until: '2027-01-01' })).toThrow(
      'The last date must not be before the first',
    );
    expect(fails({ repeat: 'weekly', ends: 'count', count: 0 })).toThrow('The number of sessions');
    expect(fails({ repeat: 'jit', openDays: [] })).toThrow('Choose at least one opening day');
    expect(fails({ repeat: 'jit', everyMinutes: 2 })).toThrow('Minutes between sessions must be');
    expect(fails({ replayDays: 400 })).toThrow('Replay days must be a whole number from 0 to 365');
    expect(fails({ repeat: 'rrule', rrule: '  ' })).toThrow('Write the rule');
  });
});

describe('a saved schedule opens in the form, and saving it unchanged keeps its sessions', () => {
  const saved: [string, Schedule, ScheduleForm['repeat']][] = [
    [
      'weekly',
      {
        kind: 'recurring',
        timezone: 'Europe/Rome',
        start: '2027-01-05T16:00',
        rrule: 'FREQ=WEEKLY;BYDAY=TU,TH',
        replayDays: 3,
      },
      'weekly',
    ],
    [
      'weekly, no BYDAY',
      { kind: 'recurring', timezone: 'UTC', start: '2027-01-06T10:00', rrule: 'FREQ=WEEKLY' },
      'weekly',
    ],
    [
      'every other week until a date',
      {
        kind: 'recurring',
        timezone: 'Europe/Rome',
        start: '2027-01-05T16:00',
        rrule: `FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;UNTIL=${untilOf('2027-06-01', 'Europe/Rome')}`,
        blackoutDates: ['2027-02-02'],
      },
      'weekly',
    ],
    [
      'monthly on the 31st',
      { kind: 'recurring', timezone: 'Asia/Tokyo', start: '2027-01-31T09:00', rrule: 'FREQ=MONTHLY;COUNT=6' },
      'monthly',
    ],
    [
      'monthly, last Friday',
      {
        kind: 'recurring',
        timezone: 'America/New_York',
        start: '2027-01-01T12:00',
        rrule: 'rrule:freq=monthly;byday=-1fr',
      },
      'monthly',
    ],
    [
      'daily',
      { kind: 'recurring', timezone: 'UTC', start: '2027-01-01T08:00', rrule: 'FREQ=DAILY;INTERVAL=3' },
      'rrule',
    ],
    [
      'WKST with an interval',
      {
        kind: 'recurring',
        timezone: 'UTC',
        start: '2027-01-03T08:00',
        rrule: 'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU',
      },
      'rrule',
    ],
    [
      'the fifth Tuesday',
      { kind: 'recurring', timezone: 'UTC', start: '2027-01-01T08:00', rrule: 'FREQ=MONTHLY;BYDAY=5TU' },
      'rrule',
    ],
    [
      'two days a month',
      {
        kind: 'recurring',
        timezone: 'UTC',
        start: '2027-01-01T08:00',
        rrule: 'FREQ=MONTHLY;BYMONTHDAY=1,15',
      },
      'rrule',
    ],
    [
      'UNTIL not at the end of a local day',
      {
        kind: 'recurring',
        timezone: 'Europe/Rome',
        start: '2027-01-01T08:00',
        rrule: 'FREQ=WEEKLY;BYDAY=FR;UNTIL=20270305T120000Z',
      },
      'rrule',
    ],
    [
      'once',
      { kind: 'once', timezone: 'Europe/Rome', startsAt: '2027-03-30T08:00:00Z', replayDays: 0 },
      'once',
    ],
    [
      'jit, weekdays, till midnight',
      {
        kind: 'jit',
        timezone: 'Europe/Rome',
        everyMinutes: 20,
        openingHours: { from: '18:00', to: '24:00', days: ['MO', 'WE'] },
      },
      'jit',
    ],
    [
      'jit, every day',
      { kind: 'jit', timezone: 'UTC', everyMinutes: 60, openingHours: { from: '09:00', to: '12:00' } },
      'jit',
    ],
    ['on demand', { kind: 'on_demand', timezone: 'Europe/Berlin', replayDays: 30 }, 'on_demand'],
  ];

  it.each(saved)('%s', (_name, schedule, repeat) => {
    const shown = formFromSchedule(schedule, 'UTC', NOW);
    expect(shown.repeat).toBe(repeat);
    expect(shown.timezone).toBe(schedule.timezone);
    const again = buildSchedule(shown);
    expect(again.kind).toBe(schedule.kind);
    expect(again.replayDays).toBe(schedule.replayDays ?? 7);
    expect(again.blackoutDates).toEqual(schedule.blackoutDates);
    expect(year(again)).toEqual(year(schedule));
    if (repeat === 'rrule') expect(again).toMatchObject({ rrule: (schedule as { rrule: string }).rrule });
  });

  it('a weekly rule shows its days, time and first date; no schedule gives a new weekly one', () => {
    const shown = formFromSchedule(saved[0]![1], 'UTC', NOW);
    expect(shown).toMatchObject({
      date: '2027-01-05',
      time: '16:00',
      weekdays: ['TU', 'TH'],
      interval: 1,
      ends: 'never',
    });
    expect(formFromSchedule(saved[2]![1], 'UTC', NOW)).toMatchObject({
      interval: 2,
      ends: 'until',
      until: '2027-06-01',
    });
    expect(formFromSchedule(saved[11]![1], 'UTC', NOW)).toMatchObject({
      openTo: '00:00',
      openDays: ['MO', 'WE'],
    });
    // 18:00Z on Wednesday 2 December 2026 is already 03:00 on Thursday 3 December in Tokyo (UTC+9).
    expect(formFromSchedule(null, 'Asia/Tokyo', Date.parse('2026-12-02T18:00:00Z'))).toMatchObject({
      repeat: 'weekly',
      timezone: 'Asia/Tokyo',
      date: '2026-12-03',
      weekdays: ['TH'],
    });
  });
});

describe('blackout dates, zones and labels', () => {
  it('keeps blackout dates sorted, each once, and ignores an empty or malformed one', () => {
    let dates = addBlackoutDate([], '2027-12-25');
    dates = addBlackoutDate(dates, '2027-01-01');
    dates = addBlackoutDate(dates, '2027-12-25');
    dates = addBlackoutDate(dates, '');
    dates = addBlackoutDate(dates, '25/12/2027');
    expect(dates).toEqual(['2027-01-01', '2027-12-25']);
    expect(removeBlackoutDate(dates, '2027-01-01')).toEqual(['2027-12-25']);
  });

  it('offers the runtime zones plus the current one and UTC, sorted, each once', () => {
    expect(timeZoneChoices(['Europe/Rome', 'America/New_York'], 'Asia/Calcutta')).toEqual([
      'America/New_York',
      'Asia/Calcutta',
      'Europe/Rome',
      'UTC',
    ]);
    expect(timeZoneChoices(['UTC', 'Europe/Rome'], 'Europe/Rome')).toEqual(['Europe/Rome', 'UTC']);
  });

  it('shows a session with its weekday, date and time in the schedule zone', () => {
    const label = sessionLabel(Date.parse('2027-03-30T14:00:00Z'), 'Europe/Rome', 'en-GB');
    expect(label).toMatch(/^Tuesday,? 30 March 2027 at 16:00 CEST$/);
    expect(sessionLabel(Date.parse('2027-03-30T14:00:00Z'), 'America/New_York', 'en-US')).toMatch(
      /^Tuesday, March 30, 2027 at 10:00\s?AM EDT$/,
    );
    expect(dateLabel('2027-12-24', 'en-GB')).toMatch(/^Friday,? 24 December 2027$/);
    expect(weekdayOf('2027-12-24')).toBe('FR');
    expect(weekdayOf('2027-12-26')).toBe('SU');
  });
});
