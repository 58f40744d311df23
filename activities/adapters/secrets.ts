// Secret references are resolved here, inside activities, and nowhere else: the workflow and its
// history only ever see `env:NAME` or `file:PATH`.
import { readFile } from 'node:fs/promises';
import { SecretUnavailable } from './errors';

export type SecretResolver = (ref: string, field: string) => Promise<string>;

/** Resolves `env:NAME` from the worker's environment and `file:PATH` from the worker's disk. */
export function createSecretResolver(env: NodeJS.ProcessEnv = process.env): SecretResolver {
  return async (ref, field) => {
    if (ref.startsWith('env:')) {
      const name = ref.slice(4);
      const value = env[name];
      if (value === undefined) throw new SecretUnavailable(`${field}: environment variable ${name} is not set on the worker`);
      return value;
    }
    if (ref.startsWith('file:')) {
      const path = ref.slice(5);
      try {
        // A trailing newline in a password file is never part of the password.
        return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw new SecretUnavailable(`${field}: cannot read ${path} on the worker (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    }
    throw new SecretUnavailable(`${field}: unsupported secret reference (use env:NAME or file:PATH)`);
  };
}
