import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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

describe('infra/nginx/run-edge.sh: the edge operators start', () => {
  const script = path.join(root, 'infra/nginx/run-edge.sh');
  const key = 'k'.repeat(43);
  /** Runs the script with `true` in place of nginx: it renders, then "starts" and exits 0. */
  function run(args: string[], env: Record<string, string | undefined> = { ONAIR_EDGE_KEY: key }) {
    const { ONAIR_EDGE_KEY: _inherited, ...rest } = process.env;
    return spawnSync('bash', [script, ...args], {
      env: { ...rest, ONAIR_NGINX: 'true', ...env },
      encoding: 'utf8',
    });
  }
  const args = (dir: string) => ['--port', '8088', '--origin', '127.0.0.1:8080', '--dir', dir];

  it('is valid bash', () => {
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
  });

  it('refuses to start without the key, or with bad arguments (exit 2, saying why)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-edge-args-'));
    try {
      const missing = run(args(dir), {});
      expect(missing.status).toBe(2);
      expect(missing.stderr).toContain('ONAIR_EDGE_KEY is not set');
      expect(missing.stderr).toContain('npm run onair -- edge-key');
      expect(run(args(dir), { ONAIR_EDGE_KEY: 'x"; }' }).status).toBe(2);
      for (const bad of [
        ['--port', '8088', '--dir', dir],
        ['--port', '99999', '--origin', '127.0.0.1:8080', '--dir', dir],
        ['--port', '8088', '--origin', '127.0.0.1', '--dir', dir],
        ['--port', '8088', '--origin', 'a;b:80', '--dir', dir],
        ['--port', '8088', '--origin', '127.0.0.1:8080'],
        [...args(dir), '--cache-size', 'lots'],
        [...args(dir), '--workers', '0'],
        [...args(dir), '--access-log', '/tmp/a log'],
        [...args(dir), '--key', key],
        [...args(dir), '--access-log'],
      ]) {
        const result = run(bad);
        expect(result.status, bad.join(' ')).toBe(2);
        expect(result.stderr, bad.join(' ')).toMatch(/^run-edge\.sh: /);
      }
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders nginx.conf with the key, 0600 in a 0700 --dir, that nginx accepts', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-edge-conf-'));
    const dir = path.join(work, 'edge');
    try {
      const result = run([
        ...args(dir),
        '--origin',
        'origin-2.internal:8080',
        '--access-log',
        path.join(work, 'access.log'),
        '--cache-size',
        '5g',
        '--workers',
        '2',
      ]);
      expect(result.status, result.stderr).toBe(0);
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      const conf = path.join(dir, 'nginx.conf');
      expect(fs.statSync(conf).mode & 0o777).toBe(0o600);
      const text = fs.readFileSync(conf, 'utf8');
      expect(text).not.toMatch(/@@[A-Z_]+@@/);
      expect(text).toContain(`set $onair_secret "${key}";`);
      expect(text).toContain('server 127.0.0.1:8080 max_fails=2 fail_timeout=5s;');
      expect(text).toContain('server origin-2.internal:8080 max_fails=2 fail_timeout=5s;');
      expect(text).toContain('listen 8088 backlog=4096;');
      expect(text).toContain(`proxy_cache_path ${dir}/cache `);
      expect(text).toContain('max_size=5g');
      expect(text).toContain('worker_processes 2;');
      expect(text).toContain(`access_log ${path.join(work, 'access.log')} onair_edge buffer=256k flush=1s;`);
      expect(text).toMatch(/^\s*sendfile on;$/m);
      expect(text).toMatch(/^\s*keepalive_requests 100000;$/m);
      expect(fs.readdirSync(dir).filter((f) => f !== 'nginx.conf' && !['cache', 'tmp'].includes(f))).toEqual(
        [],
      );
      // Without --access-log, none.
      expect(run(args(dir)).status).toBe(0);
      expect(fs.readFileSync(conf, 'utf8')).toMatch(/^access_log off;$/m);
      const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((f) => fs.existsSync(f));
      if (nginx) {
        // Checked by nginx itself (the last render: one origin nginx can resolve).
        const check = spawnSync(nginx, ['-t', '-q', '-p', `${dir}/`, '-e', 'stderr', '-c', conf], {
          encoding: 'utf8',
        });
        expect(check.status, check.stderr).toBe(0);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
