// The rider's trip, live: where it stands, who is coming in which car, the
// PIN to give at the kerb, and after the ride the receipt and the rating.
import type { Api } from "../common/api";
import type { Trip } from "../common/contracts";
import { formatMoney } from "../common/fare";
import { TripReceipt } from "../common/Receipt";
import { riderSteps, type RiderView } from "../common/tripView";
import { DriverCard } from "./DriverCard";
import { PickupPin } from "./PickupPin";
import { RateTrip } from "./RateTrip";

interface Props {
  api: Api;
  trip: Trip;
  view: RiderView;
  /** "Finding another driver…" while the search moved on. */
  notice: string | null;
  /** The backend's pickup ETA for this trip; undefined before the first location. */
  etaSecs: number | null | undefined;
  busy: boolean;
  onCancel: () => void;
  onBookAnother: () => void;
  onTrip: (t: Trip) => void;
}

export function TripStatusCard({ api, trip, view, notice, etaSecs, busy, onCancel, onBookAnother, onTrip }: Props) {
  const live = trip.status === "ASSIGNED" || trip.status === "ARRIVED" || trip.status === "ONGOING";
  return (
    <div className={`card status status-${view.tone}`} data-testid="trip-status" data-status={trip.status}>
      <div className="status-head">
        {view.tone === "progress" && trip.status === "REQUESTED" && <span className="pulse" aria-hidden />}
        <h2 data-testid="trip-title" className={trip.status === "ARRIVED" ? "title-here" : undefined}>
          {view.title}
        </h2>
      </div>
      <p className="status-detail" data-testid="trip-detail">{view.detail}</p>
      {trip.status === "REQUESTED" && notice && (
        <p className="search-notice" role="status" data-testid="finding-another">
          {notice}
        </p>
      )}
      {trip.status === "ARRIVED" && trip.pickup_pin && <PickupPin pin={trip.pickup_pin} large />}
      {live && trip.driver && <DriverCard driver={trip.driver} etaSecs={etaSecs} showEta={trip.status === "ASSIGNED"} />}
      {trip.status === "ASSIGNED" && trip.pickup_pin && <PickupPin pin={trip.pickup_pin} large={false} />}
      {trip.status !== "NO_DRIVER" && trip.status !== "CANCELLED" && (
        <ol className="steps">
          {riderSteps(trip.status).map((s) => (
            <li key={s.label} className={s.done ? "done" : ""}>
              {s.label}
            </li>
          ))}
        </ol>
      )}
      {trip.status === "COMPLETED" ? (
        <>
          <TripReceipt fare={trip.fare} />
          <RateTrip key={trip.id} api={api} trip={trip} onRated={onTrip} />
        </>
      ) : (
        <div className="trip-points">
          <div>
            <span className="dot dot-a">A</span> {trip.pickup.lat.toFixed(5)}, {trip.pickup.lng.toFixed(5)}
          </div>
          <div>
            <span className="dot dot-b">B</span> {trip.dropoff.lat.toFixed(5)}, {trip.dropoff.lng.toFixed(5)}
          </div>
          <div className="muted">
            {trip.tier === "premium" ? "Premium" : "Standard"}
            {trip.status !== "CANCELLED" && trip.status !== "NO_DRIVER" && <FareLine trip={trip} />}
          </div>
        </div>
      )}
      {view.canCancel && (
        <button className="btn btn-danger btn-block" onClick={onCancel} disabled={busy}>
          Cancel trip
        </button>
      )}
      {view.finished && (
        <button className="btn btn-primary btn-block" onClick={onBookAnother}>
          {trip.status === "NO_DRIVER" ? "Try again" : "Book another ride"}
        </button>
      )}
    </div>
  );
}

function FareLine({ trip }: { trip: Trip }) {
  return <span data-testid="trip-fare-estimate"> · est. {formatMoney(trip.fare.currency, trip.fare.estimate)}</span>;
}
