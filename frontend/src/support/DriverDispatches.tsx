// One driver's offers on one UTC day (GET /support/drivers/{id}/dispatches):
// when each was sent, reached the phone (and how), was answered, and how it
// ended. A trip in the table opens in the trip lookup.
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { Api } from "../common/api";
import { DriverDispatchList, type DriverDispatch } from "../common/contracts";
import { Alert } from "../common/Shell";
import { useAction } from "../common/useAction";
import { after, deliveredText, idSegment, utcClock, utcDay } from "./format";
import type { Handoff } from "./SupportApp";

interface Props {
  api: Api;
  /** A driver picked elsewhere on the page (the trip's record or timeline). */
  pick: Handoff | null;
  onTrip: (tripId: string) => void;
}

export function DriverDispatches({ api, pick, onTrip }: Props) {
  const [driver, setDriver] = useState("");
  const [day, setDay] = useState(() => utcDay());
  const [found, setFound] = useState<{ day: string; rows: DriverDispatch[] } | null>(null);
  const { busy, error, setError, act } = useAction();
  const card = useRef<HTMLDivElement>(null);

  const lookUp = (id: string, on: string) =>
    act(async () => {
      setFound(null);
      const rows = await api.get(`/support/drivers/${idSegment(id)}/dispatches?date=${encodeURIComponent(on)}`, "DriverDispatch[]", DriverDispatchList);
      setFound({ day: on, rows });
    });

  useEffect(() => {
    if (!pick) return;
    setDriver(pick.id);
    void lookUp(pick.id, day);
    card.current?.scrollIntoView({ block: "start" });
  }, [pick]); // eslint-disable-line react-hooks/exhaustive-deps

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void lookUp(driver, day);
  };

  return (
    <div className="card" ref={card} data-testid="driver-dispatches">
      <h2>Driver's offers</h2>
      <form className="row lookup" onSubmit={submit}>
        <label className="grow">
          Driver id
          <input name="driver_id" value={driver} onChange={(e) => setDriver(e.target.value)} required placeholder="a driver's UUID" autoComplete="off" spellCheck={false} />
        </label>
        <label>
          Day (UTC)
          <input name="date" type="date" value={day} onChange={(e) => setDay(e.target.value)} required />
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? "Looking…" : "Show"}
        </button>
      </form>
      {error && <Alert onClose={() => setError(null)}>{error}</Alert>}
      {found && <DispatchTable day={found.day} rows={found.rows} onTrip={onTrip} />}
    </div>
  );
}

function DispatchTable({ day, rows, onTrip }: { day: string; rows: DriverDispatch[]; onTrip: (id: string) => void }) {
  if (rows.length === 0) return <p className="empty" data-testid="dispatches-empty">No offers to this driver on {day} (UTC).</p>;
  return (
    <div className="table-wrap">
      <table className="data stack" data-testid="dispatches">
        <thead>
          <tr>
            <th>Trip</th>
            <th>Sent (UTC)</th>
            <th>Delivered</th>
            <th>Answered</th>
            <th>Outcome</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((d) => (
            <tr key={d.offer_id} data-testid="dispatch-row" data-trip={d.trip_id} data-outcome={d.outcome} data-via={d.delivered_via ?? ""}>
              <td className="mono" data-label="Trip">
                <button className="link" title="Look up this trip" data-testid="dispatch-trip" onClick={() => onTrip(d.trip_id)}>
                  {d.trip_id}
                </button>
              </td>
              <td className="mono" data-label="Sent (UTC)" title={d.sent_at}>
                {utcClock(d.sent_at)}
              </td>
              <td className="mono" data-label="Delivered" data-testid="dispatch-delivered">
                <div>
                  {deliveredText(d)}
                  {d.delivered_at && <span className="muted block">{after(d.sent_at, d.delivered_at)}</span>}
                </div>
              </td>
              <td className="mono" data-label="Answered">
                <div>
                  {d.answered_at ? utcClock(d.answered_at) : "—"}
                  {d.answered_at && <span className="muted block">{after(d.sent_at, d.answered_at)}</span>}
                </div>
              </td>
              <td data-label="Outcome">
                <span className={`chip chip-outcome-${d.outcome}`} data-testid="dispatch-outcome">{d.outcome}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
