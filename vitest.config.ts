import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tunnel tests share the host's namespace list; files run in separate
    // forks, two at a time on the two-core CI machine.
    pool: "forks",
  },
});
