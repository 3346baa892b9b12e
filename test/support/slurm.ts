/**
 * What the tests against a real Slurm share: a controller answering here with a node ready (started with
 * .ci/slurm-up.sh when it is installed but down and the tests run as root, as in CI), and running a program as a
 * person would without blocking the test. They never skip: without Slurm they fail, saying how to get one.
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

/** The probe, after starting the single-node cluster of .ci/slurm-up.sh if Slurm is down and this is root. */
export const slurmForTests = (): { ok: true } | { ok: false; why: string } => {
  const first = probeSlurm()
  if (first.ok || process.getuid?.() !== 0) return first
  const up = spawnSync(path.join(repositoryRoot, ".ci", "slurm-up.sh"), [], { encoding: "utf8", timeout: 180_000 })
  if (up.status !== 0) return { ok: false, why: `${first.why}; .ci/slurm-up.sh: ${(up.stdout + up.stderr).trim().split("\n").at(-1)}` }
  return probeSlurm()
}

/** Why a Slurm test cannot run, and how to make it run. */
export const noSlurm = (why: string) =>
  new Error(`Slurm does not answer here: ${why}. These tests need a single-node Slurm: install Debian's slurm-wlm and munge, then \`sudo .ci/slurm-up.sh\` (.ci/run does both).`)


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
