import { Context, Effect, Layer } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { CodeRunnerError } from "./errors.ts"

/**
 * Runs untrusted programs (model completions plus a benchmark's tests), one fresh temp dir and one process
 * tree per program:
 *  - wall-clock limit per step, then SIGKILL to the whole tree (process group, and with isolation the PID
 *    namespace, whose init takes every descendant with it, double-forked or not);
 *  - memory limit as RLIMIT_DATA (`ulimit -d`: unlike RLIMIT_AS it lets the JVM and V8 reserve address space,
 *    and still stops the heap), files capped by RLIMIT_FSIZE, no core dumps;
 *  - stdout/stderr kept up to a cap (MultiPL-E's safe_subprocess keeps 2048 bytes), the rest drained;
 *  - with isolation (`unshare -rmnpf`, where user namespaces are allowed): no network, every mount read-only
 *    except the program's own temp dir, a private /proc;
 *  - the temp dir is removed afterwards, whatever happened.
 * Verdicts as MultiPL-E's evaluators give them: compile failure, timeout, non-zero exit = fail, zero = pass.
 */
export type Language = "python" | "javascript" | "cpp" | "java"
export type Verdict = "pass" | "fail" | "timeout" | "compile_error"

export interface RunResult {
  readonly verdict: Verdict
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
  readonly seconds: number
}

export interface SandboxOptions {
  /** Run-step limit per language; defaults follow the harnesses (human-eval 3 s, MultiPL-E node 5 s, else 15 s). */
  readonly timeoutSeconds?: Partial<Record<Language, number>>
  readonly compileTimeoutSeconds?: number
  readonly memoryMb?: number
  readonly maxOutputBytes?: number
  readonly maxFileMb?: number
  /** "auto" isolates when the kernel allows unprivileged namespaces; "none" never does. */
  readonly isolation?: "auto" | "none"
  /** Extra classpath for Java (MultiPL-E's tests need javatuples-1.2.jar). */
  readonly javaClasspath?: ReadonlyArray<string>
}

export interface CodeRunnerShape {
  readonly run: (language: Language, source: string) => Effect.Effect<RunResult, CodeRunnerError>
  /** Languages whose toolchain was found on this machine. */
  readonly languages: ReadonlyArray<Language>
  readonly isolated: boolean
}

export class CodeRunner extends Context.Service<CodeRunner, CodeRunnerShape>()("smol-pipeline/eval/CodeRunner") {
  static readonly layer = (options: SandboxOptions = {}) => Layer.effect(CodeRunner, makeSandbox(options))
}

const defaultTimeouts: Record<Language, number> = { python: 3, javascript: 5, cpp: 15, java: 15 }

// Runs inside the new namespaces: the temp dir is bound onto itself so it stays writable, every other mount is
// remounted read-only (keeping the flags a user namespace may not drop), then the limits, then the program.
const isolateScript = `W="$1"; shift
mount --make-rprivate / || exit 97
mount --bind "$W" "$W" || exit 97
awk '{print $2" "$4}' /proc/self/mounts | while read -r target opts; do
  t=$(printf '%b' "$target")
  [ "$t" = "$W" ] && continue
  extra=""
  case ",$opts," in *,nosuid,*) extra="$extra,nosuid";; esac
  case ",$opts," in *,nodev,*) extra="$extra,nodev";; esac
  case ",$opts," in *,noexec,*) extra="$extra,noexec";; esac
  mount -o "remount,bind,ro$extra" "$t" 2>/dev/null || { echo "sandbox: cannot make $t read-only" >&2; exit 97; }
done || exit 97
cd "$W" || exit 97
ulimit -d "$LIMIT_DATA_KB"; ulimit -f "$LIMIT_FILE_BLOCKS"; ulimit -c 0
exec "$@"`

const plainScript = `W="$1"; shift
cd "$W" || exit 97
ulimit -d "$LIMIT_DATA_KB"; ulimit -f "$LIMIT_FILE_BLOCKS"; ulimit -c 0
exec "$@"`

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0

const canIsolate = (): boolean => {
  if (process.platform !== "linux" || !has("unshare")) return false
  const dir = mkdtempSync(path.join(tmpdir(), "smol-sandbox-probe-"))
  try {
    const r = spawnSync(
      "unshare",
      ["-rmnpf", "--kill-child", "--mount-proc", "sh", "-c", isolateScript, "sh", dir, "sh", "-c", "touch ok"],
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LIMIT_DATA_KB: "unlimited", LIMIT_FILE_BLOCKS: "unlimited" }, timeout: 10_000, stdio: "ignore" }
    )
    return r.status === 0
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

interface Step {
  readonly argv: ReadonlyArray<string>
  readonly timeoutSeconds: number
}

interface StepResult {
  readonly exitCode: number | null
  readonly timedOut: boolean
  readonly stdout: string
  readonly stderr: string
}

