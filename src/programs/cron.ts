/**
 * `cronmon cron`: the crontab lines that keep cronmon running.
 *
 * @since 0.1.0
 */

/**
 * Quotes a word for the shell cron runs (`/bin/sh`); `%` is escaped because
 * cron turns it into a newline.
 *
 * @since 0.1.0
 */
export const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`).replaceAll("%", "\\%")}'`

/**
 * The crontab: start at boot, and every minute (a no-op while a daemon holds
 * the journal). Output goes nowhere: the journal is the record, and a line on
 * stderr every minute would become a mail every minute.
 *
 * @example
 * ```ts
 * crontab(["/usr/bin/node", "/opt/cronmon/dist/cronmon.js", "-j", "/home/me/j.json"])
 * ```
 * @since 0.1.0
 */
export const crontab = (command: ReadonlyArray<string>): string => {
  const line = `${command.map(quote).join(" ")} >/dev/null 2>&1`
  return [
    "# cronmon: keep every executable of the scripts directory running.",
    // Adding to the crontab, not replacing it: `cronmon cron | crontab -` would drop the user's entries.
    "# Add to your crontab, keeping its entries: (crontab -l 2>/dev/null; cronmon cron) | crontab -",
    `@reboot ${line}`,
    `* * * * * ${line}`,
    ""
  ].join("\n")
}
