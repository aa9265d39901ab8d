import { describe, expect, it } from "vitest"
import * as fs from "node:fs"

const read = (file: string) => fs.readFileSync(new URL(`../${file}`, import.meta.url), "utf8")

// The README quotes these files whole; CI runs or type-checks them, so the
// README's code is code that works.
describe("README", () => {
  it.each(["examples/supervision.test.ts", "examples/embed.ts", "examples/policy.ts"])("quotes %s as it is", (file) => {
    expect(read("README.md")).toContain("```ts\n" + read(file) + "```\n")
  })
})
