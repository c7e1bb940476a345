/**
 * Atomic writes: what a long job writes is either all there or not there at all.
 *
 * A file is written under a temporary name next to its final path (`<path>.tmp-<pid>-<random>`,
 * unique per writer), flushed to disk (`fsync`), renamed into place, and the folder is flushed
 * too, so a reader or a crash sees the old file or the new one, never a part of either. On a
 * failure the temporary file is removed and the old file is left as it was.
 *
 * A directory (a checkpoint: several files that belong together) is filled under
 * `<dir>.tmp-<stamp>` and swapped in with two renames; {@link writeDirAtomic} says how, and
 * {@link resolveAtomicDir} is how a reader finds it again after a crash between the renames.
 *
 * Every writer here creates the parent folder when it is missing.
 *
 * Why not the `write-file-atomic` package (7.0.1 is the last release for Node 20): it writes
 * one buffer or string per call, while our long jobs stream (corpus text with its SHA-256, token
 * files whose header is rewritten at the end, safetensors files written tensor by tensor past
 * 2 GiB), so the same temp-fsync-rename protocol would still be needed here, twice over; it
 * does not flush the folder after the rename, and its temp names (`<path>.<number>`) cannot be
 * told apart from other files when stale ones are cleaned up.
 */
import { createHash, randomBytes, type Hash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

/**
 * The temporary name a file is written under before it is renamed into place:
 * `<path>.tmp-<pid>-<12 random hex digits>`, unique even for two writers of one path in one
 * process (or in two worker threads, which share the pid).
 */
export function tmpPath(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
}

/**
 * Flush a file, or a directory's entries (the names a rename changed), to disk.
 *
 * @param kind `"directory"` is best effort: a platform that cannot open or flush a directory
 *   (Windows) is passed over silently.
 * @throws the I/O error when a file cannot be opened or flushed.
 */
export async function fsyncPath(path: string, kind: "file" | "directory" = "file"): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (kind === "directory") return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    if (kind === "file") throw err;
  } finally {
    await fh.close();
  }
}

/**
 * Whether `path` exists. Only "no such file" (`ENOENT`, `ENOTDIR`) is taken for "no".
 * @throws the I/O error of any other failure (a permission, a broken disk), never taken for "no".
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    throw err;
  }
}

/** Rename a finished, flushed temporary file into place and flush the folder's entry. */
async function commit(tmp: string, path: string): Promise<void> {
  await rename(tmp, path);
  await fsyncPath(dirname(path), "directory");
}

/**
 * Write a file atomically through a file handle: `write` gets a handle on a fresh temporary file
 * (opened `"wx"`: it writes at any position, in any number of calls), then the file is flushed,
 * closed and renamed to `path`. For writers that stream or seek (a header rewritten at the end).
 *
 * @returns what `write` returns.
 * @throws whatever `write` throws, or the I/O error; either way the temporary file is removed
 *   and `path` is left as it was.
 */
export async function withAtomicFile<T>(path: string, write: (file: FileHandle) => Promise<T>): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tmpPath(path);
  const fh = await open(tmp, "wx");
  let isOpen = true;
  try {
    const result = await write(fh);
    await fh.sync();
    isOpen = false;
    await fh.close();
    await commit(tmp, path);
    return result;
  } catch (err) {
    if (isOpen) await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Write `data` (a string is written as UTF-8) to `path` atomically: to a {@link tmpPath},
 * flushed to disk, then renamed into place.
 *
 * @throws the I/O error; the temporary file is removed and `path` is left as it was.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await withAtomicFile(path, (fh) => fh.writeFile(data, typeof data === "string" ? "utf8" : undefined));
}

/** Text is handed to the file stream in pieces of about this many UTF-16 units. */
const FLUSH_AT = 1 << 20;

/**
 * A text file written as a stream under a {@link tmpPath} and renamed into place by
 * {@link AtomicTextWriter.commit}; {@link AtomicTextWriter.abort} removes the temporary file.
 * Counts the UTF-8 bytes written and their SHA-256 on the way, so a manifest can record both
 * without reading the file again.
 *
 * @example
 * ```ts
 * const out = new AtomicTextWriter("corpus/train.txt");
 * try {
 *   for (const doc of docs) await out.write(`${doc}\n\n`);
 *   const { bytes, sha256 } = await out.commit();
 * } catch (err) {
 *   await out.abort();
 *   throw err;
 * }
 * ```
 */
