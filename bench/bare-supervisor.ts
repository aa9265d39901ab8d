/**
 * The benchmark's bare Node supervisor, the baseline of cronmon's start-up
 * and restart figures: every file of a directory spawned as cronmon spawns
 * a service (through `setpriv --pdeathsig SIGTERM --` when it is there, its
 * own process group, one output pipe: stdout, read and dropped; stderr to
 * /dev/null, as plain Node cannot give one pipe to both), respawned the
 * moment it exits. No journal, no backoff, no logs. Says `NAME: started, pid
 * N` on stderr for each spawn, as the daemon's human log does.
 *
 * Usage: `node bench/bare-supervisor.ts DIR [SETPRIV]`; the harness runs it
 * as plain JavaScript (see `bareSupervisor` in ./run.ts).
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const [dir = ".", setpriv] = process.argv.slice(2)
const children = new Set<number>()
const run = (file: string): void => {
  const [command, args] = setpriv === undefined ? [file, []] : [setpriv, ["--pdeathsig", "SIGTERM", "--", file]]
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "ignore"], detached: true })
  child.stdout?.resume()
  if (child.pid !== undefined) children.add(child.pid)
  child.on("spawn", () => process.stderr.write(`${new Date().toISOString()} ${path.basename(file)}: started, pid ${child.pid}\n`))
  child.on("exit", () => {
    if (child.pid !== undefined) children.delete(child.pid)
    run(file)
  })
}
for (const name of fs.readdirSync(dir).sort()) run(path.join(dir, name))
process.on("SIGTERM", () => {
  for (const pid of children) {
    try {
      process.kill(-pid, "SIGKILL")
    } catch {
      // gone
    }
  }
  process.exit(0)
})
