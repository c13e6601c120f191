// What each screen shows for a trip: pure functions from the trip (and the
// car's last known position) to titles, details and which actions exist.
import type { LatLng, Trip, TripStatus } from "./contracts";
import { distanceKm, etaMinutes, formatDistance, formatEta } from "./geo";

export type Tone = "info" | "progress" | "success" | "warning" | "neutral";

export interface RiderView {
  title: string;
  detail: string;
  tone: Tone;
  /** The rider may still cancel. */
  canCancel: boolean;
  /** The trip is over: offer to book another. */
  finished: boolean;
  /** Draw the car and the line it has left to drive. */
  route: { from: LatLng; to: LatLng } | null;
}

export const ACTIVE: readonly TripStatus[] = ["REQUESTED", "ASSIGNED", "ONGOING"];
export const isActive = (t: Trip | null | undefined): boolean => !!t && ACTIVE.includes(t.status);

export function riderView(trip: Trip, car: LatLng | null): RiderView {
  switch (trip.status) {
    case "REQUESTED":
      return {
        title: "Finding you a driver…",
        detail: `Asking the nearest ${trip.tier === "premium" ? "premium " : ""}drivers. This takes a few seconds.`,
        tone: "progress",
        canCancel: true,
        finished: false,
        route: null,
      };
    case "ASSIGNED": {
      if (!car) {
        return { title: "Driver assigned", detail: "Your driver is on the way. Locating the car…", tone: "info", canCancel: true, finished: false, route: null };
      }
      const km = distanceKm(car, trip.pickup);
      return {
        title: "Driver assigned",
        detail: `Your driver is ${formatDistance(km)} away · ETA ${formatEta(etaMinutes(km))}`,
        tone: "info",
        canCancel: true,
        finished: false,
        route: { from: car, to: trip.pickup },
      };
    }
    case "ONGOING": {
      const from = car ?? trip.pickup;
      const km = distanceKm(from, trip.dropoff);
      return {
        title: "On your trip",
        detail: `${formatDistance(km)} to your destination · ${formatEta(etaMinutes(km))}`,
        tone: "progress",
        canCancel: true,
        finished: false,
        route: { from, to: trip.dropoff },
      };
    }
    case "COMPLETED":
      return { title: "Trip completed", detail: "You have arrived. Thanks for riding with Hail.", tone: "success", canCancel: false, finished: true, route: null };
    case "NO_DRIVER":
      return { title: "No driver found", detail: "No driver was free near your pickup. Try again in a minute, or move the pickup.", tone: "warning", canCancel: false, finished: true, route: null };
    case "CANCELLED":
      return {
        title: "Trip cancelled",
        detail: trip.cancel_reason ? `Reason: ${trip.cancel_reason}` : "This trip was cancelled.",
        tone: "neutral",
        canCancel: false,
        finished: true,
        route: null,
      };
  }
}

export interface DriverTripView {
  title: string;
  detail: string;
  action: "start" | "complete" | null;
  canCancel: boolean;
  /** Where the car is heading (and the simulated drive goes). */
  target: LatLng | null;
  finished: boolean;
}

export function driverTripView(trip: Trip, car: LatLng | null): DriverTripView {
  const away = (to: LatLng) => (car ? `${formatDistance(distanceKm(car, to))} away · ${formatEta(etaMinutes(distanceKm(car, to)))}` : "");
  switch (trip.status) {
    case "ASSIGNED":
      return { title: "Pick up your rider", detail: away(trip.pickup) || "Head to the pickup point.", action: "start", canCancel: true, target: trip.pickup, finished: false };
    case "ONGOING":
      return { title: "Drive to the destination", detail: away(trip.dropoff) || "Head to the dropoff point.", action: "complete", canCancel: true, target: trip.dropoff, finished: false };
    case "COMPLETED":
      return { title: "Trip completed", detail: "Nice driving. You are back online for the next ride.", action: null, canCancel: false, target: null, finished: true };
    case "CANCELLED":
      return { title: "The rider cancelled", detail: trip.cancel_reason ? `Reason: ${trip.cancel_reason}` : "You are free for the next ride.", action: null, canCancel: false, target: null, finished: true };
    case "REQUESTED":
    case "NO_DRIVER":
      return { title: "Trip handed back", detail: "This trip is no longer yours.", action: null, canCancel: false, target: null, finished: true };
  }
}

/** A newer copy of a trip replaces an older one, never the reverse (socket
 * events and REST answers can arrive out of order). */
export function newerTrip(current: Trip | null, incoming: Trip): Trip {
  if (!current || current.id !== incoming.id) return incoming;
  return Date.parse(incoming.updated_at) >= Date.parse(current.updated_at) ? incoming : current;
}

export const statusLabel: Record<TripStatus, string> = {
  REQUESTED: "Searching",
  ASSIGNED: "Driver assigned",
  ONGOING: "On trip",
  COMPLETED: "Completed",
  NO_DRIVER: "No driver",
  CANCELLED: "Cancelled",
};
