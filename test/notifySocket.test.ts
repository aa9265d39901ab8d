/**
 * The live notify socket, end to end with real senders in a temporary
 * directory: systemd's own `systemd-notify`, Python's standard library,
 * descriptors sent along, oversized datagrams and a flood; and the
 * simulated socket the test kit will use.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Scope, Stream } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NotifySocketLinux from "../src/layers/NotifySocketLinux.ts"
import * as NotifySocketSimulated from "../src/layers/NotifySocketSimulated.ts"
import { type Notification, NotifySocket, type NotifySocketError } from "../src/services/NotifySocket.ts"
import { NODE, REPO, waitFor } from "./e2e/harness.ts"

const linux = process.platform === "linux"
const asRoot = process.getuid?.() === 0
const temp = () => fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-notify-"))
const openDescriptors = () => fs.readdirSync("/proc/self/fd").length

interface Opened {
  readonly address: string
  readonly received: Array<Notification>
  /** Starts consuming (done at once unless `consume: false`). */
  readonly consume: () => void
  readonly close: () => Promise<void>
}

// The live layer built in a scope of its own; what it delivers is collected.
const open = async (options: NotifySocketLinux.Options, { consume = true } = {}): Promise<Opened> => {
  const scope = await Effect.runPromise(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(NotifySocketLinux.layer(options), scope))
  const notify = Context.get(context, NotifySocket)
  const received: Array<Notification> = []
  const start = () => {
    Effect.runFork(Stream.runForEach(notify.notifications(() => true), (n) => Effect.sync(() => received.push(n))))
  }
  if (consume) start()
  return {
    address: Option.getOrThrow(notify.address),
    received,
    consume: start,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const openFailure = (options: NotifySocketLinux.Options): Promise<NotifySocketError> =>
  Effect.runPromise(Effect.flip(Effect.scoped(Layer.build(NotifySocketLinux.layer(options)))))

interface Sender {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly exited: Promise<number | null>
}

const started: Array<Sender> = []

// A process of its own group (as a service is), its output collected.
const run = (command: string, args: ReadonlyArray<string>, env: Record<string, string>, cwd?: string): Sender => {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["pipe", "pipe", "inherit"],
    ...(cwd === undefined ? {} : { cwd })
  })
  let stdout = ""
  child.stdout?.on("data", (chunk) => (stdout += String(chunk)))
  // "close": exited, and its pipes closed (they count among this process's descriptors).
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  const sender = { child, stdout: () => stdout, exited }
  started.push(sender)
  return sender
}

// The system's own (a user's pyenv shim may not run as another user).
const PYTHON = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3"
const python = (code: string, address: string, ...args: Array<string>) =>
  run(PYTHON, ["-c", code, ...args], { NOTIFY_SOCKET: address })

// Kills every process a test started (each leads its group), and waits until they are gone.
const killAll = async () => {
  const senders = started.splice(0)
  for (const { child } of senders) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL")
      } catch {
        // gone meanwhile
      }
    }
  }
  await Promise.all(senders.map((sender) => sender.exited))
}

