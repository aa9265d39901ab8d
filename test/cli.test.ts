import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestConsole } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { main } from "../src/cli.ts"
import { LOCK_EX, LOCK_NB, loadLibc } from "../src/internal/Libc.ts"
import { AMOUNTS, DAEMON_FLAGS, type FlagSpec, isAmount, readAmount } from "../src/domain/DaemonFlags.ts"
import { nodeTooOld } from "../src/domain/NodeVersion.ts"
import { defaultPaths, parseDurationMillis } from "../src/domain/Paths.ts"
import { carriedEnvironment, crontab, quote } from "../src/programs/cron.ts"
import { daemonPaths } from "../src/internal/LockCheck.ts"

/**
 * The words `/bin/sh` makes of a crontab command once cron has turned `\%`
 * into `%`: single quotes, backslashes outside them, blanks between words.
 */
const shellWords = (command: string): Array<string> => {
  const text = command.replaceAll("\\%", "%")
  const words: Array<string> = []
  let word: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "'") {
      const end = text.indexOf("'", i + 1)
      word = (word ?? "") + text.slice(i + 1, end)
      i = end
    } else if (c === "\\") {
      word = (word ?? "") + text[++i]
    } else if (c === " ") {
      if (word !== undefined) words.push(word)
      word = undefined
    } else {
      word = (word ?? "") + c
    }
  }
  if (word !== undefined) words.push(word)
  return words
}

// A crontab line's command as the shell runs it: its assignments and its words.
const commandOf = (line: string) => {
  const words = shellWords(line.replace(/^(@reboot|\* \* \* \* \*) /, "").replace(/ >\/dev\/null 2>&1$/, ""))
  const assignments = words.filter((word) => /^[A-Z_]+=/.test(word))
  return {
    environment: assignments.map((word): readonly [string, string] => [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)]),
    command: words.slice(assignments.length)
  }
}

// `cronmon cron ARGS` run in this process: its exit code and what it printed.
const runCron = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const [outBefore, errBefore] = [(yield* TestConsole.logLines).length, (yield* TestConsole.errorLines).length]
    const code = yield* main(["cron", ...args])
    const out = (yield* TestConsole.logLines).slice(outBefore).join("\n")
    return { code, out, err: (yield* TestConsole.errorLines).slice(errBefore).join("\n") }
  })

describe("paths", () => {
  it("follows XDG, falling back to HOME, ignoring relative values", () => {
    assert.deepStrictEqual(defaultPaths({ HOME: "/home/me" }), {
      scripts: "/home/me/.config/cronmon/scripts",
      journal: "/home/me/.config/cronmon/journal.json",
      logs: "/home/me/.local/state/cronmon/logs"
    })
    assert.deepStrictEqual(defaultPaths({ HOME: "/h", XDG_CONFIG_HOME: "/c", XDG_STATE_HOME: "/s" }), {
      scripts: "/c/cronmon/scripts",
      journal: "/c/cronmon/journal.json",
      logs: "/s/cronmon/logs"
    })
    assert.strictEqual(defaultPaths({ HOME: "/h", XDG_CONFIG_HOME: "rel" }).journal, "/h/.config/cronmon/journal.json")
  })

  it("parses durations; a bare number is seconds", () => {
    assert.strictEqual(parseDurationMillis("3"), 3000)
    assert.strictEqual(parseDurationMillis("3s"), 3000)
    assert.strictEqual(parseDurationMillis("1.5 s"), 1500)
    assert.strictEqual(parseDurationMillis("500ms"), 500)
    assert.strictEqual(parseDurationMillis("2m"), 120_000)
    assert.strictEqual(parseDurationMillis("1 hour"), 3_600_000)
    // Days, for `journal --since 1d` (the reviewer's `--since 1d` was refused).
    assert.strictEqual(parseDurationMillis("1d"), 86_400_000)
    assert.strictEqual(parseDurationMillis("2 days"), 172_800_000)
    assert.strictEqual(parseDurationMillis("1 day"), 86_400_000)
    for (const bad of ["", "abc", "-1s", "3 parsecs", "1e3"]) assert.isUndefined(parseDurationMillis(bad), bad)
  })
})

