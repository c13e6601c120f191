import { describe, expect, it } from "vitest";
import { ApiError } from "../common/api";
import { OUTSIDE_SERVICE_AREA, quoteFailure, quoteLines } from "./fareQuote";

const estimate = { city: "sg", distance_km: 3.21, duration_secs: 540, fare: { currency: "SGD", amount: 12.4 }, pickup_eta_secs: 95 };

describe("the price before booking", () => {
  it("reads fare, distance, time and the nearest driver's ETA", () => {
    expect(quoteLines(estimate)).toEqual({ fare: "SGD 12.40", distance: "3.2 km", duration: "9 min", pickup: "Nearest driver 2 min away" });
    expect(quoteLines({ ...estimate, pickup_eta_secs: 30 }).pickup).toBe("Nearest driver < 1 min away");
    expect(quoteLines({ ...estimate, pickup_eta_secs: null }).pickup).toBe("No driver in reach right now");
  });
  it("a pickup outside every city cannot be booked, and says why", () => {
    expect(quoteFailure(new ApiError(422, "outside_service_area", "no city"))).toEqual({ message: OUTSIDE_SERVICE_AREA, canBook: false });
  });
  it("other failures still let the rider try to book", () => {
    expect(quoteFailure(new ApiError(503, "unavailable", "Hail is unavailable"))).toEqual({ message: "No price right now: Hail is unavailable", canBook: true });
  });
});
