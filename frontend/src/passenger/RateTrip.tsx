// After the trip: rate it 1 to 5 stars, with an optional comment; once
// rated, the rating itself. A second rating (409 already_rated) is not an
// error to the rider: the trip is read again and its rating shown.
import { useState } from "react";
import { Api, ApiError } from "../common/api";
import { Trip, type TripRating } from "../common/contracts";
import { MAX_COMMENT, ratingRequest, STAR_WORDS } from "../common/rating";
import { Alert } from "../common/Shell";
import { StarIcon, StarRow } from "../common/Stars";
import { useAction } from "../common/useAction";

interface Props {
  api: Api;
  trip: Trip;
  onRated: (t: Trip) => void;
}

export function RateTrip({ api, trip, onRated }: Props) {
  const [stars, setStars] = useState(0);
  const [comment, setComment] = useState("");
  const [note, setNote] = useState<string | null>(null);
  const { busy, error, setError, act } = useAction();

  if (trip.rating) return <YourRating rating={trip.rating} note={note} />;

  const submit = () =>
    act(async () => {
      const r = ratingRequest(stars, comment);
      if (!r.ok) throw new Error(r.problem);
      try {
        onRated(await api.post(`/trips/${trip.id}/rating`, "Trip", Trip, r.body));
      } catch (e) {
        if (!(e instanceof ApiError && e.code === "already_rated")) throw e;
        setNote("You had already rated this trip.");
        onRated(await api.get(`/trips/${trip.id}`, "Trip", Trip));
      }
    });

  return (
    <section className="rate" data-testid="rate-trip">
      <h3>How was your ride?</h3>
      <div className="star-picker" role="radiogroup" aria-label="Stars">
        {STAR_WORDS.map((word, i) => (
          <button key={word} type="button" role="radio" aria-checked={stars === i + 1} aria-label={`${i + 1} star${i ? "s" : ""}: ${word}`} title={word} className={`star-button ${i < stars ? "on" : ""}`} onClick={() => setStars(i + 1)}>
            <StarIcon filled={i < stars} size={34} />
          </button>
        ))}
      </div>
      <p className="muted small star-word">{stars ? STAR_WORDS[stars - 1] : "Tap a star"}</p>
      <label>
        Comment (optional)
        <textarea name="comment" value={comment} maxLength={MAX_COMMENT} rows={2} onChange={(e) => setComment(e.target.value)} placeholder="What went well, or not?" />
      </label>
      {error && <Alert onClose={() => setError(null)}>{error}</Alert>}
      <button className="btn btn-primary btn-block" onClick={submit} disabled={busy || stars === 0}>
        {busy ? "Sending…" : "Submit rating"}
      </button>
    </section>
  );
}

function YourRating({ rating, note }: { rating: TripRating; note: string | null }) {
  return (
    <section className="rate rate-done" data-testid="your-rating" data-stars={rating.stars}>
      <h3>Your rating</h3>
      {note && <p className="muted small">{note}</p>}
      <StarRow stars={rating.stars} size={26} />
      {rating.comment && <p className="rating-comment" data-testid="your-rating-comment">“{rating.comment}”</p>}
      <p className="muted small">Thanks for rating your ride.</p>
    </section>
  );
}
