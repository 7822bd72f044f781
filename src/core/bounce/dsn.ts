/**
 * RFC 3464 message/delivery-status: one per-message block, then one block per recipient.
 * Real reports bend the format (recipient blocks without a blank line between them,
 * per-message fields inside a recipient block, `Status: 5.0.0 (permanent failure)`), so
 * blocks are read field by field rather than trusted.
 */
import { fieldBlocks, typedValue, type Field } from "./fields.ts";
import { addressIn } from "./address.ts";

export type DsnRecipientFields = {
  recipient: string;
  originalRecipient?: string;
  action?: string;
  status?: string;
  remoteMta?: string;
  diagnosticType?: string;
  diagnostic?: string;
  lastAttemptDate?: string;
  willRetryUntil?: string;
};

export type DsnFields = {
  reportingMta?: string;
  arrivalDate?: string;
  originalEnvelopeId?: string;
  recipients: DsnRecipientFields[];
};

type Draft = { final?: string; original?: string; fields: Map<string, string> };

const PER_MESSAGE = new Set(["reporting-mta", "arrival-date", "original-envelope-id", "received-from-mta"]);

/** The DSN fields in `text` (a message/delivery-status part, or prose with an inline report). */
export function parseDeliveryStatus(text: string): DsnFields {
  const result: DsnFields = { recipients: [] };
  const drafts: Draft[] = [];
  for (const block of fieldBlocks(text)) {
    let draft: Draft | undefined;
    for (const field of block) {
      if (PER_MESSAGE.has(field.name)) {
        perMessage(result, field);
        continue;
      }
      // A second Final-Recipient (or Original-Recipient) in one block starts the next recipient.
      const opensRecipient =
        (field.name === "final-recipient" &&
          (draft?.final !== undefined || (draft?.original !== undefined && draft.fields.has("action")))) ||
        (field.name === "original-recipient" && draft?.original !== undefined);
      if (!draft || opensRecipient) {
        draft = { fields: new Map() };
        drafts.push(draft);
      }
      if (field.name === "final-recipient") draft.final = typedValue(field.value).value;
      else if (field.name === "original-recipient") draft.original = typedValue(field.value).value;
      else if (!draft.fields.has(field.name)) draft.fields.set(field.name, field.value);
    }
  }
  for (const draft of drafts) {
    const recipient = chooseRecipient(draft.final, draft.original);
    if (!recipient) continue;
    const diagnostic = draft.fields.get("diagnostic-code");
    const typed = diagnostic === undefined ? undefined : typedValue(diagnostic);
    const remote = draft.fields.get("remote-mta");
    result.recipients.push({
      recipient,
      ...(draft.original ? { originalRecipient: addressIn(draft.original) ?? draft.original } : {}),
      ...(draft.fields.has("action") ? { action: draft.fields.get("action")!.toLowerCase().split(/[\s(]/)[0] } : {}),
      ...(draft.fields.has("status") ? { status: draft.fields.get("status")!.split(/[\s(]/)[0] } : {}),
      ...(remote ? { remoteMta: (typedValue(remote).value.split(/\s/)[0] ?? "").replace(/\.$/, "") } : {}),
      ...(typed?.type ? { diagnosticType: typed.type } : {}),
      ...(typed?.value ? { diagnostic: typed.value } : {}),
      ...(draft.fields.has("last-attempt-date") ? { lastAttemptDate: draft.fields.get("last-attempt-date") } : {}),
      ...(draft.fields.has("will-retry-until") ? { willRetryUntil: draft.fields.get("will-retry-until") } : {}),
    });
  }
  return result;
}

function perMessage(result: DsnFields, field: Field): void {
  if (field.name === "reporting-mta" && !result.reportingMta) result.reportingMta = typedValue(field.value).value.split(/\s/)[0];
  if (field.name === "arrival-date" && !result.arrivalDate) result.arrivalDate = field.value;
  if (field.name === "original-envelope-id" && !result.originalEnvelopeId) result.originalEnvelopeId = field.value;
}

/**
 * Final-Recipient names the mailbox the reporting MTA tried; when it is a source route or a
 * host-local name (`@smtp.example.net:user@server`, Sun ONE), Original-Recipient is the
 * address the sender knows.
 */
function chooseRecipient(final: string | undefined, original: string | undefined): string | undefined {
  const finalAddress = final ? addressIn(final) : undefined;
  const originalAddress = original ? addressIn(original) : undefined;
  if (finalAddress && (/@[^@]+\.[^@]+$/.test(finalAddress) || !originalAddress) && !final!.includes(":")) return finalAddress;
  return originalAddress ?? finalAddress;
}
