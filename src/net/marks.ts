/**
 * The marks of wgqt's interfaces and the connection-mark pair that carries
 * them through reverse-path filtering (routing.ts explains why): the values,
 * and the pair as nft(8) and iptables rules. routing.ts exports all of it.
 */

/** An interface's fwmark is `FWMARK_BASE + key`. */
export const FWMARK_BASE = 0x520000;
/** Covers FWMARK_BASE … FWMARK_BASE + 1023: every wgqt interface's mark. */
export const FWMARK_MASK = 0xfffc00;

/**
 * One half of the connection-mark pair (routing.ts's module comment): where a
 * mark is tested and which one receives FWMARK_BASE in the bits of
 * FWMARK_MASK. `connection` → the conntrack mark (nft `ct mark`,
 * iptables-extensions(8) `connmark`/`CONNMARK`); `packet` → the packet's
 * (nft `meta mark`, `mark`/`MARK`).
 */
export interface MarkRule {
  /** The netfilter hook: postrouting sees what leaves, prerouting what arrives before routing. */
  hook: "prerouting" | "postrouting";
  /** The mark that must carry FWMARK_BASE within FWMARK_MASK. */
  match: "packet" | "connection";
  /** The mark that gets it. */
  set: "packet" | "connection";
}

/**
 * Save the mark of a tunnel's encrypted UDP to its connection, restore it on
 * the replies before the reverse-path check. wg-quick(8) does the same for its
 * own fwmark (`CONNMARK --save-mark` in POSTROUTING, `--restore-mark` in
 * PREROUTING); here only FWMARK_MASK's bits, and only when they are wgqt's.
 */
export const CONNECTION_MARK_RULES: readonly MarkRule[] = [
  { hook: "postrouting", match: "packet", set: "connection" },
  { hook: "prerouting", match: "connection", set: "packet" },
];

/** `0x520064` or `0x520000/0xfffc00`, as iproute2 and wg(8) print marks. */
export function hexMark(mark: number, mask?: number): string {
  const hex = (value: number) => `0x${value.toString(16)}`;
  return mask === undefined ? hex(mark) : `${hex(mark)}/${hex(mask)}`;
}

/** A MarkRule as nft(8) rule text (a `meta l4proto udp` statement and its mangle). */
export function nftMarkRule(rule: MarkRule): string {
  const selector = (mark: MarkRule["match"]) => (mark === "packet" ? "meta mark" : "ct mark");
  const keep = hexMark(~FWMARK_MASK >>> 0);
  return [
    "meta l4proto udp",
    `${selector(rule.match)} & ${hexMark(FWMARK_MASK)} == ${hexMark(FWMARK_BASE)}`,
    `${selector(rule.set)} set ${selector(rule.set)} & ${keep} | ${hexMark(FWMARK_BASE)}`,
  ].join(" ");
}

/**
 * A MarkRule as iptables arguments after the verb (`-A`, `-C`, `-D`, `-I`):
 * table, chain and rule, in iptables-extensions(8) words (`--set-mark
 * value/mask` zeroes the mask's bits, then ORs the value in).
 */
export function iptablesMarkRule(rule: MarkRule): [table: string, chain: string, rule: string] {
  const mark = hexMark(FWMARK_BASE, FWMARK_MASK);
  const match = rule.match === "packet" ? `-m mark --mark ${mark}` : `-m connmark --mark ${mark}`;
  const target =
    rule.set === "packet" ? `-j MARK --set-mark ${mark}` : `-j CONNMARK --set-mark ${mark}`;
  return ["mangle", rule.hook.toUpperCase(), `-p udp ${match} ${target}`];
}

/** The nftables table of CONNECTION_MARK_RULES (`inet`: one table for both families). */
export const NFT_TABLE = "inet wgqt";

/**
 * CONNECTION_MARK_RULES as an nft(8) script that replaces the table
 * atomically (`nft -f`: declaring the table first lets the delete succeed when
 * it does not exist yet). Arriving packets get their mark at `mangle - 1`,
 * ahead of iptables' mangle table and NixOS's rpfilter chain (`mangle + 10`),
 * which both check reverse paths with the mark.
 */
export function nftConnectionMarkScript(): string[] {
  return [
    `table ${NFT_TABLE}`,
    `delete table ${NFT_TABLE}`,
    `table ${NFT_TABLE} {`,
    ...CONNECTION_MARK_RULES.flatMap((rule) => [
      `  chain ${rule.hook} {`,
      `    type filter hook ${rule.hook} priority ${rule.hook === "prerouting" ? "mangle - 1" : "mangle"}; policy accept;`,
      `    ${nftMarkRule(rule)}`,
      "  }",
    ]),
    "}",
  ];
}
