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
}

/**
 * The fingerprint of a `stat` (which follows symlinks) if it describes a
 * service: a regular file with any execute bit set.
 *
 * @since 0.1.0
 */
export const fingerprintOf = (stats: Stats): Fingerprint | undefined =>
  stats.isFile() && (stats.mode & 0o111) !== 0
    ? { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs }
    : undefined

/**
 * Whether two fingerprints describe the same file content.
 *
 * @since 0.1.0
 */
export const sameFingerprint = (a: Fingerprint, b: Fingerprint): boolean =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs

/**
 * A change of the set of services, as the daemon acts on it.
 *
 * @since 0.1.0
 */
export type ScriptChange =
  | { readonly _tag: "Add"; readonly name: string }
  | { readonly _tag: "Update"; readonly name: string }
  | { readonly _tag: "Remove"; readonly name: string }

/**
 * The change that turns what was known of a name into what is there now, if any.
 *
 * @since 0.1.0
 */
export const diff = (
  name: string,
  before: Fingerprint | undefined,
  after: Fingerprint | undefined
): ScriptChange | undefined => {
  if (before === undefined) return after === undefined ? undefined : { _tag: "Add", name }
  if (after === undefined) return { _tag: "Remove", name }
  return sameFingerprint(before, after) ? undefined : { _tag: "Update", name }
}
