/**
 * Creating the directories cronmon writes into.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { errorCode, errorMessage, readFailure } from "../domain/Errors.ts"

/**
 * Creates `dir` and its missing parents with `mode`, like `mkdir -p`.
 *
 * Node's own `mkdir(…, { recursive: true })` spins forever where `mkdir`
 * keeps answering ENOENT (under `/proc`, for one), so the walk is ours: each
 * missing level is created once, and any error other than EEXIST ends it.
 *
 * @since 0.1.0
 */
export const ensureDirectory = (dir: string, mode: number): void => {
  const missing: Array<string> = []
  let current = path.resolve(dir)
  while (!fs.existsSync(current)) {
    missing.push(current)
    const parent = path.dirname(current)
    if (parent === current) break
    current = parent
  }
  for (const level of missing.reverse()) {
    try {
      fs.mkdirSync(level, { mode })
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw error
    }
  }
}

/**
 * Makes the scripts directory (`read`: it is listed) or the logs directory
 * (`write`: logs are made in it) ready: created (0750) when missing; a path
 * that exists but is not a directory, or cannot be made one, or that the
 * daemon may not `use` so, throws an error whose one line names it. Returns
 * whether it was created.
 *
 * @example
 * ```ts
 * prepareDirectory("scripts", "/home/me/.config/cronmon/scripts", "read") // true the first time
 * ```
 * @since 0.1.0
 */
export const prepareDirectory = (what: "scripts" | "logs", dir: string, use: "read" | "write"): boolean => {
  const stats = fs.statSync(dir, { throwIfNoEntry: false })
  if (stats !== undefined && !stats.isDirectory()) throw new Error(`the ${what} path ${dir} is not a directory`)
  try {
    if (stats === undefined) ensureDirectory(dir, 0o750)
  } catch (error) {
    // One line naming the directory, not Node's "ENOTDIR: …, mkdir '…'".
    throw new Error(readFailure(`the ${what} directory`, dir, error))
  }
  try {
    fs.accessSync(dir, (use === "read" ? fs.constants.R_OK : fs.constants.W_OK) | fs.constants.X_OK)
  } catch (error) {
    throw new Error(`cannot ${use === "read" ? "read" : "write to"} the ${what} directory ${dir}: ${errorMessage(error)}`)
  }
  return stats === undefined
}
