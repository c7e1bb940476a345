export { AnnotationStore, SCHEMA_VERSION, VERDICTS, HELPFULNESS, HARMLESSNESS, taskSchema, voteSchema, type Comparison, type ComparisonRecord, type TaskInput, type VoteInput, type Verdict } from "./store.js";
export { cohensKappa, fleissKappa } from "./agreement.js";
export { hashPassword, verifyPassword } from "./passwords.js";
export { AnnotateError } from "./errors.js";
export { createServer, serverOptionsSchema, SESSION_COOKIE, type ServerOptions } from "./server.js";
export { AnnotateClient, AnnotateHttpError, type Progress } from "./client.js";
export { loadTest, loadTestOptionsSchema, type LoadTestOptions, type LoadTestResult } from "./loadtest.js";
