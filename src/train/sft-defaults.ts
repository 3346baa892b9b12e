/**
 * SmolLM2's SFT settings (notes smollm2-recipe.md §7.2 and §11: arXiv 2502.02737 §5.2 and alignment-handbook
 * `recipes/smollm2/sft/config.yaml`): 2 epochs, global batch 128 (8 GPUs × 4 × accumulation 4), max_seq_length
 * 8192, cosine with warmup_ratio 0.1, lr 1e-3 for 135M/360M and 3e-4 for 1.7B, seed 42.
 */
import type { AdamWOptions } from "./optimizer.ts"

export const sftDefaults = {
  epochs: 2,
  globalBatch: 128,
  maxSeqLength: 8192,
  warmupRatio: 0.1,
  seed: 42,
  /** The learning rate by model size: the 135M/360M recipe below a billion parameters, the 1.7B one above. */
  forParameters: (parameters: number): { readonly lr: number } => ({ lr: parameters < 1e9 ? 1e-3 : 3e-4 })
} as const

/**
 * The handbook's config sets no optimizer values, so transformers' TrainingArguments defaults apply: AdamW β
 * (0.9, 0.999), ε 1e-8, weight decay 0, max_grad_norm 1.0.
 */
export const sftAdamW: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clip: 1.0 }
