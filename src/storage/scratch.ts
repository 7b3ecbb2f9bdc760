import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { ensurePrivateDir, PRIVATE_DIR_MODE } from './local-storage.ts';

export interface ScratchDir {
  /** This process's own folder: jobs make a folder each inside it and remove it when done. */
  readonly dir: string;
  release(): Promise<void>;
}

const NAME = /^[a-z]+-(\d+)-[0-9a-f]+$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Local scratch space under `DATA_DIR/scratch` (never shared between machines: on a scale-out
 * machine it is all DATA_DIR holds). Each process claims a folder named with its pid; folders of
 * processes on this machine that are gone (killed mid-job) are removed at the next claim.
 */
export async function claimScratchDir(dataDir: string, role: string): Promise<ScratchDir> {
  const root = path.join(dataDir, 'scratch');
  ensurePrivateDir(root);
  for (const name of await fsp.readdir(root).catch(() => [] as string[])) {
    const pid = NAME.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !alive(Number(pid))) {
      await fsp.rm(path.join(root, name), { recursive: true, force: true });
    }
  }
  const dir = path.join(root, `${role}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
  return {
    dir,
    release: () => fsp.rm(dir, { recursive: true, force: true }),
  };
}
