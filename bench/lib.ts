/**
 * The benchmark harness's pure helpers: statistics, argument parsing,
 * parsing what the daemon and the services write, and the report's layout.
 * Nothing here starts a process or touches the file system.
 *
 * @since 0.1.0
 */

/**
 * The `p`-th percentile (0 to 100) of `values`, by linear interpolation
 * between the closest ranks; `NaN` for no values.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 50) // 2.5
 * ```
 * @since 0.1.0
 */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  const a = sorted[low] ?? Number.NaN
  const b = sorted[high] ?? Number.NaN
  return a + (b - a) * (rank - low)
}

/**
 * The median of `values`.
 *
 * @since 0.1.0
 */
export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** Every figure the harness knows, in the order it runs them. @since 0.1.0 */
export const FIGURES = [
  "cron-tick",
  "startup-memory",
  "idle-cpu",
  "restart",
  "reaction",
  "stop-all",
  "journal",
  "output",
  "churn",
  "control-restart",
  "ready-restart",
  "peers"
] as const

/** @since 0.1.0 */
export type Figure = (typeof FIGURES)[number]

/** Peers (supervisord, PM2) are measured only when asked for. */
const DEFAULT_FIGURES: ReadonlyArray<Figure> = FIGURES.filter((figure) => figure !== "peers")

/** The harness's options. @since 0.1.0 */
export interface Options {
  readonly only: ReadonlyArray<Figure>
  readonly quick: boolean
  readonly peers: boolean
  readonly help: boolean
  /** Restarts of the churn figure (`--restarts`; 3000, or 300 with `--quick`). */
  readonly restarts: number
  /** Scripts added and removed one by one in the churn figure (`--scripts`; 1000, or 100 with `--quick`). */
  readonly scripts: number
}

/** The churn figure's counts, as the issue states its targets, and for a smoke run. */
const CHURN_COUNTS = { restarts: 3000, scripts: 1000 } as const
const QUICK_CHURN_COUNTS = { restarts: 300, scripts: 100 } as const

// The value of `--name N` or `--name=N` at `argv[i]`, and the index it ends at.
const valueOf = (argv: ReadonlyArray<string>, i: number, name: string): readonly [string | undefined, number] => {
  const arg = argv[i] ?? ""
  return arg === name ? [argv[i + 1], i + 1] : [arg.slice(name.length + 1), i]
}

const isOption = (arg: string, name: string) => arg === name || arg.startsWith(`${name}=`)

const countOf = (name: string, value: string | undefined): number => {
  const count = Number(value)
  if (value === undefined || !/^\d+$/.test(value) || count < 1) throw new Error(`${name} needs a count (a whole number from 1)`)
  return count
}

/**
 * Parses the harness's command line: `--only a,b`, `--quick`, `--peers`
 * (adds the `peers` figure), `--restarts N` and `--scripts N` (the churn
 * figure's counts), `--help`. Throws an `Error` with a one-line message on
 * anything else.
 *
 * @example
 * ```ts
 * parseOptions(["--only", "cron-tick,restart", "--quick"]).only // ["cron-tick", "restart"]
 * parseOptions(["--only", "churn", "--restarts", "500"]).restarts // 500
 * ```
 * @since 0.1.0
 */
export const parseOptions = (argv: ReadonlyArray<string>): Options => {
  let only: ReadonlyArray<Figure> = DEFAULT_FIGURES
  let quick = false
  let peers = false
  let help = false
  let restarts: number | undefined
  let scripts: number | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    if (arg === "--quick") quick = true
    else if (arg === "--peers") peers = true
    else if (arg === "--help" || arg === "-h") help = true
    else if (isOption(arg, "--restarts")) {
      const [value, end] = valueOf(argv, i, "--restarts")
      restarts = countOf("--restarts", value)
      i = end
    } else if (isOption(arg, "--scripts")) {
      const [value, end] = valueOf(argv, i, "--scripts")
      scripts = countOf("--scripts", value)
      i = end
    } else if (isOption(arg, "--only")) {
      const [value, end] = valueOf(argv, i, "--only")
      i = end
      if (value === undefined || value === "") throw new Error("--only needs a list of figures")
      const names = value.split(",").map((name) => name.trim()).filter((name) => name !== "")
      only = names.map((name) => {
        const figure = FIGURES.find((known) => known === name)
        if (figure === undefined) throw new Error(`unknown figure ${name}: one of ${FIGURES.join(", ")}`)
        return figure
      })
    } else throw new Error(`unknown option ${arg}`)
  }
  if (peers && !only.includes("peers")) only = [...only, "peers"]
  const counts = quick ? QUICK_CHURN_COUNTS : CHURN_COUNTS
  return { only, quick, peers, help, restarts: restarts ?? counts.restarts, scripts: scripts ?? counts.scripts }
}

