/**
 * Running `cronmon` again in the same process (`execv`: same pid, so
 * signals, the journal's pid and the lock stay the daemon's), on another
 * Node or with other Node flags:
 * - a checkout run on a Node too old for it (the system's, through `npm
 *   link`, a symlink or `node dist/cronmon.js`) runs on the Node 24 it pins
 *   as a devDependency, so that `cronmon` works as written wherever the
 *   system Node is older;
 * - the daemon runs with the V8 flags of a small long-lived process
 *   (`DAEMON_NODE_FLAGS`), however it was started: `npm start`, the cron
 *   lines, the installed bin.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { loadLibc } from "./Libc.ts"

// Replaces this process with the same script, arguments and Node flags run
// by `node`, with `flags` first. Returns only when the exec fails.
// `process.execve` (Node 22.15 and later) spares loading koffi (27 ms of a
// daemon's start) but aborts the process when the exec fails: it runs only
// the Node that runs now.
const execNode = (node: string, flags: ReadonlyArray<string>): void => {
  const script = process.argv[1]
  if (script === undefined) return
  const argv = [node, ...flags, ...process.execArgv, script, ...process.argv.slice(2)]
  if (node === process.execPath && typeof process.execve === "function") process.execve(node, argv, process.env)
  else loadLibc().exec(node, argv)
}

/**
 * Runs this process again on the checkout's `node_modules/.bin/node`.
 * Returns only when there is none (an installed package), it is the Node
 * running already, or the exec fails.
 *
 * @since 0.1.0
 */
export const execOnPinnedNode = (): void => {
  try {
    // dist/cronmon.js (or src/bin.ts): the checkout's root is one level up.
    const pinned = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url))
    if (!fs.existsSync(pinned) || fs.realpathSync(pinned) === fs.realpathSync(process.execPath)) return
    execNode(pinned, [])
  } catch {
    // No koffi for this Node or system: the caller says which Node is needed.
  }
}

/**
 * The daemon's V8 flags (measured in BENCHMARKS.md): a young generation
 * capped at 1 MiB per semi-space (it otherwise grows to tens of MiB under
 * steady restarts and stays grown), V8's lite mode (its interpreter alone,
 * `--jitless`, with sizes chosen for memory: no compiled code, no compile
 * jobs' memory, fewer of the binary's pages touched; the daemon's work is
 * short-lived code that compilers rarely pay for), and `gc()`, which the
 * daemon calls before it gives memory back once activity quiets. Never on
 * the cron tick: flags other than the semi-space size make Node reject its
 * built-in code cache, which costs every start.
 *
 * @since 0.1.0
 */
export const DAEMON_NODE_FLAGS: ReadonlyArray<string> = ["--max-semi-space-size=1", "--lite-mode", "--expose-gc"]

// `--name=value` and `--name value` both set `--name`, and `--no-name`
// unsets it (given, it stands); V8 reads `_` as `-`.
const flagName = (flag: string) => flag.replace(/=.*$/, "").replaceAll("_", "-").replace(/^--no-/, "--")

const TYPESCRIPT = /\.[cm]?ts$/

/**
 * The flags of `DAEMON_NODE_FLAGS` that a Node started with `execArgv` to
 * run `script` lacks: a flag given in any form (`--max-semi-space-size=4`,
 * `--no-lite-mode`) stands. Not lite mode for a TypeScript script (run
 * from a checkout's `src/`): Node strips types with WebAssembly, which lite
 * mode turns off.
 *
 * @example
 * ```ts
 * missingDaemonFlags(["--no-lite-mode"], "dist/cronmon.js") // ["--max-semi-space-size=1", "--expose-gc"]
 * ```
 * @since 0.1.0
 */
export const missingDaemonFlags = (execArgv: ReadonlyArray<string>, script: string): ReadonlyArray<string> => {
  const given = new Set(execArgv.map(flagName))
  if (TYPESCRIPT.test(script)) given.add("--lite-mode")
  return DAEMON_NODE_FLAGS.filter((flag) => !given.has(flagName(flag)))
}

/**
 * Runs this process again with the flags of `DAEMON_NODE_FLAGS` it lacks
 * (`missingDaemonFlags`), so once. Returns when none is missing, or when
 * the exec fails (the daemon then runs with the flags it has).
 *
 * @since 0.1.0
 */
export const execWithDaemonFlags = (): void => {
  // A flag given in NODE_OPTIONS stands too.
  const fromEnvironment = (process.env["NODE_OPTIONS"] ?? "").split(/\s+/).filter((word) => word.startsWith("--"))
  const missing = missingDaemonFlags([...fromEnvironment, ...process.execArgv], process.argv[1] ?? "")
  if (missing.length === 0) return
  try {
    execNode(process.execPath, missing)
  } catch {
    // No koffi here: the daemon runs as it was started.
  }
}
