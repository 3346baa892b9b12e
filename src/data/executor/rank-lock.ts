/**
 * Which process is running a rank right now: `locks/<rank:05d>.json` holds the pid, host and start time of the
 * process that runs it, written when the rank starts and removed when it ends (however it ends, short of a
 * SIGKILL). A rerun that finds a rank held by a live process does not start a second one on it: two writers of
 * the same deterministic output names would replace each other's files. A lock whose process is gone (killed,
 * crashed, the machine rebooted) is stale and simply replaced.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs"
import { hostname } from "node:os"
import * as path from "node:path"
import { writeFileAtomicSync } from "../io/atomic.ts"
import { rankLockPath } from "./rank-files.ts"

export interface RankLock {
  readonly pid: number
  readonly host: string
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): tells a reused pid apart. */
  readonly startTicks: number | null
  /** ISO time the rank started, for the message a person reads. */
  readonly since: string
}

/** /proc/<pid>/stat after the command name, which may itself contain spaces and parentheses. */
const procStat = (pid: number): Array<string> | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}

const startTicksOf = (pid: number): number | null => {
  const fields = procStat(pid)
  // Field 22 of the whole line; fields[0] here is field 3 (the state).
  return fields === undefined ? null : Number(fields[19])
}

/**
 * Whether `pid` is a running process. A killed process whose parent died too can stay a zombie where nothing reaps
 * orphans (containers whose PID 1 is not an init): it answers kill(0) but will never do anything again.
 */
export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
  const fields = procStat(pid)
  return fields === undefined || fields[0] !== "Z"
}

export const readRankLock = (dir: string, rank: number): RankLock | undefined => {
  try {
    return JSON.parse(readFileSync(rankLockPath(dir, rank), "utf8")) as RankLock
  } catch {
    return undefined
  }
}

/**
 * The live process holding `rank`, or undefined. A lock from another host cannot be checked from here (Slurm
 * runs ranks on other nodes, and keeps its own account of them); it does not stop a local run.
 */
export const liveRankHolder = (dir: string, rank: number): RankLock | undefined => {
  const lock = readRankLock(dir, rank)
  if (lock === undefined || lock.host !== hostname() || lock.pid === process.pid || !isProcessAlive(lock.pid)) return undefined
  // Same pid, other start time: the holder died and the pid was given to an unrelated process.
  if (lock.startTicks !== null && startTicksOf(lock.pid) !== null && startTicksOf(lock.pid) !== lock.startTicks) return undefined
  return lock
}

/** Mark `rank` as run by this process (replacing a stale lock; the caller checked `liveRankHolder` first). */
export const writeRankLock = (dir: string, rank: number): void => {
  const file = rankLockPath(dir, rank)
  mkdirSync(path.dirname(file), { recursive: true })
  const lock: RankLock = { pid: process.pid, host: hostname(), startTicks: startTicksOf(process.pid), since: new Date().toISOString() }
  writeFileAtomicSync(file, JSON.stringify(lock) + "\n")
}

/** Remove this process's lock on `rank` (never another process's: a rank may have been taken over meanwhile). */
export const releaseRankLock = (dir: string, rank: number): void => {
  const lock = readRankLock(dir, rank)
  if (lock !== undefined && lock.pid === process.pid && lock.host === hostname()) rmSync(rankLockPath(dir, rank), { force: true })
}
