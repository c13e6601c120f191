import { useState } from "react";
import { errorText } from "./api";

/** One user action at a time: `busy` while it runs, its failure as `error`
 * (cleared when the next one starts). `onStart` runs as each action starts;
 * `onFail` sees the raw error, for follow-ups such as a resync. */
export function useAction(onStart?: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function act(fn: () => Promise<void>, onFail?: (e: unknown) => void) {
    setBusy(true);
    setError(null);
    onStart?.();
    try {
      await fn();
    } catch (e) {
      setError(errorText(e));
      onFail?.(e);
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, setError, act };
}
