/**
 * Shared helpers of the end-to-end tests: a sandbox directory per test, the
 * built CLI run as a real process, the journal read back line by line, and
 * polling with a deadline.
 *
 * The tests assume `dist/cronmon.js` is built (`npm test` builds it first; by
 * hand: `npm run build`).
 */
import { type ChildProcess, spawn, spawnSync, type SpawnSyncReturns } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** The repository root. */
export const REPO = path.resolve(import.meta.dirname, "..", "..")

/** The bundled CLI. */
export const CLI = path.join(REPO, "dist", "cronmon.js")

if (!fs.existsSync(CLI)) {
  throw new Error(`${CLI} is missing: run \`npm run build\` before the e2e tests (\`npm test\` does it)`)
}

/**
 * The Node that runs the CLI: the test process's own when it is recent enough
 * (vitest started through `npm run` runs on the pinned Node 24), else the
 * pinned one from node_modules (a bare `node_modules/.bin/vitest` runs on
 * whatever `node` comes first on PATH).
 */
export const NODE: string = (() => {
  const major = Number(process.versions.node.split(".")[0])
  if (major >= 24) return process.execPath
  const pinned = path.join(REPO, "node_modules", ".bin", "node")
  if (!fs.existsSync(pinned)) throw new Error(`Node ${process.versions.node} is too old and ${pinned} is missing`)
  return fs.realpathSync(pinned)
})()

// ---------------------------------------------------------------------------
// Waiting

export interface WaitOptions {
  readonly timeout?: number
  readonly interval?: number
  /** Said when the deadline passes; a function is called then (for a snapshot of the state). */
  readonly message?: string | (() => string)
}

/**
 * Polls `predicate` until it returns a truthy value, which is returned; throws
 * when `timeout` ms pass first.
 */
export const waitFor = async <A>(
  predicate: () => A | Promise<A>,
  { interval = 25, message, timeout = 5_000 }: WaitOptions = {}
): Promise<NonNullable<A>> => {
  const deadline = Date.now() + timeout
  let lastError: unknown
  for (;;) {
    try {
      const value = await predicate()
      if (value) return value as NonNullable<A>
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const said = typeof message === "function" ? message() : message
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ""
      throw new Error(`waitFor: timed out after ${timeout} ms${said === undefined ? "" : `: ${said}`}${why}`)
    }
    await delay(interval)
  }
}

/**
 * Waits `ms`. Only for windows in which something must NOT happen (no
 * restart after `chmod -x`), never as a stand-in for waiting on a condition.
 */
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------
// Processes

/**
 * The state letter of `/proc/PID/stat` (R, S, Z, ...) and the parent pid, or
 * undefined when the process is gone.
 */
export const procState = (pid: number): { readonly state: string; readonly ppid: number } | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state: fields[0] ?? "?", ppid: Number(fields[1]) }
  } catch {
    return undefined
  }
}

/**
 * Whether `pid` is a live process: `kill(pid, 0)` succeeds.
 *
 * One exception: a zombie re-parented to PID 1 counts as dead. On this
 * machine PID 1 is the VM's agent (`process_api`), which reaps orphans only
 * every 1 to 2 s, so a process that outlives its parent (a `sleep` child of
 * a service killed by the same group signal as its shell) stays a zombie
 * that long. It has exited and holds nothing but its PID. A zombie whose
 * parent is alive and not PID 1 (the daemon, say) counts as alive: reaping
 * it is its parent's job.
 */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false
    if ((error as NodeJS.ErrnoException).code === "EPERM") return true
    throw error
  }
  const proc = procState(pid)
  if (proc === undefined) return false
  return !(proc.state === "Z" && proc.ppid === 1)
}

/** SIGKILL, ignoring a process that is already gone. */
export const killQuietly = (pid: number, signal: NodeJS.Signals = "SIGKILL"): void => {
  try {
    process.kill(pid, signal)
  } catch {
    // gone
  }
}

// ---------------------------------------------------------------------------
// Journal

export interface JournalLine {
  readonly time: string
  readonly type: string
  readonly data: Record<string, unknown>
}

/** The journal's complete lines, each parsed with `JSON.parse` (a line still being written is left out). */
export const readJournal = (file: string): Array<JournalLine> => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return []
    throw error
  }
  const lines = text.split("\n")
  lines.pop() // after the last newline: empty, or a line not finished yet
  return lines.filter((line) => line !== "").map((line) => JSON.parse(line) as JournalLine)
}

