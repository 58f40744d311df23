// precheck: read-only checks of both sides, one item per finding, each naming what it is about.
// The checks themselves live in ./prechecks/, one small function per concern.
import type { PrecheckItem } from '../../../workflows/types';
import type { EngineContext } from '../engine';
import { runPrechecks } from './prechecks';

export async function precheck(ctx: EngineContext): Promise<PrecheckItem[]> {
  return runPrechecks(ctx);
}
