// The Leaflet map both apps draw on: pickup, dropoff, cars and a straight
// route line. Tiles are decoration: on a plain background (offline, tests,
// `?tiles=none`) every marker and line still shows.
import { useEffect, useRef } from "react";
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import type { LatLng } from "./contracts";
import { carSvg } from "./icons";
import { tileUrl } from "./tiles";

export interface MapMarker {
  id: string;
  at: LatLng;
  kind: "pickup" | "dropoff" | "car" | "me" | "nearby";
  label?: string;
}

interface Props {
  center: LatLng;
  markers: MapMarker[];
  route?: { from: LatLng; to: LatLng } | null;
  onPick?: (p: LatLng) => void;
  /** Re-fit the view when this changes (a new trip, a new pickup). */
  fitKey?: string;
}

function icon(m: MapMarker) {
  const pin = m.kind === "pickup" || m.kind === "dropoff";
  const html = pin
    ? `<span class="pin"><b>${m.kind === "pickup" ? "A" : "B"}</b></span>`
    : `<span>${carSvg(m.kind === "nearby" ? "#475569" : "#1d4ed8", m.kind === "nearby" ? 16 : 20)}</span>`;
  const size = pin ? 32 : m.kind === "nearby" ? 28 : 36;
  return L.divIcon({
    className: `hail-marker hail-marker-${m.kind}`,
    html,
    iconSize: [size, size],
    // A pin's tip touches the point; a car is centred on it.
    iconAnchor: pin ? [size / 2, size + 2] : [size / 2, size / 2],
  });
}

export function MapView({ center, markers, route, onPick, fitKey }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);
  const pick = useRef(onPick);
  pick.current = onPick;
  const fit = useRef<() => void>(() => {});

  useEffect(() => {
    if (!el.current) return;
    const m = L.map(el.current, { zoomControl: true, attributionControl: true }).setView([center.lat, center.lng], 14);
    const url = tileUrl();
    if (url) {
      L.tileLayer(url, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(m);
    }
    m.on("click", (e: L.LeafletMouseEvent) => pick.current?.({ lat: e.latlng.lat, lng: e.latlng.lng }));
    layer.current = L.layerGroup().addTo(m);
    map.current = m;
    // The container can change size with the layout (bottom sheet vs side panel).
    const ro = new ResizeObserver(() => {
      m.invalidateSize();
      fit.current();
    });
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      m.remove();
      map.current = null;
    };
    // The map is created once; later centres go through fitKey.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const group = layer.current;
    if (!group) return;
    group.clearLayers();
    if (route) {
      L.polyline(
        [
          [route.from.lat, route.from.lng],
          [route.to.lat, route.to.lng],
        ],
        { color: "#2563eb", weight: 5, opacity: 0.85, dashArray: "2 10", lineCap: "round", className: "hail-route" },
      ).addTo(group);
    }
    for (const m of markers) {
      L.marker([m.at.lat, m.at.lng], { icon: icon(m), title: m.label ?? m.kind, keyboard: false, zIndexOffset: m.kind === "car" || m.kind === "me" ? 1000 : 0 }).addTo(group);
    }
  }, [markers, route]);

  fit.current = () => {
    const m = map.current;
    if (!m) return;
    const points = markers.filter((x) => x.kind !== "nearby").map((x) => L.latLng(x.at.lat, x.at.lng));
    if (points.length >= 2) m.fitBounds(L.latLngBounds(points), { padding: [60, 60], maxZoom: 16 });
    else if (points.length === 1) m.setView(points[0], Math.max(m.getZoom(), 14));
    else m.setView([center.lat, center.lng], m.getZoom());
  };
  useEffect(() => {
    fit.current();
    // Only when the caller says the scene changed, not on every car move.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fitKey]);

  return <div ref={el} className="map" data-testid="map" />;
}
