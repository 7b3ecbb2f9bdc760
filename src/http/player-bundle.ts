import path from 'node:path';
import { build } from 'esbuild';

/** Bundles the browser pages (the player with hls.js, the admin page) once at start-up, in memory. */
export async function bundlePlayer(root: string): Promise<Map<string, string>> {
  const result = await build({
    entryPoints: Object.fromEntries(
      [
        'play',
        'admin',
        'admin-asset',
        'admin-event',
        'event',
        'join',
        'me',
        'present',
        'timeline-preview',
      ].map((name) => [name, path.join(root, `player/${name}.ts`)]),
    ),
    bundle: true,
    format: 'esm',
    minify: true,
    target: ['es2020'],
    write: false,
    outdir: '/',
    logLevel: 'silent',
  });
  return new Map(result.outputFiles.map((f) => [path.basename(f.path), f.text]));
}
