/**
 * Creating the directories cronmon writes into.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { errorCode, readFailure } from "../domain/Errors.ts"

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
 * Makes the scripts directory ready to watch: created (0750) when missing;
 * a path that exists but is not a readable directory is an error.
 *
 * @example
 * ```ts
 * prepareScriptsDirectory("/home/me/.config/cronmon/scripts")
 * ```
 * @since 0.1.0
 */
export const prepareScriptsDirectory = (dir: string): void => {
  const stats = fs.statSync(dir, { throwIfNoEntry: false })
  if (stats !== undefined && !stats.isDirectory()) throw new Error(`the scripts path ${dir} is not a directory`)
  try {
    if (stats === undefined) ensureDirectory(dir, 0o750)
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK)
  } catch (error) {
    // One line naming the directory, not Node's "ENOTDIR: …, mkdir '…'".
    throw new Error(readFailure("the scripts directory", dir, error))
  }
}
