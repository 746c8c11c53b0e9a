/**
 * The Debian image every VM boots: a minimal bookworm root file system
 * (mmdebstrap) with systemd, systemd-networkd, wireguard-tools and age, the
 * host's Debian kernel modules (the VMs boot that kernel: `wireguard` is a
 * module), and the guest agent (guest-agent.py) that runs the test's scripts.
 *
 * Built once and cached in ~/.cache/wgqt-vm/<hash>/ ($XDG_CACHE_HOME), keyed
 * by everything that goes into it: the package list, the kernel version, the
 * agent and the hooks below. VMs never write to it: each boots a qcow2 overlay
 * whose backing file is the cached raw image.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const PACKAGES = [
  "systemd",
  "systemd-sysv",
  "udev",
  "dbus", // networkctl talks to systemd-networkd over D-Bus
  "iproute2",
  "wireguard-tools",
  "iptables",
  "nftables",
  "age",
  "kmod",
  "iputils-ping",
  "procps", // sysctl, as on every Debian install
  "python3-minimal",
  "openssh-client",
];
const SUITE = "bookworm";
const IMAGE_SIZE = "2G"; // sparse: about 900 MB are used
const AGENT = join(import.meta.dirname, "guest-agent.py");

const AGENT_UNIT = `[Unit]
Description=wgqt test agent (runs the host's scripts from the virtio port wgqt.control)

[Service]
ExecStart=/usr/local/sbin/wgqt-guest-agent
Restart=always

[Install]
WantedBy=multi-user.target
`;

export interface Kernel {
  version: string;
  vmlinuz: string;
  initrd: string;
}

export interface Image {
  /** The raw ext4 root file system (read-only: boot overlays of it). */
  disk: string;
  kernel: Kernel;
}

/** The newest Debian kernel installed on this machine with its modules (package linux-image-amd64). */
export function hostKernel(): Kernel | undefined {
  if (!existsSync("/boot")) return undefined;
  const versions = readdirSync("/boot")
    .filter((name) => name.startsWith("vmlinuz-"))
    .map((name) => name.slice("vmlinuz-".length))
    .filter(
      (version) =>
        existsSync(`/boot/initrd.img-${version}`) && existsSync(`/lib/modules/${version}`),
    )
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const version = versions.at(-1);
  if (version === undefined) return undefined;
  return { version, vmlinuz: `/boot/vmlinuz-${version}`, initrd: `/boot/initrd.img-${version}` };
}

function onPath(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why the VM suite cannot run here, or undefined when it can. */
export function vmSkipReason(): string | undefined {
  if (process.platform !== "linux") return "VM tests need Linux";
  if (process.getuid?.() !== 0) return "VM tests need root (mmdebstrap builds the image as root)";
  const packages: Record<string, string> = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    mmdebstrap: "mmdebstrap",
    "mkfs.ext4": "e2fsprogs",
    setpriv: "util-linux",
  };
  for (const [tool, pkg] of Object.entries(packages)) {
    if (!onPath(tool)) return `VM tests need ${tool} (Debian package ${pkg})`;
  }
  if (hostKernel() === undefined) {
    return "VM tests need a Debian kernel with its initrd and modules (package linux-image-amd64)";
  }
  return undefined;
}

function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "wgqt-vm");
}

/** The cached image, built first when missing (about a minute and a half). */
export function ensureImage(log: (line: string) => void = () => {}): Image {
  const kernel = hostKernel();
  if (kernel === undefined) throw new Error("no Debian kernel in /boot (linux-image-amd64)");
  const key = createHash("sha256")
    .update(JSON.stringify({ SUITE, PACKAGES, IMAGE_SIZE, AGENT_UNIT, kernel: kernel.version }))
    .update(readFileSync(AGENT))
    .update(readFileSync(import.meta.filename))
    .digest("hex")
    .slice(0, 16);
  const dir = join(cacheRoot(), key);
  const disk = join(dir, "root.img");
  if (existsSync(disk)) return { disk, kernel };

  log(`building the VM image in ${dir}`);
  mkdirSync(cacheRoot(), { recursive: true });
  const work = mkdtempSync(join(cacheRoot(), "build-"));
  try {
    const root = join(work, "root");
    const unit = join(work, "wgqt-guest-agent.service");
    writeFileSync(unit, AGENT_UNIT);
    const hooks = [
      `mkdir -p "$1/lib/modules" && cp -a /lib/modules/${kernel.version} "$1/lib/modules/"`,
      `install -m 0755 ${AGENT} "$1/usr/local/sbin/wgqt-guest-agent"`,
      `install -m 0644 ${unit} "$1/etc/systemd/system/"`,
      `chroot "$1" systemctl enable systemd-networkd.service wgqt-guest-agent.service`,
      `chroot "$1" depmod ${kernel.version}`,
      `echo wgqt-vm > "$1/etc/hostname"`,
    ];
    execFileSync(
      "nice",
      [
        "-n",
        "10",
        "mmdebstrap",
        "--variant=minbase",
        `--include=${PACKAGES.join(",")}`,
        ...hooks.map((hook) => `--customize-hook=${hook}`),
        SUITE,
        root,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    execFileSync("mkfs.ext4", ["-q", "-L", "root", "-d", root, join(work, "root.img"), IMAGE_SIZE]);
    rmSync(root, { recursive: true, force: true });
    // Another run may have finished the same image meanwhile: either is fine.
    if (!existsSync(disk)) renameSync(work, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { disk, kernel };
}
