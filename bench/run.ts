/**
 * `npm run bench`: drives the built CLI (`dist/cronmon.js`) with real
 * processes in a temporary directory, as a user's machine would, and prints
 * each figure beside a baseline measured in the same run. Writes
 * `bench/results.json` and `BENCHMARKS.md`.
 *
 * Options: `--only cron-tick,restart` (see `FIGURES` in ./lib.ts), `--quick`
 * (fewer samples, shorter waits: a smoke run), `--peers` (supervisord and
 * PM2 too, when installed), `--restarts N` and `--scripts N` (the churn
 * figure's counts).
 *
 * Every process it starts is stopped at the end, also on Ctrl-C.
 *
 * @since 0.1.0
 */
import { transformSync } from "esbuild"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import {
  cpuTicksOfStat,
  type Figure,
  FIGURES,
  formatNumber,
  heapOfAnswer,
  isSettled,
  markdownTable,
  median,
  mergeResults,
  type Options,
  parseDebuggerUrl,
  parseEnded,
  parseOptions,
  parseStamp,
  parseStarted,
  percentile,
  type Result,
  statusKib
} from "./lib.ts"

const REPO = path.resolve(import.meta.dirname, "..")
const CLI = path.join(REPO, "dist", "cronmon.js")
const BARE_SUPERVISOR_SOURCE = path.join(REPO, "bench", "bare-supervisor.ts")
const RESULTS = path.join(REPO, "bench", "results.json")
const REPORT = path.join(REPO, "BENCHMARKS.md")
const NODE = process.execPath
const TIME = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined
const CLOCK_TICKS = 100

// ---------------------------------------------------------------------------
// Time and waiting

/** Now, in milliseconds since the epoch, with sub-millisecond resolution (as `$EPOCHREALTIME`). */
const epochNow = () => performance.timeOrigin + performance.now()

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const waitFor = async <A>(what: string, probe: () => A | undefined, timeout: number, interval = 2): Promise<A> => {
  const deadline = Date.now() + timeout
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    await delay(interval)
  }
}

const readLines = (file: string): Array<string> => {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "")
  } catch {
    return []
  }
}

const readProc = (pid: number, file: string): string | undefined => {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, "latin1")
  } catch {
    return undefined
  }
}

const rssKib = (pid: number) => statusKib(readProc(pid, "status") ?? "", "VmRSS") ?? Number.NaN

/** Alive and not a zombie. */
const isRunning = (pid: number): boolean => {
  const stat = readProc(pid, "stat")
  if (stat === undefined) return false
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
}

const kill = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(pid, signal)
  } catch {
    // gone
  }
}

// ---------------------------------------------------------------------------
// Sandbox and daemons

let ROOT = ""
const daemons = new Set<Daemon>()
/** Process groups of every service any daemon started: killed at the end whatever happened. */
const groups = new Set<number>()

const sandbox = (name: string) => {
  const dir = path.join(ROOT, name)
  fs.mkdirSync(path.join(dir, "scripts"), { recursive: true })
  fs.mkdirSync(path.join(dir, "stamps"), { recursive: true })
  return {
    dir,
    scripts: path.join(dir, "scripts"),
    stamps: path.join(dir, "stamps"),
    journal: path.join(dir, "journal.json"),
    logs: path.join(dir, "logs")
  }
}
type Sandbox = ReturnType<typeof sandbox>

const writeScript = (file: string, text: string) => {
  fs.writeFileSync(file, text, { mode: 0o755 })
  fs.chmodSync(file, 0o755)
}

/** A bash service that appends `$EPOCHREALTIME $$` to its stamp file first, then runs `rest`. */
const stampScript = (stampFile: string, rest: string) =>
  `#!/bin/bash\necho "$EPOCHREALTIME $$" >> '${stampFile}'\n${rest}\n`

/**
 * The bare Node supervisor as plain JavaScript, written once into the run's
 * directory: run from its TypeScript source, Node would load its type
 * stripper (WebAssembly) too, which neither cronmon's bundle nor a
 * hand-written supervisor pays for, in memory or in start-up time.
 */
const bareSupervisor = (): string => {
  const file = path.join(ROOT, "bare-supervisor.mjs")
  if (!fs.existsSync(file)) {
    const { code } = transformSync(fs.readFileSync(BARE_SUPERVISOR_SOURCE, "utf8"), { loader: "ts", format: "esm" })
    fs.writeFileSync(file, code)
  }
  return file
}

/** How to run a supervisor for a figure. */
interface DaemonOptions {
  /** Flags for Node before the script, such as `--inspect=127.0.0.1:0`. */
  readonly node?: ReadonlyArray<string>
  /** The bare Node supervisor (bench/bare-supervisor.ts) instead of cronmon. */
  readonly bare?: boolean
}

/**
 * The daemon run as a user runs it (or the bare Node supervisor), its
 * stderr (the human journal) read line by line.
 */
class Daemon {
  readonly process: ChildProcess
  readonly pid: number
  readonly launchedAt: number
  /** The pid of each service's latest start. */
  readonly started = new Map<string, number>()
  /** The services a process of which has ended. */
  readonly ended = new Set<string>()
  /** Starts of all services. */
  totalStarts = 0
  readonly lines: Array<string> = []
  /** Where its inspector listens, when run with `--inspect=127.0.0.1:0`. */
  inspector: string | undefined
  private readonly exited: Promise<number>
  private listeners: Array<() => void> = []

  readonly box: Sandbox

  constructor(box: Sandbox, extra: ReadonlyArray<string> = [], options: DaemonOptions = {}) {
    this.box = box
    this.launchedAt = epochNow()
    const setpriv = options.bare === true ? which("setpriv") : undefined
    const program = options.bare === true
      ? [bareSupervisor(), box.scripts, ...(setpriv === undefined ? [] : [setpriv])]
      : [CLI, "-j", box.journal, "-s", box.scripts, "--logs", box.logs, ...extra]
    this.process = spawn(NODE, [...(options.node ?? []), ...program], {
      stdio: ["ignore", "ignore", "pipe"]
    })
    if (this.process.pid === undefined) throw new Error("cannot start the daemon")
    this.pid = this.process.pid
    daemons.add(this)
    this.exited = new Promise((resolve) => this.process.on("exit", (code) => {
      daemons.delete(this)
      resolve(epochNow())
      void code
    }))
    const stderr = this.process.stderr
    if (stderr === null) throw new Error("no stderr")
    readline.createInterface({ input: stderr }).on("line", (line) => {
      this.lines.push(line)
      const started = parseStarted(line)
      if (started !== undefined) {
        this.started.set(started.name, started.pid)
        this.totalStarts++
        groups.add(started.pid)
      }
      const ended = parseEnded(line)
      if (ended !== undefined) this.ended.add(ended.name)
      // The last one said: the daemon runs itself again (same pid) with its
      // Node flags, and the inspector of the first process is gone.
      this.inspector = parseDebuggerUrl(line) ?? this.inspector
      for (const listener of this.listeners) listener()
    })
  }

