import { describe, expect, it } from "vitest";
import { assignedTrip, sampleTrip as trip } from "./testTrips";
import { driverTripView, isActive, newerTrip, riderSteps, riderView } from "./tripView";

describe("what the rider sees", () => {
  it("searching can be cancelled and draws no car", () => {
    const v = riderView(trip(), null);
    expect(v.title).toMatch(/Finding/);
    expect(v.canCancel).toBe(true);
    expect(v.route).toBeNull();
  });
  it("assigned shows the distance to the pickup and the backend's ETA, rounded up", () => {
    const car = { lat: 1.313, lng: 103.832 }; // ~1 km north
    const v = riderView(assignedTrip(), car, 121);
    expect(v.title).toBe("Driver assigned");
    expect(v.detail).toBe("Your driver is 1.0 km away · ETA 3 min");
    expect(v.route).toEqual({ from: car, to: { lat: 1.304, lng: 103.832 } });
    expect(riderView(assignedTrip(), car, 20).detail).toMatch(/ETA < 1 min$/);
  });
  it("never makes up an ETA of its own: without the backend's there is none", () => {
    const car = { lat: 1.313, lng: 103.832 };
    expect(riderView(assignedTrip(), car, undefined).detail).toBe("Your driver is 1.0 km away");
    expect(riderView(assignedTrip(), car, null).detail).toBe("Your driver is 1.0 km away");
  });
  it("assigned before the first position says it is locating the car", () => {
    expect(riderView(assignedTrip(), null).detail).toMatch(/Locating/);
  });
  it("arrived says the driver is here, and mentions the PIN only when there is one", () => {
    const v = riderView(assignedTrip({ status: "ARRIVED", arrived_at: "2026-01-01T00:01:00Z", pickup_pin: "0427" }), null);
    expect(v.title).toBe("Your driver is here");
    expect(v.detail).toMatch(/PIN/);
    expect(v.canCancel).toBe(true);
    expect(riderView(assignedTrip({ status: "ARRIVED", arrived_at: "2026-01-01T00:01:00Z" }), null).detail).not.toMatch(/PIN/);
  });
  it("on trip measures to the dropoff", () => {
    const v = riderView(assignedTrip({ status: "ONGOING" }), null);
    expect(v.title).toBe("On your trip");
    expect(v.detail).toMatch(/to your destination$/);
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
  it("a trip cancelled after five wrong PINs says so plainly", () => {
    const v = riderView(assignedTrip({ status: "CANCELLED", cancel_reason: "pin_attempts" }), null);
    expect(v.title).toBe("Trip cancelled: wrong PIN");
    expect(v.detail).toMatch(/wrong pickup PIN 5 times/);
    expect(v.detail).not.toMatch(/pin_attempts/);
  });
  it("knows which trips are active", () => {
    expect(isActive(trip())).toBe(true);
    expect(isActive(trip({ status: "ARRIVED" }))).toBe(true);
    expect(isActive(trip({ status: "COMPLETED" }))).toBe(false);
    expect(isActive(null)).toBe(false);
  });
  it("the progress steps follow the status, arrived included", () => {
    const done = (s: Parameters<typeof riderSteps>[0]) => riderSteps(s).filter((x) => x.done).map((x) => x.label);
    expect(riderSteps("REQUESTED").map((s) => s.label)).toEqual(["Requested", "On the way", "Driver here", "On trip", "Done"]);
    expect(done("ASSIGNED")).toEqual(["Requested", "On the way"]);
    expect(done("ARRIVED")).toEqual(["Requested", "On the way", "Driver here"]);
    expect(done("ONGOING")).toHaveLength(4);
    expect(done("COMPLETED")).toHaveLength(5);
  });
});

describe("what the driver sees", () => {
  it("heads to the pickup with arrive and start, then waits, then drives to the dropoff", () => {
    expect(driverTripView(assignedTrip(), null)).toMatchObject({ actions: ["arrive", "start"], handsBack: true, target: { lat: 1.304, lng: 103.832 } });
    expect(driverTripView(assignedTrip({ status: "ARRIVED", arrived_at: "2026-01-01T00:01:00Z" }), null)).toMatchObject({ title: "Waiting for your rider", actions: ["start"], handsBack: true, canCancel: true });
    expect(driverTripView(assignedTrip({ status: "ONGOING" }), null)).toMatchObject({ actions: ["complete"], handsBack: false, target: { lat: 1.284, lng: 103.851 } });
    expect(driverTripView(assignedTrip({ status: "CANCELLED" }), null)).toMatchObject({ actions: [], finished: true });
  });
  it("shows the backend's pickup ETA, and says when the car is at the pickup", () => {
    expect(driverTripView(assignedTrip(), { lat: 1.313, lng: 103.832 }, 200).detail).toBe("1.0 km away · ETA 4 min");
    expect(driverTripView(assignedTrip(), { lat: 1.313, lng: 103.832 }).detail).toBe("1.0 km away");
    expect(driverTripView(assignedTrip(), { lat: 1.3401, lng: 103.832 }).detail).not.toMatch(/at the pickup/);
    expect(driverTripView(assignedTrip(), { lat: 1.30401, lng: 103.83201 }, 0).detail).toMatch(/You are at the pickup/);
  });
  it("a trip cancelled by wrong PINs is not blamed on the rider", () => {
    const v = driverTripView(assignedTrip({ status: "CANCELLED", cancel_reason: "pin_attempts" }), null);
    expect(v.title).toBe("Trip cancelled: wrong PIN");
    expect(driverTripView(assignedTrip({ status: "CANCELLED", cancel_reason: "changed plans" }), null).title).toBe("The rider cancelled");
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
