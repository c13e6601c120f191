// Who is coming: the driver's name and rating, the car, and its plate large
// enough to pick the car out on a street; with the backend's pickup ETA and,
// when the trip has one, the rider's PIN.
import type { TripDriver } from "../common/contracts";
import { formatPickupEta } from "../common/eta";
import { DriverRating } from "../common/Stars";
import { browserKnowsColour, swatchColour } from "../common/vehicle";

interface Props {
  driver: TripDriver;
  /** The backend's ETA to the pickup; undefined before the first location. */
  etaSecs?: number | null;
  showEta: boolean;
}

export function DriverCard({ driver, etaSecs, showEta }: Props) {
  const eta = formatPickupEta(etaSecs);
  const v = driver.vehicle;
  return (
    <section className="driver-card" data-testid="driver-card">
      <div className="driver-card-head">
        <div>
          <div className="driver-name" data-testid="driver-name">{driver.name}</div>
          <DriverRating rating={driver.rating} />
        </div>
        {showEta && (
          <div className="driver-eta" data-testid="driver-eta">
            <span className="muted small">Arrives in</span>
            <strong>{eta ?? "…"}</strong>
          </div>
        )}
      </div>
      {v ? (
        <>
          <div className="plate" data-testid="vehicle-plate" aria-label={`Plate ${v.plate}`}>
            {v.plate}
          </div>
          <div className="car-line" data-testid="vehicle">
            <span className="car-model">
              {v.make} {v.model}
            </span>
            <span className="car-colour">
              <span className="swatch" style={{ background: swatchColour(v.color, browserKnowsColour) ?? "transparent" }} aria-hidden />
              {v.color}
            </span>
          </div>
        </>
      ) : (
        <p className="muted" data-testid="vehicle-missing">Your driver has not added their car's details. Check the driver's name before you get in.</p>
      )}
    </section>
  );
}
