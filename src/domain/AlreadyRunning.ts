/**
 * What every invocation but the daemon's says, every minute, from cron.
 *
 * @since 0.1.0
 */
export const ALREADY_RUNNING = "cronmon is already running"
