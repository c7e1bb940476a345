export { parseQuestionsCsv, CHOICE_LETTERS, type Question, type QuestionsCsv } from "./csv.js";
export { EvalDataError } from "./errors.js";
export { CEVAL_SUBJECTS, CMMLU_SUBJECTS, CEVAL_CATEGORIES, CMMLU_CATEGORIES, type SubjectInfo } from "./subjects.js";
export { CEVAL_FORMAT, CMMLU_FORMAT, buildPrompt, type PromptFormat, type FittedPrompt } from "./prompt.js";
export { loadCEval, loadCMMLU, type Benchmark, type Subject, type LoadOptions } from "./benchmark.js";
export { sequenceLogProbs, nextTokenLogProbs, type PackOptions } from "./scoring.js";
export { perplexity, perplexityOptionsSchema, slidingWindows, type PerplexityOptions, type PerplexityResult, type DirectionPerplexity, type TextTokenizer } from "./perplexity.js";
export {
  evaluateMultipleChoice,
  multipleChoiceOptionsSchema,
  answerTokens,
  questionPrompt,
  reportMarkdown,
  SCORINGS,
  type Scoring,
  type MultipleChoiceOptions,
  type MultipleChoiceReport,
  type SubjectResult,
  type Prediction,
  type Accuracies,
  type AnswerToken,
  type HarnessTokenizer,
} from "./harness.js";
