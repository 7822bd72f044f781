// TLS-RPT from the bridge (RFC 8460): direct sessions under MTA-STS reach the edge's
// /v1/inbound/tls in signed batches (flushed on a timer or when full), a batch the edge failed
// is posted again with the same id, and past the bound the oldest sessions are dropped and
// counted. The edge here is the fake one of test/node/fixtures (it checks each door's signature).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../bridge/src/log.ts";
import { createMetrics, type Metrics } from "../../bridge/src/metrics.ts";
import type { TlsSession } from "../../bridge/src/smtp/send.ts";
import { TlsReports, tlsSessionReport } from "../../bridge/src/smtp/tls-reports.ts";
import { EDGE_TLS_INBOUND_PATH, tlsSessionBatch, type TlsSessionBatch, type TlsSessionReport } from "../../src/core/bridge.ts";
import { cachePolicy } from "../../src/core/mta-sts.ts";
import { startFakeEdge, type FakeEdge } from "./fixtures/fake-edge.ts";
import { SECRET } from "./fixtures/signed.ts";
import { waitFor } from "../wait.ts";

const session = (n: number): TlsSessionReport => ({
  policy: { type: "sts", domain: `d${n % 3}.example` },
  result: n % 2 ? "success" : "certificate-expired",
  receivingMxHostname: `mx.d${n % 3}.example`,
});

let edge: FakeEdge<TlsSessionBatch>;
let reports: TlsReports | undefined;
let metrics: Metrics;
beforeEach(async () => {
  edge = await startFakeEdge<TlsSessionBatch>();
  metrics = createMetrics(
    () => ({}),
    () => ({}),
    () => ({}),
  );
});
afterEach(async () => {
  await reports?.close(0);
  reports = undefined;
  await edge.close();
});

const dropped = async (why: string) => (await metrics.tlsReportsDropped.get()).values.find((v) => v.labels.why === why)?.value ?? 0;

describe("TLS-RPT sessions to the edge", () => {
  it("posts them batched and signed to /v1/inbound/tls, within the contract", async () => {
    reports = new TlsReports({ edgeUrl: edge.url, secret: SECRET, flushMs: 50, maxBatch: 500 });
    for (let n = 0; n < 7; n++) reports.add(session(n));
    await edge.waitFor(1);
    await waitFor(() => reports!.pending() === 0, "the batch taken");
    expect(edge.requests).toHaveLength(1);
    const [request] = edge.requests;
    expect(request!.path).toBe(EDGE_TLS_INBOUND_PATH);
    expect(request!.verified).toBe(true);
    const batch = tlsSessionBatch.parse(request!.json);
    expect(batch.sessions).toEqual(Array.from({ length: 7 }, (_, n) => session(n)));
  });

  it("sends a full batch at once, without waiting for the timer", async () => {
    // A timer far away: only "full" can send.
    reports = new TlsReports({ edgeUrl: edge.url, secret: SECRET, flushMs: 3_600_000, maxBatch: 4 });
    for (let n = 0; n < 4; n++) reports.add(session(n));
    await edge.waitFor(1);
    await waitFor(() => reports!.pending() === 0, "the first batch taken");
    for (let n = 4; n < 8; n++) reports.add(session(n));
    await edge.waitFor(2);
    expect(edge.requests.map((r) => r.json.sessions.length)).toEqual([4, 4]);
    expect(new Set(edge.requests.map((r) => r.json.batchId)).size).toBe(2);
  });

  it("keeps a batch the edge failed (5xx) and posts it again with the same id", async () => {
    let answered = 0;
    edge.mode = () => (answered++ === 0 ? "fail" : "accept");
    reports = new TlsReports({ edgeUrl: edge.url, secret: SECRET, flushMs: 50 });
    for (let n = 0; n < 3; n++) reports.add(session(n));
    await edge.waitFor(2);
    await waitFor(() => reports!.pending() === 0, "the batch taken on the retry");
    const [first, second] = edge.requests;
    expect(second!.json.batchId).toBe(first!.json.batchId);
    expect(second!.json.sessions).toEqual(first!.json.sessions);
    // Sessions that came after the failed attempt go in a batch of their own.
    reports.add(session(3));
    await edge.waitFor(3);
    expect(edge.requests[2]!.json.batchId).not.toBe(first!.json.batchId);
    expect(edge.requests[2]!.json.sessions).toEqual([session(3)]);
  });

  it("keeps them while the edge is down, and drops the oldest past the bound, counted", async () => {
    edge.mode = "fail";
    reports = new TlsReports({ edgeUrl: edge.url, secret: SECRET, flushMs: 3_600_000, maxBatch: 5, maxPending: 10, metrics });
    for (let n = 0; n < 12; n++) reports.add(session(n));
    await edge.waitFor(1);
    // 12 sessions in batches of 5, 5, 2: past 10 the oldest batch went.
    expect(reports.pending()).toBe(7);
    expect(await dropped("overflow")).toBe(5);
    edge.mode = "accept";
    // A flush may still be finishing its failed attempt: the next one takes what is left.
    await waitFor(async () => {
      await reports!.flush();
      return reports!.pending() === 0;
    }, "the kept sessions taken");
    const taken = edge.requests.filter((r) => r.answeredAt !== undefined).slice(-2);
    expect(taken.flatMap((r) => r.json.sessions)).toEqual(Array.from({ length: 7 }, (_, n) => session(n + 5)));
  });

  it("drops a batch the edge refuses as invalid (400) rather than retrying it for ever", async () => {
    edge.mode = { status: 400, body: { error: { code: "validation_failed", message: "no", details: [] } } };
    reports = new TlsReports({
      edgeUrl: edge.url,
      secret: SECRET,
      flushMs: 3_600_000,
      metrics,
      log: createLogger("silent"),
    });
    reports.add(session(1));
    await reports.flush();
    expect(reports.pending()).toBe(0);
    expect(await dropped("rejected")).toBe(1);
  });

  it("reports a session with the lines of the policy it was held to", () => {
    const cached = cachePolicy("20261206", { mode: "enforce", maxAge: 86_400, mx: ["mx.example.net", "*.backup.example.net"] }, 0);
    const base: TlsSession = { domain: "example.net", policyId: "20261206", mode: "enforce", mxHost: "mx.example.net", result: "success" };
    expect(tlsSessionReport(base, cached)).toEqual({
      policy: {
        type: "sts",
        domain: "example.net",
        string: ["version: STSv1", "mode: enforce", "mx: mx.example.net", "mx: *.backup.example.net", "max_age: 86400"],
        mxHost: ["mx.example.net", "*.backup.example.net"],
      },
      result: "success",
      receivingMxHostname: "mx.example.net",
    });
    // A policy that could not be fetched: no lines, the failure and why.
    const failed: TlsSession = { ...base, mode: "none", policyId: "new", mxHost: "", result: "sts-policy-fetch-error", reason: "HTTP 404" };
    expect(tlsSessionReport(failed, cached)).toEqual({
      policy: { type: "sts", domain: "example.net" },
      result: "sts-policy-fetch-error",
      failureReasonCode: "HTTP 404",
    });
    // From a pool's source address: the report names it (sending-mta-ip).
    const pooled: TlsSession = {
      ...base,
      result: "certificate-expired",
      receivingIp: "192.0.2.25",
      sendingIp: "198.51.100.7",
      reason: "expired",
    };
    expect(tlsSessionReport(pooled, cached)).toMatchObject({ sendingMtaIp: "198.51.100.7", receivingIp: "192.0.2.25" });
  });
});
