// An `offer` pushed over the socket asks for an acknowledgement: it tells
// dispatch the offer reached this phone (API.md, "Offer delivery"). Without
// it, within the ack window, the offer goes to another driver as unreachable.
import { check, Offer } from "../common/contracts";
import type { AckReply } from "../common/useSocket";

/** Confirms the offer reached the phone, then reads it. The ack goes first,
 * so not even a payload this app does not understand (a ContractError,
 * logged by `check`) can keep the offer waiting on a phone that has it. */
export function receiveOffer(payload: unknown, ack: AckReply | null): Offer {
  if (typeof ack === "function") ack({ ok: true });
  return check("offer", Offer, payload);
}
