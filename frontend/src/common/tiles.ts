// Which map tiles to draw. Build time: VITE_TILE_URL (default OpenStreetMap).
// Run time: `?tiles=<url template>` (remembered in localStorage) overrides it;
// `?tiles=none` draws no tiles at all (markers and routes still show), and
// `?tiles=default` forgets the override.
const OSM = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png";
const KEY = "hail.tiles";

export function tileUrl(search = typeof location === "undefined" ? "" : location.search): string | null {
  const fromQuery = new URLSearchParams(search).get("tiles");
  if (fromQuery === "default") localStorage.removeItem(KEY);
  else if (fromQuery) localStorage.setItem(KEY, fromQuery);
  const chosen = (fromQuery && fromQuery !== "default" ? fromQuery : localStorage.getItem(KEY)) || import.meta.env.VITE_TILE_URL || OSM;
  return chosen === "none" ? null : chosen;
}
