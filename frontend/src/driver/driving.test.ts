import { describe, expect, it } from "vitest";
import { maxPingsPerSecond, nextPingDelayMs, SIM_SPEED_KMH, SIM_TICK_MS } from "./driving";
import { stepToward } from "../common/geo";

describe("position sharing", () => {
  it("stays under the contract's 10 messages per second", () => {
    expect(maxPingsPerSecond).toBeLessThanOrEqual(10);
    expect(nextPingDelayMs(false)).toBeLessThan(30_000);
  });
  it("moves a street-speed distance per tick", () => {
    const from = { lat: 1.3, lng: 103.8 };
    const to = { lat: 1.4, lng: 103.8 };
    const s = stepToward(from, to, SIM_SPEED_KMH, SIM_TICK_MS / 1000);
    const metres = (s.position.lat - from.lat) * 111_195;
    expect(metres).toBeGreaterThan(8);
    expect(metres).toBeLessThan(20);
    expect(Math.round(s.heading)).toBe(0);
  });
});
