import { describe, expect, it } from "vitest"
import {
  cpuTicksOfStat,
  heapOfAnswer,
  isSettled,
  mergeResults,
  parseDebuggerUrl,
  parseEnded,
  parseOptions,
  parseStamp,
  parseStarted,
  percentile,
  type Result,
  statusKib
} from "../bench/lib.ts"

describe("bench helpers", () => {
  it("percentiles interpolate between ranks", () => {
    expect(percentile([4, 1, 3, 2], 50)).toBe(2.5)
    expect(percentile([1, 2, 3, 4, 5], 95)).toBeCloseTo(4.8)
    expect(percentile([7], 95)).toBe(7)
    expect(percentile([], 50)).toBeNaN()
  })

  it("parses options and refuses unknown ones", () => {
    expect(parseOptions(["--only", "cron-tick,restart", "--quick"])).toEqual({
      only: ["cron-tick", "restart"],
      quick: true,
      peers: false,
      help: false,
      restarts: 300,
      scripts: 100
    })
    expect(parseOptions(["--only=output"]).only).toEqual(["output"])
    expect(parseOptions([]).only).not.toContain("peers")
    expect(parseOptions(["--peers", "--only", "restart"]).only).toEqual(["restart", "peers"])
    expect(() => parseOptions(["--only", "nope"])).toThrow(/unknown figure nope/)
    expect(() => parseOptions(["--fast"])).toThrow(/unknown option --fast/)
  })

  it("churn counts: the issue's by default, fewer with --quick, or as given", () => {
    expect(parseOptions([])).toMatchObject({ restarts: 3000, scripts: 1000 })
    expect(parseOptions(["--only", "churn"]).only).toEqual(["churn"])
    expect(parseOptions([]).only).toContain("churn")
    expect(parseOptions(["--quick", "--restarts", "50", "--scripts=20"])).toMatchObject({ restarts: 50, scripts: 20 })
    expect(() => parseOptions(["--restarts"])).toThrow(/--restarts needs a count/)
    expect(() => parseOptions(["--scripts", "0"])).toThrow(/--scripts needs a count/)
    expect(() => parseOptions(["--restarts=1e3"])).toThrow(/--restarts needs a count/)
  })

  it("parses ended lines, the inspector's address and its heap answer", () => {
    expect(parseEnded("2026-12-01T12:44:45.206Z c1: pid 19779 killed by SIGTERM")).toEqual({ name: "c1", pid: 19779 })
    expect(parseEnded("2026-12-01T12:44:45.206Z a b: pid 7 exited with code 0")).toEqual({ name: "a b", pid: 7 })
    expect(parseEnded("2026-12-01T12:44:45.184Z c1: changed in the scripts directory")).toBeUndefined()
    expect(parseDebuggerUrl("Debugger listening on ws://127.0.0.1:44279/a7ebe827-d420-40d0-8b2f-7c2d6370744b"))
      .toBe("ws://127.0.0.1:44279/a7ebe827-d420-40d0-8b2f-7c2d6370744b")
    expect(parseDebuggerUrl("For help, see: https://nodejs.org/learn/getting-started/debugging")).toBeUndefined()
    const answer = (value: unknown) => ({ id: 3, result: { result: { type: "string", value } } })
    expect(heapOfAnswer(answer(JSON.stringify({ rss: 1, heapTotal: 21090304, heapUsed: 13932072 }))))
      .toEqual({ used: 13932072, total: 21090304 })
    expect(heapOfAnswer(answer("{\"heapUsed\":\"13\",\"heapTotal\":21}"))).toBeUndefined()
    expect(heapOfAnswer(answer("not json"))).toBeUndefined()
    expect(heapOfAnswer({ id: 3, error: { message: "no" } })).toBeUndefined()
  })

  it("RSS has settled when its last window moved within the tolerance", () => {
    const at = (seconds: number, mib: number) => ({ at: seconds * 1000, kib: mib * 1024 })
    expect(isSettled([], 5_000, 1024)).toBe(false)
    expect(isSettled([at(0, 90), at(2, 90)], 5_000, 1024)).toBe(false)
    expect(isSettled([at(0, 120), at(3, 90), at(6, 90.5), at(8, 90.2)], 5_000, 1024)).toBe(true)
    expect(isSettled([at(0, 90), at(3, 90), at(6, 92), at(8, 90)], 5_000, 1024)).toBe(false)
  })

  it("parses stamps, started lines and /proc fields", () => {
    expect(parseStamp("1763935514.741234 4242")).toEqual({ millis: 1763935514741.234, pid: 4242 })
    expect(parseStamp("1763935514,5")?.millis).toBe(1763935514500)
    expect(parseStamp("garbage")).toBeUndefined()
    expect(parseStarted("2026-11-23T22:05:14.792Z my svc: started, pid 19917")).toEqual({ name: "my svc", pid: 19917 })
    expect(parseStarted("2026-11-23T22:05:14.792Z web: started, pid 19918, not ready yet")).toEqual({ name: "web", pid: 19918 })
    expect(parseStarted("2026-11-23T22:05:14.767Z a: added in the scripts directory")).toBeUndefined()
    const stat = "42 (node (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 0"
    expect(cpuTicksOfStat(stat)).toBe(300)
    expect(statusKib("Name:\tnode\nVmHWM:\t  81952 kB\nVmRSS:\t   80000 kB\n", "VmRSS")).toBe(80000)
  })

  it("a refreshed figure replaces its earlier results, in the figures' order", () => {
    const r = (figure: Result["figure"], id: string): Result => ({
      id,
      figure,
      subject: id,
      value: 1,
      unit: "ms",
      measuredAt: "t"
    })
    const merged = mergeResults([r("output", "old-out"), r("cron-tick", "old-tick")], [r("cron-tick", "new-tick")])
    expect(merged.map((result) => result.id)).toEqual(["new-tick", "old-out"])
  })
})
