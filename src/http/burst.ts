import type { ServerResponse } from 'node:http';

export type Reply = (res: ServerResponse) => void;

/**
 * Answers held until the end of the current event-loop turn and then written together. On a
 * virtual machine a socket write that wakes its reader costs an exit to the hypervisor; written in
 * a burst, most answers find the reader (a proxy, a load balancer's connection pool) awake
 * already. On two vCPUs under mixed traffic this took about a tenth off the CPU per request
 * (BENCHMARKS.md). The delay is at most one turn of the loop.
 */
export function createReplyBurst(): (reply: Reply, res: ServerResponse) => void {
  // Pairs side by side (reply, res, reply, res...): no object per answer.
  let held: Array<Reply | ServerResponse> = [];

  function writeHeld(): void {
    const burst = held;
    held = [];
    for (let i = 0; i < burst.length; i += 2) {
      const res = burst[i + 1] as ServerResponse;
      try {
        (burst[i] as Reply)(res);
      } catch {
        // Only a broken socket makes a reply throw: that answer is lost, the others still go.
        res.destroy();
      }
    }
  }

  return (reply, res) => {
    if (held.length === 0) setImmediate(writeHeld);
    held.push(reply, res);
  };
}
