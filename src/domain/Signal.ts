/**
 * Signal names as users write them: `TERM`, `SIGTERM`, `term`, `15`.
 *
 * @since 0.1.0
 */
import * as os from "node:os"

const SIGNALS: Readonly<Record<string, number>> = os.constants.signals

const isSignal = (name: string): name is NodeJS.Signals => Object.hasOwn(SIGNALS, name)

/**
 * The signal `text` names, with or without `SIG`, in any case, or by its
 * number on this machine; `undefined` for anything else (signal 0 included:
 * it sends nothing).
 *
 * @example
 * ```ts
 * parseSignal("hup") // "SIGHUP"
 * parseSignal("9")   // "SIGKILL"
 * parseSignal("NOPE") // undefined
 * ```
 * @since 0.1.0
 */
export const parseSignal = (text: string): NodeJS.Signals | undefined => {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) {
    const number = Number(trimmed)
    return Object.keys(SIGNALS).filter(isSignal).find((name) => SIGNALS[name] === number)
  }
  const upper = trimmed.toUpperCase()
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`
  return isSignal(name) ? name : undefined
}
