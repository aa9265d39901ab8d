/**
 * Builds `dist/`:
 * - the CLI, bundled: `cronmon.js`, the entry, which answers a cron tick on
 *   its own, and the chunk of the CLI it loads otherwise. One bundled module
 *   loads several times faster than Effect's module graph file by file.
 * - the library, `dist/lib`: one compiled module per source module with its
 *   `.d.ts`, for `import ... from "cronmon"` and `"cronmon/testing"`. The CLI
 *   never loads it.
 */
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }

// Chunk names carry a hash: clear the old ones.
rmSync("dist", { recursive: true, force: true })

await build({
  // The entry answers a cron tick alone; the CLI is a chunk it loads only
  // when it has to.
  entryPoints: { cronmon: "src/bin.ts" },
  outdir: "dist",
  chunkNames: "cronmon-[name]-[hash]",
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  minifySyntax: true,
  // A native addon: loaded from node_modules at run time.
  external: ["koffi"],
  define: { CRONMON_VERSION: JSON.stringify(version) },
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning"
})

chmodSync("dist/cronmon.js", 0o755)

// The library: tsc emits JavaScript (relative imports rewritten from .ts to
// .js) and declarations, whose relative imports it leaves as .ts: point those
// at the emitted .js too, so that any consumer's TypeScript resolves them.
const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin/tsc")
execFileSync(process.execPath, [tsc, "-p", "tsconfig.lib.json"], { stdio: "inherit" })
const RELATIVE_TS_IMPORT = /(from\s+|import\()(["'])(\.{1,2}\/[^"']*)\.ts\2/g
for (const entry of readdirSync("dist/lib", { recursive: true, encoding: "utf8" })) {
  if (!entry.endsWith(".d.ts")) continue
  const file = path.join("dist/lib", entry)
  const text = readFileSync(file, "utf8")
  const rewritten = text.replace(RELATIVE_TS_IMPORT, "$1$2$3.js$2")
  if (rewritten !== text) writeFileSync(file, rewritten)
}
