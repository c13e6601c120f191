// The driver's trip: where to go, the backend's pickup ETA, "I've arrived",
// start (with the rider's PIN when the city asks for one), complete, and
// the fare once it is done.
import type { Trip } from "../common/contracts";
import { Alert } from "../common/Shell";
import { TripReceipt } from "../common/Receipt";
import type { DriverTripView } from "../common/tripView";
import { PinEntry } from "./PinEntry";
import type { PinStep } from "./pinStep";

interface Props {
  trip: Trip;
  view: DriverTripView;
  busy: boolean;
  pinStep: PinStep;
  pin: string;
  /** Why "I've arrived" was refused (not at the pickup yet). */
  arriveProblem: string | null;
  onPin: (pin: string) => void;
  onArrive: () => void;
  onStart: () => void;
  onComplete: () => void;
  onCancel: () => void;
  onDone: () => void;
}

export function DriverTripCard({ trip, view, busy, pinStep, pin, arriveProblem, onPin, onArrive, onStart, onComplete, onCancel, onDone }: Props) {
  const canArrive = view.actions.includes("arrive");
  const canStart = view.actions.includes("start");
  return (
    <div className="card status" data-testid="driver-trip" data-status={trip.status}>
      <h2 data-testid="driver-trip-title">{view.title}</h2>
      <p className="status-detail" data-testid="driver-trip-detail">{view.detail}</p>
      {arriveProblem && canArrive && (
        <Alert tone="warning">
          <span data-testid="not-at-pickup">{arriveProblem}</span>
        </Alert>
      )}
      {canArrive && (
        <button className="btn btn-primary btn-block" onClick={onArrive} disabled={busy}>
          I've arrived
        </button>
      )}
      {canStart && pinStep.asked && <PinEntry step={pinStep} pin={pin} busy={busy} onPin={onPin} onSubmit={onStart} />}
      {canStart && !pinStep.asked && (
        <button className={`btn btn-block ${canArrive ? "btn-ghost" : "btn-primary"}`} onClick={onStart} disabled={busy}>
          Start trip
        </button>
      )}
      {view.actions.includes("complete") && (
        <button className="btn btn-success btn-block" onClick={onComplete} disabled={busy}>
          Complete trip
        </button>
      )}
      {view.canCancel && (
        <button className="btn btn-ghost btn-block" onClick={onCancel} disabled={busy}>
          {view.handsBack ? "Hand the trip back" : "Cancel trip"}
        </button>
      )}
      {trip.status === "COMPLETED" && <TripReceipt fare={trip.fare} title="Fare" />}
      {view.finished && (
        <button className="btn btn-primary btn-block" onClick={onDone}>
          Done
        </button>
      )}
    </div>
  );
}
