/**
 * Per destination, in this process: at most `maxConcurrency` postbacks in flight, and a circuit
 * breaker, so a network that is down is not hammered by every queued conversion at once and its
 * outage does not take all of the worker's slots from the healthy networks.
 */
export interface GateOptions {
  maxConcurrency: number;
  /** Consecutive failures (timeouts, network errors, 5xx, 408, 429) that open the circuit. */
  failureThreshold: number;
  coolDownMs: number;
  now: () => number;
}

/** The cool-down doubles after each failed probe, up to this. */
const MAX_COOL_DOWN_MS = 5 * 60_000;
/** While one probe tests a half-open circuit, other postbacks wait this long before asking again. */
const PROBE_WAIT_MS = 1_000;

export class DestinationGate {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  private failures = 0;
  private openUntil = 0;
  private coolDown: number;
  private probing = false;

  constructor(private readonly options: GateOptions) {
    this.coolDown = options.coolDownMs;
  }

  /**
   * Undefined when a postback may go now; otherwise the time (epoch ms) to try again. When the
   * cool-down has passed, exactly one caller is let through as the probe.
   */
  blockedUntil(): number | undefined {
    if (this.openUntil === 0) return undefined;
    const now = this.options.now();
    if (now < this.openUntil) return this.openUntil;
    if (this.probing) return now + PROBE_WAIT_MS;
    this.probing = true;
    return undefined;
  }

  /** Waits for a free slot; call the returned function when the postback is done. */
  async acquire(): Promise<() => void> {
    if (this.active >= this.options.maxConcurrency) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      this.waiters.shift()?.();
    };
  }

  /**
   * `answered`: the network gave a verdict (any non-retryable answer), so it is up. `retryAfterMs`:
   * a failed answer said when to come back (429 or 503 with Retry-After). A failed probe doubles
   * the cool-down, except where the network named its wait: it is answering, and its word (or the
   * configured cool-down, if longer) sets when the next probe goes.
   */
  record(answered: boolean, retryAfterMs?: number): void {
    const wasProbe = this.probing;
    this.probing = false;
    if (answered) {
      this.failures = 0;
      this.openUntil = 0;
      this.coolDown = this.options.coolDownMs;
      return;
    }
    this.failures += 1;
    if (wasProbe && retryAfterMs !== undefined) {
      this.openUntil = this.options.now() + Math.min(Math.max(retryAfterMs, this.options.coolDownMs), MAX_COOL_DOWN_MS);
    } else if (wasProbe) {
      this.coolDown = Math.min(this.coolDown * 2, MAX_COOL_DOWN_MS);
      this.openUntil = this.options.now() + this.coolDown;
    } else if (this.failures >= this.options.failureThreshold && this.openUntil === 0) {
      this.openUntil = this.options.now() + this.coolDown;
    }
  }

  get state(): 'closed' | 'open' | 'half_open' {
    if (this.openUntil === 0) return 'closed';
    return this.options.now() < this.openUntil ? 'open' : 'half_open';
  }

  get inFlight(): number {
    return this.active;
  }
}
