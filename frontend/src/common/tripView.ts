// What each screen shows for a trip: pure functions from the trip, the car's
// last known position and the backend's pickup ETA to titles, details and
// which actions exist. Distances are measured here; ETAs never are (they
// come from the backend, see eta.ts).
import type { LatLng, Trip, TripStatus } from "./contracts";
import { formatPickupEta } from "./eta";
import { distanceKm, formatDistance } from "./geo";

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

export const ACTIVE: readonly TripStatus[] = ["REQUESTED", "ASSIGNED", "ARRIVED", "ONGOING"];
export const isActive = (t: Trip | null | undefined): boolean => !!t && ACTIVE.includes(t.status);

/** The cancel reason the backend gives a trip after five wrong pickup PINs. */
export const PIN_ATTEMPTS = "pin_attempts";

/** "1.2 km away · ETA 3 min", or without the ETA when the backend has none. */
function awayText(car: LatLng, to: LatLng, etaSecs: number | null | undefined): string {
  const eta = formatPickupEta(etaSecs);
  return `${formatDistance(distanceKm(car, to))} away${eta ? ` · ETA ${eta}` : ""}`;
}

export function riderView(trip: Trip, car: LatLng | null, pickupEtaSecs?: number | null): RiderView {
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
      return {
        title: "Driver assigned",
        detail: `Your driver is ${awayText(car, trip.pickup, pickupEtaSecs)}`,
        tone: "info",
        canCancel: true,
        finished: false,
        route: { from: car, to: trip.pickup },
      };
    }
    case "ARRIVED":
      return {
        title: "Your driver is here",
        detail: trip.pickup_pin ? "Meet your driver at the pickup and tell them your PIN." : "Meet your driver at the pickup point.",
        tone: "success",
        canCancel: true,
        finished: false,
        route: null,
      };
    case "ONGOING": {
      const from = car ?? trip.pickup;
      return {
        title: "On your trip",
        detail: `${formatDistance(distanceKm(from, trip.dropoff))} to your destination`,
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
      if (trip.cancel_reason === PIN_ATTEMPTS) {
        return {
          title: "Trip cancelled: wrong PIN",
          detail: "The driver entered a wrong pickup PIN 5 times, so Hail cancelled this trip to keep you safe. You were not charged. Only get into a car whose driver has your PIN.",
          tone: "warning",
          canCancel: false,
          finished: true,
          route: null,
        };
      }
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

/** The rider's progress bar: five steps, done up to the trip's status (a
 * trip started without an "arrived" step still has that step behind it). */
export function riderSteps(status: TripStatus): { label: string; done: boolean }[] {
  const order: TripStatus[] = ["REQUESTED", "ASSIGNED", "ARRIVED", "ONGOING", "COMPLETED"];
  const labels = ["Requested", "On the way", "Driver here", "On trip", "Done"];
  const at = order.indexOf(status);
  return labels.map((label, i) => ({ label, done: at >= i }));
}

export type DriverAction = "arrive" | "start" | "complete";

export interface DriverTripView {
  title: string;
  detail: string;
  /** The buttons, the first one the main one. */
  actions: DriverAction[];
  canCancel: boolean;
  /** Cancelling hands the trip back to dispatch (before the rider is in). */
  handsBack: boolean;
  /** Where the car is heading (and the simulated drive goes). */
  target: LatLng | null;
  finished: boolean;
}

/** Within this of the pickup the driver app says the car is there. */
export const AT_PICKUP_KM = 0.03;

export function driverTripView(trip: Trip, car: LatLng | null, pickupEtaSecs?: number | null): DriverTripView {
  const base = { canCancel: false, handsBack: false, finished: false };
  switch (trip.status) {
    case "ASSIGNED": {
      const there = car && distanceKm(car, trip.pickup) <= AT_PICKUP_KM;
      const detail = there ? "You are at the pickup. Tell Hail you have arrived." : car ? awayText(car, trip.pickup, pickupEtaSecs) : "Head to the pickup point.";
      return { ...base, title: "Pick up your rider", detail, actions: ["arrive", "start"], canCancel: true, handsBack: true, target: trip.pickup };
    }
    case "ARRIVED":
      return { ...base, title: "Waiting for your rider", detail: "The rider knows you are here. Start the trip once they are in the car.", actions: ["start"], canCancel: true, handsBack: true, target: trip.pickup };
    case "ONGOING":
      return {
        ...base,
        title: "Drive to the destination",
        detail: car ? `${formatDistance(distanceKm(car, trip.dropoff))} to go` : "Head to the dropoff point.",
        actions: ["complete"],
        canCancel: true,
        target: trip.dropoff,
      };
    case "COMPLETED":
      return { ...base, title: "Trip completed", detail: "Nice driving. You are back online for the next ride.", actions: [], target: null, finished: true };
    case "CANCELLED":
      if (trip.cancel_reason === PIN_ATTEMPTS) {
        return { ...base, title: "Trip cancelled: wrong PIN", detail: "The PIN was wrong 5 times, so Hail cancelled the trip. Make sure you pick up the right rider. You are free for the next ride.", actions: [], target: null, finished: true };
      }
      return { ...base, title: "The rider cancelled", detail: trip.cancel_reason ? `Reason: ${trip.cancel_reason}` : "You are free for the next ride.", actions: [], target: null, finished: true };
    case "REQUESTED":
    case "NO_DRIVER":
      return { ...base, title: "Trip handed back", detail: "This trip is no longer yours.", actions: [], target: null, finished: true };
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
  ARRIVED: "Driver arrived",
  ONGOING: "On trip",
  COMPLETED: "Completed",
  NO_DRIVER: "No driver",
  CANCELLED: "Cancelled",
};
