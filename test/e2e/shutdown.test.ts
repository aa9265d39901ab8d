/**
 * The daemon's life: one instance per journal, and a graceful stop on
 * SIGTERM or SIGINT that stops every service (in parallel, bounded by the
 * stop timeout) and ends the journal with `monitor quit`.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { CLI, eventsOf, isAlive, NODE, REPO, Sandbox, waitFor, waitForJournal, waitForSpawns } from "./harness.ts"

/**
 * Runs the CLI with a hook that records every module file Node loads, and
 * returns the modules bundled in them (esbuild heads each with a
 * `// src/…` or `// node_modules/…` comment): what an invocation loads.
 */
const loadedModules = (sandbox: Sandbox, args: ReadonlyArray<string>) => {
  const record = path.join(sandbox.root, "loaded.txt")
  const hook = path.join(sandbox.root, "hook.mjs")
  fs.writeFileSync(hook, [
    `import { registerHooks } from "node:module"`,
    `import { appendFileSync } from "node:fs"`,
    `registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(record)}, url + "\\n"); return next(url, context) } })`
  ].join("\n"))
  fs.rmSync(record, { force: true })
  const result = spawnSync(NODE, ["--import", hook, CLI, ...args], { env: sandbox.env(), encoding: "utf8", timeout: 10_000 })
  const files = fs.readFileSync(record, "utf8").split("\n").filter((url) => url.startsWith("file:"))
  // The modules each file of the bundle holds, as the build recorded them.
  const chunks: Record<string, ReadonlyArray<string>> = JSON.parse(
    fs.readFileSync(path.join(REPO, "node_modules/.cache/cronmon/chunk-modules.json"), "utf8")
  )
  const modules = files.flatMap((url) => chunks[path.basename(new URL(url).pathname)] ?? [])
  return { result, files: files.map((url) => path.basename(new URL(url).pathname)), modules }
}

/** A script whose shell ignores SIGTERM (its `sleep` children do not). It records `NAME-trapped` once the trap is set. */
const STUBBORN = (name: string) => `trap '' TERM\necho "$$ ${name}-trapped" >> "$PIDS"\nwhile :; do sleep 0.1; done`

