#!/usr/bin/env node
/**
 * `batgpt-annotate`: run the annotation platform on one machine.
 *
 * ```sh
 * batgpt-annotate create-user --db annotations.sqlite --username admin --role admin   # asks for the password
 * batgpt-annotate serve --db annotations.sqlite            # http://127.0.0.1:8080
 * batgpt-annotate backup --db annotations.sqlite --out backup.sqlite
 * ```
 *
 * Passwords are read from standard input (at a terminal without echo; else its first line), never
 * from the command line, where other users of the machine could see them in the process list.
 */
import { existsSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { AnnotateError } from "./errors.js";
import { createServer } from "./server.js";
import { AnnotationStore } from "./store.js";

const integer = (min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
  return n;
};

/** The first line of stdin; at a terminal, read without echo. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write("password: ");
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    return new Promise((resolve, reject) => {
      let text = "";
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === "\r" || ch === "\n") {
            stdin.setRawMode(false);
            stdin.pause();
            stdin.off("data", onData);
            process.stderr.write("\n");
            return resolve(text);
          }
          if (ch === "\u0003") {
            stdin.setRawMode(false);
            return reject(new Error("cancelled"));
          }
          text = ch === "\u007f" || ch === "\b" ? text.slice(0, -1) : text + ch;
        }
      };
      stdin.on("data", onData);
      stdin.resume();
    });
  }
  let text = "";
  for await (const chunk of stdin) {
    text += String(chunk);
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0] ?? "";
}

/** The store in `file`; only `create-user` may make a new file (a mistyped path is an error). */
function openStore(file: string, create = false): AnnotationStore {
  if (!create && file !== ":memory:" && !existsSync(file)) throw new Error(`no database at ${file} (a new one is made by create-user; check the path)`);
  return new AnnotationStore(file);
}

const program = new Command("batgpt-annotate").description("The BatGPT.js preference annotation platform (SQLite + a web server on this machine)").showHelpAfterError();
const db = new Option("--db <file>", "the SQLite database file (it must exist: create-user makes a new one)").makeOptionMandatory();

program
  .command("serve")
  .description("serve the annotator and admin pages and the API")
  .addOption(db)
  .option("--host <host>", "address to listen on (localhost only by default)", "127.0.0.1")
  .option("--port <port>", "port (0: any free one)", integer(0), 8080)
  .option("--backup-dir <dir>", "where the admin page's backups go (default: backups/ next to the database)")
  .option("--secure-cookies", "mark cookies Secure (when served over HTTPS through a proxy)", false)
  .option("--log", "log every request (JSON lines on stdout)", false)
  .action(async (opts: { db: string; host: string; port: number; backupDir?: string; secureCookies: boolean; log: boolean }) => {
    const store = openStore(opts.db);
    const app = await createServer({ store, backupDir: opts.backupDir, secureCookies: opts.secureCookies, logger: opts.log });
    await app.listen({ host: opts.host, port: opts.port });
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : opts.port;
    console.log(`batgpt-annotate: listening on http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port} (database ${opts.db})`);
    if (!store.users().some((u) => u.role === "admin")) console.log("batgpt-annotate: no admin yet: create one with `batgpt-annotate create-user --db FILE --username NAME --role admin` (password on stdin)");
    const stop = async () => {
      await app.close();
      store.close();
      process.exit(0);
    };
    process.once("SIGINT", () => void stop());
    process.once("SIGTERM", () => void stop());
  });

program
  .command("create-user")
  .description("create an account (and the database, if new); the password (≥ 8 characters) is asked for, or read from stdin")
  .addOption(db)
  .requiredOption("--username <name>", "the login name")
  .addOption(new Option("--role <role>", "the account's role").choices(["annotator", "admin"]).default("annotator"))
  .action(async (opts: { db: string; username: string; role: "annotator" | "admin" }) => {
    const password = await readPassword();
    const store = openStore(opts.db, true);
    try {
      store.createUser(opts.username, password, opts.role);
      console.log(`created ${opts.role} ${opts.username}`);
    } finally {
      store.close();
    }
  });

program
  .command("import")
  .description("import tasks from a JSONL file, all or nothing: {id?, prompt, response_a, response_b, metadata?} a line; with --checkpoint, {id?, prompt, metadata?} a line and two answers sampled for each")
  .addOption(db)
  .requiredOption("--file <file.jsonl>", "the tasks (or, with --checkpoint, the prompts)")
  .option("--checkpoint <dir>", "a core checkpoint (with its tokenizer) to sample the two answers from (needs @batgpt/core)")
  .option("--max-new-tokens <n>", "with --checkpoint: tokens an answer at most", integer(1), 128)
  .option("--workers <n>", "with --checkpoint: sampling replicas (default: the cores)", integer(1))
  .action(async (opts: { db: string; file: string; checkpoint?: string; maxNewTokens: number; workers?: number }) => {
    let jsonl = readFileSync(opts.file, "utf8");
    if (opts.checkpoint !== undefined) {
      // loaded only here: the server and the store never need TensorFlow.js
      const [{ selectBackend }, { sampleTasks }] = await Promise.all([import("@batgpt/core"), import("./sample/index.js")]).catch((e: unknown) => {
        if ((e as { code?: string }).code === "ERR_MODULE_NOT_FOUND") throw new Error(`sampling from a checkpoint needs @batgpt/core (npm install @batgpt/core): ${(e as Error).message}`);
        throw e;
      });
      await selectBackend({ log: false });
      const t0 = performance.now();
      const tasks = await sampleTasks(opts.checkpoint, jsonl, { maxNewTokens: opts.maxNewTokens, workers: opts.workers ?? "auto" });
      console.log(`sampled 2 answers for each of ${tasks.length} prompts in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      jsonl = tasks.map((t) => JSON.stringify(t)).join("\n");
    }
    const store = openStore(opts.db);
    try {
      console.log(`imported ${store.importTasks(jsonl)} tasks`);
    } finally {
      store.close();
    }
  });

program
  .command("assign")
  .description("give every comparison k annotators (balanced by load; the A/B order drawn per assignment)")
  .addOption(db)
  .requiredOption("--k <k>", "annotators per comparison", integer(1))
  .option("--seed <seed>", "seed of the A/B order", integer(0), 1)
  .action((opts: { db: string; k: number; seed: number }) => {
    const store = openStore(opts.db);
    try {
      console.log(`made ${store.assign(opts.k, opts.seed)} assignments`);
    } finally {
      store.close();
    }
  });

program
  .command("export")
  .description("write the votes as the reward package's comparison records (JSONL)")
  .addOption(db)
  .requiredOption("--out <file.jsonl>", "the output file (written atomically)")
  .addOption(new Option("--mode <mode>", "every vote, or each task's strict-majority verdict").choices(["all", "majority"]).default("all"))
  .action((opts: { db: string; out: string; mode: "all" | "majority" }) => {
    const store = openStore(opts.db);
    try {
      const records = store.exportRecords(opts.mode);
      writeFileSync(`${opts.out}.tmp`, records.map((r) => JSON.stringify(r) + "\n").join(""));
      renameSync(`${opts.out}.tmp`, opts.out);
      console.log(`wrote ${records.length} records to ${opts.out}`);
    } finally {
      store.close();
    }
  });

program
  .command("backup")
  .description("an online backup through SQLite's backup API (a running server may go on writing)")
  .addOption(db)
  .requiredOption("--out <file>", "the backup file (a new one)")
  .action(async (opts: { db: string; out: string }) => {
    const store = openStore(opts.db);
    try {
      await store.backup(opts.out);
      console.log(`backed up ${opts.db} to ${opts.out}`);
    } finally {
      store.close();
    }
  });

program.parseAsync().catch((e: unknown) => {
  console.error(`batgpt-annotate: ${e instanceof AnnotateError ? e.message : e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
