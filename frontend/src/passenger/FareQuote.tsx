// The price before booking: fare, distance, time, and how far the nearest
// driver is; or why there is none (a pickup Hail does not serve).
import { Alert } from "../common/Shell";
import { quoteLines } from "./fareQuote";
import type { EstimateState } from "./useFareEstimate";

export function FareQuote({ state }: { state: EstimateState }) {
  if (state.failure) {
    return (
      <Alert tone={state.failure.canBook ? "warning" : "error"}>
        <span data-testid="estimate-error">{state.failure.message}</span>
      </Alert>
    );
  }
  if (!state.estimate) {
    return state.loading ? <p className="quote quote-loading muted" data-testid="estimate-loading">Getting a price…</p> : null;
  }
  const q = quoteLines(state.estimate);
  return (
    <div className="quote" data-testid="estimate">
      <div className="quote-fare">
        <span className="muted small">Estimated fare</span>
        <strong data-testid="estimate-fare">{q.fare}</strong>
      </div>
      <div className="quote-facts">
        <span data-testid="estimate-distance">{q.distance}</span>
        <span data-testid="estimate-duration">{q.duration}</span>
      </div>
      <p className="quote-eta" data-testid="estimate-eta">{q.pickup}</p>
    </div>
  );
}
