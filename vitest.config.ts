import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The VM suite boots QEMU machines: `npm run test:vm` (vitest.vm.config.ts).
    exclude: [...configDefaults.exclude, "test/vm/**"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tunnel tests share the host's namespace list; files run in separate
    // forks, two at a time on the two-core CI machine.
    pool: "forks",
    // Commands run in-process commit through git, which reads its identity
    // from the process environment: the same test identity spawned runs get.
    env: {
      GIT_AUTHOR_NAME: "Test",
      GIT_AUTHOR_EMAIL: "test@example.org",
      GIT_COMMITTER_NAME: "Test",
      GIT_COMMITTER_EMAIL: "test@example.org",
      NO_COLOR: "1",
    },
  },
});
