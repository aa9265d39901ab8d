/**
 * `cronmon restart|stop|start|kill NAME...`: asks the daemon of a journal to
 * act on services, over its control socket, and says how each one went;
 * and `cronmon notify`, which a service runs to say it is ready.
 *
 * A lean path, as the cron tick has: plain Node, no Effect, so that the
 * command costs little more than Node's start. It speaks the control
 * channel's RPC protocol (`ControlRpcs`, newline-delimited JSON) directly;
 * `ControlClient` is the same client for Effect programs. The CLI runs it
 * after parsing the command itself, and `bin.ts` runs it at once for an
 * argv that `controlRequest` takes.
 *
 * Exit codes: 0 done; 1 failed, not ready or timed out (or refused:
 * another user's daemon, a daemon stopping, a notification from outside
 * the service); 2 usage (a name that is not a plain file name); 3 no
 * daemon on that journal; 4 no such service. With several names, each is
 * said on its own line and the code is the highest.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { controlSocketPath, privateDirectoryProblem } from "../domain/ControlSocketPath.ts"
import {
  CONTROL_FLAGS,
  type ControlAction,
  DAEMON_FLAGS,
  type FlagSpec,
  isAmount,
  isControlAction,
  NOTIFY_FLAGS,
  readAmount
} from "../domain/DaemonFlags.ts"
import { escapeControls } from "../domain/EscapeControls.ts"
import { defaultPaths } from "../domain/Paths.ts"
import { SERVICE_MARK, SERVICE_NAME } from "../domain/ServiceEnvironment.ts"
import { plainNameProblem } from "../domain/ServiceFile.ts"
import { signalNamed } from "../domain/Signals.ts"
import { lockState } from "../internal/LockCheck.ts"
import { formatDuration } from "../internal/Terminal.ts"


/**
 * What a control command asks: an action on services of the daemon of
 * `journal` (absolute), with `signal` for `kill`, waiting until it is done
 * (`wait`), and with `ready` (`restart`, `start`) until the new instance
 * says it is ready, for at most `timeoutMillis` (the daemon's stop timeout
 * plus 10 s when unset, plus 90 s with `ready`). `notify` speaks for the one
 * service in `names`: `ready` says it is ready, `status` how it is.
 *
 * @since 0.1.0
 */
export interface ControlRequest {
  readonly action: ControlAction | "notify"
  readonly names: ReadonlyArray<string>
  readonly journal: string
  readonly signal: NodeJS.Signals
  readonly wait: boolean
  readonly ready: boolean
  readonly status?: string | undefined
  readonly timeoutMillis: number | undefined
}

/**
 * One line a command says, and where.
 *
 * @since 0.1.0
 */
export interface Said {
  readonly stream: "stdout" | "stderr"
  readonly line: string
}

// Each way of writing a flag: `--name`, `-alias`.
const flagTable = (specs: ReadonlyArray<FlagSpec>): ReadonlyMap<string, FlagSpec> =>
  new Map(specs.flatMap((spec) =>
    [`--${spec.name}`, ...(spec.alias === undefined ? [] : [`-${spec.alias}`])].map((arg): [string, FlagSpec] => [arg, spec])
  ))

const FLAGS = flagTable([DAEMON_FLAGS.journal, DAEMON_FLAGS.logs, ...Object.values(CONTROL_FLAGS)])

// The values of `args`' flags of `table`, and its other words; `undefined`
// for a flag it does not know, one given twice, or a bad value.
const readFlags = (table: ReadonlyMap<string, FlagSpec>, args: ReadonlyArray<string>) => {
  const values = new Map<FlagSpec, string>()
  const words: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    if (!arg.startsWith("-")) {
      words.push(arg)
      continue
    }
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1
    const spec = table.get(equals > 0 ? arg.slice(0, equals) : arg)
    if (spec === undefined || values.has(spec)) return undefined
    if (spec.kind === "switch") {
      if (equals > 0) return undefined
      values.set(spec, "")
      continue
    }
    const value = equals > 0 ? arg.slice(equals + 1) : args[++i]
    if (value === undefined) return undefined
    if (spec.kind === "signal" ? signalNamed(value) === undefined : isAmount(spec) && "refusal" in readAmount(spec, value)) {
      return undefined
    }
    values.set(spec, value)
  }
  return { values, words }
}

