/**
 * What the tests against a real Slurm share: whether a controller answers here with a node ready, whether this is
 * CI (where they must fail rather than skip), and running a program as a person would without blocking the test.
 */
import { spawn, spawnSync } from "node:child_process"
import * as path from "node:path"

export const repositoryRoot = path.resolve(import.meta.dirname, "..", "..")

/** Whether a Slurm controller answers here and has a node ready; why not, if not. */
export const probeSlurm = (): { ok: true } | { ok: false; why: string } => {
  const ping = spawnSync("scontrol", ["ping"], { encoding: "utf8", timeout: 15_000 })
  if (ping.error !== undefined) return { ok: false, why: `scontrol: ${ping.error.message}` }
  if (ping.status !== 0 || !/UP/.test(ping.stdout)) return { ok: false, why: `scontrol ping: ${(ping.stdout + ping.stderr).trim()}` }
  const nodes = spawnSync("sinfo", ["-h", "-N", "-o", "%t"], { encoding: "utf8", timeout: 15_000 })
  if (!/^(idle|mix|alloc)/m.test(nodes.stdout ?? "")) return { ok: false, why: `no node ready (sinfo: ${(nodes.stdout ?? "").trim() || nodes.stderr})` }
  return { ok: true }
}

export const inCI = (process.env["CI"] ?? "") !== "" && process.env["CI"] !== "false"

export interface Ran {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `program` (a path under the repository) as a person would, without blocking the test's process. */
export const runProgram = (program: string, args: ReadonlyArray<string>): Promise<Ran> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", program, ...args], { cwd: repositoryRoot, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("exit", (status) => resolve({ status, stdout, stderr }))
  })