  /** Resolves when `predicate` holds, checked at every stderr line (no polling). */
  until(what: string, predicate: () => boolean, timeout: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return
        clearTimeout(timer)
        this.listeners = this.listeners.filter((l) => l !== check)
        resolve(epochNow())
      }
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check)
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; daemon said:\n${this.lines.slice(-5).join("\n")}`))
      }, timeout)
      this.listeners.push(check)
      check()
    })
  }

  untilStarted(count: number, timeout: number) {
    return this.until(`${count} services started`, () => this.started.size >= count, timeout)
  }

  /** SIGTERM, and the time it exits. */
  async stop(): Promise<number> {
    if (!daemons.has(this)) return epochNow()
    kill(this.pid, "SIGTERM")
    return await this.exited
  }
}

/** Last resort: SIGKILL the daemons and every service group they started. */
const killEverything = () => {
  for (const daemon of daemons) kill(daemon.pid, "SIGKILL")
  for (const group of groups) kill(-group, "SIGKILL")
}

const stopAll = async () => {
  await Promise.all(Array.from(daemons, (daemon) =>
    Promise.race([daemon.stop(), delay(15_000)])
  ))
  killEverything()
}

// ---------------------------------------------------------------------------
// Measuring one command

/** Runs a command to its end: wall milliseconds, and its peak RSS in KiB when `/usr/bin/time` is there. */
const measureCommand = (command: string, args: ReadonlyArray<string>) => {
  const rssFile = path.join(ROOT, "time.out")
  const [file, argv] = TIME === undefined ? [command, args] : [TIME, ["-f", "%M", "-o", rssFile, command, ...args]]
  const start = performance.now()
  const result = spawnSync(file, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  const millis = performance.now() - start
  const rss = TIME === undefined ? Number.NaN : Number(fs.readFileSync(rssFile, "utf8").trim().split("\n").pop())
  return { millis, rss, status: result.status, stderr: result.stderr }
}

/** A bare Node at rest: its RSS in KiB. */
const bareNodeRss = async (): Promise<number> => {
  const child = spawn(NODE, ["-e", "setInterval(() => {}, 1 << 30)"], { stdio: "ignore" })
  const pid = child.pid ?? 0
  await delay(700)
  const rss = rssKib(pid)
  const exited = new Promise((resolve) => child.on("exit", resolve))
  kill(pid, "SIGKILL")
  await exited
  return rss
}

// ---------------------------------------------------------------------------
// Figures

/** A figure's measurement, given the options and what this run has measured so far. */
type Run = (options: Options, measured: ReadonlyArray<Result>) => Promise<Array<Result>>

const now = () => new Date().toISOString()

const result = (figure: Figure, fields: Omit<Result, "figure" | "measuredAt">): Result => {
  const full: Result = { ...fields, figure, measuredAt: now() }
  const baseline = full.baseline === undefined ? "" : `   (${full.baseline.label}: ${formatNumber(full.baseline.value)} ${full.unit})`
  const ratio = full.ratio === undefined ? "" : `   ${formatNumber(full.ratio)}x`
  const met = full.met === undefined ? "" : full.met ? "   met" : "   MISSED"
  process.stdout.write(`  ${full.subject}: ${formatNumber(full.value)} ${full.unit}${baseline}${ratio}${met}\n`)
  return full
}

const cronTick: Run = async ({ quick }) => {
  const box = sandbox("cron-tick")
  const daemon = new Daemon(box)
  await daemon.until("the lock", () => daemon.lines.some((line) => line.includes("cronmon started")), 10_000)
  const samples = quick ? 5 : 20
  const tick: Array<{ millis: number; rss: number }> = []
  const bare: Array<{ millis: number; rss: number }> = []
  const args = [CLI, "-j", box.journal, "-s", box.scripts, "--logs", box.logs]
  // One of each first, unmeasured: the file cache warm for both.
  measureCommand(NODE, ["-e", ""])
  measureCommand(NODE, args)
  for (let i = 0; i < samples; i++) {
    bare.push(measureCommand(NODE, ["-e", ""]))
    const run = measureCommand(NODE, args)
    if (run.status !== 0 || !run.stderr.includes("already running")) {
      throw new Error(`the cron tick did not answer "already running" (exit ${run.status}): ${run.stderr}`)
    }
    tick.push(run)
  }
  await daemon.stop()
  const wall = median(tick.map((s) => s.millis))
  const bareWall = median(bare.map((s) => s.millis))
  const rss = median(tick.map((s) => s.rss)) / 1024
  const bareRss = median(bare.map((s) => s.rss)) / 1024
  return [
    result("cron-tick", {
      id: "cron-tick-wall",
      subject: "cron tick, wall time (median)",
      value: wall,
      unit: "ms",
      baseline: { label: "node -e ''", value: bareWall },
      ratio: wall / bareWall,
      target: "<= 1.3x",
      met: wall / bareWall <= 1.3,
      detail: `${samples} runs each, interleaved; p95 ${formatNumber(percentile(tick.map((s) => s.millis), 95))} ms`
    }),
    result("cron-tick", {
      id: "cron-tick-rss",
      subject: "cron tick, peak RSS (median)",
      value: rss,
      unit: "MiB",
      baseline: { label: "node -e ''", value: bareRss },
      ratio: rss / bareRss,
      target: "<= 1.3x",
      met: rss / bareRss <= 1.3,
      detail: TIME === undefined ? "no /usr/bin/time: not measured" : "/usr/bin/time -f %M"
    })
  ]
}

const sleeper = "#!/bin/sh\nexec sleep 1000000\n"

const BARE_LABEL = "bare Node supervisor, bench/bare-supervisor.ts"

/**
 * A daemon (or the bare Node supervisor) with `count` sleeping services:
 * start-up time, RSS once settled, and (optionally) CPU at rest.
 */
const withServices = async (count: number, settle: number, idleFor: number | undefined, bare = false) => {
  const box = sandbox(`services-${count}${bare ? "-bare" : ""}`)
  for (let i = 0; i < count; i++) writeScript(path.join(box.scripts, `s${String(i).padStart(4, "0")}`), sleeper)
  const daemon = new Daemon(box, [], { bare })
  const allStarted = await daemon.untilStarted(count, 300_000)
  const startup = allStarted - daemon.launchedAt
  await delay(settle)
  const rss = rssKib(daemon.pid)
  let idleCpu: number | undefined
  if (idleFor !== undefined) {
    const before = cpuTicksOfStat(readProc(daemon.pid, "stat") ?? "")
    await delay(idleFor)
    idleCpu = (cpuTicksOfStat(readProc(daemon.pid, "stat") ?? "") - before) / CLOCK_TICKS
  }
  await daemon.stop()
  return { startup, rss, idleCpu }
}

const startupMemory: Run = async ({ quick, only }) => {
  const idle = only.includes("idle-cpu")
  const idleFor = quick ? 5_000 : 30_000
  const settle = quick ? 1_000 : 3_000
  const bare = await bareNodeRss()
  // Each beside the bare Node supervisor, one after the other.
  const bareHundred = await withServices(100, settle, undefined, true)
  const hundred = await withServices(100, settle, idle ? idleFor : undefined)
  const bareThousand = await withServices(1000, settle, undefined, true)
  const thousand = await withServices(1000, settle, undefined)
  const perService = (thousand.rss - hundred.rss) / 900
  const startup = (count: number, cronmon: number, baseline: number) =>
    result("startup-memory", {
      id: `startup-${count}`,
      subject: `start-up, launch to ${count} services running`,
      value: cronmon,
      unit: "ms",
      baseline: { label: BARE_LABEL, value: baseline },
      ratio: cronmon / baseline,
      target: "<= 1.25x",
      met: cronmon / baseline <= 1.25,
      detail: "to the last service's start line on stderr; run one after the other"
    })
  const results = [
    startup(100, hundred.startup, bareHundred.startup),
    startup(1000, thousand.startup, bareThousand.startup),
    result("startup-memory", {
      id: "memory-100",
      subject: "daemon RSS, 100 services",
      value: hundred.rss / 1024,
      unit: "MiB",
      baseline: { label: "bare node at rest", value: bare / 1024 },
      ratio: hundred.rss / bare,
      target: "<= 1.5x, and below PM2's (peers)",
      met: hundred.rss / bare <= 1.5,
      detail: `after ${settle / 1000} s settled; the bare Node supervisor: ${formatNumber(bareHundred.rss / 1024)} MiB`
    }),
    result("startup-memory", {
      id: "memory-1000",
      subject: "daemon RSS, 1000 services",
      value: thousand.rss / 1024,
      unit: "MiB",
      baseline: { label: "bare node at rest", value: bare / 1024 },
      ratio: thousand.rss / bare
    }),
    result("startup-memory", {
      id: "memory-per-service",
      subject: "RSS per additional service (100 → 1000)",
      value: perService,
      unit: "KiB",
      target: "<= 64 KiB",
      met: perService <= 64
    })
  ]
  if (hundred.idleCpu !== undefined) {
    results.push(result("idle-cpu", {
      id: "idle-cpu-100",
      subject: `idle CPU over ${idleFor / 1000} s, 100 services`,
      value: hundred.idleCpu,
      unit: "CPU-s",
      target: quick ? "<= 0.15 CPU-s over 30 s" : "<= 0.15 CPU-s",
      met: hundred.idleCpu <= (0.15 * idleFor) / 30_000,
      detail: `utime+stime from /proc, ${1000 / CLOCK_TICKS} ms ticks`
    }))
  }
  return results
}

/** Idle CPU is measured with the 100-service daemon of `startup-memory`. */
const idleCpu: Run = async (options, measured) =>
  options.only.includes("startup-memory") ? [] : (await startupMemory(options, measured)).filter((r) => r.figure === "idle-cpu")

/**
 * The floor of any respawn on this machine now: the same stamp script, run
 * as the daemon runs it (through `setpriv --pdeathsig`), spawned by a bare
 * Node; p50 of the spawn to the stamp.
 */
const spawnFloor = async (box: Sandbox, samples: number): Promise<number> => {
  const stamp = path.join(box.stamps, "floor")
  const script = path.join(box.dir, "floor.sh")
  writeScript(script, stampScript(stamp, "exec sleep 1000000"))
  const setpriv = which("setpriv")
  const [command, args] = setpriv === undefined ? [script, []] : [setpriv, ["--pdeathsig", "SIGTERM", "--", script]]
  const latencies: Array<number> = []
  for (let i = 0; i < samples; i++) {
    const spawnedAt = epochNow()
    const child = spawn(command, args, { stdio: "ignore", detached: true })
    if (child.pid !== undefined) groups.add(child.pid)
    const line = await waitFor("the floor's stamp", () => readLines(stamp)[i], 10_000, 5)
    latencies.push((parseStamp(line)?.millis ?? Number.NaN) - spawnedAt)
    const exited = new Promise((resolve) => child.on("exit", resolve))
    if (child.pid !== undefined) kill(-child.pid, "SIGKILL")
    await exited
    await delay(50)
  }
  return percentile(latencies, 50)
}

const FLOOR_LABEL = "floor: setpriv + the script spawned by a bare node, p50"

const latencies = (
  figure: Figure,
  id: string,
  subject: string,
  samples: ReadonlyArray<number>,
  target: number,
  floor: number,
  extra?: string
) => {
  const p50 = percentile(samples, 50)
  return result(figure, {
    id,
    subject,
    value: p50,
    unit: "ms",
    baseline: { label: FLOOR_LABEL, value: floor },
    ratio: p50 / floor,
    target: `p50 <= ${target} ms`,
    met: p50 <= target,
    detail: `p95 ${formatNumber(percentile(samples, 95))} ms, min ${formatNumber(Math.min(...samples))}, max ${formatNumber(Math.max(...samples))}, ${samples.length} samples${extra ?? ""}`
  })
}

/** `count` services that stamp their start, under cronmon or the bare Node supervisor, all started. */
const stampingServices = async (name: string, count: number, bare: boolean) => {
  const box = sandbox(name)
  const stampOf = (i: number) => path.join(box.stamps, `r${i}`)
  for (let i = 0; i < count; i++) {
    writeScript(path.join(box.scripts, `r${i}`), stampScript(stampOf(i), "exec sleep 1000000"))
  }
  const daemon = new Daemon(box, [], { bare })
  await daemon.untilStarted(count, 60_000)
  await waitFor("every first stamp", () => Array.from({ length: count }, (_, i) => readLines(stampOf(i)).length >= 1).every(Boolean) || undefined, 10_000)
  return { box, daemon, stampOf }
}

/** `kill -9` of the process that wrote the first stamp of a file: milliseconds to the second stamp. */
const restartLatency = async (stampFile: string, what: string): Promise<number> => {
  const first = parseStamp(readLines(stampFile)[0] ?? "")
  if (first?.pid === undefined) throw new Error(`no pid in the stamp of ${what}`)
  const killedAt = epochNow()
  kill(first.pid, "SIGKILL")
  const second = await waitFor(`${what} restarted`, () => {
    const line = readLines(stampFile)[1]
    return line === undefined ? undefined : parseStamp(line)
  }, 10_000, 5)
  return second.millis - killedAt
}

const restart: Run = async ({ quick }) => {
  // First failure of each service: delay 0. One service per sample, since a
  // second failure within the stable run waits 5 s. cronmon and the bare
  // Node supervisor run side by side, their samples interleaved.
  const count = quick ? 8 : 25
  const cronmon = await stampingServices("restart", count, false)
  const bare = await stampingServices("restart-bare", count, true)
  await delay(500)
  const samples: Array<number> = []
  const bareSamples: Array<number> = []
  for (let i = 0; i < count; i++) {
    samples.push(await restartLatency(cronmon.stampOf(i), `r${i}`))
    await delay(100)
    bareSamples.push(await restartLatency(bare.stampOf(i), `r${i} (bare supervisor)`))
    await delay(100)
  }
  await cronmon.daemon.stop()
  await bare.daemon.stop()
  const floor = await spawnFloor(cronmon.box, quick ? 5 : 15)
  const p50 = percentile(samples, 50)
  const bareP50 = percentile(bareSamples, 50)
  return [
    latencies("restart", "restart-kill9", "restart after kill -9 (stamp)", samples, 10, floor),
    result("restart", {
      id: "restart-kill9-vs-bare",
      subject: "restart after kill -9 (stamp), against a bare Node supervisor",
      value: p50,
      unit: "ms",
      baseline: { label: `${BARE_LABEL}, p50`, value: bareP50 },
      ratio: p50 / bareP50,
      target: "<= 1.3x",
      met: p50 / bareP50 <= 1.3,
      detail: `p50 of ${samples.length} samples each, interleaved; the bare supervisor's p95 ${formatNumber(percentile(bareSamples, 95))} ms`
    })
  ]
}

