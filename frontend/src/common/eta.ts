// The pickup ETA as people read it. The number is always the backend's
// (`pickup_eta_secs` of the estimate and of each `driver:location`); the
// apps only round it, up, to minutes.
/** "< 1 min", "3 min", "1 h 5 min"; null when there is no ETA. */
export function formatPickupEta(secs: number | null | undefined): string | null {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return null;
  if (secs < 60) return "< 1 min";
  const minutes = Math.ceil(secs / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The latest pickup ETA the backend sent for one trip; `undefined` until
 * the first location event of that trip arrived. */
export interface PickupEta {
  tripId: string;
  secs: number | null;
}

/** The ETA to show for `tripId`: only one that was sent for that trip. */
export function etaFor(eta: PickupEta | null, tripId: string | undefined): number | null | undefined {
  return eta && eta.tripId === tripId ? eta.secs : undefined;
}
