/**
 * Where a daemon's notify socket is (`NOTIFY_SOCKET`).
 *
 * @since 0.1.0
 */
import { privateSocketPath } from "./ControlSocketPath.ts"

/**
 * The notify socket of the daemon of `journal` (an absolute path), for the
 * user `uid`: always in the user's private
 * directory, where the control socket goes when it does not fit beside the
 * journal (whoever may enter the directory may send; the journal's own
 * directory is 0750), `HASH.notify`.
 *
 * @example
 * ```ts
 * notifySocketPath("/home/me/.config/cronmon/journal.json", 1000) // "/tmp/cronmon-1000/<24 hex digits>.notify"
 * ```
 * @since 0.1.0
 */
export const notifySocketPath = (journal: string, uid: number): string => privateSocketPath(journal, ".notify", uid).path
