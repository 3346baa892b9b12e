import { adamwCases } from "./adamw.cases.ts"
import { biasCases } from "./bias.cases.ts"
import { causalSoftmaxCases } from "./causal-softmax.cases.ts"
import { crossEntropyCases } from "./cross-entropy.cases.ts"
import { decodeAttentionCases } from "./decode-attention.cases.ts"
import { elementwiseCases } from "./elementwise.cases.ts"
import { embeddingCases } from "./embedding.cases.ts"
import { geluCases } from "./gelu.cases.ts"
import { gradNormCases } from "./grad-norm.cases.ts"
import { headsCases } from "./heads.cases.ts"
import type { KernelCase } from "./kernel-case.ts"
import { layernormCases } from "./layernorm.cases.ts"
import { maskedSoftmaxCases } from "./masked-softmax.cases.ts"
import { matmulCases } from "./matmul.cases.ts"
import { reduceCases } from "./reduce.cases.ts"
import { rmsnormCases } from "./rmsnorm.cases.ts"
import { ropeCases } from "./rope.cases.ts"
import { rowsCases } from "./rows.cases.ts"
import { softmaxCases } from "./softmax.cases.ts"
import { swigluCases } from "./swiglu.cases.ts"

/** The cases of one kernel file (`matmul.ts`, its reference `matmul.cpu.ts`, its cases `matmul.cases.ts`). */
export interface KernelFile {
  readonly file: string
  readonly cases: ReadonlyArray<KernelCase>
}

/**
 * Every kernel file and its cases: the one list that the vitest suite (test/gpu/kernels.test.ts) and
 * `programs/gpu.ts selftest` run. A test checks that every kernel file in this folder is listed.
 */
export const kernelRegistry: ReadonlyArray<KernelFile> = [
  { file: "matmul.ts", cases: matmulCases },
  { file: "elementwise.ts", cases: elementwiseCases },
  { file: "rows.ts", cases: rowsCases },
  { file: "reduce.ts", cases: reduceCases },
  { file: "softmax.ts", cases: softmaxCases },
  { file: "rmsnorm.ts", cases: rmsnormCases },
  { file: "causal-softmax.ts", cases: causalSoftmaxCases },
  { file: "cross-entropy.ts", cases: crossEntropyCases },
  { file: "embedding.ts", cases: embeddingCases },
  { file: "heads.ts", cases: headsCases },
  { file: "rope.ts", cases: ropeCases },
  { file: "swiglu.ts", cases: swigluCases },
  { file: "grad-norm.ts", cases: gradNormCases },
  { file: "adamw.ts", cases: adamwCases },
  { file: "decode-attention.ts", cases: decodeAttentionCases },
  { file: "bias.ts", cases: biasCases },
  { file: "gelu.ts", cases: geluCases },
  { file: "layernorm.ts", cases: layernormCases },
  { file: "masked-softmax.ts", cases: maskedSoftmaxCases }
]

/** Files of this folder that hold no kernel: WGSL helpers, the case type and this list. */
export const kernelHelperFiles: ReadonlyArray<string> = ["wgsl.ts", "kernel-case.ts", "registry.ts"]

/** The name a case is known by, unique in the registry; it also seeds the case's inputs (`caseRng`). */
export const caseId = (file: string, c: KernelCase): string => `${file}: ${c.kernel}, ${c.case} (${c.variant})`
