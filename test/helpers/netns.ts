/**
 * A network lab for tunnel tests: hosts are network namespaces the test
 * creates (named `wgqt-<pid>-<n>-<host>`), each with one long-lived holder
 * process in its own mount namespace, where /run and /etc/wireguard are
 * private tmpfs mounts — wireguard-go keeps its control socket in
 * /run/wireguard and keys go under /etc/wireguard/wgqt, and namespaces would
 * otherwise share both with the machine. Commands run in a host with
 * `nsenter` into the holder's network and mount namespaces.
 *
 * Reverse-path filtering: a new namespace starts with rp_filter = 0, which no
 * real host has (systemd's sysctl.d sets 2, hardening guides 1). A lab made
 * with `{ reversePathFilter }` sets it for `all` and `default` as soon as each
 * namespace exists (so every link made later inherits it), and
 * `enforceReversePathFilter()` sets it again on every interface present
 * (veths, bridges, the TUN devices of wireguard-go) and checks that each
 * reads back the value. The kernel uses the larger of `all` and the
 * interface's own (ip-sysctl.rst).
 *
 * Safety: only namespaces, veth pairs created directly inside them, and the
 * TUN devices wireguard-go makes there. Nothing touches the root namespace's
 * interfaces, routes or firewall. `cleanup()` kills the processes inside our
 * namespaces (by pid, from `ip netns pids`) and deletes the namespaces; it is
 * also run on process exit, and a new lab first removes namespaces left by a
 * previous run whose process is gone.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

const PREFIX = "wgqt-";

/** Why the tunnel suites cannot run here, or undefined when they can. */
export function tunnelSkipReason(): string | undefined {
  if (process.platform !== "linux") return "tunnel tests need Linux network namespaces";
  if (process.getuid?.() !== 0) return "tunnel tests need root (network namespaces)";
  if (!existsSync("/dev/net/tun")) return "tunnel tests need /dev/net/tun (wireguard-go)";
  for (const tool of ["ip", "nsenter", "unshare", "wg", "wireguard-go", "iptables", "ping"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `tunnel tests need ${tool} on PATH`;
    }
  }
  return undefined;
}

/** Run a program, collecting output; rejects on non-zero exit unless allowFailure. */
export function runCommand(
  program: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && !options.allowFailure) {
        reject(
          new Error(
            `${program} ${args.join(" ")} exited ${result.code}${signal ? ` (${signal})` : ""}: ${stderr.trim() || stdout.trim()}`,
          ),
        );
      } else resolve(result);
    });
    if (child.stdin !== null) {
      // A program that exits without reading its input must not crash the test.
      child.stdin.on("error", () => {});
      child.stdin.end(options.input);
    }
  });
}

export interface Host {
  /** Short name: "lighthouse". */
  name: string;
  /** The network namespace: "wgqt-1234-0-lighthouse". */
  namespace: string;
  /** The holder process: its network and mount namespaces are the host's. */
  pid: number;
  /** Run a bash command line inside the host. */
  run(command: string, options?: RunOptions): Promise<RunResult>;
}

/** ip-sysctl.rst `rp_filter`: 0 off, 1 strict, 2 loose. */
export type ReversePathFilter = 0 | 1 | 2;

export interface LabOptions {
  /** rp_filter for `all`, `default` and every interface of every host; the kernel's 0 when absent. */
  reversePathFilter?: ReversePathFilter;
}

let labCount = 0;
const liveLabs = new Set<Lab>();

process.on("exit", () => {
  for (const lab of liveLabs) lab.cleanupSync();
});

export class Lab {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly holders: number[] = [];
  private readonly hosts: Host[] = [];
  readonly reversePathFilter: ReversePathFilter | undefined;

  constructor(options: LabOptions = {}) {
    this.prefix = `${PREFIX}${process.pid}-${labCount++}-`;
    this.reversePathFilter = options.reversePathFilter;
    removeStaleNamespaces();
    liveLabs.add(this);
  }