const reaction: Run = async ({ quick }) => {
  const count = quick ? 6 : 20
  const box = sandbox("reaction")
  const staging = path.join(box.dir, "staging")
  fs.mkdirSync(staging)
  const daemon = new Daemon(box)
  await daemon.until("the lock", () => daemon.lines.some((line) => line.includes("cronmon started")), 10_000)
  await delay(300)
  const samples: Array<number> = []
  for (let i = 0; i < count; i++) {
    const stamp = path.join(box.stamps, `m${i}`)
    writeScript(path.join(staging, `m${i}`), stampScript(stamp, "exec sleep 1000000"))
    const movedAt = epochNow()
    fs.renameSync(path.join(staging, `m${i}`), path.join(box.scripts, `m${i}`))
    const started = await waitFor(`m${i} started`, () => {
      const line = readLines(stamp)[0]
      return line === undefined ? undefined : parseStamp(line)
    }, 10_000, 5)
    samples.push(started.millis - movedAt)
    await delay(100)
  }
  // One editor save is one restart: Vim's default save (write probe, the
  // file renamed to a backup, a new file written, the backup removed), and
  // GNU sed -i (a temporary file renamed over it).
  const restartsOf = async (name: string, save: (file: string) => void) => {
    const stamp = path.join(box.stamps, name)
    const file = path.join(box.scripts, name)
    writeScript(file, stampScript(stamp, "exec sleep 1000000"))
    await waitFor(`${name} started`, () => readLines(stamp).length >= 1 || undefined, 10_000, 5)
    await delay(300)
    save(file)
    await delay(quick ? 1_000 : 2_000)
    return readLines(stamp).length - 1
  }
  const vim = await restartsOf("vim", (file) => {
    const dir = path.dirname(file)
    fs.writeFileSync(path.join(dir, "4913"), "")
    fs.rmSync(path.join(dir, "4913"))
    fs.renameSync(file, `${file}~`)
    writeScript(file, `${fs.readFileSync(`${file}~`, "utf8")}# saved\n`)
    fs.rmSync(`${file}~`)
  })
  const sed = await restartsOf("sed", (file) => {
    spawnSync("sed", ["-i", "s/1000000/1000001/", file])
  })
  await daemon.stop()
  const floor = await spawnFloor(box, quick ? 5 : 15)
  const met = vim === 1 && sed === 1
  const p50 = percentile(samples, 50)
  return [
    latencies("reaction", "reaction-mv", "reaction, script moved in to its process running (stamp)", samples, 100, floor),
    result("reaction", {
      id: "reaction-one-save",
      subject: "restarts per editor save (Vim default, sed -i)",
      value: Math.max(vim, sed),
      unit: "restarts",
      target: "1 each",
      met,
      detail: `Vim ${vim}, sed -i ${sed}; p50 above ${formatNumber(p50)} ms`
    })
  ]
}

const stopAllFigure: Run = async ({ quick }) => {
  const results: Array<Result> = []
  const stopTimeout = 3
  for (const count of quick ? [100] : [100, 500]) {
    const box = sandbox(`stop-all-${count}`)
    for (let i = 0; i < count; i++) {
      writeScript(path.join(box.scripts, `t${String(i).padStart(3, "0")}`), "#!/bin/sh\ntrap '' TERM\nexec sleep 1000000\n")
    }
    const daemon = new Daemon(box, ["--stop-timeout", `${stopTimeout}s`])
    await daemon.untilStarted(count, 120_000)
    await delay(1_000)
    const signalledAt = epochNow()
    const exitedAt = await daemon.stop()
    const seconds = (exitedAt - signalledAt) / 1000
    const left = Array.from(daemon.started.values()).filter(isRunning).length
    results.push(result("stop-all", {
      id: `stop-all-${count}`,
      subject: `stop-all, ${count} services ignoring SIGTERM`,
      value: seconds,
      unit: "s",
      target: `<= ${stopTimeout + 1} s (stop timeout ${stopTimeout} s + 1 s)`,
      met: seconds <= stopTimeout + 1 && left === 0,
      detail: left === 0 ? "none left running" : `${left} left running`
    }))
  }
  return results
}

/** A journal of `size` bytes or more: closed sessions, then an unclean one with 20 leftovers at its end. */
const bigJournal = (file: string, size: number) => {
  const line = (type: string, data: object) => `${JSON.stringify({ time: new Date().toISOString(), type, data })}\n`
  let session = line("acquired lock", { journal_id: `file:${file}+stderr` })
  for (let i = 0; i < 20; i++) session += line("process spawned", { file: `svc${i}`, pid: 3_000_000 + i })
  for (let i = 0; i < 20; i++) session += line("process exited", { file: `svc${i}`, pid: 3_000_000 + i, exit_code: 0 })
  session += line("monitor quit", {})
  const chunk = Buffer.from(session.repeat(Math.max(1, Math.floor(Math.min(size, 4 << 20) / session.length))))
  const fd = fs.openSync(file, "w", 0o600)
  for (let written = 0; written < size; written += chunk.length) fs.writeSync(fd, chunk)
  let tail = line("acquired lock", { journal_id: `file:${file}+stderr` })
  for (let i = 0; i < 20; i++) tail += line("process spawned", { file: `svc${i}`, pid: 3_100_000 + i })
  fs.writeSync(fd, tail)
  fs.closeSync(fd)
  return fs.statSync(file).size
}

const worker = (args: ReadonlyArray<string>): Record<string, number> => {
  const run = spawnSync(NODE, [path.join(REPO, "bench", "journal-worker.ts"), ...args], { encoding: "utf8" })
  if (run.status !== 0) throw new Error(`journal-worker ${args.join(" ")}: ${run.stderr}`)
  const parsed: unknown = JSON.parse(run.stdout)
  if (typeof parsed !== "object" || parsed === null) throw new Error(`journal-worker: ${run.stdout}`)
  return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, Number(value)]))
}

