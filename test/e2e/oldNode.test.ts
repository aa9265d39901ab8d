/**
 * The CLI on a Node older than it needs (a system Node 20, which
 * `#!/usr/bin/env node` finds first): a checkout runs itself again on the
 * Node it pins, as the same process; an installed package says which Node it
 * needs. Skipped where no such Node is on PATH.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { nodeTooOld } from "../../src/domain/NodeVersion.ts"
import { CLI, Daemon, REPO, Sandbox, waitForSpawns } from "./harness.ts"

/** The first `node` on PATH (or /usr/bin's) older than the CLI needs, and its version. */
const oldNode = (() => {
  const directories = [...(process.env["PATH"] ?? "").split(path.delimiter), "/usr/bin", "/usr/local/bin"]
  for (const directory of directories) {
    const candidate = path.join(directory, "node")
    const version = spawnSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout?.trim()
    if (version !== undefined && version !== "" && nodeTooOld(version) !== undefined) return { path: candidate, version }
  }
  return undefined
})()

const PINNED = fs.realpathSync(path.join(REPO, "node_modules", ".bin", "node"))

describe.skipIf(oldNode === undefined)("on a Node older than it needs", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("a checkout's cronmon, linked onto PATH, runs on the Node it pins", { timeout: 20_000 }, () => {
    if (oldNode === undefined) return
    const bin = path.join(sandbox.root, "bin")
    fs.mkdirSync(bin)
    fs.symlinkSync(CLI, path.join(bin, "cronmon")) // as `npm link` or `ln -s` makes it
    const result = spawnSync("cronmon", ["cron", "-s", sandbox.scripts, "-j", sandbox.journal, "--logs", sandbox.logs], {
      env: { ...sandbox.env(), PATH: [bin, path.dirname(oldNode.path)].join(path.delimiter) },
      encoding: "utf8"
    })
    expect(result.stderr).toBe("")
    expect(result.status).toBe(0)
    // `cron` names the Node running it: the pinned one, and what it printed came through.
    const minutely = result.stdout.split("\n").find((line) => line.startsWith("* * * * * "))
    expect(minutely).toContain(` '${PINNED}' '${CLI}' '-j' '${sandbox.journal}'`)
    // With the PATH it was printed with (cron's own is bare).
    expect(minutely).toContain(`* * * * * PATH='${[bin, path.dirname(oldNode.path)].join(path.delimiter)}' `)
  })

  it("the daemon started so is the process started: its pid holds the lock, SIGTERM stops it", { timeout: 30_000 }, async () => {
    if (oldNode === undefined) return
    sandbox.writeScript("svc", "exec sleep 1000")
    const daemon = new Daemon(sandbox.daemonArgs(), sandbox.env(), [], { node: oldNode.path, cli: CLI })
    try {
      // Two Node starts before the first spawn: a loaded machine takes seconds.
      await waitForSpawns(sandbox, "svc", 1, { timeout: 15_000 })
      const lock = sandbox.readJournal().find((event) => event.type === "acquired lock")
      expect(lock?.data["pid"]).toBe(daemon.pid)
      daemon.kill("SIGTERM")
      expect(await daemon.waitExit()).toBe(0)
      expect(daemon.stderr).toContain("svc: started")
    } finally {
      daemon.kill("SIGKILL")
    }
  })

  it("an installed package, with no pinned Node beside it, says which Node it needs", { timeout: 20_000 }, () => {
    if (oldNode === undefined) return
    const dist = path.join(sandbox.root, "package", "dist")
    fs.cpSync(path.dirname(CLI), dist, { recursive: true, filter: (from) => from !== path.join(path.dirname(CLI), "lib") })
    const result = spawnSync(oldNode.path, [path.join(dist, path.basename(CLI)), "status", "-j", sandbox.journal], {
      encoding: "utf8"
    })
    expect(result.status).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toBe(`cronmon: needs Node >= 22.19 (this is ${oldNode.version})\n`)
  })
})