describe("cron", () => {
  it("quotes words for sh and escapes cron's %", () => {
    assert.strictEqual(quote("/a b/c"), "'/a b/c'")
    assert.strictEqual(quote("it's"), `'it'\\''s'`)
    assert.strictEqual(quote("100%"), "'100\\%'")
  })

  it("prints a boot line and a minute line with the same command", () => {
    const lines = crontab({ command: ["/usr/bin/node", "/opt/cronmon.js", "-j", "/j"], environment: [], again: [] })
      .split("\n").filter((l) => !l.startsWith("#"))
    const command = `'/usr/bin/node' '/opt/cronmon.js' '-j' '/j' >/dev/null 2>&1`
    assert.deepStrictEqual(lines, [`@reboot ${command}`, `* * * * * ${command}`, ""])
  })

  it("carries PATH and the locale into the lines, and the shell reads back every word and value", () => {
    const environment = carriedEnvironment({
      HOME: "/h",
      LC_TIME: "it's 100%",
      PATH: "/opt/my bin:/usr/bin",
      LANG: "C.UTF-8",
      LC_ALL: "",
      TERM: "xterm"
    })
    assert.deepStrictEqual(environment, [["PATH", "/opt/my bin:/usr/bin"], ["LANG", "C.UTF-8"], ["LC_TIME", "it's 100%"]])
    const command = ["/n o/node", "/c/cronmon.js", "-s", "/it's/100% sure", "--stop-timeout", "10s"]
    const text = crontab({ command, environment, again: ["-s", "/it's/100% sure"] })
    const lines = text.split("\n")
    for (const line of lines.filter((l) => l !== "" && !l.startsWith("#"))) {
      assert.deepStrictEqual(commandOf(line), { environment, command })
    }
    // Said in the comments: what it runs, what it carries, how to print it again.
    assert.include(text, "# It runs this Node and this cronmon (/n o/node, /c/cronmon.js)")
    assert.include(text, "# Services get this PATH and locale (LANG and LC_TIME), not cron's bare environment")
    assert.include(text, `(crontab -l 2>/dev/null; cronmon cron -s '/it'\\''s/100% sure') | crontab -`)
  })
})