/** Events of `type` (and of service `file`, when given). */
export const eventsOf = (journal: ReadonlyArray<JournalLine>, type: string, file?: string): Array<JournalLine> =>
  journal.filter((event) => event.type === type && (file === undefined || event.data["file"] === file))

/** The pids of `process spawned` events of `file`, in order. */
export const spawnedPids = (journal: ReadonlyArray<JournalLine>, file: string): Array<number> =>
  eventsOf(journal, "process spawned", file).map((event) => event.data["pid"] as number)

// ---------------------------------------------------------------------------
// Sandbox

/** A header that records the script's pid as `PID NAME` in the sandbox's pids file. */
const pidLine = (pidsFile: string, name: string, variable = "$$") => `echo "${variable} ${name}" >> '${pidsFile}'`

/**
 * A temporary directory for one test (under `os.tmpdir()`, resolved through
 * symlinks) with the paths a daemon uses, and everything the test started.
 */
export class Sandbox {
  readonly root: string
  readonly scripts: string
  readonly journal: string
  readonly logs: string
  readonly pidsFile: string
  private readonly daemons: Array<Daemon> = []

  /**
   * `base`: where the sandbox is made (`os.tmpdir()` unless told; Vim skips
   * its backup under `/tmp`, so a test of its save by rename goes elsewhere).
   */
  constructor(options: { readonly base?: string } = {}) {
    this.root = fs.realpathSync(fs.mkdtempSync(path.join(options.base ?? os.tmpdir(), "cronmon-e2e-")))
    this.scripts = path.join(this.root, "scripts")
    this.journal = path.join(this.root, "journal.json")
    this.logs = path.join(this.root, "logs")
    this.pidsFile = path.join(this.root, "pids")
    fs.mkdirSync(this.scripts)
  }

  /**
   * The text of a `#!/bin/sh` service script named `name` whose first line
   * records its pid; `$PIDS` in `body` is the pids file, to record more pids
   * (`echo "$! child" >> "$PIDS"`).
   */
  scriptText(name: string, body: string): string {
    // One brace group: sh parses all of it before running its first command
    // (it reads a script as it goes), so once the pid is recorded, editing
    // the file in place cannot change what the running instance does.
    return `#!/bin/sh\n{\n${pidLine(this.pidsFile, name)}\nPIDS='${this.pidsFile}'\n${body}\n}\n`
  }

  /** Writes `scripts/NAME` (mode 0755 unless told) and returns its path. */
  writeScript(name: string, body: string, mode = 0o755): string {
    const file = path.join(this.scripts, name)
    fs.writeFileSync(file, this.scriptText(name, body), { mode })
    fs.chmodSync(file, mode) // writeFileSync's mode applies to a new file only, and through the umask
    return file
  }

  /** Every pid recorded in the pids file (of `name` only, when given). */
  recordedPids(name?: string): Array<number> {
    let text = ""
    try {
      text = fs.readFileSync(this.pidsFile, "utf8")
    } catch {
      return []
    }
    return text.split("\n").flatMap((line) => {
      const [pid, who] = line.trim().split(" ")
      return pid !== undefined && /^\d+$/.test(pid) && (name === undefined || who === name) ? [Number(pid)] : []
    })
  }

  /** The recorded pids of `name` that are alive. */
  livePids(name?: string): Array<number> {
    return this.recordedPids(name).filter(isAlive)
  }

  readJournal(): Array<JournalLine> {
    return readJournal(this.journal)
  }

  /** The daemon's usual flags for this sandbox. */
  daemonArgs(extra: ReadonlyArray<string> = []): Array<string> {
    return ["-j", this.journal, "-s", this.scripts, "--logs", this.logs, "--stop-timeout", "1s", ...extra]
  }

  /**
   * Starts a daemon (with this sandbox's flags unless `args` are given);
   * with `uid`, as that user (through `setpriv`, the sandbox given to it,
   * the CLI run from a copy in it).
   */
  startDaemon(args: ReadonlyArray<string> = this.daemonArgs(), options: { readonly uid?: number } = {}): Daemon {
    const { uid } = options
    const runtime = uid === undefined ? undefined : stageCli(path.join(this.root, "cli"))
    if (uid !== undefined) chownTree(this.root, uid)
    const prefix = uid === undefined ? [] : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--"]
    const daemon = new Daemon(args, this.env(), prefix, runtime)
    this.daemons.push(daemon)
    return daemon
  }

