// Barbican HTTP statuses -> key-manager errors. Barbican says 403 for another
// project's secret and 404 for an absent one; on reads and deletes both become
// KeyNotFound with the same text, so an id tells a caller nothing about keys
// it does not own. On create/store, 403 is a real refusal (policy, quota).
import { KeyManagerError, KeyNotFound, NotAuthorized } from "../key-manager.js";
import type { HttpReply } from "./http.js";

/** What the failed request was doing, which decides what 403/404 mean. */
export type BarbicanCall =
  /** get, payload, delete, the read half of copy: the caller named an id */
  | { readonly kind: "object"; readonly id: string }
  /** create, store, order: a new object */
  | { readonly kind: "create" }
  /** list, order polling */
  | { readonly kind: "other" };

export interface FailedRequest {
  /** "Barbican at http://host:9311/v1" */
  readonly peer: string;
  /** "GET /v1/secrets/…" */
  readonly what: string;
  readonly call: BarbicanCall;
  /**
   * Quote the server's error description. False for requests that carried
   * key material: a validation message might echo part of what we sent.
   */
  readonly quoteServer: boolean;
}

/** Barbican's own reason ({"code","title","description"}), cut short and stripped of control characters. */
export function serverReason(body: Buffer): string | undefined {
  try {
    const j = JSON.parse(body.toString("utf8")) as { description?: unknown; title?: unknown; message?: unknown };
    const text = [j.description, j.message, j.title].find((t): t is string => typeof t === "string" && t !== "");
    if (text === undefined) return undefined;
    // eslint-disable-next-line no-control-regex
    const clean = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
    return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
  } catch {
    return undefined;
  }
}

/** The error for a non-success reply. */
export function errorForStatus(reply: HttpReply, req: FailedRequest): KeyManagerError {
  const { status } = reply;
  const reason = req.quoteServer ? serverReason(reply.body) : undefined;
  const detail = new KeyManagerError(
    `${req.peer} answered ${status}${reply.statusText ? ` ${reply.statusText}` : ""} to ${req.what}${reason ? `: ${reason}` : ""}`,
  );
  if (status === 401) return new NotAuthorized({ cause: detail });
  if (req.call.kind === "object" && (status === 403 || status === 404)) return new KeyNotFound(req.call.id);
  if (status === 403) return new NotAuthorized({ cause: detail });
  return detail;
}
