// V8 settings for a worker that streams COPY data. Imported first by main.ts, before anything allocates.
//
// A full load moves the data through this process in socket reads (Buffers whose memory lives
// outside the JavaScript heap). With V8's default concurrent sweeping of ArrayBuffers, the memory
// of Buffers that died young is given back only when a background thread gets to it, and on a
// machine whose cores are busy with the databases that thread lags: V8 then sees "external memory
// pressure" and runs full mark-compacts every ~250 ms for the rest of the load. Measured on the
// bench (bench/results.md): the worker used 2.4-3.2 core-seconds per scale-50 load in that state
// against 1.1-1.3 without it, and the state came and went between runs. Sweeping them during the
// scavenge that finds them dead keeps the worker in the cheap state.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-concurrent-array-buffer-sweeping');
