// How money, trip lengths and receipts read: pure functions over the API's
// fare shapes (amounts in the currency's major unit, 2 decimal places).
import type { Fare, Trip } from "./contracts";
import { formatDistance } from "./geo";

/** "SGD 12.40": the code, then the amount with 2 decimals. */
export function formatMoney(currency: string, amount: number): string {
  return `${currency} ${(Math.round(amount * 100) / 100).toFixed(2)}`;
}

/** A trip's length in time: "< 1 min", "12 min", "1 h 5 min" (nearest minute). */
export function formatDuration(secs: number): string {
  const minutes = Math.round(secs / 60);
  if (minutes < 1) return "< 1 min";
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export interface Receipt {
  /** "Total" once the final fare is known, else "Estimated fare". */
  label: string;
  amount: string;
  isFinal: boolean;
  distance: string;
  duration: string;
}

/** What a receipt shows: the final fare, or the estimate while there is none. */
export function receiptOf(fare: Fare): Receipt {
  const isFinal = fare.final !== null;
  return {
    label: isFinal ? "Total" : "Estimated fare",
    amount: formatMoney(fare.currency, fare.final ?? fare.estimate),
    isFinal,
    distance: formatDistance(fare.distance_km),
    duration: formatDuration(fare.duration_secs),
  };
}

/** A history row's price: the fare paid, the estimate of a trip still
 * under way, and no charge for one that never happened. */
export function historyFare(trip: Pick<Trip, "status" | "fare">): string {
  const { fare } = trip;
  switch (trip.status) {
    case "COMPLETED":
      return formatMoney(fare.currency, fare.final ?? fare.estimate);
    case "CANCELLED":
    case "NO_DRIVER":
      return "No charge";
    default:
      return `est. ${formatMoney(fare.currency, fare.estimate)}`;
  }
}
