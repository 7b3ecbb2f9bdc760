import { z } from 'zod';
import { validateSchedule, WEEKDAYS, type Schedule } from './schedule.ts';

const base = {
  timezone: z.string().min(1).max(64),
  blackoutDates: z.array(z.string()).max(366).optional(),
  replayDays: z.number().int().min(0).max(365).optional(),
};

/** The API's schedule body; the deeper rules (zone, RRULE, hours) run through `validateSchedule`. */
export const ScheduleSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('once'), startsAt: z.iso.datetime({ offset: true }), ...base }),
    z.object({ kind: z.literal('recurring'), start: z.string(), rrule: z.string().min(6).max(300), ...base }),
    z.object({
      kind: z.literal('jit'),
      everyMinutes: z
        .number()
        .int()
        .min(5)
        .max(24 * 60),
      openingHours: z.object({
        from: z.string(),
        to: z.string(),
        days: z.array(z.enum(WEEKDAYS as [string, ...string[]])).optional(),
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
