#!/usr/bin/env node
// End-to-end test of the web apps in headless Chromium against a real Hail:
// starts its own stack (fresh database, own Redis prefix, free ports, the
// built apps from frontend/dist, one city that asks for a pickup PIN), drives
// a rider and a driver through one whole trip (the driver adds the car, the
// rider sees the price before booking, its first offer goes to a nearer
// driver whose phone never confirms it, so the rider reads "Finding another
// driver…"; the rider sees who is coming in which car, the driver arrives,
// starts with the rider's PIN, completes; the rider reads the receipt and
// rates the trip), a support person through that trip's audit trail and
// the driver's day of offers, then a trip that five wrong PINs cancel and one
// started from ASSIGNED whose rating was already given; checks what
// each screen shows at each step, checks that every API answer the apps
// received matched contracts.ts, checks that no page broke the gateway's
// Content-Security-Policy (map tiles included), and saves screenshots to
// test-output/e2e/. The stack is stopped and its database dropped at the end,
// also on failure.
//
// Env: HAIL_BIN (default target/debug/hail), DATABASE_URL, REDIS_URL,
// CHROMIUM (default /usr/bin/chromium), HAIL_E2E_ONLY=trip|carpool.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const out = join(root, "test-output/e2e");
mkdirSync(out, { recursive: true });

const bin = process.env.HAIL_BIN ?? join(root, "target/debug/hail");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const only = process.env.HAIL_E2E_ONLY ?? "";
const dist = join(root, "frontend/dist");
const suffix = randomBytes(4).toString("hex");
const dbName = `hail_e2e_${suffix}`;
const baseDb = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/hail");
const dbUrl = new URL(baseDb);
dbUrl.pathname = `/${dbName}`;
const adminUrl = new URL(baseDb);
adminUrl.pathname = "/postgres";
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const redisPrefix = `e2e:${suffix}:`;

const started = Date.now();
const log = (msg) => console.log(`[e2e +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
let passed = 0;
let failed = 0;

function fail(msg) {
  throw new Error(msg);
}

for (const [what, path, fix] of [
  ["the hail binary", bin, "run `cargo build --bin hail` first (scripts/test.sh does)"],
  ["the built web apps", join(dist, "driver/index.html"), "run `npm run build` in frontend/ first"],
  ["Chromium", chromiumPath, "install Debian's chromium (apt-get install chromium) or set CHROMIUM"],
]) {
  if (!existsSync(path)) {
    console.error(`e2e: ${what} is missing at ${path}: ${fix}.`);
    process.exit(2);
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.unref();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// One city, Singapore, that asks riders for a pickup PIN (API.md, "Cities").
const citiesFile = join(tmpdir(), `hail-e2e-cities-${suffix}.toml`);
writeFileSync(
  citiesFile,
  ['[[city]]', 'id = "sg"', 'name = "Singapore"', "bbox = [1.2172, 103.6849, 1.487, 103.9547]", "pickup_pin = true", ""].join("\n"),
);

const ports = { gateway: await freePort(), user: await freePort(), driver: await freePort(), trip: await freePort() };
const base = `http://127.0.0.1:${ports.gateway}`;
const env = {
  ...process.env,
  HAIL_ENV: "dev",
  DATABASE_URL: dbUrl.toString(),
  REDIS_URL: redisUrl,
  HAIL_REDIS_PREFIX: redisPrefix,
  HAIL_GATEWAY_HOST: "127.0.0.1",
  HAIL_GATEWAY_PORT: String(ports.gateway),
  HAIL_USER_PORT: String(ports.user),
  HAIL_DRIVER_PORT: String(ports.driver),
  HAIL_TRIP_PORT: String(ports.trip),
  HAIL_STATIC_DIR: dist,
  HAIL_OFFER_TIMEOUT_SECS: "30",
  // How long a connected phone has to confirm an offer (API.md's default).
  HAIL_OFFER_ACK_MS: "2000",
  // Long enough for the unreachable driver's ack window and the rider's
  // next look at the trail before the browser driver comes back online.
  HAIL_MATCH_DEADLINE_SECS: "20",
  HAIL_ROOM_CONFIRM_SECS: "30",
  HAIL_CITIES_FILE: citiesFile,
  RUST_LOG: process.env.RUST_LOG ?? "info",
};

let stack = null;
const stackLog = createWriteStream(join(out, "hail.log"));

function startStack() {
  const child = spawn(bin, ["serve", "all"], { env, cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(stackLog, { end: false });
  child.stderr.pipe(stackLog, { end: false });
  child.on("exit", (code, signal) => log(`hail exited (${signal ?? code})`));
  return child;
}

async function stopStack() {
  if (!stack || stack.exitCode !== null || stack.signalCode !== null) return;
  const child = stack;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 8000);
  await exited;
  clearTimeout(timer);
}

async function waitReady(seconds = 60) {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    if (stack.exitCode !== null) fail(`hail exited early with ${stack.exitCode}; see test-output/e2e/hail.log`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  fail(`the stack was not ready after ${seconds}s; see test-output/e2e/hail.log`);
}

function cleanup() {
  rmSync(citiesFile, { force: true });
  const psql = findPsql();
  if (psql) {
    const r = spawnSync(psql, [adminUrl.toString(), "-qAtX", "-c", `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`], { encoding: "utf8" });
    if (r.status !== 0) console.error(`e2e: could not drop database ${dbName}: ${r.stderr}`);
  } else console.error(`e2e: psql not found; drop database ${dbName} by hand`);
  const cli = spawnSync("sh", ["-c", `command -v redis-cli >/dev/null && redis-cli -u "$1" --scan --pattern "$2*" | xargs -r -n 500 redis-cli -u "$1" DEL >/dev/null`, "sh", redisUrl, redisPrefix]);
  if (cli.status !== 0) console.error(`e2e: could not delete Redis keys under ${redisPrefix}`);
}

function findPsql() {
  const which = spawnSync("sh", ["-c", "command -v psql"], { encoding: "utf8" });
  if (which.status === 0) return which.stdout.trim();
  try {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(`/usr/lib/postgresql/${v}/bin/psql`)) return `/usr/lib/postgresql/${v}/bin/psql`;
  } catch {
    // no Debian postgres install
  }
  return null;
}

// ---------- page helpers ----------
async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    passed++;
    log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failed++;
    log(`FAIL ${name}: ${e.message}`);
    throw e;
  }
}

/** Waits until the element's text matches; fails with what it showed instead. */
async function expectText(page, selector, pattern, timeout = 15000) {
  const loc = page.locator(selector).first();
  const until = Date.now() + timeout;
  let last = "(not on the page)";
  while (Date.now() < until) {
    if (await loc.count()) {
      last = ((await loc.textContent().catch(() => "")) ?? "").trim();
      if (pattern.test(last)) return last;
    }
    await page.waitForTimeout(100);
  }
  fail(`${selector} should match ${pattern}, but showed: ${JSON.stringify(last)}`);
}

async function expectVisible(page, selector, timeout = 15000) {
  await page.locator(selector).first().waitFor({ state: "visible", timeout }).catch(() => fail(`${selector} never became visible`));
}
async function expectHidden(page, selector, timeout = 15000) {
  await page.locator(selector).first().waitFor({ state: "hidden", timeout }).catch(() => fail(`${selector} stayed visible`));
}

async function shot(page, name) {
  await page.screenshot({ path: join(out, `${name}.png`) });
}
/** The same screen at phone and laptop width; `focus`, when given, is
 * scrolled into the phone's view (the panel scrolls under the map). */
