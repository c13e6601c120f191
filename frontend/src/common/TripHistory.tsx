// The caller's trips, newest first (GET /api/v1/trips).
import { useEffect, useState } from "react";
import { Api, errorText } from "./api";
import { TripList, type Trip } from "./contracts";
import { historyFare } from "./fare";
import { distanceKm, formatDistance } from "./geo";
import { StarRow } from "./Stars";
import { statusLabel } from "./tripView";
import { Alert } from "./Shell";

export function TripHistory({ api, refreshKey }: { api: Api; refreshKey: string }) {
  const [trips, setTrips] = useState<Trip[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api
      .get("/trips?limit=20", "Trip[]", TripList)
      .then((t) => live && (setTrips(t), setError(null)))
      .catch((e) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [api, refreshKey]);
  if (error) return <Alert>{error}</Alert>;
  if (!trips) return <p className="muted">Loading your trips…</p>;
  if (trips.length === 0) return <p className="empty" data-testid="history-empty">No trips yet. Your rides will show up here.</p>;
  return (
    <ul className="history" data-testid="history">
      {trips.map((t) => (
        <li key={t.id} className="history-item" data-testid="history-item" data-status={t.status}>
          <div className="history-top">
            <span className="history-when">{new Date(t.created_at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}</span>
            <span className={`chip chip-${t.status.toLowerCase()}`}>{statusLabel[t.status]}</span>
          </div>
          <div className="history-route">
            <span className="dot dot-a">A</span> {t.pickup.lat.toFixed(4)}, {t.pickup.lng.toFixed(4)}
            <span className="arrow">→</span>
            <span className="dot dot-b">B</span> {t.dropoff.lat.toFixed(4)}, {t.dropoff.lng.toFixed(4)}
          </div>
          <div className="history-meta">
            <span>
              {t.tier === "premium" ? "Premium" : "Standard"} · {formatDistance(t.status === "COMPLETED" ? t.fare.distance_km : distanceKm(t.pickup, t.dropoff))}
              {t.driver ? ` · ${t.driver.name}` : ""}
            </span>
            <span className="history-fare" data-testid="history-fare">{historyFare(t)}</span>
          </div>
          {t.rating && (
            <div className="history-rating" data-testid="history-rating">
              <StarRow stars={t.rating.stars} size={14} />
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}
