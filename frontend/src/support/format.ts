// How the support page writes times, ids and audit details: pure functions,
// everything in UTC (the dispatch history's days are UTC days, API.md).
import type { DriverDispatch, TripEvent } from "../common/contracts";

/** The UTC day of `at` as the date input and the API want it: YYYY-MM-DD. */
export function utcDay(at: Date = new Date()): string {
  return at.toISOString().slice(0, 10);
}

/** "2026-01-01 12:00:03 UTC"; "—" for a time that has not happened. */
export function utcDateTime(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** "12:00:03.120" (UTC, to the millisecond, for steps seconds apart). */
export function utcClock(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(11, 23);
}

/** How long after `from` the step at `to` came: "+40 ms", "+2.1 s", "+3 min". */
export function after(from: string, to: string | null): string {
  if (!to) return "";
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms)) return "";
  if (Math.abs(ms) < 1000) return `+${Math.round(ms)} ms`;
  if (Math.abs(ms) < 60_000) return `+${(ms / 1000).toFixed(1)} s`;
  return `+${Math.round(ms / 60_000)} min`;
}

/** An audit row's detail on one line; nothing for an empty one. */
export function compactJson(detail: unknown): string {
  if (detail === null || detail === undefined) return "";
  if (typeof detail === "object" && !Array.isArray(detail) && Object.keys(detail).length === 0) return "";
  return JSON.stringify(detail);
}

/** The timeline oldest first (the API sends it so; `seq` decides). */
export function oldestFirst(events: readonly TripEvent[]): TripEvent[] {
  return [...events].sort((a, b) => a.seq - b.seq);
}

/** "12:00:03.120 via socket" for a delivered offer, or "not delivered". */
export function deliveredText(d: Pick<DriverDispatch, "delivered_at" | "delivered_via">): string {
  if (!d.delivered_at) return "not delivered";
  return `${utcClock(d.delivered_at)}${d.delivered_via ? ` via ${d.delivered_via}` : ""}`;
}

/** An id typed or pasted into a lookup, as one path segment: trimmed and
 * escaped, but not judged here (the API says what is wrong with it). */
export function idSegment(input: string): string {
  return encodeURIComponent(input.trim());
}
