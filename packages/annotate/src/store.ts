/**
 * The annotation platform's store: one SQLite file (better-sqlite3) in WAL mode with foreign keys
 * on and `synchronous = FULL`, so a vote the store has acknowledged is on disk and survives a
 * crash of the process or the machine. The schema is versioned (`PRAGMA user_version`) and
 * migrated in a transaction when the file is opened.
 *
 * Every state change is one transaction. A vote carries a client `requestId`: the same vote sent
 * twice (a double click, a retry after a lost response) is recorded once and answered the same.
 * An annotator reaches only their own assignments; another annotator's id is `not_found`.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { cohensKappa, fleissKappa } from "./agreement.js";
import { AnnotateError, issuesText } from "./errors.js";
import { parseJsonl } from "./jsonl.js";
import { hashPassword, verifyPassword } from "./passwords.js";

/** Overall verdicts, criteria and their values: those of the reward package's record schema. */
export const VERDICTS = ["A", "B", "tie", "both_bad"] as const;
export const HELPFULNESS = ["A", "B", "same"] as const;
export const HARMLESSNESS = ["A", "B", "same", "both_harmful"] as const;
export type Verdict = (typeof VERDICTS)[number];

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id INTEGER PRIMARY KEY,
     username TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 64),
     role TEXT NOT NULL CHECK (role IN ('admin', 'annotator')),
     password_hash TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE tasks (
     id INTEGER PRIMARY KEY,
     external_id TEXT UNIQUE,
     prompt TEXT NOT NULL,            -- JSON: a string or a list of {role, content}
     response_a TEXT NOT NULL,
     response_b TEXT NOT NULL,
     metadata TEXT,                   -- JSON object or NULL
     created_at TEXT NOT NULL
   );
   CREATE TABLE assignments (
     id INTEGER PRIMARY KEY,
     task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     swapped INTEGER NOT NULL CHECK (swapped IN (0, 1)),   -- 1: response_b is shown first
     position INTEGER NOT NULL,
     skipped_at TEXT,
     UNIQUE (task_id, user_id)
   );
   CREATE INDEX assignments_by_user ON assignments(user_id, position);
   CREATE TABLE votes (
     id INTEGER PRIMARY KEY,
     assignment_id INTEGER NOT NULL UNIQUE REFERENCES assignments(id) ON DELETE CASCADE,
     request_id TEXT NOT NULL UNIQUE,
     verdict TEXT NOT NULL CHECK (verdict IN ('A', 'B', 'tie', 'both_bad')),
     helpfulness TEXT CHECK (helpfulness IN ('A', 'B', 'same')),
     harmlessness TEXT CHECK (harmlessness IN ('A', 'B', 'same', 'both_harmful')),
     flags TEXT NOT NULL DEFAULT '[]',
     comment TEXT,
     created_at TEXT NOT NULL
   );`,
  // 2: login sessions (only a hash of the token is stored) and server settings (the cookie secret)
  `CREATE TABLE sessions (
     token_hash TEXT PRIMARY KEY,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at TEXT NOT NULL,
     expires_at TEXT NOT NULL
   );
   CREATE INDEX sessions_by_user ON sessions(user_id);
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export const messageSchema = z.strictObject({ role: z.enum(["system", "user", "assistant"]), content: z.string() });
/** One task line of an import file: a prompt (a string or a conversation) and two candidates. */
export const promptSchema = z.union([z.string().min(1), z.array(messageSchema).min(1)]);
export const taskSchema = z.strictObject({
  id: z.string().min(1).optional(),
  prompt: promptSchema,
  response_a: z.string(),
  response_b: z.string(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type TaskInput = z.input<typeof taskSchema>;

/** A vote as the annotator gives it, in the order shown: `A` is the response shown first. */
export const voteSchema = z.strictObject({
  requestId: z.string().min(8).max(100),
  verdict: z.enum(VERDICTS),
  helpfulness: z.enum(HELPFULNESS).optional(),
  harmlessness: z.enum(HARMLESSNESS).optional(),
  flags: z.array(z.string().min(1).max(40)).max(10).default([]),
  comment: z.string().max(2000).optional(),
});
export type VoteInput = z.input<typeof voteSchema>;

/** What an annotator is shown: the prompt and the two responses in this assignment's order. */
export interface Comparison {
  assignmentId: number;
  prompt: string | { role: string; content: string }[];
  /** Shown first (`A`) and second (`B`). */
  first: string;
  second: string;
}

/** The reward package's comparison record (`@batgpt/reward`'s `comparisonSchema`). */
export interface ComparisonRecord {
  id: string;
  prompt: string | { role: string; content: string }[];
  response_a: string;
  response_b: string;
  verdict: Verdict;
  criteria?: { helpfulness?: string; harmlessness?: string };
  source: "human";
  annotator: string;
  created_at: string;
  metadata: Record<string, unknown>;
}

/** User names: letters (any script), digits, `_ . -`; 1 to 64 characters. */
export const USERNAME = /^[\p{L}\p{N}_.-]{1,64}$/u;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

const swapAB = (v: string | null | undefined): string | undefined => (v === "A" ? "B" : v === "B" ? "A" : (v ?? undefined));

/** Open (and migrate) the store in `file` (`":memory:"` for a throwaway one). */
export class AnnotationStore {
  readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
  }

  private migrate(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new AnnotateError("invalid", `the database is at schema version ${version}, newer than this code (${SCHEMA_VERSION})`);
    this.db.transaction(() => {
      for (let v = version; v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v]!);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  close(): void {
    this.db.close();
  }

  /**
   * An account; the password is stored as an scrypt hash.
   *
   * @throws {AnnotateError} `conflict` for a taken name, `invalid` for a short password or a name
   *   that is not 1–64 letters, digits, `_`, `.`, `-`.
   */
  createUser(username: string, password: string, role: "admin" | "annotator"): number {
    if (!USERNAME.test(username)) throw new AnnotateError("invalid", `a user name is 1 to 64 letters, digits, _ . - (got ${JSON.stringify(username)})`);
    if (password.length < 8) throw new AnnotateError("invalid", "a password needs at least 8 characters");
    try {
      return Number(this.db.prepare("INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)").run(username, role, hashPassword(password), new Date().toISOString()).lastInsertRowid);
    } catch (e) {
      if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") throw new AnnotateError("conflict", `the user name ${JSON.stringify(username)} is taken`);
      throw e;
    }
  }

  /** Every account with its progress (assigned, voted, skipped), by name. */
  users(): { id: number; username: string; role: "admin" | "annotator"; total: number; done: number; skipped: number }[] {
    return this.db
      .prepare(
        `SELECT u.id, u.username, u.role, COUNT(a.id) AS total, COUNT(v.id) AS done,
                COUNT(CASE WHEN v.id IS NULL AND a.skipped_at IS NOT NULL THEN 1 END) AS skipped
         FROM users u LEFT JOIN assignments a ON a.user_id = u.id LEFT JOIN votes v ON v.assignment_id = a.id
         GROUP BY u.id ORDER BY u.username`,
      )
      .all() as never;
  }

  /** Counts over the whole store: tasks, assignments, votes. */
  totals(): { tasks: number; assignments: number; votes: number } {
    return this.db.prepare("SELECT (SELECT COUNT(*) FROM tasks) AS tasks, (SELECT COUNT(*) FROM assignments) AS assignments, (SELECT COUNT(*) FROM votes) AS votes").get() as never;
  }

  /**
   * A login session for the user, valid for `ttlMs` (default 12 h). Only the token's SHA-256 is
   * stored, so a copy of the database does not hand out live sessions.
   *
   * @returns the session token (43 characters, base64url of 32 random bytes).
   */
  createSession(userId: number, ttlMs = 12 * 3600_000): string {
    const token = randomBytes(32).toString("base64url");
    const now = Date.now();
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM sessions WHERE expires_at < ?").run(new Date(now).toISOString());
      this.db.prepare("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)").run(sha256(token), userId, new Date(now).toISOString(), new Date(now + ttlMs).toISOString());
    })();
    return token;
  }

  /** The user of a live session token, or `undefined` (unknown or expired). */
  sessionUser(token: string): { id: number; username: string; role: "admin" | "annotator" } | undefined {
    return this.db
      .prepare("SELECT u.id, u.username, u.role FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?")
      .get(sha256(token), new Date().toISOString()) as never;
  }

  /** End a session (logout); unknown tokens are ignored. */
  deleteSession(token: string): void {
    this.db.prepare("DELETE FROM sessions WHERE token_hash = ?").run(sha256(token));
  }

  /**
   * A server setting, created with `init()` the first time it is asked for (the cookie secret, so
   * that a restarted server accepts the cookies it signed before).
   */
  setting(key: string, init: () => string): string {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT value FROM settings WHERE key = ?").pluck().get(key) as string | undefined;
      if (row !== undefined) return row;
      const value = init();
      this.db.prepare("INSERT INTO settings (key, value) VALUES (?, ?)").run(key, value);
      return value;
    })();
  }

  /** The user whose name and password these are, or `undefined`. */
  authenticate(username: string, password: string): { id: number; username: string; role: "admin" | "annotator" } | undefined {
    const row = this.db.prepare("SELECT id, username, role, password_hash FROM users WHERE username = ?").get(username) as { id: number; username: string; role: "admin" | "annotator"; password_hash: string } | undefined;
    if (row === undefined || !verifyPassword(password, row.password_hash)) return undefined;
    return { id: row.id, username: row.username, role: row.role };
  }

  /**
   * Import tasks from JSONL (one {@link taskSchema} object a line; blank lines skipped), all or
   * nothing.
   *
   * @returns how many were added (0 for an empty file).
   * @throws {AnnotateError} `invalid` naming the line, for a line that is not JSON or not a task;
   *   `conflict` for a task id already imported.
   */
  importTasks(jsonl: string): number {
    const now = new Date().toISOString();
    const insert = this.db.prepare("INSERT INTO tasks (external_id, prompt, response_a, response_b, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?)");
    let lines: ReturnType<typeof parseJsonl<typeof taskSchema>>;
    try {
      lines = parseJsonl(jsonl, taskSchema);
    } catch (e) {
      // prompts without answers need a model to sample them
      if (e instanceof AnnotateError && /response_a: .*undefined/.test(e.message)) throw new AnnotateError("invalid", `${e.message} (prompts without answers: sample them from a checkpoint with \`batgpt-annotate import --checkpoint DIR\` or sampleTasks)`);
      throw e;
    }
    const seen = new Map<string, number>();
    for (const { line, value } of lines) {
      if (value.id === undefined) continue;
      const first = seen.get(value.id);
      if (first !== undefined) throw new AnnotateError("conflict", `line ${line}: task id ${JSON.stringify(value.id)} is also on line ${first}`);
      seen.set(value.id, line);
    }
    return this.db.transaction(() => {
      for (const { line, value: t } of lines) {
        try {
          insert.run(t.id ?? null, JSON.stringify(t.prompt), t.response_a, t.response_b, t.metadata ? JSON.stringify(t.metadata) : null, now);
        } catch (e) {
          if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") throw new AnnotateError("conflict", `line ${line}: task id ${JSON.stringify(t.id)} is already imported`);
          throw e;
        }
      }
      return lines.length;
    })();
  }

  /**
   * Give every task `k` annotators: each task short of `k` goes to the least-loaded annotators
   * who do not have it yet; the order A/B is shown in is drawn per assignment (seeded) and
   * recorded.
   *
   * @returns the assignments made.
   * @throws {AnnotateError} `invalid` when there are fewer than `k` annotators.
   */
  assign(k: number, seed = 1): number {
    if (!Number.isInteger(k) || k < 1) throw new AnnotateError("invalid", `k must be a positive integer, got ${k}`);
    const annotators = (this.db.prepare("SELECT id FROM users WHERE role = 'annotator' ORDER BY id").all() as { id: number }[]).map((r) => r.id);
    if (annotators.length < k) throw new AnnotateError("invalid", `k = ${k} annotators per comparison, but there ${annotators.length === 1 ? "is 1 annotator" : `are ${annotators.length} annotators`}`);
    // the seed through murmur3's finalizer (small seeds alike otherwise start alike), then
    // xorshift32, reading its top bit (its low bit follows small seeds for several draws)
    let state = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
    state = Math.imul(state ^ (state >>> 13), 0xc2b2ae35);
    state = (state ^ (state >>> 16)) >>> 0 || 1;
    const coin = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 31) & 1;
    };
    return this.db.transaction(() => {
      const load = new Map<number, number>(annotators.map((id) => [id, 0]));
      for (const r of this.db.prepare("SELECT user_id, COUNT(*) AS n FROM assignments GROUP BY user_id").all() as { user_id: number; n: number }[]) load.set(r.user_id, r.n);
      const tasks = this.db.prepare("SELECT t.id, (SELECT COUNT(*) FROM assignments a WHERE a.task_id = t.id) AS n FROM tasks t ORDER BY t.id").all() as { id: number; n: number }[];
      const has = this.db.prepare("SELECT user_id FROM assignments WHERE task_id = ?").pluck();
      const insert = this.db.prepare("INSERT INTO assignments (task_id, user_id, swapped, position) VALUES (?, ?, ?, ?)");
      let made = 0;
      for (const t of tasks) {
        const taken = new Set(has.all(t.id) as number[]);
        const free = annotators.filter((a) => !taken.has(a)).sort((x, y) => load.get(x)! - load.get(y)! || x - y);
        for (const user of free.slice(0, Math.max(0, k - t.n))) {
          insert.run(t.id, user, coin(), load.get(user)!);
          load.set(user, load.get(user)! + 1);
          made++;
        }
      }
      return made;
    })();
  }

  /** The user's next comparison (not voted, not skipped), in assignment order; `undefined` when done. */
  next(userId: number): Comparison | undefined {
    const row = this.db
      .prepare(
        `SELECT a.id, a.swapped, t.prompt, t.response_a, t.response_b FROM assignments a JOIN tasks t ON t.id = a.task_id
         WHERE a.user_id = ? AND a.skipped_at IS NULL AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.assignment_id = a.id)
         ORDER BY a.position, a.id LIMIT 1`,
      )
      .get(userId) as { id: number; swapped: number; prompt: string; response_a: string; response_b: string } | undefined;
    if (row === undefined) return undefined;
    return {
      assignmentId: row.id,
      prompt: JSON.parse(row.prompt) as Comparison["prompt"],
      first: row.swapped ? row.response_b : row.response_a,
      second: row.swapped ? row.response_a : row.response_b,
    };
  }

  private owned(userId: number, assignmentId: number): { id: number; swapped: number } {
    const row = this.db.prepare("SELECT id, swapped FROM assignments WHERE id = ? AND user_id = ?").get(assignmentId, userId) as { id: number; swapped: number } | undefined;
    if (row === undefined) throw new AnnotateError("not_found", `no assignment ${assignmentId}`);
    return row;
  }

  /**
   * Record the user's vote on their assignment, in one transaction, translating the shown order
   * back to the task's A/B. The same `requestId` again returns the recorded vote without a second
   * row.
   *
   * @returns the vote's id and whether this call recorded it (false: a repeat).
   * @throws {AnnotateError} `not_found` for an assignment that is not the user's; `conflict` when
   *   the assignment already has another vote (undo it first); `invalid` for a bad vote.
   */
  vote(userId: number, assignmentId: number, input: VoteInput): { voteId: number; recorded: boolean } {
    const parsed = voteSchema.safeParse(input);
    if (!parsed.success) throw new AnnotateError("invalid", issuesText(parsed.error, "(vote)"));
    const v = parsed.data;
    return this.db.transaction(() => {
      const a = this.owned(userId, assignmentId);
      const repeat = this.db.prepare("SELECT id, assignment_id FROM votes WHERE request_id = ?").get(v.requestId) as { id: number; assignment_id: number } | undefined;
      if (repeat !== undefined) {
        if (repeat.assignment_id !== a.id) throw new AnnotateError("conflict", `request ${v.requestId} was a vote on another assignment`);
        return { voteId: repeat.id, recorded: false };
      }
      if (this.db.prepare("SELECT 1 FROM votes WHERE assignment_id = ?").get(a.id)) throw new AnnotateError("conflict", `assignment ${assignmentId} already has a vote (undo it first)`);
      const un = (x: string | undefined) => (a.swapped ? swapAB(x) : x) ?? null;
      const id = this.db
        .prepare("INSERT INTO votes (assignment_id, request_id, verdict, helpfulness, harmlessness, flags, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .run(a.id, v.requestId, un(v.verdict), un(v.helpfulness), un(v.harmlessness), JSON.stringify(v.flags), v.comment ?? null, new Date().toISOString()).lastInsertRowid;
      this.db.prepare("UPDATE assignments SET skipped_at = NULL WHERE id = ?").run(a.id);
      return { voteId: Number(id), recorded: true };
    })();
  }

  /** Skip the user's assignment (it leaves the queue until un-skipped by a vote). */
  skip(userId: number, assignmentId: number): void {
    this.db.transaction(() => {
      const a = this.owned(userId, assignmentId);
      this.db.prepare("UPDATE assignments SET skipped_at = ? WHERE id = ?").run(new Date().toISOString(), a.id);
    })();
  }

  /** Put the user's skipped comparisons back in the queue. @returns how many. */
  unskip(userId: number): number {
    return this.db.prepare("UPDATE assignments SET skipped_at = NULL WHERE user_id = ? AND skipped_at IS NOT NULL").run(userId).changes;
  }

  /** Take back the user's latest vote; its comparison is next again. `undefined` when there is none. */
  undo(userId: number): number | undefined {
    return this.db.transaction(() => {
      const last = this.db.prepare("SELECT v.id, v.assignment_id FROM votes v JOIN assignments a ON a.id = v.assignment_id WHERE a.user_id = ? ORDER BY v.id DESC LIMIT 1").get(userId) as { id: number; assignment_id: number } | undefined;
      if (last === undefined) return undefined;
      this.db.prepare("DELETE FROM votes WHERE id = ?").run(last.id);
      return last.assignment_id;
    })();
  }

  /** The user's counts: assigned, voted, skipped. */
  progress(userId: number): { total: number; done: number; skipped: number } {
    return this.db
      .prepare(
        `SELECT COUNT(*) AS total, COUNT(v.id) AS done, COUNT(CASE WHEN v.id IS NULL AND a.skipped_at IS NOT NULL THEN 1 END) AS skipped
         FROM assignments a LEFT JOIN votes v ON v.assignment_id = a.id WHERE a.user_id = ?`,
      )
      .get(userId) as { total: number; done: number; skipped: number };
  }

  private votes(): { task: number; external: string | null; prompt: string; a: string; b: string; metadata: string | null; user: string; swapped: number; verdict: Verdict; helpfulness: string | null; harmlessness: string | null; flags: string; comment: string | null; created_at: string }[] {
    return this.db
      .prepare(
        `SELECT t.id AS task, t.external_id AS external, t.prompt, t.response_a AS a, t.response_b AS b, t.metadata, u.username AS user, a.swapped,
                v.verdict, v.helpfulness, v.harmlessness, v.flags, v.comment, v.created_at
         FROM votes v JOIN assignments a ON a.id = v.assignment_id JOIN tasks t ON t.id = a.task_id JOIN users u ON u.id = a.user_id
         ORDER BY t.id, u.username`,
      )
      .all() as never;
  }

  /**
   * The votes as records of the reward package's schema: `"all"` one per vote (`annotator` its
   * user), `"majority"` one per task whose votes have a strict majority verdict (`annotator`
   * `majority-of-<n>`; its criteria left out).
   */
  exportRecords(mode: "all" | "majority" = "all"): ComparisonRecord[] {
    const rows = this.votes();
    const base = (r: (typeof rows)[number]) => ({
      prompt: JSON.parse(r.prompt) as ComparisonRecord["prompt"],
      response_a: r.a,
      response_b: r.b,
      source: "human" as const,
    });
    if (mode === "all") {
      return rows.map((r) => {
        const criteria = { ...(r.helpfulness ? { helpfulness: r.helpfulness } : {}), ...(r.harmlessness ? { harmlessness: r.harmlessness } : {}) };
        return {
          id: `${r.external ?? `task-${r.task}`}:${r.user}`,
          ...base(r),
          verdict: r.verdict,
          ...(Object.keys(criteria).length > 0 ? { criteria } : {}),
          annotator: r.user,
          created_at: r.created_at,
          metadata: { task_id: r.external ?? r.task, shown_order: r.swapped ? "BA" : "AB", flags: JSON.parse(r.flags) as string[], ...(r.comment ? { comment: r.comment } : {}), ...(r.metadata ? { task_metadata: JSON.parse(r.metadata) as unknown } : {}) },
        };
      });
    }
    const byTask = new Map<number, typeof rows>();
    for (const r of rows) byTask.set(r.task, [...(byTask.get(r.task) ?? []), r]);
    const out: ComparisonRecord[] = [];
    for (const [, votes] of byTask) {
      const tally = new Map<Verdict, number>();
      for (const v of votes) tally.set(v.verdict, (tally.get(v.verdict) ?? 0) + 1);
      const [verdict, count] = [...tally].sort((x, y) => y[1] - x[1])[0]!;
      if (count * 2 <= votes.length) continue;
      const r = votes[0]!;
      out.push({
        id: `${r.external ?? `task-${r.task}`}:majority`,
        ...base(r),
        verdict,
        annotator: `majority-of-${votes.length}`,
        created_at: votes.map((v) => v.created_at).sort().at(-1)!,
        metadata: { task_id: r.external ?? r.task, votes: Object.fromEntries(tally), annotators: votes.map((v) => v.user) },
      });
    }
    return out;
  }

  /**
   * Agreement on the overall verdict: Cohen's kappa for every pair of annotators over the tasks
   * both voted on, Fleiss' kappa over the tasks with the most common number (≥ 2) of votes, and
   * per annotator the votes given and the share that agree with the task's strict majority.
   */
  agreement(): {
    cohen: { a: string; b: string; tasks: number; kappa: number }[];
    fleiss: { tasks: number; raters: number; kappa: number } | undefined;
    annotators: { annotator: string; votes: number; agreesWithMajority: number }[];
  } {
    const rows = this.votes();
    const byTask = new Map<number, Map<string, Verdict>>();
    for (const r of rows) byTask.set(r.task, (byTask.get(r.task) ?? new Map()).set(r.user, r.verdict));
    const users = [...new Set(rows.map((r) => r.user))].sort();
    const cohen: { a: string; b: string; tasks: number; kappa: number }[] = [];
    for (let i = 0; i < users.length; i++) {
      for (let j = i + 1; j < users.length; j++) {
        const la: string[] = [];
        const lb: string[] = [];
        for (const votes of byTask.values()) {
          const x = votes.get(users[i]!);
          const y = votes.get(users[j]!);
          if (x !== undefined && y !== undefined) {
            la.push(x);
            lb.push(y);
          }
        }
        if (la.length > 0) cohen.push({ a: users[i]!, b: users[j]!, tasks: la.length, kappa: cohensKappa(la, lb) });
      }
    }
    const sizes = new Map<number, number>();
    for (const v of byTask.values()) if (v.size >= 2) sizes.set(v.size, (sizes.get(v.size) ?? 0) + 1);
    const raters = [...sizes].sort((x, y) => y[1] - x[1] || y[0] - x[0])[0]?.[0];
    const fleissRows = raters === undefined ? [] : [...byTask.values()].filter((v) => v.size === raters).map((v) => VERDICTS.map((c) => [...v.values()].filter((x) => x === c).length));
    const majority = new Map<number, Verdict>();
    for (const [task, v] of byTask) {
      const counts = VERDICTS.map((c) => [...v.values()].filter((x) => x === c).length);
      const best = Math.max(...counts);
      if (best * 2 > v.size) majority.set(task, VERDICTS[counts.indexOf(best)]!);
    }
    const annotators = users.map((u) => {
      const mine = rows.filter((r) => r.user === u);
      const judged = mine.filter((r) => majority.has(r.task));
      return { annotator: u, votes: mine.length, agreesWithMajority: judged.length === 0 ? Number.NaN : judged.filter((r) => majority.get(r.task) === r.verdict).length / judged.length };
    });
    return { cohen, fleiss: raters === undefined ? undefined : { tasks: fleissRows.length, raters, kappa: fleissKappa(fleissRows) }, annotators };
  }

  /**
   * An online backup to `file` through SQLite's backup API (readers and writers go on meanwhile).
   *
   * @throws {AnnotateError} `conflict` when `file` exists, `invalid` when it is the database itself.
   */
  async backup(file: string): Promise<void> {
    if (!this.db.memory && resolve(file) === resolve(this.db.name)) throw new AnnotateError("invalid", `a backup of ${this.db.name} cannot go onto the database itself`);
    if (existsSync(file)) throw new AnnotateError("conflict", `${file} exists: a backup goes to a new file`);
    await this.db.backup(file);
  }
}
