/**
 * Readiness end to end: real services that say READY=1 the ways real
 * services do (systemd's own `systemd-notify`, Python's standard library),
 * seen by `status` and `journal`; datagrams from outside the service
 * ignored, a burst of them survived.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as path from "node:path"
import { notifySocketPath } from "../../src/domain/NotifySocketPath.ts"
import { CLI, Daemon, isAlive, killQuietly, NODE, Sandbox, waitFor, waitForJournal, waitForSpawns } from "./harness.ts"

const SYSTEMD_NOTIFY = "/usr/bin/systemd-notify"
const hasSystemdNotify = fs.existsSync(SYSTEMD_NOTIFY)
if (!hasSystemdNotify) console.warn(`${SYSTEMD_NOTIFY} is missing (Debian's systemd package): its readiness tests are skipped`)

// The system's own (a user's pyenv shim may not find its version in the sandbox's HOME).
const PYTHON = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3"

/** A service in Python: READY=1 to $NOTIFY_SOCKET after `delay` seconds, then serves. */
const pythonService = (delay: number, message = "READY=1") =>
  `exec ${PYTHON} -c '
import os, socket, time
time.sleep(${delay})
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"${message}", os.environ["NOTIFY_SOCKET"])
time.sleep(1000)
'`

/** The pids of a service's spawns, in order. */
const spawnedPids = (sandbox: Sandbox, name: string): Array<number> =>
  sandbox.readJournal().flatMap((e) => e.type === "process spawned" && e.data["file"] === name ? [e.data["pid"] as number] : [])

/** One variable of a live process's environment. */
const readEnvironment = (pid: number): Record<string, string> =>
  Object.fromEntries(
    fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").flatMap((entry) => {
      const equals = entry.indexOf("=")
      return equals > 0 ? [[entry.slice(0, equals), entry.slice(equals + 1)]] : []
    })
  )

// A service's environment, once /proc shows one: in the middle of an exec
// (setpriv's of the script, the script's of sleep) it shows none, and a
// service is journaled as spawned as soon as setpriv runs.
const environmentOf = (pid: number): Promise<Record<string, string>> =>
  waitFor(() => {
    const environment = readEnvironment(pid)
    return environment["CRONMON_SERVICE"] === undefined ? undefined : environment
  }, { message: `the environment of pid ${pid}` })

interface ServiceJson {
  readonly name: string
  readonly state: string
  readonly pid: number | null
  readonly ready: string | null
  readonly status_text: string | null
}

const statusOf = (sandbox: Sandbox, name: string): ServiceJson | undefined => {
  const result = sandbox.run(["status", "-j", sandbox.journal, "--json"])
  const report = JSON.parse(result.stdout) as { readonly services: ReadonlyArray<ServiceJson> }
  return report.services.find((service) => service.name === name)
}

/** Sends `count` datagrams of `message` to `address` from a process of its own group (outside every service). */
const sendFromOutside = (address: string, message: string, count = 1) => {
  const child = spawn(PYTHON, [
    "-c",
    `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for i in range(int(sys.argv[3])): s.sendto(sys.argv[2].encode(), sys.argv[1])
`,
    address,
    message,
    String(count)
  ], { detached: true, stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      if (code !== 0) process.stderr.write(`sendFromOutside: exit ${code}: ${stderr}\n`)
      resolve(code)
    })
  )
}

