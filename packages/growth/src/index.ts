export { growOptionsSchema, planGrowth, targetConfig, GrowthError } from "./plan.js";
export type { GrowOptions, ResolvedGrowOptions, GrowthPlan, UnitMap, BlockPlan } from "./plan.js";
export { grow, growModel, growWeights, maxLogitDiff } from "./grow.js";
export type { GrowCheckpointOptions } from "./grow.js";
export { trainProgressive, progressiveStages, progressiveOptionsSchema, trainingFlopsPerStep, flopsAtStep } from "./progressive.js";
export type { ProgressiveConfig, ProgressiveStage, ProgressiveResult } from "./progressive.js";
