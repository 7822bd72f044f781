// The SMPP baseline: a bare `smpp` (node-smpp 0.5) client in a child process, so it does not
// share an event loop with the sandbox SMSC, just as the bridge does not. The parent hands it
// one job on stdin (the SMSC, the bind, the window and the submit_sm parts, already encoded by
// src/core's segmentSms and addressed by the bridge's own rules); it connects, sends
// bind_transceiver, submits the warm-up parts and then the measured ones with at most `window`
// submit_sm unanswered at any moment, and answers with one JSON line: per phase, what the SMSC
// answered and how long it took (first submit_sm written to the last submit_sm_resp read,
// measured here, so process start-up, connect and bind are not in it).
import { loadSmpp, type Pdu, type PduOptions, type SmppSession } from "../sandbox/smpp-types.ts";
import { runJobInChild, serveOneJob } from "./child-job.ts";

/** One submit_sm: the fields the bridge sets (everything else is left at the package's defaults, as the bridge leaves it). */
export type SmppPart = {
  source: { ton: number; npi: number; addr: string };
  dest: { ton: number; npi: number; addr: string };
  esmClass: number;
  dataCoding: number;
  /** short_message as written on the wire (UDH included), hex. */
  shortMessageHex: string;
};

export type SmppClientJob = {
  host: string;
  port: number;
  systemId: string;
  password: string;
  /** Most submit_sm written and not yet answered. */
  window: number;
  /** registered_delivery for every part (the bridge route's setting: 1 when it asks for receipts). */
  registeredDelivery: number;
  /** Submitted first and not timed (connection warm, JIT), then `parts`, timed. */
  warmup: SmppPart[];
  parts: SmppPart[];
};

export type SmppClientPhase = {
  /** Wall clock (ms since the epoch) of the first submit, to line up with the SMSC's submit times. */
  startedAt: number;
  seconds: number;
  /** submit_sm_resp by command_status ("0" is ESME_ROK). */
  statuses: Record<string, number>;
  /** Parts answered ESME_ROK, and how many answers carried a message_id. */
  accepted: number;
  withMessageId: number;
  /** Parts never answered (the session ended first). */
  unanswered: number;
  /** The most submit_sm unanswered at once (must be ≤ window). */
  maxOutstanding: number;
  firstFailure: unknown;
};

export type SmppClientResult = {
  bind: { status: number; systemId: string };
  warmup: SmppClientPhase;
  main: SmppClientPhase;
  /** deliver_sm received (and answered ESME_ROK): receipts or MO meant for this system_id; 0 with registered_delivery 0. */
  deliverSm: number;
  errors: string[];
};

const smpp = loadSmpp();

function options(part: SmppPart, registeredDelivery: number): PduOptions {
  return {
    source_addr_ton: part.source.ton,
    source_addr_npi: part.source.npi,
    source_addr: part.source.addr,
    dest_addr_ton: part.dest.ton,
    dest_addr_npi: part.dest.npi,
    destination_addr: part.dest.addr,
    esm_class: part.esmClass,
    registered_delivery: registeredDelivery,
    data_coding: part.dataCoding,
    short_message: Buffer.from(part.shortMessageHex, "hex"),
  };
}

async function run(job: SmppClientJob): Promise<SmppClientResult> {
  const errors: string[] = [];
  let deliverSm = 0;
  let closed = false;
  const onClose: Array<() => void> = [];
  const session: SmppSession = await new Promise((resolve, reject) => {
    const s = smpp.connect({ host: job.host, port: job.port }, () => resolve(s));
    s.once("error", (error: Error) => reject(error));
  });
  session.on("error", (error: Error) => errors.push(String(error)));
  session.on("close", () => {
    closed = true;
    for (const f of onClose.splice(0)) f();
  });
  // Anything the SMSC delivers to this system_id is acknowledged, so it is not sent again.
  session.on("pdu", (pdu: Pdu) => {
    if (pdu.command === "deliver_sm") {
      deliverSm++;
      session.send(pdu.response());
    } else if (pdu.command === "enquire_link") {
      session.send(pdu.response());
    }
  });
  const bind = await new Promise<{ status: number; systemId: string }>((resolve) => {
    session.bind_transceiver({ system_id: job.systemId, password: job.password }, (resp) =>
      resolve({ status: resp.command_status, systemId: typeof resp.system_id === "string" ? resp.system_id : "" }),
    );
  });
  if (bind.status !== 0) throw new Error(`bind_transceiver answered ${bind.status}`);

  const phase = (parts: SmppPart[]): Promise<SmppClientPhase> => {
    // The PDU fields (Buffers included) are built before the clock starts, as the bridge's bodies are.
    const pdus = parts.map((p) => options(p, job.registeredDelivery));
    const result: SmppClientPhase = {
      startedAt: Date.now(),
      seconds: 0,
      statuses: {},
      accepted: 0,
      withMessageId: 0,
      unanswered: 0,
      maxOutstanding: 0,
      firstFailure: null,
    };
    return new Promise((resolve) => {
      let next = 0;
      let outstanding = 0;
      let answered = 0;
      let done = false;
      const started = performance.now();
      const finish = () => {
        if (done) return;
        done = true;
        result.seconds = (performance.now() - started) / 1000;
        result.unanswered = pdus.length - answered;
        resolve(result);
      };
      const pump = () => {
        while (outstanding < job.window && next < pdus.length && !closed) {
          const pdu = pdus[next++]!;
          outstanding++;
          if (outstanding > result.maxOutstanding) result.maxOutstanding = outstanding;
          const written = session.submit_sm(pdu, (resp) => {
            outstanding--;
            answered++;
            const key = String(resp.command_status);
            result.statuses[key] = (result.statuses[key] ?? 0) + 1;
            if (resp.command_status === 0) {
              result.accepted++;
              if (typeof resp.message_id === "string" && resp.message_id !== "") result.withMessageId++;
            } else {
              result.firstFailure ??= { command_status: resp.command_status, destination_addr: pdu.destination_addr };
            }
            if (answered === pdus.length) finish();
            else pump();
          });
          if (!written) {
            // Counted as answered "not_written" (and not unanswered), so the phase still ends.
            outstanding--;
            answered++;
            result.statuses.not_written = (result.statuses.not_written ?? 0) + 1;
          }
        }
        if (closed || (next === pdus.length && outstanding === 0)) finish();
      };
      onClose.push(finish);
      if (pdus.length === 0) finish();
      else pump();
    });
  };
  try {
    const warmup = await phase(job.warmup);
    const main = await phase(job.parts);
    return { bind, warmup, main, deliverSm, errors };
  } finally {
    await new Promise<void>((resolve) => {
      if (closed) return resolve();
      const timer = setTimeout(() => {
        session.destroy();
        resolve();
      }, 1_000);
      session.unbind({}, () => {
        clearTimeout(timer);
        session.close(() => resolve());
      });
    });
  }
}

/** Runs one job in a child Node process; bounded by `timeoutMs`, after which the child is killed. */
export function sendWithSmppClient(job: SmppClientJob, timeoutMs: number): Promise<SmppClientResult> {
  return runJobInChild<SmppClientResult>(import.meta.url, job, timeoutMs, "the smpp client sender");
}

if (import.meta.main) await serveOneJob(run);
