#!/usr/bin/env bash
# Proves the published package works as docs/library.md says, as a new user
# would find it: `npm pack`, install the tarball into an empty project (its
# dependencies from the registry), run the installed `cronmon --version`, then
# type-check and run there examples/policy.ts as the package ships it (the
# test kit under TestClock, as the docs show) and scripts/pack-check/program.ts
# (the live daemon embedded for a moment).
# Expects a fresh `npm run build` (npm test does one); Node 24 on PATH.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
work="$(mktemp -d "${TMPDIR:-/tmp}/cronmon-pack-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT

[ -f dist/lib/index.js ] && [ -f dist/cronmon.js ] || npm run --silent build
# --ignore-scripts: dist/ is built already.
tarball="$work/$(npm pack --silent --ignore-scripts --pack-destination "$work" | tail -n 1)"
echo "pack-check: $(basename "$tarball"), $(du -k "$tarball" | cut -f1) kB"

app="$work/app"
mkdir "$app"
cd "$app"
printf '{ "name": "pack-check-app", "private": true, "type": "module" }\n' > package.json
npm install --silent --no-audit --no-fund "$tarball"

version="$(node -p 'require("cronmon/package.json").version')"
got="$(node_modules/.bin/cronmon --version)"
[ "$got" = "cronmon v$version" ] || { echo "pack-check: cronmon --version said '$got'" >&2; exit 1; }
echo "pack-check: installed cronmon --version: $got"

# From the installed package: the examples the docs cite ship with it.
cp node_modules/cronmon/examples/policy.ts policy.ts
cp "$repo/scripts/pack-check/program.ts" program.ts
# The user's compiler settings: strict, Node's module resolution, and no
# skipping of the packages' declarations, so that cronmon's are checked too
# (Effect's name the DOM's CryptoKey, hence "dom"). The repository's
# TypeScript and Node types stand in for the user's.
cat > tsconfig.json <<JSON
{
  "compilerOptions": {
    "target": "es2023",
    "lib": ["es2023", "dom"],
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "noUncheckedIndexedAccess": true,
    "allowImportingTsExtensions": true,
    "noEmit": true,
    "skipLibCheck": false,
    "typeRoots": ["$repo/node_modules/@types"],
    "types": ["node"]
  },
  "files": ["policy.ts", "program.ts"]
}
JSON
"$repo/node_modules/.bin/tsc" -p tsconfig.json
echo "pack-check: policy.ts and program.ts type-check against the installed declarations"
timeout 60 node policy.ts
timeout 60 node program.ts
