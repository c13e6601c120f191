// The rider's pickup PIN, in digits big enough to read out at the kerb.
export function PickupPin({ pin, large }: { pin: string; large: boolean }) {
  return (
    <section className={`pin-card ${large ? "pin-card-large" : ""}`} data-testid="pickup-pin-card">
      <p className="pin-lead">Tell your driver this PIN</p>
      <div className="pin-digits" data-testid="pickup-pin" aria-label={`PIN ${pin.split("").join(" ")}`}>
        {pin.split("").map((d, i) => (
          <span key={i}>{d}</span>
        ))}
      </div>
      {!large && <p className="muted small">They need it to start the trip. Only give it to the driver shown above.</p>}
    </section>
  );
}
