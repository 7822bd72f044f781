/**
 * Parse and classify bounce, complaint or auto-reply files:
 * `node test/tools/classify.ts FILE...` prints one JSON line per file,
 * `{file, kind, messageId, recipients: [{recipient, action, status, smtpCode, class, reason}]}`.
 * `--envelope-to ADDRESS` gives the envelope recipient (the VERP address) the files arrived for.
 */
import { readFileSync } from "node:fs";
import { parseFeedbackMessage } from "../../src/core/bounce/parse.ts";

const args = process.argv.slice(2);
let envelopeTo: string | undefined;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i] ?? "";
  if (arg === "--envelope-to") envelopeTo = args[++i];
  else files.push(arg);
}
if (!files.length) {
  console.error("usage: node test/tools/classify.ts [--envelope-to ADDRESS] FILE...");
  process.exit(2);
}

let failed = false;
for (const file of files) {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    console.log(JSON.stringify({ file, error: (error as Error).message }));
    failed = true;
    continue;
  }
  const report = await parseFeedbackMessage(bytes, envelopeTo ? { envelopeTo } : {});
  console.log(
    JSON.stringify({
      file,
      kind: report.kind,
      messageId: report.messageId,
      ...(report.feedback ? { feedbackType: report.feedback.feedbackType } : {}),
      recipients: report.recipients.map((r) => ({
        recipient: r.recipient,
        action: r.action,
        status: r.status,
        smtpCode: r.smtpCode ?? null,
        class: r.class,
        reason: r.reason,
      })),
    }),
  );
}
process.exitCode = failed ? 1 : 0;
