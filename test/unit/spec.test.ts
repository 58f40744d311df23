// The migration spec as a person meets it: defaults filled in, and every mistake reported with
// the field path (and for files, the file name and the line).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { migrationSpecSchema, parseSpec, SpecError, type SpecIssue } from '../../workflows/spec';
import { loadSpecFile, SpecFileError } from '../../client/spec-file';

const root = path.resolve(__dirname, '../..');
const endpoint = (port: number) => ({ host: '127.0.0.1', port, database: 'shop', user: 'postgres', password: 'env:PW' });
const minimal = () => ({ name: 'demo', source: endpoint(54321), target: endpoint(54322) });

function issuesOf(input: unknown): SpecIssue[] {
  try {
    parseSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as SpecError).issues;
  }
  throw new Error('expected the spec to be refused');
}
const paths = (input: unknown) => issuesOf(input).map((i) => i.path);

function tempFile(name: string, content: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ferry-spec-')), name);
  writeFileSync(file, content);
  return file;
}

function fileError(file: string): SpecFileError {
  try {
    loadSpecFile(file);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecFileError);
    return err as SpecFileError;
  }
  throw new Error(`expected ${file} to be refused`);
}

describe('parseSpec', () => {
  it('applies the documented defaults to a minimal spec', () => {
    const spec = parseSpec({ name: 'demo', source: { host: 'a', database: 'd', user: 'u' }, target: { host: 'b', database: 'd', user: 'u' } });
    expect(spec.engine).toBe('native-postgres');
    expect(spec.mode).toBe('offline');
    expect(spec.source.port).toBe(5432);
    expect(spec.source.sslmode).toBe('prefer');
    expect(spec.tables).toEqual({ include: ['*.*'], exclude: [] });
    expect(spec.rename).toEqual({ schemas: {}, tables: {}, columns: {} });
    expect(spec.parallelism).toBe(4);
    expect(spec.cutover.requireApproval).toBe(true);
    expect(spec.cutover.maxLagSeconds).toBe(5);
    expect(spec.fence).toEqual({ enabled: true, terminateSessions: true });
    expect(spec.validation.level).toBe('checksums');
    expect(spec.connectionRetry.windowSeconds).toBe(12 * 3600);
    expect(spec.cleanup.keepState).toBe(false);
  });

  it('names source.port when the port is out of range or not a number', () => {
    expect(paths({ ...minimal(), source: { ...endpoint(54321), port: 70000 } })).toEqual(['source.port']);
    expect(paths({ ...minimal(), source: { ...endpoint(54321), port: '5432' } })).toEqual(['source.port']);
  });

  it('refuses a plaintext password, names source.password, and does not repeat the password', () => {
    const issues = issuesOf({ ...minimal(), source: { ...endpoint(54321), password: 'hunter2' } });
    expect(issues.map((i) => i.path)).toEqual(['source.password']);
    expect(issues[0]!.message).toMatch(/env:NAME or file:PATH/);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
  });

  it('accepts env: and file: secret references', () => {
    expect(parseSpec({ ...minimal(), target: { ...endpoint(1), password: 'file:/run/secrets/pw' } }).target.password).toBe('file:/run/secrets/pw');
    expect(parseSpec(minimal()).source.password).toBe('env:PW');
  });

  it('names an unknown key, at the top level and nested', () => {
    const issues = issuesOf({ ...minimal(), paralelism: 2, target: { ...endpoint(54322), sslmod: 'disable' } });
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'paralelism', message: 'is not a known field' },
        { path: 'target.sslmod', message: 'is not a known field' },
      ]),
    );
  });

  it('names the rename.columns entry whose key is not schema.table.column', () => {
    const p = paths({ ...minimal(), rename: { columns: { 'public.users': 'first_name' } } });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^rename\.columns\b/);
    expect(p[0]).toContain('public.users');
  });

  it('names a bad table glob and a bad cutover window time', () => {
    expect(paths({ ...minimal(), tables: { include: ['users'] } })).toEqual(['tables.include.0']);
    expect(paths({ ...minimal(), cutover: { window: { start: '25:00', end: '02:00' } } })).toEqual(['cutover.window.start']);
  });

  it('reports every mistake at once, not only the first', () => {
    const p = paths({ name: 'Bad Name', source: { ...endpoint(0), password: 'x' }, target: endpoint(1), parallelism: 0 });
    expect(p).toEqual(expect.arrayContaining(['name', 'source.port', 'source.password', 'parallelism']));
  });

  it('names missing required fields', () => {
    expect(paths({ name: 'demo', source: endpoint(1) })).toEqual(['target']);
    expect(paths({ name: 'demo', source: { host: 'a' }, target: endpoint(1) })).toEqual(expect.arrayContaining(['source.database', 'source.user']));
  });
});

