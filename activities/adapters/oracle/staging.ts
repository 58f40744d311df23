// Files that travel between the two database hosts go through GCS (El Carro's staging bucket):
// written to a folder on the source host, `gcloud storage rsync` up, rsync down into a folder
// on the target host. Paths and names are checked here so they can be put into scripts as-is.
import type { FlowStep, Side } from './flow';
import { OracleStepFailed } from './runner';

export interface Staging {
  /** gs://bucket/prefix (prefix may be empty). */
  bucket: string;
  prefix: string;
  /** Folders on the database hosts (absolute). */
  sourceDir: string;
  targetDir: string;
}

const SAFE_PATH = /^\/[A-Za-z0-9_./-]*$/;

export function checkPath(what: string, p: string): string {
  if (!SAFE_PATH.test(p) || p.includes('..')) throw new OracleStepFailed(`${what} '${p}' must be an absolute path of [A-Za-z0-9_./-] without '..'`);
  return p.replace(/\/+$/, '') || '/';
}

export function checkStaging(s: Staging): Staging {
  if (!/^[a-z0-9][a-z0-9._-]{1,220}$/.test(s.bucket)) throw new OracleStepFailed(`bucket '${s.bucket}' is not a valid GCS bucket name`);
  if (!/^[A-Za-z0-9_./-]*$/.test(s.prefix) || s.prefix.includes('..')) throw new OracleStepFailed(`prefix '${s.prefix}' may only hold [A-Za-z0-9_./-]`);
  return { ...s, sourceDir: checkPath('sourceDir', s.sourceDir), targetDir: checkPath('targetDir', s.targetDir) };
}

export function gsUrl(s: Staging, sub: string): string {
  const prefix = s.prefix.replace(/^\/+|\/+$/g, '');
  return `gs://${s.bucket}/${prefix ? `${prefix}/` : ''}${sub}`;
}

export function mkdirStep(on: Side, dir: string): FlowStep {
  return { kind: 'command', on, name: `create ${dir}`, argv: ['mkdir', '-p', dir] };
}

/** Source folder -> GCS -> target folder, checksums compared by gcloud. */
export function transferSteps(s: Staging, sub: string, what: string): FlowStep[] {
  return [
    { kind: 'command', on: 'source', name: `upload ${what} to GCS`, argv: ['gcloud', 'storage', 'rsync', '--checksums-only', `${s.sourceDir}/${sub}`, gsUrl(s, sub)] },
    mkdirStep('target', `${s.targetDir}/${sub}`),
    { kind: 'command', on: 'target', name: `download ${what} from GCS`, argv: ['gcloud', 'storage', 'rsync', '--checksums-only', gsUrl(s, sub), `${s.targetDir}/${sub}`] },
  ];
}

export function clearStep(on: Side, dir: string): FlowStep {
  return { kind: 'command', on, name: `clear ${dir}`, argv: ['find', dir, '-mindepth', '1', '-delete'] };
}
