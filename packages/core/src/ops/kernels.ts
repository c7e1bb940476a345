/**
 * Row-moving kernels that the stock wasm backend does slowly or not at all, written in JS over
 * the backend's own memory and registered with `tf.registerKernel` for "wasm" and "cpu".
 *
 * Why they exist:
 * - `tf.slice`/`tf.split`/`tf.unstack` copy the *whole* source tensor out of the wasm heap once per
 *   piece (`readSync` = `HEAPU8.slice`), so cutting a tensor into n pieces costs n full copies.
 *   {@link splitRows} copies each piece once, straight from heap to heap.
 * - wasm's `tf.gather` is slow; {@link gatherRows} copies the rows directly.
 * - there is no `UnsortedSegmentSum` kernel, so `gather`'s default gradient throws;
 *   {@link scatterAddRows} accumulates rows into a fresh zero tensor.
 * - {@link pickColumns} reads one value per row (the target logit) and {@link addAtColumns} adds one
 *   value per row (the one-hot part of the cross-entropy gradient) without a dense one-hot pass;
 *   wasm's `OneHot` writes int32 bits even when asked for float32.
 *
 * These kernels carry no gradient of their own; the ops that use them define custom gradients.
 * On any other backend (tensorflow, webgl, …) the functions fall back to stock tf ops.
 *
 * Measurements (timings, alternatives tried, command, machine): bench/README.md, section
 * "Measured facts behind the ops (src/ops)", subsection `kernels.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";

const SPLIT_ROWS = "BatGPTSplitRows";
const GATHER_ROWS = "BatGPTGatherRows";
const SCATTER_ADD_ROWS = "BatGPTScatterAddRows";
const PICK_COLUMNS = "BatGPTPickColumns";
const ADD_AT_COLUMNS = "BatGPTAddAtColumns";

type TypedArray = Float32Array | Int32Array | Uint8Array;

/** What a kernel needs from a backend: read a tensor's values, allocate outputs and write them. */
interface Mem {
  /** Allocate outputs first (a wasm allocation may move the heap), then read and write views. */
  alloc(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  view(t: tf.TensorInfo): TypedArray;
  /** Called once all outputs are written (cpu stores the arrays it created). */
  finish(outs: tf.TensorInfo[]): tf.TensorInfo[];
}

function wasmMem(backend: BackendWasm): Mem {
  return {
    alloc: (shape, dtype) => backend.makeOutput(shape, dtype),
    view: (t) => backend.typedArrayFromHeap(t) as TypedArray,
    finish: (outs) => outs,
  };
}

function cpuMem(backend: MathBackendCPU): Mem {
  const pending = new Map<tf.TensorInfo, TypedArray>();
  return {
    alloc: (shape, dtype) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = dtype === "int32" ? new Int32Array(size) : dtype === "bool" ? new Uint8Array(size) : new Float32Array(size);
      const info: tf.TensorInfo = { dataId: {}, shape, dtype };
      pending.set(info, values);
      return info;
    },
    view: (t) => pending.get(t) ?? (backend.data.get(t.dataId)?.values as TypedArray),
    finish: (outs) => outs.map((o) => backend.makeTensorInfo(o.shape, o.dtype, pending.get(o))),
  };
}

type MemKernel = (mem: Mem, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) => tf.TensorInfo | tf.TensorInfo[];

function register(name: string, body: MemKernel): void {
  if (!tf.getKernel(name, "wasm")) {
    tf.registerKernel({
      kernelName: name,
      backendName: "wasm",
      kernelFunc: ({ inputs, backend, attrs }) => body(wasmMem(backend as BackendWasm), inputs, attrs ?? {}),
    });
  }
  if (!tf.getKernel(name, "cpu")) {
    tf.registerKernel({
      kernelName: name,
      backendName: "cpu",
      kernelFunc: ({ inputs, backend, attrs }) => body(cpuMem(backend as MathBackendCPU), inputs, attrs ?? {}),
    });
  }
}

function input(inputs: tf.NamedTensorInfoMap, name: string): tf.TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`kernel input "${name}" is missing`);
  return t;
}

function checkIndices(idv: TypedArray, limit: number, what: string): void {
  for (let i = 0; i < idv.length; i++) {
    const v = idv[i]!;
    if (!(v >= 0 && v < limit)) throw new Error(`${what} ${v} at position ${i} is outside [0, ${limit})`);
  }
}

let registered = false;

