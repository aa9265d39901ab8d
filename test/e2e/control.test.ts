/**
 * `cronmon restart|stop|start|kill` and a live `status`, the built CLI
 * against a real daemon: every command and exit code, a hold across a
 * `kill -9` of the daemon and its release by a clean stop, another user
 * refused, clients that misbehave, 200 at once, and a request while the
 * daemon stops, and while it starts.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type Daemon,
  delay,
  eventsOf,
  isAlive,
  modeOf,
  Sandbox,
  spawnedPids,
  waitFor,
  waitForJournal,
  waitForSpawns
} from "./harness.ts"
import { rawClient, statusFromMany } from "../rawSocket.ts"

const NOBODY = 65534
const asRoot = process.getuid?.() === 0

const lastPid = (sandbox: Sandbox, name: string) => spawnedPids(sandbox.readJournal(), name).at(-1) ?? 0

/** The pid a command said (`web: restarted (pid 4242)`), once the journal has its spawn (written in its own time). */
const saidPid = async (sandbox: Sandbox, name: string, said: string): Promise<number> => {
  const pid = Number(/\(pid (\d+)\)\n$/.exec(said)?.[1])
  await waitFor(() => spawnedPids(sandbox.readJournal(), name).includes(pid), { message: `${name}'s spawn of pid ${pid}` })
  return pid
}

interface ServiceJson {
  readonly name: string
  readonly state: string
  readonly held: boolean
  readonly pid: number | null
  readonly cpu: number | null
  readonly memory: number | null
}

const statusOf = (sandbox: Sandbox): ReadonlyArray<ServiceJson> => {
  const result = sandbox.run(["status", "--json", "-j", sandbox.journal])
  return (JSON.parse(result.stdout) as { readonly services: ReadonlyArray<ServiceJson> }).services
}

const serviceOf = (sandbox: Sandbox, name: string) => statusOf(sandbox).find((service) => service.name === name)