async function shotBoth(page, name, phone = { width: 375, height: 812 }, focus = null) {
  const size = page.viewportSize();
  await page.setViewportSize(phone);
  await page.waitForTimeout(250);
  if (focus) await page.locator(focus).first().scrollIntoViewIfNeeded();
  await shot(page, `${name}-${phone.width}`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.waitForTimeout(250);
  await shot(page, `${name}-1280`);
  await page.setViewportSize(size);
}

// Where the car marker is drawn. The map redraws its markers on every
// driver:location, so the element read a moment ago may be gone; ask again
// until one answers.
async function carBox(page, timeout = 5000) {
  const until = Date.now() + timeout;
  for (;;) {
    const box = await page.locator(".hail-marker-car").first().boundingBox({ timeout: 1000 }).catch(() => null);
    if (box) return box;
    if (Date.now() > until) fail(`the car marker was not on the rider's map for ${timeout / 1000} s`);
    await page.waitForTimeout(100);
  }
}

const contracts = { checked: {}, failures: [] };
async function collectContracts(page) {
  const r = await page.evaluate(() => window.__hailContracts ?? { checked: {}, failures: [] });
  for (const [k, n] of Object.entries(r.checked)) contracts.checked[k] = (contracts.checked[k] ?? 0) + n;
  contracts.failures.push(...r.failures);
}

// CSP violations, from two witnesses that survive reloads: the DOM's
// securitypolicyviolation event (reported through a binding) and Chromium's
// "Refused to ..." console line. Any one fails the run.
const csp = { events: [], console: [] };
// Requests for map tiles (the closed port of `tiles` below): one the CSP
// blocked is never issued, so the map must have asked for some.
const tileHost = "http://127.0.0.1:9/";
let tileRequests = 0;

async function newApp(browser, width, height) {
  const context = await browser.newContext({ viewport: { width, height } });
  await context.exposeBinding("__hailCspViolation", ({ page }, v) => {
    csp.events.push({ ...v, page: page?.url() });
    log(`CSP violation: ${v.directive} blocked ${v.blocked || "(inline)"} at ${v.source || page?.url()}:${v.line}`);
  });
  await context.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__hailCspViolation({ directive: e.effectiveDirective || e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample }),
    ),
  );
  // No network but the stack's: tiles point at a closed local port, and
  // anything else is refused, so the map must work on its plain background.
  await context.route(
    (url) => !url.href.startsWith(base),
    (route) => route.abort(),
  );
  const page = await context.newPage();
  page.on("pageerror", (e) => log(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && !/Failed to load resource/.test(m.text()) && log(`console: ${m.text()}`));
  page.on("console", (m) => {
    if (!/Content Security Policy|Refused to/.test(m.text())) return;
    csp.console.push({ page: page.url(), text: m.text() });
    log(`CSP console report on ${page.url()}: ${m.text()}`);
  });
  page.on("request", (req) => req.url().startsWith(tileHost) && tileRequests++);
  return { context, page };
}

const tiles = `?tiles=${encodeURIComponent(`${tileHost}{z}/{x}/{y}.png`)}`;

/** Fails if any page reported a CSP violation so far. */
function expectNoCspViolation() {
  if (csp.events.length || csp.console.length) fail(`CSP violations: ${JSON.stringify(csp, null, 2)}`);
}

async function signUp(page, { name, email, password }) {
  await page.getByRole("tab", { name: "Sign up" }).click();
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await page.locator('form button[type="submit"]').click();
}

/** One plain API call from the test itself (not through an app): status and
 * parsed body. */
async function apiCall(method, path, token, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

async function expectCall(method, path, token, body, want) {
  const r = await apiCall(method, path, token, body);
  if (r.status !== want) fail(`${method} ${path} should answer ${want}, answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

const sessionOf = (page, app) => page.evaluate((key) => JSON.parse(localStorage.getItem(key)), `hail.session.${app}`);
const utcToday = () => new Date().toISOString().slice(0, 10);

async function waitFor(what, check, timeout = 15000) {
  const until = Date.now() + timeout;
  while (Date.now() < until) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  fail(`${what} did not happen within ${timeout / 1000} s`);
}

/** A driver outside the browser, over REST and a Socket.IO client of its own,
 * whose `offer` handler never calls the acknowledgement: connected, yet
 * never confirming an offer, so dispatch must find it unreachable. */
async function silentDriver(at) {
  const email = `sam-${suffix}@example.com`;
  const auth = await expectCall("POST", "/auth/register", null, { email, password: "driver-password", name: "Sam Silent", role: "driver" }, 201);
  const token = auth.access_token;
  const seen = { offers: [], revoked: [] };
  const socket = io(base, { path: "/socket.io/", auth: { token }, transports: ["websocket"], reconnection: false });
  // The ack (the handler's last argument) is deliberately never called.
  socket.on("offer", (payload) => seen.offers.push(payload));
  socket.on("offer:revoked", (payload) => seen.revoked.push(payload));
  await new Promise((res, rej) => {
    socket.once("connect", res);
    socket.once("connect_error", (e) => rej(new Error(`the silent driver's socket was refused: ${e.message}`)));
  });
  await expectCall("POST", "/drivers/me/online", token, undefined, 200);
  await expectCall("POST", "/drivers/me/location", token, { lat: at.lat, lng: at.lng, heading: 0, speed_kmh: 0 }, 204);
  return { id: auth.user.id, token, socket, seen };
}

// ---------- trips, money and places ----------
const PHONE = { width: 390, height: 844 };
const PICKUP = { lat: 1.304, lng: 103.832 };
/** Where the driver app's simulated car starts (geo.ts's CITY). */
const CITY_CENTRE = { lat: 1.3048, lng: 103.8318 };
const PLATE = "SBA 1234 K";

/** The apps' money format (common/fare.ts): "SGD 12.40". */
const money = (currency, amount) => `${currency} ${amount.toFixed(2)}`;

