/**
 * When a pool's day says its reputation is at risk: a bounce or complaint rate over the
 * account's threshold, once enough was sent for the rate to mean something. Pure; the pool's
 * object (src/state/pool.ts) counts and raises `pool.reputation_alert` once per pool, day and kind.
 */
export type PoolCounts = { sent: number; bounced: number; complaints: number };
export type ReputationThresholds = { bounceRate: number; complaintRate: number; minSent: number };
export type ReputationAlert = { kind: "bounce_rate" | "complaint_rate"; rate: number; threshold: number };

/** The alert the counts call for, complaints first (the signal receivers weigh most), or null. */
export function reputationAlert(counts: PoolCounts, thresholds: ReputationThresholds): ReputationAlert | null {
  if (counts.sent < thresholds.minSent || counts.sent === 0) return null;
  const complaintRate = counts.complaints / counts.sent;
  if (complaintRate > thresholds.complaintRate)
    return { kind: "complaint_rate", rate: round(complaintRate), threshold: thresholds.complaintRate };
  const bounceRate = counts.bounced / counts.sent;
  if (bounceRate > thresholds.bounceRate) return { kind: "bounce_rate", rate: round(bounceRate), threshold: thresholds.bounceRate };
  return null;
}

function round(rate: number): number {
  return Math.round(rate * 1e6) / 1e6;
}
