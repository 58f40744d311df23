// createActivities(deps): the worker injects engines and the secret resolver; workflows import
// only the type (proxyActivities<ReturnType<typeof createActivities>>).
import type { ActivityDeps } from './context';
import { precheckActivities } from './precheck';
import { provisionActivities } from './provision';
import { fullLoadActivities } from './fullLoad';
import { cutoverActivities } from './cutover';
import { validateActivities } from './validate';
import { cleanupActivities } from './cleanup';
import { cdcActivities } from './cdc';
import { createPitrActivities } from './pitr';
import { createDmsActivities } from './dms';
import { createOracleActivities } from './oracle';

export type { ActivityDeps } from './context';

export function createActivities(deps: ActivityDeps) {
  return {
    ...precheckActivities(deps),
    ...provisionActivities(deps),
    ...fullLoadActivities(deps),
    ...cutoverActivities(deps),
    ...validateActivities(deps),
    ...cleanupActivities(deps),
    ...cdcActivities(deps),
    ...createOracleActivities(deps),
    ...createDmsActivities({ heartbeatIntervalMs: deps.heartbeatIntervalMs, ...deps.dms }),
    ...createPitrActivities({ secrets: deps.secrets, heartbeatIntervalMs: deps.heartbeatIntervalMs }),
  };
}

export type FerryActivities = ReturnType<typeof createActivities>;
