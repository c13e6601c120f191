// The Leaflet map both apps draw on: pickup, dropoff, cars and a straight
// route line. Tiles are decoration: on a plain background (offline, tests,
// `?tiles=none`) every marker and line still shows.
import { useEffect, useRef } from "react";
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import type { LatLng } from "./contracts";
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

const glyph: Record<MapMarker["kind"], string> = { pickup: "A", dropoff: "B", car: "🚗", me: "🚗", nearby: "🚕" };

function icon(m: MapMarker) {
  return L.divIcon({
    className: `hail-marker hail-marker-${m.kind}`,
    html: `<span>${glyph[m.kind]}</span>`,
    iconSize: m.kind === "pickup" || m.kind === "dropoff" ? [30, 30] : [34, 34],
    iconAnchor: m.kind === "pickup" || m.kind === "dropoff" ? [15, 30] : [17, 17],
  });
}

export function MapView({ center, markers, route, onPick, fitKey }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);
  const pick = useRef(onPick);
  pick.current = onPick;

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
    const ro = new ResizeObserver(() => m.invalidateSize());
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

  useEffect(() => {
    const m = map.current;
    if (!m) return;
    const points = markers.filter((x) => x.kind !== "nearby").map((x) => L.latLng(x.at.lat, x.at.lng));
    if (points.length >= 2) m.fitBounds(L.latLngBounds(points), { padding: [60, 60], maxZoom: 16 });
    else if (points.length === 1) m.setView(points[0], Math.max(m.getZoom(), 14));
    else m.setView([center.lat, center.lng], m.getZoom());
    // Only when the caller says the scene changed, not on every car move.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fitKey]);

  return <div ref={el} className="map" data-testid="map" />;
}
