/**
 * The command line: `cron`, `--help`, `--version`, usage errors and a fatal
 * error. Every command runs with the sandbox as its working directory and
 * XDG directories, never the user's own.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { DAEMON_FLAGS, type FlagSpec } from "../../src/domain/DaemonFlags.ts"
import { daemonPaths } from "../../src/internal/LockCheck.ts"
import { CLI, NODE, Sandbox, waitFor, waitForJournal } from "./harness.ts"

describe("command line", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("cron prints @reboot and every-minute lines with absolute quoted paths", { timeout: 20_000 }, () => {
    const result = sandbox.run(["cron", "-j", "rel/j.json", "-s", "rel/s"])
    expect(result.status).toBe(0)
    const lines = result.stdout.split("\n").filter((line) => line !== "" && !line.startsWith("#"))
    expect(lines).toHaveLength(2)
    const [reboot, minutely] = lines as [string, string]
    expect(reboot.startsWith("@reboot ")).toBe(true)
    expect(minutely.startsWith("* * * * * ")).toBe(true)
    for (const line of lines) {
      expect(line).toContain(`'-j' '${path.join(sandbox.root, "rel", "j.json")}'`)
      expect(line).toContain(`'-s' '${path.join(sandbox.root, "rel", "s")}'`)
      // Every quoted word that is a path is absolute.
      const words = [...line.matchAll(/'([^']*)'/g)].map((match) => match[1]!)
      expect(words.filter((word) => word.includes("/")).every((word) => path.isAbsolute(word))).toBe(true)
    }
    // The same command both times.
    expect(reboot.slice("@reboot ".length)).toBe(minutely.slice("* * * * * ".length))
  })

  it("cron passes a stop timeout on, and refuses a path no crontab line can hold", { timeout: 20_000 }, () => {
    const withTimeout = sandbox.run(["cron", "-j", "/j/j.json", "--stop-timeout", "10s"])
    expect(withTimeout.status).toBe(0)
    expect(withTimeout.stdout).toContain(`'--stop-timeout' '10s' >/dev/null 2>&1`)
    const broken = sandbox.run(["cron", "-j", "/j/a\nb.json"])
    expect(broken.status).toBe(1)
    expect(broken.stderr).toMatch(/^cronmon: [^\n]*newline[^\n]*\n$/)
    expect(broken.stdout).toBe("")
  })

  // The line as cron runs it: `\\%` made `%` by cron, then `/bin/sh -c`, in
  // cron's bare environment. It runs this cronmon on the same journal and
  // scripts, with the PATH and locale of whoever printed it, which its
  // services get; run again, it finds that daemon running.
  it("a crontab line, run as cron runs it, runs this cronmon with these paths, PATH and locale", { timeout: 30_000 }, async () => {
    const scripts = path.join(sandbox.root, "it's 100%")
    fs.mkdirSync(scripts, { mode: 0o755 })
    const seen = path.join(sandbox.root, "seen")
    fs.writeFileSync(
      path.join(scripts, "env"),
      sandbox.scriptText("env", `echo "$PATH|$LANG" > '${seen}'\nexec sleep 1000`),
      { mode: 0o755 }
    )
    const args = ["-j", sandbox.journal, "-s", scripts, "--logs", sandbox.logs, "--stop-timeout", "1500ms", "--log-keep", "0"]
    const printed = spawnSync(NODE, [CLI, "cron", ...args], {
      env: { ...sandbox.env(), LANG: "C.UTF-8" },
      encoding: "utf8",
      cwd: sandbox.root
    })
    expect(printed.status).toBe(0)
    const line = printed.stdout.split("\n").find((l) => l.startsWith("* * * * * "))!
    const command = line.slice("* * * * * ".length).replace(/ >\/dev\/null 2>&1$/, "").replaceAll("\\%", "%")
    const cron = { env: { HOME: sandbox.root, PATH: "/usr/bin:/bin", SHELL: "/bin/sh" }, cwd: sandbox.root }
    const shell = spawn("/bin/sh", ["-c", command], { ...cron, stdio: "ignore" })
    const exited = new Promise((resolve) => shell.once("exit", resolve))
    try {
      await waitFor(() => fs.existsSync(seen) && fs.readFileSync(seen, "utf8").endsWith("\n"), { timeout: 10_000 })
      expect(fs.readFileSync(seen, "utf8")).toBe(`${process.env["PATH"]}|C.UTF-8\n`)
      const pid = sandbox.readJournal().find((e) => e.type === "acquired lock")!.data["pid"]
      const again = spawnSync("/bin/sh", ["-c", command], { ...cron, encoding: "utf8", timeout: 10_000 })
      expect([again.status, again.stderr]).toEqual([0, `cronmon is already running (pid ${pid}, scripts ${scripts})\n`])
    } finally {
      const pid = sandbox.readJournal().find((e) => e.type === "acquired lock")?.data["pid"]
      if (typeof pid === "number") process.kill(pid, "SIGTERM")
      else shell.kill("SIGTERM")
      await exited
    }
    expect(sandbox.readJournal().at(-1)?.type).toBe("monitor quit")
  })

  it("--help exits 0", { timeout: 20_000 }, () => {
    const result = sandbox.run(["--help"])
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/cron/)
    expect(result.stdout).toMatch(/--journal/)
  })

  it("status, journal and logs take only -j and --logs (and list the one they read); the daemon's flags are the daemon's and cron's", { timeout: 30_000 }, () => {
    for (const [command, reads, other] of [["status", "--journal", "--logs"], ["journal", "--journal", "--logs"], ["logs", "--logs", "--journal"]] as const) {
      const help = sandbox.run([command, "--help"])
      expect(help.status).toBe(0)
      expect(help.stdout).toContain(reads)
      expect(help.stdout).not.toContain(other)
      // Taken all the same, so that one set of paths serves every command.
      expect(sandbox.run([command, ...(command === "logs" ? ["web"] : []), other, sandbox.root]).stderr).not.toMatch(/unknown flag/)
      for (const flag of ["--scripts", "--stop-timeout", "--log-max-size", "--log-keep", "--journal-max-size", "--strict-modes"]) {
        expect(help.stdout, `${command} --help lists ${flag}`).not.toContain(flag)
      }
    }
    const refused = sandbox.run(["status", "--stop-timeout", "5s"])
    expect(refused.status).toBe(2)
    expect(refused.stderr).toBe("cronmon: unknown flag --stop-timeout (see cronmon status --help)\n")
    const root = sandbox.run(["--help"])
    expect(root.stdout).toContain("--stop-timeout")
    expect(root.stdout).toContain("(default: 3s)")
    // The example adds to the crontab; `cronmon cron | crontab -` would replace it.
    expect(root.stdout).toContain("(crontab -l 2>/dev/null; cronmon cron")
    expect(root.stdout).not.toMatch(/^\s*cronmon cron \| crontab -/m)
    const cron = sandbox.run(["-j", "/j/j.json", "--logs", "/l", "cron", "-s", "/s", "--no-strict-modes", "--log-keep", "7"])
    expect(cron.status).toBe(0)
    expect(cron.stdout).toContain(`'-j' '/j/j.json' '-s' '/s' '--logs' '/l' '--no-strict-modes' '--log-keep' '7' >/dev/null 2>&1`)
  })

  it("a FIFO where the journal should be: one line and exit 1 from every command, never a hang", { timeout: 30_000 }, () => {
    const fifo = path.join(sandbox.root, "fifo.json")
    execFileSync("mkfifo", [fifo])
    for (const args of [["status", "-j", fifo], ["journal", "-j", fifo], ["-j", fifo, "-s", sandbox.scripts]]) {
      const result = sandbox.run(args, { timeout: 8_000 })
      expect([args.join(" "), result.signal]).toEqual([args.join(" "), null])
      expect(result.stderr.trim().split("\n")).toHaveLength(1)
      expect(result.stderr).toContain("not a regular file")
      expect(result.status).not.toBe(0)
    }
  })

  it("a scripts directory that cannot be made: one line naming it, exit 1", { timeout: 20_000 }, () => {
    const file = path.join(sandbox.root, "a-file")
    fs.writeFileSync(file, "")
    const result = sandbox.run(["-j", sandbox.journal, "-s", path.join(file, "scripts")])
    expect(result.status).toBe(1)
    expect(result.stderr).toBe(`cronmon: the scripts directory ${path.join(file, "scripts")} is not a directory (or a part of its path is not)\n`)
  })

  it("--version prints the version", { timeout: 20_000 }, () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, "..", "..", "package.json"), "utf8"))
    const result = sandbox.run(["--version"])
    expect(result.status).toBe(0)
    expect(result.stdout).toContain(version)
  })

  it("an unknown flag is a usage error (exit 2): one line on stderr, no help", { timeout: 20_000 }, () => {
    const result = sandbox.run(["--no-such-flag", ...sandbox.daemonArgs()])
    expect(result.status).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr).toMatch(/^cronmon: unknown flag --no-such-flag[^\n]* \(see cronmon --help\)\n$/)
    const sub = sandbox.run(["status", "--bogus"])
    expect(sub.status).toBe(2)
    expect(sub.stdout).toBe("")
    expect(sub.stderr).toBe("cronmon: unknown flag --bogus (see cronmon status --help)\n")
  })

  it("a bad --stop-timeout is a usage error (exit 2)", { timeout: 20_000 }, () => {
    const result = sandbox.run(["-j", sandbox.journal, "-s", sandbox.scripts, "--stop-timeout", "abc"])
    expect(result.status).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr).toMatch(/^cronmon: --stop-timeout: not a duration: abc[^\n]*\n$/)
    expect(fs.existsSync(sandbox.journal)).toBe(false) // no daemon started
  })

  it("journal --since: nonsense is a usage error (exit 2), days are a duration", { timeout: 20_000 }, () => {
    const bad = sandbox.run(["journal", "-j", sandbox.journal, "--since", "nonsense"])
    expect(bad.status).toBe(2)
    expect(bad.stdout).toBe("")
    expect(bad.stderr).toMatch(/^cronmon: --since: not a duration or a time: nonsense[^\n]*\n$/)
    fs.writeFileSync(
      sandbox.journal,
      JSON.stringify({ time: new Date().toISOString(), type: "acquired lock", data: { journal_id: "x", pid: 1 } }) + "\n"
    )
    const day = sandbox.run(["journal", "-j", sandbox.journal, "--since", "1d"])
    expect(day.stderr).toBe("")
    expect(day.status).toBe(0)
    expect(day.stdout).toContain("cronmon started, pid 1")
  })

  it("journal and logs name a path they cannot read in one line", { timeout: 20_000 }, () => {
    const journal = sandbox.run(["journal", "-j", sandbox.root])
    expect(journal.status).toBe(1)
    expect(journal.stderr).toBe(`cronmon: the journal ${sandbox.root} is a directory\n`)
    const missing = sandbox.run(["journal", "-j", sandbox.journal])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toBe(`cronmon: no journal at ${sandbox.journal}\n`)
    const file = path.join(sandbox.root, "not-a-dir")
    fs.writeFileSync(file, "")
    const logs = sandbox.run(["logs", "web", "--logs", file])
    expect(logs.status).toBe(1)
    expect(logs.stderr).toMatch(new RegExp(`^cronmon: the logs directory ${file} is not a directory[^\n]*\n$`))
  })

  it("a logs path that is a file, or cannot be made a directory, is fatal at start (exit 1, one line)", { timeout: 20_000 }, () => {
    const file = path.join(sandbox.root, "not-a-dir")
    fs.writeFileSync(file, "")
    for (const [logs, said] of [
      [file, `cronmon: the logs path ${file} is not a directory\n`],
      [path.join(file, "logs"), `cronmon: the logs directory ${path.join(file, "logs")} is not a directory (or a part of its path is not)\n`],
      ["/proc/cronmon-nope/logs", "cronmon: no logs directory at /proc/cronmon-nope/logs\n"]
    ] as const) {
      const result = sandbox.run(["-j", sandbox.journal, "-s", sandbox.scripts, "--logs", logs], { timeout: 8_000 })
      expect([logs, result.status, result.stderr]).toEqual([logs, 1, said])
      // Refused before the journal is opened: nothing is written.
      expect(fs.existsSync(sandbox.journal)).toBe(false)
    }
  })

  it("a scripts directory it creates is said once, on stderr and in the journal", { timeout: 30_000 }, async () => {
    const typo = path.join(sandbox.root, "scirpts")
    const said = `created the scripts directory ${typo}; put executables in it`
    const args = ["-j", sandbox.journal, "-s", typo, "--logs", sandbox.logs]
    const first = sandbox.startDaemon(args)
    await waitForJournal(sandbox, (journal) => journal.some((e) => e.type === "warning" && e.data["error"] === said))
    first.kill("SIGTERM")
    expect(await first.waitExit()).toBe(0)
    expect(first.stderr.split("\n").filter((line) => line.endsWith(`warning: scripts: ${said}`))).toHaveLength(1)
    // The next start finds the directory (and a service in it, seen running): nothing to say.
    fs.writeFileSync(path.join(typo, "svc"), "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 })
    const second = sandbox.startDaemon(args)
    await waitForJournal(sandbox, (journal) => journal.some((e) => e.type === "process spawned"))
    second.kill("SIGTERM")
    expect(await second.waitExit()).toBe(0)
    expect(second.stderr).not.toContain(said)
    expect(sandbox.readJournal().filter((e) => e.type === "warning").map((e) => e.data["error"])).toEqual([said])
  })

  it("a scripts path that is a file is fatal (exit 1, one line)", { timeout: 20_000 }, () => {
    const file = path.join(sandbox.root, "not-a-dir")
    fs.writeFileSync(file, "")
    const result = sandbox.run(["-j", sandbox.journal, "-s", file])
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^cronmon: [^\n]*not a directory\n$/)
    expect(result.stderr).toContain(file)
  })

  // Node's recursive mkdir loops forever when mkdir(2) says ENOENT for a
  // path whose parent exists (as under /proc): the daemon used to spin at
  // full CPU instead of reporting the fatal error (fixed in 2d0f774).
  for (const flag of ["-j", "-s"] as const) {
    it(`an impossible ${flag} path under /proc is fatal (exit 1), not a hang`, { timeout: 20_000 }, () => {
      const args = flag === "-j"
        ? ["-j", "/proc/cronmon-nope/j.json", "-s", sandbox.scripts]
        : ["-j", sandbox.journal, "-s", "/proc/cronmon-nope/scripts"]
      const result = sandbox.run([...args, "--logs", sandbox.logs], { timeout: 4_000 })
      expect(result.signal, "killed after 4 s").toBeNull()
      expect(result.status).toBe(1)
      expect(result.stderr).toMatch(/^cronmon: [^\n]*\n$/)
    })
  }

  it("the cron tick takes the daemon's flags as the CLI does: every one, with a good value; none with a bad one", { timeout: 30_000 }, () => {
    const good = { path: "p", duration: "2s", size: "1M", count: "3", signal: "HUP", text: "t" } as const
    const specs: ReadonlyArray<FlagSpec> = Object.values(DAEMON_FLAGS)
    const long = specs.flatMap((spec) => spec.kind === "switch" ? [`--${spec.name}`] : [`--${spec.name}`, good[spec.kind]])
    const short = specs.flatMap((spec) =>
      spec.alias !== undefined ? [`-${spec.alias}`, "a"] : spec.kind === "switch" ? [`--no-${spec.name}`] : []
    )
    for (const argv of [long, short]) {
      expect(daemonPaths(argv, sandbox.env(), sandbox.root)?.journal, argv.join(" ")).toBe(path.join(sandbox.root, argv === long ? "p" : "a"))
      // `cron` takes the same flags and runs nothing.
      expect(sandbox.run(["cron", ...argv]).status, argv.join(" ")).toBe(0)
    }
    for (const bad of [["--stop-timeout", "soon"], ["--journal-max-size", "0"], ["--log-max-size=1x"], ["--log-keep", "-1"], ["--log-keep", "1.5"], ["-j", "a", "--journal", "b"], ["--stop-timeout", "0"], ["--log-max-size", "1"], ["--journal-max-size", "1k"]]) {
      expect(daemonPaths(bad, sandbox.env(), sandbox.root), bad.join(" ")).toBeUndefined()
      expect(sandbox.run(["cron", ...bad]).status, bad.join(" ")).toBe(2)
    }
  })
})
