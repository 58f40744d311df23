// Writes docs/spec.schema.json from the zod spec, so editors can complete and check
// migration specs (e.g. `# yaml-language-server: $schema=../docs/spec.schema.json`).
// Run after any change to workflows/spec.ts: `npm run schema`.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { migrationSpecSchema } from '../workflows/spec';

const out = path.resolve(__dirname, '..', 'docs', 'spec.schema.json');

// io: 'input' describes what a person writes: fields with defaults are optional.
const schema = z.toJSONSchema(migrationSpecSchema, { io: 'input' });

// A JSON spec may name this schema for its editor; the loader (client/spec-file.ts) drops the key.
const properties = {
  $schema: { type: 'string', description: 'This schema, for editors; ignored by Ferry.' },
  ...(schema.properties ?? {}),
};

const document = {
  ...schema,
  properties,
  $id: 'https://ferry.dev/schemas/spec.schema.json',
  title: 'Ferry migration spec',
  description:
    'One database migration run by Ferry as a Temporal workflow. Generated from workflows/spec.ts by scripts/generate-json-schema.ts; do not edit.',
};

mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
