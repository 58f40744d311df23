// The compiled CLI as `npm run build` makes it (scripts/build-cli.ts): the one-file bundle started
// by its launcher through a V8 code cache. It must behave exactly as the CLI from source (same
// output, same exit codes, Temporal reached through the bundled gRPC client), and its cache must be
// written once per command, reused while it fits, and replaced when V8 rejects it.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../scripts/build-cli';
import { runCli } from '../support/cli';
import { temporalAddress } from '../support/env';

const root = path.resolve(__dirname, '../..');
const demo = path.join(root, 'examples/demo.yaml');
const bad = path.join(root, 'examples/bad.yaml');

describe('compiled CLI (bundle + launcher)', () => {
  let launcher = '';
  let cacheDir = '';
  const run = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [launcher, ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, FERRY_CLI_CACHE_DIR: cacheDir, TEMPORAL_ADDRESS: temporalAddress, ...env },
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const cachesOf = (command: string) => readdirSync(cacheDir).filter((f) => f.startsWith(`${command}.`) && f.endsWith('.v8cache'));

  beforeAll(() => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-cli-'));
    launcher = buildCli(dir).launcher;
    cacheDir = path.join(dir, 'cache');
  });

  it('prints what the CLI from source prints, and writes a cache for the command', async () => {
    const fromSource = await runCli(['validate-spec', demo, '--json']);
    const first = run(['validate-spec', demo, '--json']);
    expect(first).toEqual({ code: 0, out: fromSource.out, err: '' });
    const [cache] = cachesOf('validate-spec');
    expect(cache).toBeDefined();

    // Accepted by V8 on the next run: the same output, and the cache is not written again.
    const before = statSync(path.join(cacheDir, cache!));
    const second = run(['validate-spec', demo, '--json']);
    expect(second).toEqual(first);
    expect(statSync(path.join(cacheDir, cache!)).mtimeMs).toBe(before.mtimeMs);
  });

  it('keeps the exit codes and error messages (a bad spec names its fields: exit 2)', async () => {
    const fromSource = await runCli(['validate-spec', bad]);
    const compiled = run(['validate-spec', bad]);
    expect(compiled.code).toBe(2);
    expect(fromSource.code).toBe(2);
    expect(compiled.err).toBe(fromSource.err);
    expect(compiled.err).toContain('bad.yaml');
  });

  it('replaces a cache V8 rejects, and works with no usable cache directory', () => {
    run(['validate-spec', demo]);
    const [cache] = cachesOf('validate-spec');
    const file = path.join(cacheDir, cache!);
    writeFileSync(file, Buffer.from('not a V8 code cache'));
    chmodSync(file, 0o600); // private, so it is V8 that turns it down
    const r = run(['validate-spec', demo]);
    expect(r.code).toBe(0);
    expect(readFileSync(file).length).toBeGreaterThan(100_000);

    // A cache others may write is never run (V8 would run what it holds): it is replaced, private.
    const accepted = statSync(file).mtimeMs;
    expect(run(['validate-spec', demo]).code).toBe(0);
    expect(statSync(file).mtimeMs).toBe(accepted); // a fitting, private cache is kept
    chmodSync(file, 0o666);
    expect(run(['validate-spec', demo]).out).toBe(r.out);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);

    // A directory that cannot be made (a file is in the way): the command runs without a cache.
    const blocker = path.join(cacheDir, 'a-file');
    writeFileSync(blocker, '');
    const noDir = run(['validate-spec', demo], { FERRY_CLI_CACHE_DIR: path.join(blocker, 'cache') });
    expect(noDir.code).toBe(0);
    expect(noDir.out).toBe(r.out);
    const off = run(['validate-spec', demo], { FERRY_CLI_CACHE_DIR: 'off' });
    expect(off.out).toBe(r.out);
  });

  it('reaches Temporal through the bundled client (list), and an unreachable server is exit 5', () => {
    const listed = run(['list', '--limit', '1', '--json']);
    expect(listed.err).toBe('');
    expect(listed.code).toBe(0);
    expect(Array.isArray(JSON.parse(listed.out))).toBe(true);
    expect(cachesOf('list')).toHaveLength(1);

    const down = run(['list', '--connect-timeout', '1'], { TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' });
    expect(down.code).toBe(5);
    expect(down.err).toContain('127.0.0.1:1');
  });
});
