// ort-run.mjs: runs an ONNX model in ONNX Runtime (the onnxruntime-node
// package) on one float32 input, for tests/engine/test-onnx-export.c.
//
//   node ort-run.mjs --check
//       prints ONNX Runtime's version; exits 3 with the reason when the
//       package cannot be loaded
//   node ort-run.mjs MODEL INPUT.bin D0,D1,... OUTPUT.bin
//       feeds the raw float32 (little-endian) INPUT.bin, of shape D0×D1×…,
//       to the model's only input and writes its first output the same
//       way; prints the output's shape
//   node ort-run.mjs --bench MODEL SIDE BATCH IMAGES THREADS REPEATS
//       for tools/bench/compare: runs the model on IMAGES pictures of
//       SIDE×SIDE in batches of BATCH, THREADS intra-op threads, every
//       graph optimisation, after one warm-up batch; prints "rate R"
//       (images per second) per repeat
//
// The package is looked up in $GRAFT_ORT_DIR (a folder holding
// node_modules/onnxruntime-node), else beside this script, where
// tools/test installs it.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXIT_MISSING = 3;
const EXIT_USAGE = 2;

function loadOrt() {
  const dir = process.env.GRAFT_ORT_DIR || dirname(fileURLToPath(import.meta.url));
  const require = createRequire(join(dir, 'package.json'));
  try {
    return require('onnxruntime-node');
  } catch (e) {
    console.log(`onnxruntime-node cannot be loaded from ${dir}: ${e.message.split('\n')[0]}`);
    process.exit(EXIT_MISSING);
  }
}

async function run(ort, [modelPath, inputPath, shapeText, outputPath]) {
  const shape = shapeText.split(',').map(Number);
  const bytes = readFileSync(inputPath);
  // A copy, so that the floats start on a 4-byte boundary.
  const data = new Float32Array(new Uint8Array(bytes).buffer);
  const session = await ort.InferenceSession.create(modelPath);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  const results = await session.run(feeds);
  const output = results[session.outputNames[0]];
  writeFileSync(outputPath, Buffer.from(output.data.buffer, output.data.byteOffset,
                                        output.data.byteLength));
  console.log(output.dims.join(','));
}

async function bench(ort, [modelPath, ...numbers]) {
  const [side, batch, images, threads, repeats] = numbers.map(Number);
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const input = session.inputNames[0];
  const data = new Float32Array(batch * 3 * side * side);
  for (let i = 0; i < data.length; i++)
    data[i] = ((i * 2654435761) % 1000) / 500 - 1;
  const feeds = (n) => ({
    [input]: new ort.Tensor('float32', data.subarray(0, n * 3 * side * side),
                            [n, 3, side, side]),
  });
  await session.run(feeds(batch));
  for (let r = 0; r < repeats; r++) {
    const start = process.hrtime.bigint();
    for (let done = 0; done < images; done += batch)
      await session.run(feeds(Math.min(batch, images - done)));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`rate ${(images / seconds).toFixed(3)}`);
  }
}

const args = process.argv.slice(2);
const ort = loadOrt();
if (args.length === 1 && args[0] === '--check') {
  console.log(ort.env.versions?.node ?? 'unknown version');
} else if (args.length === 7 && args[0] === '--bench') {
  await bench(ort, args.slice(1));
} else if (args.length === 4) {
  await run(ort, args);
} else {
  console.error('usage: ort-run.mjs --check | MODEL INPUT.bin D0,D1,... OUTPUT.bin\n'
                + '       | --bench MODEL SIDE BATCH IMAGES THREADS REPEATS');
  process.exit(EXIT_USAGE);
}
