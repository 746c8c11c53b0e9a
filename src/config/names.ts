/**
 * Name rules shared by the config, the CLI and the store. Names become file
 * names, Nix attribute names and interface names, so they are checked once,
 * here, with messages that say what is allowed.
 */
import { quote } from "../errors.js";

/** RFC 1123 host name label, lowercase: the name of a machine. */
const HOSTNAME_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * Linux interface names are at most 15 bytes (IFNAMSIZ 16 with the NUL) and
 * may not contain '/' or white space; we keep to letters, digits, '-' and '_'
 * so the name is also a clean Nix attribute and systemd unit name (wg-quick(8)
 * would also take '=', '+' and '.'). The config, the planner and the store
 * all check interface names with this rule.
 */
const INTERFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
export const MAX_INTERFACE_NAME = 15;

/** Why `name` is not a valid machine name, or undefined when it is. */
export function machineNameProblem(name: string): string | undefined {
  if (name.length === 0) return "machine name is empty";
  if (name.length > 63) return `machine name is longer than 63 characters: ${quote(name)}`;
  if (/[A-Z]/.test(name) && HOSTNAME_LABEL.test(name.toLowerCase())) {
    return `machine name ${quote(name)} has uppercase letters; machine names are lowercase host names (try ${quote(name.toLowerCase())})`;
  }
  if (!HOSTNAME_LABEL.test(name)) {
    return `machine name ${quote(name)} is not a host name (lowercase letters, digits and '-', not at either end)`;
  }
  return undefined;
}

/** Why `name` is not a valid network (interface) name, or undefined. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length === 0) return "interface name is empty";
  if (!INTERFACE_NAME.test(name)) {
    return `interface name ${quote(name)} may only hold letters, digits, '-' and '_', starting with a letter or digit`;
  }
  if (Buffer.byteLength(name) > MAX_INTERFACE_NAME) {
    return `interface name ${quote(name)} is longer than ${MAX_INTERFACE_NAME} characters`;
  }
  return undefined;
}

/**
 * An uplink is a host's existing interface, not one wgqt names: VLANs
 * (`eth0.100`) are common there, so '.' is allowed as well. It goes into
 * iptables/nft lines and Nix strings, so nothing beyond letters, digits,
 * '-', '_' and '.' is.
 */
const UPLINK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Why `name` is not a valid uplink interface name, or undefined. */
export function uplinkNameProblem(name: string): string | undefined {
  if (name.length === 0) return "interface name is empty";
  if (!UPLINK_NAME.test(name)) {
    return `interface name ${quote(name)} may only hold letters, digits, '-', '_' and '.', starting with a letter or digit`;
  }
  if (Buffer.byteLength(name) > MAX_INTERFACE_NAME) {
    return `interface name ${quote(name)} is longer than ${MAX_INTERFACE_NAME} characters`;
  }
  return undefined;
}
