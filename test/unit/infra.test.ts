import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;

/** `KEY=value` lines of an environment file (systemd's EnvironmentFile syntax, no quoting used). */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

describe('infra/: what operators copy is what the code reads', () => {
  const units = fs.readdirSync(path.join(root, 'infra/systemd')).filter((f) => f.endsWith('.service'));

  it('has a systemd unit per scale-out role, each running an npm script that exists', () => {
    expect(units.sort()).toEqual(['onair-api.service', 'onair-ingest.service', 'onair-workers.service']);
    for (const unit of units) {
      const text = read(`infra/systemd/${unit}`);
      const script = /^ExecStart=\/usr\/bin\/npm run --silent (\S+)$/m.exec(text)?.[1];
      expect(script, unit).toBeDefined();
      expect(scripts[script!], `${unit} runs npm run ${script}`).toMatch(/^node --import tsx \S+\.ts$/);
      expect(fs.existsSync(path.join(root, scripts[script!]!.split(' ').at(-1)!)), unit).toBe(true);
      // Each role's DATA_DIR is its own scratch, private.
      expect(text).toMatch(/^Environment=DATA_DIR=\/var\/lib\/onair\/\w+$/m);
      expect(text).toMatch(/^UMask=0077$/m);
    }
  });

  it('the example environment is a valid scale-out configuration', () => {
    const env = parseEnvFile(read('infra/systemd/onair.env.example'));
    const config = loadConfig({ ...env, DATA_DIR: '/var/lib/onair/api' });
    expect(config.databaseUrl).toMatch(/^postgres:/);
    expect(config.redisUrl).toMatch(/^redis:/);
    expect(config.s3).toMatchObject({ bucket: 'onair-media', forcePathStyle: true });
    expect(config.publicUrl).toBe('https://webinars.example.com');
    expect(config.secret).toBeDefined();
  });

  it('the compose example runs the same three npm scripts over Redis, PostgreSQL and an S3 server', () => {
    const compose = read('infra/compose.yaml');
    for (const role of ['api', 'workers', 'ingest']) {
      expect(compose).toContain(`command: ['npm', 'run', '--silent', '${role}']`);
      expect(scripts[role]).toBeDefined();
    }
    for (const name of [
      'REDIS_URL',
      'DATABASE_URL',
      'S3_BUCKET',
      'S3_ENDPOINT',
      'ONAIR_SECRET',
      'PUBLIC_URL',
    ])
      expect(compose).toContain(`${name}:`);
  });
});