/**
 * The request `argv` makes, when it is a control command in its plain
 * form: anything else (help, a flag twice, a bad value, no name) is
 * `undefined`, left to the CLI, which says what is wrong.
 *
 * @example
 * ```ts
 * controlRequest(["restart", "web", "-j", "j.json"], process.env, "/srv")
 * // { action: "restart", names: ["web"], journal: "/srv/j.json", signal: "SIGTERM", wait: true, ready: false, timeoutMillis: undefined }
 * ```
 * @since 0.1.0
 */
export const controlRequest = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string
): ControlRequest | undefined => {
  const [action, ...rest] = argv
  if (!isControlAction(action)) return undefined
  const read = readFlags(FLAGS, rest)
  if (read === undefined) return undefined
  const { values, words: names } = read
  if (values.has(CONTROL_FLAGS.signal) && action !== "kill") return undefined
  const ready = values.has(CONTROL_FLAGS.ready)
  if (ready && (values.has(CONTROL_FLAGS.noWait) || (action !== "restart" && action !== "start"))) return undefined
  const signal = signalNamed(values.get(CONTROL_FLAGS.signal) ?? "TERM")
  if (names.length === 0 || signal === undefined) return undefined
  const timeout = values.get(CONTROL_FLAGS.timeout)
  const timeoutMillis = timeout === undefined ? undefined : readAmount(CONTROL_FLAGS.timeout, timeout)
  return {
    action,
    names,
    journal: path.resolve(cwd, values.get(DAEMON_FLAGS.journal) ?? defaultPaths(env).journal),
    signal,
    wait: !values.has(CONTROL_FLAGS.noWait),
    ready,
    timeoutMillis: timeoutMillis !== undefined && "value" in timeoutMillis ? timeoutMillis.value : undefined
  }
}

const NOTIFY_TABLE = flagTable(Object.values(NOTIFY_FLAGS))

/**
 * The notification `argv` makes (`notify --ready --status TEXT`), for the
 * service named in `env`, when it is in its plain form and run by a
 * service; anything else (help, no `--ready` nor `--status`, outside a
 * service) is `undefined`, left to the CLI, which says what is wrong.
 *
 * @example
 * ```ts
 * notifyRequest(["notify", "--ready"], { CRONMON_SERVICE: "web", CRONMON_JOURNAL: "/srv/j.json" })
 * // { action: "notify", names: ["web"], journal: "/srv/j.json", ready: true, status: undefined, … }
 * ```
 * @since 0.1.0
 */
export const notifyRequest = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): ControlRequest | undefined => {
  const [command, ...rest] = argv
  const read = command === "notify" ? readFlags(NOTIFY_TABLE, rest) : undefined
  const name = env[SERVICE_NAME]
  const journal = env[SERVICE_MARK]
  if (read === undefined || read.words.length > 0 || name === undefined || journal === undefined) return undefined
  const ready = read.values.has(NOTIFY_FLAGS.ready)
  const status = read.values.get(NOTIFY_FLAGS.status)
  if (!ready && status === undefined) return undefined
  return { action: "notify", names: [name], journal, signal: "SIGTERM", wait: true, ready, status, timeoutMillis: undefined }
}

// ---------------------------------------------------------------------------
// What is said

// What is said when it is done (nothing, for a notification: a service's log is no place for it).
const DONE: Readonly<Record<ControlRequest["action"], ((pid: string, signal: string) => string) | undefined>> = {
  restart: (pid) => `restarted${pid}`,
  stop: () => "stopped, held down until `cronmon start`",
  start: (pid) => `running${pid}`,
  kill: (pid, signal) => `${signal} sent${pid}`,
  notify: undefined
}

const NOT_DONE: Readonly<Record<ControlRequest["action"], string>> = {
  restart: "not restarted",
  stop: "not stopped",
  start: "not started",
  kill: "not signalled",
  notify: "not notified"
}

// What is not done when a wait ends: readiness, when it was waited for.
const notDone = (request: ControlRequest) => request.ready && request.action !== "notify" ? "not ready" : NOT_DONE[request.action]

// A timeout as given: `13s`, `1m30s`, `300ms`.
const within = (millis: number): string => millis % 1000 === 0 ? formatDuration(millis) : `${millis}ms`

// The daemon's stop timeout when it does not say (the default).
const DEFAULT_STOP_TIMEOUT_MILLIS = 3_000
// Past the stop timeout: a start, and a start until it is ready (systemd gives one 90 s).
const marginOf = (request: ControlRequest) => request.ready && request.action !== "notify" ? 100_000 : 10_000

// What the daemon sent is JSON: read it field by field.
const member = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined

const field = (value: unknown, key: string): string => {
  const found = member(value, key)
  return typeof found === "string" || typeof found === "number" ? String(found) : "?"
}

