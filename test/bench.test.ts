import { describe, expect, it } from "vitest"
import {
  cpuTicksOfStat,
  mergeResults,
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
      help: false
    })
    expect(parseOptions(["--only=output"]).only).toEqual(["output"])
    expect(parseOptions([]).only).not.toContain("peers")
    expect(parseOptions(["--peers", "--only", "restart"]).only).toEqual(["restart", "peers"])
    expect(() => parseOptions(["--only", "nope"])).toThrow(/unknown figure nope/)
    expect(() => parseOptions(["--fast"])).toThrow(/unknown option --fast/)
  })

  it("parses stamps, started lines and /proc fields", () => {
    expect(parseStamp("1763935514.741234 4242")).toEqual({ millis: 1763935514741.234, pid: 4242 })
    expect(parseStamp("1763935514,5")?.millis).toBe(1763935514500)
    expect(parseStamp("garbage")).toBeUndefined()
    expect(parseStarted("2026-11-23T22:05:14.792Z my svc: started, pid 19917")).toEqual({ name: "my svc", pid: 19917 })
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
