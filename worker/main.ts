// The Ferry worker process. Runs until SIGINT/SIGTERM: the SDK's runtime then stops polling,
// lets running activities see cancellation and finish their rollback, and exits.
import './gcTuning'; // first: V8 settings before any COPY traffic
import { NativeConnection } from '@temporalio/worker';
import { closeParkedCaptures } from '../activities/adapters/postgres/replication';
import { describeConnection, loadConnectionOptions } from '../client/connection';
import { loadWorkerConfig } from './config';
import { createFerryWorker } from './createWorker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const { namespace, ...connectionOptions } = loadConnectionOptions();
  const connection = await NativeConnection.connect(connectionOptions);
  try {
    const worker = await createFerryWorker({ connection, namespace, config });
    console.log(`ferry worker ${config.workerId} polling '${config.taskQueue}' on ${describeConnection({ namespace, ...connectionOptions })}`);
    await worker.run();
  } finally {
    await closeParkedCaptures(); // replication sessions kept between CDC slices
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
