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
 * Exit codes (lines and codes of failures from `Failures`): 0 done; 1
 * failed, not ready or timed out (or refused: another user's daemon, a
 * daemon stopping, a notification from outside the service; or the
 * connection lost); 2 usage (a name that is not a plain file name); 3 no
 * daemon answers on that journal; 4 no such service. With several names,
 * each is said on its own line and the code is the highest.
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import * as path from "node:path"
import {
  CONTROL_FLAGS,
  type ControlAction,
  DAEMON_FLAGS,
  flagsByArgument,
  isControlAction,
  NOTIFY_FLAGS,
  readAmount,
  scanArguments
} from "../domain/DaemonFlags.ts"
import { escapeControls } from "../domain/EscapeControls.ts"
import { type Asked, type Failure, failureOf, isFailure } from "../domain/Failures.ts"
import { defaultPaths } from "../domain/Paths.ts"
import { SERVICE_MARK, SERVICE_NAME } from "../domain/ServiceEnvironment.ts"
import { plainNameProblem } from "../domain/ServiceFile.ts"
import { signalNamed } from "../domain/Signals.ts"
import { connectFailure, controlSocketOf, socketDirectoryRefusal } from "../internal/ControlSocket.ts"
import { lockState, runningDaemon } from "../internal/LockCheck.ts"

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
  // `--logs` is every command's (one set of paths serves them all), read by none of these.
  const flags = [DAEMON_FLAGS.journal, DAEMON_FLAGS.logs, CONTROL_FLAGS.noWait, CONTROL_FLAGS.timeout]
  const own = action === "kill" ? [CONTROL_FLAGS.signal] : action === "stop" ? [] : [CONTROL_FLAGS.ready]
  const scanned = scanArguments(rest, flagsByArgument([...flags, ...own], { negations: false }))
  const signal = signalNamed(scanned?.values.get(CONTROL_FLAGS.signal) ?? "TERM")
  if (scanned === undefined || scanned.words.length === 0 || signal === undefined) return undefined
  const { values } = scanned
  const ready = values.has(CONTROL_FLAGS.ready)
  if (ready && values.has(CONTROL_FLAGS.noWait)) return undefined
  const timeout = values.get(CONTROL_FLAGS.timeout)
  const timeoutMillis = timeout === undefined ? undefined : readAmount(CONTROL_FLAGS.timeout, timeout)
  return {
    action,
    names: scanned.words,
    journal: path.resolve(cwd, values.get(DAEMON_FLAGS.journal) ?? defaultPaths(env).journal),
    signal,
    wait: !values.has(CONTROL_FLAGS.noWait),
    ready,
    timeoutMillis: timeoutMillis !== undefined && "value" in timeoutMillis ? timeoutMillis.value : undefined
  }
}

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
  const scanned = command === "notify" ? scanArguments(rest, flagsByArgument(Object.values(NOTIFY_FLAGS), { negations: false })) : undefined
  const name = env[SERVICE_NAME]
  const journal = env[SERVICE_MARK]
  if (scanned === undefined || scanned.words.length > 0 || name === undefined || journal === undefined) return undefined
  const ready = scanned.values.has(NOTIFY_FLAGS.ready)
  const status = scanned.values.get(NOTIFY_FLAGS.status)
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

// Readiness waited for (`--ready`), not said (`notify --ready`).
const awaitsReady = (request: ControlRequest) => request.ready && request.action !== "notify"

// The daemon's stop timeout when it does not say (the default).
const DEFAULT_STOP_TIMEOUT_MILLIS = 3_000
// Past the stop timeout: a start, and a start until it is ready (systemd gives one 90 s).
const marginOf = (request: ControlRequest) => awaitsReady(request) ? 100_000 : 10_000

// How long a daemon that holds the lock but has no socket yet (it is
// starting) is given to make one.
const STARTING_MILLIS = 2_000

// What the daemon sent is JSON: read it field by field.
const member = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined

