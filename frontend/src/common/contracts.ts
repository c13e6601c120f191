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
  "ARRIVED",
  "ONGOING",
  "COMPLETED",
  "NO_DRIVER",
  "CANCELLED",
]);
export type TripStatus = z.infer<typeof TripStatus>;

export const Tier = z.enum(["standard", "premium"]);
export type Tier = z.infer<typeof Tier>;

// ---- money, vehicles, ratings ----
/** An ISO 4217 code, as the cities file names it ("SGD"). */
export const Currency = z.string().regex(/^[A-Z]{3}$/, "a three-letter currency code");

/** An amount in the currency's major unit, rounded to 2 places (API.md). */
export const Amount = z
  .number()
  .nonnegative()
  .refine((n) => Number.isFinite(n) && Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, "an amount with at most 2 decimal places");

export const Money = z.object({ currency: Currency, amount: Amount });
export type Money = z.infer<typeof Money>;

/** A plate: letters, digits, spaces and dashes (PUT /drivers/me/vehicle). */
export const PLATE_PATTERN = /^[\p{L}\p{N} -]+$/u;

export const Vehicle = z.object({
  make: z.string().min(1).max(40),
  model: z.string().min(1).max(40),
  color: z.string().min(1).max(20),
  plate: z.string().min(1).max(16).regex(PLATE_PATTERN, "letters, digits, spaces and dashes"),
});
export type Vehicle = z.infer<typeof Vehicle>;

export interface VehicleRequest {
  make: string;
  model: string;
  color: string;
  plate: string;
}

/** A driver's average over the trips riders rated; null until the first. */
export const RatingSummary = z.object({
  average: z.number().min(1).max(5),
  count: z.number().int().positive(),
});
export type RatingSummary = z.infer<typeof RatingSummary>;

/** One rider's rating of one trip. */
export const TripRating = z.object({
  stars: z.number().int().min(1).max(5),
  comment: z.string().max(500).nullable(),
});
export type TripRating = z.infer<typeof TripRating>;

export interface RatingRequest {
  stars: number;
  comment?: string;
}

// ---- trips ----
/** The driver as the trip's rider sees them, from ASSIGNED on. */
export const TripDriver = z.object({
  id: uuid,
  name: z.string(),
  vehicle: Vehicle.nullable(),
  rating: RatingSummary.nullable(),
});
export type TripDriver = z.infer<typeof TripDriver>;

/** `estimate` fixed at request time; `final` from COMPLETED on. Distance
 * and duration are the estimate's until COMPLETED, then the trip's own. */
export const Fare = z.object({
  currency: Currency,
  estimate: Amount,
  final: Amount.nullable(),
  distance_km: z.number().nonnegative(),
  duration_secs: z.number().nonnegative(),
});
export type Fare = z.infer<typeof Fare>;

/** Four digits, and only ever non-null for the trip's own rider. */
export const PickupPin = z.string().regex(/^[0-9]{4}$/, "four digits");

export const Trip = z
  .object({
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
    arrived_at: time.nullable(),
    started_at: time.nullable(),
    completed_at: time.nullable(),
    cancelled_at: time.nullable(),
    cancel_reason: z.string().nullable(),
    city: z.string(),
    driver: TripDriver.nullable(),
    fare: Fare,
    pickup_pin: PickupPin.nullable(),
    rating: TripRating.nullable(),
  })
  .superRefine((t, ctx) => {
    // API.md's rules between fields: the driver object goes with driver_id,
    // a final fare and a rating only exist once the trip is completed.
    if ((t.driver === null) !== (t.driver_id === null) || (t.driver && t.driver.id !== t.driver_id)) {
      ctx.addIssue({ code: "custom", path: ["driver"], message: "the driver object must be present exactly when driver_id is, with the same id" });
    }
    if (t.status !== "COMPLETED" && t.fare.final !== null) ctx.addIssue({ code: "custom", path: ["fare", "final"], message: "only a completed trip has a final fare" });
    if (t.status !== "COMPLETED" && t.rating !== null) ctx.addIssue({ code: "custom", path: ["rating"], message: "only a completed trip is rated" });
    if (t.status === "ARRIVED" && t.arrived_at === null) ctx.addIssue({ code: "custom", path: ["arrived_at"], message: "an ARRIVED trip has arrived_at" });
  });
export type Trip = z.infer<typeof Trip>;
export const TripList = z.array(Trip);

export interface TripRequest {
  pickup: LatLng;
  dropoff: LatLng;
  tier?: Tier;
}

/** POST /trips/estimate: the price and times before booking. */
export const FareEstimate = z.object({
  city: z.string(),
  distance_km: z.number().nonnegative(),
  duration_secs: z.number().nonnegative(),
  fare: Money,
  /** The nearest matchable driver's ETA to the pickup; null when none is in reach. */
  pickup_eta_secs: z.number().nonnegative().nullable(),
});
export type FareEstimate = z.infer<typeof FareEstimate>;

/** POST /trips/{id}/start: the rider's PIN when the city asks for one. */
export interface StartRequest {
  pin?: string;
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
  fare_estimate: Money,
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
  name: z.string(),
  status: DriverStatus,
  city: z.string().nullable(),
  vehicle: Vehicle.nullable(),
  rating: RatingSummary.nullable(),
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
  /** The backend's pickup ETA while the trip is ASSIGNED; null from ARRIVED on. */
  pickup_eta_secs: z.number().nonnegative().nullable(),
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