const withSocket = async (options: Partial<NotifySocketLinux.Options>, body: (socket: Opened) => Promise<void>) => {
  const dir = temp()
  const socket = await open({ path: path.join(dir, "run", "notify"), ...options })
  try {
    await body(socket)
  } finally {
    await killAll()
    await socket.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const fieldsOf = (n: Notification) => Object.fromEntries(n.fields)
const arrived = (socket: Opened, key: string, value: string) => () =>
  socket.received.find((n) => n.fields.get(key) === value)

// Sends its argument, then lives until its stdin closes.
const SEND_AND_WAIT = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(sys.argv[1].encode(), os.environ["NOTIFY_SOCKET"])
sys.stdin.read()
`
// Sends its argument and exits.
const SEND = `
import os, socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.argv[1].encode(), os.environ["NOTIFY_SOCKET"])
`

describe.skipIf(!linux)("the live notify socket (Linux)", () => {
  it("systemd-notify --ready exits 0 at once (its barrier's descriptor closed), its READY=1 from its service's group", {
    timeout: 20_000
  }, async () => {
    await withSocket({}, async (socket) => {
      const before = openDescriptors()
      const script = run("sh", ["-c", "systemd-notify --ready --status='up and serving'; echo $?"], {
        NOTIFY_SOCKET: socket.address
      })
      await script.exited
      // Left open, the barrier makes it wait 5 s, then exit 1.
      assert.strictEqual(script.stdout().trim(), "0", "systemd-notify's exit code")
      const ready = await waitFor(arrived(socket, "READY", "1"))
      const barrier = await waitFor(arrived(socket, "BARRIER", "1"))
      assert.deepStrictEqual(fieldsOf(ready), { READY: "1", STATUS: "up and serving" })
      // Root's systemd-notify speaks for its parent (the service); a user's for itself.
      assert.include([script.child.pid, barrier.pid], ready.pid)
      assert.strictEqual(ready.pgid, script.child.pid)
      assert.strictEqual(ready.uid, process.getuid?.())
      assert.strictEqual(openDescriptors(), before)
    })
  })

  it("a Python sender's datagram arrives with its pid and group", { timeout: 10_000 }, async () => {
    await withSocket({}, async (socket) => {
      const sender = python(SEND_AND_WAIT, socket.address, "READY=1\nSTATUS=from python")
      const ready = await waitFor(arrived(socket, "STATUS", "from python"))
      assert.strictEqual(ready.pid, sender.child.pid)
      assert.strictEqual(ready.pgid, sender.child.pid)
      assert.strictEqual(ready.gid, process.getgid?.())
    })
  })

  it("closes every descriptor that comes with a datagram, those beyond its room included (that message is ignored)", {
    timeout: 10_000
  }, async () => {
    await withSocket({}, async (socket) => {
      const before = openDescriptors()
      // The write ends go to the daemon; when it has closed them all, the
      // read ends see the end of their pipes.
      const sender = python(
        `
import array, os, select, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
address = os.environ["NOTIFY_SOCKET"]
pipes = [os.pipe() for _ in range(21)]
rights = lambda fds: [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
s.sendmsg([b"BARRIER=1"], rights([pipes[0][1]]), 0, address)
s.sendmsg([b"TOO_MANY=1"], rights([w for r, w in pipes[1:]]), 0, address)
s.sendto(b"AFTER=1", address)
for r, w in pipes: os.close(w)
poller = select.poll()
for r, w in pipes: poller.register(r, select.POLLIN)
hung = set()
while len(hung) < len(pipes):
    events = poller.poll(5000)
    if not events: break
    for fd, event in events:
        hung.add(fd); poller.unregister(fd)
print(len(hung), flush=True)
`,
        socket.address
      )
      await waitFor(arrived(socket, "AFTER", "1"))
      assert.strictEqual(await sender.exited, 0)
      assert.strictEqual(sender.stdout().trim(), "21")
      assert.deepStrictEqual(socket.received.map(fieldsOf), [{ BARRIER: "1" }, { AFTER: "1" }])
      assert.strictEqual(openDescriptors(), before)
    })
  })

  it("ignores a datagram longer than 4096 bytes (cut by the kernel) or holding a NUL, and receives on", {
    timeout: 10_000
  }, async () => {
    await withSocket({}, async (socket) => {
      python(
        `
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
address = os.environ["NOTIFY_SOCKET"]
s.sendto(b"STATUS=" + b"x" * (4096 - 7), address)
s.sendto(b"STATUS=" + b"y" * (4097 - 7), address)
s.sendto(b"STATUS=" + b"z" * 200000, address)
s.sendto(b"READY=1\\0", address)
s.sendto(b"STATUS=after", address)
`,
        socket.address
      )
      await waitFor(arrived(socket, "STATUS", "after"))
      assert.deepStrictEqual(socket.received.map((n) => (n.fields.get("STATUS") ?? "").slice(0, 5)), ["xxxxx", "after"])
      assert.strictEqual(socket.received[0]?.fields.get("STATUS")?.length, 4096 - 7)
    })
  })

  it("a burst of 10,000 datagrams leaves it well: no descriptor kept, memory bounded, and it receives on", {
    timeout: 60_000
  }, async () => {
    await withSocket({}, async (socket) => {
      const before = openDescriptors()
      const rssBefore = process.memoryUsage().rss
      const flood = python(
        `
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
address = os.environ["NOTIFY_SOCKET"]
for i in range(10000): s.sendto(b"WATCHDOG=1\\nN=%d" % i, address)
`,
        socket.address
      )
      assert.strictEqual(await flood.exited, 0)
      await waitFor(arrived(socket, "N", "9999"), { timeout: 20_000 })
      assert.strictEqual(await python(SEND, socket.address, "READY=1\nSTATUS=after the flood").exited, 0)
      await waitFor(arrived(socket, "STATUS", "after the flood"))
      assert.isAtMost(socket.received.length, 10_001)
      assert.strictEqual(openDescriptors(), before)
      assert.isBelow(process.memoryUsage().rss - rssBefore, 64 * 1024 * 1024)
    })
  })

  it("keeps at most its capacity for a consumer that does not keep up: the newest", { timeout: 60_000 }, async () => {
    const dir = temp()
    const socket = await open({ path: path.join(dir, "notify"), capacity: 16 }, { consume: false })
    try {
      const flood = python(
        `
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for i in range(10000): s.sendto(b"N=%d" % i, os.environ["NOTIFY_SOCKET"])
`,
        socket.address
      )
      assert.strictEqual(await flood.exited, 0)
      socket.consume()
      await waitFor(arrived(socket, "N", "9999"), { timeout: 20_000 })
      // The capacity, and what the kernel still held (its queue of about ten) when consuming began.
      assert.isAtMost(socket.received.length, 16 + 16)
    } finally {
      await killAll()
      await socket.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a flood from senders the consumer refuses takes no room: a READY=1 queued before it reaches a consumer that lags", {
    timeout: 60_000
  }, async () => {
    const dir = temp()
    const scope = await Effect.runPromise(Scope.make())
    try {
      const context = await Effect.runPromise(
        Layer.buildWithScope(NotifySocketLinux.layer({ path: path.join(dir, "notify"), capacity: 16 }), scope)
      )
      const notify = Context.get(context, NotifySocket)
      const address = Option.getOrThrow(notify.address)
      let service: number | undefined
      let release = () => {}
      const released = new Promise<void>((resolve) => (release = resolve))
      const received: Array<Notification> = []
      // Held up by the first message until released: everything after it waits in the queue.
      Effect.runFork(Stream.runForEach(
        notify.notifications((sender) => sender.pgid === service),
        (n) => Effect.promise(() => n.fields.has("FIRST") ? released : Promise.resolve()).pipe(Effect.map(() => received.push(n)))
      ))
      // The service: FIRST=1, then READY=1 once told, then waits.
      const sender = python(
        `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"FIRST=1", os.environ["NOTIFY_SOCKET"])
sys.stdin.readline()
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
print("sent", flush=True)
sys.stdin.read()
`,
        address
      )
      service = sender.child.pid
      await new Promise((resolve) => setTimeout(resolve, 300)) // FIRST=1 taken, the consumer held
      sender.child.stdin?.write("go\n")
      await waitFor(() => sender.stdout().includes("sent"), { message: "READY=1 sent" })
      const flood = python(
        `
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for i in range(10000): s.sendto(b"READY=1\\nN=%d" % i, os.environ["NOTIFY_SOCKET"])
`,
        address
      )
      assert.strictEqual(await flood.exited, 0)
      release()
      await waitFor(() => received.some((n) => n.fields.get("READY") === "1"), { message: "the service's READY=1", timeout: 5_000 })
      assert.deepStrictEqual(received.map(fieldsOf), [{ FIRST: "1" }, { READY: "1" }])
    } finally {
      await killAll()
      await Effect.runPromise(Scope.close(scope, Exit.void))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it.skipIf(!asRoot)("another user cannot send: the socket's directory is the user's only", { timeout: 10_000 }, async () => {
    await withSocket({}, async (socket) => {
      const stranger = run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", PYTHON, "-c", `
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"]); print("sent")
except OSError as e:
    print(e.errno)
`], { NOTIFY_SOCKET: socket.address })
      assert.strictEqual(await stranger.exited, 0)
      assert.strictEqual(stranger.stdout().trim(), String(os.constants.errno.EACCES))
      assert.strictEqual(fs.statSync(path.dirname(socket.address)).mode & 0o777, 0o700)
    })
  })

  it("replaces a socket left by a crashed daemon, and refuses what it must not touch", async () => {
    const dir = temp()
    try {
      // A socket left behind: bound, never removed.
      const left = path.join(dir, "left", "notify")
      fs.mkdirSync(path.dirname(left), { mode: 0o700 })
      const leaver = run(PYTHON, ["-c", "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])", left], {})
      assert.strictEqual(await leaver.exited, 0)
      assert.isTrue(fs.statSync(left).isSocket())
      const socket = await open({ path: left })
      python(SEND, socket.address, "READY=1")
      await waitFor(arrived(socket, "READY", "1"))
      await killAll()
      await socket.close()
      assert.isFalse(fs.existsSync(left), "removed at release")

      const open0750 = path.join(dir, "shared")
      fs.mkdirSync(open0750, { mode: 0o750 })
      fs.chmodSync(open0750, 0o750)
      assert.include((await openFailure({ path: path.join(open0750, "notify") })).message, "is refused: it is open to others (mode 0750)")
      assert.deepStrictEqual(fs.readdirSync(open0750), [])

      const file = path.join(dir, "left", "not-a-socket")
      fs.writeFileSync(file, "mine")
      assert.include((await openFailure({ path: file })).message, "not a socket is in the way")
      assert.strictEqual(fs.readFileSync(file, "utf8"), "mine")

      const long = path.join(dir, "x".repeat(120), "notify")
      assert.include((await openFailure({ path: long })).message, "longer than a socket's 107 bytes")
    } finally {
      await killAll()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("released, it leaves nothing behind: the socket file removed, the process free to end on its own", {
    timeout: 20_000
  }, async () => {
    const dir = temp()
    const socketPath = path.join(dir, "notify")
    // No process.exit: the process ends only when nothing is left on its event loop.
    const daemon = run(NODE, ["--input-type=module", "-e", `
import { Context, Effect, Exit, Layer, Option, Scope, Stream } from "effect"
import * as NotifySocketLinux from "./src/layers/NotifySocketLinux.ts"
import { NotifySocket } from "./src/services/NotifySocket.ts"
const scope = await Effect.runPromise(Scope.make())
const context = await Effect.runPromise(Layer.buildWithScope(NotifySocketLinux.layer({ path: process.argv[1] }), scope))
const first = await Effect.runPromise(Stream.runHead(Context.get(context, NotifySocket).notifications(() => true)))
console.log(Option.getOrThrow(first).fields.get("READY"))
await Effect.runPromise(Scope.close(scope, Exit.void))
`, socketPath], {}, REPO)
    try {
      await waitFor(() => fs.existsSync(socketPath), { timeout: 10_000, message: "the socket bound" })
      python(SEND, socketPath, "READY=1")
      const code = await Promise.race([daemon.exited, new Promise((resolve) => setTimeout(resolve, 10_000, "still running"))])
      assert.strictEqual(code, 0)
      assert.strictEqual(daemon.stdout().trim(), "1")
      assert.isFalse(fs.existsSync(socketPath))
    } finally {
      await killAll()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("the simulated notify socket", () => {
  it.effect("delivers what the test sends, parsed as the live socket parses it", () =>
    Effect.gen(function*() {
      const notify = yield* NotifySocket
      const simulation = yield* NotifySocketSimulated.NotifySimulation
      yield* simulation.send({ pid: 4242 }, "READY=1\nSTATUS=serving")
      yield* simulation.send({ pid: 4243 }, "READY=1\0")
      yield* simulation.send({ pid: 4244, pgid: 4242, uid: 1000, gid: 1000 }, "STOPPING=1")
      const received = yield* Stream.runCollect(Stream.take(notify.notifications(() => true), 2))
      assert.deepStrictEqual(notify.address, Option.some("/run/cronmon/notify"))
      assert.deepStrictEqual(received.map((n) => [n.pid, n.pgid, n.uid, fieldsOf(n)]), [
        [4242, 4242, process.getuid?.(), { READY: "1", STATUS: "serving" }],
        [4244, 4242, 1000, { STOPPING: "1" }]
      ])
    }).pipe(Effect.provide(NotifySocketSimulated.layer())))
})
