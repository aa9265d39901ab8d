/**
 * The supervisor's Effect `Metric`s, one series per service (attribute
 * `service`): spawns, exits, automatic restarts, spawn errors, and whether
 * the service runs. They live in the Effect `MetricRegistry` of the program
 * that runs cronmon, so the embedding app reads them with `Metric.value`,
 * `Metric.snapshot` or `byService`.
 *
 * @example
 * ```ts
 * import { Metrics } from "cronmon"
 * import { Metric } from "effect"
 *
 * const webSpawns = yield* Metric.value(Metrics.forService(Metrics.spawns, "web")) // { count: 3, ... }
 * ```
 * @since 0.1.0
 */
import { Effect, Metric } from "effect"

/**
 * Processes spawned, per service.
 *
 * @example
 * ```ts
 * const { count } = yield* Metric.value(Metrics.forService(Metrics.spawns, "web"))
 * ```
 * @since 0.1.0
 */
export const spawns: Metric.Counter<number> = Metric.counter("cronmon_spawns_total", {
  description: "Processes spawned",
  incremental: true
})

/**
 * Exits seen (on its own, or stopped), per service.
 *
 * @example
 * ```ts
 * const { count } = yield* Metric.value(Metrics.forService(Metrics.exits, "web"))
 * ```
 * @since 0.1.0
 */
export const exits: Metric.Counter<number> = Metric.counter("cronmon_exits_total", {
  description: "Exits of spawned processes",
  incremental: true
})

/**
 * Automatic restarts after an exit or a spawn error (the backoff's), per
 * service; starts asked for by a file change are not counted.
 *
 * @example
 * ```ts
 * const { count } = yield* Metric.value(Metrics.forService(Metrics.restarts, "web"))
 * ```
 * @since 0.1.0
 */
export const restarts: Metric.Counter<number> = Metric.counter("cronmon_restarts_total", {
  description: "Automatic restarts after an exit or a spawn error",
  incremental: true
})

/**
 * Spawn failures (missing file or interpreter, no permission, …), per service.
 *
 * @example
 * ```ts
 * const { count } = yield* Metric.value(Metrics.forService(Metrics.spawnErrors, "web"))
 * ```
 * @since 0.1.0
 */
export const spawnErrors: Metric.Counter<number> = Metric.counter("cronmon_spawn_errors_total", {
  description: "Spawns that failed",
  incremental: true
})

/**
 * 1 while the service's main process runs, 0 otherwise, per service.
 *
 * @example
 * ```ts
 * const { value } = yield* Metric.value(Metrics.forService(Metrics.running, "web")) // 1
 * ```
 * @since 0.1.0
 */
export const running: Metric.Gauge<number> = Metric.gauge("cronmon_service_running", {
  description: "1 while the service's process runs, else 0"
})

/**
 * The series of `metric` for one service.
 *
 * @example
 * ```ts
 * yield* Metric.update(Metrics.forService(Metrics.spawns, "web"), 1)
 * ```
 * @since 0.1.0
 */
export const forService = <Input, State>(metric: Metric.Metric<Input, State>, service: string): Metric.Metric<Input, State> =>
  Metric.withAttributes(metric, { service })

/**
 * Drops every series of one service from the current `MetricRegistry`: the
 * supervisor does so when it forgets a service (its file gone, nothing
 * asked of it), so that a daemon that sees thousands of names come and go
 * keeps no series of each. A name that comes back counts from zero.
 *
 * @example
 * ```ts
 * yield* Metrics.forget("web")
 * ```
 * @since 0.1.0
 */
export const forget = (service: string): Effect.Effect<void> =>
  Effect.all([
    ...[spawns, exits, restarts, spawnErrors].map((counter) => Metric.remove(forService(counter, service))),
    Metric.remove(forService(running, service))
  ], { discard: true })

/**
 * One service's metrics, read together.
 *
 * @example
 * ```ts
 * const web: Metrics.ServiceMetrics = { service: "web", spawns: 2, exits: 1, restarts: 1, spawnErrors: 0, running: true }
 * ```
 * @since 0.1.0
 */
export interface ServiceMetrics {
  readonly service: string
  readonly spawns: number
  readonly exits: number
  readonly restarts: number
  readonly spawnErrors: number
  readonly running: boolean
}

const fields = {
  [spawns.id]: "spawns",
  [exits.id]: "exits",
  [restarts.id]: "restarts",
  [spawnErrors.id]: "spawnErrors",
  [running.id]: "running"
} as const

/**
 * Every service's metrics as recorded in the current `MetricRegistry`,
 * sorted by name.
 *
 * @example
 * ```ts
 * const table = yield* Metrics.byService
 * // [{ service: "web", spawns: 2, exits: 1, restarts: 1, spawnErrors: 0, running: true }]
 * ```
 * @since 0.1.0
 */
export const byService: Effect.Effect<ReadonlyArray<ServiceMetrics>> = Effect.map(Metric.snapshot, (snapshots) => {
  const table = new Map<string, { -readonly [K in keyof ServiceMetrics]: ServiceMetrics[K] }>()
  for (const snapshot of snapshots) {
    const field = fields[snapshot.id]
    const service = snapshot.attributes?.["service"]
    if (field === undefined || service === undefined) continue
    let row = table.get(service)
    if (row === undefined) {
      row = { service, spawns: 0, exits: 0, restarts: 0, spawnErrors: 0, running: false }
      table.set(service, row)
    }
    if (field === "running") {
      if (snapshot.type === "Gauge") row.running = Number(snapshot.state.value) > 0
    } else if (snapshot.type === "Counter") {
      row[field] = Number(snapshot.state.count)
    }
  }
  return Array.from(table.values()).sort((a, b) => a.service.localeCompare(b.service))
})
