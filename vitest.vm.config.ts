import { defineConfig } from "vitest/config";

/** `npm run test:vm`: real Debian hosts in QEMU (test/vm), kept out of `npm test`. */
export default defineConfig({
  test: {
    include: ["test/vm/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // Building the image takes about a minute and a half, a TCG boot about a minute.
    testTimeout: 300_000,
    hookTimeout: 900_000,
    pool: "forks",
    // One file at a time: the VMs of one file already share the machine's two cores.
    fileParallelism: false,
    env: { NO_COLOR: "1" },
  },
});
