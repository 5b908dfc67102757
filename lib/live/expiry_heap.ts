/**
 * A binary min-heap of items by expiry time: the next item to expire is found in O(1) and taken
 * in O(log n), so bounded tables expire entries without scanning them.
 *
 * @module
 */

/** Items ordered by the time they expire. */
export class ExpiryHeap<T extends { readonly expiresAt: number }> {
  readonly #items: T[] = [];

  /** Items held, including ones their owner has since replaced. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds an item. */
  push(item: T): void {
    const items = this.#items;
    items.push(item);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.expiresAt <= items[i]!.expiresAt) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  /** Keeps only the items `keep` accepts (e.g. drops replaced ones), in O(n). */
  retain(keep: (item: T) => boolean): void {
    const kept = this.#items.filter(keep);
    this.#items.length = 0;
    for (const item of kept) this.push(item);
  }

  /** Takes every item that expired by `now`, soonest first. */
  *popExpired(now: number): Generator<T> {
    while (this.#items.length > 0 && this.#items[0]!.expiresAt <= now) yield this.#pop();
  }

  #pop(): T {
    const items = this.#items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length === 0) return top;
    items[0] = last;
    for (let i = 0;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && items[left]!.expiresAt < items[smallest]!.expiresAt) {
        smallest = left;
      }
      if (right < items.length && items[right]!.expiresAt < items[smallest]!.expiresAt) {
        smallest = right;
      }
      if (smallest === i) return top;
      [items[smallest], items[i]] = [items[i]!, items[smallest]!];
      i = smallest;
    }
  }
}
