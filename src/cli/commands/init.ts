/** `wgqt init`: a starter wgqt.toml and an empty, valid key store. */
import { resolve } from "node:path";
import { CONFIG_FILE } from "../../config/load.js";
import { applyInit, planInit, refuseExisting } from "../../store/init.js";
import { openKeyStore } from "../../store/keystore.js";
import { gitCommitStep } from "../context.js";
import { initWarnings } from "../init-warnings.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { checkRecipientArguments, readRecipientFiles } from "./recipients.js";

interface InitOptions {
  admin?: string[];
  adminFile?: string[];
  keysDir: string;
  commit: boolean;
}

export async function initCommand(
  io: CliIO,
  global: GlobalOptions,
  options: InitOptions,
): Promise<number> {
  const path = resolve(io.cwd, global.config ?? CONFIG_FILE);
  await refuseExisting(path);
  const admins = [
    ...checkRecipientArguments(options.admin ?? [], "--admin"),
    ...(await readRecipientFiles(options.adminFile ?? [], io.cwd, "--admin-file")),
  ];
  const plan = await planInit(path, options.keysDir, admins);
  const { config } = plan;
  for (const warning of await initWarnings(path, admins)) io.stderr(`warning: ${warning}\n`);
  const store = await openKeyStore(config.keysDir);
  if (store.encryptedFiles.size || store.publicKeyFiles.size) {
    io.stderr(`note: ${config.keysDir} already holds keys; they are left as they are\n`);
  }
  await applyInit(store, plan, {
    afterApply: async (files, message) => {
      io.stderr(
        `wrote ${path} and ${config.keysDir}/\nnext: wgqt machine add NAME --recipient-file HOST_KEY.pub, then wgqt keygen\n`,
      );
      await gitCommitStep(io, config, options.commit)(files, message);
    },
  });
  return 0;
}
