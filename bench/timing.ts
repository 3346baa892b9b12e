/**
 * Seconds per call of `step`, as every bench here times things: one warm-up call, one call to size the blocks,
 * then three blocks of calls filling about `budgetSeconds`; the best block counts, so a noisy neighbour on a
 * shared machine costs a block rather than the figure.
 */
export const bestSecondsPerCall = async (step: () => Promise<void>, budgetSeconds: number): Promise<number> => {
  await step()
  const t0 = performance.now()
  await step()
  const one = (performance.now() - t0) / 1000
  const reps = Math.max(1, Math.round(budgetSeconds / 3 / one))
  let best = Infinity
  for (let block = 0; block < 3; block++) {
    const t = performance.now()
    for (let r = 0; r < reps; r++) await step()
    best = Math.min(best, (performance.now() - t) / 1000 / reps)
  }
  return best
}
