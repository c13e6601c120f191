// What the waiting rider reads about the search, from the trip's dispatch
// audit trail (GET /trips/{id}/events): a pure function of the events.
import type { AuditType, TripEvent } from "../common/contracts";

export const FINDING_ANOTHER = "Finding another driver…";

/** A driver the trip had was lost: an offer ended without the driver
 * taking the trip, or the assigned driver cancelled. */
const LOST: readonly AuditType[] = ["OFFER_UNREACHABLE", "OFFER_EXPIRED", "OFFER_DECLINED", "DRIVER_CANCELLED"];

/** "Finding another driver…" from the moment a driver was lost (unreachable,
 * expired, declined, or cancelled after accepting) until a driver is
 * assigned again; nothing before any was lost. The next offer follows a
 * miss within milliseconds, so the notice stays up while it is out: the
 * rider would otherwise never see it. Newest is by `seq`, whatever order
 * the list came in. */
export function searchNotice(events: readonly Pick<TripEvent, "seq" | "type">[]): string | null {
  let newest: Pick<TripEvent, "seq" | "type"> | null = null;
  for (const e of events) {
    if ((LOST.includes(e.type) || e.type === "ASSIGNED") && (!newest || e.seq > newest.seq)) newest = e;
  }
  return newest && newest.type !== "ASSIGNED" ? FINDING_ANOTHER : null;
}
