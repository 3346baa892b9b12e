/**
 * DPO's sigmoid loss (Rafailov et al. 2023, eq. 7; TRL's `loss_type="sigmoid"`), for one preference pair:
 *
 *   z = β · ((π_c − ref_c) − (π_r − ref_r)),   L = −log σ(z) = softplus(−z)
 *
 * where π_x and ref_x are the summed log-probs of a completion's tokens under the policy and the reference model.
 * ∂L/∂π_c = −β·σ(−z) and ∂L/∂π_r = +β·σ(−z): the policy's gradient is these times each completion's summed
 * log-prob gradient, which the trainer gets from the cross-entropy kernel with per-token weights −∂L/∂π_x
 * (the gradient of Σ w_t·(−log p_t)). Rewards are TRL's: β(π_x − ref_x). SmolLM2 uses β = 0.5 (notes §7.3).
 */
export interface PairLogProbs {
  readonly policyChosen: number
  readonly policyRejected: number
  readonly referenceChosen: number
  readonly referenceRejected: number
}

export interface DpoPairLoss {
  readonly loss: number
  /** ∂L/∂π_c and ∂L/∂π_r. */
  readonly dPolicyChosen: number
  readonly dPolicyRejected: number
  readonly rewardChosen: number
  readonly rewardRejected: number
}

export const smollm2DpoBeta = 0.5

/** softplus(x) = log(1 + eˣ), without overflow for large |x|. */
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))
const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))

export const dpoSigmoidLoss = (p: PairLogProbs, beta: number): DpoPairLoss => {
  const rewardChosen = beta * (p.policyChosen - p.referenceChosen)
  const rewardRejected = beta * (p.policyRejected - p.referenceRejected)
  const z = rewardChosen - rewardRejected
  const pull = beta * sigmoid(-z)
  return { loss: softplus(-z), dPolicyChosen: -pull, dPolicyRejected: pull, rewardChosen, rewardRejected }
}

/** A step's numbers as TRL logs them: means over the step's pairs (accuracy: share with rewardChosen > rewardRejected). */
export interface DpoStepSummary {
  readonly loss: number
  readonly rewardsChosen: number
  readonly rewardsRejected: number
  readonly rewardsAccuracies: number
  readonly rewardsMargins: number
}

export const summarizePairs = (pairs: ReadonlyArray<DpoPairLoss>): DpoStepSummary => {
  const n = Math.max(1, pairs.length)
  const mean = (f: (p: DpoPairLoss) => number) => pairs.reduce((s, p) => s + f(p), 0) / n
  return {
    loss: mean((p) => p.loss),
    rewardsChosen: mean((p) => p.rewardChosen),
    rewardsRejected: mean((p) => p.rewardRejected),
    rewardsAccuracies: mean((p) => (p.rewardChosen > p.rewardRejected ? 1 : 0)),
    rewardsMargins: mean((p) => p.rewardChosen - p.rewardRejected)
  }
}
