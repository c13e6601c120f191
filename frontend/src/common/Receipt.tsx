// A trip's fare as a receipt: the final fare (or the estimate while there is
// none), the distance and the time. The rider sees it after the trip, and so
// does the driver.
import type { Fare } from "./contracts";
import { receiptOf } from "./fare";

export function TripReceipt({ fare, title = "Receipt" }: { fare: Fare; title?: string }) {
  const r = receiptOf(fare);
  return (
    <section className="receipt" data-testid="receipt" data-final={r.isFinal}>
      <h3>{title}</h3>
      <div className="receipt-total">
        <span>{r.label}</span>
        <strong data-testid="receipt-fare">{r.amount}</strong>
      </div>
      <dl className="receipt-lines">
        <dt>Distance</dt>
        <dd data-testid="receipt-distance">{r.distance}</dd>
        <dt>Time</dt>
        <dd data-testid="receipt-duration">{r.duration}</dd>
      </dl>
    </section>
  );
}
