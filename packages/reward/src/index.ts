export {
  RewardDataError,
  ROLES,
  VERDICTS,
  FEEDBACK_SOURCES,
  COMPARISON_SCHEMA_ID,
  messageSchema,
  conversationSchema,
  criteriaSchema,
  comparisonSchema,
  comparisonJsonSchema,
  parseComparison,
  readComparisonsOptionsSchema,
  readComparisons,
  loadComparisons,
  writeComparisons,
  toPreferenceOptionsSchema,
  toPreferencePairs,
  flipComparison,
} from "./records.js";
export type {
  Role,
  Verdict,
  FeedbackSource,
  Message,
  Criteria,
  ComparisonRecord,
  ComparisonInput,
  ReadComparisonsOptions,
  StandardExplicitPair,
  StandardImplicitPair,
  ConversationalExplicitPair,
  ConversationalImplicitPair,
  PreferencePair,
  ToPreferenceOptions,
  PreferencePairsResult,
} from "./records.js";
export { REWARD_HEAD, encodeResponse, encodePairs, rewardBatch, rowRewards, pairwiseLoss, batchLoss, rewardObjective, PairDataSource } from "./model.js";
export type { PreferenceExample, EncodedPair, EncodeOptions, RewardBatch, PairwiseLossOptions, PairSourceState } from "./model.js";
export { rewardConfigSchema, trainRewardModel, evaluatePairs, rewardStats, score, loadRewardModel } from "./train.js";
export type { RewardConfig, RewardObjects, RewardStats, RewardTrainResult, PairMetrics, RewardModelConfig, ScoreOptions, RewardModel } from "./train.js";
export { judge, modelJudge, judgePrompt, samplePairs, JUDGE_QUESTIONS, judgeOptionsSchema, modelJudgeOptionsSchema } from "./judge.js";
export type { Judge, JudgeRequest, JudgeAnswer, JudgeCriterion, JudgeOptions, JudgeResult, ModelJudgeOptions, CandidatePair, SamplePairsOptions } from "./judge.js";
