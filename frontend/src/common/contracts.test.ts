// The validators accept exactly the shapes API.md gives (issue 20's fields
// included) and refuse the near misses.
import { describe, expect, it } from "vitest";
import { DriverLocationEvent, DriverProfile, FareEstimate, Money, Offer, Trip, TripStatus, Vehicle } from "./contracts";
import { assignedTrip, DRIVER_ID, sampleDriver, sampleTrip } from "./testTrips";

const ok = (schema: { safeParse: (v: unknown) => { success: boolean } }, v: unknown) => schema.safeParse(v).success;

describe("trip", () => {
  it("accepts a trip at every step, ARRIVED included", () => {
    expect(TripStatus.options).toContain("ARRIVED");
    expect(ok(Trip, sampleTrip())).toBe(true);
    expect(ok(Trip, assignedTrip())).toBe(true);
    expect(ok(Trip, assignedTrip({ status: "ARRIVED", arrived_at: "2026-01-01T00:01:00Z", pickup_pin: "0427" }))).toBe(true);
    expect(ok(Trip, assignedTrip({ status: "ONGOING", started_at: "2026-01-01T00:02:00Z" }))).toBe(true);
    const done = assignedTrip({ status: "COMPLETED", completed_at: "2026-01-01T00:12:00Z", fare: { currency: "SGD", estimate: 12.4, final: 13.05, distance_km: 3.4, duration_secs: 600 } });
    expect(ok(Trip, done)).toBe(true);
    expect(ok(Trip, { ...done, rating: { stars: 4, comment: null } })).toBe(true);
    expect(ok(Trip, { ...done, rating: { stars: 5, comment: "Smooth" } })).toBe(true);
  });
  it("accepts a driver without a car or a rating yet", () => {
    expect(ok(Trip, assignedTrip({ driver: { id: DRIVER_ID, name: "New", vehicle: null, rating: null } }))).toBe(true);
  });
  it("refuses a PIN that is not four digits", () => {
    for (const pin of ["123", "12345", "12a4", 1234]) expect(ok(Trip, assignedTrip({ pickup_pin: pin as never }))).toBe(false);
  });
  it("refuses a trip missing any of the new fields", () => {
    for (const field of ["fare", "driver", "pickup_pin", "rating", "arrived_at"]) {
      const t: Record<string, unknown> = { ...assignedTrip() };
      delete t[field];
      expect(ok(Trip, t), field).toBe(false);
    }
  });
  it("refuses a fare with more than 2 decimals or without a currency code", () => {
    expect(ok(Trip, sampleTrip({ fare: { currency: "SGD", estimate: 12.345, final: null, distance_km: 1, duration_secs: 60 } }))).toBe(false);
    expect(ok(Trip, sampleTrip({ fare: { currency: "S$", estimate: 12.3, final: null, distance_km: 1, duration_secs: 60 } }))).toBe(false);
    expect(ok(Trip, sampleTrip({ fare: { currency: "SGD", estimate: 0.3, final: null, distance_km: 1, duration_secs: 60 } }))).toBe(true);
  });
  it("ties the driver object to driver_id", () => {
    expect(ok(Trip, sampleTrip({ driver_id: DRIVER_ID }))).toBe(false);
    expect(ok(Trip, sampleTrip({ driver: sampleDriver }))).toBe(false);
    expect(ok(Trip, assignedTrip({ driver: { ...sampleDriver, id: "55555555-5555-4555-8555-555555555555" } }))).toBe(false);
  });
  it("has a final fare and a rating only once completed, and arrived_at once arrived", () => {
    const fare = { currency: "SGD", estimate: 12.4, final: 13, distance_km: 3.4, duration_secs: 600 };
    expect(ok(Trip, assignedTrip({ status: "ONGOING", fare }))).toBe(false);
    expect(ok(Trip, assignedTrip({ status: "ONGOING", rating: { stars: 5, comment: null } }))).toBe(false);
    expect(ok(Trip, assignedTrip({ status: "ARRIVED" }))).toBe(false);
  });
  it("refuses a rating out of 1..5 or a comment over 500 characters", () => {
    const done = assignedTrip({ status: "COMPLETED", fare: { currency: "SGD", estimate: 12.4, final: 13, distance_km: 3.4, duration_secs: 600 } });
    expect(ok(Trip, { ...done, rating: { stars: 0, comment: null } })).toBe(false);
    expect(ok(Trip, { ...done, rating: { stars: 4.5, comment: null } })).toBe(false);
    expect(ok(Trip, { ...done, rating: { stars: 4, comment: "x".repeat(501) } })).toBe(false);
  });
});

