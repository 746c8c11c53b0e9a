/**
 * The image cache keeps one image: an image is about 900 MB, and each change
 * of the package list, the kernel or the image's own files makes a new one.
 */
import { readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** How old a half-built image may be before it counts as left by a killed build. */
const STALE_BUILD_MS = 60 * 60 * 1000;

/**
 * Remove every cached image but `disk`'s (the one in use), and builds that
 * were left unfinished more than an hour ago. Returns the removed directories.
 */
export function pruneImages(disk: string): string[] {
  const dir = dirname(disk);
  const root = dirname(dir);
  const removed: string[] = [];
  for (const entry of readdirSync(root)) {
    const path = join(root, entry);
    if (entry === basename(dir) || !statSync(path).isDirectory()) continue;
    const building = entry.startsWith("build-");
    if (building && Date.now() - statSync(path).mtimeMs < STALE_BUILD_MS) continue;
    if (!building && !/^[0-9a-f]{16}$/.test(entry)) continue;
    rmSync(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}
