// The support page: staff look up a trip (its record and dispatch audit
// trail) and a driver's day of offers. Log-in only; an account of another
// role is told this page is not for it.
import { useMemo, useState } from "react";
import { Api } from "../common/api";
import { SessionGate, type HomeProps } from "../common/SessionGate";
import { Shell } from "../common/Shell";
import { DriverDispatches } from "./DriverDispatches";
import { NotSupportStaff } from "./NotSupportStaff";
import { TripLookup } from "./TripLookup";

/** An id handed from one lookup to the other (a click in a table); `n`
 * makes the same id picked twice a new request. */
export interface Handoff {
  id: string;
  n: number;
}

export function SupportApp() {
  return <SessionGate role="support" home={(props) => <SupportHome {...props} />} wrongRole={(props) => <NotSupportStaff {...props} />} />;
}

function SupportHome({ session, onExpired, onLogout }: HomeProps) {
  const api = useMemo(() => new Api(session.token, onExpired), [session.token, onExpired]);
  const [tripPick, setTripPick] = useState<Handoff | null>(null);
  const [driverPick, setDriverPick] = useState<Handoff | null>(null);
  return (
    <Shell appName="Support" userName={session.user.name} tabs={[]} tab="" onTab={() => {}} onLogout={onLogout} lost={false}>
      <TripLookup api={api} pick={tripPick} onDriver={(id) => setDriverPick((p) => ({ id, n: (p?.n ?? 0) + 1 }))} />
      <DriverDispatches api={api} pick={driverPick} onTrip={(id) => setTripPick((p) => ({ id, n: (p?.n ?? 0) + 1 }))} />
    </Shell>
  );
}
