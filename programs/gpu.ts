/**
 * The WebGPU device from the command line.
 *
 *   npx tsx programs/gpu.ts info                 which adapter this machine gives, its limits and features
 *   npx tsx programs/gpu.ts selftest [--report F] every kernel against its CPU reference on this adapter
 *
 * SMOL_GPU_BACKEND=vulkan|opengl|… and SMOL_GPU_KIND=hardware|software choose the adapter.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, FileSystem, Option, Path } from "effect"
import { Command, Flag } from "effect/cli"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { kernelSelfTest, selfTestReport } from "../src/gpu/selftest.ts"

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
      const results = yield* kernelSelfTest({
        seed,
        onResult: (r) =>
          console.error(
            `  ${r.ok ? "ok  " : "FAIL"} ${r.kernel} ${r.case} (${r.variant}): relative error ${r.relativeError.toExponential(2)}`
          )
      })
      const text = selfTestReport(gpu, results, adapter)
      yield* Console.log(text)
      if (Option.isSome(report)) {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const target = path.resolve(report.value)
        yield* fs.makeDirectory(path.dirname(target), { recursive: true })
        // Written beside the target and renamed, so a killed run never leaves half a report.
        const temp = `${target}.tmp-${process.pid}`
        yield* fs.writeFileString(temp, text)
        yield* fs.rename(temp, target)
        yield* Console.error(`Report written to ${target}`)
      }
      const failed = results.filter((r) => !r.ok).length
      yield* Console.error(
        `${results.length - failed} passed, ${failed} failed in ${((performance.now() - started) / 1000).toFixed(1)} s`
      )
      if (failed > 0) return yield* Effect.fail(new Error(`${failed} kernel checks failed on ${adapter}`))
    }).pipe(Effect.provide(Gpu.layer))
).pipe(Command.withDescription("Check every kernel against its CPU reference on this machine's adapter"))

Command.make("gpu").pipe(
  Command.withDescription("The WebGPU device: adapter information and kernel self-test"),
  Command.withSubcommands([info, selftest]),
  Command.run({ version: "0.1.0" }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
