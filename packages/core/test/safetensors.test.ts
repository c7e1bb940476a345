import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  MAX_TENSOR_ELEMENTS,
  readSafetensors,
  readSafetensorsFile,
  SafetensorsError,
  SafetensorsFile,
  writeSafetensors,
  writeSafetensorsFile,
  type LazySafetensorsTensor,
  type SafetensorsContent,
  type SafetensorsTensor,
} from "../src/safetensors.js";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Build a file from a hand-written header object and data bytes. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function headerOf(bytes: Uint8Array): { text: string; length: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { text: new TextDecoder().decode(bytes.subarray(8, 8 + n)), length: n };
}

describe("writeSafetensors / readSafetensors", () => {
  it("round-trips F32 and I32 tensors bit-exactly, with metadata", () => {
    const weird = new Float32Array([0, -0, Infinity, -Infinity, NaN, 1e-45, 3.4028234663852886e38, Math.PI]);
    const tensors = new Map<string, SafetensorsTensor>([
      ["b.weight", { dtype: "F32", shape: [2, 4], data: weird }],
      ["a.ids", { dtype: "I32", shape: [3], data: new Int32Array([1, -2, 2147483647]) }],
      ["scalar", { dtype: "F32", shape: [], data: new Float32Array([7]) }],
      ["empty", { dtype: "F32", shape: [0, 5], data: new Float32Array(0) }],
    ]);
    const bytes = writeSafetensors(tensors, { format: "pt", note: "héllo" });
    const { tensors: back, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ format: "pt", note: "héllo" });
    expect(back.size).toBe(4);
    for (const [name, t] of tensors) {
      const r = back.get(name);
      expect(r?.dtype).toBe(t.dtype);
      expect(r?.shape).toEqual(t.shape);
      expect(r?.data.constructor).toBe(t.data.constructor);
      // compare bits, so NaN and -0 count
      expect(new Uint8Array(r!.data.buffer, r!.data.byteOffset, r!.data.byteLength)).toEqual(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
  });

  it("lays out the file as the Python library does: padded header, dtype-then-name order, contiguous offsets", () => {
    const bytes = writeSafetensors(
      new Map<string, SafetensorsTensor>([
        ["z", { dtype: "F32", shape: [1], data: new Float32Array([1]) }],
        ["a", { dtype: "I32", shape: [2], data: new Int32Array([1, 2]) }],
        ["m", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }],
      ]),
      { format: "pt" },
    );
    const { text, length } = headerOf(bytes);
    expect(length % 8).toBe(0);
    expect(text.trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"m":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
        '"z":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"a":{"dtype":"I32","shape":[2],"data_offsets":[12,20]}}',
    );
    expect(bytes.length).toBe(8 + length + 20);
  });

  it("writes exactly the bytes the Python library writes (F32/I32 file made by save_file)", () => {
    const pyBytes = readFileSync(fixture("py-f32-i32.safetensors"));
    const py = readSafetensors(pyBytes);
    const tensors = new Map<string, SafetensorsTensor>();
    // insertion order reversed on purpose: the writer sorts
    for (const [name, t] of [...py.tensors].reverse()) tensors.set(name, { dtype: t.dtype as "F32" | "I32", shape: t.shape, data: t.data });
    const ours = writeSafetensors(tensors, py.metadata);
    expect(headerOf(ours).text).toBe(headerOf(pyBytes).text);
    expect(Buffer.from(ours).equals(pyBytes)).toBe(true);
  });

  it("rejects tensors it cannot write", () => {
    const bad = (t: SafetensorsTensor, name = "x") => () => writeSafetensors(new Map([[name, t]]));
    expect(bad({ dtype: "F32", shape: [2, 2], data: new Float32Array(3) })).toThrow(/tensor "x": shape \[2, 2\] holds 4 values but data has 3/);
    expect(bad({ dtype: "F32", shape: [2], data: new Int32Array(2) })).toThrow(/F32 needs a Float32Array/);
    expect(bad({ dtype: "F32", shape: [1], data: new Float32Array(1) }, "__metadata__")).toThrow(SafetensorsError);
  });
});

