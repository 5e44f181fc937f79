// Which cut chunks the recorder hands to the spool together (pure). Chunks are sealed strictly in cut
// order, so the sealed ones always lead the queue: they go as one group (one fsync round in the spool,
// spool.ts `addAll`), in order, never past a chunk still sealing. A chunk whose seal failed is taken
// alone, so the recorder stops there: the chain cannot skip a chunk, and nothing after it is spooled.

export type Handed = { sealed?: unknown; failed?: boolean };

/**
 * Removes from the front of `queue` the chunks sealed so far, in order, and returns them; or, when the
 * first chunk's seal failed, removes and returns that one as `failed`. A chunk still sealing stops the
 * group, and a failed one after sealed ones waits for the next call.
 */
export function takeSealed<T extends Handed>(queue: T[]): { group: T[]; failed?: T } {
  const group: T[] = [];
  while (queue.length > 0 && queue[0]!.sealed !== undefined) group.push(queue.shift()!);
  if (group.length === 0 && queue[0]?.failed) return { group, failed: queue.shift()! };
  return { group };
}
