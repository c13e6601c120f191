// "Where to?": pickup and dropoff (typed or tapped on the map), the ride
// type, drivers nearby, the price, and the request button.
import type { LatLng, NearbyDriver, Tier } from "../common/contracts";
import { CoordinateField } from "../common/CoordinateField";
import { carSvg } from "../common/icons";
import { FareQuote } from "./FareQuote";
import type { EstimateState } from "./useFareEstimate";

interface Props {
  pickup: LatLng | null;
  dropoff: LatLng | null;
  picking: "pickup" | "dropoff";
  onPicking: (p: "pickup" | "dropoff") => void;
  onPickup: (p: LatLng) => void;
  onDropoff: (p: LatLng) => void;
  tier: Tier;
  onTier: (t: Tier) => void;
  nearby: NearbyDriver[];
  nearbyError: string | null;
  estimate: EstimateState;
  busy: boolean;
  onRequest: () => void;
}

export function BookingCard({ pickup, dropoff, picking, onPicking, onPickup, onDropoff, tier, onTier, nearby, nearbyError, estimate, busy, onRequest }: Props) {
  const blocked = estimate.failure !== null && !estimate.failure.canBook;
  return (
    <div className="card">
      <h2>Where to?</h2>
      <p className="muted hint">Tap the map to set the {picking === "pickup" ? "pickup (A)" : "dropoff (B)"}, or type coordinates.</p>
      <CoordinateField name="pickup" label="Pickup" badge="A" value={pickup} active={picking === "pickup"} onFocus={() => onPicking("pickup")} onChange={onPickup} />
      <CoordinateField name="dropoff" label="Dropoff" badge="B" value={dropoff} active={picking === "dropoff"} onFocus={() => onPicking("dropoff")} onChange={onDropoff} />
      <div className="tiers" role="radiogroup" aria-label="Ride type">
        {(["standard", "premium"] as const).map((t) => (
          <button key={t} role="radio" aria-checked={tier === t} className={`tier ${tier === t ? "on" : ""}`} onClick={() => onTier(t)}>
            <span className="tier-icon" dangerouslySetInnerHTML={{ __html: carSvg(t === "premium" ? "#0f172a" : "#2563eb", 22) }} />
            <span className="tier-name">{t === "premium" ? "Premium" : "Standard"}</span>
            <span className="tier-note">{t === "premium" ? "Matched first" : "Everyday rides"}</span>
          </button>
        ))}
      </div>
      <p className="nearby" data-testid="nearby-count">
        {nearbyError ? nearbyError : nearby.length === 0 ? "No drivers nearby right now" : `${nearby.length} driver${nearby.length === 1 ? "" : "s"} nearby`}
      </p>
      <FareQuote state={estimate} />
      <button className="btn btn-primary btn-block" disabled={!pickup || !dropoff || busy || blocked} onClick={onRequest}>
        {busy ? "Requesting…" : "Request ride"}
      </button>
    </div>
  );
}
