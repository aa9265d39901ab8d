import { assert, describe, it } from "@effect/vitest"
import { notifyMeaning, parseNotifyMessage } from "../src/domain/NotifyMessage.ts"

const parse = (text: string | Uint8Array) => {
  const fields = parseNotifyMessage(typeof text === "string" ? Buffer.from(text) : text)
  return fields === undefined ? undefined : Object.fromEntries(fields)
}
const meaning = (text: string) => notifyMeaning(parseNotifyMessage(Buffer.from(text)) ?? new Map())

describe("parseNotifyMessage: one datagram's KEY=value lines, as systemd reads them", () => {
  it("reads every line, known keys and unknown ones", () => {
    assert.deepStrictEqual(parse("READY=1\nSTATUS=serving 3 clients\nX_CUSTOM=yes"), {
      READY: "1",
      STATUS: "serving 3 clients",
      X_CUSTOM: "yes"
    })
  })

  it("keeps what follows the first `=` whole, and a trailing newline adds nothing", () => {
    assert.deepStrictEqual(parse("STATUS=a=b=c\n"), { STATUS: "a=b=c" })
    assert.deepStrictEqual(parse("STATUS=\n"), { STATUS: "" })
  })

  it("skips empty lines, lines without `=` and lines with an empty key", () => {
    assert.deepStrictEqual(parse("\n\nnonsense\n=1\nREADY=1\n\n"), { READY: "1" })
    assert.deepStrictEqual(parse(""), {})
  })

  it("takes the first of a key given twice (systemd's strv_find_startswith)", () => {
    assert.deepStrictEqual(parse("STATUS=first\nSTATUS=second"), { STATUS: "first" })
  })

  it("ignores a datagram holding a NUL byte whole, as systemd does", () => {
    assert.isUndefined(parse(Buffer.from("READY=1\0STATUS=x")))
  })

  it("reads UTF-8, and replaces what is not", () => {
    assert.deepStrictEqual(parse("STATUS=prêt ✓"), { STATUS: "prêt ✓" })
    assert.deepStrictEqual(parse(Buffer.from([0x53, 0x3d, 0xff])), { S: "\ufffd" })
  })
})

describe("notifyMeaning: the keys of sd_notify(3)", () => {
  it("reads the flags only from their exact value 1", () => {
    const all = meaning("READY=1\nSTOPPING=1\nRELOADING=1\nWATCHDOG=1\nBARRIER=1")
    assert.deepStrictEqual([all.ready, all.stopping, all.reloading, all.watchdog, all.barrier], [true, true, true, true, true])
    const none = meaning("READY=0\nSTOPPING=yes\nRELOADING=\nWATCHDOG=trigger\nBARRIER=11")
    assert.deepStrictEqual([none.ready, none.stopping, none.reloading, none.watchdog, none.barrier], [false, false, false, false, false])
  })

  it("reads STATUS as given, absent when not sent", () => {
    assert.strictEqual(meaning("STATUS=warming up").status, "warming up")
    assert.isUndefined(meaning("READY=1").status)
  })

  it("reads MAINPID only as a positive integer that a pid can be", () => {
    assert.strictEqual(meaning("MAINPID=4242").mainPid, 4242)
    for (const bad of ["0", "-1", "42x", "", " 42", "042", "99999999999", "2147483648"]) {
      assert.isUndefined(meaning(`MAINPID=${bad}`).mainPid, bad)
    }
  })
})