describe("daemon life", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("kills a service that ignores SIGTERM after the stop timeout", { timeout: 20_000 }, async () => {
    sandbox.writeScript("stubborn", STUBBORN("stubborn"))
    const daemon = sandbox.startDaemon() // --stop-timeout 1s
    const [pid] = await waitForSpawns(sandbox, "stubborn")
    await waitFor(() => sandbox.recordedPids("stubborn-trapped").length === 1, { message: "the trap is set" })

    const sent = Date.now()
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit(10_000)).toBe(0)
    const took = daemon.exitedAt! - sent
    expect(took).toBeGreaterThanOrEqual(800)
    expect(took).toBeLessThan(4_000)

    const journal = sandbox.readJournal()
    const exited = eventsOf(journal, "process exited", "stubborn")
    expect(exited).toHaveLength(1)
    expect(exited[0]!.data).toMatchObject({ pid, exit_code: -1, signal: "SIGKILL" })
    expect(journal.at(-1)!.type).toBe("monitor quit")
    expect(isAlive(pid!)).toBe(false)
  })

  // A second signal while the services stop must not kill the daemon half-way
  // (Node's default action for SIGHUP, once no handler is left).
  it("stops cleanly when SIGHUP comes twice during the stop", { timeout: 20_000 }, async () => {
    sandbox.writeScript("stubborn", STUBBORN("stubborn"))
    const daemon = sandbox.startDaemon()
    const [pid] = await waitForSpawns(sandbox, "stubborn")
    await waitFor(() => sandbox.recordedPids("stubborn-trapped").length === 1, { message: "the trap is set" })
    daemon.kill("SIGHUP")
    await new Promise((resolve) => setTimeout(resolve, 300)) // inside the 1 s stop timeout
    daemon.kill("SIGHUP")
    expect(await daemon.waitExit(10_000)).toBe(0)
    const journal = sandbox.readJournal()
    expect(eventsOf(journal, "process exited", "stubborn")[0]!.data).toMatchObject({ pid, signal: "SIGKILL" })
    expect(journal.at(-1)!.type).toBe("monitor quit")
  })

  // A slow stop says what it waits for; a second SIGINT or SIGTERM hurries it.
  for (const [first, second] of [["SIGTERM", "SIGINT"], ["SIGINT", "SIGTERM"]] as const) {
    it(`says what a stop waits for, and a second signal (${first}, ${second}) sends SIGKILL at once`, { timeout: 30_000 }, async () => {
      sandbox.writeScript("stubborn", STUBBORN("stubborn"))
      sandbox.writeScript("plain", "exec sleep 1000")
      const daemon = sandbox.startDaemon(sandbox.daemonArgs().map((arg) => arg === "1s" ? "1m" : arg))
      const [pid] = await waitForSpawns(sandbox, "stubborn")
      await waitForSpawns(sandbox, "plain")
      await waitFor(() => sandbox.recordedPids("stubborn-trapped").length === 1, { message: "the trap is set" })
      daemon.kill(first)
      await waitFor(() => daemon.stderr.includes("cronmon: stopping"), { message: "the stop is said" })
      await waitForJournal(sandbox, (journal) => eventsOf(journal, "process exited", "plain").length === 1)
      const hurried = Date.now()
      daemon.kill(second)
      expect(await daemon.waitExit(10_000)).toBe(0)
      // Well inside the one-minute stop timeout: the SIGKILL grace at most.
      expect(daemon.exitedAt! - hurried).toBeLessThan(5_000)
      const said = daemon.stderr.split("\n").filter((line) => line.startsWith("cronmon: "))
      expect(said).toEqual([
        "cronmon: stopping 2 services, up to 1m (SIGINT or SIGTERM again: SIGKILL now)",
        `cronmon: ${second} again: sending SIGKILL to every service now`
      ])
      const journal = sandbox.readJournal()
      expect(eventsOf(journal, "process exited", "stubborn")[0]!.data).toMatchObject({ pid, signal: "SIGKILL" })
      expect(journal.at(-1)!.type).toBe("monitor quit")
    })
  }

  it("lets only one daemon run per journal", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", "exec sleep 1000")
    const first = sandbox.startDaemon()
    await waitForSpawns(sandbox, "svc")

    const started = Date.now()
    const second = sandbox.run(sandbox.daemonArgs())
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(second.status).toBe(0)
    // The running daemon's pid and scripts directory, from its session in the journal.
    expect(second.stderr).toBe(`cronmon is already running (pid ${first.pid}, scripts ${sandbox.scripts})\n`)
    expect(second.stdout).toBe("")
    // Asked for another directory: said, still exit 0 (cron runs it every minute).
    const other = path.join(sandbox.root, "other")
    const elsewhere = sandbox.run(sandbox.daemonArgs().map((arg) => arg === sandbox.scripts ? other : arg))
    expect([elsewhere.status, elsewhere.stderr]).toEqual([
      0,
      `cronmon is already running (pid ${first.pid}, scripts ${sandbox.scripts})\n` +
        `cronmon: warning: it watches ${sandbox.scripts}, not ${other}: stop it first to watch another directory ` +
        `with this journal, or give ${other} a journal of its own (-j)\n`
    ])
    expect(fs.existsSync(other)).toBe(false)

    // The first one is undisturbed, and the second wrote nothing.
    expect(first.exited).toBe(false)
    const journal = sandbox.readJournal()
    expect(eventsOf(journal, "acquired lock")).toHaveLength(1)
    expect(eventsOf(journal, "process spawned")).toHaveLength(1)
  })

  // Every minute's tick: measured by the modules it loads (not by time, on
  // a shared machine). It reads the journal's tail, and loads nothing of
  // Effect, nor the CLI's chunk, nor the C library's binding. Nor does a
  // control command, which a deploy script may run many times.
  it("the cron tick that finds a daemon running, and a control command, load nothing of Effect", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", "exec sleep 1000")
    sandbox.startDaemon()
    await waitForSpawns(sandbox, "svc")
    const tick = loadedModules(sandbox, sandbox.daemonArgs())
    expect(tick.result.stderr).toMatch(/^cronmon is already running \(pid \d+, scripts /)
    expect(tick.files.every((file) => /^cronmon(-chunk-\w+)?\.js$/.test(file)), tick.files.join(" ")).toBe(true)
    expect(tick.modules.filter((module) => !module.startsWith("src/")), tick.modules.join(" ")).toEqual([])
    expect(tick.modules).toContain("src/internal/LockCheck.ts")
    // A control command in its plain form takes the lean path: no Effect either.
    const restart = loadedModules(sandbox, ["restart", "svc", "-j", sandbox.journal])
    expect(restart.result.stdout).toMatch(/^svc: restarted \(pid \d+\)\n$/)
    expect(restart.modules.filter((module) => !module.startsWith("src/")), restart.modules.join(" ")).toEqual([])
    expect(restart.modules).toContain("src/programs/control.ts")
    // What the same measure finds when the CLI is loaded: Effect.
    const cli = loadedModules(sandbox, ["--version"])
    expect(cli.modules.some((module) => module.startsWith("node_modules/effect/"))).toBe(true)
  })

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops every service and quits on ${signal}`, { timeout: 20_000 }, async () => {
      sandbox.writeScript("plain", "exec sleep 1000")
      sandbox.writeScript("looper", "while :; do sleep 1; done")
      sandbox.writeScript("parent", `sleep 1000 &\necho "$! parent-child" >> "$PIDS"\nwait`)
      const daemon = sandbox.startDaemon()
      for (const name of ["plain", "looper", "parent"]) await waitForSpawns(sandbox, name)
      await waitFor(() => sandbox.recordedPids().length === 4, { message: "3 services and a child record pids" })
      const pids = sandbox.recordedPids()
      expect(pids.every(isAlive)).toBe(true)

      daemon.kill(signal)
      expect(await daemon.waitExit(10_000)).toBe(0)

      const journal = sandbox.readJournal()
      expect(journal.at(-1)).toMatchObject({ type: "monitor quit", data: {} })
      expect(eventsOf(journal, "monitor quit")).toHaveLength(1)
      const exited = eventsOf(journal, "process exited").map((event) => event.data["file"])
      expect(exited.sort()).toEqual(["looper", "parent", "plain"])
      expect(pids.filter(isAlive)).toEqual([])
      expect(daemon.stderr).toMatch(/stopped/)
    })
  }

  it("stops services in parallel", { timeout: 20_000 }, async () => {
    const names = ["s1", "s2", "s3", "s4", "s5"]
    for (const name of names) sandbox.writeScript(name, STUBBORN(name))
    const daemon = sandbox.startDaemon() // --stop-timeout 1s
    await waitFor(() => names.every((name) => sandbox.recordedPids(`${name}-trapped`).length === 1), {
      message: "five traps set"
    })

    const sent = Date.now()
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit(10_000)).toBe(0)
    // In series it would take 5 s at least.
    expect(daemon.exitedAt! - sent).toBeLessThan(3_500)

    const journal = await waitForJournal(sandbox, (j) => j.at(-1)?.type === "monitor quit")
    const exited = eventsOf(journal, "process exited")
    expect(exited.map((event) => event.data["file"]).sort()).toEqual(names)
    for (const event of exited) expect(event.data).toMatchObject({ exit_code: -1, signal: "SIGKILL" })
    expect(sandbox.livePids()).toEqual([])
  })
})