function metres(a, b) {
  const rad = (d) => (d * Math.PI) / 180;
  const h = Math.sin(rad(b.lat - a.lat) / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lng - a.lng) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The driver app's simulated position, from its "Position lat, lng" line. */
async function driverPosition(page) {
  const text = await expectText(page, '[data-testid="driver-position"]', /Position -?\d+\.\d+, -?\d+\.\d+/);
  const [, lat, lng] = text.match(/Position (-?\d+\.\d+), (-?\d+\.\d+)/);
  return { lat: Number(lat), lng: Number(lng) };
}

/** Places the driver app's car by clicking its map south of where it
 * starts, so that it is between `min` and `max` metres from the pickup:
 * far enough that "I've arrived" is refused at first (over 200 m), near
 * enough to drive there in seconds. */
async function placeCarAwayFromPickup(page, min = 280, max = 650) {
  const me = await page.locator(".hail-marker-me").boundingBox();
  const x = me.x + me.width / 2;
  const y = me.y + me.height / 2;
  let offset = 48;
  let at = null;
  for (let i = 0; i < 4; i++) {
    await page.mouse.click(x, y + offset);
    await page.waitForTimeout(150);
    at = await driverPosition(page);
    const m = metres(at, PICKUP);
    if (m >= min && m <= max) return at;
    const fromStart = Math.max(20, metres(at, CITY_CENTRE));
    offset = Math.min(120, Math.max(10, Math.round((offset * 430) / fromStart)));
  }
  fail(`could not place the car ${min}-${max} m from the pickup by clicking the map; it is at ${JSON.stringify(at)}, ${Math.round(metres(at, PICKUP))} m away`);
}

/** Every POST /trips/estimate answer a page received, in order. */
function recordEstimates(page) {
  const seen = [];
  page.on("response", async (res) => {
    if (!res.url().endsWith("/api/v1/trips/estimate") || res.request().method() !== "POST") return;
    const body = await res.json().catch(() => null);
    seen.push({ request: res.request().postDataJSON(), status: res.status(), body });
  });
  return seen;
}

/** A PIN that is not `pin`. */
const wrongPin = (pin) => String((Number(pin) + 1111) % 10000).padStart(4, "0");

// ---------- the runs ----------
async function tripRun(browser) {
  const driver = await newApp(browser, 375, 812);
  const rider = await newApp(browser, 1280, 800);
  const d = driver.page;
  const r = rider.page;
  const riderEmail = `rita-${suffix}@example.com`;
  const estimates = recordEstimates(r);
  let estimatedFare = null;

  await step("driver signs up and is offline", async () => {
    await d.goto(`${base}/driver/${tiles}`);
    await expectText(d, ".brand-sub", /Driver/);
    await shotBoth(d, "01-driver-signup");
    await signUp(d, { name: "Dan Driver", email: `dan-${suffix}@example.com`, password: "driver-password" });
    await expectText(d, '[data-testid="driver-status"]', /^Offline$/);
  });

  await step("a driver without a car is asked for it before going online; the API's field errors show under their fields", async () => {
    await expectText(d, '[data-testid="vehicle-form"] h2', /^Add your car$/);
    if (await d.getByRole("button", { name: "Go online" }).count()) fail("the driver should be asked for the car before the Go online button shows");
    await expectVisible(d, 'button:has-text("Skip for now")');
    await shotBoth(d, "01b-driver-add-car", PHONE);
    await d.fill('input[name="vehicle_make"]', "Toyota");
    await d.fill('input[name="vehicle_model"]', "Corolla Altis");
    await d.fill('input[name="vehicle_color"]', "Silver");
    // The app leaves the plate's characters to the API: its 422 names the field.
    await d.fill('input[name="vehicle_plate"]', "SBA#1234");
    const refused = d.waitForResponse((res) => res.url().endsWith("/api/v1/drivers/me/vehicle") && res.request().method() === "PUT");
    await d.getByRole("button", { name: "Save car" }).click();
    const answer = await refused;
    const body = await answer.json();
    if (answer.status() !== 422 || body?.error?.code !== "validation_failed" || !Array.isArray(body?.error?.details?.plate)) {
      fail(`PUT /drivers/me/vehicle with plate "SBA#1234" should answer 422 validation_failed with details.plate, answered ${answer.status()} ${JSON.stringify(body)}`);
    }
    const shown = await expectText(d, '[data-testid="vehicle-error-plate"]', /\w/);
    if (!shown.includes(body.error.details.plate[0])) fail(`the plate's error should show the API's message ${JSON.stringify(body.error.details.plate)}, showed ${JSON.stringify(shown)}`);
    if (await d.locator('[data-testid="vehicle-error-make"]').count()) fail("only the plate was wrong, yet the make shows an error");
    await shot(d, "01c-driver-car-error-375");
  });

  await step("the driver saves the car and sees it; GET /drivers/me has it", async () => {
    await d.fill('input[name="vehicle_plate"]', PLATE);
    await d.getByRole("button", { name: "Save car" }).click();
    await expectText(d, '[data-testid="my-plate"]', new RegExp(`^${PLATE}$`));
    await expectText(d, '[data-testid="my-car"]', /^Silver Toyota Corolla Altis$/);
    await expectText(d, '[data-testid="driver-rating"]', /New driver/);
    await expectVisible(d, 'button:has-text("Go online")');
    const driver = await sessionOf(d, "driver");
    const me = await expectCall("GET", "/drivers/me", driver.token, undefined, 200);
    const want = { make: "Toyota", model: "Corolla Altis", color: "Silver", plate: PLATE };
    if (JSON.stringify(me.vehicle) !== JSON.stringify(want)) fail(`GET /drivers/me's vehicle should be ${JSON.stringify(want)}, was ${JSON.stringify(me.vehicle)}`);
    if (me.name !== "Dan Driver" || me.rating !== null) fail(`GET /drivers/me should have name "Dan Driver" and rating null, had ${JSON.stringify({ name: me.name, rating: me.rating })}`);
    await shotBoth(d, "01d-driver-car-saved", PHONE);
  });

  await step("driver places the car a few hundred metres from the coming pickup and goes online", async () => {
    await expectVisible(d, ".hail-marker-me");
    const at = await placeCarAwayFromPickup(d);
    log(`driver's car placed at ${at.lat}, ${at.lng}, ${Math.round(metres(at, PICKUP))} m from the pickup`);
    await d.getByRole("button", { name: "Go online" }).click();
    await expectText(d, '[data-testid="driver-status"]', /^Online$/);
    await expectText(d, ".card h2", /You are online/);
    await shot(d, "02-driver-online");
  });

  await step("the passenger app is served under the gateway's Content-Security-Policy", async () => {
    const headers = (await r.goto(`${base}/${tiles}`))?.headers() ?? {};
    const policy = headers["content-security-policy"] ?? "";
    if (!policy.includes("frame-ancestors 'none'")) fail(`GET / should carry a CSP with frame-ancestors 'none', got ${JSON.stringify(policy)}`);
    log(`CSP: ${policy}; x-frame-options: ${headers["x-frame-options"]}; x-content-type-options: ${headers["x-content-type-options"]}`);
  });

  await step("a wrong password shows the API's message", async () => {
    await r.fill('input[name="email"]', riderEmail);
    await r.fill('input[name="password"]', "not-the-password");
    await r.locator('form button[type="submit"]').click();
    await expectText(r, '[data-testid="auth-error"]', /\w+/);
    await shotBoth(r, "03-rider-login-error");
  });

  await step("rider signs up and sees the driver nearby on the map", async () => {
    await signUp(r, { name: "Rita Rider", email: riderEmail, password: "rider-password" });
    await expectText(r, ".card h2", /Where to\?/);
    await expectText(r, '[data-testid="nearby-count"]', /^1 driver nearby$/);
    await expectVisible(r, ".hail-marker-nearby");
    await shotBoth(r, "04-rider-nearby");
  });

  await step("rider sets the pickup by typing and the dropoff by clicking the map", async () => {
    await r.fill('input[name="pickup"]', "1.30400, 103.83200");
    await r.press('input[name="pickup"]', "Enter");
    await expectVisible(r, ".hail-marker-pickup");
    const box = await r.locator('[data-testid="map"]').boundingBox();
    await r.mouse.click(box.x + box.width * 0.75, box.y + box.height * 0.7);
    await expectVisible(r, ".hail-marker-dropoff");
    // The field shows the clicked point a render after the marker does.
    let dropoff = "";
    await waitFor("the map click filling the dropoff field", async () => {
      dropoff = await r.inputValue('input[name="dropoff"]');
      return /^-?\d+\.\d+, -?\d+\.\d+$/.test(dropoff);
    }, 3000).catch(() => fail(`the map click should fill the dropoff, got ${JSON.stringify(dropoff)}`));
    await shot(r, "05-rider-route");
  });

  await step("rider sees the price, distance, time and the nearest driver's ETA before booking, for the tier chosen", async () => {
    const standard = await waitFor("a standard estimate", () => estimates.find((e) => e.request?.tier === "standard" && e.status === 200), 10000);
    await expectText(r, '[data-testid="estimate-fare"]', new RegExp(`^${money(standard.body.fare.currency, standard.body.fare.amount)}$`));
    await r.getByRole("radio", { name: /Premium/ }).click();
    const premium = await waitFor("a premium estimate", () => estimates.find((e) => e.request?.tier === "premium" && e.status === 200), 10000);
    const fare = money(premium.body.fare.currency, premium.body.fare.amount);
    await expectText(r, '[data-testid="estimate-fare"]', new RegExp(`^${fare}$`));
    if (premium.body.fare.currency !== "SGD" || premium.body.city !== "sg") fail(`the estimate should be in SGD for city sg, was ${JSON.stringify(premium.body)}`);
    if (!(premium.body.fare.amount > standard.body.fare.amount)) fail(`premium (${premium.body.fare.amount}) should cost more than standard (${standard.body.fare.amount})`);
    if (typeof premium.body.pickup_eta_secs !== "number") fail(`the online driver is a few hundred metres away, so the estimate should have a pickup ETA, had ${JSON.stringify(premium.body)}`);
    await expectText(r, '[data-testid="estimate-distance"]', /^\d+(\.\d)? k?m$/);
    await expectText(r, '[data-testid="estimate-duration"]', /^(< 1|\d+) min$/);
    await expectText(r, '[data-testid="estimate-eta"]', /^Nearest driver (< 1|\d+) min away$/);
    estimatedFare = premium.body.fare;
    await shotBoth(r, "05b-rider-estimate", PHONE, '[data-testid="estimate"]');
  });

  await step("a pickup outside the city gets no price and cannot be booked, with a clear message", async () => {
    const rider = await sessionOf(r, "rider");
    const outside = { lat: 1.6, lng: 103.832 };
    const direct = await expectCall("POST", "/trips/estimate", rider.token, { pickup: outside, dropoff: PICKUP }, 422);
    if (direct?.error?.code !== "outside_service_area") fail(`an estimate from outside every city should be 422 outside_service_area, was ${JSON.stringify(direct)}`);
    await r.fill('input[name="pickup"]', "1.60000, 103.83200");
    await r.press('input[name="pickup"]', "Enter");
    await expectText(r, '[data-testid="estimate-error"]', /does not serve this pickup/);
    if (await r.getByRole("button", { name: "Request ride" }).isEnabled()) fail("Request ride should be disabled for a pickup outside the service area");
    await shotBoth(r, "05c-rider-outside-area", PHONE, '[data-testid="estimate-error"]');
    const before = estimates.length;
    await r.fill('input[name="pickup"]', "1.30400, 103.83200");
    await r.press('input[name="pickup"]', "Enter");
    await waitFor("a new estimate for the pickup back in the city", () => estimates.slice(before).find((e) => e.status === 200 && e.request?.pickup?.lat === 1.304), 10000);
    await expectText(r, '[data-testid="estimate-fare"]', new RegExp(`^${money(estimatedFare.currency, estimatedFare.amount)}$`));
    if (!(await r.getByRole("button", { name: "Request ride" }).isEnabled())) fail("Request ride should be enabled again");
  });

  // The pickup is 1.30400, 103.83200; the browser driver's simulated car
  // starts at the city's centre (1.3048, 103.8318), about 90 m away. The
  // silent driver waits 1.5 m from the pickup, so it is asked first.
  let silent = null;
  let tripId = null;
  await step("a second driver, nearer the pickup, is online with a socket that never confirms offers", async () => {
    silent = await silentDriver({ lat: 1.30401, lng: 103.83201 });
    // The browser driver steps away while the silent one holds the offer,
    // so the rider's page is seen waiting with nobody else to offer to.
    await d.getByRole("button", { name: "Go offline" }).click();
    await expectText(d, '[data-testid="driver-status"]', /^Offline$/);
  });

  await step("rider requests; the silent driver's offer is revoked as unreachable and the rider reads 'Finding another driver…'", async () => {
    // Watch from before the request: the line may come and go between checks.
    await r.evaluate(() => {
      window.__findingAnother = null;
      const look = () => {
        const el = document.querySelector('[data-testid="finding-another"]');
        if (el && !window.__findingAnother) window.__findingAnother = { text: (el.textContent ?? "").trim(), at: Date.now() };
      };
      new MutationObserver(look).observe(document.body, { childList: true, subtree: true, characterData: true });
      look();
    });
    const requested = Date.now();
    await r.getByRole("button", { name: "Request ride" }).click();
    await expectText(r, '[data-testid="trip-title"]', /Finding you a driver/);
    await shot(r, "06-rider-searching");
    const rider = await sessionOf(r, "rider");
    const [trip] = await expectCall("GET", "/trips?limit=1", rider.token, undefined, 200);
    if (trip?.status !== "REQUESTED") fail(`the rider's newest trip should be REQUESTED, got ${JSON.stringify(trip)}`);
    tripId = trip.id;
    if (trip.fare?.estimate !== estimatedFare.amount || trip.fare?.currency !== estimatedFare.currency || trip.fare?.final !== null) {
      fail(`the trip's fare should be the estimate shown before booking (${JSON.stringify(estimatedFare)}), final null; was ${JSON.stringify(trip.fare)}`);
    }
    if (trip.driver !== null || trip.rating !== null || trip.arrived_at !== null) fail(`a REQUESTED trip has no driver, rating or arrived_at yet: ${JSON.stringify(trip)}`);
    await waitFor("the silent driver's offer", () => silent.seen.offers.find((o) => o.trip_id === tripId), 10000);
    const revoked = await waitFor("the silent driver's offer:revoked", () => silent.seen.revoked.find((x) => x.trip_id === tripId), 15000);
    if (revoked.reason !== "unreachable") fail(`the unconfirmed offer should be revoked as unreachable, got ${JSON.stringify(revoked)}`);
    log(`silent driver: offer revoked as unreachable ${((Date.now() - requested) / 1000).toFixed(1)} s after the request`);
    const seen = await waitFor("the rider's 'Finding another driver…' line", () => r.evaluate(() => window.__findingAnother), 10000);
    if (seen.text !== "Finding another driver…") fail(`[data-testid="finding-another"] should read "Finding another driver…", read ${JSON.stringify(seen.text)}`);
    if (await r.locator('[data-testid="finding-another"]').count()) await shot(r, "06b-rider-finding-another");
    const status = await expectText(r, '[data-testid="trip-title"]', /\w/);
    if (!/Finding you a driver/.test(status)) fail(`the rider should still be waiting, saw ${JSON.stringify(status)}`);
    // The silent driver leaves for good, so it can take no later offer.
    await expectCall("POST", "/drivers/me/offline", silent.token, undefined, 200);
    silent.socket.disconnect();
  });

  await step("the driver comes back online and gets the offer card with a countdown", async () => {
    await d.getByRole("button", { name: "Go online" }).click();
    await expectText(d, '[data-testid="driver-status"]', /^Online$/);
    await expectVisible(d, '[data-testid="offer-card"]');
    const secs = Number((await expectText(d, '[data-testid="offer-countdown"]', /^\d+s$/)).replace("s", ""));
    if (!(secs > 0 && secs <= 30)) {
      const seen = await d.evaluate(async () => {
        const s = JSON.parse(localStorage.getItem("hail.session.driver"));
        const me = await (await fetch("/api/v1/drivers/me", { headers: { authorization: `Bearer ${s.token}` } })).json();
        return { now: new Date().toISOString(), offer: me.current_offer };
      });
      fail(`countdown should be within the 30 s offer, got ${secs}; ${JSON.stringify(seen)}`);
    }
    await expectText(d, ".offer-meta", /Premium · pickup \d+ m away/);
    await expectText(d, '[data-testid="offer-fare"]', new RegExp(`^${money(estimatedFare.currency, estimatedFare.amount)}$`));
    await shotBoth(d, "07-driver-offer");
    // Still looking, as far as the rider knows, until a driver accepts.
    await expectVisible(r, '[data-testid="finding-another"]');
  });

  await step("driver accepts and taps \"I've arrived\" too early: the API's not_at_pickup shows as a clear message", async () => {
    await d.getByRole("button", { name: "Accept" }).click();
    await expectText(d, '[data-testid="driver-trip-title"]', /Pick up your rider/);
    await expectText(d, '[data-testid="driver-status"]', /On a trip/);
    const refused = d.waitForResponse((res) => res.url().endsWith(`/api/v1/trips/${tripId}/arrive`));
    await d.getByRole("button", { name: "I've arrived" }).click();
    const answer = await refused;
    const body = await answer.json().catch(() => null);
    if (answer.status() !== 409 || body?.error?.code !== "not_at_pickup") fail(`an arrive ${Math.round(metres(await driverPosition(d), PICKUP))} m from the pickup should answer 409 not_at_pickup, answered ${answer.status()} ${JSON.stringify(body)}`);
    await expectText(d, '[data-testid="not-at-pickup"]', /not at the pickup yet.*200 m/);
    await shot(d, "09-driver-not-at-pickup");
  });

  await step("rider sees who is coming: name, rating, car, colour, a large plate, and the backend's pickup ETA", async () => {
    await expectText(r, '[data-testid="trip-title"]', /Driver assigned/);
    await expectHidden(r, '[data-testid="finding-another"]', 10000);
    await expectText(r, '[data-testid="driver-name"]', /^Dan Driver$/);
    await expectText(r, '[data-testid="driver-rating"]', /New driver/);
    await expectText(r, '[data-testid="vehicle-plate"]', new RegExp(`^${PLATE}$`));
    await expectText(r, '[data-testid="vehicle"]', /Toyota Corolla Altis\s*Silver/);
    const plate = await r.locator('[data-testid="vehicle-plate"]').evaluate((el) => {
      const s = getComputedStyle(el);
      return { size: parseFloat(s.fontSize), family: s.fontFamily, color: s.color, background: s.backgroundColor };
    });
    if (plate.size < 28 || !/mono/i.test(plate.family)) fail(`the plate should be 28px+ monospace, was ${JSON.stringify(plate)}`);
    if (plate.color !== "rgb(0, 0, 0)" || plate.background !== "rgb(255, 255, 255)") fail(`the plate should be black on white, was ${JSON.stringify(plate)}`);
    // The ETA is the backend's (driver:location's pickup_eta_secs), in minutes.
    await expectText(r, '[data-testid="driver-eta"] strong', /^(< 1|\d+) min$/, 15000);
    await expectText(r, '[data-testid="trip-detail"]', /away · ETA (< 1|\d+) min$/);
    await expectText(d, '[data-testid="driver-trip-detail"]', /(away · ETA (< 1|\d+) min|at the pickup)/);
    await expectVisible(r, ".hail-marker-car");
    const rider = await sessionOf(r, "rider");
    const trip = await expectCall("GET", `/trips/${tripId}`, rider.token, undefined, 200);
    if (trip.driver?.name !== "Dan Driver" || trip.driver?.vehicle?.plate !== PLATE) fail(`the rider's trip should name the driver and the plate, had ${JSON.stringify(trip.driver)}`);
    await shotBoth(r, "08-rider-assigned", PHONE);
    await shot(d, "09b-driver-to-pickup");
  });

  await step("the rider's car moves toward the pickup", async () => {
    const before = await carBox(r);
    await r.waitForTimeout(2500);
    const after = await carBox(r);
    if (before.x === after.x && before.y === after.y) fail("the car marker did not move in 2.5 s of simulated driving");
  });

  await step("a reload keeps the session and the live trip, in both apps", async () => {
    await collectContracts(r);
    await r.reload();
    await expectText(r, '[data-testid="trip-title"]', /Driver assigned/);
    await expectText(r, ".user", /Rita Rider/);
    await collectContracts(d);
    await d.reload();
    await expectText(d, '[data-testid="driver-trip-title"]', /Pick up your rider/);
    await expectText(d, '[data-testid="driver-status"]', /On a trip/);
  });

  await step("a dropped connection shows the banner, and the trip resyncs after it", async () => {
    await rider.context.setOffline(true);
    await expectVisible(r, '[data-testid="connection-banner"]', 20000);
    await shot(r, "10-rider-connection-lost");
    await rider.context.setOffline(false);
    await expectHidden(r, '[data-testid="connection-banner"]', 20000);
    await expectText(r, '[data-testid="trip-title"]', /Driver assigned/);
  });

  let pin = null;
  await step("the car reaches the pickup, the driver arrives; the rider reads 'here' and the PIN, which only the rider's trip carries", async () => {
    await expectText(d, '[data-testid="driver-trip-detail"]', /You are at the pickup/, 60000);
    await d.getByRole("button", { name: "I've arrived" }).click();
    await expectText(d, '[data-testid="driver-trip-title"]', /^Waiting for your rider$/);
    await expectHidden(d, '[data-testid="not-at-pickup"]', 2000);
    await expectText(r, '[data-testid="trip-title"]', /^Your driver is here$/);
    await expectText(r, '[data-testid="pickup-pin-card"] .pin-lead', /^Tell your driver this PIN$/);
    pin = await expectText(r, '[data-testid="pickup-pin"]', /^\d{4}$/);
    await expectText(r, '[data-testid="vehicle-plate"]', new RegExp(`^${PLATE}$`));
    const digit = await r.locator('[data-testid="pickup-pin"] span').first().evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    if (digit < 40) fail(`the PIN's digits should be big on arrival, were ${digit}px`);
    const rider = await sessionOf(r, "rider");
    const driver = await sessionOf(d, "driver");
    const riders = await expectCall("GET", `/trips/${tripId}`, rider.token, undefined, 200);
    const drivers = await expectCall("GET", `/trips/${tripId}`, driver.token, undefined, 200);
    if (riders.status !== "ARRIVED" || !riders.arrived_at) fail(`the trip should be ARRIVED with arrived_at, was ${JSON.stringify(riders)}`);
    if (riders.pickup_pin !== pin) fail(`the rider's trip should carry the PIN shown (${pin}), carried ${JSON.stringify(riders.pickup_pin)}`);
    if (drivers.pickup_pin !== null) fail(`the driver's copy of the trip must not carry the PIN, carried ${JSON.stringify(drivers.pickup_pin)}`);
    await shotBoth(r, "10b-rider-driver-here", PHONE);
    await shot(d, "10c-driver-arrived");
  });

  await step("driver starts: the app asks for the PIN, says a wrong one is wrong with the attempts left, and starts with the rider's", async () => {
    await d.getByRole("button", { name: "Start trip" }).click();
    await expectText(d, '[data-testid="pin-prompt"]', /^Ask the rider for their 4-digit PIN$/);
    await shotBoth(d, "11a-driver-pin", PHONE, '[data-testid="pin-entry"]');
    await d.fill('input[name="pin"]', wrongPin(pin));
    await d.getByRole("button", { name: "Start with this PIN" }).click();
    await expectText(d, '[data-testid="pin-prompt"]', /^Wrong PIN\. 4 attempts left\.$/);
    await shot(d, "11b-driver-wrong-pin-375");
    await d.fill('input[name="pin"]', pin);
    await d.getByRole("button", { name: "Start with this PIN" }).click();
    await expectText(d, '[data-testid="driver-trip-title"]', /Drive to the destination/);
    await expectText(r, '[data-testid="trip-title"]', /On your trip/);
    await expectText(r, '[data-testid="trip-detail"]', /to your destination/);
    await shotBoth(r, "11-rider-on-trip");
    await shot(d, "12-driver-on-trip");
  });

  await step("driver completes; both see it completed with the final fare on a receipt", async () => {
    await d.waitForTimeout(3000); // a few pings of driving, for the fare's distance
    await d.getByRole("button", { name: "Complete trip" }).click();
    await expectText(d, '[data-testid="driver-trip-title"]', /Trip completed/);
    await expectText(r, '[data-testid="trip-title"]', /Trip completed/);
    const rider = await sessionOf(r, "rider");
    const trip = await expectCall("GET", `/trips/${tripId}`, rider.token, undefined, 200);
    if (typeof trip.fare?.final !== "number") fail(`a completed trip has a final fare, had ${JSON.stringify(trip.fare)}`);
    const fare = money(trip.fare.currency, trip.fare.final);
    await expectText(r, '[data-testid="receipt-fare"]', new RegExp(`^${fare}$`));
    await expectText(r, '[data-testid="receipt"]', /Total/);
    await expectText(r, '[data-testid="receipt-distance"]', /^\d+(\.\d)? k?m$/);
    await expectText(r, '[data-testid="receipt-duration"]', /^(< 1|\d+) min$/);
    await expectText(d, '[data-testid="receipt-fare"]', new RegExp(`^${fare}$`));
    await shotBoth(r, "13-rider-completed", PHONE, '[data-testid="receipt"]');
    await shot(d, "14-driver-completed");
  });

  await step("rider rates the trip 4 stars with a comment; a second rating is 409 already_rated", async () => {
    await expectVisible(r, '[data-testid="rate-trip"]');
    await r.getByRole("radio", { name: /^4 stars/ }).click();
    await r.fill('textarea[name="comment"]', "Easy to find the car");
    await r.getByRole("button", { name: "Submit rating" }).click();
    await expectVisible(r, '[data-testid="your-rating"][data-stars="4"]');
    await expectText(r, '[data-testid="your-rating-comment"]', /Easy to find the car/);
    await shotBoth(r, "13b-rider-rated", PHONE, '[data-testid="your-rating"]');
    const rider = await sessionOf(r, "rider");
    const trip = await expectCall("GET", `/trips/${tripId}`, rider.token, undefined, 200);
    if (trip.rating?.stars !== 4 || trip.rating?.comment !== "Easy to find the car") fail(`the trip's rating should be 4 stars with the comment, was ${JSON.stringify(trip.rating)}`);
    const again = await expectCall("POST", `/trips/${tripId}/rating`, rider.token, { stars: 1 }, 409);
    if (again?.error?.code !== "already_rated") fail(`a second rating should be 409 already_rated, was ${JSON.stringify(again)}`);
    const me = await expectCall("GET", "/drivers/me", (await sessionOf(d, "driver")).token, undefined, 200);
    if (me.rating?.average !== 4 || me.rating?.count !== 1) fail(`the driver's rating should now be {average: 4, count: 1}, was ${JSON.stringify(me.rating)}`);
    await d.getByRole("button", { name: "Done" }).click();
    await expectText(d, '[data-testid="driver-status"]', /^Online$/);
  });

  await step("the trip is in both histories", async () => {
    for (const [page, name] of [
      [r, "15-rider-history"],
      [d, "16-driver-history"],
    ]) {
      await page.getByRole("tab", { name: "History" }).click();
      await expectVisible(page, '[data-testid="history-item"][data-status="COMPLETED"]');
      await expectText(page, '[data-testid="history-item"] .chip', /Completed/);
      await expectText(page, '[data-testid="history-item"] [data-testid="history-fare"]', /^SGD \d+\.\d{2}$/);
      await shotBoth(page, name);
      await page.getByRole("tab", { name: page === r ? "Ride" : "Drive" }).click();
    }
  });

  await supportRun(browser, { riderPage: r, driverPage: d, riderEmail, tripId, silentId: silent.id });

  await step("five wrong PINs cancel a trip started from ASSIGNED; both apps say why", async () => {
    await r.getByRole("button", { name: "Book another ride" }).click();
    await r.fill('input[name="pickup"]', "1.30400, 103.83200");
    await r.press('input[name="pickup"]', "Enter");
    await r.fill('input[name="dropoff"]', "1.29000, 103.84500");
    await r.press('input[name="dropoff"]', "Enter");
    await expectText(r, '[data-testid="estimate-fare"]', /^SGD \d+\.\d{2}$/);
    await r.getByRole("button", { name: "Request ride" }).click();
    await expectVisible(d, '[data-testid="offer-card"]', 20000);
    await d.getByRole("button", { name: "Accept" }).click();
    await expectText(d, '[data-testid="driver-trip-title"]', /Pick up your rider/);
    const rider = await sessionOf(r, "rider");
    const [trip] = await expectCall("GET", "/trips?limit=1", rider.token, undefined, 200);
    if (trip?.status !== "ASSIGNED" || !/^\d{4}$/.test(trip.pickup_pin ?? "")) fail(`the rider's new trip should be ASSIGNED with a PIN, was ${JSON.stringify(trip)}`);
    await expectVisible(r, '[data-testid="pickup-pin-card"]');
    // Started straight from ASSIGNED, as API.md allows.
    await d.getByRole("button", { name: "Start trip" }).click();
    await expectText(d, '[data-testid="pin-prompt"]', /^Ask the rider for their 4-digit PIN$/);
    const bad = wrongPin(trip.pickup_pin);
    for (let left = 4; left >= 0; left--) {
      await d.fill('input[name="pin"]', bad);
      await d.getByRole("button", { name: "Start with this PIN" }).click();
      if (left > 0) await expectText(d, '[data-testid="pin-prompt"]', new RegExp(`^Wrong PIN\\. ${left} attempts? left\\.$`));
    }
    await expectText(d, '[data-testid="driver-trip-title"]', /^Trip cancelled: wrong PIN$/);
    await expectText(r, '[data-testid="trip-title"]', /^Trip cancelled: wrong PIN$/);
    await expectText(r, '[data-testid="trip-detail"]', /wrong pickup PIN 5 times/);
    const ended = await expectCall("GET", `/trips/${trip.id}`, rider.token, undefined, 200);
    if (ended.status !== "CANCELLED" || ended.cancel_reason !== "pin_attempts") fail(`the trip should be CANCELLED with reason pin_attempts, was ${ended.status} ${JSON.stringify(ended.cancel_reason)}`);
    await shotBoth(r, "16b-rider-pin-cancelled", PHONE);
    await shot(d, "16c-driver-pin-cancelled");
    await d.getByRole("button", { name: "Done" }).click();
    await expectText(d, '[data-testid="driver-status"]', /^Online$/);
  });

  await step("a trip started from ASSIGNED with the PIN; a rating already given (409 already_rated) shows as the rating, not an error", async () => {
    await r.getByRole("button", { name: "Book another ride" }).click();
    await r.fill('input[name="dropoff"]', "1.29000, 103.84500");
    await r.press('input[name="dropoff"]', "Enter");
    await expectText(r, '[data-testid="estimate-fare"]', /^SGD \d+\.\d{2}$/);
    await r.getByRole("button", { name: "Request ride" }).click();
    await expectVisible(d, '[data-testid="offer-card"]', 20000);
    await d.getByRole("button", { name: "Accept" }).click();
    await expectText(d, '[data-testid="driver-trip-title"]', /Pick up your rider/);
    const shownPin = await expectText(r, '[data-testid="pickup-pin"]', /^\d{4}$/);
    await d.getByRole("button", { name: "Start trip" }).click();
    await d.fill('input[name="pin"]', shownPin);
    await d.getByRole("button", { name: "Start with this PIN" }).click();
    await expectText(d, '[data-testid="driver-trip-title"]', /Drive to the destination/);
    await d.getByRole("button", { name: "Complete trip" }).click();
    await expectText(r, '[data-testid="trip-title"]', /Trip completed/);
    await expectVisible(r, '[data-testid="receipt"][data-final="true"]');
    // Rated elsewhere (another phone) while this screen still offers it.
    const rider = await sessionOf(r, "rider");
    const [trip] = await expectCall("GET", "/trips?limit=1", rider.token, undefined, 200);
    await expectCall("POST", `/trips/${trip.id}/rating`, rider.token, { stars: 5 }, 200);
    await r.getByRole("radio", { name: /^2 stars/ }).click();
    await r.getByRole("button", { name: "Submit rating" }).click();
    await expectVisible(r, '[data-testid="your-rating"][data-stars="5"]');
    await expectText(r, '[data-testid="your-rating"]', /already rated/);
    if (await r.locator('[data-testid="rate-trip"] [data-testid="alert-error"]').count()) fail("a 409 already_rated should not show as an error");
    await d.getByRole("button", { name: "Done" }).click();
    await expectText(d, '[data-testid="driver-status"]', /^Online$/);
  });

  await step("a rider cancel takes the offer card away with a message", async () => {
    await r.getByRole("button", { name: "Book another ride" }).click();
    await r.fill('input[name="pickup"]', "1.30400, 103.83200");
    await r.press('input[name="pickup"]', "Enter");
    await r.fill('input[name="dropoff"]', "1.29000, 103.84500");
    await r.press('input[name="dropoff"]', "Enter");
    await r.getByRole("button", { name: "Request ride" }).click();
    await expectVisible(d, '[data-testid="offer-card"]');
    await r.getByRole("button", { name: "Cancel trip" }).click();
    await expectText(r, '[data-testid="trip-title"]', /Trip cancelled/);
    await expectHidden(d, '[data-testid="offer-card"]');
    await expectText(d, '[data-testid="alert-info"]', /rider cancelled/);
    await shot(d, "17-driver-offer-revoked");
  });

  await step("an offer survives a driver reload; declined with no other driver it ends in 'no driver found'", async () => {
    await r.getByRole("button", { name: "Book another ride" }).click();
    await r.fill('input[name="dropoff"]', "1.29000, 103.84500");
    await r.press('input[name="dropoff"]', "Enter");
    await r.getByRole("button", { name: "Request ride" }).click();
    await expectVisible(d, '[data-testid="offer-card"]');
    // A reload shows the open offer again (GET /drivers/me current_offer).
    await collectContracts(d);
    await d.reload();
    await expectVisible(d, '[data-testid="offer-card"]');
    await d.getByRole("button", { name: "Decline" }).click();
    await expectText(d, '[data-testid="alert-info"]', /declined/);
    await expectText(r, '[data-testid="trip-title"]', /No driver found/, 30000);
    await shot(r, "18-rider-no-driver");
  });

  await step("a refused token sends the rider back to log in with a message", async () => {
    await collectContracts(r);
    await r.evaluate(() => {
      const s = JSON.parse(localStorage.getItem("hail.session.rider"));
      s.token = "not-a-real-token";
      localStorage.setItem("hail.session.rider", JSON.stringify(s));
    });
    await r.reload();
    await expectText(r, '[data-testid="auth-notice"]', /session has expired\. Log in again/);
    await shot(r, "19-rider-session-expired");
  });

  await step("the maps asked for tiles, and the CSP blocked nothing", async () => {
    if (!tileRequests) fail(`no request for a tile under ${tileHost}: the map's tiles were blocked or never asked for`);
    expectNoCspViolation();
    log(`tile requests: ${tileRequests}; CSP violations: 0`);
  });

  await collectContracts(r);
  await collectContracts(d);
  await driver.context.close();
  await rider.context.close();
}

const supportEmail = `support-${suffix}@example.com`;
const supportPassword = `support-password-${suffix}`;

/** An operator makes the support account with the binary, as API.md says
 * (the password on standard input). */
function addSupportAccount() {
  const made = spawnSync(bin, ["users", "add-support", "--email", supportEmail, "--name", "Support E2E"], { input: `${supportPassword}\n`, env, cwd: root, encoding: "utf8" });
  if (made.status !== 0) fail(`hail users add-support exited with ${made.status ?? made.signal}:\n${made.stdout}${made.stderr}`);
}

/** The support page, after the trip above was completed: the trip's audit
 * trail and the driver's day of offers, as a support person sees them. */
async function supportRun(browser, { riderPage, driverPage, riderEmail, tripId, silentId }) {
  const rider = await sessionOf(riderPage, "rider");
  const driverId = (await sessionOf(driverPage, "driver")).user.id;
  const support = await newApp(browser, 390, 844);
  const p = support.page;
  const today = utcToday();

  await step("support: a rider's token is refused at the support route (403)", async () => {
    const r = await apiCall("GET", `/support/drivers/${driverId}/dispatches?date=${today}`, rider.token);
    if (r.status !== 403 || r.body?.error?.code !== "forbidden") fail(`a rider reading a driver's dispatches should get 403 forbidden, got ${r.status} ${JSON.stringify(r.body)}`);
  });

  await step("support: the page offers log-in only, and tells a rider it is for support staff", async () => {
    await p.goto(`${base}/support/`);
    await expectText(p, ".brand-sub", /^Support$/);
    if (await p.getByRole("tab", { name: "Sign up" }).count()) fail("the support page should not offer to sign up");
    if (await p.locator('input[name="name"]').count()) fail("the support page should have no register form");
    await shotBoth(p, "25-support-login", { width: 390, height: 844 });
    await p.fill('input[name="email"]', riderEmail);
    await p.fill('input[name="password"]', "rider-password");
    await p.locator('form button[type="submit"]').click();
    await expectText(p, '[data-testid="not-support-staff"] h2', /^This page is for support staff$/);
    await shot(p, "26-support-not-staff-390");
    await p.getByRole("button", { name: "Sign out" }).click();
    await expectVisible(p, 'input[name="email"]');
    const stored = await p.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("hail.session.")));
    if (stored.length) fail(`a rider turned away at the support page should leave no session behind, found ${stored.join(", ")}`);
  });

  await step("support: signs in and looks up the trip: its record and its dispatch timeline", async () => {
    await p.fill('input[name="email"]', supportEmail);
    await p.fill('input[name="password"]', supportPassword);
    await p.locator('form button[type="submit"]').click();
    await expectText(p, ".user", /Support E2E/);
    await p.fill('input[name="trip_id"]', tripId);
    await p.getByRole("button", { name: "Look up" }).click();
    await expectText(p, '[data-testid="trip-status"]', /^COMPLETED$/);
    await expectText(p, '[data-testid="trip-driver"]', new RegExp(driverId));
    await expectText(p, '[data-testid="trip-rider"]', new RegExp(rider.user.id));
    await expectText(p, '[data-testid="trip-city"]', /^sg$/);
    const rows = await p.locator('[data-testid="timeline-row"]').evaluateAll((trs) =>
      trs.map((tr) => ({
        type: tr.getAttribute("data-type"),
        at: Date.parse(tr.querySelector("td")?.getAttribute("title") ?? ""),
        cells: [...tr.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim()),
      })),
    );
    const types = rows.map((r) => r.type);
    for (const t of ["OFFER_SENT", "OFFER_UNREACHABLE", "OFFER_DELIVERED", "OFFER_ACCEPTED"]) if (!types.includes(t)) fail(`the timeline should show ${t}, showed ${types.join(", ")}`);
    // In this order: the silent driver asked and lost as unreachable, then
    // the browser driver asked, its phone confirming, and accepting.
    const at = (type, driver, from = 0) => rows.findIndex((r, i) => i >= from && r.type === type && r.cells[2] === driver);
    const sentSilent = at("OFFER_SENT", silentId);
    const unreachable = at("OFFER_UNREACHABLE", silentId, sentSilent);
    const sent = at("OFFER_SENT", driverId, unreachable);
    const delivered = at("OFFER_DELIVERED", driverId, sent);
    const accepted = at("OFFER_ACCEPTED", driverId, delivered);
    if ([sentSilent, unreachable, sent, delivered, accepted].some((i) => i < 0)) {
      fail(`the timeline should read OFFER_SENT, OFFER_UNREACHABLE (silent ${silentId}), OFFER_SENT, OFFER_DELIVERED, OFFER_ACCEPTED (driver ${driverId}), oldest first; it read ${JSON.stringify(rows, null, 1)}`);
    }
    if (!rows[delivered].cells[3].includes('"via":"socket"')) fail(`OFFER_DELIVERED's detail should say via socket, read ${rows[delivered].cells[3]}`);
    if (rows.some((r, i) => !(r.at >= (i > 0 ? rows[i - 1].at : 0)))) fail(`the timeline should be oldest first, its times read ${rows.map((r) => r.cells[0]).join(", ")}`);
    await shotBoth(p, "27-support-trip", { width: 390, height: 844 });
  });

  await step("support: a malformed trip id shows the API's error message", async () => {
    const direct = await apiCall("GET", "/trips/not-a-trip-id", (await sessionOf(p, "support")).token);
    if (![400, 404, 422].includes(direct.status) || typeof direct.body?.error?.message !== "string") fail(`GET /trips/not-a-trip-id should be a 400, 404 or 422 error body, got ${direct.status} ${JSON.stringify(direct.body)}`);
    await p.fill('input[name="trip_id"]', "not-a-trip-id");
    await p.getByRole("button", { name: "Look up" }).click();
    const shown = await expectText(p, '[data-testid="trip-lookup"] [data-testid="alert-error"]', /\w/);
    if (!shown.includes(direct.body.error.message)) fail(`the page should show the API's message ${JSON.stringify(direct.body.error.message)}, showed ${JSON.stringify(shown)}`);
    await shot(p, "28-support-error-390");
  });

  await step("support: the driver's day of offers, one accepted over the socket; its trip opens in the trip lookup", async () => {
    const day = await p.inputValue('input[name="date"]');
    if (day !== today) fail(`the day should default to today in UTC (${today}), was ${JSON.stringify(day)}`);
    await p.fill('input[name="driver_id"]', driverId);
    await p.getByRole("button", { name: "Show" }).click();
    await expectVisible(p, '[data-testid="dispatch-row"]');
    const rows = await p.locator('[data-testid="dispatch-row"]').evaluateAll((trs) =>
      trs.map((tr) => ({ trip: tr.getAttribute("data-trip"), outcome: tr.getAttribute("data-outcome"), via: tr.getAttribute("data-via") })),
    );
    if (rows.length !== 1) fail(`the driver had one offer today, the page shows ${JSON.stringify(rows)}`);
    if (rows[0].trip !== tripId || rows[0].outcome !== "accepted" || rows[0].via !== "socket") fail(`the offer should be trip ${tripId}, accepted, delivered via socket; it is ${JSON.stringify(rows[0])}`);
    await expectText(p, '[data-testid="dispatch-outcome"]', /^accepted$/);
    await expectText(p, '[data-testid="dispatch-delivered"]', /via socket/);
    await shotBoth(p, "29-support-driver", { width: 390, height: 844 });
    // The silent driver's one offer: never confirmed, so never delivered.
    await p.fill('input[name="driver_id"]', silentId);
    await p.getByRole("button", { name: "Show" }).click();
    await expectText(p, '[data-testid="dispatch-outcome"]', /^unreachable$/);
    await expectText(p, '[data-testid="dispatch-delivered"]', /not delivered/);
    // A trip in the table fills the trip lookup.
    await p.fill('input[name="trip_id"]', "");
    await p.locator('[data-testid="dispatch-trip"]').first().click();
    await expectText(p, '[data-testid="trip-status"]', /^COMPLETED$/);
    if ((await p.inputValue('input[name="trip_id"]')) !== tripId) fail("a trip clicked in the table should fill the trip lookup");
  });

  await step("support: every answer the support page received matched contracts.ts", async () => {
    const r = await p.evaluate(() => window.__hailContracts ?? { checked: {}, failures: [] });
    if (r.failures.length) fail(`mismatches: ${JSON.stringify(r.failures, null, 2)}`);
    const missing = ["AuthResponse", "Trip", "TripEvent[]", "DriverDispatch[]", "ErrorBody"].filter((k) => !r.checked[k]);
    if (missing.length) fail(`the support page never checked: ${missing.join(", ")} (checked: ${JSON.stringify(r.checked)})`);
  });

  await collectContracts(p);
  await support.context.close();
}