describe("the daemon's flags", () => {
  const specs: ReadonlyArray<FlagSpec> = Object.values(DAEMON_FLAGS)

  it("write every amount in range so that it reads back the same", () => {
    for (const spec of specs.filter(isAmount)) {
      const [min, max] = spec.range!
      let seed = 7
      const samples = [min, max, min + 1, max - 1, ...Array.from({ length: 200 }, () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
        // Round amounts too, which the largest exact unit writes shorter.
        const amount = Math.floor(min + (seed / 2 ** 31) * (max - min))
        const unit = [1, 1000, 60_000, 3_600_000, 1024, 1024 ** 2, 1024 ** 3][seed % 7]!
        return amount - (amount % unit)
      })]
      for (const value of samples.filter((v) => v >= min && v <= max)) {
        const text = AMOUNTS[spec.kind].format(value)
        assert.deepStrictEqual(readAmount(spec, text), { value }, `${spec.name} ${value} written ${text}`)
      }
      for (const outside of [min - 1, max + 1]) assert.property(readAmount(spec, AMOUNTS[spec.kind].format(outside)), "refusal")
    }
  })

  it("refuse what is out of range, naming the bound, in one wording", () => {
    assert.deepStrictEqual(readAmount(DAEMON_FLAGS.stopTimeout, "0"), { refusal: "too short: 0 (at least 100ms)" })
    assert.deepStrictEqual(readAmount(DAEMON_FLAGS.stopTimeout, "99999999999999999999"), {
      refusal: "too long: 99999999999999999999 (at most 1h)"
    })
    assert.deepStrictEqual(readAmount(DAEMON_FLAGS.stopTimeout, "-1s"), { refusal: "not a duration: -1s (use 500ms, 3s, 1m)" })
    assert.deepStrictEqual(readAmount(DAEMON_FLAGS.logMaxBytes, "1"), { refusal: "too small: 1 (at least 4k)" })
    assert.deepStrictEqual(readAmount(DAEMON_FLAGS.journalMaxBytes, "1k"), { refusal: "too small: 1k (at least 4k)" })
    assert.deepStrictEqual(readAmount(DAEMON_FLAGS.logKeep, "1001"), { refusal: "too large: 1001 (at most 1000)" })
    assert.deepStrictEqual(readAmount(DAEMON_FLAGS.logKeep, "abc"), { refusal: "not a count: abc (use 0, 5, 10)" })
  })

  // Every flag of the table at its bounds and in between, given to `cron`:
  // the flags its lines run the daemon with, given to `cron` again, print
  // the very same lines (so they parse back to the same settings), and the
  // cron tick takes them as the daemon's.
  it.effect("cron prints lines whose flags parse back to the same settings", () =>
    Effect.gen(function*() {
      const given = (pick: (min: number, max: number) => number) =>
        specs.flatMap((spec): Array<string> => {
          if (spec.kind === "switch") return [spec.name === "strict-modes" ? "--no-strict-modes" : `--${spec.name}`]
          if (spec.kind === "path") return [`--${spec.name}`, `rel/${spec.name}`]
          const [min, max] = spec.range!
          return [`--${spec.name}`, `${pick(min, max)}${spec.kind === "duration" ? "ms" : ""}`]
        })
      for (const args of [given((min) => min), given((_, max) => max), given((min, max) => Math.floor((min + max) / 3) + 1), given((_, max) => max / 2)]) {
        const first = yield* runCron(args)
        assert.strictEqual(first.code, 0, first.err)
        const line = first.out.split("\n").find((l) => l.startsWith("@reboot "))!
        const { command } = commandOf(line)
        const daemonArgs = command.slice(2)
        for (const spec of specs) {
          const at = daemonArgs.findIndex((word) => word === `--${spec.name}` || word === `-${spec.alias}`)
          if (spec.kind === "switch") {
            assert.include(daemonArgs, spec.name === "strict-modes" ? "--no-strict-modes" : `--${spec.name}`)
            continue
          }
          const printed = daemonArgs[at + 1]!
          const asked = args[args.indexOf(`--${spec.name}`) + 1]!
          if (isAmount(spec)) assert.deepStrictEqual(readAmount(spec, printed), readAmount(spec, asked), spec.name)
          else assert.strictEqual(printed, path.resolve(asked), spec.name)
        }
        const again = yield* runCron(daemonArgs)
        assert.strictEqual(again.out, first.out)
        assert.isDefined(daemonPaths(daemonArgs, process.env, "/"), daemonArgs.join(" "))
      }
    }))

  it.effect("cron and the daemon refuse values out of range as usage errors", () =>
    Effect.gen(function*() {
      for (const bad of [["--stop-timeout", "0"], ["--log-max-size", "1"], ["--journal-max-size", "1k"], ["--stop-timeout", "99999999999999999999"], ["--log-keep", "99999999999999999999"]]) {
        const cron = yield* runCron(bad)
        assert.strictEqual(cron.code, 2, bad.join(" "))
        assert.match(cron.err, /^cronmon: --[a-z-]+: too (short|long|small|large): [^ ]+ \(at (least|most) [^)]+\) \(see cronmon cron --help\)$/)
        assert.isUndefined(daemonPaths(bad, process.env, "/"), bad.join(" "))
      }
    }))
})

describe("a daemon started on a journal another holds", () => {
  // The tick answers first (from /proc/locks); when it could not tell, the
  // daemon's own lock attempt fails, and the CLI says the same.
  it.effect("says what the tick says, exit 0", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-locked-"))
      const journal = path.join(dir, "journal.json")
      fs.writeFileSync(
        journal,
        JSON.stringify({ time: "2026-11-23T19:00:00Z", type: "acquired lock", data: { journal_id: "x", pid: 42, scripts: "/srv/x" } }) + "\n"
      )
      const holder = fs.openSync(journal, "r")
      assert.strictEqual(loadLibc().flock(holder, LOCK_EX | LOCK_NB), 0)
      const before = (yield* TestConsole.errorLines).length
      const code = yield* main(["-j", journal, "-s", path.join(dir, "s"), "--logs", path.join(dir, "l")])
      fs.closeSync(holder)
      assert.strictEqual(code, 0)
      assert.deepStrictEqual((yield* TestConsole.errorLines).slice(before), [
        "cronmon is already running (pid 42, scripts /srv/x)\n" +
        `cronmon: warning: it watches /srv/x, not ${path.join(dir, "s")}: stop it first to watch another directory ` +
        `with this journal, or give ${path.join(dir, "s")} a journal of its own (-j)`
      ])
      fs.rmSync(dir, { recursive: true })
    }))
})