describe("reading files written by Python (safetensors.torch.save_file)", () => {
  const expected = JSON.parse(readFileSync(fixture("py-dtypes.expected.json"), "utf8")) as Record<string, { dtype: string; shape: number[]; values: number[] }>;

  it("reads F32, F16, BF16, I64 and I32 to the values torch gives in float32", async () => {
    const { tensors, metadata } = await readSafetensorsFile(fixture("py-dtypes.safetensors"));
    expect(metadata).toEqual({ format: "pt" });
    const dtypes: Record<string, string> = { f32: "F32", bf16: "BF16", f16: "F16", i64: "I64", i32: "I32", scalar: "BF16", empty: "F32" };
    for (const [name, e] of Object.entries(expected)) {
      const t = tensors.get(name);
      expect(t, name).toBeDefined();
      expect(t!.dtype, name).toBe(dtypes[name]);
      expect(t!.shape, name).toEqual(e.shape);
      expect(t!.data instanceof Float32Array, name).toBe(e.dtype.includes("float"));
      // exact: every value is a float32 (or int32) that JSON carries exactly
      expect(Array.from(t!.data), name).toEqual(e.values);
    }
    const special = tensors.get("f16_special")!;
    expect(special.data[0]).toBe(Infinity);
    expect(special.data[1]).toBe(-Infinity);
    expect(Number.isNaN(special.data[2])).toBe(true);
    expect(Object.is(tensors.get("f16")!.data[5], -0)).toBe(true);
  });

  it("reads a bf16 official checkpoint's tensors with their names and [out, in] shapes", async () => {
    const { tensors } = await readSafetensorsFile(fixture("py-official/model.safetensors"));
    expect(tensors.get("model.encoder.layers.0.mlp.dense_h_to_4h.weight")?.shape).toEqual([24, 8]);
    expect(tensors.get("model.encoder.layers.0.self_attention.key_proj.weight")?.shape).toEqual([4, 8]);
    expect(tensors.get("lm_head.weight")?.shape).toEqual([16, 8]);
    expect([...tensors.values()].every((t) => t.dtype === "BF16" && t.data instanceof Float32Array)).toBe(true);
  });
});

