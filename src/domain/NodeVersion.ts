/**
 * The Node version the built CLI needs (`engines` in package.json), checked
 * before anything else is loaded, so that an older Node gets one clear line
 * rather than a failure deep inside a dependency.
 *
 * @since 0.1.0
 */

/**
 * The oldest Node the CLI runs on, `[major, minor]`.
 *
 * @since 0.1.0
 */
export const MINIMUM_NODE: readonly [number, number] = [22, 19]

/**
 * The line to print when `version` (as `process.versions.node` gives it) is
 * older than `MINIMUM_NODE`, else `undefined`.
 *
 * @example
 * ```ts
 * nodeTooOld("20.20.2") // "cronmon: needs Node >= 22.19 (this is 20.20.2)"
 * nodeTooOld("24.1.0") // undefined
 * ```
 * @since 0.1.0
 */
export const nodeTooOld = (version: string): string | undefined => {
  const [major = 0, minor = 0] = version.split(".").map((part) => Number.parseInt(part, 10))
  const [needMajor, needMinor] = MINIMUM_NODE
  const old = major < needMajor || (major === needMajor && minor < needMinor)
  return old ? `cronmon: needs Node >= ${needMajor}.${needMinor} (this is ${version})` : undefined
}
