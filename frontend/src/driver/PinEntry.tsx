// The rider's 4-digit PIN, asked for when the backend refused a start
// without it (or with a wrong one).
import { useEffect, useRef } from "react";
import { isPin, pinPrompt, type PinStep } from "./pinStep";

interface Props {
  step: PinStep;
  pin: string;
  busy: boolean;
  onPin: (pin: string) => void;
  onSubmit: () => void;
}

export function PinEntry({ step, pin, busy, onPin, onSubmit }: Props) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), [step]);
  return (
    <form
      className={`pin-entry ${step.wrong ? "pin-entry-wrong" : ""}`}
      data-testid="pin-entry"
      onSubmit={(e) => {
        e.preventDefault();
        if (isPin(pin)) onSubmit();
      }}
    >
      <label>
        <span data-testid="pin-prompt" role={step.wrong ? "alert" : undefined}>
          {pinPrompt(step)}
        </span>
        <input
          ref={input}
          name="pin"
          className="pin-input"
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern="[0-9]{4}"
          maxLength={4}
          placeholder="••••"
          value={pin}
          onChange={(e) => onPin(e.target.value.replace(/[^0-9]/g, "").slice(0, 4))}
        />
      </label>
      <button className="btn btn-primary btn-block" type="submit" disabled={busy || !isPin(pin)}>
        Start with this PIN
      </button>
    </form>
  );
}
