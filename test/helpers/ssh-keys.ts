/** SSH public keys made by hand for tests that need a key ssh-keygen would never make. */

/** An ssh-ed25519 line whose key is the identity point: well formed, of small order, useless. */
export function smallOrderEd25519Key(comment?: string): string {
  const string = (bytes: Uint8Array) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const point = new Uint8Array(32);
  point[0] = 1;
  const wire = Buffer.concat([string(Buffer.from("ssh-ed25519")), string(point)]);
  return `ssh-ed25519 ${wire.toString("base64")}${comment === undefined ? "" : ` ${comment}`}`;
}
