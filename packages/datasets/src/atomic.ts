import { createHash, randomBytes } from "node:crypto";
import type { Hash } from "node:crypto";
import { createWriteStream } from "node:fs";
import type { WriteStream } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import { once } from "node:events";

/**
 * The temporary name a file is written under before it is renamed into place:
 * `<path>.tmp-<pid>-<random>`, unique even for two writers of one path in one process.
 */
export function tmpPath(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
}

/** Write `data` to `path` atomically: to a {@link tmpPath}, flushed to disk, then renamed. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = tmpPath(path);
  try {
    await writeFile(tmp, data, { encoding: "utf8", flush: true });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

const FLUSH_AT = 1 << 20;

/**
 * A streaming text file written under a temporary name and renamed into place
 * by `commit()`; `abort()` removes the temporary file. Tracks bytes and SHA-256.
 */
export class AtomicTextWriter {
  readonly path: string;
  readonly tmp: string;
  bytes = 0;
  private readonly stream: WriteStream;
  private readonly hash: Hash = createHash("sha256");
  private buffer = "";
  private error: Error | undefined;

  constructor(path: string) {
    this.path = path;
    this.tmp = tmpPath(path);
    // flush: the data reaches the disk before commit() renames the file into place
    this.stream = createWriteStream(this.tmp, { flush: true });
    this.stream.on("error", (error) => {
      this.error ??= error;
    });
  }

  private check(): void {
    if (this.error !== undefined) throw this.error;
  }

  /** Append text; resolves once the stream can take more. */
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

  /** Finish writing and rename the file into place; returns its size and SHA-256. */
  async commit(): Promise<{ bytes: number; sha256: string }> {
    await this.flush();
    if (!this.stream.closed) {
      const closed = once(this.stream, "close");
      this.stream.end();
      await closed;
    }
    this.check();
    await rename(this.tmp, this.path);
    return { bytes: this.bytes, sha256: this.hash.digest("hex") };
  }

  /** Stop and remove the temporary file. */
  async abort(): Promise<void> {
    if (!this.stream.closed) {
      this.stream.destroy();
      await once(this.stream, "close").catch(() => undefined);
    }
    await rm(this.tmp, { force: true });
  }
}
