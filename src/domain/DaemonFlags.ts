/**
 * The daemon's flags (and the control commands') as one plain table: the
 * CLI declares them with effect/cli from it, `cron` prints them back from
 * it, and the cron tick and the control commands' lean path read their
 * arguments with its one scanner before anything of Effect is loaded (so
 * this module imports none).
 *
 * @since 0.1.0
 */
import { formatDurationMillis, formatSizeBytes, parseDurationMillis, parseSizeBytes } from "./Paths.ts"

/**
 * One flag: `--name`, its alias `-a`, the placeholder help shows for its
 * value, what help says of it, and its kind: a `path`; a `duration` (`3s`, in
 * milliseconds); a `size` (`16M`, in bytes); a `count` (`5`); a `signal`
 * (`TERM`, `SIGHUP`, `9`: read by `signalNamed`, which the cron tick does
 * not load); `text`, any value; or a `switch`, which takes no value
 * (`--name`, `--no-name`). A
 * duration, size or count takes the values of its `range`, both ends
 * included.
 *
 * @since 0.1.0
 */
export interface FlagSpec {
  readonly name: string
  readonly alias?: string
  readonly kind: "path" | "duration" | "size" | "count" | "signal" | "text" | "switch"
  readonly metavar?: string
  readonly description: string
  readonly range?: readonly [min: number, max: number]
}

const KiB = 1024
const TiB = 1024 ** 4

/**
 * Every flag of the daemon, keyed by its `Cronmon.Options` field, in the
 * order help lists them. `journal` and `logs` are also every other command's;
 * help adds a path's default (`defaultPaths`) to its description.
 *
 * @since 0.1.0
 */
export const DAEMON_FLAGS = {
  scripts: { name: "scripts", alias: "s", kind: "path", metavar: "DIR", description: "Directory of services: every executable file in it is kept running" },
  stopTimeout: { name: "stop-timeout", kind: "duration", metavar: "DURATION", range: [100, 3_600_000], description: "Time between SIGTERM and SIGKILL when stopping a service: 500ms, 3s, 1m; 100ms to 1h (default: 3s)" },
  journalMaxBytes: { name: "journal-max-size", kind: "size", metavar: "SIZE", range: [4 * KiB, TiB], description: "Keep the journal under this size by dropping its oldest sessions: 512k, 16M, 1G; 4k to 1T (default: 16M)" },
  strictModes: { name: "strict-modes", kind: "switch", description: "Refuse scripts writable by group or others or owned by another user (default: on; --no-strict-modes turns it off)" },
  logMaxBytes: { name: "log-max-size", kind: "size", metavar: "SIZE", range: [4 * KiB, TiB], description: "Rotate a service's log when it reaches this size: 4k to 1T (default: 10M)" },
  logKeep: { name: "log-keep", kind: "count", metavar: "N", range: [0, 1000], description: "Rotated logs kept per service, NAME.log.1 … NAME.log.N: 0 to 1000 (default: 5)" },
  logTimestamps: { name: "log-timestamps", kind: "switch", description: "Prefix each line of a service's output with the time it was read (default: off)" },
  journal: { name: "journal", alias: "j", kind: "path", metavar: "FILE", description: "Journal file; also the lock that keeps one daemon per journal" },
  logs: { name: "logs", kind: "path", metavar: "DIR", description: "Directory of the services' output, NAME.log each" }
} as const satisfies Readonly<Record<string, FlagSpec>>

/**
 * The key of one of the daemon's flags (a `Cronmon.Options` field).
 *
 * @since 0.1.0
 */
export type DaemonFlag = keyof typeof DAEMON_FLAGS

// The daemon's flags of one kind.
type FlagsOfKind<Kind extends FlagSpec["kind"]> = {
  [Key in DaemonFlag]: (typeof DAEMON_FLAGS)[Key]["kind"] extends Kind ? Key : never
}[DaemonFlag]

/**
 * The daemon's flags given on a command line, each with its value: a path
 * as written (not yet resolved), an amount read (milliseconds, bytes, a
 * count), a switch on or off. Keyed as `Cronmon.Options`.
 *
 * @since 0.1.0
 */
export type DaemonArguments =
  & { readonly [Key in FlagsOfKind<"path">]?: string }
  & { readonly [Key in FlagsOfKind<"duration" | "size" | "count">]?: number }
  & { readonly [Key in FlagsOfKind<"switch">]?: boolean }

const kindOf = <Kind extends FlagSpec["kind"]>(kinds: ReadonlyArray<Kind>) => (key: DaemonFlag): key is FlagsOfKind<Kind> =>
  kinds.some((kind) => kind === DAEMON_FLAGS[key].kind)
const isPathFlag = kindOf(["path"])
const isAmountFlag = kindOf(["duration", "size", "count"])
const isSwitchFlag = kindOf(["switch"])

