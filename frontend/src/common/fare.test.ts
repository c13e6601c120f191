import { describe, expect, it } from "vitest";
import { formatPickupEta, etaFor } from "./eta";
import { formatDuration, formatMoney, historyFare, receiptOf } from "./fare";
import { ratingRequest, ratingText } from "./rating";

describe("money", () => {
  it("shows the currency code and two decimals", () => {
    expect(formatMoney("SGD", 12.4)).toBe("SGD 12.40");
    expect(formatMoney("SGD", 6)).toBe("SGD 6.00");
    expect(formatMoney("EUR", 0.1 + 0.2)).toBe("EUR 0.30");
    expect(formatMoney("SGD", 1234.5)).toBe("SGD 1234.50");
  });
});

describe("trip lengths", () => {
  it("rounds to the minute, with hours past an hour", () => {
    expect(formatDuration(20)).toBe("< 1 min");
    expect(formatDuration(540)).toBe("9 min");
    expect(formatDuration(569)).toBe("9 min");
    expect(formatDuration(3900)).toBe("1 h 5 min");
  });
});

describe("receipts", () => {
  const fare = { currency: "SGD", estimate: 12.4, final: null, distance_km: 3.21, duration_secs: 540 };
  it("show the estimate, labelled so, until there is a final fare", () => {
    expect(receiptOf(fare)).toEqual({ label: "Estimated fare", amount: "SGD 12.40", isFinal: false, distance: "3.2 km", duration: "9 min" });
  });
  it("show the final fare once the trip is completed", () => {
    const r = receiptOf({ ...fare, final: 13.05, distance_km: 0.85, duration_secs: 400 });
    expect(r).toMatchObject({ label: "Total", amount: "SGD 13.05", isFinal: true, distance: "850 m", duration: "7 min" });
  });
  it("history shows what was paid, what is expected, or no charge", () => {
    expect(historyFare({ status: "COMPLETED", fare: { ...fare, final: 13.05 } })).toBe("SGD 13.05");
    expect(historyFare({ status: "ONGOING", fare })).toBe("est. SGD 12.40");
    expect(historyFare({ status: "CANCELLED", fare })).toBe("No charge");
    expect(historyFare({ status: "NO_DRIVER", fare })).toBe("No charge");
  });
});

describe("pickup ETA", () => {
  it("rounds the backend's seconds up to whole minutes", () => {
    expect(formatPickupEta(0)).toBe("< 1 min");
    expect(formatPickupEta(59)).toBe("< 1 min");
    expect(formatPickupEta(60)).toBe("1 min");
    expect(formatPickupEta(61)).toBe("2 min");
    expect(formatPickupEta(180)).toBe("3 min");
    expect(formatPickupEta(3700)).toBe("1 h 2 min");
  });
  it("has none when the backend has none", () => {
    expect(formatPickupEta(null)).toBeNull();
    expect(formatPickupEta(undefined)).toBeNull();
  });
  it("only uses an ETA sent for the trip on screen", () => {
    expect(etaFor({ tripId: "a", secs: 90 }, "a")).toBe(90);
    expect(etaFor({ tripId: "a", secs: null }, "a")).toBeNull();
    expect(etaFor({ tripId: "a", secs: 90 }, "b")).toBeUndefined();
    expect(etaFor(null, "a")).toBeUndefined();
  });
});

describe("ratings", () => {
  it("a driver's average reads with its count, or as new", () => {
    expect(ratingText({ average: 4.75, count: 8 })).toBe("4.8 (8 ratings)");
    expect(ratingText({ average: 5, count: 1 })).toBe("5.0 (1 rating)");
    expect(ratingText(null)).toBe("New driver");
  });
  it("a rider's rating needs 1 to 5 stars and at most 500 characters of comment", () => {
    expect(ratingRequest(0, "")).toEqual({ ok: false, problem: "Choose 1 to 5 stars." });
    expect(ratingRequest(6, "")).toMatchObject({ ok: false });
    expect(ratingRequest(4, "  ")).toEqual({ ok: true, body: { stars: 4 } });
    expect(ratingRequest(5, " Smooth ride ")).toEqual({ ok: true, body: { stars: 5, comment: "Smooth ride" } });
    expect(ratingRequest(3, "x".repeat(500))).toMatchObject({ ok: true });
    expect(ratingRequest(3, "x".repeat(501))).toMatchObject({ ok: false });
  });
});
