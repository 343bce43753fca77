// run_wasm.mjs - optional cross-check: run a kernel .wasm under Node's V8 with the
// same protocol and output as run.c, so the final weights hash can be compared
// with the native build (bit-for-bit determinism across native and wasm).
//
// usage: node jobs/native/run_wasm.mjs KERNEL.wasm FILE.cyxd EPOCHS [SEED]
// Last line: "RESULT epochs=E test_acc=A test_loss=L weights_fnv1a64=HEX seconds=S"
import { readFileSync } from "node:fs";

const [wasmPath, dataPath, epochsArg, seedArg] = process.argv.slice(2);
if (!wasmPath || !dataPath || !epochsArg) {
  console.error("usage: node run_wasm.mjs KERNEL.wasm FILE.cyxd EPOCHS [SEED]");
  process.exit(2);
}
const epochs = Number(epochsArg);
const seed = BigInt(seedArg ?? "42");
const metric = new Float64Array(5);
const imports = {
  cyx: {
    report_metric(key, value) {
      if (key < 0 || key > 4) throw new Error(`bad metric key ${key}`);
      metric[key] = value;
    },
  },
};
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), imports);
const x = instance.exports;
const fail = (what, rc) => { console.error(`run_wasm: ${what} returned ${rc}`); process.exit(1); };
if (x.cyx_abi_version() !== 1) fail("cyx_abi_version", x.cyx_abi_version());
const data = readFileSync(dataPath);
const ptr = x.cyx_alloc(data.length);
if (ptr === 0) fail("cyx_alloc", 0);
new Uint8Array(x.memory.buffer, ptr, data.length).set(data);
const t0 = process.hrtime.bigint();
let rc = x.cyx_init(ptr, data.length, seed);
if (rc !== 0) fail("cyx_init", rc);
for (let e = 0; e < epochs; e++) {
  if ((rc = x.cyx_train_epoch(e)) !== 0) fail(`cyx_train_epoch(${e})`, rc);
  if ((rc = x.cyx_evaluate()) !== 0) fail("cyx_evaluate", rc);
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const w = new Uint8Array(x.memory.buffer, x.cyx_weights_ptr(), x.cyx_weights_len());
let h = 0xcbf29ce484222325n;
for (const byte of w) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
console.log(`RESULT epochs=${epochs} test_acc=${metric[3].toFixed(6)} test_loss=${metric[2].toFixed(6)} ` +
  `weights_fnv1a64=${h.toString(16).padStart(16, "0")} seconds=${secs.toFixed(3)}`);