export class AtomicTextWriter {
  /** Where the file goes. */
  readonly path: string;
  /** Where it is written until {@link AtomicTextWriter.commit}. */
  readonly tmp: string;
  /** UTF-8 bytes handed to the file so far (all of them after `commit`). */
  bytes = 0;
  private readonly stream: WriteStream;
  private readonly hash: Hash = createHash("sha256");
  private buffer = "";
  private error: Error | undefined;

  /** Opens the temporary file (creating the parent folder); nothing appears at `path` yet. */
  constructor(path: string) {
    this.path = path;
    this.tmp = tmpPath(path);
    mkdirSync(dirname(path), { recursive: true });
    // flush: the data reaches the disk before commit() renames the file into place
    this.stream = createWriteStream(this.tmp, { flags: "wx", flush: true });
    this.stream.on("error", (error) => {
      this.error ??= error;
    });
  }

  private check(): void {
    if (this.error !== undefined) throw this.error;
  }

  /**
   * Append text; resolves once the stream can take more.
   * @throws the stream's I/O error, if it failed.
   */
  async write(text: string): Promise<void> {
    this.buffer += text;
    if (this.buffer.length >= FLUSH_AT) await this.flush();
  }

  private async flush(): Promise<void> {
    this.check();
    if (this.buffer.length === 0) return;
    const chunk = Buffer.from(this.buffer, "utf8");
    this.buffer = "";
    this.bytes += chunk.length;
    this.hash.update(chunk);
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }

  /**
   * Finish writing, flush to disk and rename the file into place.
   * @returns its size in bytes and its SHA-256 (hex).
   * @throws the stream's or the rename's I/O error (call {@link AtomicTextWriter.abort} then).
   */
  async commit(): Promise<{ bytes: number; sha256: string }> {
    await this.flush();
    if (!this.stream.closed) {
      const closed = once(this.stream, "close");
      this.stream.end();
      await closed;
    }
    this.check();
    await commit(this.tmp, this.path);
    return { bytes: this.bytes, sha256: this.hash.digest("hex") };
  }

  /** Stop writing and remove the temporary file; `path` is left as it was. Never throws. */
  async abort(): Promise<void> {
    if (!this.stream.closed) {
      this.stream.destroy();
      await once(this.stream, "close").catch(() => undefined);
    }
    await rm(this.tmp, { force: true });
  }
}

// ---- directories ----

/** The siblings {@link writeDirAtomic} leaves next to `<dir>`: `<dir>.<kind>-<pid>-<time>-<n>`. */
type SiblingKind = "tmp" | "old" | "del";

/** A `<dir>.<kind>-<pid>-<time>-<n>` sibling, parsed. */
interface Sibling {
  path: string;
  kind: SiblingKind;
  pid: number;
  time: number;
  seq: number;
}

/** `<pid>-<time>-<n>` (the counter may be absent: `<pid>-<time>`). */
const STAMP = /^(\d+)-(\d+)(?:-(\d+))?$/;

/**
 * The siblings of `target` of the given kinds, newest first (by the time in the name, then the
 * per-process counter, then the pid, all compared as numbers). Names that do not match the
 * pattern are not ours and are ignored.
 */
async function siblings(target: string, kinds: readonly SiblingKind[]): Promise<Sibling[]> {
  let names: string[];
  try {
    names = await readdir(dirname(target));
  } catch {
    return [];
  }
  const base = basename(target);
  const out: Sibling[] = [];
  for (const name of names) {
    for (const kind of kinds) {
      const prefix = `${base}.${kind}-`;
      if (!name.startsWith(prefix)) continue;
      const m = STAMP.exec(name.slice(prefix.length));
      if (m) out.push({ path: join(dirname(target), name), kind, pid: Number(m[1]), time: Number(m[2]), seq: Number(m[3] ?? 0) });
    }
  }
  return out.sort((a, b) => b.time - a.time || b.seq - a.seq || b.pid - a.pid);
}


function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Flush every file under `dir`, then `dir` itself (its entries). */
async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await fsyncTree(path);
    else if (entry.isFile()) await fsyncPath(path);
  }
  await fsyncPath(dir, "directory");
}

let dirSeq = 0;
/** Temp directories of writes in progress in this process. */
const inflight = new Set<string>();
/** The last write queued for each target directory (see {@link writeDirAtomic}). */
const dirWrites = new Map<string, Promise<void>>();

/** Remove a directory: renamed to `<target>.del-<stamp>` first, so no `.old-` is ever half-deleted. */
async function discard(path: string, target: string, stamp: string): Promise<void> {
  const del = `${target}.del-${stamp}`;
  await rename(path, del);
  await rm(del, { recursive: true, force: true });
}