export const makeSandbox = (options: SandboxOptions = {}): Effect.Effect<CodeRunnerShape> =>
  Effect.sync(() => {
    const isolated = options.isolation !== "none" && canIsolate()
    const memoryMb = options.memoryMb ?? 1024
    const memoryKb = memoryMb * 1024
    const fileBlocks = (options.maxFileMb ?? 64) * 2048 // ulimit -f counts 512-byte blocks in sh
    const maxOutput = options.maxOutputBytes ?? 2048
    const timeouts = { ...defaultTimeouts, ...options.timeoutSeconds }
    const compileTimeout = options.compileTimeoutSeconds ?? 30
    const classpath = [".", ...(options.javaClasspath ?? [])].join(":")
    const languages = (
      [["python", "python3"], ["javascript", "node"], ["cpp", "g++"], ["java", "javac"]] as const
    ).filter(([, tool]) => has(tool)).map(([l]) => l)

    const runStep = (dir: string, step: Step): Effect.Effect<StepResult> =>
      Effect.callback<StepResult>((resume) => {
        const env = {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: dir,
          TMPDIR: dir,
          LANG: "C.UTF-8",
          LIMIT_DATA_KB: String(memoryKb),
          LIMIT_FILE_BLOCKS: String(fileBlocks)
        }
        const argv = isolated
          ? ["unshare", "-rmnpf", "--kill-child", "--mount-proc", "sh", "-c", isolateScript, "sh", dir, ...step.argv]
          : ["sh", "-c", plainScript, "sh", dir, ...step.argv]
        const child = spawn(argv[0]!, argv.slice(1), { cwd: dir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] })
        const out = { stdout: [] as Array<Buffer>, stderr: [] as Array<Buffer>, o: 0, e: 0 }
        child.stdout.on("data", (b: Buffer) => {
          if (out.o < maxOutput) out.stdout.push(b.subarray(0, maxOutput - out.o))
          out.o += b.length
        })
        child.stderr.on("data", (b: Buffer) => {
          if (out.e < maxOutput) out.stderr.push(b.subarray(0, maxOutput - out.e))
          out.e += b.length
        })
        let timedOut = false
        let done = false
        const killTree = () => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
          } catch {
            // already gone
          }
        }
        const timer = setTimeout(() => {
          timedOut = true
          killTree()
        }, step.timeoutSeconds * 1000)
        const finish = (exitCode: number | null) => {
          if (done) return
          done = true
          clearTimeout(timer)
          killTree() // stragglers left in the group by a program that exited
          resume(Effect.succeed({
            exitCode,
            timedOut,
            stdout: Buffer.concat(out.stdout).toString("utf8"),
            stderr: Buffer.concat(out.stderr).toString("utf8")
          }))
        }
        child.on("error", (e) => {
          out.stderr.push(Buffer.from(String(e)))
          finish(null)
        })
        child.on("close", (code) => finish(code))
        return Effect.sync(() => {
          clearTimeout(timer)
          killTree()
        })
      })

    const plan = (language: Language): { file: string; compile?: Step; run: Step } => {
      const t = timeouts[language]
      switch (language) {
        case "python":
          return { file: "main.py", run: { argv: ["python3", "main.py"], timeoutSeconds: t } }
        case "javascript":
          return { file: "main.js", run: { argv: ["node", "main.js"], timeoutSeconds: t } }
        case "cpp":
          return {
            file: "main.cpp",
            compile: { argv: ["g++", "main.cpp", "-o", "main", "-std=c++17"], timeoutSeconds: compileTimeout },
            run: { argv: ["./main"], timeoutSeconds: t }
          }
        case "java": {
          // The JVM sizes its heap from the machine's RAM and dies at start-up under a smaller RLIMIT_DATA, so the
          // heap is bounded below the limit; its perf-data file would go to /tmp, read-only in the sandbox.
          const jvm = ["-XX:-UsePerfData", "-XX:+UseSerialGC", `-Xmx${Math.max(32, Math.floor(memoryMb / 2))}m`, "-XX:ReservedCodeCacheSize=32m"]
          return {
            file: "Problem.java",
            compile: { argv: ["javac", ...jvm.map((f) => `-J${f}`), "-encoding", "UTF8", "-cp", classpath, "-d", ".", "Problem.java"], timeoutSeconds: compileTimeout },
            run: { argv: ["java", ...jvm, "-ea", "-cp", classpath, "Problem"], timeoutSeconds: t }
          }
        }
      }
    }

    const run = (language: Language, source: string): Effect.Effect<RunResult, CodeRunnerError> =>
      Effect.gen(function*() {
        if (!languages.includes(language)) {
          return yield* Effect.fail(new CodeRunnerError({ language, message: `no toolchain for ${language} on this machine` }))
        }
        const started = performance.now()
        const steps = plan(language)
        return yield* Effect.acquireUseRelease(
          Effect.try({
            try: () => {
              const dir = mkdtempSync(path.join(tmpdir(), "smol-sandbox-"))
              writeFileSync(path.join(dir, steps.file), source)
              return dir
            },
            catch: (e) => new CodeRunnerError({ language, message: `cannot prepare a temp dir: ${(e as Error).message}`, cause: e })
          }),
          (dir) =>
            Effect.gen(function*() {
              const seconds = () => (performance.now() - started) / 1000
              if (steps.compile !== undefined) {
                const c = yield* runStep(dir, steps.compile)
                if (c.exitCode === 97 && c.stderr.startsWith("sandbox:")) return yield* sandboxFailure(language, c)
                if (c.timedOut || c.exitCode !== 0) {
                  return { verdict: c.timedOut ? "timeout" : "compile_error", exitCode: c.exitCode, stdout: c.stdout, stderr: c.stderr, seconds: seconds() } satisfies RunResult
                }
              }
              const r = yield* runStep(dir, steps.run)
              if (r.exitCode === 97 && r.stderr.startsWith("sandbox:")) return yield* sandboxFailure(language, r)
              const verdict: Verdict = r.timedOut ? "timeout" : r.exitCode === 0 ? "pass" : "fail"
              return { verdict, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, seconds: seconds() } satisfies RunResult
            }),
          (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
      })

    return { run, languages, isolated }
  })

const sandboxFailure = (language: Language, r: StepResult) =>
  Effect.fail(new CodeRunnerError({ language, message: `the sandbox could not start: ${r.stderr.trim()}` }))
