// Starts lasthop as it was at an older git revision (BENCH_BEFORE) beside the current one, with
// the same bindings, so a figure can show "before" and "now" measured in the same run on the
// same machine. The revision's tree is unpacked with `git archive` and uses this checkout's
// node_modules (the revision must not need other dependencies).
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../sandbox/stack.ts";
import { startLocalWorker } from "./baseline.ts";

export async function startWorkerAt(opts: {
  rev: string;
  dir: string;
  persistTo: string;
  vars: Record<string, string>;
}): Promise<{ url: string; commit: string; close(): Promise<void> }> {
  if (!/^[\w./^~-]+$/.test(opts.rev)) throw new Error(`BENCH_BEFORE: not a git revision: ${opts.rev}`);
  const commit = execFileSync("git", ["rev-parse", "--short", `${opts.rev}^{commit}`], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  mkdirSync(opts.dir, { recursive: true });
  const tar = join(opts.dir, "..", `before-${commit}.tar`);
  execFileSync("git", ["archive", "--format=tar", "-o", tar, commit], { cwd: REPO_ROOT });
  execFileSync("tar", ["-xf", tar, "-C", opts.dir]);
  symlinkSync(join(REPO_ROOT, "node_modules"), join(opts.dir, "node_modules"));
  const worker = await startLocalWorker({
    config: join(opts.dir, "wrangler.toml"),
    vars: opts.vars,
    persistTo: opts.persistTo,
  });
  return { ...worker, commit };
}