async function carpoolRun(browser) {
  const driver = await newApp(browser, 1280, 800);
  const rider = await newApp(browser, 375, 812);
  const d = driver.page;
  const r = rider.page;
  const origin = `E2E${suffix}`;

  await step("carpool: a driver offers seats in a room", async () => {
    await d.goto(`${base}/driver/${tiles}`);
    await signUp(d, { name: "Cara Carpool", email: `cara-${suffix}@example.com`, password: "driver-password" });
    await expectText(d, '[data-testid="driver-status"]', /Offline/);
    // A driver may skip the car, and still go online (and off again).
    await d.getByRole("button", { name: "Skip for now" }).click();
    await expectText(d, '[data-testid="vehicle-card"]', /No car yet/);
    await d.getByRole("button", { name: "Go online" }).click();
    await expectText(d, '[data-testid="driver-status"]', /^Online$/);
    await d.getByRole("button", { name: "Go offline" }).click();
    await expectText(d, '[data-testid="driver-status"]', /^Offline$/);
    await d.reload();
    await expectVisible(d, 'button:has-text("Go online")');
    if (await d.locator('[data-testid="vehicle-form"]').count()) fail("a driver who skipped the car should not be asked again after a reload");
    // The car can be added (or changed) later from its card.
    await d.locator('[data-testid="vehicle-card"]').getByRole("button", { name: "Add your car" }).click();
    await expectText(d, '[data-testid="vehicle-form"] h2', /^Your car$/);
    await d.fill('input[name="vehicle_make"]', "Honda");
    await d.fill('input[name="vehicle_model"]', "Jazz");
    await d.fill('input[name="vehicle_color"]', "Red");
    await d.fill('input[name="vehicle_plate"]', "SKC-42 B");
    await d.getByRole("button", { name: "Save car" }).click();
    await expectText(d, '[data-testid="my-plate"]', /^SKC-42 B$/);
    await expectText(d, '[data-testid="my-car"]', /^Red Honda Jazz$/);
    await d.getByRole("tab", { name: "Carpool" }).click();
    await d.fill('input[name="origin"]', origin);
    await d.selectOption('select[name="day"]', "mon");
    await d.fill('input[name="time"]', "08:00");
    await d.selectOption('select[name="seats"]', "2");
    await d.getByRole("button", { name: "Offer seats in this room" }).click();
    await expectText(d, '[data-testid="room-summary"]', /1 driver · 2 seats free · 0 waiting/);
  });

  await step("carpool: a rider joins the queue; the driver sees them live", async () => {
    await r.goto(`${base}/${tiles}`);
    await signUp(r, { name: "Ron Rider", email: `ron-${suffix}@example.com`, password: "rider-password" });
    await expectText(r, ".card h2", /Where to\?/);
    await r.getByRole("tab", { name: "Carpool" }).click();
    await r.fill('input[name="origin"]', origin);
    await r.selectOption('select[name="day"]', "mon");
    await r.fill('input[name="time"]', "08:00");
    await r.getByRole("button", { name: "Join the queue" }).click();
    await expectText(r, ".room-note", /number 1 in the queue/);
    await expectText(d, '[data-testid="room-summary"]', /1 waiting/);
    await shotBoth(d, "20-carpool-driver-room");
  });

  await step("carpool: the driver selects the rider, who accepts before the countdown ends", async () => {
    await d.locator('[data-testid="waiting"] li').first().getByRole("button", { name: "Select" }).click();
    await expectVisible(r, '[data-testid="match-request"]');
    const secs = Number((await expectText(r, '[data-testid="match-request"] .countdown', /^\d+s$/)).replace("s", ""));
    if (!(secs > 0 && secs <= 30)) fail(`the match countdown should be within HAIL_ROOM_CONFIRM_SECS (30), got ${secs}`);
    await shotBoth(r, "21-carpool-rider-match");
    await r.getByRole("button", { name: "Accept seat" }).click();
    await expectText(r, '[data-testid="my-rides"]', /Confirmed/);
    await expectText(d, '[data-testid="my-rides"]', /Confirmed/);
    await expectText(d, ".room-note", /1 seat left/);
    await shot(d, "22-carpool-driver-ride");
    await shot(r, "23-carpool-rider-ride");
  });

  await step("carpool: the rider cancels the ride, the seat comes back, the rider queues again and leaves", async () => {
    await r.getByRole("button", { name: "Cancel ride" }).click();
    await expectText(d, ".room-note", /2 seats left/);
    await r.getByRole("button", { name: "Join the queue again" }).click();
    await expectText(r, ".room-note", /number 1 in the queue/);
    await expectText(d, '[data-testid="room-summary"]', /1 waiting/);
    await r.getByRole("button", { name: "Leave" }).click();
    await expectVisible(r, '[data-testid="carpool-form"]');
    await expectText(d, '[data-testid="room-summary"]', /0 waiting/);
    await shot(d, "24-carpool-driver-after");
  });

  await collectContracts(r);
  await collectContracts(d);
  await driver.context.close();
  await rider.context.close();
}

