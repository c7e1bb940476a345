/**
 * The annotation platform's web server: Fastify 5 with its first-party plugins on an
 * {@link AnnotationStore}.
 *
 * - Every `/api` route but `GET /api/csrf` and `POST /api/login` needs a session: an httpOnly,
 *   `SameSite=Strict` cookie holding a random token whose SHA-256 the store keeps (so sessions
 *   survive a restart). `/api/admin/*` needs the admin role; the annotator and admin pages redirect
 *   to the login page without a session.
 * - Every POST needs a CSRF token (`x-csrf-token` header; `@fastify/csrf-protection`, its secret in
 *   a signed httpOnly cookie) — the login form too.
 * - Login attempts are rate-limited per client address and user name (`@fastify/rate-limit`);
 *   security headers and a strict Content-Security-Policy (`@fastify/helmet`: scripts and styles
 *   from this origin only, no inline code); request bodies are limited (64 KiB, a task import
 *   `maxImportBytes`).
 * - A vote is committed (SQLite transaction, `synchronous = FULL`) before its response is sent.
 *
 * Errors are JSON `{ error, message }`: `unauthorized` 401, `forbidden` 403, `csrf` 403,
 * `not_found` 404, `conflict` 409, `invalid` 400, `too_large` 413, `too_many_requests` 429.
 */
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import fastifyCookie from "@fastify/cookie";
import fastifyCsrf from "@fastify/csrf-protection";
import fastifyHelmet from "@fastify/helmet";
import fastifyRateLimit from "@fastify/rate-limit";
import fastifyStatic from "@fastify/static";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { z } from "zod";
import { AnnotateError, issuesText } from "./errors.js";
import { AnnotationStore, USERNAME } from "./store.js";

/** The session cookie's name. */
export const SESSION_COOKIE = "batgpt_session";

/** The static pages: `public/` next to `src/` and `dist/`. */
const PUBLIC_DIR = fileURLToPath(new URL("../public/", import.meta.url));

/** Options of {@link createServer}. */
export const serverOptionsSchema = z.strictObject({
  /** The store the server reads and writes. */
  store: z.instanceof(AnnotationStore),
  /** Session lifetime in milliseconds (default 12 h). */
  sessionTtlMs: z.number().int().positive().default(12 * 3600_000),
  /** Login attempts allowed per client address and user name in `loginWindowMs` (default 10 a minute). */
  loginMax: z.number().int().positive().default(10),
  loginWindowMs: z.number().int().positive().default(60_000),
  /** Largest request body in bytes (default 64 KiB); a task import may be up to `maxImportBytes` (default 32 MiB). */
  bodyLimit: z.number().int().positive().default(64 * 1024),
  maxImportBytes: z.number().int().positive().default(32 * 1024 * 1024),
  /** Mark the cookies `Secure` (serve over HTTPS, e.g. behind a TLS proxy); default false for plain-HTTP localhost. */
  secureCookies: z.boolean().default(false),
  /** Where `POST /api/admin/backup` writes (default `backups/` next to the database file). */
  backupDir: z.string().optional(),
  /** Fastify's logger option (default off). */
  logger: z.union([z.boolean(), z.record(z.string(), z.unknown())]).default(false),
});
export type ServerOptions = z.input<typeof serverOptionsSchema>;

interface SessionUser {
  id: number;
  username: string;
  role: "admin" | "annotator";
}

declare module "fastify" {
  interface FastifyRequest {
    /** The session's user (set on authenticated routes). */
    user?: SessionUser;
  }
}

const STATUS: Record<AnnotateError["code"], number> = { not_found: 404, conflict: 409, invalid: 400, unauthorized: 401 };

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const loginSchema = z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) });
const userSchema = z.strictObject({ username: z.string().regex(USERNAME, "1 to 64 letters, digits, _ . - only"), password: z.string().min(8).max(1024), role: z.enum(["admin", "annotator"]) });
const assignSchema = z.strictObject({ k: z.number().int().min(1).max(100), seed: z.number().int().min(0).max(2 ** 32 - 1).optional() });
const exportSchema = z.strictObject({ mode: z.enum(["all", "majority"]).default("all") });

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new AnnotateError("invalid", issuesText(r.error, "(body)"));
  return r.data;
}

