/**
 * The tensor operations of the model core, each with a custom gradient built for the wasm
 * backend (plain 2-D matmuls, broadcasting instead of tiling, no `UnsortedSegmentSum`).
 */
export { linear, sumRows } from "./linear.js";
export { embedding } from "./embedding.js";
export { rmsNorm } from "./rmsnorm.js";
export { rotaryTables, applyRotary, pairSwapMatrix } from "./rope.js";
export { causalAttention, causalAttentionWith, chooseAttentionImpl, packedCausalBias } from "./attention.js";
export type { AttentionImpl, AttentionMasks } from "./attention.js";
export { swiglu } from "./swiglu.js";
export { crossEntropy, tokenLogProbs } from "./cross-entropy.js";
export { splitRows, gatherRows, scatterAddRows, pickColumns, addAtColumns } from "./kernels.js";
