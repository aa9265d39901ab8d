// Restarts a service of a daemon running in another process, through its
// control socket, then reads its status: `Control` over `ControlClient`,
// the same calls as on the daemon's own `Control`.
// Run it against a running daemon (its journal, and a service's name):
//   npm run build && node examples/remote.ts ~/.config/cronmon/journal.json web
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Control, ControlClient } from "cronmon"
import { Console, Effect } from "effect"

/** Restarts `name`; returns its new pid and resident memory (bytes). */
export const restart = (name: string) =>
  Effect.gen(function*() {
    const control = yield* Control
    // Returns once the new instance runs.
    const { pid } = yield* control.restart(name)
    const { services } = yield* control.status
    const memory = services.find((service) => service.name === name)?.memory ?? null
    return { pid, memory }
  })

if (import.meta.main) {
  const [journal = "", name = ""] = process.argv.slice(2)
  const program = restart(name).pipe(
    Effect.flatMap(({ pid, memory }) => Console.log(`${name}: restarted, pid ${pid}, ${memory} bytes resident`)),
    // Every failure is typed: NoDaemon, PermissionDenied, NoSuchService, ActionFailed, …
    Effect.catch((error) => Console.error(`${error._tag}: ${JSON.stringify(error)}`)),
    Effect.provide(ControlClient.layer(journal))
  )
  NodeRuntime.runMain(program)
}
