// Serialising async operations: each runs after the previous one settled, so
// it sees the state that one committed (or left, when it failed).

export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Run `fn` once everything queued before it has settled; a failure does not stop later ones. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => undefined);
    return next;
  }
}