describe("readiness, end to end", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it.skipIf(!hasSystemdNotify)("systemd-notify --ready from a shell script, and Python's socket module: both seen ready", {
    timeout: 30_000
  }, async () => {
    sandbox.writeScript("web", `sleep 0.3\n${SYSTEMD_NOTIFY} --ready --status="serving on :8080" || exit 9\nexec sleep 1000`)
    sandbox.writeScript("api", pythonService(0.3))
    sandbox.writeScript("plain", "exec sleep 1000")
    sandbox.startDaemon()
    const [webPid] = await waitForSpawns(sandbox, "web")
    const [apiPid] = await waitForSpawns(sandbox, "api")
    expect(await environmentOf(webPid!)).toMatchObject({ CRONMON_SERVICE: "web", CRONMON_JOURNAL: sandbox.journal })
    expect((await environmentOf(webPid!))["NOTIFY_SOCKET"]).toMatch(/^\//)
    const journal = await waitForJournal(sandbox, (j) =>
      ["web", "api"].every((name) => j.some((e) => e.type === "process list modified" && e.data["file"] === name && e.data["ready"] !== undefined)), {
      message: "web and api ready",
      timeout: 10_000
    })
    const readiness = journal.filter((e) => e.data["ready"] !== undefined)
    expect(readiness.map((e) => [e.data["file"], e.data["ready"], e.data["op"]]).sort()).toEqual([
      ["api", apiPid, "update"],
      ["web", webPid, "update"]
    ])
    // systemd-notify waited for its barrier and exited 0 (else web exits 9).
    expect(sandbox.readJournal().filter((e) => e.type === "process exited")).toEqual([])
    const web = statusOf(sandbox, "web")
    expect(web).toMatchObject({ state: "running", pid: webPid })
    expect(web?.ready).toEqual(readiness.find((e) => e.data["file"] === "web")?.time)
    expect(statusOf(sandbox, "api")).toMatchObject({ state: "running", pid: apiPid })
    expect(statusOf(sandbox, "plain")).toMatchObject({ state: "running", ready: null })
    const text = sandbox.run(["journal", "-j", sandbox.journal, "--service", "web"])
    expect(text.stdout).toContain(`web: ready, pid ${webPid}`)
  })

  it("a datagram from a process outside the service is ignored, even with the service's socket and words", {
    timeout: 30_000
  }, async () => {
    sandbox.writeScript("web", "exec sleep 1000")
    sandbox.startDaemon()
    const [webPid] = await waitForSpawns(sandbox, "web")
    const address = (await environmentOf(webPid!))["NOTIFY_SOCKET"]!
    expect(await sendFromOutside(address, "READY=1\nSTATUS=forged")).toBe(0)
    // A real readiness after it is seen, so the forged one had its chance first.
    sandbox.writeScript("witness", pythonService(0))
    await waitForJournal(sandbox, (j) => j.some((e) => e.data["file"] === "witness" && e.data["ready"] !== undefined))
    expect(sandbox.readJournal().filter((e) => e.data["file"] === "web" && e.data["ready"] !== undefined)).toEqual([])
    expect(statusOf(sandbox, "web")).toMatchObject({ state: "running", ready: null })
  })

  it("10,000 datagrams in a burst from outside leave the daemon well and supervising", { timeout: 60_000 }, async () => {
    sandbox.writeScript("web", "exec sleep 1000")
    const daemon = sandbox.startDaemon()
    const [webPid] = await waitForSpawns(sandbox, "web")
    const address = (await environmentOf(webPid!))["NOTIFY_SOCKET"]!
    const burst = sendFromOutside(address, "READY=1\nSTATUS=flood", 10_000)
    // Meanwhile a service starts and says it is ready.
    sandbox.writeScript("api", pythonService(0.2))
    expect(await burst).toBe(0)
    await waitForJournal(sandbox, (j) => j.some((e) => e.data["file"] === "api" && e.data["ready"] !== undefined), {
      timeout: 10_000
    })
    // Still supervising: a killed service is restarted.
    killQuietly(webPid!)
    const [, restarted] = await waitForSpawns(sandbox, "web", 2)
    await waitFor(() => isAlive(restarted!))
    expect(daemon.exited).toBe(false)
    expect(sandbox.readJournal().filter((e) => e.type === "warning")).toEqual([])
    expect(statusOf(sandbox, "web")).toMatchObject({ state: "running", ready: null })
  })

  it("a notify socket that cannot be made: one warning, and services run without NOTIFY_SOCKET (not even the daemon's own)", {
    timeout: 30_000
  }, async () => {
    // A file is in the way of its socket (in /tmp/cronmon-UID, named from this journal alone).
    const socket = notifySocketPath(sandbox.journal, process.getuid?.() ?? 0)
    fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 })
    fs.writeFileSync(socket, "in the way")
    sandbox.writeScript("web", "exec sleep 1000")
    const daemon = new Daemon(sandbox.daemonArgs(), {
      ...sandbox.env(),
      NOTIFY_SOCKET: "/run/systemd/notify" // as under systemd
    })
    try {
      const [webPid] = await waitForSpawns(sandbox, "web")
      const warnings = sandbox.readJournal().filter((e) => e.type === "warning" && e.data["component"] === "notify")
      expect(warnings).toHaveLength(1)
      expect(warnings[0]?.data["error"]).toContain("services run without NOTIFY_SOCKET")
      const environment = await environmentOf(webPid!)
      expect(environment["NOTIFY_SOCKET"]).toBeUndefined()
      expect(environment["CRONMON_SERVICE"]).toBe("web")
      expect(sandbox.readJournal().filter((e) => e.type === "process spawned")[0]?.data["notifies"]).toBeUndefined()
    } finally {
      daemon.kill("SIGTERM")
      await daemon.waitExit()
      fs.rmSync(socket, { force: true })
    }
  })

  it.skipIf(!hasSystemdNotify)("restart --ready waits for the new instance's READY=1, past its delay; one that never says it times out, exit 1", {
    timeout: 30_000
  }, async () => {
    sandbox.writeScript("web", `sleep 1\n${SYSTEMD_NOTIFY} --ready\nexec sleep 1000`)
    sandbox.writeScript("mute", "exec sleep 1000")
    sandbox.startDaemon()
    await waitForJournal(sandbox, (j) => j.some((e) => e.data["file"] === "web" && e.data["ready"] !== undefined), { timeout: 10_000 })
    const restarted = await sandbox.runAsync(["restart", "web", "--ready", "-j", sandbox.journal])
    const [, pid] = spawnedPids(sandbox, "web")
    expect(restarted).toMatchObject({ status: 0, stdout: `web: restarted (pid ${pid}), ready\n`, stderr: "" })
    expect(restarted.millis).toBeGreaterThanOrEqual(1_000)
    // Ready when it said so: the journal has it before the command returned.
    expect(sandbox.readJournal().filter((e) => e.data["ready"] === pid)).toHaveLength(1)
    expect(statusOf(sandbox, "web")).toMatchObject({ state: "running", pid })

    const [mutePid] = spawnedPids(sandbox, "mute")
    const mute = await sandbox.runAsync(["start", "mute", "--ready", "--timeout", "2s", "-j", sandbox.journal])
    expect(mute).toMatchObject({ status: 1, stdout: "", stderr: "cronmon: mute: not ready within 2s (the daemon may still do it)\n" })
    expect(mute.millis).toBeGreaterThanOrEqual(2_000)
    expect(spawnedPids(sandbox, "mute")).toEqual([mutePid]) // left running: start of a running service
    const restartedMute = await sandbox.runAsync(["restart", "mute", "--ready", "--timeout", "2s", "-j", sandbox.journal])
    expect(restartedMute.status).toBe(1)
    expect(restartedMute.stderr).toBe("cronmon: mute: not ready within 2s (the daemon may still do it)\n")
  })

  it("restart --ready of a service that exits before it is ready: exit 1, saying how it exited", { timeout: 30_000 }, async () => {
    sandbox.writeScript("flaky", "sleep 0.3\nexit 3")
    sandbox.startDaemon()
    await waitForSpawns(sandbox, "flaky")
    const result = await sandbox.runAsync(["restart", "flaky", "--ready", "-j", sandbox.journal])
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^cronmon: flaky: not ready: pid \d+ exited with code 3 before it was ready\n$/)
  })

  it("cronmon notify --ready from a service's script is its readiness; from outside its group, refused", { timeout: 30_000 }, async () => {
    sandbox.writeScript("web", `sleep 0.2\n'${NODE}' '${CLI}' notify --ready --status "up, via cronmon notify" || exit 9\nexec sleep 1000`)
    sandbox.startDaemon()
    const [webPid] = await waitForSpawns(sandbox, "web")
    await waitForJournal(sandbox, (j) => j.some((e) => e.data["ready"] === webPid), { timeout: 10_000 })
    expect(statusOf(sandbox, "web")).toMatchObject({ state: "running", pid: webPid, status_text: "up, via cronmon notify" })
    // The test's own process, with the service's environment: not in its group.
    const outside = await sandbox.runAsync(["notify", "--status", "forged"], {
      env: { CRONMON_SERVICE: "web", CRONMON_JOURNAL: sandbox.journal }
    })
    expect(outside.status).toBe(1)
    expect(outside.stderr).toMatch(new RegExp(`^cronmon: web: not notified: pid \\d+ is not a process of web \\(process group ${webPid}\\)\\n$`))
    expect(statusOf(sandbox, "web")?.status_text).toBe("up, via cronmon notify")
  })

  it("after the daemon is killed, the next one knows the service notifies: its new run is starting until it says so", {
    timeout: 30_000
  }, async () => {
    // Ready in its first run only: its runs under the next daemon never say it.
    const mark = path.join(sandbox.root, "said-ready")
    sandbox.writeScript("web", `if [ ! -e '${mark}' ]; then\ntouch '${mark}'\n${pythonService(0)}\nfi\nexec sleep 1000`)
    const first = sandbox.startDaemon()
    const [firstPid] = await waitForSpawns(sandbox, "web")
    await waitForJournal(sandbox, (j) => j.some((e) => e.data["ready"] === firstPid))
    first.kill("SIGKILL")
    await first.waitExit()
    await waitFor(() => !isAlive(firstPid!), { message: "the first run ended by its parent-death signal" })
    sandbox.startDaemon()
    const [, secondPid] = await waitForSpawns(sandbox, "web", 2)
    const spawn = sandbox.readJournal().find((e) => e.type === "process spawned" && e.data["pid"] === secondPid)
    expect(spawn?.data["notifies"]).toBe(true)
    await waitFor(() => statusOf(sandbox, "web")?.pid === secondPid)
    expect(statusOf(sandbox, "web")).toMatchObject({ state: "starting", pid: secondPid, ready: null })
  })
})