function assignmentId(params: unknown): number {
  const id = Number((params as { id?: string }).id);
  if (!Number.isSafeInteger(id) || id < 1) throw new AnnotateError("not_found", "no such assignment");
  return id;
}

/**
 * The platform's Fastify app, ready to `listen` (it does not listen itself).
 *
 * @example
 * ```ts
 * const app = await createServer({ store: new AnnotationStore("annotations.sqlite") });
 * await app.listen({ host: "127.0.0.1", port: 8080 });
 * ```
 * @throws {z.ZodError} for bad options.
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const o = serverOptionsSchema.parse(options);
  const store = o.store;
  const app = Fastify({ logger: o.logger as boolean, bodyLimit: o.bodyLimit, trustProxy: false });
  const cookieSecret = store.setting("cookie_secret", () => randomBytes(32).toString("base64url"));
  const cookieBase = { httpOnly: true, sameSite: "strict" as const, secure: o.secureCookies, path: "/" };

  await app.register(fastifyCookie, { secret: cookieSecret });
  await app.register(fastifyCsrf, { sessionPlugin: "@fastify/cookie", cookieOpts: { ...cookieBase, signed: true } });
  await app.register(fastifyHelmet, {
    hsts: false,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  });
  await app.register(fastifyRateLimit, { global: false });
  app.addContentTypeParser(["application/x-ndjson", "application/jsonl"], { parseAs: "string", bodyLimit: o.maxImportBytes }, (_req, body, done) => done(null, body));

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof AnnotateError) return reply.status(STATUS[error.code]).send({ error: error.code, message: error.message });
    if (error instanceof HttpError) return reply.status(error.statusCode).send({ error: error.code, message: error.message });
    if (error.code?.startsWith("FST_CSRF")) return reply.status(403).send({ error: "csrf", message: "missing or invalid CSRF token (GET /api/csrf, send it as x-csrf-token)" });
    if (error.statusCode === 429) return reply.status(429).send({ error: "too_many_requests", message: error.message });
    if (error.statusCode === 413) return reply.status(413).send({ error: "too_large", message: error.message });
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return reply.status(error.statusCode).send({ error: "invalid", message: error.message });
    request.log.error(error);
    return reply.status(500).send({ error: "internal", message: "internal error" });
  });

  const userOf = (request: FastifyRequest): SessionUser | undefined => {
    const token = request.cookies[SESSION_COOKIE];
    return token ? store.sessionUser(token) : undefined;
  };
  const authenticated = async (request: FastifyRequest) => {
    const user = userOf(request);
    if (user === undefined) throw new HttpError(401, "unauthorized", "log in first");
    request.user = user;
  };
  const admin = async (request: FastifyRequest) => {
    await authenticated(request);
    if (request.user!.role !== "admin") throw new HttpError(403, "forbidden", "admins only");
  };
  const csrf = app.csrfProtection;
  const me = (request: FastifyRequest) => request.user!;

  // pages: the annotator's and the admin's need a session (the login page and assets do not)
  app.addHook("onRequest", async (request, reply: FastifyReply) => {
    const path = request.url.split("?")[0]!;
    // signed-in pages and API answers must not come back from the browser's cache after logout
    if (path.startsWith("/api/") || path === "/annotate.html" || path === "/admin.html") reply.header("cache-control", "no-store");
    if (path !== "/annotate.html" && path !== "/admin.html") return;
    const user = userOf(request);
    if (user === undefined) return reply.redirect("/");
    if (path === "/admin.html" && user.role !== "admin") return reply.redirect("/annotate.html");
  });
  await app.register(fastifyStatic, { root: PUBLIC_DIR, index: "index.html", cacheControl: false });

  app.get("/api/csrf", async (_request, reply) => ({ token: reply.generateCsrf() }));

  app.post(
    "/api/login",
    {
      onRequest: csrf,
      config: {
        rateLimit: {
          max: o.loginMax,
          timeWindow: o.loginWindowMs,
          keyGenerator: (request: FastifyRequest) => `${request.ip}|${String((request.body as { username?: unknown } | undefined)?.username ?? "")}`,
          // the body is parsed by then: count per address and user name
          hook: "preHandler",
        },
      },
    },
    async (request, reply) => {
      const { username, password } = parse(loginSchema, request.body);
      const user = store.authenticate(username, password);
      if (user === undefined) throw new HttpError(401, "unauthorized", "wrong user name or password");
      reply.setCookie(SESSION_COOKIE, store.createSession(user.id, o.sessionTtlMs), { ...cookieBase, maxAge: Math.floor(o.sessionTtlMs / 1000) });
      return { username: user.username, role: user.role };
    },
  );

  app.post("/api/logout", { onRequest: csrf }, async (request, reply) => {
    const token = request.cookies[SESSION_COOKIE];
    if (token) store.deleteSession(token);
    reply.clearCookie(SESSION_COOKIE, cookieBase);
    return reply.status(204).send();
  });

  app.get("/api/me", { onRequest: authenticated }, async (request) => ({ username: me(request).username, role: me(request).role }));

  // the annotator's routes: only their own assignments (another's id is not_found)
  app.get("/api/next", { onRequest: authenticated }, async (request) => ({ comparison: store.next(me(request).id) ?? null, progress: store.progress(me(request).id) }));
  app.post("/api/assignments/:id/vote", { onRequest: [authenticated, csrf] }, async (request) => {
    const result = store.vote(me(request).id, assignmentId(request.params), request.body as never);
    return { ...result, progress: store.progress(me(request).id) };
  });
  app.post("/api/assignments/:id/skip", { onRequest: [authenticated, csrf] }, async (request) => {
    store.skip(me(request).id, assignmentId(request.params));
    return { progress: store.progress(me(request).id) };
  });
  app.post("/api/undo", { onRequest: [authenticated, csrf] }, async (request) => ({ assignmentId: store.undo(me(request).id) ?? null }));
  app.post("/api/unskip", { onRequest: [authenticated, csrf] }, async (request) => ({ restored: store.unskip(me(request).id) }));

  // the admin's routes
  app.post("/api/admin/tasks", { onRequest: [admin, csrf], bodyLimit: o.maxImportBytes }, async (request) => {
    if (typeof request.body !== "string") throw new AnnotateError("invalid", "send the tasks as JSONL with content-type application/x-ndjson");
    return { imported: store.importTasks(request.body) };
  });
  app.post("/api/admin/users", { onRequest: [admin, csrf] }, async (request) => {
    const { username, password, role } = parse(userSchema, request.body);
    return { id: store.createUser(username, password, role) };
  });
  app.get("/api/admin/users", { onRequest: admin }, async () => ({ users: store.users().map(({ id: _id, ...u }) => u) }));
  app.post("/api/admin/assign", { onRequest: [admin, csrf] }, async (request) => {
    const { k, seed } = parse(assignSchema, request.body);
    return { assigned: store.assign(k, seed) };
  });
  app.get("/api/admin/progress", { onRequest: admin }, async () => ({ ...store.totals(), users: store.users().map(({ id: _id, ...u }) => u) }));
  app.get("/api/admin/agreement", { onRequest: admin }, async () => {
    const a = store.agreement();
    const num = (x: number) => (Number.isFinite(x) ? x : null);
    return {
      cohen: a.cohen.map((c) => ({ ...c, kappa: num(c.kappa) })),
      fleiss: a.fleiss ? { ...a.fleiss, kappa: num(a.fleiss.kappa) } : null,
      annotators: a.annotators.map((x) => ({ ...x, agreesWithMajority: num(x.agreesWithMajority) })),
    };
  });
  app.get("/api/admin/export", { onRequest: admin }, async (request, reply) => {
    const { mode } = parse(exportSchema, request.query);
    const body = store.exportRecords(mode).map((r) => JSON.stringify(r) + "\n").join("");
    return reply.type("application/x-ndjson; charset=utf-8").header("content-disposition", `attachment; filename="preferences-${mode}.jsonl"`).send(body);
  });
  app.post("/api/admin/backup", { onRequest: [admin, csrf] }, async () => {
    const dir = o.backupDir ?? (store.db.memory ? undefined : join(dirname(resolve(store.db.name)), "backups"));
    if (dir === undefined) throw new AnnotateError("invalid", "an in-memory store has no directory for backups: start the server with backupDir");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `annotations-${new Date().toISOString().replace(/[:.]/g, "-")}.sqlite`);
    await store.backup(file);
    return { file };
  });

  app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: "not_found", message: `no route ${request.method} ${request.url.split("?")[0]}` }));
  return app;
}
