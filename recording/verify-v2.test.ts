// Manifest v2 (recorded at the source) against a connector or a store that lies: the chain is rebuilt from
// its entries, the head must be the connector's signature over the chain's last chunk, and the chunks must
// cover what the room witnessed. Each attack is named; an honest incomplete recording is not tampering.
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { CHUNK_TYP, type ChunkClaims, type RecordingManifestV2, type Witness } from "../protocol/index.ts";
import { genesis, sealChunk } from "./chain.ts";
import { signManifest } from "./manifest.ts";
import { type RecordingReader, verifyRecording } from "./verify.ts";

const edge = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
const edgePublic = await exportJWK(edge.publicKey);
const connector = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
const connectorPublic: JWK = await exportJWK(connector.publicKey);
const stranger = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });

const RID = "rec-v2";
const SID = "ses-v2";
const PARTS = [
  '{"version":2,"width":80,"height":24}\n[0,"o","hello"]\n',
  '[1,"o","world"]\n[2,"m","end: user_exit"]\n',
];

async function signClaims(claims: ChunkClaims, key = connector.privateKey, pub = connectorPublic): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: "EdDSA", typ: CHUNK_TYP, kid: await calculateJwkThumbprint(pub) })
    .sign(key);
}

type Build = {
  out?: number;
  input?: number;
  final?: boolean;
  witness?: Partial<Witness>;
  complete?: boolean;
  headKey?: "connector" | "stranger";
  headSeq?: number;
  gap?: RecordingManifestV2["gap"];
};

async function build(o: Build = {}) {
  const chunks = new Map<number, Uint8Array>();
  const entries = [];
  let prev = await genesis(RID);
  let last: ChunkClaims | null = null;
  for (const [seq, text] of PARTS.entries()) {
    const { data, entry } = await sealChunk(RID, seq, new TextEncoder().encode(text), prev);
    chunks.set(seq, data);
    entries.push(entry);
    prev = entry.link;
    last = { rid: RID, sid: SID, ...entry, out: o.out ?? 10, in: o.input ?? 0, final: o.final ?? true, at: 1 };
  }
  const headClaims = { ...last!, ...(o.headSeq !== undefined ? { seq: o.headSeq } : {}) };
  const head =
    o.headKey === "stranger"
      ? await signClaims(headClaims, stranger.privateKey, await exportJWK(stranger.publicKey))
      : await signClaims(headClaims);
  const manifest: RecordingManifestV2 = {
    v: 2,
    recordingId: RID,
    sessionId: SID,
    userId: "u1",
    username: "alice",
    serverId: "srv1",
    zoneId: "z1",
    format: "asciicast-v2",
    compression: "gzip",
    connectorId: "c1",
    signers: [{ ...connectorPublic, kid: await calculateJwkThumbprint(connectorPublic) }],
    chunks: entries,
    head,
    witness: {
      output: 10,
      input: 0,
      markers: [],
      startedAt: 1,
      endedAt: 2,
      endReason: "user_exit",
      endedBy: "connector",
      recordingFailed: null,
      ...o.witness,
    },
    complete: o.complete ?? o.final ?? true,
    gap: o.gap ?? null,
    signedAt: 3,
  };
  const jws = await signManifest(manifest, edge.privateKey);
  const reader: RecordingReader = {
    manifest: async () => jws,
    list: async () => [...chunks.keys()],
    chunk: async (seq) => chunks.get(seq) ?? null,
  };
  return verifyRecording(RID, reader, edgePublic);
}

const kinds = async (o: Build) => {
  const { report } = await build(o);
  return { status: report.status, kinds: report.problems.map((p) => p.kind) };
};

describe("manifest v2 verification", () => {
  it("an honest recording verifies offline with the edge key alone, and reports its coverage", async () => {
    const { report } = await build();
    expect(report).toMatchObject({
      status: "verified",
      problems: [],
      coverage: { output: 10, recordedOutput: 10, input: 0, recordedInput: 0 },
    });
  });

  it("a head signed by a key the manifest does not name is tampering", async () => {
    const verdict = await kinds({ headKey: "stranger" });
    expect(verdict.status).toBe("tampered");
    expect(verdict.kinds).toContain("signature");
  });

  it("a head that is not the chain's last chunk is tampering", async () => {
    expect(await kinds({ headSeq: 0 })).toEqual({ status: "tampered", kinds: ["chain"] });
  });

  it("under-reporting (the last chunk holds less output than the room relayed) is tampering", async () => {
    expect(await kinds({ out: 7 })).toEqual({ status: "tampered", kinds: ["witness"] });
  });

  it("invented output is tampering when the connector ended the session; after the room stopped relaying, not", async () => {
    expect(await kinds({ out: 12 })).toEqual({ status: "tampered", kinds: ["witness"] });
    expect(await kinds({ out: 12, witness: { endedBy: "room", endReason: "killed" } })).toEqual({
      status: "verified",
      kinds: [],
    });
  });

  it("invented input is tampering; less input than relayed is not (it never reached the target either)", async () => {
    expect(await kinds({ input: 5, witness: { input: 3 } })).toEqual({ status: "tampered", kinds: ["witness"] });
    expect(await kinds({ input: 3, witness: { input: 5 } })).toEqual({ status: "verified", kinds: [] });
  });

  it("a manifest that says complete without a last chunk is tampering", async () => {
    expect(await kinds({ final: false, complete: true })).toEqual({ status: "tampered", kinds: ["manifest"] });
  });

  it("an honest incomplete recording (no last chunk, the gap where the chunks stop) reads as incomplete", async () => {
    const gap = { reason: "connector_lost", fromSeq: 2, outputFrom: 10, outputTo: 25 };
    const honest = await kinds({ final: false, witness: { output: 25, endedBy: "room" }, gap });
    expect(honest).toEqual({ status: "incomplete", kinds: ["incomplete"] });
    const wrongGap = await kinds({
      final: false,
      witness: { output: 25, endedBy: "room" },
      gap: { ...gap, outputFrom: 4 },
    });
    expect(wrongGap).toEqual({ status: "tampered", kinds: ["manifest"] });
  });
});
