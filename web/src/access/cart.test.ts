// The requester's cart (web/src/access/cart.ts) without a browser: sessionStorage is a stand-in map, and the catalog
// entries are the fields the cart reads.
import { beforeEach, describe, expect, it } from "vitest";
import type { CatalogEntry } from "../../../protocol/index.ts";

const store = new Map<string, string>();
let storageFails = false;
Object.defineProperty(globalThis, "sessionStorage", {
  configurable: true,
  value: {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => {
      if (storageFails) throw new Error("QuotaExceededError");
      store.set(k, v);
    },
  },
});
const { Cart, durationChoices, lineKey, MAX_CART_ITEMS } = await import("./cart.ts");

const policy = {
  approvalRequired: false,
  quorum: 1,
  maxCheckoutMinutes: 45,
  maxSessionMinutes: 30,
  exclusive: false,
  recordingRequired: false,
  recordingEnabled: true,
  mfaAtConnect: false,
  masterPasswordAtConnect: false,
};
const server = (n: number) => ({ id: `srv${n}`, name: `web-${n}`, zoneName: "prod" }) as unknown as CatalogEntry;
const credential = (n: number, maxCheckoutMinutes = 480) =>
  ({
    id: `cred${n}`,
    name: `root ${n}`,
    username: "root",
    policy: { ...policy, maxCheckoutMinutes },
  }) as unknown as CatalogEntry["credentials"][number];

beforeEach(() => {
  store.clear();
  storageFails = false;
});

describe("durationChoices", () => {
  it("offers the standard durations below the policy's maximum, then the maximum itself", () => {
    expect(durationChoices(45)).toEqual([15, 30, 45]);
    expect(durationChoices(60)).toEqual([15, 30, 60]);
    expect(durationChoices(10)).toEqual([10]);
  });
});

describe("Cart", () => {
  it("adds a pair once, with an hour or the policy's maximum if shorter, and the last reason typed", () => {
    const cart = new Cart();
    let redraws = 0;
    cart.listen(() => redraws++);
    expect(cart.add(server(1), credential(1))).toBe(true);
    expect(cart.add(server(1), credential(1))).toBe(false);
    cart.update(lineKey(cart.lines[0]!), { justification: "INC-4711" });
    expect(cart.add(server(2), credential(2, 45))).toBe(true);
    expect(cart.lines.map((l) => [l.serverName, l.minutes, l.justification])).toEqual([
      ["web-1", 60, "INC-4711"],
      ["web-2", 45, "INC-4711"],
    ]);
    // Edits do not redraw (the inputs show them already); adding does.
    expect(redraws).toBe(2);
  });

  it("holds at most the edge's 20 items", () => {
    const cart = new Cart();
    for (let i = 0; i < MAX_CART_ITEMS; i++) expect(cart.add(server(i), credential(i))).toBe(true);
    expect(cart.add(server(99), credential(99))).toBe(false);
    expect(cart.lines).toHaveLength(MAX_CART_ITEMS);
  });

  it("survives a reload of the tab through sessionStorage, and starts empty from garbled storage", () => {
    const first = new Cart();
    first.add(server(1), credential(1));
    first.add(server(2), credential(2));
    first.remove(lineKey({ serverId: "srv1", credentialId: "cred1" }));
    first.update("srv2/cred2", { minutes: 30, start: "2026-12-06T09:00" });
    const reloaded = new Cart();
    expect(reloaded.lines).toEqual(first.lines);
    expect(reloaded.lines[0]).toMatchObject({ serverId: "srv2", minutes: 30, start: "2026-12-06T09:00" });

    store.set("psm.cart.v1", "{not json");
    expect(new Cart().lines).toEqual([]);
    store.set("psm.cart.v1", JSON.stringify([{ serverId: "x" }]));
    expect(new Cart().lines).toEqual([]);
  });

  it("keeps only what a submission left (retain), and keeps working when storage refuses writes", () => {
    const cart = new Cart();
    cart.add(server(1), credential(1));
    cart.add(server(2), credential(2));
    cart.retain((_, i) => i === 1);
    expect(cart.lines.map((l) => l.serverId)).toEqual(["srv2"]);
    storageFails = true;
    expect(cart.add(server(3), credential(3))).toBe(true);
    expect(cart.lines).toHaveLength(2);
  });
});
