/**
 * Where a daemon's notify socket is (`NOTIFY_SOCKET`): in a directory only
 * the user can enter, named from the journal's path.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as path from "node:path"

/**
 * The notify socket of the daemon of `journal` (an absolute path), for the
 * user `uid` in the environment `env`: `$XDG_RUNTIME_DIR/cronmon/HASH.notify`,
 * else `/tmp/cronmon-UID/HASH.notify`.
 *
 * @example
 * ```ts
 * notifySocketPath("/home/me/.config/cronmon/journal.json", {}, 1000) // "/tmp/cronmon-1000/….notify"
 * ```
 * @since 0.1.0
 */
export const notifySocketPath = (
  journal: string,
  env: Readonly<Record<string, string | undefined>>,
  uid: number
): string => {
  const name = `${createHash("sha256").update(journal).digest("hex").slice(0, 24)}.notify`
  const runtime = env["XDG_RUNTIME_DIR"]
  const dir = runtime !== undefined && path.isAbsolute(runtime) ? path.join(runtime, "cronmon") : `/tmp/cronmon-${uid}`
  return path.join(dir, name)
}