describe("control commands against a real daemon", () => {
  const sandbox = new Sandbox()
  let daemon: Daemon
  const run = (...args: ReadonlyArray<string>) => sandbox.run([...args, "-j", sandbox.journal])

  beforeAll(async () => {
    sandbox.writeScript("web", "exec sleep 1000")
    sandbox.writeScript("reloader", `trap 'echo HUP >> "$PIDS.hup"' HUP\nwhile :; do sleep 1 & wait $!; done`)
    // A spawn error: its interpreter does not exist.
    fs.writeFileSync(path.join(sandbox.scripts, "broken"), "#!/nonexistent/sh\n", { mode: 0o755 })
    sandbox.writeScript("stubborn", "trap '' TERM\nexec sleep 1000")
    daemon = sandbox.startDaemon()
    await waitForSpawns(sandbox, "web")
    await waitForSpawns(sandbox, "reloader")
    await waitForSpawns(sandbox, "stubborn")
  }, 20_000)
  afterAll(() => sandbox.cleanUp(), 20_000)

  it("restart, stop (held down), start and kill each do what they say, and exit 0", { timeout: 20_000 }, async () => {
    const socket = `${sandbox.journal}.sock`
    expect(fs.lstatSync(socket).isSocket()).toBe(true)
    expect(modeOf(socket)).toBe(0o600)

    const before = lastPid(sandbox, "web")
    const restarted = run("restart", "web")
    expect(restarted).toMatchObject({ status: 0, stdout: expect.stringMatching(/^web: restarted \(pid \d+\)\n$/), stderr: "" })
    const pid = await saidPid(sandbox, "web", restarted.stdout)
    expect(pid).not.toBe(before)
    expect(isAlive(before)).toBe(false)
    expect(isAlive(pid)).toBe(true)

    expect(run("stop", "web")).toMatchObject({ status: 0, stdout: "web: stopped, held down until `cronmon start`\n" })
    expect(isAlive(pid)).toBe(false)
    expect(serviceOf(sandbox, "web")).toMatchObject({ state: "stopped", held: true, pid: null })
    expect(run("status").stdout).toMatch(/^web\tstopped \(held\)\t/m)
    // Held: a change of its file starts nothing.
    fs.appendFileSync(path.join(sandbox.scripts, "web"), "\n")
    await delay(500)
    expect(lastPid(sandbox, "web")).toBe(pid)

    const started = run("start", "web")
    expect(started).toMatchObject({ status: 0, stdout: expect.stringMatching(/^web: running \(pid \d+\)\n$/) })
    const again = await saidPid(sandbox, "web", started.stdout)
    expect(again).not.toBe(pid)
    expect(serviceOf(sandbox, "web")).toMatchObject({ state: "running", held: false, pid: again })

    expect(run("kill", "-s", "HUP", "reloader")).toMatchObject({ status: 0, stdout: `reloader: SIGHUP sent (pid ${lastPid(sandbox, "reloader")})\n` })
    await waitFor(() => fs.existsSync(`${sandbox.pidsFile}.hup`), { message: "the HUP trap ran" })

    // TERM by default; the usual policy restarts it.
    const spawns = spawnedPids(sandbox.readJournal(), "web").length
    expect(run("kill", "web").status).toBe(0)
    await waitForSpawns(sandbox, "web", spawns + 1)

    // --no-wait: accepted, and done all the same.
    expect(run("restart", "--no-wait", "web")).toMatchObject({ status: 0, stdout: "web: restart requested\n" })
    await waitFor(() => isAlive(lastPid(sandbox, "web")) && lastPid(sandbox, "web") !== again)
  })

  it("exit codes: 1 failed or timed out, 2 usage, 3 no daemon, 4 no such service; several names, the highest", { timeout: 20_000 }, async () => {
    const broken = run("restart", "broken")
    expect(broken.status).toBe(1)
    expect(broken.stderr).toMatch(/^cronmon: broken: not restarted: [^\n]*nonexistent[^\n]*\n$/)

    expect(run("restart", "../web")).toMatchObject({ status: 2, stderr: "cronmon: ../web: not a service name: it holds a /\n" })
    expect(run("restart", "--bogus", "web").status).toBe(2)

    const other = path.join(sandbox.root, "other.json")
    expect(sandbox.run(["restart", "web", "-j", other])).toMatchObject({
      status: 3,
      stderr: `cronmon: no daemon runs on ${other} (no control socket at ${other}.sock)\n`
    })

    const several = run("restart", "web", "nosuch")
    expect(several.status).toBe(4)
    expect(several.stdout).toMatch(/^web: restarted \(pid \d+\)\n$/)
    expect(several.stderr).toBe(`cronmon: nosuch: no such service in ${sandbox.scripts}\n`)

    // A file that is there but refused is not "no such service": it says why.
    sandbox.writeScript("open", "exec sleep 1000", 0o775)
    sandbox.writeScript("plain", "exec sleep 1000", 0o644)
    const refused = run("restart", "open", "plain")
    expect(refused.status).toBe(1)
    expect(refused.stderr).toBe(
      `cronmon: open: not restarted: ${sandbox.scripts}/open is writable by group or others (mode 0775): not run; ` +
        `fix it with \`chmod go-w ${sandbox.scripts}/open\` (or run cronmon with --no-strict-modes)\n` +
        "cronmon: plain: not restarted: its file is not executable\n"
    )
    // A name never taken for a service (an editor's swap file) is none.
    sandbox.writeScript(".plain.swp", "", 0o644)
    expect(run("restart", ".plain.swp")).toMatchObject({ status: 4, stderr: `cronmon: .plain.swp: no such service in ${sandbox.scripts}\n` })

    // Ignores SIGTERM: its stop takes the stop timeout (1 s), more than 300 ms.
    const stubborn = lastPid(sandbox, "stubborn")
    const late = run("stop", "stubborn", "--timeout", "300ms")
    expect(late).toMatchObject({ status: 1, stderr: "cronmon: stubborn: not stopped within 300ms (the daemon may still do it)\n" })
    await waitFor(() => !isAlive(stubborn), { message: "stopped all the same" })
    expect(serviceOf(sandbox, "stubborn")).toMatchObject({ held: true })
    expect(run("start", "stubborn").status).toBe(0)
  })

  it("status asks the daemon: CPU and memory of what runs", { timeout: 20_000 }, () => {
    const web = serviceOf(sandbox, "web")
    expect(web).toMatchObject({ state: "running" })
    expect(web?.cpu).toBeTypeOf("number")
    expect(web?.memory).toBeGreaterThan(0)
    expect(serviceOf(sandbox, "broken")).toMatchObject({ cpu: null, memory: null })
    const text = run("status")
    expect(text.status).toBe(0)
    expect(text.stdout).toMatch(/\tCPU\t/)
  })

  it.skipIf(!asRoot)("another user is refused, clearly, and the daemon is unaffected", { timeout: 60_000 }, async () => {
    // It may reach the socket (the sandbox is 0700), not connect to it.
    fs.chmodSync(sandbox.root, 0o755)
    const refused = await sandbox.runAsync(["restart", "web", "-j", sandbox.journal], { uid: NOBODY, timeout: 30_000 })
    expect(refused).toMatchObject({
      status: 1,
      stdout: "",
      stderr: `cronmon: permission denied: the daemon of ${sandbox.journal} runs as another user (its socket ${sandbox.journal}.sock refuses you)\n`
    })
    fs.chmodSync(sandbox.root, 0o700)
    expect(daemon.exited).toBe(false)
    expect(run("restart", "web").status).toBe(0)
  })

  it("garbage, an oversized frame and a silent client do not disturb it; 200 clients at once are all answered", { timeout: 30_000 }, async () => {
    const socket = `${sandbox.journal}.sock`
    const garbage = rawClient(socket)
    garbage.conn.write("GET / HTTP/1.0\r\n\r\n")
    const oversized = rawClient(socket)
    oversized.conn.write("[".repeat(2 * 1024 * 1024))
    const silent = rawClient(socket)

    const restarted = run("restart", "web")
    expect(restarted.status).toBe(0)
    await Promise.all([garbage.closed, oversized.closed])
    expect(garbage.received()).toBe("")

    // Still supervising: a killed service comes back.
    const web = await saidPid(sandbox, "web", restarted.stdout)
    process.kill(web, "SIGKILL")
    await waitFor(() => lastPid(sandbox, "web") !== web && isAlive(lastPid(sandbox, "web")), { message: "web restarted" })

    const answers = await statusFromMany(socket, 200)
    expect(answers.filter((answer) => answer.includes(`"_tag":"Success"`))).toHaveLength(200)
    silent.conn.destroy()
    expect(daemon.exited).toBe(false)
  })
})

