// Table mappings JSON from the spec: selection rules from tables.include/exclude and rename
// transformation rules from spec.rename (schema, table, column). Pure.
import type { MigrationSpec } from '../../../workflows/spec';

export interface DmsRule {
  'rule-type': 'selection' | 'transformation';
  'rule-id': string;
  'rule-name': string;
  'rule-action': string;
  'object-locator': Record<string, string>;
  'rule-target'?: 'schema' | 'table' | 'column';
  value?: string;
}

/**
 * Ferry's globs (`*` any run, `?` one character) in DMS wildcards (`%`, `_`). DMS's own wildcard
 * characters in a name are escaped as a bracket set: `_` -> `[_]`, `%` -> `[%]`, `[` -> `[[]`.
 */
export function globToDms(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '%';
    else if (ch === '?') out += '_';
    else if (ch === '_' || ch === '%' || ch === '[') out += `[${ch}]`;
    else out += ch;
  }
  return out;
}

/** A name used literally (rename locators): only escapes, no wildcards. */
function literal(name: string): string {
  return name.replace(/[_%[]/g, (c) => `[${c}]`);
}

function splitPattern(pattern: string): [string, string] {
  const dot = pattern.indexOf('.');
  return [pattern.slice(0, dot), pattern.slice(dot + 1)];
}

export function tableMappings(spec: Pick<MigrationSpec, 'tables' | 'rename'>): { rules: DmsRule[] } {
  const rules: DmsRule[] = [];
  const add = (rule: Omit<DmsRule, 'rule-id' | 'rule-name'>, name: string) => {
    const id = String(rules.length + 1);
    rules.push({ ...rule, 'rule-id': id, 'rule-name': `${id}-${name}`.slice(0, 255) });
  };
  for (const pattern of spec.tables.include) {
    const [schema, table] = splitPattern(pattern);
    add({ 'rule-type': 'selection', 'rule-action': 'include', 'object-locator': { 'schema-name': globToDms(schema), 'table-name': globToDms(table) } }, `include-${pattern}`);
  }
  for (const pattern of spec.tables.exclude) {
    const [schema, table] = splitPattern(pattern);
    add({ 'rule-type': 'selection', 'rule-action': 'exclude', 'object-locator': { 'schema-name': globToDms(schema), 'table-name': globToDms(table) } }, `exclude-${pattern}`);
  }
  // Transformation locators name the source objects (DMS applies every rule to source names).
  for (const [from, to] of Object.entries(spec.rename.schemas)) {
    add({ 'rule-type': 'transformation', 'rule-target': 'schema', 'rule-action': 'rename', value: to, 'object-locator': { 'schema-name': literal(from) } }, `rename-schema-${from}`);
  }
  for (const [from, to] of Object.entries(spec.rename.tables)) {
    const [schema, table] = splitPattern(from);
    add(
      { 'rule-type': 'transformation', 'rule-target': 'table', 'rule-action': 'rename', value: to, 'object-locator': { 'schema-name': literal(schema), 'table-name': globToDms(table) } },
      `rename-table-${from}`,
    );
  }
  for (const [from, to] of Object.entries(spec.rename.columns)) {
    const [schema, table, column] = from.split('.') as [string, string, string];
    add(
      {
        'rule-type': 'transformation',
        'rule-target': 'column',
        'rule-action': 'rename',
        value: to,
        'object-locator': { 'schema-name': literal(schema), 'table-name': literal(table), 'column-name': literal(column) },
      },
      `rename-column-${from}`,
    );
  }
  return { rules };
}