const field = (value: unknown, key: string): string => {
  const found = member(value, key)
  return typeof found === "string" || typeof found === "number" ? String(found) : "?"
}

// How one name ended: the line said, where (none: nothing said), and the exit code.
type Outcome = Failure & { readonly stream: Said["stream"] | undefined }

const failed = (failure: Failure): Said & Failure => ({ stream: "stderr", ...failure })

const askedOf = (request: ControlRequest, name: string): Asked => ({
  name,
  notDone: NOT_DONE[request.action],
  unmet: awaitsReady(request) ? "not ready" : NOT_DONE[request.action]
})

// Not done, for a reason of this command's (no failure of the protocol's).
const notDone = (request: ControlRequest, name: string, why: string): Outcome =>
  failed({ line: `cronmon: ${escapeControls(name)}: ${NOT_DONE[request.action]}${why}`, code: 1 })

const doneOutcome = (request: ControlRequest, name: string, value: unknown): Outcome => {
  const pid = field(value, "pid")
  const done = DONE[request.action]
  if (request.wait && done === undefined) return { stream: undefined, line: "", code: 0 }
  const line = request.wait && done !== undefined
    ? `${done(pid === "?" ? "" : ` (pid ${pid})`, request.signal)}${request.ready ? ", ready" : ""}`
    : `${request.action} requested`
  return { stream: "stdout", line: `${escapeControls(name)}: ${line}`, code: 0 }
}

// An `Exit` of the protocol: `{ _tag: "Success", value }` or `{ _tag:
// "Failure", cause: [{ _tag: "Fail", error } | { _tag: "Die", defect } | …] }`.
const exitOutcome = (request: ControlRequest, name: string, exit: unknown): Outcome => {
  if (field(exit, "_tag") === "Success") return doneOutcome(request, name, member(exit, "value"))
  const cause = member(exit, "cause")
  const reasons: Array<unknown> = Array.isArray(cause) ? cause : []
  const fail = reasons.find((reason) => field(reason, "_tag") === "Fail")
  const error = member(fail, "error")
  if (isFailure(error)) return failed(failureOf(error, askedOf(request, name)))
  if (fail !== undefined) return notDone(request, name, `: the daemon answered ${escapeControls(JSON.stringify(error))}`)
  const die = reasons.find((reason) => field(reason, "_tag") === "Die")
  const defect = member(die, "defect")
  return notDone(
    request,
    name,
    die === undefined ? ": the request was interrupted" : `: the daemon failed: ${typeof defect === "string" ? defect : field(defect, "message")}`
  )
}

// ---------------------------------------------------------------------------
// Asking

// A connection to `socket`, or why there is none.
const connect = (socket: string): Promise<net.Socket | NodeJS.ErrnoException> =>
  new Promise((resolve) => {
    const conn = net.createConnection(socket)
    const refused = (error: NodeJS.ErrnoException) => resolve(error)
    conn.once("error", refused)
    conn.once("connect", () => {
      conn.off("error", refused)
      resolve(conn)
    })
  })

const delay = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

// A connection to the daemon of the request's journal, or what says why there is none.
const reach = async (request: ControlRequest): Promise<net.Socket | Failure> => {
  const { journal } = request
  const socket = controlSocketOf(journal)
  const refusal = socketDirectoryRefusal(socket)
  if (refusal !== undefined) return failureOf({ _tag: "NoDaemon", journal, reason: refusal })
  const connected = await connect(socket.path)
  if (connected instanceof net.Socket) return connected
  const failure = connectFailure(connected.code, socket.path, connected.message)
  if (failure._tag === "PermissionDenied") return failureOf({ _tag: "PermissionDenied", journal, socket: socket.path })
  const missing = connected.code === "ENOENT" || connected.code === "ECONNREFUSED"
  if (!missing || lockState(journal) !== "held") return failureOf({ _tag: "NoDaemon", journal, reason: failure.reason })
  // The lock is held, yet no socket: a cronmon (its session says its pid)
  // between taking the lock and listening is given a moment.
  const { pid } = runningDaemon(journal)
  const deadline = Date.now() + (pid === undefined ? 0 : Math.min(STARTING_MILLIS, request.timeoutMillis ?? STARTING_MILLIS))
  while (Date.now() < deadline) {
    await delay(100)
    const again = await connect(socket.path)
    if (again instanceof net.Socket) return again
  }
  return failureOf({ _tag: "NoControlSocket", journal, socket: socket.path, pid })
}

