// The driver's own car and rating as riders see them, with a way to change
// the car.
import type { RatingSummary, Vehicle } from "../common/contracts";
import { DriverRating } from "../common/Stars";
import { carLine } from "../common/vehicle";

interface Props {
  vehicle: Vehicle | null;
  rating: RatingSummary | null;
  onEdit: () => void;
}

export function VehicleCard({ vehicle, rating, onEdit }: Props) {
  return (
    <div className="card vehicle-card" data-testid="vehicle-card">
      <div className="vehicle-card-head">
        <h2>Your car</h2>
        <button className="btn btn-ghost btn-small" onClick={onEdit}>
          {vehicle ? "Edit" : "Add your car"}
        </button>
      </div>
      {vehicle ? (
        <>
          <div className="plate plate-small" data-testid="my-plate">{vehicle.plate}</div>
          <p className="car-line" data-testid="my-car">{carLine(vehicle)}</p>
        </>
      ) : (
        <p className="muted">No car yet: riders will see only your name.</p>
      )}
      <p className="small">
        Your rating: <DriverRating rating={rating} />
      </p>
    </div>
  );
}
