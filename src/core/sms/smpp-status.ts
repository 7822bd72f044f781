/** SMPP 3.4 command_status (§5.1.3) and what a submit_sm_resp status means for the message. */

export const commandStatuses: Readonly<Record<string, number>> = Object.freeze({
  ESME_ROK: 0x00000000,
  ESME_RINVMSGLEN: 0x00000001,
  ESME_RINVCMDLEN: 0x00000002,
  ESME_RINVCMDID: 0x00000003,
  ESME_RINVBNDSTS: 0x00000004,
  ESME_RALYBND: 0x00000005,
  ESME_RINVPRTFLG: 0x00000006,
  ESME_RINVREGDLVFLG: 0x00000007,
  ESME_RSYSERR: 0x00000008,
  ESME_RINVSRCADR: 0x0000000a,
  ESME_RINVDSTADR: 0x0000000b,
  ESME_RINVMSGID: 0x0000000c,
  ESME_RBINDFAIL: 0x0000000d,
  ESME_RINVPASWD: 0x0000000e,
  ESME_RINVSYSID: 0x0000000f,
  ESME_RCANCELFAIL: 0x00000011,
  ESME_RREPLACEFAIL: 0x00000013,
  ESME_RMSGQFUL: 0x00000014,
  ESME_RINVSERTYP: 0x00000015,
  ESME_RINVNUMDESTS: 0x00000033,
  ESME_RINVDLNAME: 0x00000034,
  ESME_RINVDESTFLAG: 0x00000040,
  ESME_RINVSUBREP: 0x00000042,
  ESME_RINVESMCLASS: 0x00000043,
  ESME_RCNTSUBDL: 0x00000044,
  ESME_RSUBMITFAIL: 0x00000045,
  ESME_RINVSRCTON: 0x00000048,
  ESME_RINVSRCNPI: 0x00000049,
  ESME_RINVDSTTON: 0x00000050,
  ESME_RINVDSTNPI: 0x00000051,
  ESME_RINVSYSTYP: 0x00000053,
  ESME_RINVREPFLAG: 0x00000054,
  ESME_RINVNUMMSGS: 0x00000055,
  ESME_RTHROTTLED: 0x00000058,
  ESME_RINVSCHED: 0x00000061,
  ESME_RINVEXPIRY: 0x00000062,
  ESME_RINVDFTMSGID: 0x00000063,
  ESME_RX_T_APPN: 0x00000064,
  ESME_RX_P_APPN: 0x00000065,
  ESME_RX_R_APPN: 0x00000066,
  ESME_RQUERYFAIL: 0x00000067,
  ESME_RINVOPTPARSTREAM: 0x000000c0,
  ESME_ROPTPARNOTALLWD: 0x000000c1,
  ESME_RINVPARLEN: 0x000000c2,
  ESME_RMISSINGOPTPARAM: 0x000000c3,
  ESME_RINVOPTPARAMVAL: 0x000000c4,
  ESME_RDELIVERYFAILURE: 0x000000fe,
  ESME_RUNKNOWNERR: 0x000000ff,
});

const names = new Map(Object.entries(commandStatuses).map(([name, code]) => [code, name]));

export function commandStatusName(code: number): string {
  return names.get(code) ?? `0x${(code >>> 0).toString(16).padStart(8, "0")}`;
}

export type SubmitVerdict = { kind: "accepted" } | { kind: "failed"; name: string } | { kind: "retry"; name: string; throttle: boolean };

/** The SMSC asks us to slow down: back off the whole bind, not just this message. */
const THROTTLE = new Set([commandStatuses.ESME_RTHROTTLED, commandStatuses.ESME_RMSGQFUL]);

/**
 * Says nothing about this message: the SMSC or its next hop had a bad moment (system error,
 * generic submit failure, temporary application error, delivery failure, unknown error), or our
 * bind was not in a state to submit. Sending again later can succeed.
 */
const TEMPORARY = new Set([
  commandStatuses.ESME_RSYSERR,
  commandStatuses.ESME_RSUBMITFAIL,
  commandStatuses.ESME_RX_T_APPN,
  commandStatuses.ESME_RINVBNDSTS,
  commandStatuses.ESME_RDELIVERYFAILURE,
  commandStatuses.ESME_RUNKNOWNERR,
]);

/**
 * Every other named status says the PDU itself is wrong (bad address, TON/NPI, length, flags,
 * parameters) or the SMSC refuses it for good (ESME_RX_P_APPN, ESME_RX_R_APPN): resending the same
 * bytes gets the same answer. Codes outside the table are vendor-specific (0x400–0x4FF and the
 * like) and undocumented to us, so they retry: the retry budget bounds the cost of being wrong,
 * whereas failing a message on a code we cannot read would be final.
 */
export function classifySubmitStatus(code: number): SubmitVerdict {
  if (code === commandStatuses.ESME_ROK) return { kind: "accepted" };
  const name = commandStatusName(code);
  if (THROTTLE.has(code)) return { kind: "retry", name, throttle: true };
  if (TEMPORARY.has(code) || !names.has(code)) return { kind: "retry", name, throttle: false };
  return { kind: "failed", name };
}
