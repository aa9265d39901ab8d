/**
 * Signal names as users write them to `cronmon kill -s`: `TERM`, `SIGTERM`,
 * `term` or `15`.
 *
 * @since 0.1.0
 */
import { constants } from "node:os"

const isSignalName = (name: string): name is NodeJS.Signals => Object.hasOwn(constants.signals, name)

// The first name of each number (SIGABRT before its alias SIGIOT).
const BY_NUMBER = new Map<number, NodeJS.Signals>()
for (const [name, number] of Object.entries(constants.signals)) {
  if (isSignalName(name) && !BY_NUMBER.has(number)) BY_NUMBER.set(number, name)
}

/**
 * The signal `text` names on this machine, as `SIGNAME`, or `undefined`.
 *
 * @example
 * ```ts
 * signalNamed("hup") // "SIGHUP"
 * signalNamed("9")   // "SIGKILL"
 * signalNamed("FOO") // undefined
 * ```
 * @since 0.1.0
 */
export const signalNamed = (text: string): NodeJS.Signals | undefined => {
  if (/^\d+$/.test(text)) return BY_NUMBER.get(Number(text))
  const upper = text.toUpperCase()
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`
  return isSignalName(name) ? name : undefined
}

/**
 * What the CLI says of a value that names no signal.
 *
 * @since 0.1.0
 */
export const signalRefusal = (text: string): string => `not a signal: ${text} (use TERM, HUP, KILL, 9)`