const journal: Run = async ({ quick }) => {
  const box = sandbox("journal")
  const appendCount = quick ? 200 : 1000
  const appends = worker(["appends", path.join(box.dir, "appends.json"), String(appendCount)])
  const perSecond = appends["perSecond"] ?? Number.NaN
  const rawPerSecond = appends["rawPerSecond"] ?? Number.NaN
  const size = quick ? 64 << 20 : 1 << 30
  const big = path.join(box.dir, "big.json")
  const small = path.join(box.dir, "small.json")
  const bigSize = bigJournal(big, size)
  bigJournal(small, 1)
  const smallSize = fs.statSync(small).size
  const runs = quick ? 3 : 7
  const bigMillis: Array<number> = []
  const smallMillis: Array<number> = []
  for (let i = 0; i < runs; i++) {
    // Each open journals the leftovers' exits: cut back to where it was.
    bigMillis.push(worker(["open", big])["millis"] ?? Number.NaN)
    fs.truncateSync(big, bigSize)
    smallMillis.push(worker(["open", small])["millis"] ?? Number.NaN)
    fs.truncateSync(small, smallSize)
  }
  fs.rmSync(big)
  const previous = median(bigMillis)
  const previousSmall = median(smallMillis)
  return [
    result("journal", {
      id: "journal-appends",
      subject: "journal, durable appends per second",
      value: perSecond,
      unit: "appends/s",
      baseline: { label: "write(2) on O_SYNC, one per line", value: rawPerSecond },
      ratio: perSecond / rawPerSecond,
      detail: `${appendCount} appends through the Journal layer`
    }),
    result("journal", {
      id: "journal-previous-state",
      subject: `journal, open and previous state from a ${formatNumber(bigSize / (1 << 30))} GiB journal`,
      value: previous,
      unit: "ms",
      baseline: { label: `a ${formatNumber(smallSize / 1024)} KiB journal, same tail`, value: previousSmall },
      ratio: previous / previousSmall,
      target: "<= 50 ms",
      met: previous <= 50,
      detail: `median of ${runs}: lock, tail repair, previous state (20 leftovers)`
    })
  ]
}

/** `size` bytes of text lines (about 100 bytes each, varied), written once and `cat` by the services. */
const linesFile = (file: string, size: number) => {
  const lines: Array<string> = []
  for (let i = 0; i < 1000; i++) lines.push(`${String(i).padStart(6, "0")} ${"the quick brown fox jumps over the lazy dog ".repeat(1 + (i % 3)).slice(0, 40 + ((i * 37) % 120))}\n`)
  const block = Buffer.from(lines.join(""))
  const fd = fs.openSync(file, "w", 0o600)
  let written = 0
  while (written < size) written += fs.writeSync(fd, block, 0, Math.min(block.length, size - written))
  fs.closeSync(fd)
}

/** Bytes in NAME.log and its rotated files, and the newest of their mtimes. */
const logBytes = (log: string): { readonly bytes: number; readonly mtimeMs: number } => {
  let bytes = 0
  let mtimeMs = 0
  const dir = path.dirname(log)
  const base = path.basename(log)
  let names: Array<string> = []
  try {
    names = fs.readdirSync(dir)
  } catch {
    return { bytes, mtimeMs }
  }
  for (const name of names) {
    if (name !== base && !name.startsWith(`${base}.`)) continue
    try {
      const stats = fs.statSync(path.join(dir, name))
      bytes += stats.size
      mtimeMs = Math.max(mtimeMs, stats.mtimeMs)
    } catch {
      // rotated away between the listing and the stat
    }
  }
  return { bytes, mtimeMs }
}

/**
 * A service that prints `source` once, line after line, as fast as `cat`
 * can, a second after it starts (so that a supervisor's own start-up, still
 * going on when its first service runs, is not counted); restarted, it only
 * sleeps. It stamps the moment it starts printing.
 */
const catScript = (stamp: string, done: string, source: string) =>
  `#!/bin/bash\nif [ -e '${done}' ]; then exec sleep 1000000; fi\n: > '${done}'\nsleep 1\necho "$EPOCHREALTIME" >> '${stamp}'\nexec cat '${source}'\n`

/**
 * Waits until `size` bytes are in a log and its rotated files; or, when
 * some were dropped, until the writer has exited (`exited`) and the logs
 * stopped growing for `quietMillis`: then what reached them counts.
 * Returns the bytes and the newest write time.
 */
const untilLogged = (log: string, size: number, exited: () => boolean, quietMillis: number, what: string) => {
  let last = { bytes: -1, at: 0 }
  return waitFor(`the whole output in ${what}`, () => {
    const { bytes, mtimeMs } = logBytes(log)
    if (bytes >= size) return { bytes, mtimeMs }
    const now = Date.now()
    if (bytes !== last.bytes) last = { bytes, at: now }
    return exited() && now - last.at >= quietMillis ? { bytes, mtimeMs } : undefined
  }, 300_000, 5)
}

/** The output figures' lines of text, written once per run. */
const outputSource = (size: number) => {
  const source = path.join(ROOT, "lines.txt")
  if (!fs.existsSync(source) || fs.statSync(source).size !== size) linesFile(source, size)
  return source
}

/**
 * The `cat` service of `catScript` under cronmon: MiB per second from its
 * stamp to the last write of its logs, and what was dropped, if anything.
 */
const relayThroughCronmon = async (box: Sandbox, name: string, source: string, size: number, extra: ReadonlyArray<string>) => {
  const stamp = path.join(box.stamps, name)
  writeScript(path.join(box.scripts, name), catScript(stamp, path.join(box.dir, `${name}.done`), source))
  const daemon = new Daemon(box, extra)
  const start = await waitFor(`${name}'s stamp`, () => parseStamp(readLines(stamp)[0] ?? "")?.millis, 30_000, 5)
  const end = await untilLogged(path.join(box.logs, `${name}.log`), size, () => daemon.ended.has(name), 1_000, `${name}'s logs`)
  await daemon.stop()
  fs.rmSync(box.logs, { recursive: true, force: true })
  fs.rmSync(box.scripts, { recursive: true, force: true })
  fs.mkdirSync(box.scripts)
  const dropped = size - end.bytes
  return {
    perSecond: end.bytes / ((end.mtimeMs - start) / 1000) / (1 << 20),
    dropped: dropped > 0 ? `${name}: ${formatNumber(dropped / (1 << 20))} MiB dropped` : undefined
  }
}

const OUTPUT_NO_TARGET = "no target: a relay through a pipe cannot copy inside the kernel as `cat FILE > out` does"

const output: Run = async ({ quick }) => {
  const size = quick ? 64 << 20 : 256 << 20
  const runs = quick ? 3 : 5
  const rotateAt = 10 << 20
  const source = outputSource(size)
  // The baseline is the same script with its output sent straight to a file.
  const direct: Array<number> = []
  const plain: Array<number> = []
  const rotating: Array<number> = []
  const dropped: Array<string> = []
  const throughCronmon = async (box: Sandbox, name: string, extra: ReadonlyArray<string>) => {
    const relayed = await relayThroughCronmon(box, name, source, size, extra)
    if (relayed.dropped !== undefined) dropped.push(relayed.dropped)
    return relayed.perSecond
  }
  // Interleaved: baseline, then cronmon without rotation, then with it.
  for (let run = 0; run < runs; run++) {
    const box = sandbox(`output-${run}`)
    const directStamp = path.join(box.stamps, "direct")
    const directFile = path.join(box.dir, "direct.out")
    const directScript = path.join(box.dir, "direct.sh")
    writeScript(directScript, catScript(directStamp, path.join(box.dir, "direct.done"), source))
    const fd = fs.openSync(directFile, "a", 0o600)
    spawnSync(directScript, [], { stdio: ["ignore", fd, fd] })
    fs.closeSync(fd)
    const directStart = parseStamp(readLines(directStamp)[0] ?? "")?.millis ?? Number.NaN
    direct.push(size / ((fs.statSync(directFile).mtimeMs - directStart) / 1000) / (1 << 20))
    fs.rmSync(directFile)
    plain.push(await throughCronmon(box, "plain", ["--log-max-size", String(2 * size)]))
    // Rotation on, every rotated file kept so that all the bytes can be counted.
    rotating.push(await throughCronmon(box, "rotating", ["--log-max-size", String(rotateAt), "--log-keep", String(Math.ceil(size / rotateAt) + 2)]))
    fs.rmSync(box.dir, { recursive: true, force: true })
  }
  const baseline = median(direct)
  const figure = (id: string, subject: string, samples: ReadonlyArray<number>, how: string) => {
    const value = median(samples)
    return result("output", {
      id,
      subject,
      value,
      unit: "MiB/s",
      baseline: { label: "the same service writing straight to a file", value: baseline },
      ratio: value / baseline,
      target: OUTPUT_NO_TARGET,
      detail: `${size >> 20} MiB of text lines from cat, ${how}, median of ${runs} interleaved${dropped.length === 0 ? "" : `; output dropped (bytes logged counted): ${dropped.join(", ")}`}`
    })
  }
  return [
    figure("output-throughput", "output throughput through cronmon's logging", plain, "no rotation"),
    figure("output-throughput-rotating", "output throughput, rotating every 10 MiB", rotating, `rotated every ${rotateAt >> 20} MiB`),
    ...await pacedOutput(quick)
  ]
}

