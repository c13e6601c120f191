// Straight-line geometry for the map: distances and the "simulate driving"
// step. ETAs are the backend's (eta.ts), never computed here. Pure
// functions; the apps call them on every tick.
import type { LatLng } from "./contracts";

const EARTH_KM = 6371.0088;
const rad = (d: number) => (d * Math.PI) / 180;

/** Great-circle distance in km. */
export function distanceKm(a: LatLng, b: LatLng): number {
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Where the maps open before anyone has a position: central Singapore. */
export const CITY: LatLng = { lat: 1.3048, lng: 103.8318 };

export function formatDistance(km: number): string {
  if (km < 1) return `${Math.round(km * 1000)} m`;
  return `${km.toFixed(km < 10 ? 1 : 0)} km`;
}

/** Compass bearing from a to b in degrees, 0..360. */
export function bearing(a: LatLng, b: LatLng): number {
  const y = Math.sin(rad(b.lng - a.lng)) * Math.cos(rad(b.lat));
  const x =
    Math.cos(rad(a.lat)) * Math.sin(rad(b.lat)) - Math.sin(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.cos(rad(b.lng - a.lng));
  return ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;
}

/** One simulated move of `speedKmh` for `seconds` from `from` toward `to`;
 * lands exactly on `to` rather than overshooting it. */
export function stepToward(from: LatLng, to: LatLng, speedKmh: number, seconds: number): { position: LatLng; arrived: boolean; heading: number } {
  const total = distanceKm(from, to);
  const step = (speedKmh * seconds) / 3600;
  const heading = total > 0 ? bearing(from, to) : 0;
  if (total <= step || total === 0) return { position: { ...to }, arrived: true, heading };
  const f = step / total;
  return {
    position: { lat: from.lat + (to.lat - from.lat) * f, lng: from.lng + (to.lng - from.lng) * f },
    arrived: false,
    heading,
  };
}

/** "1.30400, 103.83200" -> a coordinate, or a sentence saying what is wrong. */
export function parseCoordinates(text: string): { ok: true; value: LatLng } | { ok: false; error: string } {
  const parts = text.split(/[,\s]+/).filter(Boolean);
  if (parts.length !== 2) return { ok: false, error: "Type a latitude and a longitude, like 1.3048, 103.8318." };
  const [lat, lng] = parts.map(Number);
  if (!Number.isFinite(lat) || !Number.isFinite(lng)) return { ok: false, error: "Coordinates must be numbers, like 1.3048, 103.8318." };
  if (Math.abs(lat) > 85.05) return { ok: false, error: "Latitude must be between -85 and 85." };
  if (Math.abs(lng) > 180) return { ok: false, error: "Longitude must be between -180 and 180." };
  return { ok: true, value: { lat, lng } };
}

export function formatCoordinates(p: LatLng): string {
  return `${p.lat.toFixed(5)}, ${p.lng.toFixed(5)}`;
}

/** Whole seconds left until `expiresAt` (never negative). */
export function secondsLeft(expiresAt: string, now = Date.now()): number {
  const t = Date.parse(expiresAt);
  if (Number.isNaN(t)) return 0;
  return Math.max(0, Math.ceil((t - now) / 1000));
}
