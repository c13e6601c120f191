import { describe, expect, it } from "vitest";
import type { Trip } from "./contracts";
import { driverTripView, isActive, newerTrip, riderView } from "./tripView";

const trip = (over: Partial<Trip> = {}): Trip => ({
  id: "11111111-1111-4111-8111-111111111111",
  rider_id: "22222222-2222-4222-8222-222222222222",
  driver_id: null,
  status: "REQUESTED",
  tier: "standard",
  pickup: { lat: 1.304, lng: 103.832 },
  dropoff: { lat: 1.284, lng: 103.851 },
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  assigned_at: null,
  started_at: null,
  completed_at: null,
  cancelled_at: null,
  cancel_reason: null,
  city: "sg",
  ...over,
});

describe("what the rider sees", () => {
  it("searching can be cancelled and draws no car", () => {
    const v = riderView(trip(), null);
    expect(v.title).toMatch(/Finding/);
    expect(v.canCancel).toBe(true);
    expect(v.route).toBeNull();
  });
  it("assigned shows the distance and ETA from the car to the pickup", () => {
    const car = { lat: 1.313, lng: 103.832 }; // ~1 km north
    const v = riderView(trip({ status: "ASSIGNED" }), car);
    expect(v.title).toBe("Driver assigned");
    expect(v.detail).toMatch(/1\.0 km away · ETA 2 min/);
    expect(v.route).toEqual({ from: car, to: { lat: 1.304, lng: 103.832 } });
  });
  it("assigned before the first position says it is locating the car", () => {
    expect(riderView(trip({ status: "ASSIGNED" }), null).detail).toMatch(/Locating/);
  });
  it("on trip measures to the dropoff", () => {
    const v = riderView(trip({ status: "ONGOING" }), null);
    expect(v.title).toBe("On your trip");
    expect(v.route?.to).toEqual({ lat: 1.284, lng: 103.851 });
  });
  it("terminal states finish and cannot be cancelled", () => {
    for (const status of ["COMPLETED", "NO_DRIVER", "CANCELLED"] as const) {
      const v = riderView(trip({ status }), null);
      expect(v.finished).toBe(true);
      expect(v.canCancel).toBe(false);
    }
    expect(riderView(trip({ status: "NO_DRIVER" }), null).title).toBe("No driver found");
    expect(riderView(trip({ status: "CANCELLED", cancel_reason: "changed plans" }), null).detail).toMatch(/changed plans/);
  });
  it("knows which trips are active", () => {
    expect(isActive(trip())).toBe(true);
    expect(isActive(trip({ status: "COMPLETED" }))).toBe(false);
    expect(isActive(null)).toBe(false);
  });
});

describe("what the driver sees", () => {
  it("heads to the pickup, then to the dropoff", () => {
    expect(driverTripView(trip({ status: "ASSIGNED" }), null)).toMatchObject({ action: "start", target: { lat: 1.304, lng: 103.832 } });
    expect(driverTripView(trip({ status: "ONGOING" }), null)).toMatchObject({ action: "complete", target: { lat: 1.284, lng: 103.851 } });
    expect(driverTripView(trip({ status: "CANCELLED" }), null)).toMatchObject({ action: null, finished: true });
  });
});

describe("ordering of trip copies", () => {
  it("keeps the newer copy of the same trip", () => {
    const older = trip({ status: "ASSIGNED", updated_at: "2026-01-01T00:00:05Z" });
    const newer = trip({ status: "ONGOING", updated_at: "2026-01-01T00:00:09Z" });
    expect(newerTrip(newer, older)).toBe(newer);
    expect(newerTrip(older, newer)).toBe(newer);
    const other = trip({ id: "33333333-3333-4333-8333-333333333333" });
    expect(newerTrip(newer, other)).toBe(other);
  });
});
