// A typed coordinate ("1.3048, 103.8318") that also shows what a map click set.
import { useEffect, useState } from "react";
import type { LatLng } from "./contracts";
import { formatCoordinates, parseCoordinates } from "./geo";

interface Props {
  label: string;
  badge: "A" | "B";
  value: LatLng | null;
  active: boolean;
  disabled?: boolean;
  onFocus: () => void;
  onChange: (p: LatLng) => void;
  name: string;
}

export function CoordinateField({ label, badge, value, active, disabled, onFocus, onChange, name }: Props) {
  const [text, setText] = useState(value ? formatCoordinates(value) : "");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setText(value ? formatCoordinates(value) : "");
    setError(null);
  }, [value]);
  const commit = () => {
    if (!text.trim()) return;
    const parsed = parseCoordinates(text);
    if (parsed.ok) {
      setError(null);
      onChange(parsed.value);
    } else setError(parsed.error);
  };
  return (
    <div className={`coord ${active ? "coord-active" : ""}`}>
      <span className={`dot dot-${badge.toLowerCase()}`}>{badge}</span>
      <label>
        <span className="coord-label">{label}</span>
        <input
          name={name}
          value={text}
          disabled={disabled}
          placeholder={active ? "Tap the map, or type lat, lng" : "lat, lng"}
          onFocus={onFocus}
          onChange={(e) => setText(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => e.key === "Enter" && (e.preventDefault(), commit())}
        />
      </label>
      {error && <div className="field-error">{error}</div>}
    </div>
  );
}
