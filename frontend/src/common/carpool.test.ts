import { describe, expect, it } from "vitest";
import type { RoomState } from "./contracts";
import { roomKey, roomView, today } from "./carpool";

const D1 = "d1111111-1111-4111-8111-111111111111";
const D2 = "d2222222-2222-4222-8222-222222222222";
const R1 = "a1111111-1111-4111-8111-111111111111";
const R2 = "a2222222-2222-4222-8222-222222222222";
const R3 = "a3333333-3333-4333-8333-333333333333";

describe("room keys", () => {
  it("builds <origin>:<day>:<HH:MM>", () => {
    expect(roomKey("Westie", "mon", "08:00")).toEqual({ ok: true, key: "Westie:mon:08:00" });
    expect(roomKey(" campus_B-2 ", "sun", "7:05")).toEqual({ ok: true, key: "campus_B-2:sun:07:05" });
  });
  it("refuses what the server would refuse, with a reason", () => {
    expect(roomKey("West End", "mon", "08:00")).toMatchObject({ ok: false, error: expect.stringContaining("origin") });
    expect(roomKey("x".repeat(33), "mon", "08:00")).toMatchObject({ ok: false });
    expect(roomKey("Westie", "monday", "08:00")).toMatchObject({ ok: false, error: expect.stringContaining("day") });
    expect(roomKey("Westie", "mon", "24:00")).toMatchObject({ ok: false, error: expect.stringContaining("HH:MM") });
    expect(roomKey("Westie", "mon", "08:60")).toMatchObject({ ok: false });
  });
  it("names today's weekday", () => {
    expect(today(new Date("2026-11-23T12:00:00"))).toBe("mon");
    expect(today(new Date("2026-11-29T12:00:00"))).toBe("sun");
  });
});

const state: RoomState = {
  key: "Westie:mon:08:00",
  drivers: [
    { driver_id: D1, seats_left: 2 },
    { driver_id: D2, seats_left: 0 },
  ],
  riders_waiting: [R2, R3],
  pending: [{ rider_id: R1, driver_id: D1, expires_at: "2026-01-01T00:00:30Z" }],
  rides: [
    { id: "e1111111-1111-4111-8111-111111111111", rider_id: R3, driver_id: D2, status: "CANCELLED" },
    { id: "e2222222-2222-4222-8222-222222222222", rider_id: "a4444444-4444-4444-8444-444444444444", driver_id: D2, status: "CONFIRMED" },
  ],
};

describe("a room from one person's side", () => {
  it("a driver with seats can select every waiting rider", () => {
    const v = roomView(state, D1);
    expect(v.mySeatsLeft).toBe(2);
    expect(v.selectable).toEqual([R2, R3]);
    expect(v.myPending).toHaveLength(1);
    expect(v.inRoom).toBe(true);
  });
  it("a full driver selects no one and sees only confirmed rides", () => {
    const v = roomView(state, D2);
    expect(v.selectable).toEqual([]);
    expect(v.myRides).toHaveLength(1);
  });
  it("a rider sees their queue place, or their pending match", () => {
    expect(roomView(state, R3).myQueuePosition).toBe(2);
    expect(roomView(state, R1)).toMatchObject({ myQueuePosition: null, inRoom: true });
    expect(roomView(state, R1).myPending[0].driver_id).toBe(D1);
  });
  it("someone not in the room is not in it", () => {
    const v = roomView(state, "f0000000-0000-4000-8000-000000000000");
    expect(v.inRoom).toBe(false);
    expect(v.summary).toBe("2 drivers · 2 seats free · 2 waiting");
  });
});
