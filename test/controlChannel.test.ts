/**
 * The control channel on a real Unix socket, served from a stub `Control`
 * in this process: round trips of every request and typed error, the
 * socket's file (mode, place, stale and foreign files, the private
 * fallback directory), clients that misbehave, a daemon that stops with
 * requests in flight, 200 clients at once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Cronmon } from "cronmon"
import * as CronmonTest from "cronmon/testing"
import { controlSocketPath } from "../src/domain/ControlSocketPath.ts"
import type { JournalEntry } from "../src/domain/JournalEvent.ts"
import * as ControlClient from "../src/layers/ControlClient.ts"
import * as ControlServer from "../src/layers/ControlServer.ts"
import {
  ActionFailed,
  type ActionOptions,
  Control,
  InvalidServiceName,
  NoSuchService,
  NotReady
} from "../src/services/Control.ts"
import type { StatusJson } from "../src/domain/Status.ts"
import { makeSettings, Settings } from "../src/services/Settings.ts"
import { rawClient, staleSocket, statusFromMany } from "./rawSocket.ts"

const STATUS: StatusJson = {
  journal: "/j.json",
  now: "2026-11-23T21:00:00.000Z",
  daemon: { state: "running", pid: 1, since: null, uptime_ms: null, quit_at: null, last_event_at: null },
  services: [{
    name: "web",
    state: "running",
    held: false,
    pid: 42,
    since: "2026-11-23T20:00:00.000Z",
    uptime_ms: 3_600_000,
    next_start_at: null,
    restarts_last_hour: 0,
    last_exit: null,
    reason: null,
    cpu: 1.5,
    memory: 1024,
    ready: "2026-11-23T20:00:01.000Z",
    status_text: "serving"
  }]
}

const EVENTS: ReadonlyArray<JournalEntry> = [
  { time: 0, type: "process spawned", data: { file: "web", pid: 42 } },
  { time: 1, type: "monitor quit", data: {} }
]

/**
 * A `Control` that answers at once: `nosuch` is no service, `broken` fails
 * to run, `slow` waits until `release` is done; each call is recorded.
 */
const stubControl = (release: Deferred.Deferred<void>, calls: Array<string>) => {
  const act = (action: "restart" | "stop" | "start" | "kill") => (name: string, options: ActionOptions = {}) =>
    Effect.gen(function*() {
      calls.push(`${action} ${name}${options.wait === false ? " no-wait" : ""}${options.ready === true ? " ready" : ""}`)
      if (name === "notready") return yield* new NotReady({ name, pid: 42, reason: "pid 42 exited with code 1 before it was ready" })
      if (name.includes("/")) return yield* new InvalidServiceName({ name, reason: "it holds a /" })
      if (name === "nosuch") return yield* new NoSuchService({ name, scriptsDir: "/srv/scripts" })
      if (name === "broken") return yield* new ActionFailed({ name, action, reason: "exit 1 before it ran" })
      if (name === "slow") yield* Deferred.await(release)
      return { name, pid: action === "stop" ? null : 42 }
    })
  return Layer.succeed(
    Control,
    Control.of({
      restart: act("restart"),
      stop: act("stop"),
      start: act("start"),
      kill: (name, signal, options) => Effect.tap(act("kill")(name, options), () => Effect.sync(() => calls.push(signal))),
      notify: (name, message) => Effect.sync(() => void calls.push(`notify ${name} ${JSON.stringify(message)}`)),
      status: Effect.succeed(STATUS),
      events: Stream.fromIterable(EVENTS)
    })
  )
}