describe("a hold across crashes and stops of the daemon", () => {
  const sandbox = new Sandbox()
  let daemon: Daemon
  // Long enough for a request to arrive while a service that ignores SIGTERM is stopped.
  const args = ["-j", sandbox.journal, "-s", sandbox.scripts, "--logs", sandbox.logs, "--stop-timeout", "3s"]
  afterAll(() => sandbox.cleanUp(), 20_000)

  it("outlives a kill -9 of the daemon (the next one keeps it), not a clean stop; the stale socket is replaced", { timeout: 40_000 }, async () => {
    sandbox.writeScript("web", "exec sleep 1000")
    sandbox.writeScript("other", "exec sleep 1000")
    const socket = `${sandbox.journal}.sock`
    daemon = sandbox.startDaemon(args)
    await waitForSpawns(sandbox, "web")
    await waitForSpawns(sandbox, "other")
    expect(sandbox.run(["stop", "web", "-j", sandbox.journal]).status).toBe(0)

    daemon.kill("SIGKILL")
    await daemon.waitExit()
    expect(fs.lstatSync(socket).isSocket(), "left behind").toBe(true)
    expect(sandbox.run(["restart", "web", "-j", sandbox.journal]).status).toBe(3)
    await waitFor(() => sandbox.livePids("other").length === 0, { message: "other ended with its daemon" })

    daemon = sandbox.startDaemon(args)
    await waitForSpawns(sandbox, "other", 2)
    expect(serviceOf(sandbox, "web")).toMatchObject({ state: "stopped", held: true })
    expect(spawnedPids(sandbox.readJournal(), "web")).toHaveLength(1)
    expect(modeOf(socket)).toBe(0o600)

    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
    expect(fs.existsSync(socket), "removed at a clean stop").toBe(false)

    daemon = sandbox.startDaemon(args)
    await waitForSpawns(sandbox, "web", 2)
    expect(serviceOf(sandbox, "web")).toMatchObject({ state: "running", held: false })
  })

  it("a request while the daemon stops is answered: it is stopping", { timeout: 30_000 }, async () => {
    sandbox.writeScript("stubborn", "trap '' TERM\nexec sleep 1000")
    await waitForSpawns(sandbox, "stubborn")
    // stubborn ignores SIGTERM: the daemon takes its stop timeout (3 s) to stop.
    const exits = eventsOf(sandbox.readJournal(), "process exited", "web").length
    daemon.kill("SIGTERM")
    await waitForJournal(sandbox, (journal) => eventsOf(journal, "process exited", "web").length > exits, { message: "stopping" })
    const stopping = await sandbox.runAsync(["restart", "web", "-j", sandbox.journal])
    expect(stopping).toMatchObject({ status: 1, stderr: "cronmon: web: not restarted: the daemon is stopping\n" })
    expect(await daemon.waitExit()).toBe(0)
  })
})

describe("a request while the daemon starts", () => {
  const sandbox = new Sandbox()
  afterAll(() => sandbox.cleanUp(), 20_000)

  it("is answered once its first scan is done, after it stopped what a killed daemon left: not no such service", { timeout: 30_000 }, async () => {
    const args = ["-j", sandbox.journal, "-s", sandbox.scripts, "--logs", sandbox.logs, "--stop-timeout", "3s"]
    sandbox.writeScript("stubborn", "trap '' TERM\nexec sleep 1000")
    sandbox.writeScript("web", "exec sleep 1000")
    let daemon = sandbox.startDaemon(args)
    await waitForSpawns(sandbox, "stubborn")
    await waitForSpawns(sandbox, "web")
    daemon.kill("SIGKILL")
    await daemon.waitExit()
    // stubborn ignores its parent-death SIGTERM: the next daemon first stops it, for its 3 s stop timeout.
    daemon = sandbox.startDaemon(args)
    await waitForJournal(sandbox, (journal) =>
      eventsOf(journal, "warning").some((warning) => String(warning.data["error"]).includes("left running by an earlier session")), {
      message: "the clean-up of stubborn begun"
    })
    const started = await sandbox.runAsync(["start", "web", "-j", sandbox.journal])
    expect(started).toMatchObject({ status: 0, stdout: expect.stringMatching(/^web: running \(pid \d+\)\n$/), stderr: "" })
    expect(eventsOf(sandbox.readJournal(), "process exited", "stubborn")).toHaveLength(1)
  })
})
