// Secret events (virConnectSecretEventRegisterAny, spec §2.7): lifecycle
// DEFINED/UNDEFINED with detail 0, and VALUE_CHANGED. Delivered synchronously,
// in order, after the change is committed; a throwing callback cannot break
// the driver or the other callbacks.
import { invalidArg, VirError } from "../errors.js";
import { SecretEventID, type LifecycleEvent, type SecretEventIDNumber, type SecretRef } from "./api.js";
import type { SecretDef } from "./def.js";

export type SecretEventCallback = (ev: LifecycleEvent | { secret: SecretRef }) => void;

interface Registration {
  readonly id: number;
  readonly eventID: SecretEventIDNumber;
  readonly uuid: string | null;
  readonly cb: SecretEventCallback;
  deleted: boolean;
}

const FN_REGISTER = "virConnectSecretEventRegisterAny";
const FN_DEREGISTER = "virConnectSecretEventDeregisterAny";
const EVENT_ID_LAST = 2;

export class SecretEventBus {
  #nextID = 1;
  #regs: Registration[] = [];

  /**
   * Validate and add a callback. `filterUUID` is the canonical uuid of the
   * secret to watch (the caller has checked it belongs to this driver), or null.
   */
  register(filterUUID: string | null, eventID: number, cb: unknown): number {
    if (typeof cb !== "function") throw invalidArg(`cb in ${FN_REGISTER} must not be NULL`);
    if (!Number.isInteger(eventID) || eventID < 0) {
      throw invalidArg(`eventID in ${FN_REGISTER} must be zero or greater`);
    }
    if (eventID >= EVENT_ID_LAST) {
      throw invalidArg(`eventID in ${FN_REGISTER} must be less than ${EVENT_ID_LAST}`);
    }
    // libvirt refuses the same function twice for the same event and object.
    if (this.#regs.some((r) => !r.deleted && r.cb === cb && r.eventID === eventID && r.uuid === filterUUID)) {
      throw new VirError("INVALID_ARG", "event callback already tracked", "NONE");
    }
    const id = this.#nextID++;
    this.#regs.push({ id, eventID: eventID as SecretEventIDNumber, uuid: filterUUID, cb: cb as SecretEventCallback, deleted: false });
    return id;
  }

  deregister(callbackID: number): void {
    if (!Number.isInteger(callbackID) || callbackID < 0) {
      throw invalidArg(`callbackID in ${FN_DEREGISTER} must be zero or greater`);
    }
    const i = this.#regs.findIndex((r) => r.id === callbackID && !r.deleted);
    if (i < 0) throw new VirError("INVALID_ARG", `could not find event callback ${callbackID} for deletion`, "NONE");
    this.#regs[i]!.deleted = true;
    this.#regs.splice(i, 1);
  }

  get count(): number {
    return this.#regs.length;
  }

  clear(): void {
    for (const r of this.#regs) r.deleted = true;
    this.#regs = [];
  }

  /**
   * Deliver one event to every matching callback. `visible` is the ACL filter
   * (secret:getattr on `def`).
   */
  emit(eventID: SecretEventIDNumber, def: SecretDef, ref: SecretRef, payload: LifecycleEvent | { secret: SecretRef }, visible: (def: SecretDef) => boolean): void {
    if (this.#regs.length === 0) return;
    const targets = this.#regs.filter((r) => r.eventID === eventID && (r.uuid === null || r.uuid === ref.uuid));
    if (targets.length === 0 || !visible(def)) return;
    for (const r of targets) {
      if (r.deleted) continue; // deregistered by an earlier callback of this same event
      try {
        r.cb(payload);
      } catch (e) {
        process.emitWarning(`secret event callback ${r.id} threw: ${e instanceof Error ? e.message : String(e)}`, "VirsecretEventWarning");
      }
    }
  }
}

export { SecretEventID };
