/**
 * age for wgqt: recipients and identities the age 1.1 CLI on hosts can use
 * (X25519, ssh-ed25519, ssh-rsa), in-memory encryption, and header inspection.
 * Concrete recipient and identity classes stay internal; parse functions
 * return them behind interfaces.
 */

export { decryptWith, encryptTo } from "./crypt.js";
export {
  type AgeHeader,
  type HeaderStanza,
  readHeader,
  readHeaderStanzas,
  type StanzaArgs,
  writeHeader,
} from "./header.js";
export { type LoadedIdentity, parseIdentities } from "./identity.js";
export {
  type ParsedRecipient,
  parseRecipient,
  type RecipientKind,
  recipientMatchesStanza,
} from "./recipients.js";
export { parseSshIdentity, parseSshPublicKey, type SshIdentity } from "./ssh.js";
export {
  type SshKeyType,
  type SshPublicKey,
  sshKeyTag,
} from "./ssh-public-key.js";
