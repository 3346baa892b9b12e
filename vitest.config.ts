import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/support/plain-summary-reporter.ts"],
    // llvmpipe compiles large shaders in hundreds of milliseconds and runs on two cores in CI.
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