/** What a service writing at a steady 50 MB/s prints, in decimal megabytes as a user states a rate. */
const PACED_RATE = 50e6

/**
 * A Node service that writes `size` bytes of text to its stdout at
 * PACED_RATE, blocking when the pipe or the disk is full (as most programs
 * do), a second after it starts; it appends how long the writing took, in
 * milliseconds, to `stamp`. Restarted, it only sleeps.
 */
const pacedScript = (stamp: string, done: string, size: number) => {
  if (/\s/.test(NODE)) throw new Error(`the paced writer needs a Node path without spaces for its #! line: ${NODE}`)
  return `#!${NODE}
const fs = process.getBuiltinModule("node:fs")
if (fs.existsSync(${JSON.stringify(done)})) setInterval(() => {}, 1 << 30)
else {
  fs.writeFileSync(${JSON.stringify(done)}, "")
  const pause = new Int32Array(new SharedArrayBuffer(4))
  Atomics.wait(pause, 0, 0, 1000)
  const chunk = Buffer.from("the quick brown fox jumps over the lazy dog 0123456789\\n".repeat(1200))
  const total = ${size}
  const start = performance.now()
  let written = 0
  while (written < total) {
    const wait = start + (written / ${PACED_RATE}) * 1000 - performance.now()
    if (wait > 0) Atomics.wait(pause, 0, 0, wait)
    written += fs.writeSync(1, chunk, 0, Math.min(chunk.length, total - written))
  }
  fs.appendFileSync(${JSON.stringify(stamp)}, (performance.now() - start) + "\\n")
}
`
}

/**
 * A service writing at 50 MB/s, as a user's program might: how long it runs
 * under cronmon against the same program writing to a file, interleaved.
 */
const pacedOutput = async (quick: boolean): Promise<Array<Result>> => {
  const size = quick ? 100e6 : 200e6
  const runs = quick ? 2 : 3
  const toFile: Array<number> = []
  const underCronmon: Array<number> = []
  const elapsedIn = (stamp: string) => Number(readLines(stamp)[0])
  for (let run = 0; run < runs; run++) {
    const box = sandbox(`paced-${run}`)
    const fileStamp = path.join(box.stamps, "file")
    const fileScript = path.join(box.dir, "paced-file")
    writeScript(fileScript, pacedScript(fileStamp, path.join(box.dir, "file.done"), size))
    const fd = fs.openSync(path.join(box.dir, "paced.out"), "a", 0o600)
    spawnSync(fileScript, [], { stdio: ["ignore", fd, fd] })
    fs.closeSync(fd)
    toFile.push(elapsedIn(fileStamp))
    const stamp = path.join(box.stamps, "paced")
    writeScript(path.join(box.scripts, "paced"), pacedScript(stamp, path.join(box.dir, "paced.done"), size))
    const daemon = new Daemon(box, ["--log-max-size", String(2 * size)])
    underCronmon.push(await waitFor("the paced writer's end", () => readLines(stamp).length > 0 ? elapsedIn(stamp) : undefined, 120_000, 20))
    await daemon.stop()
    fs.rmSync(box.dir, { recursive: true, force: true })
  }
  const value = median(underCronmon)
  const baseline = median(toFile)
  return [result("output", {
    id: "output-paced-50mbs",
    subject: "a service writing 50 MB/s: its run time under cronmon",
    value,
    unit: "ms",
    baseline: { label: "the same service writing to a file", value: baseline },
    ratio: value / baseline,
    target: "<= 1.05x",
    met: value / baseline <= 1.05,
    detail: `${formatNumber(size / 1e6)} MB in 66 KB writes, paced, timed by the writer; median of ${runs} interleaved; ideal ${formatNumber(size / PACED_RATE * 1000)} ms`
  })]
}

/**
 * Waits until the RSS of `pid` has settled: at least `minMillis`, then
 * until it moved by 1 MiB or less over 5 s, at most `maxMillis`. Returns
 * the last RSS (KiB), and whether it settled before `maxMillis`.
 */
const settledRss = async (pid: number, minMillis: number, maxMillis: number) => {
  const samples: Array<{ at: number; kib: number }> = []
  const start = Date.now()
  for (;;) {
    const at = Date.now()
    samples.push({ at, kib: rssKib(pid) })
    const settled = isSettled(samples, 5_000, 1024)
    if (at - start >= maxMillis || (at - start >= minMillis && settled)) {
      return { kib: samples[samples.length - 1]?.kib ?? Number.NaN, settled }
    }
    await delay(500)
  }
}

/**
 * V8's heap of a daemon run with `--inspect=127.0.0.1:0`, through its
 * inspector: its size, then what is left after a full collection (the live
 * heap) and the RSS once it has given memory back. The collection changes
 * the process: read its settled RSS first.
 */
const heapThroughInspector = async (daemon: Daemon) => {
  const url = daemon.inspector
  if (url === undefined) throw new Error("the daemon's inspector did not say where it listens")
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve)
    socket.addEventListener("error", () => reject(new Error(`cannot reach the daemon's inspector at ${url}`)))
  })
  const answers = new Map<number, (answer: unknown) => void>()
  socket.addEventListener("message", (event) => {
    const answer: unknown = JSON.parse(String(event.data))
    if (typeof answer === "object" && answer !== null && "id" in answer && typeof answer.id === "number") {
      answers.get(answer.id)?.(answer)
    }
  })
  let calls = 0
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      const id = ++calls
      answers.set(id, resolve)
      socket.send(JSON.stringify({ id, method, params }))
    })
  const heap = async () => {
    const answer = await call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())", returnByValue: true })
    const found = heapOfAnswer(answer)
    if (found === undefined) throw new Error(`the daemon's inspector answered ${JSON.stringify(answer)}`)
    return found
  }
  try {
    const before = await heap()
    await call("HeapProfiler.collectGarbage")
    const after = await heap()
    await delay(500)
    return { total: before.total / (1 << 20), live: after.used / (1 << 20), rssAfterGc: rssKib(daemon.pid) / 1024 }
  } finally {
    socket.close()
  }
}

type HeapReading = Awaited<ReturnType<typeof heapThroughInspector>>

/** A reading's heap, for a figure's notes. */
const heapNote = (heap: HeapReading) =>
  `V8 heap ${formatNumber(heap.total)} MiB, live ${formatNumber(heap.live)} MiB; RSS after a full GC ${formatNumber(heap.rssAfterGc)} MiB`

const CHURN_GAP = 120

/**
 * Growth under churn: the daemon's RSS before and after `restarts`
 * restarts of 5 services (each a `touch`, CHURN_GAP ms apart), and in a
 * second daemon before and after `scripts` scripts added and removed one by
 * one (each started, then stopped, under a new name). Settled before each
 * reading; then the live heap beside it, through the daemon's inspector
 * (which forces a full collection: after the RSS is read).
 */
const churn: Run = async ({ quick, restarts, scripts }) => {
  const settleMin = quick ? 3_000 : 10_000
  const settleMax = quick ? 15_000 : 60_000
  const services = 5
  const start = async (name: string) => {
    const box = sandbox(name)
    for (let i = 0; i < services; i++) writeScript(path.join(box.scripts, `c${i}`), "#!/bin/sh\necho \"run $$\"\nexec sleep 1000000\n")
    const daemon = new Daemon(box, [], { node: ["--inspect=127.0.0.1:0"] })
    await daemon.untilStarted(services, 60_000)
    return { box, daemon }
  }
  const reading = async (daemon: Daemon) => {
    const rss = await settledRss(daemon.pid, settleMin, settleMax)
    return { ...rss, heap: await heapThroughInspector(daemon) }
  }
  const ratioResult = (id: string, subject: string, before: Awaited<ReturnType<typeof reading>>, after: Awaited<ReturnType<typeof reading>>, how: string) =>
    result("churn", {
      id,
      subject,
      value: after.kib / 1024,
      unit: "MiB",
      baseline: { label: "its own RSS before, settled", value: before.kib / 1024 },
      ratio: after.kib / before.kib,
      target: "<= 1.15x",
      met: after.kib / before.kib <= 1.15,
      detail: `${how}; before: ${heapNote(before.heap)}; after: ${heapNote(after.heap)}` +
        (before.settled && after.settled ? "" : "; RSS still moving at the end of the wait")
    })

  const restarting = await start("churn-restarts")
  const beforeRestarts = await reading(restarting.daemon)
  const startsBefore = restarting.daemon.totalStarts
  for (let i = 0; i < restarts; i++) {
    const file = path.join(restarting.box.scripts, `c${i % services}`)
    const now = new Date()
    fs.utimesSync(file, now, now)
    await delay(CHURN_GAP)
  }
  // Every touch restarts its service (touches of one service are 5 gaps
  // apart); the count seen is in the figure's notes.
  const restarted = () => restarting.daemon.totalStarts - startsBefore
  await restarting.daemon.until(`${restarts} restarts`, () => restarted() >= restarts, 30_000).catch(() => undefined)
  const afterRestarts = await reading(restarting.daemon)
  await restarting.daemon.stop()

  const adding = await start("churn-scripts")
  const staging = path.join(adding.box.dir, "staging")
  fs.mkdirSync(staging)
  const beforeScripts = await reading(adding.daemon)
  for (let i = 0; i < scripts; i++) {
    const name = `x${i}`
    writeScript(path.join(staging, name), sleeper)
    fs.renameSync(path.join(staging, name), path.join(adding.box.scripts, name))
    await adding.daemon.until(`${name} started`, () => adding.daemon.started.has(name), 10_000)
    fs.rmSync(path.join(adding.box.scripts, name))
    await adding.daemon.until(`${name} stopped`, () => adding.daemon.ended.has(name), 10_000)
  }
  const afterScripts = await reading(adding.daemon)
  await adding.daemon.stop()
  return [
    ratioResult("churn-restarts", `daemon RSS after ${restarts} restarts of ${services} services`, beforeRestarts, afterRestarts,
      `a touch every ${CHURN_GAP} ms, ${restarted()} restarts seen`),
    ratioResult("churn-scripts", `daemon RSS after ${scripts} scripts added and removed one by one`, beforeScripts, afterScripts,
      "each moved in, started, removed, stopped, under a new name")
  ]
}

