// An Effect app that embeds cronmon and serves its state and metrics:
//   GET /services  the services supervised, and each one's counts
//   GET /metrics   every Effect metric, cronmon's included, for Prometheus
// Run it (services in ./services, journal and logs beside them):
//   npm run build && node examples/http-server.ts 8080
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cronmon, Metrics, ProcessSupervisor } from "cronmon"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import * as http from "node:http"

const servicesRoute = HttpRouter.add(
  "GET",
  "/services",
  Effect.gen(function*() {
    const supervisor = yield* ProcessSupervisor
    return yield* HttpServerResponse.json({
      supervised: yield* supervisor.supervised,
      services: yield* Metrics.byService
    })
  })
)

/** The app: cronmon supervising, and the HTTP server on `port` (0: any free port). */
export const app = (options: { readonly port: number; readonly cronmon: Cronmon.Options }) =>
  HttpRouter.serve(Layer.mergeAll(servicesRoute, PrometheusMetrics.layerHttp()), {
    disableLogger: true,
    disableListenLog: true
  }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: options.port })),
    Layer.provideMerge(Cronmon.layer(options.cronmon))
  )

if (import.meta.main) {
  const port = Number(process.argv[2] ?? 8080)
  const main = app({
    port,
    cronmon: { scripts: "./services", journal: "./journal.json", logs: "./logs", echo: (line) => console.error(line) }
  })
  NodeRuntime.runMain(Layer.launch(main))
}
