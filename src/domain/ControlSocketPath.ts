/**
 * Where a daemon's control socket is: beside its journal, `JOURNAL.sock`
 * (`~/.config/cronmon/journal.json.sock` by default). A socket address holds
 * at most 107 bytes of path; when that one is longer, the socket goes to a
 * directory only the user can enter, named from the journal's path:
 * `/tmp/cronmon-UID/HASH.sock`. Server and client find it the same way from
 * the journal and the uid alone: a daemon started by cron (no
 * `XDG_RUNTIME_DIR`) and a command from a login shell meet there, and
 * logind's removal of `/run/user/UID` at logout cannot take it away. The
 * notify socket (`NOTIFY_SOCKET`) is always in that directory
 * (`HASH.notify`). No Effect here: the CLI's lean paths may load it.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as path from "node:path"

/**
 * The longest path a Unix socket address holds on Linux: `sun_path` is 108
 * bytes, the last a NUL.
 *
 * @since 0.1.0
 */
export const SOCKET_PATH_MAX_BYTES = 107

/**
 * A control socket's path, and the private directory that holds it when it
 * is not beside the journal (the server creates it 0700; both sides refuse
 * it when another user owns it or may enter it).
 *
 * @since 0.1.0
 */
export interface ControlSocketPath {
  readonly path: string
  readonly privateDirectory: string | undefined
}

/**
 * The prefix of the directory the server binds the socket in (made by
 * `mkdtemp`, beside the socket's path) before it renames it into place.
 *
 * @since 0.1.0
 */
export const STAGING_PREFIX = ".cm-"

const fits = (file: string) => Buffer.byteLength(file) <= SOCKET_PATH_MAX_BYTES

// The socket and where it is bound first both fit.
const fitsWithStaging = (file: string) =>
  fits(file) && fits(path.join(path.dirname(file), `${STAGING_PREFIX}XXXXXX`, "s"))

/**
 * The control socket of the daemon of `journal` (an absolute path), for the
 * user `uid`.
 *
 * @example
 * ```ts
 * controlSocketPath("/home/me/.config/cronmon/journal.json", 1000)
 * // { path: "/home/me/.config/cronmon/journal.json.sock", privateDirectory: undefined }
 * ```
 * @since 0.1.0
 */
export const controlSocketPath = (journal: string, uid: number): ControlSocketPath => {
  const beside = `${journal}.sock`
  return fitsWithStaging(beside) ? { path: beside, privateDirectory: undefined } : privateSocketPath(journal, ".sock", uid)
}

/**
 * A socket of the daemon of `journal` in the user's private directory,
 * `/tmp/cronmon-UID/HASH.EXT`, named from the journal's path and
 * `extension`: the control socket's place when it does not fit beside the
 * journal, and always the notify socket's.
 *
 * @example
 * ```ts
 * privateSocketPath("/home/me/.config/cronmon/journal.json", ".notify", 1000)
 * // { path: "/tmp/cronmon-1000/<24 hex digits>.notify", privateDirectory: "/tmp/cronmon-1000" }
 * ```
 * @since 0.1.0
 */
export const privateSocketPath = (
  journal: string,
  extension: string,
  uid: number
): ControlSocketPath & { readonly privateDirectory: string } => {
  const privateDirectory = `/tmp/cronmon-${uid}`
  const name = `${createHash("sha256").update(journal).digest("hex").slice(0, 24)}${extension}`
  return { path: path.join(privateDirectory, name), privateDirectory }
}

/**
 * Why a private directory cannot hold the control socket (`undefined` when
 * it can): from its `lstat`, it must be a directory (not a symlink), owned
 * by `uid`, that no one else may enter or write.
 *
 * @example
 * ```ts
 * privateDirectoryProblem({ uid: 0, mode: 0o40777, isDirectory: () => true, isSymbolicLink: () => false }, 0)
 * // "it is open to others (mode 0777)"
 * ```
 * @since 0.1.0
 */
export const privateDirectoryProblem = (
  stats: {
    readonly uid: number
    readonly mode: number
    readonly isDirectory: () => boolean
    readonly isSymbolicLink: () => boolean
  },
  uid: number
): string | undefined =>
  stats.isSymbolicLink()
    ? "it is a symbolic link"
    : !stats.isDirectory()
    ? "it is not a directory"
    : stats.uid !== uid
    ? `it belongs to another user (uid ${stats.uid})`
    : (stats.mode & 0o077) !== 0
    ? `it is open to others (mode ${(stats.mode & 0o777).toString(8).padStart(4, "0")})`
    : undefined
