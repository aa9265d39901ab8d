/**
 * Editor saves: one save is one restart, whatever the editor's syscall
 * pattern (see /work/shared/EDITOR-SAVES.md), and an editor's temporary
 * files never run. Real Vim (both backup modes) and GNU sed, and the
 * patterns of nano, cp, temp file + mv, a truncate then several writes, and
 * touch, each on its own service of one daemon.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { delay, eventsOf, isAlive, Sandbox, spawnedPids, waitFor, waitForSpawns } from "../e2e/harness.ts"

// Vim skips its backup under /tmp (backupskip): its save by rename needs a
// sandbox elsewhere. /var/tmp is not in backupskip.
const BASE = fs.existsSync("/var/tmp") ? "/var/tmp" : undefined
const VIM = ["/usr/bin/vim", "/bin/vim"].find((file) => fs.existsSync(file))

const body = (version: string) => `echo ${version}\nexec sleep 1000`

describe("editor saves", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox(BASE === undefined ? {} : { base: BASE })
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("one save is one restart, for every editor and writer", { timeout: 60_000 }, async () => {
    const text = (name: string) => sandbox.scriptText(name, body("v2"))
    // What each writer does to the file; each returns once the save is done.
    const saves: Record<string, (file: string, name: string) => void> = {
      // Vim's defaults: a write probe 4913, the file renamed to its backup
      // svc~ (still executable), a new file written, the backup deleted.
      ...(VIM === undefined ? {} : {
        "vim": (file: string) => {
          execFileSync(VIM, ["-Es", "-u", "NONE", "-N", "-c", "%s/echo v1/echo v2/", "-c", "wq", file], {
            stdio: "ignore"
          })
        },
        "vim-backupcopy": (file: string) => {
          execFileSync(VIM, [
            "-Es",
            "-u",
            "NONE",
            "-N",
            "-c",
            "set backupcopy=yes",
            "-c",
            "%s/echo v1/echo v2/",
            "-c",
            "wq",
            file
          ], { stdio: "ignore" })
        }
      }),
      // The same pattern by hand, in case Vim's heuristics change.
      "vim-style": (file: string, name: string) => {
        const probe = path.join(sandbox.scripts, "4913")
        fs.writeFileSync(probe, "", { mode: 0o755 })
        fs.rmSync(probe)
        fs.renameSync(file, `${file}~`)
        fs.writeFileSync(file, text(name), { mode: 0o644 })
        fs.chmodSync(file, 0o755)
        fs.rmSync(`${file}~`)
      },
      "sed": (file: string) => {
        execFileSync("sed", ["-i", "s/echo v1/echo v2/", file])
      },
      // nano, VS Code, shell `>`: truncate, write (several writes), close.
      "nano": (file: string, name: string) => {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_TRUNC)
        const content = Buffer.from(text(name))
        for (let at = 0; at < content.length; at += 16) fs.writeSync(fd, content, at, Math.min(16, content.length - at))
        fs.closeSync(fd)
      },
      "cp": (file: string, name: string) => {
        const source = path.join(sandbox.root, `${name}.new`)
        fs.writeFileSync(source, text(name))
        execFileSync("cp", [source, file])
      },
      "temp-mv": (file: string, name: string) => {
        const temp = path.join(sandbox.scripts, `.${name}.tmp`)
        fs.writeFileSync(temp, text(name))
        fs.chmodSync(temp, 0o755)
        execFileSync("mv", [temp, file])
      },
      "truncate-write": (file: string, name: string) => {
        fs.truncateSync(file, 0)
        const content = text(name)
        const half = Math.floor(content.length / 2)
        fs.appendFileSync(file, content.slice(0, half))
        fs.appendFileSync(file, content.slice(half))
      },
      "touch": (file: string) => {
        execFileSync("touch", [file])
      }
    }
    const names = Object.keys(saves)
    const files = new Map(names.map((name) => [name, sandbox.writeScript(name, body("v1"))]))
    sandbox.startDaemon()
    const first = new Map<string, number>()
    for (const name of names) first.set(name, (await waitForSpawns(sandbox, name))[0]!)

    const inodes = new Map<string, number>()
    for (const name of names) {
      const file = files.get(name)!
      const before = fs.statSync(file).ino
      saves[name]!(file, name)
      inodes.set(name, fs.statSync(file).ino === before ? 0 : 1)
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
    // The savers did what they are known for: by rename, or in place.
    if (VIM !== undefined) expect([inodes.get("vim"), inodes.get("vim-backupcopy")]).toEqual([1, 0])
    expect([inodes.get("sed"), inodes.get("nano"), inodes.get("temp-mv")]).toEqual([1, 0, 1])
    // Nothing but the services ever ran: no backup, probe or temporary file.
    expect(new Set(eventsOf(journal, "process spawned").map((e) => e.data["file"]))).toEqual(new Set(names))
    expect(eventsOf(journal, "process spawn error")).toEqual([])
  })
})
