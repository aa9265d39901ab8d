/**
 * Default locations, following the XDG base directory specification.
 *
 * @since 0.1.0
 */
import * as path from "node:path"

type Environment = Readonly<Record<string, string | undefined>>

const base = (env: Environment, variable: string, fallback: string): string => {
  const value = env[variable]
  // The specification ignores relative values.
  if (value !== undefined && path.isAbsolute(value)) return value
  return path.join(env["HOME"] ?? "/", fallback)
}

/**
 * The default scripts directory, journal and logs directory.
 *
 * @example
 * ```ts
 * defaultPaths(process.env).journal // "/home/me/.config/cronmon/journal.json"
 * ```
 * @since 0.1.0
 */
export const defaultPaths = (env: Environment) => {
  const config = path.join(base(env, "XDG_CONFIG_HOME", ".config"), "cronmon")
  const state = path.join(base(env, "XDG_STATE_HOME", path.join(".local", "state")), "cronmon")
  return {
    scripts: path.join(config, "scripts"),
    journal: path.join(config, "journal.json"),
    logs: path.join(state, "logs")
  } as const
}

/**
 * Where the daemon keeps Node's compile cache of its own code: the user's
 * cache directory (never a shared one such as `/tmp`, where another user
 * could leave code for it to run).
 *
 * @example
 * ```ts
 * compileCacheDirectory({ HOME: "/home/me" }) // "/home/me/.cache/cronmon/node-compile-cache"
 * ```
 * @since 0.1.0
 */
export const compileCacheDirectory = (env: Environment): string =>
  path.join(base(env, "XDG_CACHE_HOME", ".cache"), "cronmon", "node-compile-cache")

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|millis|milliseconds?|seconds?|minutes?|hours?|days?)?$/

const UNIT_MILLIS: Readonly<Record<string, number>> = {
  ms: 1, millis: 1, millisecond: 1, milliseconds: 1,
  s: 1000, second: 1000, seconds: 1000,
  m: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000
}

/**
 * Parses a duration flag: `3`, `3s`, `1.5 s`, `500ms`, `2m`, `1 hour`,
 * `1d`, `2 days`; a bare number is seconds. Returns milliseconds, or
 * `undefined`.
 *
 * @example
 * ```ts
 * parseDurationMillis("1d") // 86400000
 * ```
 * @since 0.1.0
 */
export const parseDurationMillis = (text: string): number | undefined => {
  const m = DURATION.exec(text.trim())
  if (m === null) return undefined
  // Whole milliseconds: `0.3s` is 300, not 300.00000000000006.
  return Math.round(Number(m[1]) * (UNIT_MILLIS[m[2] ?? "s"] ?? 1000))
}

// A whole amount in the largest unit that holds it exactly; the last unit is 1.
const exactly = (amount: number, units: ReadonlyArray<readonly [string, number]>): string => {
  const [unit, size] = units.find(([, size]) => amount % size === 0 && amount >= size) ?? units.at(-1) ?? ["", 1]
  return `${amount / size}${unit}`
}

/**
 * Writes whole milliseconds as `parseDurationMillis` reads them back, in
 * the largest unit that holds them exactly.
 *
 * @example
 * ```ts
 * formatDurationMillis(90_000) // "90s"
 * ```
 * @since 0.1.0
 */
export const formatDurationMillis = (millis: number): string =>
  exactly(millis, [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]])

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$/i

const UNIT_BYTES: Readonly<Record<string, number>> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/**
 * Parses a size flag: `512`, `64k`, `10M`, `10MiB`, `1.5G`; units are powers
 * of 1024. Returns whole bytes, or `undefined`.
 *
 * @example
 * ```ts
 * parseSizeBytes("16M") // 16777216
 * ```
 * @since 0.1.0
 */
export const parseSizeBytes = (text: string): number | undefined => {
  const m = SIZE.exec(text.trim())
  if (m === null) return undefined
  return Math.floor(Number(m[1]) * (UNIT_BYTES[(m[2] ?? "").toLowerCase()] ?? 1))
}

/**
 * Writes whole bytes as `parseSizeBytes` reads them back, in the largest
 * unit that holds them exactly.
 *
 * @example
 * ```ts
 * formatSizeBytes(16 * 1024 * 1024) // "16M"
 * ```
 * @since 0.1.0
 */
export const formatSizeBytes = (bytes: number): string =>
  exactly(bytes, [["T", 1024 ** 4], ["G", 1024 ** 3], ["M", 1024 ** 2], ["k", 1024], ["", 1]])
