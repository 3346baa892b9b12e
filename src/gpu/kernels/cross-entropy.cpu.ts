/**
 * Reference for `crossEntropy`: per-row losses, the gradient (softmax − onehot) · gradScale, and `greedy`, 1 where
 * the target is the most likely token. `weights` multiply each row's gradient (SFT's loss masks).
 */
export const crossEntropyCpu = (logits: Float32Array, targets: ArrayLike<number>, rows: number, vocab: number, gradScale: number, weights?: ArrayLike<number>) => {
  const losses = new Float32Array(rows)
  const grad = new Float32Array(rows * vocab)
  const greedy = new Float32Array(rows)
  for (let r = 0; r < rows; r++) {
    let max = -Infinity
    for (let j = 0; j < vocab; j++) max = Math.max(max, logits[r * vocab + j]!)
    let sum = 0
    for (let j = 0; j < vocab; j++) sum += Math.exp(logits[r * vocab + j]! - max)
    const lse = max + Math.log(sum)
    losses[r] = lse - logits[r * vocab + targets[r]!]!
    greedy[r] = logits[r * vocab + targets[r]!]! >= max ? 1 : 0
    const scale = weights === undefined ? gradScale : gradScale * weights[r]!
    for (let j = 0; j < vocab; j++) grad[r * vocab + j] = (Math.exp(logits[r * vocab + j]! - lse) - (j === targets[r] ? 1 : 0)) * scale
  }
  return { losses, grad, greedy }
}
