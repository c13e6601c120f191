// Look up one trip by id: its record (GET /trips/{id}) and its dispatch audit
// trail (GET /trips/{id}/events) as a timeline, oldest first.
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { Api } from "../common/api";
import { Trip, TripEventList, type TripEvent } from "../common/contracts";
import { formatDuration, formatMoney } from "../common/fare";
import { formatDistance } from "../common/geo";
import { Alert } from "../common/Shell";
import { useAction } from "../common/useAction";
import { compactJson, idSegment, oldestFirst, utcClock, utcDateTime } from "./format";
import type { Handoff } from "./SupportApp";

interface Props {
  api: Api;
  /** A trip picked elsewhere on the page (the dispatch table). */
  pick: Handoff | null;
  onDriver: (driverId: string) => void;
}

export function TripLookup({ api, pick, onDriver }: Props) {
  const [text, setText] = useState("");
  const [found, setFound] = useState<{ trip: Trip; events: TripEvent[] } | null>(null);
  const { busy, error, setError, act } = useAction();
  const card = useRef<HTMLDivElement>(null);

  const lookUp = (id: string) =>
    act(async () => {
      setFound(null);
      const seg = idSegment(id);
      const trip = api.get(`/trips/${seg}`, "Trip", Trip);
      const events = api.get(`/trips/${seg}/events`, "TripEvent[]", TripEventList);
      // Both asked at once; when both fail, the trip's own answer is the one shown.
      events.catch(() => {});
      setFound({ trip: await trip, events: oldestFirst(await events) });
    });

  useEffect(() => {
    if (!pick) return;
    setText(pick.id);
    void lookUp(pick.id);
    card.current?.scrollIntoView({ block: "start" });
  }, [pick]); // eslint-disable-line react-hooks/exhaustive-deps

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void lookUp(text);
  };

  return (
    <div className="card" ref={card} data-testid="trip-lookup">
      <h2>Trip</h2>
      <form className="row lookup" onSubmit={submit}>
        <label className="grow">
          Trip id
          <input name="trip_id" value={text} onChange={(e) => setText(e.target.value)} required placeholder="a trip's UUID" autoComplete="off" spellCheck={false} />
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? "Looking…" : "Look up"}
        </button>
      </form>
      {error && <Alert onClose={() => setError(null)}>{error}</Alert>}
      {found && (
        <>
          <TripFacts trip={found.trip} onDriver={onDriver} />
          <h3>Timeline</h3>
          <TripTimeline events={found.events} onDriver={onDriver} />
        </>
      )}
    </div>
  );
}

function TripFacts({ trip, onDriver }: { trip: Trip; onDriver: (id: string) => void }) {
  const point = (p: { lat: number; lng: number }) => `${p.lat.toFixed(5)}, ${p.lng.toFixed(5)}`;
  return (
    <dl className="facts" data-testid="trip-facts" data-status={trip.status}>
      <dt>Status</dt>
      <dd>
        <span className={`chip chip-${trip.status.toLowerCase()}`} data-testid="trip-status">{trip.status}</span> {trip.tier === "premium" ? "Premium" : "Standard"}
      </dd>
      <dt>Trip</dt>
      <dd className="mono">{trip.id}</dd>
      <dt>Rider</dt>
      <dd className="mono" data-testid="trip-rider">{trip.rider_id}</dd>
      <dt>Driver</dt>
      <dd className="mono" data-testid="trip-driver">
        {trip.driver_id ? (
          <button className="link" title="Show this driver's dispatches" onClick={() => onDriver(trip.driver_id as string)}>
            {trip.driver_id}
          </button>
        ) : (
          "—"
        )}
      </dd>
      <dt>City</dt>
      <dd data-testid="trip-city">{trip.city}</dd>
      <dt>Pickup</dt>
      <dd className="mono">{point(trip.pickup)}</dd>
      <dt>Dropoff</dt>
      <dd className="mono">{point(trip.dropoff)}</dd>
      <dt>Requested</dt>
      <dd>{utcDateTime(trip.created_at)}</dd>
      <dt>Assigned</dt>
      <dd>{utcDateTime(trip.assigned_at)}</dd>
      <dt>Arrived</dt>
      <dd>{utcDateTime(trip.arrived_at)}</dd>
      <dt>Started</dt>
      <dd>{utcDateTime(trip.started_at)}</dd>
      <dt>Completed</dt>
      <dd>{utcDateTime(trip.completed_at)}</dd>
      {trip.cancelled_at && (
        <>
          <dt>Cancelled</dt>
          <dd>
            {utcDateTime(trip.cancelled_at)}
            {trip.cancel_reason ? ` · ${trip.cancel_reason}` : ""}
          </dd>
        </>
      )}
      <dt>Fare</dt>
      <dd data-testid="trip-fare">
        {formatMoney(trip.fare.currency, trip.fare.final ?? trip.fare.estimate)}
        {trip.fare.final === null ? " (estimate)" : ""} · {formatDistance(trip.fare.distance_km)} · {formatDuration(trip.fare.duration_secs)}
      </dd>
      {trip.driver && (
        <>
          <dt>Car</dt>
          <dd>{trip.driver.vehicle ? `${trip.driver.vehicle.plate} · ${trip.driver.vehicle.color} ${trip.driver.vehicle.make} ${trip.driver.vehicle.model}` : "—"}</dd>
        </>
      )}
      {trip.rating && (
        <>
          <dt>Rating</dt>
          <dd data-testid="trip-rating">
            {trip.rating.stars}/5{trip.rating.comment ? ` · ${trip.rating.comment}` : ""}
          </dd>
        </>
      )}
      <dt>Updated</dt>
      <dd>{utcDateTime(trip.updated_at)}</dd>
    </dl>
  );
}

function TripTimeline({ events, onDriver }: { events: TripEvent[]; onDriver: (id: string) => void }) {
  if (events.length === 0) return <p className="empty">No dispatch steps recorded for this trip.</p>;
  return (
    <div className="table-wrap">
      <table className="data stack" data-testid="timeline">
        <thead>
          <tr>
            <th>Time (UTC)</th>
            <th>Type</th>
            <th>Driver</th>
            <th>Detail</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.seq} data-testid="timeline-row" data-type={e.type}>
              <td className="mono" data-label="Time (UTC)" title={e.at}>
                {utcClock(e.at)}
              </td>
              <td className="event-type" data-label="Type">
                {e.type}
              </td>
              <td className="mono" data-label="Driver">
                {e.driver_id ? (
                  <button className="link" title="Show this driver's dispatches" onClick={() => onDriver(e.driver_id as string)}>
                    {e.driver_id}
                  </button>
                ) : (
                  ""
                )}
              </td>
              <td className="mono detail" data-label="Detail">
                {compactJson(e.detail)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