// ---------------------------------------------------------------------------
// Peers

const which = (command: string): string | undefined => {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" })
  return found.status === 0 ? found.stdout.trim() : undefined
}

/** The children of `pid` (from /proc; "poll": 10 ms granularity). */
const childrenOf = (pid: number): Array<number> =>
  (readProc(pid, `task/${pid}/children`) ?? "").trim().split(/\s+/).filter((id) => id !== "").map(Number)

/** How to run a peer supervisor over a set of service scripts. */
interface Peer {
  readonly name: string
  /** Starts it over `scripts` (name → absolute path); resolves with the pid whose children the services are. */
  readonly start: (dir: string, scripts: ReadonlyArray<readonly [string, string]>) => Promise<number>
  readonly stop: (dir: string, pid: number) => Promise<void>
}

const supervisordExits = new Map<number, Promise<void>>()

const supervisord = (binary: string): Peer => ({
  name: "supervisord",
  start: async (dir, scripts) => {
    const conf = path.join(dir, "supervisord.conf")
    const programs = scripts.map(([name, file]) =>
      `[program:${name}]\ncommand=${file}\nautorestart=true\nstartsecs=0\nstartretries=1000\nstopwaitsecs=3\n` +
      `redirect_stderr=true\nstdout_logfile=${path.join(dir, `${name}.log`)}\n`
    )
    fs.writeFileSync(conf, [
      `[supervisord]\nnodaemon=true\nlogfile=${path.join(dir, "supervisord.log")}\npidfile=${path.join(dir, "supervisord.pid")}\nchildlogdir=${dir}\n`,
      // For supervisorctl.
      `[unix_http_server]\nfile=${path.join(dir, "supervisor.sock")}\n[supervisorctl]\nserverurl=unix://${path.join(dir, "supervisor.sock")}\n` +
      `[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n`,
      ...programs
    ].join("\n"))
    const child = spawn(binary, ["-n", "-c", conf], { stdio: "ignore" })
    if (child.pid === undefined) throw new Error("cannot start supervisord")
    const pid = child.pid
    groups.add(pid)
    supervisordExits.set(pid, new Promise((resolve) => child.on("exit", () => resolve())))
    return pid
  },
  stop: async (_dir, pid) => {
    kill(pid, "SIGTERM")
    // It stops its programs one tick at a time.
    await Promise.race([supervisordExits.get(pid), delay(60_000)])
    kill(pid, "SIGKILL")
  }
})

const pm2 = (binary: string): Peer => ({
  name: "PM2",
  start: async (dir, scripts) => {
    const env = { ...process.env, PM2_HOME: path.join(dir, "pm2") }
    const ecosystem = path.join(dir, "ecosystem.json")
    fs.writeFileSync(ecosystem, JSON.stringify({
      apps: scripts.map(([name, file]) => ({
        name,
        script: file,
        interpreter: "none",
        autorestart: true,
        restart_delay: 0,
        out_file: path.join(dir, `${name}.log`),
        error_file: path.join(dir, `${name}.log`)
      }))
    }))
    const started = spawnSync(binary, ["start", ecosystem], { env, stdio: "ignore", timeout: 120_000 })
    if (started.status !== 0) throw new Error("pm2 start failed")
    const pid = Number(fs.readFileSync(path.join(dir, "pm2", "pm2.pid"), "utf8"))
    groups.add(pid)
    return pid
  },
  stop: async (dir, pid) => {
    spawnSync(binary, ["kill"], { env: { ...process.env, PM2_HOME: path.join(dir, "pm2") }, stdio: "ignore", timeout: 30_000 })
    kill(pid, "SIGKILL")
  }
})

const peerFigures = async (peer: Peer, quick: boolean): Promise<Array<Result>> => {
  const count = 100
  const box = sandbox(`peer-${peer.name}`)
  const scripts = Array.from({ length: count }, (_, i) => {
    const name = `p${String(i).padStart(3, "0")}`
    const file = path.join(box.scripts, name)
    writeScript(file, stampScript(path.join(box.stamps, name), "exec sleep 1000000"))
    return [name, file] as const
  })
  const launchedAt = epochNow()
  const pid = await peer.start(box.dir, scripts)
  try {
    const startup = await waitFor(`${peer.name}: ${count} services`, () => childrenOf(pid).length >= count ? epochNow() : undefined, 120_000, 10) - launchedAt
    await delay(quick ? 1_000 : 3_000)
    const rss = rssKib(pid)
    const samples: Array<number> = []
    for (const [name] of scripts.slice(0, quick ? 8 : 25)) {
      samples.push(await restartLatency(path.join(box.stamps, name), `${peer.name}: ${name}`))
      await delay(100)
    }
    const p50 = percentile(samples, 50)
    return [
      result("peers", { id: `peer-${peer.name}-startup-100`, subject: `${peer.name}: start-up, 100 services (poll)`, value: startup, unit: "ms" }),
      result("peers", { id: `peer-${peer.name}-memory-100`, subject: `${peer.name}: RSS, 100 services`, value: rss / 1024, unit: "MiB", detail: "the supervising process alone" }),
      result("peers", {
        id: `peer-${peer.name}-restart`,
        subject: `${peer.name}: restart after kill -9 (stamp)`,
        value: p50,
        unit: "ms",
        detail: `p95 ${formatNumber(percentile(samples, 95))} ms, ${samples.length} samples`
      })
    ]
  } finally {
    await peer.stop(box.dir, pid)
  }
}

/**
 * The `cat` service of `catScript` under a peer: MiB per second from its
 * stamp to the last write of its logs (its end is not announced: the logs
 * quiet for 3 s end the wait).
 */
const relayThroughPeer = async (peer: Peer, source: string, size: number, run: number) => {
  const box = sandbox(`relay-${peer.name}-${run}`)
  const name = "relay"
  const stamp = path.join(box.stamps, name)
  const file = path.join(box.scripts, name)
  writeScript(file, catScript(stamp, path.join(box.dir, `${name}.done`), source))
  const pid = await peer.start(box.dir, [[name, file]])
  try {
    const start = await waitFor(`${peer.name}: ${name}'s stamp`, () => parseStamp(readLines(stamp)[0] ?? "")?.millis, 60_000, 5)
    const end = await untilLogged(path.join(box.dir, `${name}.log`), size, () => true, 3_000, `${peer.name}'s log`)
    return end.bytes / ((end.mtimeMs - start) / 1000) / (1 << 20)
  } finally {
    await peer.stop(box.dir, pid)
    fs.rmSync(box.dir, { recursive: true, force: true })
  }
}

/** Lines for the report about the peers: installed or not. */
let peerLines: Array<string> = []

const failure = (error: unknown) => error instanceof Error ? error.message : String(error)

/** Output throughput through each peer's logging beside cronmon's, interleaved run by run. */
const relays = async (peers: ReadonlyArray<Peer>, quick: boolean): Promise<Array<Result>> => {
  const size = quick ? 64 << 20 : 256 << 20
  const runs = quick ? 1 : 3
  const source = outputSource(size)
  const ours: Array<number> = []
  const theirs = new Map<string, Array<number>>()
  for (let run = 0; run < runs; run++) {
    const box = sandbox(`relay-cronmon-${run}`)
    ours.push((await relayThroughCronmon(box, "relay", source, size, ["--log-max-size", String(2 * size)])).perSecond)
    fs.rmSync(box.dir, { recursive: true, force: true })
    for (const peer of peers) {
      try {
        const samples = theirs.get(peer.name) ?? []
        samples.push(await relayThroughPeer(peer, source, size, run))
        theirs.set(peer.name, samples)
      } catch (error) {
        peerLines.push(`${peer.name}: output relay failed: ${failure(error)}`)
      }
    }
  }
  const value = median(ours)
  return Array.from(theirs, ([name, samples]) => {
    const baseline = median(samples)
    return result("peers", {
      id: `relay-vs-${name}`,
      subject: `output throughput through cronmon's logging, against ${name}'s`,
      value,
      unit: "MiB/s",
      baseline: { label: `${name}, the same service`, value: baseline },
      ratio: value / baseline,
      detail: `${size >> 20} MiB of text lines from cat, no rotation for cronmon, median of ${runs} interleaved`
    })
  })
}

