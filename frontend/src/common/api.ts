// The REST client: every call goes through the gateway under /api/v1, every
// answer (success and error body alike) is checked against contracts.ts, and
// every failure becomes an ApiError whose `message` a person can act on.
import type { z } from "zod";
import { check, ErrorBody } from "./contracts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown> | null,
  ) {
    super(message);
  }
}

/** What a person should read for a failed call. */
export function friendlyMessage(status: number, _code: string, serverMessage: string): string {
  if (status === 0) return "Cannot reach Hail. Check your connection; we will keep trying.";
  if (status === 401) return serverMessage || "Please log in again.";
  if (status === 503) return "Hail is unavailable right now, retrying. Try again in a moment.";
  if (status === 429) return "Too many requests. Wait a few seconds and try again.";
  if (status >= 500) return "Something went wrong on our side. Try again in a moment.";
  return serverMessage || `The request failed (${status}).`;
}

/** Field problems of a 422 as one sentence ("email: must be an email"). */
export function detailsSentence(details: Record<string, unknown> | null | undefined): string {
  if (!details) return "";
  return Object.entries(details)
    .map(([field, msgs]) => `${field}: ${Array.isArray(msgs) ? msgs.join(", ") : String(msgs)}`)
    .join("; ");
}

export type Unauthorized = () => void;

export class Api {
  constructor(
    private readonly token: string | null,
    private readonly onUnauthorized: Unauthorized = () => {},
  ) {}

  async call<S extends z.ZodType>(
    method: string,
    path: string,
    name: string,
    schema: S | null,
    body?: unknown,
  ): Promise<z.infer<S>> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(`/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network", friendlyMessage(0, "network", ""));
    }
    if (response.status === 204) return undefined as z.infer<S>;
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // A proxy's HTML error page: treat it like the service being away.
      throw new ApiError(response.status || 503, "unavailable", friendlyMessage(503, "unavailable", ""));
    }
    if (!response.ok) {
      const err = check("ErrorBody", ErrorBody, json).error;
      const detail = response.status === 422 ? detailsSentence(err.details) : "";
      const message = friendlyMessage(response.status, err.code, err.message) + (detail ? ` (${detail})` : "");
      if (response.status === 401 && this.token) this.onUnauthorized();
      throw new ApiError(response.status, err.code, message, err.details);
    }
    return schema ? check(name, schema, json) : (json as z.infer<S>);
  }

  get<S extends z.ZodType>(path: string, name: string, schema: S) {
    return this.call("GET", path, name, schema);
  }
  post<S extends z.ZodType>(path: string, name: string, schema: S | null, body?: unknown) {
    return this.call("POST", path, name, schema, body);
  }
  put<S extends z.ZodType>(path: string, name: string, schema: S | null, body?: unknown) {
    return this.call("PUT", path, name, schema, body);
  }
  delete<S extends z.ZodType>(path: string, name: string, schema: S) {
    return this.call("DELETE", path, name, schema);
  }
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
