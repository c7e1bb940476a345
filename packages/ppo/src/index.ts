export { PpoError, KL_ESTIMATORS, klPerToken, tokenRewards, gae, whiten, klControlSchema, klController, FixedKlController, AdaptiveKlController } from "./algorithms.js";
export type { KlEstimator, KlControlOptions, KlController } from "./algorithms.js";
export { VALUE_HEAD, policyForward, ppoLoss, ppoObjective, responseTokens } from "./loss.js";
export type { PpoMinibatch, PpoBatch, PpoLossOptions } from "./loss.js";
export { makeRollout, minibatch } from "./rollout.js";
export type { RewardFunction, RolloutRow, RolloutStats, RolloutOptions } from "./rollout.js";
export { ppoConfigSchema, trainPpo, rewardModelScorer } from "./train.js";
export type { PpoConfig, PpoObjects, PpoResult, IterationRecord } from "./train.js";
