// The price shown before booking (POST /trips/estimate), as lines a rider
// reads, and what a failed estimate means for booking. Pure.
import { ApiError } from "../common/api";
import type { FareEstimate } from "../common/contracts";
import { formatPickupEta } from "../common/eta";
import { formatDuration, formatMoney } from "../common/fare";
import { formatDistance } from "../common/geo";

export interface QuoteLines {
  fare: string;
  distance: string;
  duration: string;
  /** "Nearest driver < 1 min away", or that none is in reach. */
  pickup: string;
}

export function quoteLines(e: FareEstimate): QuoteLines {
  const eta = formatPickupEta(e.pickup_eta_secs);
  return {
    fare: formatMoney(e.fare.currency, e.fare.amount),
    distance: formatDistance(e.distance_km),
    duration: formatDuration(e.duration_secs),
    pickup: eta ? `Nearest driver ${eta} away` : "No driver in reach right now",
  };
}

export const OUTSIDE_SERVICE_AREA = "Hail does not serve this pickup. Move the pickup inside a city Hail serves to book a ride.";

/** A failed estimate: what to say, and whether booking can still be tried
 * (a pickup outside every city cannot be booked; other failures may pass). */
export function quoteFailure(e: unknown): { message: string; canBook: boolean } {
  if (e instanceof ApiError && e.code === "outside_service_area") return { message: OUTSIDE_SERVICE_AREA, canBook: false };
  const message = e instanceof Error ? e.message : String(e);
  return { message: `No price right now: ${message}`, canBook: true };
}
