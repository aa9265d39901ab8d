/**
 * What makes an entry of the scripts directory a service, and how to tell
 * that a service's file really changed.
 *
 * @since 0.1.0
 */
import type { Stats } from "node:fs"

const EDITOR_ARTEFACT = /(^\.)|(~$)|(\.sw[px]$)|(^#.*#$)|(^4913$)/

/**
 * Names that are never services: dotfiles (including Emacs's `.#lock` and
 * Vim's `.name.swp`), backups `*~`, swap files `*.swp`/`*.swx`, auto-saves
 * `#name#`, and Vim's write probe `4913`.
 *
 * @since 0.1.0
 */
export const isIgnoredName = (name: string): boolean =>
  name === "" || name.includes("/") || EDITOR_ARTEFACT.test(name)

/**
 * Why `name` is not a plain file name (empty, `.`, `..`, holding `/` or a
 * NUL), or `undefined` when it is one: only a plain name stays inside the
 * scripts directory.
 *
 * @example
 * ```ts
 * plainNameProblem("../outside") // "it holds a /"
 * ```
 * @since 0.1.0
 */
export const plainNameProblem = (name: string): string | undefined =>
  name === ""
    ? "it is empty"
    : name === "." || name === ".."
    ? `${name} is a directory`
    : name.includes("/")
    ? "it holds a /"
    : name.includes("\0")
    ? "it holds a NUL"
    : undefined

/**
 * The identity and content stamp of a service file: a save that replaces the
 * file changes `ino`, one that rewrites it in place changes `size` or `mtimeMs`
 * (as does `touch`, the usual way to ask for a restart).
 *
 * @since 0.1.0
 */
export interface Fingerprint {
  readonly dev: number
  readonly ino: number
  readonly size: number
  readonly mtimeMs: number
  /**
   * Why strict modes refuse to run the file (its mode or owner, or its
   * directory's), if they do: a chmod or chown that fixes, or breaks, it
   * changes the fingerprint.
   */
  readonly refusal?: string
}

/**
 * The fingerprint of a `stat` (which follows symlinks) if it describes a
 * service: a regular file with any execute bit set.
 *
 * @since 0.1.0
 */
export const fingerprintOf = (stats: Stats, refusal?: string): Fingerprint | undefined =>
  stats.isFile() && (stats.mode & 0o111) !== 0
    ? {
      dev: stats.dev,
      ino: stats.ino,
      size: stats.size,
      mtimeMs: stats.mtimeMs,
      ...(refusal === undefined ? {} : { refusal })
    }
    : undefined

/**
 * What a look at a name finds that is no service yet still there: a regular
 * file without an execute bit (`chmod -x`).
 *
 * @since 0.1.0
 */
export const NOT_EXECUTABLE = "not executable"

/**
 * What a look at a name finds: a service's fingerprint, a file that is
 * `NOT_EXECUTABLE`, or nothing that could be a service (`undefined`).
 *
 * @since 0.1.0
 */
export type Inspection = Fingerprint | typeof NOT_EXECUTABLE | undefined

/**
 * Why strict modes refuse `file` (a script, or the scripts directory when
 * `script` names the script in it), as cron and sshd do: writable by group
 * or others, or owned by neither `uid` (the daemon's user) nor root. The
 * reason says how to fix it.
 *
 * @example
 * ```ts
 * strictModesRefusal("/srv/scripts/web", { mode: 0o100777, uid: 0 }, 0)
 * // "/srv/scripts/web is writable by group or others (mode 0777): not run; fix it with `chmod go-w /srv/scripts/web`..."
 * ```
 * @since 0.1.0
 */
export const strictModesRefusal = (
  file: string,
  stats: { readonly mode: number; readonly uid: number },
  uid: number,
  script?: string
): string | undefined => {
  const what = script === undefined ? file : `the scripts directory ${file}`
  const outcome = script === undefined ? "not run" : `${script} is not run`
  const escape = " (or run cronmon with --no-strict-modes)"
  if (stats.uid !== uid && stats.uid !== 0) {
    return `${what} is owned by uid ${stats.uid}, neither cronmon's user (uid ${uid}) nor root: ${outcome}; ` +
      `fix it with \`chown ${uid} ${file}\`${escape}`
  }
  if ((stats.mode & 0o022) !== 0) {
    const mode = (stats.mode & 0o7777).toString(8).padStart(4, "0")
    return `${what} is writable by group or others (mode ${mode}): ${outcome}; fix it with \`chmod go-w ${file}\`${escape}`
  }
  return undefined
}

/**
 * Whether two fingerprints describe the same file content.
 *
 * @since 0.1.0
 */
export const sameFingerprint = (a: Fingerprint, b: Fingerprint): boolean =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.refusal === b.refusal

/**
 * A change of the set of services, as the daemon acts on it.
 *
 * @since 0.1.0
 */
export type ScriptChange =
  | { readonly _tag: "Add"; readonly name: string }
  | { readonly _tag: "Update"; readonly name: string }
  /** `reason`: the file is still there, but no longer executable. */
  | { readonly _tag: "Remove"; readonly name: string; readonly reason?: typeof NOT_EXECUTABLE }
  /** A service file strict modes refuse: it must not run; `reason` says why and how to fix it. */
  | { readonly _tag: "Refuse"; readonly name: string; readonly reason: string }

/**
 * What a watcher says: the changes, and once, after the `Add`s of its first
 * scan, `Scanned` (every service present when watching began is said).
 *
 * @since 0.1.0
 */
export type WatcherEvent = ScriptChange | { readonly _tag: "Scanned" }

/**
 * The change that turns what was known of a name into what is there now, if
 * any. A refused file is no service: it is refused once, then again only when
 * it changes; fixed, it is added.
 *
 * @since 0.1.0
 */
export const diff = (
  name: string,
  before: Fingerprint | undefined,
  inspected: Inspection
): ScriptChange | undefined => {
  const after = inspected === NOT_EXECUTABLE ? undefined : inspected
  if (after?.refusal !== undefined) {
    return before !== undefined && sameFingerprint(before, after)
      ? undefined
      : { _tag: "Refuse", name, reason: after.refusal }
  }
  if (before === undefined || before.refusal !== undefined) {
    return after === undefined ? undefined : { _tag: "Add", name }
  }
  if (after === undefined) return inspected === NOT_EXECUTABLE ? { _tag: "Remove", name, reason: NOT_EXECUTABLE } : { _tag: "Remove", name }
  return sameFingerprint(before, after) ? undefined : { _tag: "Update", name }
}
