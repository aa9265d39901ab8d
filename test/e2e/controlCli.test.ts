/**
 * The built CLI's control commands against a control socket served in this
 * process from a stub `Control`: what each says and its exit code, for one
 * name and several, on the lean path and through the CLI, and its usage
 * errors; waits for readiness and `cronmon notify`; and a journal whose
 * lock is held while no socket answers (a daemon starting, or the Go
 * original). (Against a real daemon: control.test.ts, readiness.test.ts.)
 */
import { Deferred, Effect, Exit, Layer, Scope, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { lockState } from "../../src/internal/LockCheck.ts"
import * as ControlServer from "../../src/layers/ControlServer.ts"
import { ActionFailed, type ActionOptions, Control, NoSuchService, NotifyRefused, NotReady } from "../../src/services/Control.ts"
import { makeSettings, Settings } from "../../src/services/Settings.ts"
import { killQuietly, Sandbox, waitFor } from "./harness.ts"

const calls: Array<string> = []

// Answers at once but for `slow`, which never finishes; `nosuch` is no
// service, `broken` fails to run, `notready` exits before it is ready;
// a notification for `outsider` is refused.
const stub = Layer.effect(
  Control,
  Effect.gen(function*() {
    const never = yield* Deferred.make<void>()
    const act = (action: "restart" | "stop" | "start" | "kill") => (name: string, options: ActionOptions = {}) =>
      Effect.gen(function*() {
        calls.push(`${action} ${name}${options.wait === false ? " no-wait" : ""}${options.ready === true ? " ready" : ""}`)
        if (name === "notready" && options.ready === true) {
          return yield* new NotReady({ name, pid: 42, reason: "pid 42 exited with code 1 before it was ready" })
        }
        if (name === "nosuch") return yield* new NoSuchService({ name, scriptsDir: "/srv/scripts" })
        if (name === "broken") return yield* new ActionFailed({ name, action, reason: "exit 1 before it ran" })
        if (name === "slow") yield* Deferred.await(never)
        return { name, pid: action === "stop" ? null : 42 }
      })
    return Control.of({
      restart: act("restart"),
      stop: act("stop"),
      start: act("start"),
      kill: (name, signal, options) => Effect.tap(act("kill")(name, options), () => Effect.sync(() => calls.push(signal))),
      notify: (name, message) =>
        name === "outsider"
          ? Effect.fail(new NotifyRefused({ name, reason: `pid ${message.pid} is not a process of outsider (process group 7)` }))
          : Effect.sync(() => void calls.push(`notify ${name} ${JSON.stringify({ ...message, pid: "PID" })}`)),
      status: Effect.die("not used"),
      events: Stream.empty
    })
  })
)

// The stub served on the control socket of `journal`, in `scope`.
const serveStub = (journal: string, scope: Scope.Scope) => {
  const settings = makeSettings({ scriptsDir: "/srv/scripts", journalPath: journal, logsDir: "/srv/logs" })
  return Effect.runPromise(
    Layer.buildWithScope(ControlServer.layer().pipe(Layer.provide(Layer.merge(stub, Layer.succeed(Settings, settings)))), scope)
  )
}

describe("control commands against a stub daemon", { timeout: 20_000 }, () => {
  const sandbox = new Sandbox()
  const scope = Effect.runSync(Scope.make())
  const run = (...args: ReadonlyArray<string>) => sandbox.runAsync([...args, "-j", sandbox.journal])

  beforeAll(() => serveStub(sandbox.journal, scope))
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await sandbox.cleanUp()
  })

  it("each action says what was done, on stdout, and exits 0", async () => {
    calls.length = 0
    expect(await run("restart", "web")).toMatchObject({ status: 0, stdout: "web: restarted (pid 42)\n", stderr: "" })
    expect(await run("stop", "web")).toMatchObject({ status: 0, stdout: "web: stopped, held down until `cronmon start`\n" })
    expect(await run("start", "web")).toMatchObject({ status: 0, stdout: "web: running (pid 42)\n" })
    expect(await run("kill", "-s", "hup", "web")).toMatchObject({ status: 0, stdout: "web: SIGHUP sent (pid 42)\n" })
    expect(await run("restart", "--no-wait", "web")).toMatchObject({ status: 0, stdout: "web: restart requested\n" })
    expect(calls).toEqual(["restart web", "stop web", "start web", "kill web", "SIGHUP", "restart web no-wait"])
  })

  it("several names: one line each, in the order given, and the highest exit code", async () => {
    const result = await run("restart", "nosuch", "web", "broken")
    expect(result.status).toBe(4)
    expect(result.stdout).toBe("web: restarted (pid 42)\n")
    expect(result.stderr).toBe(
      "cronmon: nosuch: no such service in /srv/scripts\ncronmon: broken: not restarted: exit 1 before it ran\n"
    )
    expect((await run("start", "web", "broken")).status).toBe(1)
  })

  it("a name that is not a plain file name is a usage error: exit 2, nothing asked", async () => {
    calls.length = 0
    const result = await run("restart", "web", "../outside", "")
    expect(result).toMatchObject({
      status: 2,
      stdout: "",
      stderr: "cronmon: ../outside: not a service name: it holds a /\ncronmon: : not a service name: it is empty\n"
    })
    expect(calls).toEqual([])
  })

  it("past --timeout: exit 1, saying what was not done", async () => {
    const result = await run("restart", "web", "slow", "--timeout", "300ms")
    expect(result.status).toBe(1)
    expect(result.stdout).toBe("web: restarted (pid 42)\n")
    expect(result.stderr).toBe("cronmon: slow: not restarted within 300ms (the daemon may still do it)\n")
  })

  it("through the CLI (a form the lean path leaves to it), the same lines and codes", async () => {
    const lean = await run("restart", "nosuch", "web")
    // `--` ends the flags: effect/cli takes it, the lean path leaves it to the CLI.
    const full = await sandbox.runAsync(["restart", "-j", sandbox.journal, "--", "nosuch", "web"])
    expect(full).toMatchObject({ status: lean.status, stdout: lean.stdout, stderr: lean.stderr })
  })

  it("usage errors: exit 2 with one line", async () => {
    for (const args of [["restart"], ["restart", "--bogus", "web"], ["kill", "-s", "FOO", "web"], ["stop", "--timeout", "soon", "web"]]) {
      const result = await run(...args)
      expect(result.status, args.join(" ")).toBe(2)
      expect(result.stderr, args.join(" ")).toMatch(/^cronmon: [^\n]*\(see cronmon \w+ --help\)\n$/)
    }
    expect((await run("kill", "-s", "FOO", "web")).stderr).toContain("not a signal: FOO")
  })

  it("no daemon on that journal: exit 3", async () => {
    const other = `${sandbox.root}/other.json`
    const result = await sandbox.runAsync(["restart", "web", "-j", other])
    expect(result).toMatchObject({ status: 3, stdout: "", stderr: `cronmon: no daemon runs on ${other} (no control socket at ${other}.sock)\n` })
    expect(fs.existsSync(`${other}.sock`)).toBe(false)
  })

  it("--ready: restart and start say the instance is ready; one that exits first, or a timeout, is exit 1", async () => {
    calls.length = 0
    expect(await run("restart", "web", "--ready")).toMatchObject({ status: 0, stdout: "web: restarted (pid 42), ready\n", stderr: "" })
    expect(await run("start", "--ready", "web")).toMatchObject({ status: 0, stdout: "web: running (pid 42), ready\n" })
    expect(calls).toEqual(["restart web ready", "start web ready"])
    expect(await run("restart", "notready", "--ready")).toMatchObject({
      status: 1,
      stdout: "",
      stderr: "cronmon: notready: not ready: pid 42 exited with code 1 before it was ready\n"
    })
    expect(await run("restart", "slow", "--ready", "--timeout", "300ms")).toMatchObject({
      status: 1,
      stderr: "cronmon: slow: not ready within 300ms (the daemon may still do it)\n"
    })
    // Through the CLI, the same.
    const full = await sandbox.runAsync(["restart", "--ready", "-j", sandbox.journal, "--", "notready"])
    expect(full).toMatchObject({ status: 1, stderr: "cronmon: notready: not ready: pid 42 exited with code 1 before it was ready\n" })
    for (const args of [["stop", "--ready", "web"], ["kill", "--ready", "web"], ["restart", "--ready", "--no-wait", "web"]]) {
      const result = await run(...args)
      expect(result.status, args.join(" ")).toBe(2)
      expect(result.stderr, args.join(" ")).toMatch(/^cronmon: [^\n]*\(see cronmon \w+ --help\)\n$/)
    }
  })

  it("notify: for the service in the environment, silent when done; refused outside a service or by the daemon", async () => {
    calls.length = 0
    const service = { CRONMON_SERVICE: "web", CRONMON_JOURNAL: sandbox.journal }
    expect(await sandbox.runAsync(["notify", "--ready", "--status", "up: 3 workers"], { env: service })).toMatchObject({
      status: 0,
      stdout: "",
      stderr: ""
    })
    expect(await sandbox.runAsync(["notify", "--status=warming", "--"], { env: service })).toMatchObject({ status: 0, stdout: "" })
    expect(calls).toEqual([
      `notify web {"pid":"PID","ready":true,"status":"up: 3 workers"}`,
      `notify web {"pid":"PID","status":"warming"}`
    ])
    expect(await sandbox.runAsync(["notify", "--ready"])).toMatchObject({
      status: 1,
      stderr: "cronmon: notify: not run by a service of cronmon (CRONMON_SERVICE and CRONMON_JOURNAL are not set)\n"
    })
    expect(await sandbox.runAsync(["notify", "--ready"], { env: { ...service, CRONMON_SERVICE: "outsider" } })).toMatchObject({
      status: 1,
      stderr: expect.stringMatching(/^cronmon: outsider: not notified: pid \d+ is not a process of outsider \(process group 7\)\n$/)
    })
    const nothing = await sandbox.runAsync(["notify"], { env: service })
    expect(nothing.status).toBe(2)
    expect(nothing.stderr).toMatch(/^cronmon: notify: [^\n]*\n$/)
  })

  it("a connection the daemon drops before answering: exit 1 (it was there), saying so", async () => {
    const journal = `${sandbox.root}/closing.json`
    const server = net.createServer((conn) => conn.destroy()).listen(`${journal}.sock`)
    await new Promise((resolve) => server.once("listening", resolve))
    try {
      expect(await sandbox.runAsync(["stop", "web", "-j", journal])).toMatchObject({
        status: 1,
        stdout: "",
        stderr: expect.stringMatching(/^cronmon: web: no answer: the (daemon closed the connection|connection to the daemon was lost) \(cronmon journal says what was done\)\n$/)
      })
    } finally {
      server.close()
    }
  })

  // A daemon between taking the journal's lock and listening on its socket:
  // the lock is held (by flock(1) here) and its session says its pid.
  describe("a journal whose lock is held, without a socket", () => {
    const journal = `${sandbox.root}/locked.json`
    const acquired = (data: object) => `${JSON.stringify({ time: new Date().toISOString(), type: "acquired lock", data })}\n`
    let holder: ReturnType<typeof spawn> | undefined
    beforeAll(async () => {
      fs.writeFileSync(journal, "")
      holder = spawn("flock", ["--exclusive", journal, "sleep", "60"], { stdio: "ignore", detached: true })
      await waitFor(() => lockState(journal) === "held", { message: "flock holds the journal" })
    })
    afterAll(() => killQuietly(-(holder?.pid ?? 0)))

    it("a cronmon's (its session says its pid) is asked again for a moment: one that is starting is answered", async () => {
      fs.writeFileSync(journal, acquired({ journal_id: "file:x", pid: 4242 }))
      const starting = Effect.runSync(Scope.make())
      const asking = sandbox.runAsync(["restart", "web", "-j", journal])
      // The command read the session (the journal's atime passes its mtime:
      // relatime) once its first connection failed: the socket comes now.
      await waitFor(() => fs.statSync(journal).atimeMs > fs.statSync(journal).mtimeMs, { message: "the journal read" })
      try {
        await serveStub(journal, starting)
        expect(await asking).toMatchObject({ status: 0, stdout: "web: restarted (pid 42)\n", stderr: "" })
      } finally {
        await Effect.runPromise(Scope.close(starting, Exit.void))
      }
    })

    it("a cronmon's that makes no socket: said so after that moment, exit 3", async () => {
      fs.writeFileSync(journal, acquired({ journal_id: "file:x", pid: 4242 }))
      const result = await sandbox.runAsync(["restart", "web", "-j", journal])
      expect(result).toMatchObject({
        status: 3,
        stdout: "",
        stderr: `cronmon: the daemon of ${journal} (pid 4242) has no control socket at ${journal}.sock: it is starting, or its journal says why it has none\n`
      })
      expect(result.millis).toBeGreaterThanOrEqual(2_000)
    })

    it("a session without a pid is the Go original's: said at once, exit 3", async () => {
      fs.writeFileSync(journal, acquired({ journal_id: "file:x" }))
      expect(await sandbox.runAsync(["restart", "web", "-j", journal])).toMatchObject({
        status: 3,
        stdout: "",
        stderr: `cronmon: the daemon of ${journal} has no control socket at ${journal}.sock: it is the Go original's, which has none\n`
      })
    })
  })
})
