// Ratings as people read and give them: a driver's average, and the checks
// on a rider's rating before it is sent (POST /trips/{id}/rating). Pure.
import type { RatingRequest, RatingSummary } from "./contracts";

export const MAX_COMMENT = 500;

/** "4.8 (12 ratings)", or "New driver" before the first rating. */
export function ratingText(rating: RatingSummary | null): string {
  if (!rating) return "New driver";
  return `${rating.average.toFixed(1)} (${rating.count} rating${rating.count === 1 ? "" : "s"})`;
}

/** The body to send, or what is wrong with the rating as given. */
export function ratingRequest(stars: number, comment: string): { ok: true; body: RatingRequest } | { ok: false; problem: string } {
  if (!Number.isInteger(stars) || stars < 1 || stars > 5) return { ok: false, problem: "Choose 1 to 5 stars." };
  const text = comment.trim();
  if ([...text].length > MAX_COMMENT) return { ok: false, problem: `Keep the comment to ${MAX_COMMENT} characters.` };
  return { ok: true, body: text ? { stars, comment: text } : { stars } };
}

/** What each star button says. */
export const STAR_WORDS = ["Terrible", "Bad", "OK", "Good", "Great"] as const;
