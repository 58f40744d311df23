// Starts the compiled CLI, dist/ferry.cjs (client/cli.ts and everything it imports in one file,
// built by `npm run build`), with a V8 code cache, so a command does not spend most of its start
// compiling the same 5 MB of JavaScript again.
//
// Why by hand: Node 20 has no module compile cache (module.enableCompileCache is Node 22), and a
// cache taken right after compiling (what v8-compile-cache does) holds only top-level code, as
// V8 compiles functions lazily; one taken when the command ends holds every function it ran.
// So there is one cache per command (`start` runs other code than `status`), written by the first
// run of that command. V8 checks the cache against the source and its own version and flags, and
// rejects one that does not fit; a rejected or missing cache is written anew. The cache is only an
// optimisation: any failure to read or write it is ignored.
// Measured (bench/results.md): `ferry list` 0.47 s from tsc's output, 0.41 s from the bundle,
// 0.30 s from the bundle with this cache.
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** Where the caches live: FERRY_CLI_CACHE_DIR, else $XDG_CACHE_HOME/ferry/cli, else ~/.cache/ferry/cli; `off` disables them. */
function cacheDir(): string | undefined {
  const set = process.env.FERRY_CLI_CACHE_DIR;
  if (set === 'off') return undefined;
  if (set) return set;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ferry', 'cli');
}

/** The cache file of this command for this build of the bundle and this Node. */
function cacheFile(dir: string, bundle: string, argv: string[]): { file: string; prefix: string } {
  const command = argv.find((a) => !a.startsWith('-'));
  const name = command && /^[a-z][a-z-]{0,30}$/.test(command) ? command : 'other';
  const s = statSync(bundle);
  const prefix = `${name}.`;
  return { file: join(dir, `${prefix}${s.size}-${Math.trunc(s.mtimeMs)}-${process.version}-${process.arch}.v8cache`), prefix };
}

/** The cache, unless missing or writable by anyone but this user (V8 would run what it holds). */
function readCache(file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    const s = statSync(file);
    if ((s.mode & 0o022) !== 0 || (process.getuid && s.uid !== process.getuid())) return undefined;
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Write atomically (another command may be reading it), replacing this command's caches of older builds. */
function writeCache(dir: string, file: string, prefix: string, data: Buffer): void {
  try {
    // Private to the user: V8 runs what a cache holds, so nobody else may write one.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, file);
    for (const old of readdirSync(dir)) {
      if (old.startsWith(prefix) && join(dir, old) !== file && old.endsWith('.v8cache')) unlinkSync(join(dir, old));
    }
  } catch {
    // A read-only or full disk only costs the next command its compile time.
  }
}

/** Run the bundle at `bundle` as the main module, through the code cache. */
export function launch(bundle: string, argv = process.argv.slice(2)): void {
  const source = readFileSync(bundle, 'utf8');
  const dir = cacheDir();
  let cache: { file: string; prefix: string } | undefined;
  try {
    cache = dir ? cacheFile(dir, bundle, argv) : undefined;
  } catch {
    cache = undefined;
  }
  const cachedData = readCache(cache?.file);
  // No import() in the bundle (built with dynamic-import unsupported: it becomes require), so the
  // script needs no dynamic-import loader.
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData });
  if (dir && cache && (cachedData === undefined || script.cachedDataRejected)) {
    const { file, prefix } = cache;
    // At exit V8 has compiled every function the command ran, and they all go into the cache.
    process.once('exit', () => writeCache(dir, file, prefix, script.createCachedData()));
  }
  const mod = new Module(bundle);
  mod.filename = bundle;
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: Module,
    filename: string,
    dirname: string,
  ) => void;
  wrapper.call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, dirname(bundle));
}

// dist/client/launcher.js starts dist/ferry.cjs.
if (require.main === module) launch(join(__dirname, '..', 'ferry.cjs'));
