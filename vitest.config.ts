// In this repository `cronmon` and `cronmon/testing` are the sources, so that
// examples/ import the package by name, exactly as a user's code does.
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    alias: {
      "cronmon/testing": fileURLToPath(new URL("src/testing.ts", import.meta.url)),
      cronmon: fileURLToPath(new URL("src/index.ts", import.meta.url))
    }
  }
})
