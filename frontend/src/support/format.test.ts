import { describe, expect, it } from "vitest";
import type { TripEvent } from "../common/contracts";
import { after, compactJson, deliveredText, idSegment, oldestFirst, utcClock, utcDateTime, utcDay } from "./format";

describe("support page formats", () => {
  it("the day is the UTC day, whatever the local time zone", () => {
    expect(utcDay(new Date("2026-03-01T23:30:00-05:00"))).toBe("2026-03-02");
    expect(utcDay(new Date("2026-03-02T07:30:00+08:00"))).toBe("2026-03-01");
    expect(utcDay()).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
  it("times are written in UTC", () => {
    expect(utcDateTime("2026-01-01T20:00:03.5+08:00")).toBe("2026-01-01 12:00:03 UTC");
    expect(utcDateTime(null)).toBe("—");
    expect(utcClock("2026-01-01T12:00:03.12Z")).toBe("12:00:03.120");
    expect(utcClock(null)).toBe("—");
  });
  it("says how long after the offer a step came", () => {
    expect(after("2026-01-01T12:00:00Z", "2026-01-01T12:00:00.040Z")).toBe("+40 ms");
    expect(after("2026-01-01T12:00:00Z", "2026-01-01T12:00:02.060Z")).toBe("+2.1 s");
    expect(after("2026-01-01T12:00:00Z", "2026-01-01T12:03:10Z")).toBe("+3 min");
    expect(after("2026-01-01T12:00:00Z", null)).toBe("");
  });
  it("an audit detail is one line of JSON, nothing when empty", () => {
    expect(compactJson({ via: "socket", latency_ms: 40 })).toBe('{"via":"socket","latency_ms":40}');
    expect(compactJson({ strategy: "batched", batch_id: "b1", batch_size: 2 })).toBe('{"strategy":"batched","batch_id":"b1","batch_size":2}');
    expect(compactJson({})).toBe("");
    expect(compactJson(null)).toBe("");
    expect(compactJson([1, 2])).toBe("[1,2]");
  });
  it("the timeline is oldest first by seq", () => {
    const ev = (seq: number, type: TripEvent["type"]): TripEvent => ({ seq, at: "2026-01-01T12:00:00Z", type, driver_id: null, detail: {} });
    expect(oldestFirst([ev(3, "OFFER_SENT"), ev(1, "REQUESTED"), ev(2, "OFFER_UNREACHABLE")]).map((e) => e.seq)).toEqual([1, 2, 3]);
  });
  it("a delivery names its time and channel", () => {
    expect(deliveredText({ delivered_at: "2026-01-01T12:00:00.04Z", delivered_via: "socket" })).toBe("12:00:00.040 via socket");
    expect(deliveredText({ delivered_at: null, delivered_via: null })).toBe("not delivered");
  });
  it("an id is sent as one escaped path segment, never judged here", () => {
    expect(idSegment("  11111111-1111-4111-8111-111111111111 ")).toBe("11111111-1111-4111-8111-111111111111");
    expect(idSegment("not-a-uuid")).toBe("not-a-uuid");
    expect(idSegment("a/../b")).toBe("a%2F..%2Fb");
  });
});
