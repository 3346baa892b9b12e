/**
 * Writes docs/run-config.md, the reference of every run-config field, from the Schema's annotations
 * (src/run/config-docs.ts). `--check` writes nothing and fails when the committed file differs, as the test does.
 *
 *   npx tsx programs/config-docs.ts [--output docs/run-config.md] [--check]
 */
import { Console, Effect, FileSystem, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { runMain } from "../src/cli/program.ts"
import { writeFileAtomic } from "../src/data/io/atomic.ts"
import { renderRunConfigDocs } from "../src/run/config-docs.ts"

class StaleDocsError extends Schema.TaggedError<StaleDocsError>()("StaleDocsError", {
  message: Schema.String
}) {}

const command = Command.make(
  "config-docs",
  {
    output: Flag.String("output").pipe(Flag.withDescription("The Markdown file (default: docs/run-config.md)"), Flag.withDefault("docs/run-config.md")),
    check: Flag.Boolean("check").pipe(Flag.withDescription("Only compare with the file; fail when it is out of date"), Flag.withDefault(false))
  },
  (a) =>
    Effect.gen(function*() {
      const docs = renderRunConfigDocs()
      if (a.check) {
        const fs = yield* FileSystem.FileSystem
        const current = yield* fs.readFileString(a.output).pipe(Effect.orElseSucceed(() => ""))
        if (current !== docs) {
          return yield* new StaleDocsError({ message: `${a.output} is out of date: run npx tsx programs/config-docs.ts` })
        }
        return yield* Console.log(`${a.output} is up to date`)
      }
      yield* writeFileAtomic(a.output, docs)
      yield* Console.log(`wrote ${a.output}`)
    })
).pipe(Command.withDescription("Generate the run-config reference from the RunConfig Schema"))

runMain(command.pipe(Command.run({ version: "0.1.0" })))
