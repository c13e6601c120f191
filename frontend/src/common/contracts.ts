// The one place the API's request, response and event shapes live (API.md).
// Each shape is a zod schema and its TypeScript type is inferred from it, so
// the types the apps compile against are exactly what every real answer is
// checked against at run time (the end-to-end test fails on any mismatch).
import { z } from "zod";

// No compiled parsers: under the gateway's CSP (script-src 'self', no
// 'unsafe-eval') zod's `new Function` probe is a reported violation. Set
// before any schema is made, as each reads it when it is built.
z.config({ jitless: true });

const uuid = z.string().uuid();
const time = z.string().datetime({ offset: true });

export const LatLng = z.object({
  lat: z.number().min(-90).max(90),
  lng: z.number().min(-180).max(180),
});
export type LatLng = z.infer<typeof LatLng>;

/** `support` accounts are made by an operator (`hail users add-support`), never registered. */
export const Role = z.enum(["rider", "driver", "support"]);
export type Role = z.infer<typeof Role>;

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional().nullable(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

// ---- auth ----
export const User = z.object({
  id: uuid,
  email: z.string(),
  name: z.string(),
  role: Role,
  created_at: time,
});
export type User = z.infer<typeof User>;

export const AuthResponse = z.object({
  user: User,
  access_token: z.string().min(1),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int().positive(),
});
export type AuthResponse = z.infer<typeof AuthResponse>;

export interface RegisterRequest {
  email: string;
  password: string;
  name: string;
  role: Role;
}
export interface LoginRequest {
  email: string;
  password: string;
}

// ---- trips ----
export const TripStatus = z.enum([
  "REQUESTED",
  "ASSIGNED",
  "ONGOING",
  "COMPLETED",
  "NO_DRIVER",
  "CANCELLED",
]);
export type TripStatus = z.infer<typeof TripStatus>;

export const Tier = z.enum(["standard", "premium"]);
export type Tier = z.infer<typeof Tier>;

export const Trip = z.object({
  id: uuid,
  rider_id: uuid,
  driver_id: uuid.nullable(),
  status: TripStatus,
  tier: Tier,
  pickup: LatLng,
  dropoff: LatLng,
  created_at: time,
  updated_at: time,
  assigned_at: time.nullable(),
  started_at: time.nullable(),
  completed_at: time.nullable(),
  cancelled_at: time.nullable(),
  cancel_reason: z.string().nullable(),
  city: z.string(),
});
export type Trip = z.infer<typeof Trip>;
export const TripList = z.array(Trip);

export interface TripRequest {
  pickup: LatLng;
  dropoff: LatLng;
  tier?: Tier;
}

/** The dispatch audit trail's kinds of step (API.md, "Audit `type`s"). */
export const AuditType = z.enum([
  "REQUESTED",
  "OFFER_SENT",
  "OFFER_DELIVERED",
  "OFFER_ACCEPTED",
  "OFFER_DECLINED",
  "OFFER_EXPIRED",
  "OFFER_UNREACHABLE",
  "ASSIGNED",
  "ARRIVED",
  "DRIVER_CANCELLED",
  "STARTED",
  "COMPLETED",
  "CANCELLED",
  "NO_DRIVER",
]);
export type AuditType = z.infer<typeof AuditType>;

/** One row of `GET /trips/{id}/events`, the dispatch audit trail. */
export const TripEvent = z.object({
  seq: z.number().int(),
  at: time,
  type: AuditType,
  driver_id: uuid.nullable(),
  detail: z.record(z.string(), z.unknown()),
});
export type TripEvent = z.infer<typeof TripEvent>;
export const TripEventList = z.array(TripEvent);

export const DeclineResponse = z.object({ status: z.literal("declined") });

export const Offer = z.object({
  trip_id: uuid,
  pickup: LatLng,
  dropoff: LatLng,
  tier: Tier,
  distance_km: z.number().nonnegative(),
  expires_at: time,
});
export type Offer = z.infer<typeof Offer>;

export const OfferRevoked = z.object({
  trip_id: uuid,
  reason: z.enum(["expired", "cancelled", "unreachable"]),
});
export type OfferRevoked = z.infer<typeof OfferRevoked>;

// ---- drivers ----
export const DriverStatus = z.enum(["OFFLINE", "ONLINE", "BUSY"]);
export type DriverStatus = z.infer<typeof DriverStatus>;

export const DriverProfile = z.object({
  id: uuid,
  status: DriverStatus,
  current_trip_id: uuid.nullable(),
  current_offer: Offer.nullable(),
  location: z.object({ lat: z.number(), lng: z.number(), updated_at: time }).nullable(),
});
export type DriverProfile = z.infer<typeof DriverProfile>;

export const StatusResponse = z.object({ status: DriverStatus });

export const NearbyDriver = z.object({
  driver_id: uuid,
  lat: z.number(),
  lng: z.number(),
  distance_km: z.number().nonnegative(),
});
export type NearbyDriver = z.infer<typeof NearbyDriver>;
export const NearbyList = z.array(NearbyDriver);

export interface LocationUpdate {
  lat: number;
  lng: number;
  heading?: number;
  speed_kmh?: number;
}

// ---- support ----
export const DispatchOutcome = z.enum(["accepted", "declined", "expired", "unreachable", "revoked", "open"]);
export type DispatchOutcome = z.infer<typeof DispatchOutcome>;

/** One offer made to a driver (`GET /support/drivers/{id}/dispatches`). */
export const DriverDispatch = z.object({
  trip_id: uuid,
  offer_id: uuid,
  sent_at: time,
  delivered_at: time.nullable(),
  delivered_via: z.enum(["socket", "rest"]).nullable(),
  answered_at: time.nullable(),
  outcome: DispatchOutcome,
});
export type DriverDispatch = z.infer<typeof DriverDispatch>;
export const DriverDispatchList = z.array(DriverDispatch);

// ---- realtime ----
export const DriverLocationEvent = z.object({
  driver_id: uuid,
  trip_id: uuid,
  lat: z.number(),
  lng: z.number(),
  heading: z.number().nullable().optional(),
  ts: time,
});
export type DriverLocationEvent = z.infer<typeof DriverLocationEvent>;

export const Ack = z.union([
  z.object({ ok: z.literal(true) }).passthrough(),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type Ack = z.infer<typeof Ack>;

// ---- carpool rooms ----
export const RoomState = z.object({
  key: z.string(),
  /** Not in API.md's list: the next departure of this slot, when the server sends it. */
  departs_at: time.optional(),
  drivers: z.array(z.object({ driver_id: uuid, seats_left: z.number().int().min(0).max(8) })),
  riders_waiting: z.array(uuid),
  pending: z.array(z.object({ rider_id: uuid, driver_id: uuid, expires_at: time })),
  rides: z.array(
    z.object({
      id: uuid,
      rider_id: uuid,
      driver_id: uuid,
      status: z.enum(["CONFIRMED", "CANCELLED"]),
    }),
  ),
});
export type RoomState = z.infer<typeof RoomState>;

export const MatchRequest = z.object({ key: z.string(), driver_id: uuid, expires_at: time });
export type MatchRequest = z.infer<typeof MatchRequest>;

export const RoomJoinAck = z.object({ ok: z.literal(true), state: RoomState }).passthrough();

// ---- run-time checking ----
export interface ContractReport {
  checked: Record<string, number>;
  failures: { name: string; issues: string; sample: string }[];
}

declare global {
  interface Window {
    __hailContracts?: ContractReport;
  }
}

function report(): ContractReport | undefined {
  if (typeof window === "undefined") return undefined;
  window.__hailContracts ??= { checked: {}, failures: [] };
  return window.__hailContracts;
}

export class ContractError extends Error {
  constructor(name: string, issues: string) {
    super(`The server sent a ${name} this app does not understand (${issues}). Reload the page; if it keeps happening, the app and the server are out of step.`);
  }
}

/** Parses `value` as `name`, counting the check (and any failure) in
 * `window.__hailContracts` so a test can see every answer was checked. */
export function check<S extends z.ZodType>(name: string, schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  const r = report();
  if (r) r.checked[name] = (r.checked[name] ?? 0) + 1;
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    r?.failures.push({ name, issues, sample: JSON.stringify(value).slice(0, 500) });
    console.error(`contract mismatch in ${name}: ${issues}`, value);
    throw new ContractError(name, issues);
  }
  return result.data;
}
