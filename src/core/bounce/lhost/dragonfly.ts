/**
 * DMA, the DragonFly Mail Agent (https://github.com/corecode/dma): Subject "Mail delivery
 * failed", opening "This is the DragonFly Mail Agent v0.13 at <host>.". Each recipient is a
 * line "There was an error delivering your mail to <address>.", then the failure: for a
 * refusal "<host> [<ip>] did not like our <COMMAND>:" and the reply on the next line, else
 * DMA's own message ("DNS lookup failure: host … not found", "Could not deliver for the last
 * … seconds. Giving up."). "Original message follows." ends the report.
 * Markers after Sisimai::Lhost::DragonFly, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";

export const dragonfly = blockLhost({
  name: "DragonFly",
  detect: { body: /^This is the DragonFly Mail Agent\b/m },
  begin: /^This is the DragonFly Mail Agent\b.*$/m,
  end: /^Original message follows\.|^Message headers follow/m,
  recipient: /^There was an error delivering your mail to <([^<>\s]+@[^<>\s]+)>/,
  following: "block",
  fields: {
    command: /did not like our ([A-Z]{4})\b/,
    remoteMta: /^\s*([a-z0-9.-]+\.[a-z]{2,}) \[[\d.:a-f]+\] did not like our/im,
    diagnostic: /did not like our [A-Z ]+:?\s*\n\s*(\S.*)/,
  },
  messages: [
    ["expired", ["Could not deliver for the last "]],
    ["hostunknown", ["DNS lookup failure: host "]],
  ],
});
