// The driver's car form (PUT /drivers/me/vehicle): its fields, the checks
// worth making before sending, the server's field errors, and whether to ask
// for the car at all. Pure; the API judges the plate's characters.
import type { DriverProfile, VehicleRequest } from "../common/contracts";

export type VehicleField = keyof VehicleRequest;
export type FieldErrors = Partial<Record<VehicleField, string[]>>;

export const VEHICLE_FIELDS: readonly { name: VehicleField; label: string; max: number; placeholder: string }[] = [
  { name: "make", label: "Make", max: 40, placeholder: "Toyota" },
  { name: "model", label: "Model", max: 40, placeholder: "Corolla Altis" },
  { name: "color", label: "Colour", max: 20, placeholder: "Silver" },
  { name: "plate", label: "Plate", max: 16, placeholder: "SBA 1234 K" },
];

export const emptyVehicle: VehicleRequest = { make: "", model: "", color: "", plate: "" };

/** What is sent: each field trimmed. */
export function vehicleRequest(form: VehicleRequest): VehicleRequest {
  return { make: form.make.trim(), model: form.model.trim(), color: form.color.trim(), plate: form.plate.trim() };
}

/** Empty or too long fields, before asking the server. */
export function missingFields(form: VehicleRequest): FieldErrors {
  const out: FieldErrors = {};
  const req = vehicleRequest(form);
  for (const f of VEHICLE_FIELDS) {
    if (!req[f.name]) out[f.name] = ["Required"];
    else if ([...req[f.name]].length > f.max) out[f.name] = [`At most ${f.max} characters`];
  }
  return out;
}

/** The server's 422 `details` ({field: [messages]}) as errors per field;
 * anything it names that is not a field of the form goes under `other`. */
export function fieldErrors(details: Record<string, unknown> | null | undefined): { fields: FieldErrors; other: string[] } {
  const fields: FieldErrors = {};
  const other: string[] = [];
  for (const [key, value] of Object.entries(details ?? {})) {
    const messages = Array.isArray(value) ? value.map(String) : [String(value)];
    if (VEHICLE_FIELDS.some((f) => f.name === key)) fields[key as VehicleField] = messages;
    else other.push(`${key}: ${messages.join(", ")}`);
  }
  return { fields, other };
}

export const hasErrors = (e: FieldErrors): boolean => Object.values(e).some((m) => m && m.length > 0);

/** Ask for the car before going online: only an offline driver without
 * one who has not chosen to skip it. */
export function shouldAskForVehicle(profile: Pick<DriverProfile, "status" | "vehicle"> | null, skipped: boolean): boolean {
  return !!profile && profile.status === "OFFLINE" && profile.vehicle === null && !skipped;
}

const skipKey = (driverId: string) => `hail.vehicle-skipped.${driverId}`;
export function vehicleSkipped(driverId: string): boolean {
  try {
    return localStorage.getItem(skipKey(driverId)) === "1";
  } catch {
    return false;
  }
}
export function rememberVehicleSkipped(driverId: string): void {
  try {
    localStorage.setItem(skipKey(driverId), "1");
  } catch {
    // Private mode: the driver is asked again next time, nothing worse.
  }
}
