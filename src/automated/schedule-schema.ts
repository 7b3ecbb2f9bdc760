import { z } from 'zod';
import { SCHEDULE_LIMITS, validateSchedule, WEEKDAYS, type Schedule } from './schedule.ts';

const base = {
  timezone: z.string().min(1).max(64),
  blackoutDates: z
    .array(z.string().max(10, 'blackout dates look like 2026-12-25'))
    .max(SCHEDULE_LIMITS.maxBlackoutDates, `at most ${SCHEDULE_LIMITS.maxBlackoutDates} blackout dates`)
    .optional(),
  replayDays: z.number().int().min(0).max(365).optional(),
};

const clock = z.string().max(5, 'opening hours look like 09:30');

/**
 * The API's schedule body. Every string and list has a length bound here; the deeper rules (zone,
 * RRULE, real dates and times, value ranges) run through `validateSchedule`.
 */
export const ScheduleSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('once'), startsAt: z.iso.datetime({ offset: true }), ...base }),
    z.object({
      kind: z.literal('recurring'),
      start: z.string().max(16, 'start looks like 2026-12-01T10:00'),
      rrule: z
        .string()
        .min(6)
        .max(
          SCHEDULE_LIMITS.maxRRuleLength,
          `rrule must be at most ${SCHEDULE_LIMITS.maxRRuleLength} characters`,
        ),
      ...base,
    }),
    z.object({
      kind: z.literal('jit'),
      everyMinutes: z.number().int().min(5).max(SCHEDULE_LIMITS.maxEveryMinutes),
      openingHours: z.object({
        from: clock,
        to: clock,
        days: z
          .array(z.enum(WEEKDAYS as [string, ...string[]]))
          .min(1, 'list at least one opening day, or leave days out for every day')
          .max(7)
          .optional(),
      }),
      ...base,
    }),
    z.object({ kind: z.literal('on_demand'), ...base }),
  ])
  .superRefine((value, ctx) => {
    try {
      validateSchedule(value as Schedule);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  })
  .transform((value) => value as Schedule);
