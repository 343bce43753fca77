// Anchor's own TypeScript client (@anchor-lang/core 1.2) against a running localnet, as a
// user would drive it: the IDLs come from the chain (Program.fetchIdl / Program.at), a
// failed instruction is an AnchorError naming the program error, simulate shows the same
// program logs, and events decode.
//
//   cargo run -p cyxwiz-localnet -- --rpc-port 8899 --ws-port 8900 --state-dir /tmp/ln &
//   (cd crates/localnet/tests/js && npm ci && CYXWIZ_LOCALNET_STATE=/tmp/ln npm test)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as anchor from "@anchor-lang/core";
import { Connection, Keypair, PublicKey } from "@solana/web3.js";

const stateDir = process.env.CYXWIZ_LOCALNET_STATE ?? ".cyxwiz/localnet";
const net = JSON.parse(readFileSync(`${stateDir}/localnet.json`, "utf8"));
const key = (name) =>
  Keypair.fromSecretKey(
    Uint8Array.from(JSON.parse(readFileSync(`${stateDir}/${name}.json`, "utf8"))),
  );
const connection = new Connection(net.rpc_url, "confirmed");
const provider = (kp) =>
  new anchor.AnchorProvider(connection, new anchor.Wallet(kp), {
    commitment: "confirmed",
    preflightCommitment: "confirmed",
  });

test("Program.fetchIdl finds every program's IDL on chain", async () => {
  for (const [name, id] of Object.entries(net.programs)) {
    const idl = await anchor.Program.fetchIdl(new PublicKey(id), provider(key("faucet")));
    assert.ok(idl, `no IDL for ${name}`);
    assert.equal(idl.address, id);
    assert.equal(idl.metadata.name, name);
  }
});

test("a non-admin's set_paused is an AnchorError: NotAdmin (7000), and simulate agrees", async () => {
  const faucet = key("faucet"); // not the admin
  const program = await anchor.Program.at(net.programs.job_escrow, provider(faucet));
  const call = () => program.methods.setPaused(true).accounts({ admin: faucet.publicKey });

  const sent = await call().rpc().then(
    () => assert.fail("set_paused by a non-admin succeeded"),
    (e) => e,
  );
  assert.ok(sent instanceof anchor.AnchorError, `not an AnchorError: ${sent}`);
  assert.equal(sent.error.errorCode.code, "NotAdmin");
  assert.equal(sent.error.errorCode.number, 7000);
  assert.equal(sent.error.errorMessage, "Signer is not the escrow admin");
  assert.equal(sent.error.origin, "admin");
  assert.equal(sent.error.comparedValues[0].toBase58(), faucet.publicKey.toBase58());
  assert.equal(sent.error.comparedValues[1].toBase58(), key("admin").publicKey.toBase58());
  assert.equal(sent.program.toBase58(), net.programs.job_escrow);

  // `.simulate()` throws a SimulateError carrying the simulation (Anchor does not turn
  // that one into an AnchorError); its logs are the very same lines, and they parse.
  const simulated = await call().simulate().then(
    () => assert.fail("simulated set_paused by a non-admin succeeded"),
    (e) => e,
  );
  const simLogs = simulated.simulationResponse?.logs;
  assert.deepEqual(simLogs, sent.logs, `${simulated}`);
  const parsed = anchor.AnchorError.parse(simLogs);
  assert.equal(parsed.error.errorCode.code, "NotAdmin");
  assert.equal(parsed.error.errorCode.number, 7000);
});

test("the admin's set_paused succeeds with the instruction's log line", async () => {
  const admin = key("admin");
  const program = await anchor.Program.at(net.programs.job_escrow, provider(admin));
  const { raw } = await program.methods
    .setPaused(false)
    .accounts({ admin: admin.publicKey })
    .simulate();
  assert.deepEqual(raw, [
    `Program ${net.programs.job_escrow} invoke [1]`,
    "Program log: Instruction: SetPaused",
    `Program ${net.programs.job_escrow} success`,
  ]);
});
