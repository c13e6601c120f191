// The driver's car: make, model, colour and plate (PUT /drivers/me/vehicle).
// Asked for before the first time online, with a way to skip it; editable
// later. Field problems from the API's 422 show under their fields.
import { useState, type FormEvent } from "react";
import { Api, ApiError } from "../common/api";
import { Vehicle, type VehicleRequest } from "../common/contracts";
import { Alert } from "../common/Shell";
import { useAction } from "../common/useAction";
import { emptyVehicle, fieldErrors, hasErrors, missingFields, VEHICLE_FIELDS, vehicleRequest, type FieldErrors } from "./vehicleForm";

interface Props {
  api: Api;
  current: Vehicle | null;
  /** The first ask: explain why, and offer to skip. */
  firstTime: boolean;
  onSaved: (v: Vehicle) => void;
  onSkip?: () => void;
  onCancel?: () => void;
}

export function VehicleForm({ api, current, firstTime, onSaved, onSkip, onCancel }: Props) {
  const [form, setForm] = useState<VehicleRequest>(current ?? emptyVehicle);
  const [errors, setErrors] = useState<FieldErrors>({});
  const { busy, error, setError, act } = useAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const missing = missingFields(form);
    setErrors(missing);
    if (hasErrors(missing)) return;
    void act(async () => {
      try {
        onSaved(await api.put("/drivers/me/vehicle", "Vehicle", Vehicle, vehicleRequest(form)));
      } catch (err) {
        if (err instanceof ApiError && err.code === "validation_failed") {
          const { fields, other } = fieldErrors(err.details);
          setErrors(fields);
          if (other.length || !hasErrors(fields)) throw new Error(`Check your car's details${other.length ? `: ${other.join("; ")}` : "."}`);
          return;
        }
        throw err;
      }
    });
  };

  return (
    <form className="card vehicle-form" data-testid="vehicle-form" onSubmit={submit} noValidate>
      <h2>{firstTime ? "Add your car" : "Your car"}</h2>
      {firstTime && <p className="muted">Riders find you by your car and its plate. Add it before your first trip, or skip for now.</p>}
      <div className="vehicle-fields">
        {VEHICLE_FIELDS.map((f) => (
          <label key={f.name} className={errors[f.name] ? "has-error" : undefined}>
            {f.label}
            <input
              name={`vehicle_${f.name}`}
              value={form[f.name]}
              maxLength={f.max}
              placeholder={f.placeholder}
              autoCapitalize={f.name === "plate" ? "characters" : "words"}
              aria-invalid={!!errors[f.name]}
              onChange={(e) => setForm({ ...form, [f.name]: e.target.value })}
            />
            {errors[f.name] && (
              <span className="field-error" data-testid={`vehicle-error-${f.name}`}>
                {errors[f.name]!.join(", ")}
              </span>
            )}
          </label>
        ))}
      </div>
      {error && <Alert onClose={() => setError(null)}>{error}</Alert>}
      <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
        {busy ? "Saving…" : "Save car"}
      </button>
      {onSkip && (
        <button className="btn btn-ghost btn-block" type="button" onClick={onSkip} disabled={busy}>
          Skip for now
        </button>
      )}
      {onCancel && (
        <button className="btn btn-ghost btn-block" type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      )}
    </form>
  );
}