describe("malformed files", () => {
  const good = writeSafetensors(new Map<string, SafetensorsTensor>([["w", { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]]));

  it("names a truncated file", () => {
    expect(() => readSafetensors(good.subarray(0, 5), "m.safetensors")).toThrow(/m\.safetensors: truncated file/);
    expect(() => readSafetensors(good.subarray(0, 20), "m.safetensors")).toThrow(/m\.safetensors: truncated file: header says/);
    expect(() => readSafetensors(good.subarray(0, good.length - 1), "m.safetensors")).toThrow(/m\.safetensors: tensor "w": data_offsets \[0, 16\] go past the end/);
  });

  it("rejects a header that is not JSON or not an object", () => {
    expect(() => readSafetensors(rawFile(null, undefined, "{not json"), "f")).toThrow(/f: header is not valid JSON/);
    expect(() => readSafetensors(rawFile([1, 2]), "f")).toThrow(/f: header is not a JSON object/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => readSafetensors(huge, "f")).toThrow(/implausible/);
  });

  it("rejects unknown dtypes, bad shapes and offsets", () => {
    const data = new Uint8Array(16);
    expect(() => readSafetensors(rawFile({ w: { dtype: "C64", shape: [2], data_offsets: [0, 16] } }, data), "f")).toThrow(/f: tensor "w": unknown dtype "C64"/);
    expect(() => readSafetensors(rawFile({ w: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } }, data.subarray(0, 2)), "f")).toThrow(/tensor "w": dtype F8_E4M3 is not supported/);
    expect(() => readSafetensors(rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, data), "f")).toThrow(/bad shape/);
    expect(() => readSafetensors(rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [0] } }, data), "f")).toThrow(/bad data_offsets/);
    expect(() => readSafetensors(rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [0, 12] } }, data), "f")).toThrow(/span 12 bytes but F32 \[2\] needs 8/);
    expect(() => readSafetensors(rawFile({ w: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }, data), "f")).toThrow(/go past the end of the data \(16 bytes/);
    expect(() =>
      readSafetensors(rawFile({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, data), "f"),
    ).toThrow(/f: tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/);
    expect(() => readSafetensors(rawFile({ __metadata__: { n: 1 } }), "f")).toThrow(/__metadata__ "n" is not a string/);
    // the tensors must tile the data section, as the reference Rust reader requires
    expect(() => readSafetensors(rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, data), "f")).toThrow(
      /f: the tensors cover 8 bytes but the data section has 16 \(trailing bytes/,
    );
    expect(() =>
      readSafetensors(rawFile({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, data), "f"),
    ).toThrow(/f: tensor "b" starts at byte 8 of the data but the tensors before it end at 4 \(a gap\)/);
  });

  it("rejects I64 values that do not fit in int32", () => {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigInt64(0, 1n << 40n, true);
    expect(() => readSafetensors(rawFile({ step: { dtype: "I64", shape: [], data_offsets: [0, 8] } }, data), "f")).toThrow(/tensor "step": I64 value 1099511627776 at index 0 does not fit in int32/);
  });

  it("names the path of a missing file", async () => {
    await expect(readSafetensorsFile("/nonexistent/x.safetensors")).rejects.toThrow(/cannot read \/nonexistent\/x\.safetensors/);
  });
});

describe("every dtype the reader takes", () => {
  it("decodes F64, I64, U64, U32, I16, U16, I8, U8 and BOOL, range-checking what int32 cannot hold", () => {
    const le = (bytes: number, set: (v: DataView) => void) => {
      const b = new Uint8Array(bytes);
      set(new DataView(b.buffer));
      return b;
    };
    const cases: [string, number[], Uint8Array, number[]][] = [
      ["F64", [2], le(16, (v) => (v.setFloat64(0, 1.5, true), v.setFloat64(8, -2.25, true))), [1.5, -2.25]],
      ["I64", [2], le(16, (v) => (v.setBigInt64(0, -3n, true), v.setBigInt64(8, 2147483647n, true))), [-3, 2147483647]],
      ["U64", [1], le(8, (v) => v.setBigUint64(0, 5n, true)), [5]],
      ["U32", [1], le(4, (v) => v.setUint32(0, 7, true)), [7]],
      ["I16", [2], le(4, (v) => (v.setInt16(0, -2, true), v.setInt16(2, 300, true))), [-2, 300]],
      ["U16", [1], le(2, (v) => v.setUint16(0, 65535, true)), [65535]],
      ["I8", [2], new Uint8Array([0xff, 0x7f]), [-1, 127]],
      ["U8", [1], new Uint8Array([255]), [255]],
      ["BOOL", [2], new Uint8Array([1, 0]), [1, 0]],
    ];
    for (const [dtype, shape, data, values] of cases) {
      const { tensors } = readSafetensors(rawFile({ t: { dtype, shape, data_offsets: [0, data.length] } }, data), "f");
      expect(Array.from(tensors.get("t")!.data), dtype).toEqual(values);
      expect(tensors.get("t")!.data instanceof (dtype === "F64" ? Float32Array : Int32Array), dtype).toBe(true);
    }
    const big = (dtype: string, bytes: Uint8Array) => () => readSafetensors(rawFile({ t: { dtype, shape: [1], data_offsets: [0, bytes.length] } }, bytes), "f");
    expect(big("U64", le(8, (v) => v.setBigUint64(0, 1n << 63n, true)))).toThrow('f: tensor "t": U64 value 9223372036854775808 at index 0 does not fit in int32');
    expect(big("I64", le(8, (v) => v.setBigInt64(0, -(1n << 31n) - 1n, true)))).toThrow('f: tensor "t": I64 value -2147483649 at index 0 does not fit in int32');
    expect(big("U32", le(4, (v) => v.setUint32(0, 2 ** 31, true)))).toThrow('f: tensor "t": U32 value 2147483648 at index 0 does not fit in int32');
  });
});

