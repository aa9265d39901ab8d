import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const ROOT = path.resolve(import.meta.dirname, "..")
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8")

/** The README, the architecture page and the reference pages the README links to. */
const PAGES = ["README.md", "ARCHITECTURE.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)]

/** A heading's anchor, as Markdown renderers make it: `## Reading it: \`x\`` → `reading-it-x`. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} -]/gu, "").replaceAll(" ", "-")

const anchorsOf = (file: string) =>
  new Set([...read(file).matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchor(match[1] ?? "")))

// The library's page quotes these files whole; CI runs or type-checks them,
// so the code it shows is code that works.
describe("docs/library.md", () => {
  it.each(["examples/supervision.test.ts", "examples/embed.ts", "examples/policy.ts", "examples/remote.ts", "examples/control.test.ts"])("quotes %s as it is", (file) => {
    expect(read("docs/library.md")).toContain("```ts\n" + read(file) + "```\n")
  })
})

describe("README and docs", () => {
  it("the README's test command is the one CI runs", () => {
    expect(read("README.md")).toContain("`npm ci && npm test`")
    expect(read(".ci/run")).toMatch(/^npm ci\b.*\nnpm test$/m)
  })

  it.each(PAGES)("%s: every relative link leads to a file, and to a heading when it names one", (page) => {
    const links = [...read(page).matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1] ?? "")
    for (const link of links.filter((target) => !/^[a-z]+:/.test(target))) {
      const [target = "", fragment] = link.split("#")
      const file = target === "" ? page : path.join(path.dirname(page), target)
      expect(fs.existsSync(path.join(ROOT, file)), `${page} links to ${link}`).toBe(true)
      if (fragment !== undefined) expect(anchorsOf(file).has(fragment), `${page} links to ${link}`).toBe(true)
    }
  })

  it.each(PAGES)("%s: the examples, sources and npm scripts it names exist", (page) => {
    const text = read(page)
    for (const [file] of text.matchAll(/\b(?:examples|src)\/[\w./-]+\.ts\b/g)) {
      expect(fs.existsSync(path.join(ROOT, file)), `${page} names ${file}`).toBe(true)
    }
    const { scripts } = JSON.parse(read("package.json")) as { readonly scripts: Record<string, string> }
    for (const [, run, short] of text.matchAll(/\bnpm (?:run (?:--silent )?([\w:-]+)|(test|start)\b)/g)) {
      expect(Object.keys(scripts), `${page} runs npm ${run ?? short}`).toContain(run ?? short)
    }
  })
})
