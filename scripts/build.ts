/**
 * Bundles the CLI into `dist/`: `cronmon.js`, the entry, which answers a cron
 * tick on its own, and the chunk of the CLI it loads otherwise. One bundled
 * module loads several times faster than Effect's module graph file by file.
 */
import { build } from "esbuild"
import { chmodSync, readFileSync, rmSync } from "node:fs"

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