const peersFigure: Run = async ({ quick }, measured) => {
  const results: Array<Result> = []
  peerLines = []
  const found: Array<[string, string | undefined, (binary: string) => Peer]> = [
    ["supervisord", which("supervisord"), supervisord],
    ["PM2", which("pm2"), pm2]
  ]
  const installed: Array<Peer> = []
  for (const [name, binary, make] of found) {
    if (binary === undefined) {
      peerLines.push(`${name}: not installed, no figures`)
      continue
    }
    peerLines.push(`${name}: ${binary}`)
    process.stdout.write(`  ${name}\n`)
    const peer = make(binary)
    installed.push(peer)
    try {
      results.push(...await peerFigures(peer, quick))
    } catch (error) {
      peerLines.push(`${name}: failed: ${failure(error)}`)
      process.stderr.write(`  ${name} failed: ${failure(error)}\n`)
    }
  }
  // The daemon's RSS of this run's startup-memory figure against PM2's.
  const ours = measured.find((measurement) => measurement.id === "memory-100")
  const theirs = results.find((measurement) => measurement.id === "peer-PM2-memory-100")
  if (ours !== undefined && theirs !== undefined) {
    results.push(result("peers", {
      id: "memory-100-vs-pm2",
      subject: "daemon RSS, 100 services, against PM2's",
      value: ours.value,
      unit: "MiB",
      baseline: { label: "PM2's daemon, 100 services", value: theirs.value },
      ratio: ours.value / theirs.value,
      target: "< 1x",
      met: ours.value < theirs.value,
      detail: "both in this run"
    }))
  }
  if (installed.length > 0) results.push(...await relays(installed, quick))
  return results
}

// ---------------------------------------------------------------------------
// Control: `cronmon restart NAME` beside `supervisorctl restart` and `pm2 restart`

/** Runs a command to its end without blocking: wall milliseconds, exit code, stderr. */
const timeCommand = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ readonly millis: number; readonly status: number | null; readonly stderr: string }>((resolve) => {
    const start = performance.now()
    const child = spawn(command, args, { env, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk))
    child.on("close", (status) => resolve({ millis: performance.now() - start, status, stderr }))
  })

/**
 * `samples` restarts of the service whose stamps go to `stampFile`, each by
 * `restart()`: its wall time, from the command's start to its exit, checked
 * to have started a new instance (a new stamp) each time.
 */
const restartTimes = async (who: string, stampFile: string, samples: number, restart: () => ReturnType<typeof timeCommand>) => {
  const times: Array<number> = []
  for (let i = 0; i < samples; i++) {
    const before = readLines(stampFile).length
    const run = await restart()
    if (run.status !== 0) throw new Error(`${who}: restart exited ${run.status}: ${run.stderr.trim()}`)
    await waitFor(`${who}: a new instance`, () => readLines(stampFile).length > before || undefined, 10_000, 5)
    times.push(run.millis)
    await delay(100)
  }
  return times
}

const controlRestart: Run = async ({ quick, peers }) => {
  const samples = quick ? 5 : 15
  const box = sandbox("control-restart")
  const stamp = path.join(box.stamps, "svc")
  // bash execs sleep, which SIGTERM ends at once.
  writeScript(path.join(box.scripts, "svc"), stampScript(stamp, "exec sleep 1000000"))
  const daemon = new Daemon(box)
  await daemon.untilStarted(1, 30_000)
  await waitFor("the first stamp", () => readLines(stamp).length > 0 || undefined, 10_000)
  const cronmon = await restartTimes("cronmon", stamp, samples, () => timeCommand(NODE, [CLI, "restart", "svc", "-j", box.journal]))
  await daemon.stop()
  const bareTimes: Array<number> = []
  for (let i = 0; i < samples; i++) bareTimes.push((await timeCommand(NODE, ["-e", ""])).millis)
  const bare = median(bareTimes)

  const theirs: Array<{ readonly name: string; readonly p50: number; readonly result: Result }> = []
  const installed: Array<[string, string | undefined, (binary: string) => Peer, (dir: string) => [string, Array<string>, NodeJS.ProcessEnv]]> = [
    ["supervisorctl", which("supervisord"), supervisord, (dir) => [which("supervisorctl") ?? "supervisorctl", ["-c", path.join(dir, "supervisord.conf"), "restart", "svc"], process.env]],
    ["pm2", which("pm2"), pm2, (dir) => [which("pm2") ?? "pm2", ["restart", "svc"], { ...process.env, PM2_HOME: path.join(dir, "pm2") }]]
  ]
  for (const [name, binary, make, command] of peers ? installed : []) {
    if (binary === undefined) continue
    const peerBox = sandbox(`control-restart-${name}`)
    const peerStamp = path.join(peerBox.stamps, "svc")
    const file = path.join(peerBox.scripts, "svc")
    writeScript(file, stampScript(peerStamp, "exec sleep 1000000"))
    const peer = make(binary)
    const pid = await peer.start(peerBox.dir, [["svc", file]])
    try {
      await waitFor(`${name}: the first stamp`, () => readLines(peerStamp).length > 0 || undefined, 30_000)
      const [program, args, env] = command(peerBox.dir)
      const times = await restartTimes(name, peerStamp, samples, () => timeCommand(program, args, env))
      const p50 = percentile(times, 50)
      theirs.push({
        name,
        p50,
        result: result("control-restart", {
          id: `control-restart-${name}`,
          subject: `\`${name} restart NAME\`, wall time (p50)`,
          value: p50,
          unit: "ms",
          detail: `p95 ${formatNumber(percentile(times, 95))} ms, ${times.length} samples`
        })
      })
    } finally {
      await peer.stop(peerBox.dir, pid)
    }
  }
  const p50 = percentile(cronmon, 50)
  const fastest = theirs.reduce((best, peer) => Math.min(best, peer.p50), Number.POSITIVE_INFINITY)
  return [
    result("control-restart", {
      id: "control-restart",
      subject: "`cronmon restart NAME`, wall time (p50)",
      value: p50,
      unit: "ms",
      baseline: { label: "node -e ''", value: bare },
      ratio: p50 / bare,
      target: "faster than `supervisorctl restart` and `pm2 restart` (--peers)",
      ...(theirs.length === 0 ? {} : { met: p50 < fastest }),
      detail: `p95 ${formatNumber(percentile(cronmon, 95))} ms, ${cronmon.length} samples; a service that exits on SIGTERM${
        theirs.length === 0 ? "; peers not measured" : `; ${theirs.map((peer) => `${peer.name} ${formatNumber(peer.p50)} ms`).join(", ")}`
      }`
    }),
    ...theirs.map((peer) => peer.result)
  ]
}

// ---------------------------------------------------------------------------
// Readiness: `cronmon restart NAME --ready`, less the service's own delay

// How long the service takes, from its start, before it says READY=1.
const READY_DELAY_MILLIS = 200

const readyRestart: Run = async ({ quick }) => {
  const samples = quick ? 5 : 15
  const box = sandbox("ready-restart")
  const stamp = path.join(box.stamps, "svc")
  // systemd's own sender where installed (a C program: little of its own
  // cost in the figure), else Python's standard library.
  const systemdNotify = fs.existsSync("/usr/bin/systemd-notify")
  const notify = systemdNotify
    ? "/usr/bin/systemd-notify --ready"
    : `python3 -c 'import os, socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])'`
  writeScript(
    path.join(box.scripts, "svc"),
    stampScript(stamp, `sleep ${READY_DELAY_MILLIS / 1000}\n${notify}\nexec sleep 1000000`)
  )
  const daemon = new Daemon(box)
  await daemon.untilStarted(1, 30_000)
  await waitFor("the first stamp", () => readLines(stamp).length > 0 || undefined, 10_000)
  // Each restart's wall time, split at the new instance's first line (its
  // stamp): before it, the command's Node start, the stop and the spawn;
  // after it, the service's delay, its READY=1 and the answer.
  const beyond: Array<number> = []
  const beforeStamp: Array<number> = []
  for (let i = 0; i < samples; i++) {
    const before = readLines(stamp).length
    const startedAt = epochNow()
    const run = await timeCommand(NODE, [CLI, "restart", "svc", "--ready", "-j", box.journal])
    if (run.status !== 0) throw new Error(`cronmon restart --ready exited ${run.status}: ${run.stderr.trim()}`)
    const stamped = parseStamp(readLines(stamp).slice(before).at(-1) ?? "")
    if (stamped === undefined) throw new Error("cronmon restart --ready: no new instance")
    beyond.push(run.millis - READY_DELAY_MILLIS)
    beforeStamp.push(stamped.millis - startedAt)
    await delay(100)
  }
  await daemon.stop()
  const bareTimes: Array<number> = []
  for (let i = 0; i < samples; i++) bareTimes.push((await timeCommand(NODE, ["-e", ""])).millis)
  const p50 = percentile(beyond, 50)
  const untilStamp = percentile(beforeStamp, 50)
  return [
    result("ready-restart", {
      id: "ready-restart",
      subject: `\`cronmon restart NAME --ready\`, wall time less the service's ${READY_DELAY_MILLIS} ms to READY=1 (p50)`,
      value: p50,
      unit: "ms",
      baseline: { label: "node -e ''", value: median(bareTimes) },
      ratio: p50 / median(bareTimes),
      target: "under 50 ms",
      met: p50 < 50,
      detail: `p95 ${formatNumber(percentile(beyond, 95))} ms, ${beyond.length} samples; READY=1 by ${
        systemdNotify ? "systemd-notify" : "python3"
      }; p50 ${formatNumber(untilStamp)} ms from the command's start (its Node start included) to the new instance's first line, ${
        formatNumber(p50 - untilStamp)
      } ms from there to the answer, less the delay`
    })
  ]
}

