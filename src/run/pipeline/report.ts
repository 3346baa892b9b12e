/**
 * Assembles `report.json` from what the phases recorded (their markers), so a resumed run reports every stage,
 * including those finished by an earlier session, exactly as an uninterrupted run would.
 */
import { Schema } from "effect"
import { RunConfig } from "../config.ts"
import { type AblationReport, type PhaseTime, type PostTrainingReport, REPORT_VERSION, type PolicyDecision, type RunReport, type SourceFunnel, type StageReport } from "../report/schema.ts"
import type { CuratedSource } from "./curate.ts"
import type { PhaseResult } from "./layout.ts"
import type { StageEvaluationResult, StageTraining } from "./stage.ts"
import type { Tokenized } from "./tokenize.ts"

export interface FinishedStage {
  readonly name: string
  readonly training: PhaseResult<StageTraining>
  readonly evaluation: PhaseResult<StageEvaluationResult>
  readonly decision?: PolicyDecision
}

export interface ReportInputs {
  readonly config: RunConfig
  readonly title: string
  readonly command?: string
  readonly startedAt: string
  readonly adapter: string
  readonly curation: ReadonlyArray<PhaseResult<CuratedSource>>
  readonly tokenize: PhaseResult<Tokenized>
  readonly stages: ReadonlyArray<FinishedStage>
  readonly finalModel: string
  readonly ablation?: { readonly report: AblationReport; readonly seconds: number }
  /** SFT and DPO (post-train.ts), with the time of each of their phases. */
  readonly postTraining?: { readonly reports: ReadonlyArray<PostTrainingReport>; readonly phases: ReadonlyArray<PhaseTime> }
}

export const assembleReport = (i: ReportInputs): RunReport => {
  const phases = [
    ...i.curation.map((c) => ({ phase: `curation ${c.value.name}`, seconds: c.seconds })),
    { phase: "tokenizer", seconds: i.tokenize.seconds },
    ...i.stages.flatMap((s) => [{ phase: `train ${s.name}`, seconds: s.training.seconds }, { phase: `eval ${s.name}`, seconds: s.evaluation.seconds }]),
    ...(i.ablation === undefined ? [] : [{ phase: "ablation", seconds: i.ablation.seconds }]),
    ...(i.postTraining?.phases ?? [])
  ]
  const stages = i.stages.map((s): StageReport => ({
    name: s.name,
    mixture: s.training.value.mixture,
    tokens: s.training.value.tokens,
    steps: s.training.value.steps,
    seconds: s.training.value.seconds,
    loss: s.training.value.loss,
    evaluation: s.evaluation.value.evaluation,
    ...(s.decision === undefined ? {} : { decision: s.decision })
  }))
  return {
    version: REPORT_VERSION,
    run: {
      title: i.title,
      ...(i.command === undefined ? {} : { command: i.command }),
      startedAt: i.startedAt,
      seconds: phases.reduce((s, p) => s + p.seconds, 0),
      phases,
      seed: i.config.seed,
      adapter: i.adapter,
      config: Schema.encodeSync(RunConfig)(i.config) as unknown as Record<string, unknown>
    },
    data: { sources: i.curation.map((c): SourceFunnel => c.value.funnel) },
    tokenizer: i.tokenize.value.report,
    stages,
    ...(i.ablation === undefined ? {} : { ablation: i.ablation.report }),
    ...(i.postTraining === undefined ? {} : { postTraining: i.postTraining.reports }),
    finalModel: i.finalModel
  }
}
