// A counting semaphore with a deadline. The Barbican backend runs its writes
// (POST, DELETE) through one: Barbican on sqlite answers 500 "database is
// locked" when two writes overlap (seen on 15.0.1 with 20 parallel creates),
// and a write waiting its turn must still fail within the caller's deadline.

export class DeadlineError extends Error {}

export class Limiter {
  private active = 0;
  private readonly waiting: Array<{ grant: () => void }> = [];

  constructor(readonly slots: number) {}

  /** Wait for a slot until `deadline` (epoch ms); the returned function gives it back. */
  async acquire(deadline: number): Promise<() => void> {
    if (this.active < this.slots) {
      this.active++;
      return this.releaser();
    }
    return new Promise<() => void>((resolve, reject) => {
      const entry = {
        grant: () => {
          clearTimeout(timer);
          this.active++;
          resolve(this.releaser());
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new DeadlineError("no write slot before the deadline"));
      }, Math.max(0, deadline - Date.now()));
      this.waiting.push(entry);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      this.waiting.shift()?.grant();
    };
  }
}
