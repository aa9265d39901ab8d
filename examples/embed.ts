// Keeps every executable of ./services running for as long as this program
// runs; Ctrl-C stops the services, writes `monitor quit` and exits.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cronmon } from "cronmon"
import { Layer } from "effect"

const daemon = Cronmon.layer({
  scripts: "./services",
  journal: "./journal.json",
  logs: "./logs",
  stopTimeout: "5 seconds",
  restartDelays: ["1 second", "30 seconds"],
  stableRun: "5 minutes",
  echo: (line) => console.error(line)
})

NodeRuntime.runMain(Layer.launch(daemon))