describe("estimate", () => {
  const estimate = { city: "sg", distance_km: 3.2, duration_secs: 540, fare: { currency: "SGD", amount: 12.4 }, pickup_eta_secs: 95 };
  it("accepts an estimate with or without a driver in reach", () => {
    expect(ok(FareEstimate, estimate)).toBe(true);
    expect(ok(FareEstimate, { ...estimate, pickup_eta_secs: null })).toBe(true);
  });
  it("refuses one without the ETA field or with a bad amount", () => {
    const { pickup_eta_secs: _, ...noEta } = estimate;
    expect(ok(FareEstimate, noEta)).toBe(false);
    expect(ok(FareEstimate, { ...estimate, fare: { currency: "SGD", amount: -1 } })).toBe(false);
    expect(ok(Money, { currency: "SGD", amount: "12.40" })).toBe(false);
  });
});

describe("vehicle", () => {
  const v = { make: "Toyota", model: "Corolla Altis", color: "Silver", plate: "SBA 1234-K" };
  it("accepts letters, digits, spaces and dashes in a plate", () => {
    expect(ok(Vehicle, v)).toBe(true);
  });
  it("refuses empty or too long fields and other plate characters", () => {
    expect(ok(Vehicle, { ...v, make: "" })).toBe(false);
    expect(ok(Vehicle, { ...v, model: "m".repeat(41) })).toBe(false);
    expect(ok(Vehicle, { ...v, color: "c".repeat(21) })).toBe(false);
    expect(ok(Vehicle, { ...v, plate: "P".repeat(17) })).toBe(false);
    expect(ok(Vehicle, { ...v, plate: "SBA#1234" })).toBe(false);
  });
});

describe("driver profile, offer and location", () => {
  const profile = { id: DRIVER_ID, name: "Dan", status: "OFFLINE", city: null, vehicle: null, rating: null, current_trip_id: null, current_offer: null, location: null };
  it("the profile carries name, city, car and rating", () => {
    expect(ok(DriverProfile, profile)).toBe(true);
    expect(ok(DriverProfile, { ...profile, city: "sg", vehicle: sampleDriver.vehicle, rating: { average: 4.5, count: 2 } })).toBe(true);
    expect(ok(DriverProfile, { ...profile, rating: { average: 4.5, count: 0 } })).toBe(false);
    const { name: _, ...noName } = profile;
    expect(ok(DriverProfile, noName)).toBe(false);
  });
  it("an offer carries its fare estimate", () => {
    const offer = { trip_id: sampleTrip().id, pickup: { lat: 1.3, lng: 103.8 }, dropoff: { lat: 1.28, lng: 103.85 }, tier: "standard", distance_km: 0.4, expires_at: "2026-01-01T00:00:15Z", fare_estimate: { currency: "SGD", amount: 9.5 } };
    expect(ok(Offer, offer)).toBe(true);
    const { fare_estimate: _, ...without } = offer;
    expect(ok(Offer, without)).toBe(false);
  });
  it("a location event carries the backend's pickup ETA, null once arrived", () => {
    const ev = { driver_id: DRIVER_ID, trip_id: sampleTrip().id, lat: 1.3, lng: 103.8, heading: 90, ts: "2026-01-01T00:00:05Z", pickup_eta_secs: 120 };
    expect(ok(DriverLocationEvent, ev)).toBe(true);
    expect(ok(DriverLocationEvent, { ...ev, pickup_eta_secs: null })).toBe(true);
    expect(ok(DriverLocationEvent, { ...ev, pickup_eta_secs: -3 })).toBe(false);
  });
});