/** A journal's path in a fresh directory, removed when the test ends. */
const tempJournal = Effect.acquireRelease(
  Effect.sync(() => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-control-")))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => path.join(dir, "journal.json")))

/**
 * A server on `journal`'s socket, on the stub, until the returned scope is
 * closed (at the latest when the test ends).
 */
const serve = (journal: string, options: {
  readonly limits?: Partial<ControlServer.Limits>
  readonly release?: Deferred.Deferred<void>
  readonly calls?: Array<string>
} = {}) =>
  Effect.gen(function*() {
    const release = options.release ?? (yield* Deferred.make<void>())
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const settings = Layer.succeed(Settings, makeSettings({ scriptsDir: "/srv/scripts", journalPath: journal, logsDir: "/srv/logs" }))
    yield* Layer.buildWithScope(
      ControlServer.layer({ limits: options.limits }).pipe(
        Layer.provide(Layer.merge(stubControl(release, options.calls ?? []), settings))
      ),
      scope
    )
    return scope
  })

const within = <A>(promise: Promise<A>, millis: number, what: string): Effect.Effect<A> =>
  Effect.promise(() =>
    Promise.race([
      promise,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${millis} ms`)), millis))
    ])
  )


describe("control channel", () => {
  it.live("every request and typed error round-trips between the client and the server", () =>
    Effect.gen(function*() {
      const journal = yield* tempJournal
      const calls: Array<string> = []
      const server = yield* serve(journal, { calls })
      const { control, daemon, socket } = yield* ControlClient.make(journal)
      assert.strictEqual(socket, `${journal}.sock`)
      assert.deepStrictEqual(yield* control.restart("web"), { name: "web", pid: 42 })
      assert.deepStrictEqual(yield* control.stop("web", { wait: false }), { name: "web", pid: null })
      assert.deepStrictEqual(yield* control.start("web"), { name: "web", pid: 42 })
      assert.deepStrictEqual(yield* control.kill("web", "SIGHUP"), { name: "web", pid: 42 })
      assert.deepStrictEqual(yield* control.restart("web", { ready: true }), { name: "web", pid: 42 })
      yield* control.notify("web", { pid: 7, ready: true, status: "up" })
      assert.deepStrictEqual(calls, [
        "restart web",
        "stop web no-wait",
        "start web",
        "kill web",
        "SIGHUP",
        "restart web ready",
        `notify web {"pid":7,"ready":true,"status":"up"}`
      ])
      const notReady = yield* Effect.flip(control.start("notready", { ready: true }))
      assert.instanceOf(notReady, NotReady)
      assert.deepStrictEqual({ ...notReady }, {
        _tag: "NotReady",
        name: "notready",
        pid: 42,
        reason: "pid 42 exited with code 1 before it was ready"
      })
      const nosuch = yield* Effect.flip(control.restart("nosuch"))
      assert.instanceOf(nosuch, NoSuchService)
      assert.deepStrictEqual({ ...nosuch }, { _tag: "NoSuchService", name: "nosuch", scriptsDir: "/srv/scripts" })
      assert.instanceOf(yield* Effect.flip(control.start("broken")), ActionFailed)
      assert.instanceOf(yield* Effect.flip(control.stop("../outside")), InvalidServiceName)
      assert.deepStrictEqual(yield* control.status, STATUS)
      assert.deepStrictEqual(yield* Stream.runCollect(control.events), EVENTS)
      assert.strictEqual((yield* daemon).stop_timeout_ms, 3_000)
    }))

  it.live("the socket: 0600 beside the journal, a stale one replaced, removed at the end; a file in the way is left alone", () =>
    Effect.gen(function*() {
      const journal = yield* tempJournal
      const socket = `${journal}.sock`
      yield* Effect.promise(() => staleSocket(socket))
      assert.isTrue(fs.lstatSync(socket).isSocket())

      const server = yield* serve(journal)
      const stats = fs.lstatSync(socket)
      assert.isTrue(stats.isSocket())
      assert.strictEqual(stats.mode & 0o777, 0o600)
      assert.deepStrictEqual(fs.readdirSync(path.dirname(journal)), ["journal.json.sock"], "nothing else left beside it")
      const { control } = yield* ControlClient.make(journal)
      assert.deepStrictEqual(yield* control.restart("web"), { name: "web", pid: 42 })
      yield* Scope.close(server, Exit.void)
      assert.deepStrictEqual(fs.readdirSync(path.dirname(journal)), [])

      fs.writeFileSync(socket, "mine")
      const refused = yield* Effect.flip(serve(journal))
      assert.strictEqual(refused._tag, "ControlSocketError")
      assert.include(refused.message, "a file that is not a socket is in the way")
      assert.strictEqual(fs.readFileSync(socket, "utf8"), "mine")
    }))

  it.live("a staging directory left by a daemon killed while binding is removed; one younger than a minute (another daemon's, binding now) is left", () =>
    Effect.gen(function*() {
      const journal = yield* tempJournal
      const dir = path.dirname(journal)
      const [stale, fresh] = [path.join(dir, ".cm-old123"), path.join(dir, ".cm-new456")]
      for (const staging of [stale, fresh]) {
        fs.mkdirSync(staging)
        fs.writeFileSync(path.join(staging, "s"), "")
      }
      const twoMinutesAgo = new Date(Date.now() - 120_000)
      fs.utimesSync(stale, twoMinutesAgo, twoMinutesAgo)
      yield* serve(journal)
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), [".cm-new456", "journal.json.sock"])
    }))

  it.live("a journal whose socket path is too long: the socket goes to /tmp/cronmon-UID, whatever each side's XDG_RUNTIME_DIR; the directory must be the user's own and closed", () =>
    Effect.gen(function*() {
      const dir = path.dirname(yield* tempJournal)
      const deep = path.join(dir, "d".repeat(60), "e".repeat(60))
      fs.mkdirSync(deep, { recursive: true })
      const journal = path.join(deep, "journal.json")
      const uid = process.getuid?.() ?? 0
      const expected = controlSocketPath(journal, uid)
      assert.strictEqual(expected.privateDirectory, `/tmp/cronmon-${uid}`)
      const privateDirectory = expected.privateDirectory ?? ""
      // Each side built in its own environment (both read it when made).
      const inEnvironment = <A, E, R>(runtimeDir: string | undefined, effect: Effect.Effect<A, E, R>) => {
        const saved = process.env["XDG_RUNTIME_DIR"]
        const set = (value: string | undefined) =>
          Effect.sync(() => {
            if (value === undefined) delete process.env["XDG_RUNTIME_DIR"]
            else process.env["XDG_RUNTIME_DIR"] = value
          })
        return Effect.acquireUseRelease(set(runtimeDir), () => effect, () => set(saved))
      }
      const loginRuntime = path.join(dir, "run-user")
      fs.mkdirSync(loginRuntime, { mode: 0o700 })
      // The daemon as cron starts it, without XDG_RUNTIME_DIR; the command
      // from a login shell, with it.
      const server = yield* inEnvironment(undefined, serve(journal))
      assert.strictEqual(fs.statSync(privateDirectory).mode & 0o777, 0o700)
      assert.strictEqual(fs.statSync(expected.path).mode & 0o777, 0o600)
      const { control, socket } = yield* inEnvironment(loginRuntime, ControlClient.make(journal))
      assert.strictEqual(socket, expected.path)
      assert.deepStrictEqual(yield* control.start("web"), { name: "web", pid: 42 })
      assert.deepStrictEqual(fs.readdirSync(loginRuntime), [])

      // Opened to others: neither spoken to, nor served on. (The directory
      // is the user's real one: closed again at once.)
      yield* Effect.acquireRelease(
        Effect.sync(() => fs.chmodSync(privateDirectory, 0o755)),
        () => Effect.sync(() => fs.chmodSync(privateDirectory, 0o700))
      )
      const noDaemon = yield* Effect.flip(Effect.flatMap(ControlClient.make(journal), ({ control }) => control.status))
      assert.strictEqual(
        noDaemon._tag === "NoDaemon" ? noDaemon.reason : noDaemon._tag,
        `the socket's directory ${privateDirectory} is refused: it is open to others (mode 0755)`
      )
      yield* Scope.close(server, Exit.void)
      const refused = yield* Effect.flip(serve(journal))
      assert.include(refused.message, "is refused: it is open to others (mode 0755)")
    }))

  it.live("no daemon: no socket, or a socket nobody listens on", () =>
    Effect.gen(function*() {
      const journal = yield* tempJournal
      const missing = yield* Effect.flip(Effect.flatMap(ControlClient.make(journal), ({ control }) => control.restart("web")))
      assert.strictEqual(missing._tag, "NoDaemon")
      assert.strictEqual(missing._tag === "NoDaemon" ? missing.reason : "", `no control socket at ${journal}.sock`)
      yield* Effect.promise(() => staleSocket(`${journal}.sock`))
      const refused = yield* Effect.flip(Effect.flatMap(ControlClient.make(journal), ({ control }) => control.status))
      assert.strictEqual(refused._tag === "NoDaemon" ? refused.reason : refused._tag, `nobody listens on ${journal}.sock`)
    }))

  it.live("garbage and a frame over the limit are cut off at once, silence after the idle time; other clients are answered meanwhile", () =>
    Effect.gen(function*() {
      const journal = yield* tempJournal
      const socket = `${journal}.sock`
      const server = yield* serve(journal, { limits: { maxFrameBytes: 64 * 1024, idleTimeout: "2 seconds" } })
      const connectedAt = Date.now()
      const garbage = rawClient(socket)
      garbage.conn.write("this is not json\n")
      const wrongShape = rawClient(socket)
      wrongShape.conn.write(`${JSON.stringify({ _tag: "Request", id: {}, tag: "status" })}\n`)
      const oversized = rawClient(socket)
      oversized.conn.write("x".repeat(100 * 1024))
      const silent = rawClient(socket)
      const dripping = rawClient(socket)
      const drip = setInterval(() => dripping.conn.write("{"), 50)

      // A well-behaved client is served while they misbehave.
      const { control } = yield* ControlClient.make(journal)
      assert.deepStrictEqual(yield* control.status, STATUS)

      yield* within(Promise.all([garbage.closed, wrongShape.closed, oversized.closed]), 1_000, "bad clients closed")
      assert.strictEqual(garbage.received(), "")
      assert.isBelow(Date.now() - connectedAt, 2_000, "before the idle time")
      yield* within(Promise.all([silent.closed, dripping.closed]), 4_000, "silent and dripping clients closed")
      clearInterval(drip)
      assert.isAtLeast(Date.now() - connectedAt, 2_000, "not before the idle time")
      // (The first client, quiet as long since, was closed too.)
      const { control: again } = yield* ControlClient.make(journal)
      assert.deepStrictEqual(yield* again.restart("web"), { name: "web", pid: 42 })
    }), 15_000)

  it.live("a request in flight keeps its connection past the idle time", () =>
    Effect.gen(function*() {
      const journal = yield* tempJournal
      const release = yield* Deferred.make<void>()
      const server = yield* serve(journal, { release, limits: { idleTimeout: "100 millis" } })
      const { control } = yield* ControlClient.make(journal)
      const slow = yield* Effect.forkChild(control.restart("slow"))
      yield* Effect.sleep("400 millis")
      yield* Deferred.succeed(release, undefined)
      assert.deepStrictEqual(yield* Fiber.join(slow), { name: "slow", pid: 42 })
    }))

  it.live("a stopping daemon answers what is in flight with DaemonStopping", () =>
    Effect.gen(function*() {
      const journal = yield* tempJournal
      const server = yield* serve(journal)
      const { control } = yield* ControlClient.make(journal)
      const slow = yield* Effect.forkChild(control.restart("slow"))
      yield* Effect.sleep("100 millis")
      yield* Scope.close(server, Exit.void)
      const error = yield* Effect.flip(Fiber.join(slow))
      assert.strictEqual(error._tag, "DaemonStopping")
    }))

  it.live("200 clients connecting at once, each asking for the status, are all answered", () =>
    Effect.gen(function*() {
      const journal = yield* tempJournal
      const server = yield* serve(journal)
      const answers = yield* within(statusFromMany(`${journal}.sock`, 200), 20_000, "200 answers")
      assert.strictEqual(answers.filter((answer) => answer.includes(`"_tag":"Success"`)).length, 200)
    }), 30_000)
})

