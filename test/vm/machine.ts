/**
 * QEMU virtual machines for the VM suite: each boots the cached Debian image
 * (image.ts) through its own qcow2 overlay, with the host's Debian kernel and
 * systemd as init, and is driven through the guest agent on a virtio serial
 * port: no SSH, nothing on the machine's own network.
 *
 * VMs reach each other only through point-to-point links: a pair of virtio
 * NICs whose frames QEMU carries as UDP datagrams between two loopback ports
 * (`-netdev dgram`). Nothing touches the root namespace's interfaces, routes
 * or firewall. A NIC has a fixed MAC address, so the guest's uplink .network
 * matches it by `MACAddress=`.
 *
 * Acceleration: KVM where /dev/kvm exists (WGQT_VM_ACCEL=tcg turns it off),
 * else TCG with `-cpu max`; a VM whose KVM boot dies is booted again with
 * TCG (nested KVM can stop with "emulation failure"). `accelerator` says
 * which ran. QEMU runs at nice 10 and is killed when this process dies
 * (setpriv --pdeathsig), on `cleanup()`, and on process exit; the run
 * directory (overlays, sockets, console logs) goes with them, and a new lab
 * removes directories left by runs whose process is gone.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Image } from "./image.js";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface GuestFile {
  path: string;
  content: string | Buffer;
  mode?: string;
  owner?: string;
}

export interface Nic {
  mac: string;
  localPort: number;
  remotePort: number;
}

const RUN_PREFIX = "wgqt-vm-";
const BOOT_TIMEOUT_MS = 600_000;
const liveLabs = new Set<VmLab>();

process.on("exit", () => {
  for (const lab of liveLabs) lab.cleanupNow();
});

/** A free UDP port on 127.0.0.1 (the kernel's pick; closed again for QEMU to bind). */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Run directories of earlier runs whose process is gone. */
function removeStaleRuns(): void {
  for (const name of readdirSync(tmpdir())) {
    const match = /^wgqt-vm-(\d+)-/.exec(name);
    if (match && !processAlive(Number(match[1]))) {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

export class VmLab {
  readonly dir: string;
  private readonly vms: Vm[] = [];
  private macCounter = 0;
  readonly nics = new Map<string, Nic[]>();

  constructor(readonly image: Image) {
    removeStaleRuns();
    this.dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}${process.pid}-`));
    liveLabs.add(this);
  }

  /** A point-to-point link between two VMs not booted yet; returns each side's MAC. */
  async link(a: string, b: string): Promise<{ [name: string]: string }> {
    const [portA, portB] = [await freeUdpPort(), await freeUdpPort()];
    const macA = this.nextMac();
    const macB = this.nextMac();
    this.addNic(a, { mac: macA, localPort: portA, remotePort: portB });
    this.addNic(b, { mac: macB, localPort: portB, remotePort: portA });
    return { [a]: macA, [b]: macB };
  }

  private nextMac(): string {
    this.macCounter += 1;
    return `52:54:00:12:34:${this.macCounter.toString(16).padStart(2, "0")}`;
  }

  private addNic(vm: string, nic: Nic): void {
    this.nics.set(vm, [...(this.nics.get(vm) ?? []), nic]);
  }

  /**
   * Boot a VM with the links made for it so far; resolves once its agent
   * answers and systemd has finished starting up (a slow TCG guest's
   * systemd-networkd may not answer D-Bus calls before that).
   */
  async boot(name: string): Promise<Vm> {
    const vm = new Vm(name, this.dir, this.image, this.nics.get(name) ?? []);
    this.vms.push(vm);
    await vm.start();
    await vm.exec("systemctl is-system-running --wait >/dev/null || true", {
      timeoutMs: BOOT_TIMEOUT_MS,
    });
    return vm;
  }

  /** Kill every VM, wait for QEMU to be gone, and remove the run directory. */
  async cleanup(): Promise<void> {
    await Promise.all(this.vms.map((vm) => vm.stop()));
    this.cleanupNow();
  }

  /** The same without waiting (process exit handler): the processes are reaped by init. */
  cleanupNow(): void {
    for (const vm of this.vms) vm.kill();
    rmSync(this.dir, { recursive: true, force: true });
    liveLabs.delete(this);
  }
}

export class Vm {
  accelerator: "kvm" | "tcg" =
    existsSync("/dev/kvm") && process.env.WGQT_VM_ACCEL !== "tcg" ? "kvm" : "tcg";
  private qemu: ChildProcess | undefined;
  private control: Socket | undefined;
  private received = "";
  private nextId = 1;
  private readonly waiting = new Map<string, (fields: string[]) => void>();

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly image: Image,
    private readonly nics: Nic[],
  ) {}

  get consoleLog(): string {
    return join(this.dir, `${this.name}.console`);
  }

  /** The serial console so far (the kernel's and systemd's boot messages). */
  console(): string {
    return existsSync(this.consoleLog) ? readFileSync(this.consoleLog, "utf8") : "";
  }

  async start(): Promise<void> {
    const overlay = join(this.dir, `${this.name}.qcow2`);
    await run("qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      "-F",
      "raw",
      "-b",
      this.image.disk,
      overlay,
    ]);
    try {
      await this.bootWith(overlay);
    } catch (error) {
      if (this.accelerator !== "kvm") throw error;
      this.kill();
      this.accelerator = "tcg";
      await this.bootWith(overlay);
    }
  }

  private async bootWith(overlay: string): Promise<void> {
    const socketPath = join(this.dir, `${this.name}.sock`);
    rmSync(socketPath, { force: true });
    const { kernel } = this.image;
    const args = [
      ...(this.accelerator === "kvm" ? ["-accel", "kvm"] : ["-accel", "tcg", "-cpu", "max"]),
      ...["-smp", "1", "-m", "512", "-display", "none", "-monitor", "none", "-no-reboot"],
      ...["-serial", `file:${this.consoleLog}`],
      ...["-kernel", kernel.vmlinuz, "-initrd", kernel.initrd],
      // A loaded machine boots TCG guests slowly: no unit may give up after the default 90 s.
      ...[
        "-append",
        "root=/dev/vda rw console=ttyS0 init=/lib/systemd/systemd panic=-1 systemd.default_timeout_start_sec=600",
      ],
      ...["-drive", `file=${overlay},if=virtio,format=qcow2`],
      ...["-device", "virtio-serial-pci"],
      ...["-chardev", `socket,id=control,path=${socketPath},server=on,wait=off`],
      ...["-device", "virtserialport,chardev=control,name=wgqt.control"],
      "-nic",
      "none",
    ];
    this.nics.forEach((nic, index) => {
      args.push(
        "-netdev",
        `dgram,id=link${index},local.type=inet,local.host=127.0.0.1,local.port=${nic.localPort},` +
          `remote.type=inet,remote.host=127.0.0.1,remote.port=${nic.remotePort}`,
        "-device",
        `virtio-net-pci,netdev=link${index},mac=${nic.mac}`,
      );
    });
    const qemu = spawn(
      "setpriv",
      ["--pdeathsig", "KILL", "--", "nice", "-n", "10", "qemu-system-x86_64", ...args],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.qemu = qemu;
    let stderr = "";
    qemu.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<never>((_, reject) =>
      qemu.on("exit", (code) =>
        reject(
          new Error(
            `${this.name}: qemu (${this.accelerator}) exited ${code}: ${stderr.trim()}\n` +
              `console, last lines:\n${this.console().split("\n").slice(-40).join("\n")}`,
          ),
        ),
      ),
    );
    exited.catch(() => {});
    await Promise.race([exited, this.waitForAgent(socketPath)]);
  }

  private async waitForAgent(socketPath: string): Promise<void> {
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (!existsSync(socketPath)) {
      if (Date.now() > deadline) throw new Error(`${this.name}: no control socket`);
      await sleep(100);
    }
    const control = connect(socketPath);
    this.control = control;
    control.setEncoding("utf8");
    control.on("data", (chunk: string) => this.receive(chunk));
    control.on("error", () => {});
    // The agent answers once systemd started it; until then the port holds the pings.
    const ready = new Promise<void>((resolve) => this.waiting.set("ping", () => resolve()));
    while (!(await Promise.race([ready.then(() => true), sleep(3000).then(() => false)]))) {
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name}: the guest agent did not answer within ${BOOT_TIMEOUT_MS / 1000} s\n` +
            `console, last lines:\n${this.console().split("\n").slice(-40).join("\n")}`,
        );
      }
      control.write(`ping ${Buffer.from("true").toString("base64")}\n`);
    }
  }

  private receive(chunk: string): void {
    this.received += chunk;
    let newline = this.received.indexOf("\n");
    while (newline >= 0) {
      const fields = this.received.slice(0, newline).split(" ");
      this.received = this.received.slice(newline + 1);
      const resolve = this.waiting.get(fields[0]!);
      if (resolve) {
        if (fields[0] !== "ping") this.waiting.delete(fields[0]!);
        resolve(fields);
      }
      newline = this.received.indexOf("\n");
    }
  }

  /** Run a bash script as root in the VM. */
  async exec(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    const control = this.control;
    if (!control) throw new Error(`${this.name}: not booted`);
    const id = String(this.nextId++);
    const timeoutMs = options.timeoutMs ?? 180_000;
    const answer = new Promise<string[]>((resolve) => this.waiting.set(id, resolve));
    control.write(`${id} ${Buffer.from(script).toString("base64")}\n`);
    const fields = await Promise.race([answer, sleep(timeoutMs).then(() => undefined)]);
    if (!fields) {
      this.waiting.delete(id);
      throw new Error(`${this.name}: no answer within ${timeoutMs / 1000} s to: ${script}`);
    }
    const decode = (field: string | undefined) =>
      Buffer.from(field ?? "", "base64").toString("utf8");
    const result = {
      code: Number(fields[1]),
      stdout: decode(fields[2]),
      stderr: decode(fields[3]),
    };
    if (result.code !== 0 && !options.allowFailure) {
      throw new Error(
        `${this.name}: exit ${result.code}: ${script}\n${result.stdout}${result.stderr}`.trim(),
      );
    }
    return result;
  }

  /** Write files in the VM in one round trip (parent directories made, then mode and owner set). */
  async writeFiles(files: GuestFile[]): Promise<void> {
    const steps = files.map(({ path, content, mode = "0644", owner = "root:root" }) => {
      const data = Buffer.from(content).toString("base64");
      return (
        `install -d "$(dirname '${path}')"; echo '${data}' | base64 -d > '${path}'; ` +
        `chmod ${mode} '${path}'; chown ${owner} '${path}'`
      );
    });
    await this.exec(["set -e", ...steps].join("\n"));
  }

  async stop(): Promise<void> {
    const qemu = this.qemu;
    if (!qemu) return;
    const exited =
      qemu.exitCode !== null || qemu.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => qemu.once("exit", () => resolve()));
    this.kill();
    await exited;
  }

  kill(): void {
    this.control?.destroy();
    this.control = undefined;
    if (this.qemu && this.qemu.exitCode === null && this.qemu.signalCode === null) {
      // setpriv and nice exec into QEMU: the pid is QEMU's.
      this.qemu.kill("SIGKILL");
    }
    this.qemu = undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr.trim()}`)),
    );
  });
}
