/**
 * Editor saves: one save is one restart, whatever the editor's syscall
 * pattern (see /work/shared/EDITOR-SAVES.md), and an editor's temporary
 * files never run. GNU sed, and the patterns of Vim, nano, cp, temp file +
 * mv, a truncate then several writes, and touch, each on its own service of
 * one daemon; a truncate and a write with a pause inside the default settle
 * window; real Vim (both backup modes) in a test of its own, skipped, and
 * said so, where Vim is not installed.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { delay, eventsOf, isAlive, Sandbox, spawnedPids, waitFor, waitForSpawns } from "../e2e/harness.ts"

// Vim skips its backup under /tmp (backupskip): its save by rename needs a
// sandbox elsewhere. /var/tmp is not in backupskip.
const BASE = fs.existsSync("/var/tmp") ? "/var/tmp" : undefined
const VIM_PATHS = ["/usr/bin/vim", "/bin/vim"]
const VIM = VIM_PATHS.find((file) => fs.existsSync(file))

const body = (version: string) => `echo ${version}\nexec sleep 1000`

/** What a writer does to the service file `file` of service `name`; returns once the save is done. */
type Save = (file: string, name: string) => void

/**
 * Whether a writer may run ahead of every ordinary process (SCHED_FIFO, as
 * root): on a busy machine a writer's pause can otherwise stretch past the
 * window it is meant to stay inside.
 */
const REALTIME = spawnSync("chrt", ["--fifo", "1", "true"]).status === 0

/** Truncates `file`, pauses `seconds`, then appends `source` to it: an editor that writes in two steps. */
const truncatePauseWrite = (file: string, seconds: number, source: string): void => {
  const script = ["-c", `: > "$1" && sleep ${seconds} && cat "$2" >> "$1"`, "sh", file, source]
  if (REALTIME) execFileSync("chrt", ["--fifo", "1", "sh", ...script])
  else execFileSync("sh", script)
}

