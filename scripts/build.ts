/**
 * Bundles the CLI into one file, `dist/cronmon.js`: the daemon starts every
 * minute from cron, and one bundled module loads several times faster than
 * Effect's module graph file by file.
 */
import { build } from "esbuild"
import { chmodSync, readFileSync } from "node:fs"

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }

await build({
  entryPoints: ["src/cli.ts"],
  outfile: "dist/cronmon.js",
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
