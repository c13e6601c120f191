// A trip request to answer before its countdown ends: the fare it should
// pay, how far the pickup is, the trip's two points.
import type { Offer } from "../common/contracts";
import { formatMoney } from "../common/fare";
import { distanceKm, formatDistance } from "../common/geo";

interface Props {
  offer: Offer;
  secondsLeft: number;
  busy: boolean;
  onAccept: () => void;
  onDecline: () => void;
}

export function OfferCard({ offer, secondsLeft, busy, onAccept, onDecline }: Props) {
  return (
    <div className="card offer" data-testid="offer-card">
      <div className="offer-head">
        <h2>New trip request</h2>
        <span className="countdown" data-testid="offer-countdown">{secondsLeft}s</span>
      </div>
      <div className="offer-bar">
        <span style={{ width: `${Math.min(100, (secondsLeft / 15) * 100)}%` }} />
      </div>
      <div className="offer-fare">
        <span className="muted small">Estimated fare</span>
        <strong data-testid="offer-fare">{formatMoney(offer.fare_estimate.currency, offer.fare_estimate.amount)}</strong>
      </div>
      <p className="offer-meta">
        {offer.tier === "premium" ? "Premium" : "Standard"} · pickup {formatDistance(offer.distance_km)} away · trip {formatDistance(distanceKm(offer.pickup, offer.dropoff))}
      </p>
      <div className="trip-points">
        <div>
          <span className="dot dot-a">A</span> {offer.pickup.lat.toFixed(5)}, {offer.pickup.lng.toFixed(5)}
        </div>
        <div>
          <span className="dot dot-b">B</span> {offer.dropoff.lat.toFixed(5)}, {offer.dropoff.lng.toFixed(5)}
        </div>
      </div>
      <div className="row">
        <button className="btn btn-ghost" onClick={onDecline} disabled={busy}>
          Decline
        </button>
        <button className="btn btn-primary grow" onClick={onAccept} disabled={busy}>
          Accept
        </button>
      </div>
    </div>
  );
}
