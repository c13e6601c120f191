import { describe, expect, it } from "vitest";
import { distanceKm, formatDistance, parseCoordinates, secondsLeft, stepToward } from "./geo";

const orchard = { lat: 1.3048, lng: 103.8318 };
const marina = { lat: 1.284, lng: 103.851 };

describe("distance", () => {
  it("measures a known straight line", () => {
    const km = distanceKm(orchard, marina);
    expect(km).toBeGreaterThan(3.0);
    expect(km).toBeLessThan(3.3);
    expect(distanceKm(orchard, orchard)).toBe(0);
  });
  it("formats metres under a kilometre", () => {
    expect(formatDistance(0.4321)).toBe("432 m");
    expect(formatDistance(3.21)).toBe("3.2 km");
    expect(formatDistance(12.6)).toBe("13 km");
  });
});

describe("simulated driving", () => {
  it("moves the distance that speed covers, toward the target", () => {
    const before = distanceKm(orchard, marina);
    const { position, arrived } = stepToward(orchard, marina, 36, 10); // 100 m
    expect(arrived).toBe(false);
    expect(before - distanceKm(position, marina)).toBeCloseTo(0.1, 2);
  });
  it("lands on the target instead of overshooting", () => {
    const near = { lat: marina.lat + 0.0001, lng: marina.lng };
    const step = stepToward(near, marina, 100, 10);
    expect(step.arrived).toBe(true);
    expect(step.position).toEqual(marina);
  });
  it("reaches the target in the expected number of steps", () => {
    let p = orchard;
    let steps = 0;
    while (steps < 1000) {
      const s = stepToward(p, marina, 60, 10);
      p = s.position;
      steps++;
      if (s.arrived) break;
    }
    // ~3.1 km at 60 km/h in 10 s steps (166 m): 19 steps.
    expect(steps).toBeGreaterThanOrEqual(18);
    expect(steps).toBeLessThanOrEqual(20);
  });
});

describe("typed coordinates", () => {
  it("accepts comma or space separated pairs", () => {
    expect(parseCoordinates("1.3048, 103.8318")).toEqual({ ok: true, value: orchard });
    expect(parseCoordinates("1.3048 103.8318")).toEqual({ ok: true, value: orchard });
  });
  it("says what is wrong", () => {
    expect(parseCoordinates("1.3")).toMatchObject({ ok: false });
    expect(parseCoordinates("abc, 1")).toMatchObject({ ok: false, error: expect.stringContaining("numbers") });
    expect(parseCoordinates("89, 1")).toMatchObject({ ok: false, error: expect.stringContaining("Latitude") });
    expect(parseCoordinates("1, 181")).toMatchObject({ ok: false, error: expect.stringContaining("Longitude") });
  });
});

describe("countdown", () => {
  it("counts whole seconds down to zero and never below", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(secondsLeft("2026-01-01T00:00:15Z", now)).toBe(15);
    expect(secondsLeft("2026-01-01T00:00:14.2Z", now)).toBe(15);
    expect(secondsLeft("2025-12-31T23:59:00Z", now)).toBe(0);
    expect(secondsLeft("not a time", now)).toBe(0);
  });
});