/**
 * After a successful write: remove every `.old-` and `.del-` sibling (all superseded by the
 * complete `<dir>`) and the `.tmp-` siblings of processes no longer running. Best effort.
 */
async function removeStale(target: string): Promise<void> {
  for (const s of await siblings(target, ["old", "del", "tmp"])) {
    try {
      if (s.kind === "old") await discard(s.path, target, `${s.pid}-${s.time}-${s.seq}`);
      else if (s.kind === "del") await rm(s.path, { recursive: true, force: true });
      else if (s.pid === process.pid ? !inflight.has(s.path) : !isRunning(s.pid)) await rm(s.path, { recursive: true, force: true });
    } catch {
      // another process may be cleaning up too; the next write tries again
    }
  }
}

/**
 * Write a directory atomically: `fill` writes the files into a fresh temporary directory
 * `<dir>.tmp-<pid>-<time>-<n>` next to `dir`; every file in it is then flushed to disk (`fill`
 * need not flush), the old `<dir>` is renamed aside to `<dir>.old-<pid>-<time>-<n>`, the
 * temporary directory is renamed to `<dir>`, and the old one is removed (renamed to
 * `<dir>.del-…` first, so that an `.old-` directory is always complete).
 *
 * A crash while filling leaves `<dir>` untouched (and an incomplete `.tmp-` directory); a
 * crash between the two renames leaves no `<dir>` but the complete previous one at
 * `<dir>.old-…` (which {@link resolveAtomicDir} finds); a crash after the second rename leaves
 * the complete new `<dir>`. At no point is `<dir>` a mix of old and new files. After the swap,
 * what earlier interrupted writes left is removed: every `.old-` and `.del-` sibling, and the
 * `.tmp-` siblings of processes that are no longer running.
 *
 * Writes to one directory from one process run one after another, in call order, so two
 * un-awaited writes never trip over each other's renames.
 *
 * @param fill writes the files into the directory it is given (which exists and is empty).
 * @throws whatever `fill` throws, or the I/O error of a rename; either way the temporary
 *   directory is removed and `<dir>` is left as it was.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const target = resolve(dir);
  const previous = dirWrites.get(target) ?? Promise.resolve();
  const mine = previous.then(
    () => writeDirNow(target, fill),
    () => writeDirNow(target, fill),
  );
  const settled = mine.catch(() => undefined);
  dirWrites.set(target, settled);
  void settled.then(() => {
    if (dirWrites.get(target) === settled) dirWrites.delete(target);
  });
  return mine;
}

async function writeDirNow(target: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const stamp = `${process.pid}-${Date.now()}-${dirSeq++}`;
  const tmp = `${target}.tmp-${stamp}`;
  await mkdir(dirname(target), { recursive: true });
  await mkdir(tmp);
  inflight.add(tmp);
  try {
    try {
      await fill(tmp);
      await fsyncTree(tmp);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    // swap: old aside, new into place; removeStale below deletes the old one (and older leftovers)
    let old: string | undefined;
    try {
      if (await pathExists(target)) {
        old = `${target}.old-${stamp}`;
        await rename(target, old);
      }
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    try {
      await rename(tmp, target);
    } catch (err) {
      if (old !== undefined) await rename(old, target).catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    await fsyncPath(dirname(target), "directory");
  } finally {
    inflight.delete(tmp);
  }
  await removeStale(target);
}

/**
 * Where the directory {@link writeDirAtomic} writes as `dir` is: `dir` itself when it exists,
 * else the newest `<dir>.old-<pid>-<time>-<n>` that a write interrupted between its two renames
 * left (newest by the time, then the counter in the name, compared as numbers) for which
 * `isComplete` holds, else `undefined`. `.tmp-` directories are never returned (they may be
 * incomplete). Changes nothing on disk.
 *
 * @param isComplete a check of a candidate `.old-` directory (e.g. "holds `config.json`");
 *   default: every one.
 * @returns an absolute path, or `undefined` when there is nothing at `dir`.
 * @throws the I/O error when a path cannot be checked (other than "does not exist").
 */
export async function resolveAtomicDir(
  dir: string,
  isComplete: (candidate: string) => Promise<boolean> = async () => true,
): Promise<string | undefined> {
  const target = resolve(dir);
  if (await pathExists(target)) return target;
  for (const old of await siblings(target, ["old"])) {
    if (await isComplete(old.path)) return old.path;
  }
  return undefined;
}
