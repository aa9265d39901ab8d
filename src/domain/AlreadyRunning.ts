/**
 * What an invocation says when a daemon already holds the journal: every
 * minute from cron, and to whoever starts a second daemon by hand.
 *
 * @since 0.1.0
 */

/**
 * The first words of it, whatever else is known.
 *
 * @since 0.1.0
 */
export const ALREADY_RUNNING = "cronmon is already running"

/**
 * What the journal's current session says of the daemon that runs: its pid
 * and the scripts directory it watches (journals of the Go original, and
 * sessions that began too far back, say neither).
 *
 * @since 0.1.0
 */
export interface RunningDaemon {
  readonly pid?: number | undefined
  readonly scripts?: string | undefined
}

/**
 * The lines said: `cronmon is already running (pid 4242, scripts DIR)`, and a
 * warning when it watches another directory than `asked`.
 *
 * @example
 * ```ts
 * alreadyRunning({ pid: 4242, scripts: "/srv/a" }, "/srv/b")
 * // "cronmon is already running (pid 4242, scripts /srv/a)\ncronmon: warning: …"
 * ```
 * @since 0.1.0
 */
export const alreadyRunning = (running: RunningDaemon, asked?: string): string => {
  const { pid, scripts } = running
  const known = [...(pid === undefined ? [] : [`pid ${pid}`]), ...(scripts === undefined ? [] : [`scripts ${scripts}`])]
  const first = known.length === 0 ? ALREADY_RUNNING : `${ALREADY_RUNNING} (${known.join(", ")})`
  if (scripts === undefined || asked === undefined || scripts === asked) return first
  return `${first}\ncronmon: warning: it watches ${scripts}, not ${asked}: stop it first to watch another ` +
    `directory with this journal, or give ${asked} a journal of its own (-j)`
}
