/**
 * Liveness of an authenticated socket: after an idle period with nothing from the device the
 * relay sends `{"type":"ping"}`; if another period passes in silence it gives up (close 4010).
 * Any frame from the device counts, so a busy socket is never pinged.
 *
 * @module
 */

/** Watches one socket for silence. */
export class IdleWatch {
  #heard = false;
  #pinged = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `seconds` 0 disables the watch. */
  constructor(
    private readonly seconds: number,
    private readonly actions: { ping(): void; timeout(): void },
  ) {
    this.#arm();
  }

  /** Records that a frame arrived from the device. */
  heard(): void {
    this.#heard = true;
  }

  /** Stops watching. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.seconds === 0) return;
    this.#timer = setTimeout(() => this.#check(), this.seconds * 1000);
  }

  #check(): void {
    const heard = this.#heard;
    // Reset before pinging: an answer that comes while pinging counts for the next period.
    this.#heard = false;
    if (heard) {
      this.#pinged = false;
    } else if (this.#pinged) {
      this.#timer = undefined;
      return this.actions.timeout();
    } else {
      this.#pinged = true;
      this.actions.ping();
    }
    this.#arm();
  }
}
