/**
 * A raw connection to a control socket, for tests that speak (or fail to
 * speak) its protocol by hand: what it receives, and when the other end
 * closes it.
 */
import * as fs from "node:fs"
import * as net from "node:net"

export const rawClient = (socket: string) => {
  const conn = net.createConnection(socket)
  let received = ""
  conn.setEncoding("utf8").on("data", (chunk: string) => void (received += chunk))
  conn.on("error", () => {})
  const closed = new Promise<void>((resolve) => conn.on("close", () => resolve()))
  return { conn, received: () => received, closed }
}

/** A `status` request of the protocol, as one line. */
export const statusRequest = (id: number): string =>
  `${JSON.stringify({ _tag: "Request", id: String(id), tag: "status", payload: null, headers: [] })}\n`

/** Sends `status` from `count` connections at once; resolves with each one's first line. */
export const statusFromMany = (socket: string, count: number): Promise<Array<string>> =>
  Promise.all(Array.from({ length: count }, (_, i) => {
    const client = rawClient(socket)
    client.conn.write(statusRequest(i))
    return new Promise<string>((resolve) =>
      client.conn.on("data", () => {
        if (!client.received().endsWith("\n")) return
        client.conn.destroy()
        resolve(client.received())
      })
    )
  }))

/**
 * Leaves a socket file at `socket` that nobody listens on, as a daemon that
 * was killed leaves it: bound, then kept aside while the server closes
 * (which removes its file).
 */
export const staleSocket = async (socket: string): Promise<void> => {
  const server = net.createServer().listen(socket)
  await new Promise((resolve) => server.on("listening", resolve))
  fs.renameSync(socket, `${socket}.kept`)
  await new Promise((resolve) => server.close(resolve))
  fs.renameSync(`${socket}.kept`, socket)
}
