import { assert, describe, it } from "@effect/vitest"
import { nodeTooOld } from "../src/domain/NodeVersion.ts"
import { defaultPaths, parseDurationMillis } from "../src/domain/Paths.ts"
import { crontab, quote } from "../src/programs/cron.ts"

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
    const lines = crontab(["/usr/bin/node", "/opt/cronmon.js", "-j", "/j"]).split("\n").filter((l) => !l.startsWith("#"))
    const command = `'/usr/bin/node' '/opt/cronmon.js' '-j' '/j' >/dev/null 2>&1`
    assert.deepStrictEqual(lines, [`@reboot ${command}`, `* * * * * ${command}`, ""])
  })
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