  /** A new host: a namespace, lo up, a holder with private /run and /etc/wireguard. */
  async host(name: string): Promise<Host> {
    const namespace = `${this.prefix}${name}`;
    await runCommand("ip", ["netns", "add", namespace]);
    this.namespaces.push(namespace);
    if (this.reversePathFilter !== undefined) {
      // Before any link but lo exists: links made later copy `default`.
      const value = this.reversePathFilter;
      await runCommand("ip", [
        ...["netns", "exec", namespace, "sysctl", "-q", "-w"],
        `net.ipv4.conf.all.rp_filter=${value}`,
        `net.ipv4.conf.default.rp_filter=${value}`,
        `net.ipv4.conf.lo.rp_filter=${value}`,
      ]);
    }
    const script = [
      "mount -t tmpfs -o mode=0755 wgqt-run /run",
      "mkdir -m 0700 /run/wireguard",
      "mount -t tmpfs -o mode=0700 wgqt-secrets /etc/wireguard",
      "ip link set lo up",
      "echo ready",
      "exec sleep infinity",
    ].join(" && ");
    const holder = spawn(
      "ip",
      [
        "netns",
        "exec",
        namespace,
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const pid = holder.pid;
    if (pid === undefined) throw new Error(`could not start the holder of ${namespace}`);
    this.holders.push(pid);
    await new Promise<void>((resolve, reject) => {
      let stderr = "";
      holder.stderr.on("data", (chunk) => {
        stderr += chunk;
      });
      holder.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) resolve();
      });
      holder.on("exit", (code) =>
        reject(new Error(`holder of ${namespace} exited ${code}: ${stderr}`)),
      );
    });
    // The holder must not keep the test process alive.
    holder.unref();
    holder.stdout.destroy();
    holder.stderr.destroy();
    const host: Host = {
      name,
      namespace,
      pid,
      run: (command, options) =>
        runCommand(
          "nsenter",
          ["-t", String(pid), "-n", "-m", "--", "bash", "-c", command],
          options,
        ),
    };
    this.hosts.push(host);
    return host;
  }

  /**
   * Set the lab's rp_filter on every interface of every host (`all` and
   * `default` included) and check that each reads it back; a no-op for a lab
   * without one. Call it after links and tunnels are up.
   */
  async enforceReversePathFilter(): Promise<void> {
    const value = this.reversePathFilter;
    if (value === undefined) return;
    for (const host of this.hosts) {
      const listing = await host.run(
        `for conf in /proc/sys/net/ipv4/conf/*; do echo ${value} > "$conf/rp_filter"; done; grep -H . /proc/sys/net/ipv4/conf/*/rp_filter`,
      );
      const wrong = listing.stdout
        .trim()
        .split("\n")
        .filter((line) => !line.endsWith(`:${value}`));
      if (wrong.length > 0)
        throw new Error(`${host.name}: rp_filter not ${value}: ${wrong.join(", ")}`);
    }
  }

  /** A veth pair between two hosts, created inside them, addressed and up. */
  async link(
    a: Host,
    aName: string,
    aAddress: string,
    b: Host,
    bName: string,
    bAddress: string,
  ): Promise<void> {
    await runCommand("ip", [
      "link",
      "add",
      aName,
      "netns",
      a.namespace,
      "type",
      "veth",
      "peer",
      "name",
      bName,
      "netns",
      b.namespace,
    ]);
    await a.run(`ip address add ${aAddress} dev ${aName} && ip link set ${aName} up`);
    await b.run(`ip address add ${bAddress} dev ${bName} && ip link set ${bName} up`);
  }

  /** Kill every process in our namespaces and delete them. Safe to call twice. */
  async cleanup(): Promise<void> {
    this.cleanupSync();
  }

  cleanupSync(): void {
    for (const pid of this.holders.splice(0)) killQuietly(pid);
    for (const namespace of this.namespaces.splice(0)) removeNamespace(namespace);
    liveLabs.delete(this);
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function removeNamespace(namespace: string): void {
  try {
    const pids = execFileSync("ip", ["netns", "pids", namespace], { encoding: "utf8" });
    for (const pid of pids.split(/\s+/).filter(Boolean)) killQuietly(Number(pid));
  } catch {
    // the namespace may already be gone
  }
  try {
    execFileSync("ip", ["netns", "del", namespace], { stdio: "ignore" });
  } catch {
    // already gone
  }
}

/** Namespaces named by an earlier lab (`wgqt-<pid>-…`) whose process has exited. */
function removeStaleNamespaces(): void {
  let listing = "";
  try {
    listing = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  } catch {
    return;
  }
  for (const line of listing.split("\n")) {
    const namespace = line.split(" ")[0] ?? "";
    const match = /^wgqt-(\d+)-\d+-/.exec(namespace);
    if (match === null || Number(match[1]) === process.pid) continue;
    try {
      process.kill(Number(match[1]), 0);
    } catch {
      removeNamespace(namespace);
    }
  }
}
