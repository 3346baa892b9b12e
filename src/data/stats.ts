/**
 * Counters in datatrove's vocabulary (StatHints: total, forwarded, dropped, dropped_<reason>), one block per
 * stage name, so a stats.json from here reads like datatrove's and merges across tasks by addition.
 */
export type StageCounters = Record<string, number>
export type Stats = Record<string, StageCounters>

export class StatsCollector {
  readonly stages: Stats = {}
  add(stage: string, key: string, value = 1): void {
    const s = (this.stages[stage] ??= {})
    s[key] = (s[key] ?? 0) + value
  }
  toJSON(): Stats {
    return this.stages
  }
}

export const mergeStats = (all: ReadonlyArray<Stats>): Stats => {
  const out: Stats = {}
  for (const stats of all) {
    for (const [stage, counters] of Object.entries(stats)) {
      const o = (out[stage] ??= {})
      for (const [k, v] of Object.entries(counters)) o[k] = (o[k] ?? 0) + v
    }
  }
  return out
}