/**
 * A service's stamp line, `EPOCHREALTIME [PID]` as bash writes it, as
 * milliseconds since the epoch and the pid (when written).
 *
 * @example
 * ```ts
 * parseStamp("1763935514.741234 4242") // { millis: 1763935514741.234, pid: 4242 }
 * ```
 * @since 0.1.0
 */
export const parseStamp = (line: string): { readonly millis: number; readonly pid: number | undefined } | undefined => {
  const match = /^(\d+)[.,](\d+)(?:\s+(\d+))?\s*$/.exec(line)
  if (match === null) return undefined
  const [, seconds = "0", fraction = "0", pid] = match
  return {
    millis: Number(seconds) * 1000 + Number(`0.${fraction}`) * 1000,
    pid: pid === undefined ? undefined : Number(pid)
  }
}

/**
 * The service and pid of a daemon's stderr line that says a service started
 * (`TIME NAME: started, pid N`, with `, not ready yet` for a service that
 * notifies its readiness), else `undefined`.
 *
 * @since 0.1.0
 */
export const parseStarted = (line: string): { readonly name: string; readonly pid: number } | undefined => {
  const match = /^\S+ (.+): started, pid (\d+)(?:, not ready yet)?$/.exec(line)
  return match === null ? undefined : { name: match[1] ?? "", pid: Number(match[2]) }
}

/**
 * The service and pid of a daemon's stderr line that says a service's
 * process ended (`TIME NAME: pid N killed by SIGTERM`, `… exited with code
 * 0`), else `undefined`.
 *
 * @since 0.1.0
 */
export const parseEnded = (line: string): { readonly name: string; readonly pid: number } | undefined => {
  const match = /^\S+ (.+): pid (\d+) (?:killed by|exited with) /.exec(line)
  return match === null ? undefined : { name: match[1] ?? "", pid: Number(match[2]) }
}

/**
 * The DevTools address a Node process run with `--inspect=HOST:0` prints on
 * stderr (`Debugger listening on ws://…`), else `undefined`.
 *
 * @since 0.1.0
 */
export const parseDebuggerUrl = (line: string): string | undefined =>
  /^Debugger listening on (ws:\/\/\S+)$/.exec(line)?.[1]

/**
 * V8's heap in bytes, from the DevTools protocol's answer to a
 * `Runtime.evaluate` of `JSON.stringify(process.memoryUsage())` (with
 * `returnByValue`), else `undefined`.
 *
 * @example
 * ```ts
 * heapOfAnswer({ id: 3, result: { result: { type: "string", value: '{"heapUsed":13,"heapTotal":21}' } } })
 * // { used: 13, total: 21 }
 * ```
 * @since 0.1.0
 */