// How one name ended: the line said (if any) and the exit code.
interface Outcome {
  readonly said: Said | undefined
  readonly code: number
}

const failed = (name: string, what: string, code: number): Outcome => ({
  said: { stream: "stderr", line: `cronmon: ${escapeControls(name)}: ${what}` },
  code
})

// A typed error of the control channel (its JSON, as the daemon sends it):
// the one line and the exit code of each.
const failureOutcome = (request: ControlRequest, name: string, error: unknown): Outcome => {
  const tag = field(error, "_tag")
  switch (tag) {
    case "InvalidServiceName":
      return failed(name, `not a service name: ${field(error, "reason")}`, 2)
    case "NoSuchService":
      return failed(name, `no such service in ${escapeControls(field(error, "scriptsDir"))}`, 4)
    case "InvalidSignal":
      return failed(name, `not a signal: ${escapeControls(field(error, "signal"))}`, 2)
    case "ActionFailed":
      return failed(name, `${NOT_DONE[request.action]}: ${escapeControls(field(error, "reason"))}`, 1)
    case "NotReady":
    case "NotifyRefused":
      return failed(name, `${notDone(request)}: ${escapeControls(field(error, "reason"))}`, 1)
    case "DaemonStopping":
      return failed(name, `${NOT_DONE[request.action]}: the daemon is stopping`, 1)
    default:
      return failed(name, `${NOT_DONE[request.action]}: the daemon answered ${escapeControls(JSON.stringify(error))}`, 1)
  }
}

const doneOutcome = (request: ControlRequest, name: string, value: unknown): Outcome => {
  const pid = field(value, "pid")
  if (!request.wait) return { said: { stream: "stdout", line: `${escapeControls(name)}: ${request.action} requested` }, code: 0 }
  const done = DONE[request.action]
  if (done === undefined) return { said: undefined, code: 0 }
  const line = `${done(pid === "?" ? "" : ` (pid ${pid})`, request.signal)}${request.ready ? ", ready" : ""}`
  return { said: { stream: "stdout", line: `${escapeControls(name)}: ${line}` }, code: 0 }
}

// An `Exit` of the protocol: `{ _tag: "Success", value }` or `{ _tag:
// "Failure", cause: [{ _tag: "Fail", error } | { _tag: "Die", defect } | …] }`.
const exitOutcome = (request: ControlRequest, name: string, exit: unknown): Outcome => {
  if (field(exit, "_tag") === "Success") return doneOutcome(request, name, member(exit, "value"))
  const cause = member(exit, "cause")
  const reasons: Array<unknown> = Array.isArray(cause) ? cause : []
  const fail = reasons.find((reason) => field(reason, "_tag") === "Fail")
  if (fail !== undefined) return failureOutcome(request, name, member(fail, "error"))
  const die = reasons.find((reason) => field(reason, "_tag") === "Die")
  const defect = member(die, "defect")
  const why = die === undefined
    ? "the request was interrupted"
    : `the daemon failed: ${typeof defect === "string" ? defect : field(defect, "message")}`
  return failed(name, `${NOT_DONE[request.action]}: ${why}`, 1)
}

// ---------------------------------------------------------------------------
// Asking

const noDaemon = (journal: string, reason: string): Said => ({
  stream: "stderr",
  line: `cronmon: no daemon runs on ${escapeControls(journal)} (${reason})`
})

/**
 * Runs a control command: validates the names, connects to the daemon's
 * socket, sends every request at once, and says each name's outcome in the
 * order given, as soon as it and those before it are known. Resolves with
 * the exit code.
 *
 * @example
 * ```ts
 * const code = await runControl(request, ({ stream, line }) => process[stream].write(`${line}\n`))
 * ```
 * @since 0.1.0
 */
