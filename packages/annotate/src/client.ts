/**
 * A programmatic client of the platform's HTTP API (Node 20's `fetch`): for scripts that import
 * tasks or pull the export from a pipeline, and for the tests and the load benchmark. It keeps the
 * session and CSRF cookies and sends the CSRF token on every POST, as the pages do.
 */
import type { ComparisonRecord, Comparison, VoteInput } from "./store.js";

/** A refused request: the HTTP status and the API's `{ error, message }`. */
export class AnnotateHttpError extends Error {
  override name = "AnnotateHttpError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

/** An annotator's counts: assigned, voted, skipped. */
export interface Progress {
  total: number;
  done: number;
  skipped: number;
}

/** One client session (its own cookie jar) against a server at `baseUrl`, e.g. `http://127.0.0.1:8080`. */
export class AnnotateClient {
  private readonly cookies = new Map<string, string>();
  private csrfToken: string | undefined;

  constructor(readonly baseUrl: string) {}

  /**
   * One API call. POSTs carry the CSRF token unless `csrf: false` (for tests of the refusal);
   * `headers` are added to the request's.
   *
   * @returns the parsed JSON body, the text for a JSONL body, `undefined` for 204.
   * @throws {AnnotateHttpError} for a status ≥ 400; a `TypeError` from `fetch` when the server is
   *   unreachable.
   */
  async request<T = unknown>(method: "GET" | "POST", path: string, body?: unknown, opts: { csrf?: boolean; contentType?: string; headers?: Record<string, string> } = {}): Promise<T> {
    const headers: Record<string, string> = { ...opts.headers };
    if (method === "POST" && opts.csrf !== false) headers["x-csrf-token"] = await this.token();
    if (body !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(new URL(path, this.baseUrl), { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body), redirect: "manual" });
    this.keepCookies(res);
    if (res.status === 204) return undefined as T;
    const type = res.headers.get("content-type") ?? "";
    const payload: unknown = type.includes("application/json") ? await res.json() : await res.text();
    if (res.status >= 400) {
      const p = payload as { error?: string; message?: string };
      throw new AnnotateHttpError(res.status, p.error ?? "error", p.message ?? String(payload));
    }
    return payload as T;
  }

  private async token(): Promise<string> {
    this.csrfToken ??= (await this.request<{ token: string }>("GET", "/api/csrf")).token;
    return this.csrfToken;
  }

  private keepCookies(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split("=")[1]!) < Date.now()));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(eq + 1).trim());
    }
  }

  /** Log in (fetches a CSRF token first). @throws {AnnotateHttpError} 401 for a wrong name or password, 429 after too many tries. */
  login(username: string, password: string): Promise<{ username: string; role: "admin" | "annotator" }> {
    return this.request("POST", "/api/login", { username, password });
  }
  logout(): Promise<void> {
    return this.request("POST", "/api/logout");
  }
  me(): Promise<{ username: string; role: "admin" | "annotator" }> {
    return this.request("GET", "/api/me");
  }
  /** The next comparison (`null` when none is left) and the annotator's progress. */
  next(): Promise<{ comparison: Comparison | null; progress: Progress }> {
    return this.request("GET", "/api/next");
  }
  /** Vote on one's assignment, in the order shown; the same `requestId` again is recorded once (`recorded: false`). */
  vote(assignmentId: number, vote: VoteInput): Promise<{ voteId: number; recorded: boolean; progress: Progress }> {
    return this.request("POST", `/api/assignments/${assignmentId}/vote`, vote);
  }
  skip(assignmentId: number): Promise<{ progress: Progress }> {
    return this.request("POST", `/api/assignments/${assignmentId}/skip`);
  }
  undo(): Promise<{ assignmentId: number | null }> {
    return this.request("POST", "/api/undo");
  }
  unskip(): Promise<{ restored: number }> {
    return this.request("POST", "/api/unskip");
  }
  /** Admin: import JSONL tasks. */
  importTasks(jsonl: string): Promise<{ imported: number }> {
    return this.request("POST", "/api/admin/tasks", jsonl, { contentType: "application/x-ndjson" });
  }
  /** Admin: create an account. */
  createUser(username: string, password: string, role: "admin" | "annotator" = "annotator"): Promise<{ id: number }> {
    return this.request("POST", "/api/admin/users", { username, password, role });
  }
  /** Admin: give each comparison k annotators. */
  assign(k: number, seed?: number): Promise<{ assigned: number }> {
    return this.request("POST", "/api/admin/assign", seed === undefined ? { k } : { k, seed });
  }
  /** Admin: the export as reward comparison records. */
  async exportRecords(mode: "all" | "majority" = "all"): Promise<ComparisonRecord[]> {
    const text = await this.request<string>("GET", `/api/admin/export?mode=${mode}`);
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as ComparisonRecord);
  }
  /** Admin: an online backup on the server's disk; returns its path there. */
  backup(): Promise<{ file: string }> {
    return this.request("POST", "/api/admin/backup");
  }
}
