/**
 * What every program under `programs/` shares: flags whose help shows their default, number checks made while the
 * command line is parsed (so a bad value stops the program before any work, naming its flag), and one way to run a
 * command: a failure is reported on stderr as `error: Name: message` — the message says where (FILE:LINE, the flag,
 * the failed ranks) — with no stack trace; logs go to stderr as well, so stdout keeps only what the program produces.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Logger } from "effect"
import { CliError, Flag } from "effect/cli"
import { describeCause } from "../data/errors.ts"

/** A flag's help line with its default in it (effect/cli's help does not print defaults). */
export const defaulting = <const A>(value: A, description: string, shown = String(value)) => <B>(flag: Flag.Flag<B>) =>
  flag.pipe(Flag.withDescription(`${description} (default: ${shown})`), Flag.withDefault(value))

/** An integer flag of at least `min`. */
export const atLeast = (min: number) => Flag.filter((n: number) => Number.isSafeInteger(n) && n >= min, () => `an integer ≥ ${min}`)

/** A number flag above 0. */
export const positive = Flag.filter((n: number) => Number.isFinite(n) && n > 0, () => "a number > 0")
/** A number flag of 0 or more. */
export const nonNegative = Flag.filter((n: number) => Number.isFinite(n) && n >= 0, () => "a number ≥ 0")
/** A share of something: at least 0, below 1. */
export const fraction = Flag.filter((n: number) => n >= 0 && n < 1, () => "a fraction in [0, 1)")

/**
 * Reports a failure on stderr and fails on with it; not an interruption, nor a command-line error, which effect/cli
 * has already shown with the usage.
 */
export const reportFailure = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  self.pipe(Effect.tapCause((cause) =>
    Cause.hasInterruptsOnly(cause) || CliError.isCliError(Cause.squash(cause)) ? Effect.void : Console.error(`error: ${describeCause(cause)}`)
  ))

/**
 * Runs a program (usually `command.pipe(Command.run({ version }))`) as the process's main: Node services, a failure
 * reported by `reportFailure` and exit status 1, an interruption (Ctrl-C) ends it quietly.
 */
export const runMain = <E>(program: Effect.Effect<void, E, NodeServices.NodeServices>): void =>
  program.pipe(
    reportFailure,
    // Logs (Effect.log*: settings, warnings) are for the person watching, like progress: stderr, not stdout.
    Effect.provideService(Logger.LogToStderr, true),
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain({ disableErrorReporting: true })
  )