// Sends every request at once on `conn`, and says each name's outcome in
// the order given, as soon as it and those before it are known.
const ask = (request: ControlRequest, conn: net.Socket, say: (said: Said) => void): Promise<number> =>
  new Promise((resolve) => {
    const outcomes: Array<Outcome | undefined> = request.names.map(() => undefined)
    let printed = 0
    let timer: NodeJS.Timeout | undefined
    const record = (index: number, outcome: Outcome) => {
      if (printed === outcomes.length || outcomes[index] !== undefined) return
      outcomes[index] = outcome
      for (let next = outcomes[printed]; next !== undefined; next = outcomes[printed]) {
        if (next.stream !== undefined) say({ stream: next.stream, line: next.line })
        printed++
      }
      if (printed < outcomes.length) return
      clearTimeout(timer)
      conn.destroy()
      resolve(Math.max(...outcomes.map((done) => done?.code ?? 1)))
    }
    // Every name not said yet gets its `outcome`.
    const everyName = (outcome: (name: string) => Outcome) =>
      request.names.forEach((name, index) => record(index, outcome(name)))
    const armTimeout = (millis: number) => {
      clearTimeout(timer)
      timer = setTimeout(
        () => everyName((name) => failed(failureOf({ _tag: "TimedOut", millis }, askedOf(request, name)))),
        millis
      )
    }
    armTimeout(request.timeoutMillis ?? DEFAULT_STOP_TIMEOUT_MILLIS + marginOf(request))
    // Whether the daemon did it before the connection ended is not known:
    // the journal says.
    const cutOff = (why: string) => () =>
      everyName((name) =>
        failed({ line: `cronmon: ${escapeControls(name)}: no answer: ${why} (cronmon journal says what was done)`, code: 1 })
      )
    conn.on("error", cutOff("the connection to the daemon was lost"))
    conn.on("close", cutOff("the daemon closed the connection"))

    const send = (id: string, tag: string, payload: unknown) =>
      conn.write(`${JSON.stringify({ _tag: "Request", id, tag, payload, headers: [] })}\n`)
    // How long to wait for, when not told: the daemon's stop timeout plus a margin.
    if (request.timeoutMillis === undefined) send("daemon", "daemon", null)
    const { ready, status } = request
    request.names.forEach((name, index) =>
      send(
        String(index),
        request.action,
        request.action === "notify"
          ? { name, pid: process.pid, ...(ready ? { ready } : {}), ...(status === undefined ? {} : { status }) }
          : {
            name,
            by: `cli pid ${process.pid}`,
            ...(request.wait ? {} : { wait: false }),
            ...(ready ? { ready } : {}),
            ...(request.action === "kill" ? { signal: request.signal } : {})
          }
      )
    )

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
export const runControl = async (request: ControlRequest, say: (said: Said) => void): Promise<number> => {
  const invalid = request.names.flatMap((name) => {
    const reason = plainNameProblem(name)
    return reason === undefined ? [] : [failureOf({ _tag: "InvalidServiceName", reason }, askedOf(request, name))]
  })
  invalid.forEach((failure) => say(failed(failure)))
  if (invalid.length > 0) return 2
  const conn = await reach(request)
  if (conn instanceof net.Socket) return ask(request, conn, say)
  say(failed(conn))
  return conn.code
}
