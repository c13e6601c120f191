// One multi-page build: the passenger app at `/`, the driver app at
// `/driver/` and the support page at `/support/`, served by the gateway from
// `dist/`. The dev server proxies the API and the socket to a running gateway
// (HAIL_GATEWAY, default :3000).
import { resolve } from "node:path";
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

const gateway = process.env.HAIL_GATEWAY ?? "http://localhost:3000";

export default defineConfig({
  plugins: [react()],
  // public/ holds the gateway's fallback page for an unbuilt checkout, not app assets.
  publicDir: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // React, Leaflet, socket.io-client and zod, shared by the apps.
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      input: {
        passenger: resolve(import.meta.dirname, "index.html"),
        driver: resolve(import.meta.dirname, "driver/index.html"),
        support: resolve(import.meta.dirname, "support/index.html"),
      },
    },
  },
  server: {
    proxy: {
      "/api": { target: gateway, changeOrigin: true },
      "/socket.io": { target: gateway, changeOrigin: true, ws: true },
    },
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    environment: "node",
  },
});