  /** Runs the CLI to completion (10 s at most unless told; then SIGKILLed, `status` null). */
  run(
    args: ReadonlyArray<string>,
    options: { readonly cwd?: string; readonly timeout?: number } = {}
  ): SpawnSyncReturns<string> {
    return spawnSync(NODE, [CLI, ...args], {
      cwd: options.cwd ?? this.root,
      env: this.env(),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeout ?? 10_000,
      killSignal: "SIGKILL"
    })
  }

  /**
   * Runs the CLI without blocking this process (for a server in it, or for
   * many at once): its exit code (null: killed after `timeout`, 10 s unless
   * told), stdout and stderr, and how long it took. With `uid`, as that
   * user, from a copy of the CLI staged in the sandbox (which stays this
   * user's: what the other user may reach is the test's to grant).
   */
  runAsync(
    args: ReadonlyArray<string>,
    options: { readonly timeout?: number; readonly uid?: number; readonly env?: NodeJS.ProcessEnv } = {}
  ): Promise<CliResult> {
    const { uid } = options
    const runtime = uid === undefined ? { node: NODE, cli: CLI } : stageCli(path.join(this.root, "cli"))
    const prefix = uid === undefined ? [] : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--"]
    const [command = runtime.node, ...words] = [...prefix, runtime.node, runtime.cli, ...args]
    const startedAt = performance.now()
    const env = { ...this.env(), ...options.env }
    const child = spawn(command, words, { cwd: this.root, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => void (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 10_000)
    return new Promise((resolve) =>
      child.once("close", (status) => {
        clearTimeout(timer)
        resolve({ status, stdout, stderr, millis: performance.now() - startedAt })
      })
    )
  }

  /** The environment of the CLI: default paths point into the sandbox, never at the user's own. */
  env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      HOME: this.root,
      XDG_CONFIG_HOME: path.join(this.root, "xdg-config"),
      XDG_STATE_HOME: path.join(this.root, "xdg-state")
    }
  }

  /**
   * Stops every daemon still running (SIGTERM, then SIGKILL after 10 s),
   * then checks that no recorded process is left: throws, after killing the
   * survivors, if one is. Removes the directory.
   */
  async cleanUp(): Promise<void> {
    const problems: Array<string> = []
    for (const daemon of this.daemons) {
      if (daemon.exited) continue
      daemon.kill("SIGTERM")
      try {
        await daemon.waitExit(10_000)
      } catch {
        problems.push(`daemon ${daemon.pid} did not exit within 10 s of SIGTERM: killed`)
        daemon.kill("SIGKILL")
        await daemon.waitExit(5_000).catch(() => undefined)
      }
    }
    for (const daemon of this.daemons) {
      if (daemon.pid !== undefined && isAlive(daemon.pid)) problems.push(`daemon ${daemon.pid} is still alive`)
    }
    // The daemons are gone: every process they started must be gone too. A
    // group SIGKILL may take a moment to land, hence the short wait.
    const survivors = await waitFor(() => this.livePids().length === 0, { timeout: 2_000 })
      .then(() => [] as Array<number>)
      .catch(() => this.livePids())
    for (const pid of survivors) {
      const proc = procState(pid)
      problems.push(`process ${pid} (${proc?.state ?? "?"}, ppid ${proc?.ppid ?? "?"}) was left behind`)
      killQuietly(pid)
    }
    fs.rmSync(this.root, { recursive: true, force: true })
    if (problems.length > 0) throw new Error(`left behind:\n${problems.join("\n")}`)
  }
}

/** How a run of the CLI ended. */
export interface CliResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
  readonly millis: number
}

/** The Node and the CLI a daemon runs. */
export interface Runtime {
  readonly node: string
  readonly cli: string
}

/**
 * A copy of the built CLI and of what it loads from outside its bundle
 * (koffi and its native module, and Node itself) in `dir`, for a daemon run
 * as another user: the checkout may be under a directory that user cannot
 * enter (a 0700 home, `mktemp -d`). Copies, not links: the sandbox is then
 * given to that user, and a link's owner is its target's.
 */
