/**
 * What both control clients (the lean path's and `ControlClient`) and the
 * server say the same way about the control socket: where this process
 * finds it, whether its private directory may be trusted, and why a
 * connection to it failed; and the one way the daemon readies the place of
 * a socket it binds (the control socket, the notify socket). Plain Node, no
 * Effect: the lean path loads it.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { type ControlSocketPath, controlSocketPath, privateDirectoryProblem } from "../domain/ControlSocketPath.ts"
import { errorMessage } from "../domain/Errors.ts"
import { ensureDirectory } from "./Directories.ts"

// No uids on Windows: 0 stands in.
const uid = process.getuid?.() ?? 0

/**
 * The control socket of the daemon of `journal` (absolute), for this
 * process's user.
 *
 * @example
 * ```ts
 * controlSocketOf("/home/me/.config/cronmon/journal.json").path // "/home/me/.config/cronmon/journal.json.sock"
 * ```
 * @since 0.1.0
 */
export const controlSocketOf = (journal: string): ControlSocketPath => controlSocketPath(journal, uid)

/**
 * Why the socket's private directory is not to be trusted (it is a symbolic
 * link, another user's, or open to others), in the words every side says
 * it; `undefined` when the socket is beside its journal, or the directory
 * is fine or missing (a connection then finds no socket).
 *
 * @example
 * ```ts
 * socketDirectoryRefusal({ path: "/tmp/cronmon-0/ab.sock", privateDirectory: "/tmp/cronmon-0" })
 * // "the socket's directory /tmp/cronmon-0 is refused: it is open to others (mode 0755)"
 * ```
 * @since 0.1.0
 */
export const socketDirectoryRefusal = (socket: ControlSocketPath): string | undefined => {
  const dir = socket.privateDirectory
  if (dir === undefined) return undefined
  let problem: string | undefined
  try {
    const stats = fs.lstatSync(dir, { throwIfNoEntry: false })
    problem = stats === undefined ? undefined : privateDirectoryProblem(stats, uid)
  } catch {
    problem = "it cannot be looked at"
  }
  return problem === undefined ? undefined : `the socket's directory ${dir} is refused: ${problem}`
}

/**
 * Readies the place of a socket the daemon binds (only the daemon holding
 * the journal's lock gets here): its private directory, if any, made 0700
 * when missing and checked; a socket left at its path (by a daemon that
 * crashed) removed, anything else refused. Returns why not, in one line.
 *
 * @since 0.1.0
 */
export const socketPlaceRefusal = (socket: ControlSocketPath): string | undefined => {
  const dir = socket.privateDirectory
  try {
    if (dir !== undefined) ensureDirectory(dir, 0o700)
  } catch (error) {
    return `cannot make its directory ${dir}: ${errorMessage(error)}`
  }
  const refusal = socketDirectoryRefusal(socket)
  if (refusal !== undefined) return refusal
  try {
    const there = fs.lstatSync(socket.path, { throwIfNoEntry: false })
    if (there !== undefined && !there.isSocket()) return "a file that is not a socket is in the way"
    fs.rmSync(socket.path, { force: true })
  } catch (error) {
    return `cannot replace the socket left there: ${errorMessage(error)}`
  }
}

/**
 * Why a connection to the socket at `socket` failed with the errno `code`
 * (`message`: the error's own words): it refuses this user
 * (`PermissionDenied`), or no daemon answers there (`NoDaemon`, why).
 *
 * @example
 * ```ts
 * connectFailure("ECONNREFUSED", "/srv/journal.json.sock", "connect ECONNREFUSED")
 * // { _tag: "NoDaemon", reason: "nobody listens on /srv/journal.json.sock" }
 * ```
 * @since 0.1.0
 */
export const connectFailure = (
  code: string | undefined,
  socket: string,
  message: string
): { readonly _tag: "PermissionDenied" } | { readonly _tag: "NoDaemon"; readonly reason: string } => {
  switch (code) {
    case "EACCES":
    case "EPERM":
      return { _tag: "PermissionDenied" }
    case "ENOENT":
      return { _tag: "NoDaemon", reason: `no control socket at ${socket}` }
    case "ECONNREFUSED":
      return { _tag: "NoDaemon", reason: `nobody listens on ${socket}` }
    default:
      return { _tag: "NoDaemon", reason: `cannot connect to ${socket}: ${message}` }
  }
}