describe('loadSpecFile', () => {
  it('loads examples/demo.yaml: the demo database, secret references, a harmless rename', () => {
    const spec = loadSpecFile(path.join(root, 'examples/demo.yaml'));
    expect(spec.name).toBe('demo');
    expect(spec.source).toMatchObject({ host: '127.0.0.1', port: 54321, database: 'shop', user: 'postgres', password: 'env:FERRY_SOURCE_PASSWORD', sslmode: 'disable' });
    expect(spec.target).toMatchObject({ host: '127.0.0.1', port: 54322, database: 'shop', user: 'postgres', password: 'env:FERRY_TARGET_PASSWORD', sslmode: 'disable' });
    expect(spec.parallelism).toBe(2);
    expect(spec.cutover.requireApproval).toBe(true);
    expect(spec.validation.level).toBe('checksums');
    expect(spec.rename.schemas).toEqual({ legacy: 'archive' });
  });

  it('refuses examples/bad.yaml naming the file and each bad field', () => {
    const file = path.join(root, 'examples/bad.yaml');
    const err = fileError(file);
    expect(err.kind).toBe('invalid');
    expect(err.message).toContain(file);
    expect(err.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['source.port', 'source.password', 'target.sslmod']));
    expect(err.message).not.toContain('hunter2');
  });

  it('reports a YAML syntax error with the file and the line', () => {
    const file = tempFile('broken.yaml', 'name: demo\nsource:\n  host: a\n   port: 5\n');
    const err = fileError(file);
    expect(err.kind).toBe('syntax');
    expect(err.line).toBe(3);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/YAML syntax error at line 3/);
  });

  it('reports a repeated key as a syntax error instead of keeping the last value', () => {
    const err = fileError(tempFile('dup.yml', 'name: a\nname: b\n'));
    expect(err.kind).toBe('syntax');
    expect(err.line).toBe(2);
  });

  it('does not quote the offending line (it could hold a plaintext password)', () => {
    const err = fileError(tempFile('quote.yaml', 'name: demo\nsource: { password: "hunter2\n'));
    expect(err.kind).toBe('syntax');
    expect(err.message).not.toContain('hunter2');
  });

  it('reports an unreadable file by name', () => {
    const missing = path.join(os.tmpdir(), 'ferry-no-such-dir', 'spec.yaml');
    const err = fileError(missing);
    expect(err.kind).toBe('unreadable');
    expect(err.message).toBe(`${missing}: cannot read spec file: no such file`);
  });

  it('refuses an empty file and a document that is not a mapping', () => {
    expect(fileError(tempFile('empty.yaml', '\n')).message).toMatch(/empty\.yaml: spec file is empty/);
    expect(fileError(tempFile('list.yaml', '- a\n')).kind).toBe('invalid');
  });

  it('loads JSON, ignores a top-level $schema, and reports JSON syntax errors with the line', () => {
    const spec = loadSpecFile(tempFile('spec.json', JSON.stringify({ $schema: '../docs/spec.schema.json', ...minimal() })));
    expect(spec.name).toBe('demo');
    const err = fileError(tempFile('broken.json', '{"name": "demo",\n "source": {"host": "a"}\n'));
    expect(err.kind).toBe('syntax');
    expect(err.message).toMatch(/broken\.json:3:\d+: JSON syntax error/);
  });

  it('names nested field paths from a file', () => {
    const file = tempFile('nested.yaml', 'name: demo\nsource: {host: a, database: d, user: u, port: 0}\ntarget: {host: b, database: d, user: u}\nrename: {columns: {"public.users": x}}\n');
    const err = fileError(file);
    expect(err.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['source.port']));
    expect(err.issues.some((i) => i.path.startsWith('rename.columns'))).toBe(true);
    expect(err.message).toMatch(/source\.port/);
  });
});

describe('docs/spec.schema.json', () => {
  const file = path.join(root, 'docs/spec.schema.json');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as {
    properties: Record<string, { properties?: Record<string, unknown> }>;
    required: string[];
  };

  it('is valid JSON describing the spec: source, target and their fields', () => {
    expect(schema.properties.source).toBeDefined();
    expect(schema.properties.target).toBeDefined();
    expect(Object.keys(schema.properties.source!.properties ?? {})).toEqual(expect.arrayContaining(['host', 'port', 'password', 'sslmode']));
    expect(schema.required).toEqual(expect.arrayContaining(['name', 'source', 'target']));
  });

  it('is up to date with workflows/spec.ts (regenerate with `npm run schema`)', () => {
    const fresh = z.toJSONSchema(migrationSpecSchema, { io: 'input' }) as { properties: unknown };
    const { $schema: _editorKey, ...stored } = schema.properties;
    expect(stored, 'docs/spec.schema.json is stale: run `npm run schema`').toEqual(fresh.properties);
  });
});
