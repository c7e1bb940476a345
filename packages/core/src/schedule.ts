/**
 * The learning-rate schedule: linear warmup to a peak, then a cosine decay to
 * `peak · minRatio` at `totalSteps`, flat after that. A pure function of the step, so a
 * resumed run needs nothing but the step count.
 */
import { z } from "zod";
import { parseOptions } from "./options.js";

/** Zod schema of {@link ScheduleOptions}; defaults are written here and nowhere else. */
export const scheduleSchema = z
  .object({
    /** The highest learning rate, reached at the end of warmup. */
    peak: z.number().positive(),
    /** Steps of linear warmup (0: start at the peak). */
    warmupSteps: z.number().int().nonnegative().default(0),
    /** The step at which the cosine reaches its floor; later steps stay at the floor. */
    totalSteps: z.number().int().positive(),
    /** The floor as a fraction of the peak, in [0, 1]. */
    minRatio: z.number().min(0).max(1).default(0.1),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.warmupSteps > o.totalSteps) {
      ctx.addIssue({ code: "custom", path: ["warmupSteps"], message: `warmupSteps ${o.warmupSteps} exceeds totalSteps ${o.totalSteps}` });
    }
  });

/** What a caller passes to {@link lrAt} / {@link makeSchedule}. */
export type ScheduleOptions = z.input<typeof scheduleSchema>;

/** Validated schedule options with defaults filled. */
export type ResolvedSchedule = z.output<typeof scheduleSchema>;

/** Validate schedule options; the error names the bad field. */
export function resolveSchedule(options: ScheduleOptions): ResolvedSchedule {
  return parseOptions(scheduleSchema, options, "learning-rate schedule");
}

function lrResolved(step: number, o: ResolvedSchedule): number {
  if (!Number.isFinite(step) || step < 0) throw new RangeError(`lrAt: step must be a finite number >= 0, got ${step}`);
  const floor = o.peak * o.minRatio;
  // peak·(step+1)/warmup can round one ulp above the peak at the warmup's last step: clamp
  if (step < o.warmupSteps) return Math.min(o.peak, (o.peak * (step + 1)) / o.warmupSteps);
  const decaySteps = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (step - o.warmupSteps) / decaySteps);
  const lr = floor + (o.peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
  return Math.min(o.peak, Math.max(floor, lr));
}

/**
 * The learning rate for optimizer step `step` (0-based: the number of steps already taken).
 *
 * - warmup, `step < warmupSteps`: `peak · (step + 1) / warmupSteps`, so step 0 already
 *   moves the weights and step `warmupSteps − 1` is at the peak (warmup values lie in
 *   `(0, peak]` and may be below the floor);
 * - then `floor + (peak − floor) · ½(1 + cos(π · p))` with
 *   `p = (step − warmupSteps) / (totalSteps − warmupSteps)` clamped to [0, 1] and
 *   `floor = peak · minRatio`: `peak` at `warmupSteps`, `floor` from `totalSteps` on.
 *
 * Options are validated on every call; a training loop may prefer {@link makeSchedule}.
 *
 * @throws RangeError naming the bad option, or for a negative / non-finite step.
 */
export function lrAt(step: number, options: ScheduleOptions): number {
  return lrResolved(step, resolveSchedule(options));
}

/** Validate the options once and return `step => lrAt(step, options)`. */
export function makeSchedule(options: ScheduleOptions): (step: number) => number {
  const o = resolveSchedule(options);
  return (step) => lrResolved(step, o);
}