let browser = null;
let code = 0;
try {
  log(`starting hail on ${base} (database ${dbName}, Redis prefix ${redisPrefix})`);
  const migrate = spawnSync(bin, ["migrate"], { env, cwd: root, encoding: "utf8" });
  if (migrate.status !== 0) fail(`hail migrate failed:\n${migrate.stdout}${migrate.stderr}`);
  stack = startStack();
  await waitReady();
  log("stack ready");
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  if (only !== "carpool") {
    await step("an operator makes a support account (hail users add-support)", async () => addSupportAccount());
    await tripRun(browser);
  }
  if (only !== "trip") await carpoolRun(browser);

  await step("every API answer and event matched contracts.ts", async () => {
    if (contracts.failures.length) fail(`mismatches: ${JSON.stringify(contracts.failures, null, 2)}`);
    const want = [
      ...(only !== "carpool" ? ["FareEstimate", "Vehicle", "AuthResponse", "ErrorBody", "NearbyDriver[]", "Trip", "Trip[]", "TripEvent[]", "DriverDispatch[]", "DriverProfile", "StatusResponse", "trip:update", "driver:location", "offer", "ack:driver:location", "ack:trip:subscribe", "offer:revoked", "DeclineResponse"] : []),
      ...(only !== "trip" ? ["AuthResponse", "RoomState", "room:state", "room:match_request", "ack:room:join"] : []),
    ];
    const missing = want.filter((k) => !contracts.checked[k]);
    if (missing.length) fail(`never checked: ${missing.join(", ")} (checked: ${JSON.stringify(contracts.checked)})`);
    log(`contract checks: ${JSON.stringify(contracts.checked)}`);
  });

  await step("no page reported a Content-Security-Policy violation", async () => expectNoCspViolation());
} catch (e) {
  code = 1;
  if (failed === 0) {
    failed++;
    log(`FAIL setup: ${e.message}`);
  }
} finally {
  await browser?.close().catch(() => undefined);
  await stopStack();
  cleanup();
  stackLog.end();
  log(`tile requests: ${tileRequests}; CSP violations: ${csp.events.length} events, ${csp.console.length} console reports`);
  console.log("screenshots and the stack's log are in test-output/e2e/");
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(code || (failed ? 1 : 0));
}