const RUNS: Record<Figure, Run> = {
  "cron-tick": cronTick,
  "startup-memory": startupMemory,
  "idle-cpu": idleCpu,
  restart,
  reaction,
  "stop-all": stopAllFigure,
  journal,
  output,
  churn,
  "control-restart": controlRestart,
  "ready-restart": readyRestart,
  peers: peersFigure
}

// ---------------------------------------------------------------------------
// Report

const machine = () => {
  const cpus = os.cpus()
  return {
    cpu: `${cpus[0]?.model ?? "unknown"} (${cpus.length} cores)`,
    memory: `${formatNumber(os.totalmem() / (1 << 30))} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2)))
  }
}

/** A result as this harness writes it (enough of it to merge and print). */
const isResult = (value: unknown): value is Result =>
  typeof value === "object" && value !== null &&
  "id" in value && typeof value.id === "string" &&
  "figure" in value && FIGURES.some((figure) => figure === value.figure) &&
  "subject" in value && typeof value.subject === "string" &&
  "value" in value && typeof value.value === "number" &&
  "unit" in value && typeof value.unit === "string" &&
  "measuredAt" in value && typeof value.measuredAt === "string"

const readEarlier = (): Array<Result> => {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(RESULTS, "utf8"))
    if (typeof parsed === "object" && parsed !== null && "results" in parsed && Array.isArray(parsed.results)) {
      return parsed.results.filter(isResult)
    }
  } catch {
    // none yet
  }
  return []
}

const NOTES_MARK = "<!-- notes: kept by npm run bench -->"

/** What follows the notes mark in the current report: written by hand, kept across runs. */
const keptNotes = (): string => {
  try {
    const text = fs.readFileSync(REPORT, "utf8")
    const at = text.indexOf(NOTES_MARK)
    return at < 0 ? `\n${NOTES_MARK}\n` : `\n${text.slice(at)}`
  } catch {
    return `\n${NOTES_MARK}\n`
  }
}

const writeReport = (results: ReadonlyArray<Result>, options: Options, peerLines: ReadonlyArray<string>, loadAtStart: ReadonlyArray<number>) => {
  const info = machine()
  const command = `npm run bench${options.quick ? " -- --quick" : ""}${options.peers ? " -- --peers" : ""}`
  const date = now()
  fs.writeFileSync(RESULTS, `${JSON.stringify({ date, command, machine: { ...info, loadAverageAtStart: loadAtStart }, peers: peerLines, results }, null, 2)}\n`)
  const lines = [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (bench/run.ts) from its last run; the raw figures are in",
    "`bench/results.json`. Each figure is measured with the built CLI and real processes, beside",
    "a baseline measured in the same run. Re-run on your machine with:",
    "",
    "```sh",
    "npm ci && npm run build && npm run bench   # add --quick for a smoke run, --only a,b for some figures",
    "```",
    "",
    `- date: ${date}`,
    `- machine: ${info.cpu}, ${info.memory}, ${info.kernel}`,
    `- Node: ${info.node}`,
    `- load average at start: ${loadAtStart.join(", ")} (at the end: ${info.loadAverage.join(", ")})`,
    `- command: \`${command}\`${options.only.filter((figure) => figure !== "peers").length < FIGURES.length - 1 ? ` (figures ${options.only.join(", ")} refreshed; the others from earlier runs, see each figure's time in results.json)` : ""}`,
    "",
    markdownTable(results),
    "",
    "How each figure is taken:",
    "",
    "- cron tick: `node dist/cronmon.js -j J -s S --logs L` while a daemon holds J's lock, against",
    "  `node -e ''`, interleaved; wall time around the spawn, peak RSS by `/usr/bin/time -f %M`.",
    "- start-up: the daemon's launch to its stderr saying the last of N `sleep` services started,",
    "  against the same for bench/bare-supervisor.ts (a bare Node supervisor: `setpriv`, a group",
    "  and one output pipe per service, respawned at once; no journal, no logs), run one after the",
    "  other. Memory: the daemon's VmRSS once settled, against a bare `node` at rest.",
    "- idle CPU: the daemon's utime+stime from /proc over the window, 100 services, nothing happening.",
    "- restart, reaction: \"stamp\": a bash service appends `$EPOCHREALTIME` first thing; the",
    "  latency is that stamp minus the time of the `kill -9` or the `rename` into the directory.",
    "  Restart samples are first failures (delay 0) of distinct services, interleaved with the",
    "  same under the bare Node supervisor.",
    "- stop-all: services run `trap '' TERM; exec sleep`; SIGTERM to the daemon until it exits.",
    "- journal: appends through the Journal layer (O_SYNC) against bare O_SYNC writes; opening a",
    "  big journal (lock, tail repair, previous state) against a small one with the same tail.",
    "- output: `cat` of a file of text lines into the service's output, the stamp to the last",
    "  write (mtime) of its logs (rotated ones counted), against the same script writing straight",
    "  to a file; with rotation off (`--log-max-size` above the size) and every 10 MiB. No target:",
    "  `cat FILE > out` copies inside the kernel, which no relay through a pipe can. Paced: a Node",
    "  service writes 50 MB/s (blocking writes) and times itself, under cronmon and into a file.",
    "- churn: VmRSS before and after 3000 restarts of 5 services (a touch every 120 ms), and in",
    "  another daemon before and after 1000 scripts moved in and removed one by one (each started,",
    "  then stopped). Settled: at least 10 s, then until the RSS moved by 1 MiB or less over 5 s, at",
    "  most 60 s. Then, through the daemon's inspector (run as `node --inspect=127.0.0.1:0",
    "  dist/cronmon.js …`; listening costs no RSS), V8's heap, a full GC, the live heap and the RSS",
    "  after it. `--restarts N`, `--scripts N` change the counts.",
    "",
    "Peers (`--peers`): start-up by polling the supervisor's children, RSS of the supervising",
    "process, restart by stamp as for cronmon; output throughput through each one's logging",
    "beside cronmon's, interleaved; cronmon's RSS of this run against PM2's.",
    "",
    ...(peerLines.length === 0 ? ["- not asked for in this run"] : peerLines.map((line) => `- ${line}`)),
    ""
  ]
  fs.writeFileSync(REPORT, lines.join("\n") + keptNotes())
}

// ---------------------------------------------------------------------------
// Main

const main = async () => {
  let options: Options
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(2)
  }
  if (options.help) {
    process.stdout.write(`usage: npm run bench -- [--quick] [--peers] [--only ${FIGURES.join(",")}] [--restarts N] [--scripts N]\n`)
    return
  }
  if (Number(process.versions.node.split(".")[0]) < 24) {
    process.stderr.write(`bench: Node ${process.version} is too old; run it with the pinned Node (npm run bench)\n`)
    process.exit(1)
  }
  if (!fs.existsSync(CLI)) {
    process.stderr.write(`bench: ${CLI} is missing: run \`npm run build\` first\n`)
    process.exit(1)
  }
  ROOT = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-bench-")))
  const cleanUp = () => {
    killEverything()
    fs.rmSync(ROOT, { recursive: true, force: true })
  }
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}: stopping everything\n`)
      cleanUp()
      process.exit(130)
    })
  }
  const loadAtStart = os.loadavg().map((load) => Number(load.toFixed(2)))
  process.stdout.write(`cronmon bench: Node ${process.version}, ${os.cpus().length} cores, load ${loadAtStart.join(" ")}${options.quick ? ", quick" : ""}\n`)
  const fresh: Array<Result> = []
  let failed = false
  try {
    for (const figure of FIGURES) {
      if (!options.only.includes(figure)) continue
      process.stdout.write(`${figure}\n`)
      try {
        fresh.push(...await RUNS[figure](options, fresh))
      } catch (error) {
        failed = true
        process.stderr.write(`  ${figure} failed: ${error instanceof Error ? error.message : String(error)}\n`)
        await stopAll()
      }
    }
  } finally {
    await stopAll()
    cleanUp()
  }
  for (const line of peerLines) process.stdout.write(`${line}\n`)
  writeReport(mergeResults(readEarlier(), fresh), options, peerLines, loadAtStart)
  process.stdout.write(`wrote ${path.relative(process.cwd(), RESULTS)} and ${path.relative(process.cwd(), REPORT)}\n`)
  if (failed) process.exitCode = 1
}

await main()
