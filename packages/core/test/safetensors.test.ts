import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readSafetensors, readSafetensorsFile, SafetensorsError, writeSafetensors, type SafetensorsTensor } from "../src/safetensors.js";

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
    expect(() => readSafetensors(rawFile({ w: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } }, data), "f")).toThrow(/tensor "w": dtype F8_E4M3 is not supported/);
    expect(() => readSafetensors(rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, data), "f")).toThrow(/bad shape/);
    expect(() => readSafetensors(rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [0] } }, data), "f")).toThrow(/bad data_offsets/);
    expect(() => readSafetensors(rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [0, 12] } }, data), "f")).toThrow(/span 12 bytes but F32 \[2\] needs 8/);
    expect(() => readSafetensors(rawFile({ w: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }, data), "f")).toThrow(/go past the end of the data \(16 bytes/);
    expect(() =>
      readSafetensors(rawFile({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, data), "f"),
    ).toThrow(/f: tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/);
    expect(() => readSafetensors(rawFile({ __metadata__: { n: 1 } }), "f")).toThrow(/__metadata__ "n" is not a string/);
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
