// Stars drawn as SVG (icons.ts: no emoji font is assumed), and a driver's
// average rating as riders and drivers read it.
import type { RatingSummary } from "./contracts";
import { STAR_PATH } from "./icons";
import { ratingText } from "./rating";

export function StarIcon({ filled, size = 18 }: { filled: boolean; size?: number }) {
  return (
    <svg viewBox="0 0 24 24" width={size} height={size} aria-hidden="true" className={`star ${filled ? "star-on" : "star-off"}`}>
      <path d={STAR_PATH} />
    </svg>
  );
}

export function DriverRating({ rating }: { rating: RatingSummary | null }) {
  return (
    <span className="driver-rating" data-testid="driver-rating">
      {rating && <StarIcon filled size={16} />}
      {ratingText(rating)}
    </span>
  );
}

/** A given rating's stars, e.g. four of five filled. */
export function StarRow({ stars, size = 20 }: { stars: number; size?: number }) {
  return (
    <span className="star-row" role="img" aria-label={`${stars} out of 5 stars`}>
      {[1, 2, 3, 4, 5].map((n) => (
        <StarIcon key={n} filled={n <= stars} size={size} />
      ))}
    </span>
  );
}
