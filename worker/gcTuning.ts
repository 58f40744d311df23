// V8 settings for a worker that streams COPY data. Imported first by main.ts, so it runs before
// any COPY traffic (the compiled main.js requires it first).
//
// A full load moves the data through this process in socket reads (Buffers whose memory lives
// outside the JavaScript heap). With V8's default concurrent sweeping of ArrayBuffers, the memory
// of Buffers that died young is given back only when a background thread gets to it, and on a
// machine whose cores are busy with the databases that thread lags: V8 then sees "external memory
// pressure" and runs full mark-compacts every ~250 ms for the rest of the load. Measured on the
// bench (bench/results.md, 2026-11-24): over six scale-50 loads, the worker used 2.2 core-seconds
// a load on average with the default and 1.4 with this setting; mark-compacts per load went from
// 15-32 in most loads to 0-3 in most (one load in six still had 16). The setting: sweep them in the
// scavenge that finds them dead.
//
// Node documents setFlagsFromString after start-up as unsupported territory ("may result in
// unpredictable behavior ... or it may simply do nothing"); this flag is read at each sweep, and
// the measurements above were made this way. A V8 without the flag prints "unrecognized flag" and
// goes on, losing only the tuning. Passing it on the command line (node
// --no-concurrent-array-buffer-sweeping dist/worker/main.js) has the same effect.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-concurrent-array-buffer-sweeping');
