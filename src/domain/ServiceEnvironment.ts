/**
 * What every service finds in its environment besides the daemon's own:
 * which daemon started it, and as which service. Plain constants (no
 * Effect), for `cronmon notify`'s lean path too.
 *
 * @since 0.1.0
 */

/**
 * The journal of the daemon that started the service. Its descendants
 * inherit it, so a crashed daemon's successor finds them all, whether the
 * journal names them or not; `cronmon notify` finds the daemon by it.
 *
 * @example
 * ```ts
 * const left = yield* system.marked(settings.journalPath) // processes with CRONMON_JOURNAL=journal
 * ```
 * @since 0.1.0
 */
export const SERVICE_MARK = "CRONMON_JOURNAL"

/**
 * The service's name (its file name in the scripts directory), for
 * `cronmon notify` to say which service it speaks for.
 *
 * @example
 * ```ts
 * const name = process.env[SERVICE_NAME] // "web"
 * ```
 * @since 0.1.0
 */
export const SERVICE_NAME = "CRONMON_SERVICE"

/**
 * The socket of systemd's notification protocol (`sd_notify(3)`): where
 * the service sends `READY=1` and `STATUS=`.
 *
 * @since 0.1.0
 */
export const NOTIFY_SOCKET = "NOTIFY_SOCKET"