function ensureKernels(): void {
  if (registered) return;
  registered = true;

  register(SPLIT_ROWS, (mem, inputs, attrs) => {
    const x = input(inputs, "x");
    const num = attrs.num as number;
    const shape = attrs.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < num; i++) outs.push(mem.alloc(shape, x.dtype));
    const src = mem.view(x);
    for (let i = 0; i < num; i++) mem.view(outs[i]!).set(src.subarray(i * size, (i + 1) * size));
    return mem.finish(outs);
  });

  register(GATHER_ROWS, (mem, inputs) => {
    const table = input(inputs, "table");
    const ids = input(inputs, "ids");
    const [rows, width] = table.shape as [number, number];
    const n = ids.shape[0] ?? 0;
    checkIndices(mem.view(ids), rows, "embedding id");
    const out = mem.alloc([n, width], table.dtype);
    const src = mem.view(table);
    const idv = mem.view(ids);
    const dst = mem.view(out);
    for (let i = 0; i < n; i++) {
      const id = idv[i]!;
      dst.set(src.subarray(id * width, (id + 1) * width), i * width);
    }
    return mem.finish([out])[0]!;
  });

  register(SCATTER_ADD_ROWS, (mem, inputs, attrs) => {
    const dy = input(inputs, "dy");
    const ids = input(inputs, "ids");
    const rows = attrs.rows as number;
    const width = dy.shape[1] ?? 0;
    const n = ids.shape[0] ?? 0;
    checkIndices(mem.view(ids), rows, "embedding id");
    const out = mem.alloc([rows, width], "float32");
    const g = mem.view(dy);
    const idv = mem.view(ids);
    const dst = mem.view(out);
    dst.fill(0);
    for (let i = 0; i < n; i++) {
      const base = idv[i]! * width;
      const from = i * width;
      for (let j = 0; j < width; j++) dst[base + j]! += g[from + j]!;
    }
    return mem.finish([out])[0]!;
  });

  register(PICK_COLUMNS, (mem, inputs) => {
    const x = input(inputs, "x");
    const cols = input(inputs, "cols");
    const [n, width] = x.shape as [number, number];
    checkIndices(mem.view(cols), width, "target");
    const out = mem.alloc([n], x.dtype);
    const src = mem.view(x);
    const cv = mem.view(cols);
    const dst = mem.view(out);
    for (let i = 0; i < n; i++) dst[i] = src[i * width + cv[i]!]!;
    return mem.finish([out])[0]!;
  });

  register(ADD_AT_COLUMNS, (mem, inputs) => {
    const x = input(inputs, "x");
    const cols = input(inputs, "cols");
    const vals = input(inputs, "vals");
    const [n, width] = x.shape as [number, number];
    checkIndices(mem.view(cols), width, "target");
    const out = mem.alloc([n, width], x.dtype);
    const dst = mem.view(out);
    dst.set(mem.view(x));
    const cv = mem.view(cols);
    const vv = mem.view(vals);
    for (let i = 0; i < n; i++) dst[i * width + cv[i]!]! += vv[i]!;
    return mem.finish([out])[0]!;
  });
}

function ownKernels(): boolean {
  const name = tf.getBackend();
  return name === "wasm" || name === "cpu";
}

/**
 * Cut `x` (any shape, `num · prod(shape)` elements, row-major) into `num` consecutive pieces, each
 * reshaped to `shape`. Not differentiable (used inside custom gradients).
 */
export function splitRows<R extends tf.Rank>(x: tf.Tensor, num: number, shape: number[]): Array<tf.Tensor<R>> {
  if (num === 1) return [tf.reshape(x, shape) as unknown as tf.Tensor<R>];
  if (ownKernels()) {
    ensureKernels();
    return tf.engine().runKernel(SPLIT_ROWS, { x }, { num, shape }) as unknown as Array<tf.Tensor<R>>;
  }
  return tf.split(tf.reshape(x, [num, ...shape]), num, 0).map((t) => tf.reshape(t, shape) as unknown as tf.Tensor<R>);
}

/** Rows `table[ids[i]]` → [N, H]; `ids` int32 [N]. Not differentiable (see `embedding`). */
export function gatherRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (ownKernels()) {
    ensureKernels();
    return tf.engine().runKernel(GATHER_ROWS, { table, ids }, {}) as tf.Tensor2D;
  }
  return tf.gather(table, ids);
}

/** Σ of the rows of `dy` [N, H] into row `ids[i]` of a [rows, H] zero tensor. Not differentiable. */
export function scatterAddRows(dy: tf.Tensor2D, ids: tf.Tensor1D, rows: number): tf.Tensor2D {
  if (ownKernels()) {
    ensureKernels();
    return tf.engine().runKernel(SCATTER_ADD_ROWS, { dy, ids }, { rows }) as tf.Tensor2D;
  }
  if (tf.getBackend() === "tensorflow") return tf.unsortedSegmentSum(dy, ids, rows);
  // any other backend: accumulate in JS
  const width = dy.shape[1];
  const g = dy.dataSync();
  const idv = ids.dataSync();
  const out = new Float32Array(rows * width);
  for (let i = 0; i < idv.length; i++) {
    const base = idv[i]! * width;
    for (let j = 0; j < width; j++) out[base + j]! += g[i * width + j]!;
  }
  return tf.tensor2d(out, [rows, width]);
}

/** `x[i, cols[i]]` for each row: x [N, V], cols int32 [N] → [N]. Not differentiable. */
export function pickColumns(x: tf.Tensor2D, cols: tf.Tensor1D): tf.Tensor1D {
  if (ownKernels()) {
    ensureKernels();
    return tf.engine().runKernel(PICK_COLUMNS, { x, cols }, {}) as tf.Tensor1D;
  }
  const [n, width] = x.shape;
  const flat = tf.add(tf.mul(tf.range(0, n, 1, "int32"), width), cols);
  return tf.gather(tf.reshape(x, [n * width]), flat) as tf.Tensor1D;
}

/**
 * A copy of `x` [N, V] with `vals[i]` added at column `cols[i]` of row i (a sparse one-hot update
 * without a dense one-hot pass; wasm's `OneHot` also ignores a float32 dtype). Not differentiable.
 */
export function addAtColumns(x: tf.Tensor2D, cols: tf.Tensor1D, vals: tf.Tensor1D): tf.Tensor2D {
  if (ownKernels()) {
    ensureKernels();
    return tf.engine().runKernel(ADD_AT_COLUMNS, { x, cols, vals }, {}) as tf.Tensor2D;
  }
  const v = x.shape[1];
  return tf.add(x, tf.mul(tf.cast(tf.oneHot(cols, v), "float32"), tf.reshape(vals, [-1, 1])));
}
