/**
 * The benches' datatrove reference: a Python script run on the same input, single-threaded, that prints one JSON
 * line last. The Python is `--datatrove-python PATH` or DATATROVE_PYTHON; without either there is none.
 */
import { spawnSync } from "node:child_process"

export const referencePython = (flag: string | undefined): string | undefined => flag ?? process.env["DATATROVE_PYTHON"]

/** The script's last output line, parsed; undefined (with its stderr shown) when it fails. */
export const runPythonReference = <A>(python: string, script: string, args: ReadonlyArray<string>, input: unknown): A | undefined => {
  const r = spawnSync(python, ["-c", script, ...args], {
    input: JSON.stringify(input),
    encoding: "utf8",
    maxBuffer: 1 << 28,
    env: { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" }
  })
  if (r.status !== 0) {
    console.error(`datatrove run failed (${python}): ${(r.stderr ?? String(r.error)).slice(-2000)}`)
    return undefined
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as A
}
