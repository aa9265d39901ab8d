/**
 * A checkout run on a Node too old for it (the system's, through `npm link`,
 * a symlink or `node dist/cronmon.js`) runs itself again on the Node 24 it
 * pins as a devDependency, so that `cronmon` works as written wherever the
 * system Node is older.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { loadLibc } from "./Libc.ts"

/**
 * Replaces this process (`execv`: same pid, so signals, the journal's pid
 * and the lock stay the daemon's) with the same script, arguments and Node
 * flags run by the checkout's `node_modules/.bin/node`. Returns only when
 * there is none (an installed package), it is the Node running already, or
 * the exec fails.
 *
 * @since 0.1.0
 */
export const execOnPinnedNode = (): void => {
  try {
    // dist/cronmon.js (or src/bin.ts): the checkout's root is one level up.
    const pinned = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url))
    if (!fs.existsSync(pinned) || fs.realpathSync(pinned) === fs.realpathSync(process.execPath)) return
    const script = process.argv[1]
    if (script === undefined) return
    loadLibc().exec(pinned, [pinned, ...process.execArgv, script, ...process.argv.slice(2)])
  } catch {
    // No koffi for this Node or system: the caller says which Node is needed.
  }
}
