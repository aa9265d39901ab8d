/**
 * A look at one file of the scripts directory as the daemon judges it:
 * what the watcher's settler compares, and what a request for a name the
 * daemon does not run is answered with.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fingerprintOf, type Inspection, NOT_EXECUTABLE, strictModesRefusal } from "../domain/ServiceFile.ts"

/**
 * The uid that strict modes judge files against (the daemon's), or
 * `undefined` when they are off, or where there are no uids (Windows):
 * there is nothing to be strict about.
 *
 * @since 0.1.0
 */
export const strictModesUid = (strictModes: boolean): number | undefined =>
  strictModes ? process.getuid?.() : undefined

/**
 * The service fingerprint of `dir/name` now (following a symlink);
 * `NOT_EXECUTABLE` for a regular file without an execute bit; `undefined`
 * when it is missing or anything else. With `uid` (`strictModesUid`'s),
 * the fingerprint carries why strict modes refuse the file or its
 * directory, if they do.
 *
 * @since 0.1.0
 */
export const inspectFile = (
  dir: string,
  name: string,
  uid?: number
): Effect.Effect<Inspection> =>
  Effect.promise(async () => {
    const file = path.join(dir, name)
    try {
      const stats = await fs.promises.stat(file)
      if (stats.isFile() && (stats.mode & 0o111) === 0) return NOT_EXECUTABLE
      if (uid === undefined) return fingerprintOf(stats)
      const refusal = strictModesRefusal(dir, await fs.promises.stat(dir), uid, name) ??
        strictModesRefusal(file, stats, uid)
      return fingerprintOf(stats, refusal)
    } catch {
      return undefined
    }
  })
