/**
 * The WebGPU device from the command line.
 *
 *   npx tsx programs/gpu.ts info                 which adapter this machine gives, its limits and features
 *   npx tsx programs/gpu.ts selftest [--report F] [--seed N]
 *                                                every case of the kernel registry (src/gpu/kernels/registry.ts)
 *                                                against its CPU reference on this adapter
 *
 * SMOL_GPU_BACKEND=vulkan|opengl|… and SMOL_GPU_KIND=hardware|software choose the adapter.
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { runMain } from "../src/cli/program.ts"
import { writeFileAtomic } from "../src/data/io/atomic.ts"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { describeCheck, kernelSelfTest, SelfTestFailed, selfTestReport } from "../src/gpu/selftest.ts"

const info = Command.make("info", {}, () =>
  Effect.gen(function*() {
    const gpu = yield* Gpu
    yield* Console.log(`Adapter: ${describeAdapter(gpu.adapter)}`)
    yield* Console.log("\nTried:")
    for (const a of gpu.attempts) yield* Console.log(`  ${a.backend} (${a.featureLevel}): ${a.outcome}`)
    yield* Console.log("\nLimits requested from the adapter:")
    for (const [name, value] of Object.entries(gpu.limits)) yield* Console.log(`  ${name.padEnd(36)} ${value.toLocaleString("en")}`)
    yield* Console.log("\nFeatures:")
    for (const [name, on] of Object.entries(gpu.features)) yield* Console.log(`  ${name.padEnd(36)} ${on ? "yes" : "no"}`)
  }).pipe(Effect.provide(Gpu.layer))).pipe(Command.withDescription("Show the adapter this machine gives, its limits and features"))

const selftest = Command.make(
  "selftest",
  {
    report: Flag.String("report").pipe(Flag.withDescription("Also write the results as a Markdown report to this file"), Flag.optional),
    seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the random inputs"), Flag.withDefault(1))
  },
  ({ report, seed }) =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const adapter = describeAdapter(gpu.adapter)
      yield* Console.error(`Checking every kernel against its CPU reference on ${adapter}`)
      const started = performance.now()
      const results = yield* kernelSelfTest({ seed, onResult: (r) => console.error(`  ${describeCheck(r)}`) })
      const text = selfTestReport(gpu, results, adapter)
      yield* Console.log(text)
      if (Option.isSome(report)) {
        yield* writeFileAtomic(report.value, text)
        yield* Console.error(`Report written to ${report.value}`)
      }
      const failed = results.filter((r) => !r.ok).length
      yield* Console.error(
        `${results.length - failed} passed, ${failed} failed in ${((performance.now() - started) / 1000).toFixed(1)} s (seed ${seed})`
      )
      if (failed > 0) return yield* new SelfTestFailed({ message: `${failed} kernel checks failed on ${adapter} (seed ${seed})` })
    }).pipe(Effect.provide(Gpu.layer))
).pipe(Command.withDescription("Check every kernel against its CPU reference on this machine's adapter"))

Command.make("gpu").pipe(
  Command.withDescription("The WebGPU device: adapter information and kernel self-test"),
  Command.withSubcommands([info, selftest]),
  Command.run({ version: "0.1.0" }),
  runMain
)
