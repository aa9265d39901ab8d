/**
 * Builds `dist/`:
 * - the CLI, bundled: `cronmon.js`, the entry, which answers a cron tick on
 *   its own, and the chunk of the CLI it loads otherwise. One bundled module
 *   loads several times faster than Effect's module graph file by file.
 * - the library, `dist/lib`: one compiled module per source module with its
 *   `.d.ts`, for `import ... from "cronmon"` and `"cronmon/testing"`. The CLI
 *   never loads it.
 */
import { build, type Plugin } from "esbuild"
import { execFileSync } from "node:child_process"
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }

// Node's own modules are loaded through `require` (each chunk makes one,
// below). Imported as ES modules, Node gives each a namespace of every
// export, which runs every lazy getter of the module (`fs.promises`,
// `util.parseArgs`, …) and loads what it names: the daemon loaded 20
// modules more, 2 MiB. Some are loaded on first use only: the socket
// library imports tls for options cronmon never passes, OpenSSL costs 5 MiB
// resident from the moment tls or crypto loads, and merely looking at
// util's exports loads worker_threads, parseArgs and more.
const LAZY_BUILTINS = new Set(["node:tls", "node:crypto", "node:util"])
const require = createRequire(import.meta.url)

// A module that stands for `name` and loads it when one of its exports is
// first read; its export names are listed without loading it (as the
// building Node has them), so that importing it loads nothing.
const lazyModule = (name: string): string => {
  const exported = Object.keys(require(name))
  return `let loaded
const load = () => (loaded ??= require(${JSON.stringify(name)}))
const names = ${JSON.stringify(exported)}
module.exports = new Proxy({}, {
  get: (_, key) => key === "__esModule" ? undefined : load()[key],
  has: (_, key) => names.includes(key),
  ownKeys: () => names,
  getOwnPropertyDescriptor: (_, key) => names.includes(key) ? { configurable: true, enumerable: true, get: () => load()[key] } : undefined
})
`
}

const builtinsByRequire: Plugin = {
  name: "builtins-by-require",
  setup(context) {
    // One stand-in per importer, so that it lands in its importer's chunk
    // (a stand-in shared by two chunks would be a chunk of its own, one
    // more file for the cron tick to load).
    context.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === "import-statement" || args.kind === "dynamic-import"
        ? { path: args.path, namespace: "builtin", suffix: `?${path.relative(".", args.importer)}` }
        : undefined)
    context.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: LAZY_BUILTINS.has(args.path) ? lazyModule(args.path) : `module.exports = require(${JSON.stringify(args.path)})`,
      loader: "js"
    }))
  }
}

// Chunk names carry a hash: clear the old ones.
rmSync("dist", { recursive: true, force: true })

const bundled = await build({
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
  // The daemon's chunk is 1.33 MB instead of 1.69, whose source V8 keeps
  // for lazy compiling (about 0.5 MiB resident). It drops esbuild's
  // `// src/…` markers: the modules of each chunk are in CHUNK_MODULES.
  minifyWhitespace: true,
  metafile: true,
  // A native addon: loaded from node_modules at run time.
  external: ["koffi"],
  define: { CRONMON_VERSION: JSON.stringify(version) },
  banner: {
    js: `#!/usr/bin/env node\nimport { createRequire as createRequireForBuiltins } from "node:module";\nconst require = createRequireForBuiltins(import.meta.url);`
  },
  plugins: [builtinsByRequire],
  logLevel: "warning"
})

chmodSync("dist/cronmon.js", 0o755)

// Which of cronmon's and its dependencies' modules each file of the bundle
// holds, for the tests that check what the cron tick loads. Beside the
// dependencies, not in dist/: the package does not ship it.
const CHUNK_MODULES = "node_modules/.cache/cronmon/chunk-modules.json"
mkdirSync(path.dirname(CHUNK_MODULES), { recursive: true })
writeFileSync(CHUNK_MODULES, JSON.stringify(Object.fromEntries(
  Object.entries(bundled.metafile.outputs).map(([file, output]) => [
    path.basename(file),
    Object.keys(output.inputs).filter((input) => /^(src|node_modules)\//.test(input))
  ])
)))

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