describe("files are read and written piecewise (no buffer holds the whole file)", () => {
  const dir = mkdtempSync(join(tmpdir(), "batgpt-st-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const same = (a: SafetensorsContent, b: SafetensorsContent) => {
    expect(a.metadata).toEqual(b.metadata);
    expect([...a.tensors.keys()]).toEqual([...b.tensors.keys()]);
    for (const [name, t] of a.tensors) {
      const u = b.tensors.get(name)!;
      expect([u.dtype, u.shape, u.data.constructor], name).toEqual([t.dtype, t.shape, t.data.constructor]);
      expect(new Uint8Array(u.data.buffer, u.data.byteOffset, u.data.byteLength), name).toEqual(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
  };

  it("reads with any chunk size exactly what readSafetensors gives from memory", async () => {
    for (const name of ["py-dtypes.safetensors", "py-f32-i32.safetensors", "py-official/model.safetensors"]) {
      const want = readSafetensors(readFileSync(fixture(name)), fixture(name));
      for (const chunkBytes of [1, 3, 7, 4096, undefined]) same(await readSafetensorsFile(fixture(name), chunkBytes === undefined ? {} : { chunkBytes }), want);
    }
    await expect(readSafetensorsFile(fixture("py-dtypes.safetensors"), { chunkBytes: 2 ** 31 })).rejects.toThrow(/invalid safetensors options: chunkBytes/);
  });

  it("writes with any chunk size, lazily, byte for byte what writeSafetensors returns; a failure leaves no file", async () => {
    const tensors = new Map<string, SafetensorsTensor>([
      ["b", { dtype: "I32", shape: [3], data: new Int32Array([1, -2, 3]) }],
      ["a", { dtype: "F32", shape: [2, 3], data: new Float32Array([0, -0, NaN, Infinity, 1e-45, Math.PI]) }],
      ["c", { dtype: "F32", shape: [0], data: new Float32Array(0) }],
    ]);
    const want = writeSafetensors(tensors, { format: "pt" });
    const path = join(dir, "w.safetensors");
    for (const chunkBytes of [1, 5, 4096]) {
      let loads = 0;
      const lazy = new Map<string, SafetensorsTensor | LazySafetensorsTensor>(
        [...tensors].map(([n, t]) => [n, n === "b" ? t : { dtype: t.dtype, shape: t.shape, load: () => (loads++, t.data) }]),
      );
      await writeSafetensorsFile(path, lazy, { format: "pt" }, { chunkBytes });
      expect(new Uint8Array(readFileSync(path)), `chunkBytes ${chunkBytes}`).toEqual(want);
      expect(loads).toBe(2);
    }
    const bad = new Map<string, LazySafetensorsTensor>([["x", { dtype: "F32", shape: [4], load: () => new Float32Array(3) }]]);
    await expect(writeSafetensorsFile(join(dir, "bad.safetensors"), bad)).rejects.toThrow('tensor "x": shape [4] holds 4 values but data has 3');
    expect(readdirSync(dir)).toEqual(["w.safetensors"]);
  });

  it("checks the u64 header length against the file: past the end, or implausible, is a clear error", async () => {
    const len = (v: bigint, total: number) => {
      const b = new Uint8Array(total);
      new DataView(b.buffer).setBigUint64(0, v, true);
      return b;
    };
    const path = join(dir, "h.safetensors");
    for (const [bytes, msg] of [
      [len(1000n, 24), "truncated file: header says 1000 bytes of JSON but only 16 follow"],
      [len(1n << 63n, 24), "header length 9223372036854775808 is implausible (over 100000000 bytes; not a safetensors file?)"],
      [len((1n << 32n) + 2n, 24), "header length 4294967298 is implausible (over 100000000 bytes; not a safetensors file?)"],
      [len(2n, 8).subarray(0, 5), "truncated file (5 bytes, shorter than the 8-byte header length)"],
    ] as const) {
      expect(() => readSafetensors(bytes, path)).toThrow(`${path}: ${msg}`);
      writeFileSync(path, bytes);
      await expect(readSafetensorsFile(path)).rejects.toThrow(`${path}: ${msg}`);
    }
    rmSync(path);
  });

  /** A sparse file: the 8-byte length, the header, then `dataBytes` of holes (zeros) with `writes` at data offsets. */
  const sparse = async (path: string, header: unknown, dataBytes: number, writes: [number, Uint8Array][] = []) => {
    const json = new TextEncoder().encode(JSON.stringify(header));
    const fh = await open(path, "w");
    const n = new Uint8Array(8);
    new DataView(n.buffer).setBigUint64(0, BigInt(json.length), true);
    await fh.write(n, 0, 8, 0);
    await fh.write(json, 0, json.length, 8);
    await fh.truncate(8 + json.length + dataBytes);
    for (const [at, bytes] of writes) await fh.write(bytes, 0, bytes.length, 8 + json.length + at);
    await fh.close();
    return 8 + json.length + dataBytes;
  };

  it("refuses a tensor over 2^32 elements (V8's typed-array limit in Node 20) with a clear error", async () => {
    const path = join(dir, "huge.safetensors");
    const n = MAX_TENSOR_ELEMENTS + 1;
    await sparse(path, { w: { dtype: "U8", shape: [n], data_offsets: [0, n] } }, n);
    const file = await SafetensorsFile.open(path);
    try {
      await expect(file.read("w")).rejects.toThrow(
        `${path}: tensor "w": U8 [4294967297] has 4294967297 elements; one tensor is one JavaScript typed array, which holds at most 4294967296 (2^32) elements in Node 20, so it cannot be loaded (split it into smaller tensors)`,
      );
    } finally {
      await file.close();
      rmSync(path);
    }
  });

  // 2.51 GiB on disk as holes (a few kB really written); reading it fully holds its 2.51 GiB in memory
  it.skipIf(totalmem() < 8 * 2 ** 30)(
    "reads a 2.51 GiB file that fs.readFile refuses (over 2 GiB), one tensor of 2.51 GiB included",
    async () => {
      const path = join(dir, "big.safetensors");
      const n = 673_700_000; // F32: 2,694,800,000 bytes
      const tail = new Float32Array([1, 2, 3, 4]);
      const size = await sparse(
        path,
        { big: { dtype: "F32", shape: [n], data_offsets: [0, 4 * n] }, tail: { dtype: "F32", shape: [4], data_offsets: [4 * n, 4 * n + 16] } },
        4 * n + 16,
        [
          [0, new Uint8Array(new Float32Array([7.5]).buffer)],
          [4 * (n - 1), new Uint8Array(new Float32Array([-7.5]).buffer)],
          [4 * n, new Uint8Array(tail.buffer)],
        ],
      );
      try {
        expect(size / 2 ** 30).toBeCloseTo(2.51, 2);
        await expect(readFile(path)).rejects.toMatchObject({ code: "ERR_FS_FILE_TOO_LARGE" });
        const file = await SafetensorsFile.open(path);
        try {
          expect(Array.from((await file.read("tail")).data)).toEqual([1, 2, 3, 4]); // at a data offset past 2^31
          const big = (await file.read("big")).data;
          expect([big.length, big[0], big[1], big[n >> 1], big[n - 1]]).toEqual([n, 7.5, 0, 0, -7.5]);
        } finally {
          await file.close();
        }
      } finally {
        rmSync(path);
      }
    },
    60_000,
  );
});
