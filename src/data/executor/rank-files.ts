/**
 * Where a rank's files live under a job's logging folder, datatrove's layout (completions/, stats/, logs/) plus
 * ours: progress/ (read by the parent for its progress line), errors/ (the error that failed a rank, for the
 * parent's message) and locks/ (the process running a rank now, see rank-lock.ts). Ranks are zero-padded to 5
 * digits, as datatrove names them.
 */
import * as path from "node:path"

export const pad5 = (rank: number) => String(rank).padStart(5, "0")
export const completionPath = (dir: string, rank: number) => path.join(dir, "completions", pad5(rank))
export const statsPath = (dir: string, rank: number) => path.join(dir, "stats", `${pad5(rank)}.json`)
export const taskLogPath = (dir: string, rank: number) => path.join(dir, "logs", `task_${pad5(rank)}.log`)
export const progressPath = (dir: string, rank: number) => path.join(dir, "progress", `${pad5(rank)}.json`)
export const errorPath = (dir: string, rank: number) => path.join(dir, "errors", `${pad5(rank)}.json`)
export const rankLockPath = (dir: string, rank: number) => path.join(dir, "locks", `${pad5(rank)}.json`)