export const runControl = (
  request: ControlRequest,
  say: (said: Said) => void,
  env: Readonly<Record<string, string | undefined>> = process.env
): Promise<number> => {
  const invalid = request.names.flatMap((name) => {
    const problem = plainNameProblem(name)
    return problem === undefined ? [] : [failed(name, `not a service name: ${problem}`, 2)]
  })
  if (invalid.length > 0) {
    invalid.forEach((outcome) => outcome.said !== undefined && say(outcome.said))
    return Promise.resolve(2)
  }
  const uid = process.getuid?.() ?? 0
  const socket = controlSocketPath(request.journal, env, uid)
  if (socket.privateDirectory !== undefined) {
    let problem: string | undefined
    try {
      const stats = fs.lstatSync(socket.privateDirectory, { throwIfNoEntry: false })
      problem = stats === undefined ? undefined : privateDirectoryProblem(stats, uid)
    } catch {
      problem = "it cannot be looked at"
    }
    if (problem !== undefined) {
      say(noDaemon(request.journal, `the socket's directory ${socket.privateDirectory} is refused: ${problem}`))
      return Promise.resolve(3)
    }
  }
  return new Promise((resolve) => {
    const outcomes: Array<Outcome | undefined> = request.names.map(() => undefined)
    let printed = 0
    let finished = false
    let timer: NodeJS.Timeout | undefined
    const conn = net.createConnection(socket.path)

    const finish = (code: number) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      conn.destroy()
      resolve(code)
    }
    const record = (index: number, outcome: Outcome) => {
      if (finished || outcomes[index] !== undefined) return
      outcomes[index] = outcome
      for (let next = outcomes[printed]; next !== undefined; next = outcomes[printed]) {
        if (next.said !== undefined) say(next.said)
        printed++
      }
      if (printed === outcomes.length) finish(Math.max(...outcomes.map((done) => done?.code ?? 1)))
    }
    // Past the deadline, every name not done is said so.
    const armTimeout = (millis: number) => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        request.names.forEach((name, index) =>
          record(index, failed(name, `${notDone(request)} within ${within(millis)} (the daemon may still do it)`, 1))
        )
      }, millis)
    }
    armTimeout(request.timeoutMillis ?? DEFAULT_STOP_TIMEOUT_MILLIS + marginOf(request))

    conn.on("error", (error: NodeJS.ErrnoException) => {
      if (finished) return
      if (printed > 0 || outcomes.some((outcome) => outcome !== undefined)) {
        request.names.forEach((name, index) => record(index, failed(name, `${NOT_DONE[request.action]}: the connection to the daemon was lost`, 3)))
        return
      }
      switch (error.code) {
        case "EACCES":
        case "EPERM":
          say({
            stream: "stderr",
            line: `cronmon: permission denied: the daemon of ${escapeControls(request.journal)} runs as another user (its socket ${
              escapeControls(socket.path)
            } refuses you)`
          })
          return finish(1)
        case "ENOENT":
        case "ECONNREFUSED":
          // A daemon without a socket: the Go original, or a cronmon from before it had one.
          say(
            lockState(request.journal) === "held"
              ? noDaemon(request.journal, `its daemon has no control socket at ${socket.path}: an older cronmon, or the Go original`)
              : noDaemon(request.journal, error.code === "ENOENT" ? `no control socket at ${socket.path}` : `nobody listens on ${socket.path}`)
          )
          return finish(3)
        default:
          say(noDaemon(request.journal, `cannot connect to ${socket.path}: ${error.message}`))
          return finish(3)
      }
    })
    conn.on("close", () => {
      request.names.forEach((name, index) =>
        record(index, failed(name, `${NOT_DONE[request.action]}: the daemon closed the connection`, 3))
      )
    })

    conn.on("connect", () => {
      const send = (id: string, tag: string, payload: unknown) =>
        conn.write(`${JSON.stringify({ _tag: "Request", id, tag, payload, headers: [] })}\n`)
      // How long to wait for, when not told: the daemon's stop timeout plus a margin.
      if (request.timeoutMillis === undefined) send("daemon", "daemon", null)
      request.names.forEach((name, index) =>
        send(
          String(index),
          request.action,
          request.action === "notify"
            ? {
              name,
              pid: process.pid,
              ...(request.ready ? { ready: true } : {}),
              ...(request.status === undefined ? {} : { status: request.status })
            }
            : {
              name,
              by: `cli pid ${process.pid}`,
              ...(request.wait ? {} : { wait: false }),
              ...(request.ready ? { ready: true } : {}),
              ...(request.action === "kill" ? { signal: request.signal } : {})
            }
        )
      )
    })

    let buffer = ""
    conn.setEncoding("utf8")
    conn.on("data", (chunk: string) => {
      buffer += chunk
      for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        let message: unknown
        try {
          message = JSON.parse(line)
        } catch {
          continue
        }
        if (field(message, "_tag") !== "Exit") continue
        const id = field(message, "requestId")
        const exit = member(message, "exit")
        if (id === "daemon") {
          const stopTimeout = Number(field(member(exit, "value"), "stop_timeout_ms"))
          if (Number.isFinite(stopTimeout)) armTimeout(stopTimeout + marginOf(request))
          continue
        }
        const index = Number(id)
        const name = request.names[index]
        if (name !== undefined) record(index, exitOutcome(request, name, exit))
      }
    })
  })
}
