// Load a migration spec from a YAML or JSON file and validate it with parseSpec, so every error
// a person sees names the file and either the line (syntax) or the field path (content).
// Error messages never quote file contents: a mistyped line could hold a plaintext password.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { parseSpec, SpecError } from '../workflows/spec';
import type { MigrationSpec, SpecIssue } from '../workflows/spec';

export type SpecFileErrorKind = 'unreadable' | 'syntax' | 'invalid';

/** A spec file that cannot be used; `kind` says whether to fix the path, the syntax or the fields. */
export class SpecFileError extends Error {
  constructor(
    readonly file: string,
    readonly kind: SpecFileErrorKind,
    message: string,
    /** For `invalid`: one entry per bad field, path dotted as in the spec (`source.port`). */
    readonly issues: SpecIssue[] = [],
    /** For `syntax`: 1-based position of the first error. */
    readonly line?: number,
    readonly column?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SpecFileError';
  }
}

/** Read and parse a file (`-` = stdin) into plain data, without validating it. */
export function readSpecData(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new SpecFileError(file, 'unreadable', `${file}: cannot read spec file: ${why}`, [], undefined, undefined, { cause: err });
  }
  if (text.trim() === '') throw new SpecFileError(file, 'syntax', `${file}: spec file is empty`);

  if (path.extname(file).toLowerCase() === '.json') return parseJson(file, text);
  // .yaml, .yml and anything else: YAML (a superset of JSON, so a JSON spec under another name works too).
  return parseYaml(file, text);
}

function yamlErrorPosition(text: string): { line: number; col: number; reason: string } | undefined {
  // uniqueKeys (default) makes a repeated key an error instead of silently keeping the last one.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (!first) return undefined;
  const pos = first.linePos?.[0] ?? { line: 0, col: 0 };
  // The first line is the diagnosis; the rest would quote the source line.
  const reason = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?\s*$/, '');
  return { line: pos.line, col: pos.col, reason };
}

function syntaxError(file: string, format: string, reason: string, line?: number, column?: number, cause?: unknown): SpecFileError {
  const where = line ? `:${line}:${column}` : '';
  const at = line ? ` at line ${line}, column ${column}` : '';
  return new SpecFileError(file, 'syntax', `${file}${where}: ${format} syntax error${at}: ${reason}`, [], line, column, { cause });
}

function parseYaml(file: string, text: string): unknown {
  const error = yamlErrorPosition(text);
  if (error) throw syntaxError(file, 'YAML', error.reason, error.line || undefined, error.col || undefined);
  return parseDocument(text).toJS();
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = (err as Error).message;
    // V8 gives a position for some errors only; the YAML parser (JSON is YAML) finds the others.
    let line: number | undefined;
    let column: number | undefined;
    const m = /position (\d+)/.exec(message);
    if (m) {
      const before = text.slice(0, Number(m[1]));
      line = before.split('\n').length;
      column = before.length - before.lastIndexOf('\n');
    } else {
      const y = yamlErrorPosition(text);
      if (y?.line) ({ line, col: column } = y);
    }
    // Drop V8's quote of the input (`..."password": "x" is not valid JSON`) and its position.
    const reason = message.replace(/ in JSON at position \d+.*$/s, '').replace(/, (?:\.\.\.)?".*$/s, '').replace(/^Unexpected token '(.)'$/, "unexpected '$1'");
    throw syntaxError(file, 'JSON', reason, line, column, err);
  }
}

/**
 * Load, validate and default a spec file. Throws SpecFileError: unreadable, syntax (with line)
 * or invalid (with every bad field path).
 */
export function loadSpecFile(file: string): MigrationSpec {
  const data = readSpecData(file);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new SpecFileError(file, 'invalid', `${file}: invalid migration spec: the document must be a mapping of fields (name, source, target, ...)`, [
      { path: '', message: 'must be a mapping of fields' },
    ]);
  }
  // `$schema` lets editors find docs/spec.schema.json; it is not part of the spec itself.
  const { $schema: _schema, ...fields } = data as Record<string, unknown>;
  try {
    return parseSpec(fields);
  } catch (err) {
    if (err instanceof SpecError) {
      throw new SpecFileError(file, 'invalid', `${file}: ${err.message}`, err.issues, undefined, undefined, { cause: err });
    }
    throw err;
  }
}