describe("help and the README", () => {
  const readme = fs.readFileSync(path.join(import.meta.dirname, "..", "README.md"), "utf8")
  const reference = readme.slice(readme.indexOf("## Commands and flags"), readme.indexOf("Exit codes:"))
  // Every spelling of a flag in a text: `--name`, `-a`, and `--no-name` as `--name`.
  const spellings = (text: string) =>
    new Set([...text.matchAll(/(?<![\w-])(--?[a-z][\w-]*)/g)].map((match) => match[1]!.replace(/^--no-/, "--")))
  // The flags a command's help lists, by section: each as its spellings.
  const helpFlags = (help: string, sections: ReadonlyArray<string>) =>
    sections.flatMap((section) => {
      const body = help.split(`\n${section}\n`)[1]?.split("\n\n")[0] ?? ""
      return body.split("\n").flatMap((line) => {
        const match = /^ {2}(--[\w-]+)(?:, (-\w))?/.exec(line)
        return match === null ? [] : [[match[1]!, ...(match[2] === undefined ? [] : [match[2]])]]
      })
    })
  const helpOf = (args: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const before = (yield* TestConsole.logLines).length
      assert.strictEqual(yield* main([...args, "--help"]), 0)
      return (yield* TestConsole.logLines).slice(before).join("\n")
    })

  it.effect("list the same flags, and nothing the README does not", () =>
    Effect.gen(function*() {
      const root = yield* helpOf([])
      assert.notInclude(root, "--wizard")
      assert.notInclude(root, "--log-level")
      assert.include(root, "cronmon [<subcommand>] [flags]")
      // The daemon's flags and the global ones: each in the README's reference, and back.
      const rootFlags = helpFlags(root, ["FLAGS", "GLOBAL FLAGS"])
      for (const names of rootFlags) assert.isTrue(names.some((name) => spellings(reference).has(name)), names.join(", "))
      const flagTable = reference.slice(reference.indexOf("| flag |"))
      for (const name of spellings(flagTable)) assert.isTrue(rootFlags.some((names) => names.includes(name)), name)
      assert.deepStrictEqual(helpFlags(yield* helpOf(["cron"]), ["FLAGS", "INHERITED FLAGS"]), helpFlags(root, ["FLAGS"]))
      // Each command: its row of the README's table names exactly the flags its help lists.
      for (const command of ["status", "journal", "logs"]) {
        const row = reference.split("\n").find((line) => line.startsWith(`| \`cronmon ${command} `))!
        const listed = helpFlags(yield* helpOf([command]), ["FLAGS", "INHERITED FLAGS"])
        const inRow = spellings(row.split("|")[1]!)
        for (const names of listed) assert.isTrue(names.some((name) => inRow.has(name)), `${command}: ${names.join(", ")}`)
        for (const name of inRow) assert.isTrue(listed.some((names) => names.includes(name)), `${command}: ${name}`)
      }
      // The control commands read the journal, not the logs.
      for (const command of ["restart", "stop", "start", "kill"]) {
        const listed = helpFlags(yield* helpOf([command]), ["FLAGS", "INHERITED FLAGS"]).flat()
        assert.include(listed, "--journal", command)
        assert.notInclude(listed, "--logs", command)
      }
    }))
})

describe("node version", () => {
  it("refuses a Node older than 22.19 in one line", () => {
    assert.strictEqual(nodeTooOld("20.20.2"), "cronmon: needs Node >= 22.19 (this is 20.20.2)")
    assert.strictEqual(nodeTooOld("22.18.0"), "cronmon: needs Node >= 22.19 (this is 22.18.0)")
    assert.isUndefined(nodeTooOld("22.19.0"))
    assert.isUndefined(nodeTooOld("24.1.0"))
    assert.isUndefined(nodeTooOld("100.0.0"))
  })
})