describe("the daemon's control socket", () => {
  it.live("serves the daemon's own Control; a socket that cannot be set up is a journal warning, and the daemon goes on", () =>
    Effect.gen(function*() {
      const journal = yield* tempJournal
      const daemon = Cronmon.controlSocket.pipe(Layer.provideMerge(CronmonTest.layer({ journal })))
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(daemon)
        const { control } = yield* ControlClient.make(journal)
        assert.strictEqual((yield* Effect.flip(control.restart("../outside")))._tag, "InvalidServiceName")
        assert.strictEqual((yield* Effect.flip(control.stop("nosuch")))._tag, "NoSuchService")
      }))

      fs.writeFileSync(`${journal}.sock`, "mine")
      const warnings = yield* Effect.scoped(
        Effect.flatMap(Layer.build(daemon), (context) => Effect.provideContext(CronmonTest.journal, context))
      ).pipe(Effect.map((entries) => entries.flatMap((entry) => entry.type === "warning" ? [entry.data] : [])))
      assert.deepStrictEqual(warnings, [{
        component: "control",
        error: `cannot listen on the control socket ${journal}.sock: a file that is not a socket is in the way: ` +
          "cronmon restart, stop, start and kill cannot reach this daemon"
      }])
      assert.strictEqual(fs.readFileSync(`${journal}.sock`, "utf8"), "mine")
    }))
})