export const heapOfAnswer = (answer: unknown): { readonly used: number; readonly total: number } | undefined => {
  const evaluated = typeof answer === "object" && answer !== null && "result" in answer &&
      typeof answer.result === "object" && answer.result !== null && "result" in answer.result &&
      typeof answer.result.result === "object" && answer.result.result !== null && "value" in answer.result.result
    ? answer.result.result.value
    : undefined
  if (typeof evaluated !== "string") return undefined
  try {
    const usage: unknown = JSON.parse(evaluated)
    return typeof usage === "object" && usage !== null && "heapUsed" in usage && typeof usage.heapUsed === "number" &&
        "heapTotal" in usage && typeof usage.heapTotal === "number"
      ? { used: usage.heapUsed, total: usage.heapTotal }
      : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether a series of RSS samples (KiB, in time order) has settled: it
 * spans `windowMillis` or more, and over its last `windowMillis` it moved by
 * no more than `toleranceKib`.
 *
 * @example
 * ```ts
 * isSettled([{ at: 0, kib: 90_000 }, { at: 5_000, kib: 90_400 }], 5_000, 1_024) // true
 * ```
 * @since 0.1.0
 */
export const isSettled = (
  samples: ReadonlyArray<{ readonly at: number; readonly kib: number }>,
  windowMillis: number,
  toleranceKib: number
): boolean => {
  const last = samples[samples.length - 1]
  if (last === undefined || last.at - (samples[0]?.at ?? last.at) < windowMillis) return false
  const recent = samples.filter((sample) => sample.at >= last.at - windowMillis).map((sample) => sample.kib)
  return Math.max(...recent) - Math.min(...recent) <= toleranceKib
}

/**
 * User and system CPU clock ticks of a `/proc/PID/stat` line (fields 14 and 15).
 *
 * @since 0.1.0
 */
export const cpuTicksOfStat = (stat: string): number => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // Fields after the command start at field 3 (state): utime is 14, stime 15.
  return Number(fields[11]) + Number(fields[12])
}

/**
 * A field in KiB of a `/proc/PID/status` text (`VmRSS`, `VmHWM`).
 *
 * @since 0.1.0
 */
export const statusKib = (status: string, field: string): number | undefined => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)
  return match === null ? undefined : Number(match[1])
}

/** One measured figure beside its baseline. @since 0.1.0 */
export interface Result {
  readonly id: string
  readonly figure: Figure
  readonly subject: string
  readonly value: number
  readonly unit: string
  readonly baseline?: { readonly label: string; readonly value: number } | undefined
  /** `value / baseline` (or the figure's own ratio, such as throughput). */
  readonly ratio?: number | undefined
  readonly target?: string | undefined
  readonly met?: boolean | undefined
  readonly detail?: string | undefined
  readonly measuredAt: string
}

/**
 * A number for the report: three significant digits, no exponent.
 *
 * @since 0.1.0
 */
export const formatNumber = (value: number): string => {
  if (!Number.isFinite(value)) return "n/a"
  const abs = Math.abs(value)
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  return value.toPrecision(3)
}

const cell = (text: string) => text.replace(/\|/g, "\\|")

/**
 * The results as a Markdown table.
 *
 * @since 0.1.0
 */
export const markdownTable = (results: ReadonlyArray<Result>): string => {
  const rows = results.map((result) => {
    const baseline = result.baseline === undefined
      ? ""
      : `${formatNumber(result.baseline.value)} ${result.unit} (${result.baseline.label})`
    const met = result.met === undefined ? "" : result.met ? "met" : "**missed**"
    return [
      result.subject,
      `${formatNumber(result.value)} ${result.unit}`,
      baseline,
      result.ratio === undefined ? "" : `${formatNumber(result.ratio)}x`,
      result.target ?? "",
      met,
      result.detail ?? ""
    ].map(cell).join(" | ")
  })
  return [
    "| figure | cronmon | baseline | ratio | target | | notes |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((row) => `| ${row} |`)
  ].join("\n")
}

/**
 * Merges `fresh` results into `earlier` ones: a figure measured now replaces
 * every earlier result of that figure, so that `--only` refreshes part of a
 * report. Kept in the order of `FIGURES`.
 *
 * @since 0.1.0
 */
export const mergeResults = (earlier: ReadonlyArray<Result>, fresh: ReadonlyArray<Result>): Array<Result> => {
  const refreshed = new Set(fresh.map((result) => result.figure))
  const merged = [...earlier.filter((result) => !refreshed.has(result.figure)), ...fresh]
  return merged
    .map((result, index) => ({ result, index }))
    .sort((a, b) => FIGURES.indexOf(a.result.figure) - FIGURES.indexOf(b.result.figure) || a.index - b.index)
    .map(({ result }) => result)
}
