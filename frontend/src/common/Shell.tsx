// The frame around the apps: top bar with tabs, the connection banner, and a
// map beside (laptop) or under (phone) the panel; without a map (the support
// page) the panel takes the whole width.
import type { ReactNode } from "react";

interface Props<T extends string> {
  appName: string;
  userName: string;
  tabs: { id: T; label: string }[];
  tab: T;
  onTab: (t: T) => void;
  onLogout: () => void;
  lost: boolean;
  headerExtra?: ReactNode;
  map?: ReactNode;
  children: ReactNode;
}

export function Shell<T extends string>({ appName, userName, tabs, tab, onTab, onLogout, lost, headerExtra, map, children }: Props<T>) {
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark">H</span> Hail{appName && <span className="brand-sub">{appName}</span>}
        </div>
        <nav className="tabs" role="tablist" hidden={tabs.length === 0}>
          {tabs.map((t) => (
            <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? "on" : ""} onClick={() => onTab(t.id)}>
              {t.label}
            </button>
          ))}
        </nav>
        <div className="topbar-right">
          {headerExtra}
          <span className="user" title={userName}>{userName}</span>
          <button className="btn btn-ghost btn-small" onClick={onLogout}>
            Log out
          </button>
        </div>
      </header>
      {lost && (
        <div className="banner" role="status" data-testid="connection-banner">
          Connection lost. Reconnecting… your trip will catch up when it is back.
        </div>
      )}
      {map ? (
        <main className="layout">
          <section className="map-pane">{map}</section>
          <section className="panel">{children}</section>
        </main>
      ) : (
        <main className="layout layout-wide">
          <section className="panel panel-wide">{children}</section>
        </main>
      )}
    </div>
  );
}

export function Alert({ tone = "error", children, onClose }: { tone?: "error" | "warning" | "info" | "success"; children: ReactNode; onClose?: () => void }) {
  return (
    <div className={`alert alert-${tone}`} role={tone === "error" ? "alert" : "status"} data-testid={`alert-${tone}`}>
      <span>{children}</span>
      {onClose && (
        <button className="alert-close" aria-label="Dismiss" onClick={onClose}>
          ×
        </button>
      )}
    </div>
  );
}
