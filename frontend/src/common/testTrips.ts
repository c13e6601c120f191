// A valid trip for unit tests, as API.md shapes it; tests override fields.
import type { Trip } from "./contracts";

export const RIDER_ID = "22222222-2222-4222-8222-222222222222";
export const DRIVER_ID = "44444444-4444-4444-8444-444444444444";

export const sampleTrip = (over: Partial<Trip> = {}): Trip => ({
  id: "11111111-1111-4111-8111-111111111111",
  rider_id: RIDER_ID,
  driver_id: null,
  status: "REQUESTED",
  tier: "standard",
  pickup: { lat: 1.304, lng: 103.832 },
  dropoff: { lat: 1.284, lng: 103.851 },
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  assigned_at: null,
  arrived_at: null,
  started_at: null,
  completed_at: null,
  cancelled_at: null,
  cancel_reason: null,
  city: "sg",
  driver: null,
  fare: { currency: "SGD", estimate: 12.4, final: null, distance_km: 3.2, duration_secs: 540 },
  pickup_pin: null,
  rating: null,
  ...over,
});

/** The driver object a trip carries from ASSIGNED on. */
export const sampleDriver = {
  id: DRIVER_ID,
  name: "Dan Driver",
  vehicle: { make: "Toyota", model: "Corolla Altis", color: "Silver", plate: "SBA 1234 K" },
  rating: { average: 4.75, count: 8 },
};

/** A trip with its driver assigned. */
export const assignedTrip = (over: Partial<Trip> = {}): Trip =>
  sampleTrip({ status: "ASSIGNED", driver_id: DRIVER_ID, driver: sampleDriver, assigned_at: "2026-01-01T00:00:03Z", ...over });
