// Carpool rooms (API.md "Carpool rooms"): building a room key from what the
// person picked, and reading a room state from one person's point of view.
import type { RoomState } from "./contracts";

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Day = (typeof DAYS)[number];

export function roomKey(origin: string, day: string, time: string): { ok: true; key: string } | { ok: false; error: string } {
  const o = origin.trim();
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(o)) {
    return { ok: false, error: "The origin is 1 to 32 letters, digits, '-' or '_' (no spaces), like Westie." };
  }
  if (!(DAYS as readonly string[]).includes(day)) return { ok: false, error: "Pick a day of the week." };
  const m = /^(\d{1,2}):(\d{2})$/.exec(time.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return { ok: false, error: "Pick a time as HH:MM, 24-hour (08:00)." };
  return { ok: true, key: `${o}:${day}:${m[1].padStart(2, "0")}:${m[2]}` };
}

/** Today's weekday as a room day. */
export function today(now = new Date()): Day {
  return DAYS[(now.getDay() + 6) % 7];
}

export interface RoomView {
  /** I am in the room as a driver, with this many seats left. */
  mySeatsLeft: number | null;
  /** 1-based place in the riders' queue. */
  myQueuePosition: number | null;
  /** My pending match (as the rider) or my pending selections (as a driver). */
  myPending: RoomState["pending"];
  /** Confirmed rides I am part of. */
  myRides: RoomState["rides"];
  /** Riders this driver may select now. */
  selectable: string[];
  inRoom: boolean;
  summary: string;
}

export function roomView(state: RoomState, me: string): RoomView {
  const driver = state.drivers.find((d) => d.driver_id === me);
  const queueIndex = state.riders_waiting.indexOf(me);
  const myPending = state.pending.filter((p) => p.rider_id === me || p.driver_id === me);
  const myRides = state.rides.filter((r) => r.status === "CONFIRMED" && (r.rider_id === me || r.driver_id === me));
  const mySeatsLeft = driver ? driver.seats_left : null;
  const selectable = driver && driver.seats_left > 0 ? state.riders_waiting : [];
  const inRoom = !!driver || queueIndex >= 0 || myPending.length > 0 || myRides.length > 0;
  const seats = state.drivers.reduce((n, d) => n + d.seats_left, 0);
  const summary = `${state.drivers.length} driver${state.drivers.length === 1 ? "" : "s"} · ${seats} seat${seats === 1 ? "" : "s"} free · ${state.riders_waiting.length} waiting`;
  return { mySeatsLeft, myQueuePosition: queueIndex >= 0 ? queueIndex + 1 : null, myPending, myRides, selectable, inRoom, summary };
}

/** A short, stable label for someone known only by id. */
export function personLabel(id: string, me: string, kind: "Driver" | "Rider"): string {
  return id === me ? "You" : `${kind} ${id.slice(0, 4).toUpperCase()}`;
}
