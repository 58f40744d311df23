// V8 settings for a worker that streams COPY data.
//
// A full load moves the data through this process in socket reads (Buffers whose memory lives
// outside the JavaScript heap). With V8's default concurrent sweeping of ArrayBuffers, the memory
// of Buffers that died young is given back only when a background thread gets to it, and on a
// machine whose cores are busy with the databases that thread lags: V8 then sees "external memory
// pressure" and runs full mark-compacts every ~250 ms for the rest of the load. The setting:
// sweep them in the scavenge that finds them dead.
//
// Give it on the command line: `node --no-concurrent-array-buffer-sweeping dist/worker/main.js`
// (`npm run start:worker`; `npm run worker` passes it too, and the scripts take it from
// FERRY_WORKER_NODE_FLAGS in scripts/lib.sh). Set from here, after V8 has started, it takes
// effect only in part. Measured 2026-11-24 on scale-50 bench loads
// (`--trace-gc`, three loads each, the worker's CPU per load):
//   neither                   87 mark-compacts, 3.2 core-s
//   only setFlagsFromString   30 mark-compacts, 1.8 core-s
//   on the command line        6 mark-compacts, 1.2-1.4 core-s (peak RSS unchanged, 265 MB)
// This file stays as the fallback for a worker started without the flag (Node documents
// setFlagsFromString after start-up as unsupported territory; a V8 without the flag prints
// "unrecognized flag" and goes on). Imported first by main.ts, before any COPY traffic.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-concurrent-array-buffer-sweeping');