const stageCli = (dir: string): Runtime => {
  const runtime = { node: path.join(dir, "node"), cli: path.join(dir, "dist", path.basename(CLI)) }
  if (fs.existsSync(runtime.cli)) return runtime // a second daemon of the same sandbox
  // The CLI's bundle and its chunks; not the library, dist/lib.
  const dist = path.dirname(CLI)
  fs.cpSync(dist, path.dirname(runtime.cli), { recursive: true, filter: (from) => from !== path.join(dist, "lib") })
  const modules = path.join(REPO, "node_modules")
  const koffi = JSON.parse(fs.readFileSync(path.join(modules, "koffi", "package.json"), "utf8")) as {
    readonly optionalDependencies?: Record<string, string>
  }
  // koffi loads its native module from the package of this platform, one of its optional dependencies.
  for (const name of ["koffi", ...Object.keys(koffi.optionalDependencies ?? {})]) {
    const from = path.join(modules, name)
    if (fs.existsSync(from)) fs.cpSync(from, path.join(dir, "node_modules", name), { recursive: true })
  }
  fs.copyFileSync(NODE, runtime.node)
  fs.chmodSync(runtime.node, 0o755)
  return runtime
}

/** Gives `dir` and everything in it to `uid` (and the group of the same number). */
const chownTree = (dir: string, uid: number): void => {
  fs.chownSync(dir, uid, uid)
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) chownTree(file, uid)
    else fs.lchownSync(file, uid, uid)
  }
}

// ---------------------------------------------------------------------------
// Daemon

/** A daemon process: its stderr, its exit. */
export class Daemon {
  readonly child: ChildProcess
  stderr = ""
  stdout = ""
  exitCode: number | null | undefined = undefined
  exitSignal: NodeJS.Signals | null = null
  /** `Date.now()` when the exit was seen. */
  exitedAt: number | undefined
  private readonly exitPromise: Promise<number | null>

  /** `prefix`: a command that execs the daemon (so the pid stays the daemon's), such as `setpriv … --`. */
  constructor(
    args: ReadonlyArray<string>,
    env: NodeJS.ProcessEnv,
    prefix: ReadonlyArray<string> = [],
    runtime: Runtime = { node: NODE, cli: CLI }
  ) {
    const [command = runtime.node, ...words] = [...prefix, runtime.node, runtime.cli, ...args]
    this.child = spawn(command, words, { env, stdio: ["ignore", "pipe", "pipe"] })
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => void (this.stderr += chunk))
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => void (this.stdout += chunk))
    this.exitPromise = new Promise((resolve) => {
      // "close": the exit is seen and stderr is read to its end.
      this.child.once("close", (code, signal) => {
        this.exitedAt = Date.now()
        this.exitCode = code
        this.exitSignal = signal
        resolve(code)
      })
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  get exited(): boolean {
    return this.exitCode !== undefined
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal)
  }

  /** Resolves with the exit code once the daemon has exited; rejects after `timeout` ms. */
  waitExit(timeout = 10_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`daemon ${this.pid} did not exit within ${timeout} ms; stderr:\n${this.stderr}`)),
        timeout
      )
    })
    return Promise.race([this.exitPromise, deadline]).finally(() => clearTimeout(timer))
  }
}

/** Polls the journal until `predicate` holds for it; returns the journal. */
export const waitForJournal = (
  sandbox: Sandbox,
  predicate: (journal: Array<JournalLine>) => boolean,
  options: WaitOptions = {}
): Promise<Array<JournalLine>> =>
  waitFor(() => {
    const journal = sandbox.readJournal()
    return predicate(journal) ? journal : undefined
  }, {
    timeout: 5_000,
    ...options,
    message: () =>
      `${typeof options.message === "function" ? options.message() : options.message ?? "journal condition"}\n` +
      `journal:\n${fs.existsSync(sandbox.journal) ? fs.readFileSync(sandbox.journal, "utf8") : "(none)"}`
  })

/** Waits until `file` has `count` `process spawned` events; returns their pids. */
export const waitForSpawns = async (
  sandbox: Sandbox,
  file: string,
  count = 1,
  options: WaitOptions = {}
): Promise<Array<number>> => {
  const journal = await waitForJournal(sandbox, (j) => spawnedPids(j, file).length >= count, {
    message: `${count} spawn(s) of ${file}`,
    ...options
  })
  return spawnedPids(journal, file)
}

/** The permission bits of a path. */
export const modeOf = (file: string): number => fs.statSync(file).mode & 0o777