const isDaemonFlag = (key: string): key is DaemonFlag => key in DAEMON_FLAGS

/**
 * The daemon's flags that `argv` (without node and the script) gives, when
 * it asks for nothing but the daemon in the forms the CLI reads alike:
 * `--name value`, `--name=value`, `-alias value`, `--switch`, `--no-switch`,
 * each at most once, each value one the CLI takes. `undefined` for anything
 * else (a subcommand, `--help`, a typo, a flag given twice, a value refused
 * or beginning with `-`): the CLI answers those, with its usage errors.
 *
 * @example
 * ```ts
 * readDaemonArguments(["-s", "scripts", "--stop-timeout=2s"]) // { scripts: "scripts", stopTimeout: 2000 }
 * readDaemonArguments(["status"]) // undefined
 * ```
 * @since 0.1.0
 */
export const readDaemonArguments = (argv: ReadonlyArray<string>): DaemonArguments | undefined => {
  const scanned = scanArguments(argv, flagsByArgument(Object.values(DAEMON_FLAGS), { negations: true }))
  if (scanned === undefined || scanned.words.length > 0) return undefined
  const paths: { [Key in FlagsOfKind<"path">]?: string } = {}
  const amounts: { [Key in FlagsOfKind<"duration" | "size" | "count">]?: number } = {}
  const switches: { [Key in FlagsOfKind<"switch">]?: boolean } = {}
  for (const key of Object.keys(DAEMON_FLAGS).filter(isDaemonFlag)) {
    const spec = DAEMON_FLAGS[key]
    const value = scanned.values.get(spec)
    if (value === undefined) continue
    if (isSwitchFlag(key)) switches[key] = value !== NEGATED
    // A value that looks like a flag is the CLI's to judge (`-s --logs`: a missing value).
    else if (value.startsWith("-")) return undefined
    else if (isPathFlag(key)) paths[key] = value
    else if (isAmountFlag(key) && isAmount(spec)) {
      const read = readAmount(spec, value)
      if ("refusal" in read) return undefined
      amounts[key] = read.value
    }
  }
  return { ...paths, ...amounts, ...switches }
}

/**
 * The commands that act on a running daemon, whose lean path `bin.ts`
 * takes without loading the CLI.
 *
 * @since 0.1.0
 */
export const CONTROL_ACTIONS = ["restart", "stop", "start", "kill"] as const

/**
 * One of them.
 *
 * @since 0.1.0
 */
export type ControlAction = (typeof CONTROL_ACTIONS)[number]

/**
 * Whether `word` names one of them.
 *
 * @since 0.1.0
 */
export const isControlAction = (word: string | undefined): word is ControlAction =>
  CONTROL_ACTIONS.some((action) => action === word)

/**
 * The flags of the commands that act on a running daemon (`restart`,
 * `stop`, `start`, `kill`), besides `journal` and `logs`: the CLI declares
 * them from here, and their lean path reads them without Effect. `signal`
 * is `kill`'s only, `ready` `restart`'s and `start`'s; `noWait` and
 * `ready` are switches without a negation, and do not go together.
 *
 * @since 0.1.0
 */
export const CONTROL_FLAGS = {
  noWait: { name: "no-wait", kind: "switch", description: "Return once the daemon has accepted the request, without waiting for it to be done" },
  ready: { name: "ready", kind: "switch", description: "Wait until the new instance says it is ready (READY=1 to NOTIFY_SOCKET, or cronmon notify --ready); exit 1 if it exits first" },
  timeout: { name: "timeout", kind: "duration", metavar: "DURATION", range: [1, 86_400_000], description: "Wait at most this long, then exit 1 saying what was not done: 500ms, 30s, 2m; up to 1d (default: the daemon's stop timeout plus 10s, plus 90s with --ready)" },
  signal: { name: "signal", alias: "s", kind: "signal", metavar: "SIGNAL", description: "The signal to send: TERM, HUP, SIGUSR1, 9… (default: TERM)" }
} as const satisfies Readonly<Record<string, FlagSpec>>

/**
 * The flags of `cronmon notify`, which a service runs to say how it is, as
 * it would to `NOTIFY_SOCKET`.
 *
 * @since 0.1.0
 */
export const NOTIFY_FLAGS = {
  ready: { name: "ready", kind: "switch", description: "Say that the service is ready (READY=1)" },
  status: { name: "status", kind: "text", metavar: "TEXT", description: "Say how the service is, in one line that `cronmon status` shows (STATUS=TEXT)" }
} as const satisfies Readonly<Record<string, FlagSpec>>

/**
 * Each kind of amount: how it is read (`undefined`: not one), how it is
 * written back (so that reading it again gives the same value), and how a
 * refusal names it.
 *
 * @example
 * ```ts
 * AMOUNTS.duration.parse("500ms") // 500
 * AMOUNTS.duration.format(90_000) // "90s"
 * ```
 * @since 0.1.0
 */