describe("editor saves", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox(BASE === undefined ? {} : { base: BASE })
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  const text = (name: string) => sandbox.scriptText(name, body("v2"))

  /** Waits until the instance `pid` of `name` has read its script: its first line records its pid. */
  const readItsScript = (name: string, pid: number) =>
    waitFor(() => sandbox.recordedPids(name).includes(pid), { message: `${name} ${pid} runs` })

  /**
   * Runs one daemon over a service per save, saves each (v1 to v2), and
   * checks that each save gave exactly one restart and ran nothing else.
   * Returns, per save, whether it replaced the file by a new inode.
   */
  const eachSaveIsOneRestart = async (saves: Readonly<Record<string, Save>>): Promise<Map<string, boolean>> => {
    const names = Object.keys(saves)
    const files = new Map(names.map((name) => [name, sandbox.writeScript(name, body("v1"))]))
    sandbox.startDaemon()
    const first = new Map<string, number>()
    for (const name of names) first.set(name, (await waitForSpawns(sandbox, name))[0]!)
    // Else an instance may run the new text, or a half-written one.
    for (const name of names) await readItsScript(name, first.get(name)!)

    const newInode = new Map<string, boolean>()
    for (const name of names) {
      const file = files.get(name)!
      const before = fs.statSync(file).ino
      saves[name]!(file, name)
      newInode.set(name, fs.statSync(file).ino !== before)
      await waitForSpawns(sandbox, name, 2, { message: `restart of ${name}` })
      await waitFor(() => !isAlive(first.get(name)!), { message: `old instance of ${name} gone` })
    }
    // A window in which nothing more must happen.
    await delay(1_000)
    const journal = sandbox.readJournal()
    for (const name of names) {
      expect([name, spawnedPids(journal, name).length]).toEqual([name, 2])
      expect([name, eventsOf(journal, "process list modified", name).map((e) => e.data["op"])]).toEqual([
        name,
        ["add", "update"]
      ])
      if (name !== "touch") {
        expect(fs.readFileSync(path.join(sandbox.logs, `${name}.log`), "utf8")).toBe("v1\nv2\n")
      }
    }
    // Nothing but the services ever ran: no backup, probe or temporary file.
    expect(new Set(eventsOf(journal, "process spawned").map((e) => e.data["file"]))).toEqual(new Set(names))
    expect(eventsOf(journal, "process spawn error")).toEqual([])
    return newInode
  }

  it("one save is one restart, for every writer", { timeout: 60_000 }, async () => {
    const saves: Record<string, Save> = {
      // Vim's pattern by hand (the real Vim has its own test below): a write
      // probe 4913, the file renamed to its backup svc~ (still executable),
      // a new file written, the backup deleted.
      "vim-style": (file, name) => {
        const probe = path.join(sandbox.scripts, "4913")
        fs.writeFileSync(probe, "", { mode: 0o755 })
        fs.rmSync(probe)
        fs.renameSync(file, `${file}~`)
        fs.writeFileSync(file, text(name), { mode: 0o644 })
        fs.chmodSync(file, 0o755)
        fs.rmSync(`${file}~`)
      },
      "sed": (file) => {
        execFileSync("sed", ["-i", "s/echo v1/echo v2/", file])
      },
      // nano, VS Code, shell `>`: truncate, write (several writes), close.
      "nano": (file, name) => {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_TRUNC)
        const content = Buffer.from(text(name))
        for (let at = 0; at < content.length; at += 16) fs.writeSync(fd, content, at, Math.min(16, content.length - at))
        fs.closeSync(fd)
      },
      "cp": (file, name) => {
        const source = path.join(sandbox.root, `${name}.new`)
        fs.writeFileSync(source, text(name))
        execFileSync("cp", [source, file])
      },
      "temp-mv": (file, name) => {
        const temp = path.join(sandbox.scripts, `.${name}.tmp`)
        fs.writeFileSync(temp, text(name))
        fs.chmodSync(temp, 0o755)
        execFileSync("mv", [temp, file])
      },
      "truncate-write": (file, name) => {
        fs.truncateSync(file, 0)
        const content = text(name)
        const half = Math.floor(content.length / 2)
        fs.appendFileSync(file, content.slice(0, half))
        fs.appendFileSync(file, content.slice(half))
      },
      "touch": (file) => {
        execFileSync("touch", [file])
      }
    }
    const newInode = await eachSaveIsOneRestart(saves)
    // The savers did what they are known for: by rename, or in place.
    expect([newInode.get("sed"), newInode.get("nano"), newInode.get("temp-mv")]).toEqual([true, false, true])
  })

  // Every other save here is one burst of events. These pause between the
  // truncate and the write for less than the default settle window (30 ms;
  // the daemon runs with its defaults): the empty file must never be started
  // (ENOEXEC), nor a save be seen as two. Several saves, because on a busy
  // machine the daemon may see a truncate only after the write, as one burst
  // (a window of 0 then goes unseen).
  it("a save that pauses inside the default settle window is one restart", { timeout: 30_000 }, async () => {
    const saves = 5
    const versions = Array.from({ length: saves + 1 }, (_, i) => `v${i + 1}`)
    const file = sandbox.writeScript("paused", body("v1"))
    sandbox.startDaemon()
    // Each instance is saved over only once it has read its script: one
    // that read an empty file would exit, and its restart meet the next
    // save's empty file.
    let running = (await waitForSpawns(sandbox, "paused"))[0]!
    await readItsScript("paused", running)
    for (let save = 1; save <= saves; save++) {
      const next = path.join(sandbox.root, `paused.${versions[save]}`)
      fs.writeFileSync(next, sandbox.scriptText("paused", body(versions[save]!)))
      truncatePauseWrite(file, 0.015, next)
      const pids = await waitForSpawns(sandbox, "paused", save + 1, { message: `restart ${save}` })
      const previous = running
      await waitFor(() => !isAlive(previous), { message: `instance before save ${save} gone` })
      running = pids[save]!
      await readItsScript("paused", running)
    }
    // A window in which nothing more must happen.
    await delay(500)
    const journal = sandbox.readJournal()
    expect(eventsOf(journal, "process list modified", "paused").map((e) => e.data["op"])).toEqual([
      "add",
      ...versions.slice(1).map(() => "update")
    ])
    expect(spawnedPids(journal, "paused")).toHaveLength(saves + 1)
    expect(eventsOf(journal, "process spawn error")).toEqual([])
    expect(fs.readFileSync(path.join(sandbox.logs, "paused.log"), "utf8")).toBe(versions.map((v) => `${v}\n`).join(""))
  })

  it("one Vim save is one restart, in both of its backup modes", { timeout: 60_000 }, async (ctx) => {
    if (VIM === undefined) return ctx.skip(`vim not installed (looked for ${VIM_PATHS.join(", ")})`)
    const vim = (...settings: ReadonlyArray<string>): Save => (file) => {
      execFileSync(VIM, ["-Es", "-u", "NONE", "-N", ...settings, "-c", "%s/echo v1/echo v2/", "-c", "wq", file], {
        stdio: "ignore"
      })
    }
    const newInode = await eachSaveIsOneRestart({
      // Vim's defaults: a write probe 4913, the file renamed to its backup
      // svc~ (still executable), a new file written, the backup deleted.
      "vim": vim(),
      "vim-backupcopy": vim("-c", "set backupcopy=yes")
    })
    expect([newInode.get("vim"), newInode.get("vim-backupcopy")]).toEqual([true, false])
  })
})
