// The requester's cart: the server/credential pairs they mean to request, with a window and reason
// each, kept in sessionStorage so it survives reloads and page changes but not the browser tab.
import { z } from "zod";
import { type CartResult, type CatalogEntry, PolicyHint } from "../../../protocol/index.ts";

const STORAGE_KEY = "psm.cart.v1";
/** The edge takes at most 20 items per cart (SubmitCartRequest). */
export const MAX_CART_ITEMS = 20;
/** Offered durations, in minutes; each item offers those up to its policy's maximum, plus the maximum. */
const DURATIONS_MIN = [15, 30, 60, 120, 240, 480, 720, 1440, 2880, 4320, 10_080, 20_160, 43_200];
const DEFAULT_MINUTES = 60;

export const CartLine = z.object({
  serverId: z.string(),
  serverName: z.string(),
  zoneName: z.string(),
  credentialId: z.string(),
  credentialName: z.string(),
  username: z.string(),
  policy: PolicyHint,
  /** datetime-local value; empty means "now". */
  start: z.string(),
  minutes: z.number().int().positive(),
  justification: z.string(),
});
export type CartLine = z.infer<typeof CartLine>;

export const lineKey = (line: { serverId: string; credentialId: string }) => `${line.serverId}/${line.credentialId}`;

/** The durations a line may choose, in minutes, ascending. */
export function durationChoices(maxMinutes: number): number[] {
  const choices = DURATIONS_MIN.filter((m) => m < maxMinutes);
  return [...choices, maxMinutes];
}

export class Cart {
  lines: CartLine[] = [];
  /** The outcome of the last submission, shown once by whichever page renders next. */
  lastResult: { result: CartResult; names: string[] } | null = null;
  private readonly listeners = new Set<() => void>();

  constructor() {
    try {
      const stored = z.array(CartLine).safeParse(JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "[]"));
      if (stored.success) this.lines = stored.data.slice(0, MAX_CART_ITEMS);
    } catch {
      // Storage unavailable or garbled: start empty.
    }
  }

  /** Registers a redraw for structural changes (add, remove, clear); returns its removal. */
  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  has(serverId: string, credentialId: string): boolean {
    return this.lines.some((line) => line.serverId === serverId && line.credentialId === credentialId);
  }

  add(server: CatalogEntry, credential: CatalogEntry["credentials"][number]): boolean {
    if (this.has(server.id, credential.id) || this.lines.length >= MAX_CART_ITEMS) return false;
    const max = credential.policy.maxCheckoutMinutes;
    this.lines.push({
      serverId: server.id,
      serverName: server.name,
      zoneName: server.zoneName,
      credentialId: credential.id,
      credentialName: credential.name,
      username: credential.username,
      policy: credential.policy,
      start: "",
      minutes: Math.min(DEFAULT_MINUTES, max),
      justification: this.lines.at(-1)?.justification ?? "",
    });
    this.changed();
    return true;
  }

  remove(key: string): void {
    this.lines = this.lines.filter((line) => lineKey(line) !== key);
    this.changed();
  }

  /** Keeps only the lines for which `keep` is true (after a submission). */
  retain(keep: (line: CartLine, index: number) => boolean): void {
    this.lines = this.lines.filter(keep);
    this.changed();
  }

  /** Edits a field without a redraw (the inputs already show it). */
  update(key: string, patch: Partial<Pick<CartLine, "start" | "minutes" | "justification">>): void {
    const line = this.lines.find((l) => lineKey(l) === key);
    if (!line) return;
    Object.assign(line, patch);
    this.save();
  }

  private changed(): void {
    this.save();
    for (const listener of this.listeners) listener();
  }

  private save(): void {
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.lines));
    } catch {
      // Storage full or blocked: the cart still works for this page view.
    }
  }
}

/** One cart per tab. */
export const cart = new Cart();