export const AMOUNTS = {
  duration: { parse: parseDurationMillis, format: formatDurationMillis, what: "a duration", use: "500ms, 3s, 1m", below: "too short", above: "too long" },
  size: { parse: parseSizeBytes, format: formatSizeBytes, what: "a size", use: "512k, 16M, 1G", below: "too small", above: "too large" },
  count: {
    parse: (text: string): number | undefined => /^\d+$/.test(text) ? Number(text) : undefined,
    format: (count: number): string => `${count}`,
    what: "a count",
    use: "0, 5, 10",
    below: "too small",
    above: "too large"
  }
} as const

/**
 * Whether a flag takes an amount (a duration, size or count).
 *
 * @since 0.1.0
 */
export const isAmount = (spec: FlagSpec): spec is FlagSpec & { readonly kind: keyof typeof AMOUNTS } =>
  spec.kind in AMOUNTS

/**
 * The value of an amount flag's argument, or why it is refused, in the one
 * wording every bad value gets: `not a duration: -1s (use 500ms, 3s, 1m)`,
 * `too short: 0 (at least 100ms)`.
 *
 * @example
 * ```ts
 * readAmount(DAEMON_FLAGS.stopTimeout, "2s") // { value: 2000 }
 * readAmount(DAEMON_FLAGS.stopTimeout, "0") // { refusal: "too short: 0 (at least 100ms)" }
 * ```
 * @since 0.1.0
 */
export const readAmount = (
  spec: FlagSpec & { readonly kind: keyof typeof AMOUNTS },
  text: string
): { readonly value: number } | { readonly refusal: string } => {
  const amount = AMOUNTS[spec.kind]
  const value = amount.parse(text)
  if (value === undefined) return { refusal: `not ${amount.what}: ${text} (use ${amount.use})` }
  const [min, max] = spec.range ?? [0, Number.MAX_SAFE_INTEGER]
  if (value < min) return { refusal: `${amount.below}: ${text} (at least ${amount.format(min)})` }
  if (value > max) return { refusal: `${amount.above}: ${text} (at most ${amount.format(max)})` }
  return { value }
}

/**
 * Each way of writing `specs` on a command line: `--name`, `-alias`, and
 * with `negations` `--no-name` for a switch.
 *
 * @example
 * ```ts
 * flagsByArgument([DAEMON_FLAGS.journal], { negations: false }) // Map { "--journal" => …, "-j" => … }
 * ```
 * @since 0.1.0
 */
export const flagsByArgument = (
  specs: ReadonlyArray<FlagSpec>,
  options: { readonly negations: boolean }
): ReadonlyMap<string, FlagSpec> =>
  new Map(specs.flatMap((spec) =>
    [
      `--${spec.name}`,
      ...(spec.alias === undefined ? [] : [`-${spec.alias}`]),
      ...(options.negations && spec.kind === "switch" ? [`--no-${spec.name}`] : [])
    ].map((argument): [string, FlagSpec] => [argument, spec])
  ))

/**
 * The value `scanArguments` gives a switch turned off (`--no-strict-modes`).
 *
 * @since 0.1.0
 */
export const NEGATED = "no"

/**
 * `argv` read against `flags` (from `flagsByArgument`) without effect/cli:
 * each flag's value (`""` for a switch, `NEGATED` for `--no-switch`) and the words that are no flag, or
 * `undefined` for anything effect/cli would refuse: an unknown flag, a flag
 * given twice (`-j a -j b`, `--x --no-x`), `--switch=value`, a missing
 * value, an amount out of its range. A signal's value is not checked here.
 *
 * @example
 * ```ts
 * scanArguments(["web", "-j", "j.json"], flagsByArgument([DAEMON_FLAGS.journal], { negations: false }))
 * // { values: Map { DAEMON_FLAGS.journal => "j.json" }, words: ["web"] }
 * ```
 * @since 0.1.0
 */
export const scanArguments = (
  argv: ReadonlyArray<string>,
  flags: ReadonlyMap<string, FlagSpec>
): { readonly values: ReadonlyMap<FlagSpec, string>; readonly words: ReadonlyArray<string> } | undefined => {
  const values = new Map<FlagSpec, string>()
  const words: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    if (!arg.startsWith("-")) {
      words.push(arg)
      continue
    }
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1
    const spec = flags.get(equals > 0 ? arg.slice(0, equals) : arg)
    if (spec === undefined || values.has(spec)) return undefined
    const value = spec.kind === "switch"
      ? (equals > 0 ? undefined : arg === `--no-${spec.name}` ? NEGATED : "")
      : equals > 0 ? arg.slice(equals + 1) : argv[++i]
    if (value === undefined || (isAmount(spec) && "refusal" in readAmount(spec, value))) return undefined
    values.set(spec, value)
  }
  return { values, words }
}
