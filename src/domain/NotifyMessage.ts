/**
 * systemd's notification messages (`sd_notify(3)`): what one datagram says,
 * read as systemd reads it.
 *
 * @since 0.1.0
 */

/**
 * The largest message read: systemd's own receive buffer (`PIPE_BUF`).
 * A longer datagram is cut by the kernel and ignored whole.
 *
 * @since 0.1.0
 */
export const NOTIFY_MESSAGE_MAX_BYTES = 4096

/**
 * The `KEY=value` lines of one datagram, in a map: empty lines and lines
 * without `=` (or with an empty key) are skipped; a value may hold `=`; of a
 * key given twice the first counts, as in systemd (`strv_find_startswith`).
 * `undefined` for a datagram holding a NUL byte, which systemd ignores whole.
 *
 * @example
 * ```ts
 * parseNotifyMessage(Buffer.from("READY=1\nSTATUS=up: 3 workers")) // Map { READY → "1", STATUS → "up: 3 workers" }
 * ```
 * @since 0.1.0
 */
export const parseNotifyMessage = (data: Uint8Array): ReadonlyMap<string, string> | undefined => {
  if (data.includes(0)) return undefined
  const fields = new Map<string, string>()
  // Buffer's own decoding (U+FFFD for what is not UTF-8): a TextDecoder
  // cost about 9 µs a datagram over the receiver's C memory.
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8")
  for (const line of text.split("\n")) {
    const equals = line.indexOf("=")
    if (equals <= 0) continue
    const key = line.slice(0, equals)
    if (!fields.has(key)) fields.set(key, line.slice(equals + 1))
  }
  return fields
}

/**
 * What a message means for the service that sent it: the keys of
 * `sd_notify(3)` cronmon acts on or must tolerate. A flag is set only by
 * its exact value `1`, as systemd reads it.
 *
 * @since 0.1.0
 */
export interface NotifyMeaning {
  /** `READY=1`: startup finished, the service serves. */
  readonly ready: boolean
  /** `STOPPING=1`: the service is shutting down. */
  readonly stopping: boolean
  /** `RELOADING=1`: the service reloads its configuration (until `READY=1`). */
  readonly reloading: boolean
  /** `WATCHDOG=1`: a keep-alive ping. */
  readonly watchdog: boolean
  /** `BARRIER=1`: the sender waits for its descriptor to be closed (done on receipt). */
  readonly barrier: boolean
  /** `STATUS=`: a line of free text about the service's state. */
  readonly status: string | undefined
  /** `MAINPID=`: the service's main process, when a positive integer. */
  readonly mainPid: number | undefined
}

/**
 * Reads the known keys of a parsed message; unknown keys are ignored.
 *
 * @example
 * ```ts
 * notifyMeaning(parseNotifyMessage(datagram) ?? new Map()).ready
 * ```
 * @since 0.1.0
 */
export const notifyMeaning = (fields: ReadonlyMap<string, string>): NotifyMeaning => {
  const flag = (key: string) => fields.get(key) === "1"
  const mainPid = fields.get("MAINPID")
  return {
    ready: flag("READY"),
    stopping: flag("STOPPING"),
    reloading: flag("RELOADING"),
    watchdog: flag("WATCHDOG"),
    barrier: flag("BARRIER"),
    status: fields.get("STATUS"),
    mainPid: mainPid !== undefined && /^[1-9]\d{0,9}$/.test(mainPid) && Number(mainPid) <= 0x7fffffff
      ? Number(mainPid)
      : undefined
  }
}
