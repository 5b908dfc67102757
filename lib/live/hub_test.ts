import assert from "node:assert/strict";
import { Hub, type PresenceEvent, type Subscriber } from "./hub.ts";
import type { Envelope } from "../protocol/envelope.ts";

let nextSeq = 1;

/** An envelope from `from` in `vault`, to `to` (null: every other device). */
function envelope(vault: string, from: string, to: string | null = null): Envelope {
  return {
    vault,
    seq: nextSeq++,
    from,
    to,
    createdAt: 0,
    expiresAt: 0,
    body: new Uint8Array([1]),
  };
}

/** A subscriber that records what it is given; a socket if `socket`, else a long poll. */
function listener(
  device: string,
  options: { socket?: boolean; accepts?: boolean; settled?: () => Promise<void> } = {},
) {
  const received: Envelope[] = [];
  const events: string[] = [];
  const subscriber: Subscriber & { received: Envelope[]; events: string[] } = {
    device,
    received,
    events,
    deliver(envelope) {
      if (options.accepts === false) return false;
      received.push(envelope);
      return true;
    },
    ...(options.socket === false
      ? {}
      : { onPresence: (event: PresenceEvent) => events.push(`${event.type} ${event.device}`) }),
    ...(options.settled ? { settled: options.settled } : {}),
  };
  return subscriber;
}

Deno.test("hub delivers a broadcast to every other device of the vault, not back to the sender", () => {
  const hub = new Hub();
  const phone = listener("phone");
  const laptop = listener("laptop");
  const tablet = listener("tablet", { socket: false });
  const stranger = listener("laptop");
  hub.subscribe("v1", phone);
  hub.subscribe("v1", laptop);
  hub.subscribe("v1", tablet);
  hub.subscribe("v2", stranger);
  const sent = envelope("v1", "phone");
  assert.equal(hub.publish(sent), 2);
  assert.deepEqual(phone.received, []);
  assert.deepEqual(laptop.received, [sent]);
  assert.deepEqual(tablet.received, [sent]);
  assert.deepEqual(stranger.received, [], "another vault hears nothing");
});

Deno.test("hub delivers an addressed envelope only to the addressed device", () => {
  const hub = new Hub();
  const laptop = listener("laptop");
  const tablet = listener("tablet");
  hub.subscribe("v1", laptop);
  hub.subscribe("v1", tablet);
  const sent = envelope("v1", "phone", "tablet");
  assert.equal(hub.publish(sent), 1);
  assert.deepEqual(laptop.received, []);
  assert.deepEqual(tablet.received, [sent]);
  assert.equal(hub.publish(envelope("v1", "phone", "watch")), 0, "nobody is listening as watch");
});

Deno.test("hub counts devices that took an envelope, not subscribers", () => {
  const hub = new Hub();
  hub.subscribe("v1", listener("laptop"));
  hub.subscribe("v1", listener("laptop", { socket: false }));
  hub.subscribe("v1", listener("tablet", { accepts: false }));
  const twice = listener("watch");
  hub.subscribe("v1", twice);
  hub.subscribe("v1", listener("watch"));
  assert.equal(hub.publish(envelope("v1", "phone")), 2, "laptop and watch; tablet refused it");
  assert.equal(twice.received.length, 1);
});

Deno.test("hub stops delivering to a subscriber once it unsubscribes", () => {
  const hub = new Hub();
  const laptop = listener("laptop");
  const unsubscribe = hub.subscribe("v1", laptop);
  hub.publish(envelope("v1", "phone"));
  unsubscribe();
  unsubscribe();
  assert.equal(hub.publish(envelope("v1", "phone")), 0);
  assert.equal(laptop.received.length, 1);
});

Deno.test("hub tells sockets when another device connects its first socket and closes its last", () => {
  const hub = new Hub();
  const phone = listener("phone");
  hub.subscribe("v1", phone);
  const firstLaptop = hub.subscribe("v1", listener("laptop"));
  const laptopAgain = listener("laptop");
  const secondLaptop = hub.subscribe("v1", laptopAgain);
  assert.deepEqual(phone.events, ["join laptop"], "a second socket of a device is not news");
  assert.deepEqual(laptopAgain.events, [], "a device is not told about itself");
  firstLaptop();
  assert.deepEqual(phone.events, ["join laptop"]);
  secondLaptop();
  assert.deepEqual(phone.events, ["join laptop", "leave laptop"]);
});

Deno.test("hub announces no presence for long polls and tells them none", () => {
  const hub = new Hub();
  const phone = listener("phone");
  hub.subscribe("v1", phone);
  const poll = listener("tablet", { socket: false });
  const stopPolling = hub.subscribe("v1", poll);
  hub.subscribe("v1", listener("laptop"));
  stopPolling();
  assert.deepEqual(phone.events, ["join laptop"]);
  assert.deepEqual(poll.events, []);

  const laptopPoll = hub.subscribe("v1", listener("laptop", { socket: false }));
  laptopPoll();
  assert.deepEqual(phone.events, ["join laptop"], "laptop's socket is still open");
});

Deno.test("hub settles a vault once every subscriber has room", async () => {
  const hub = new Hub();
  const slow = Promise.withResolvers<void>();
  const slower = Promise.withResolvers<void>();
  hub.subscribe("v1", listener("laptop", { settled: () => slow.promise }));
  hub.subscribe("v1", listener("tablet", { settled: () => slower.promise }));
  hub.subscribe("v1", listener("watch"));
  hub.subscribe("v2", listener("phone", { settled: () => new Promise(() => {}) }));
  let settled = false;
  const waiting = hub.settled("v1").then(() => settled = true);
  slow.resolve();
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(settled, false, "tablet has no room yet");
  slower.resolve();
  await waiting;
  assert.equal(settled, true);
  await hub.settled("empty");
});

Deno.test("hub counts sockets, devices with a socket and devices with any subscriber", () => {
  const hub = new Hub();
  hub.subscribe("v1", listener("phone"));
  hub.subscribe("v1", listener("phone"));
  hub.subscribe("v1", listener("laptop"));
  hub.subscribe("v1", listener("tablet", { socket: false }));
  hub.subscribe("v2", listener("watch"));
  assert.equal(hub.socketCount("v1"), 3);
  assert.deepEqual(hub.devicesConnected("v1"), new Set(["phone", "laptop"]));
  assert.deepEqual(hub.devicesOnline("v1"), new Set(["phone", "laptop", "tablet"]));
  assert.equal(hub.socketCount("nobody"), 0);
  assert.deepEqual(hub.devicesConnected("nobody"), new Set());
  assert.deepEqual(hub.devicesOnline("nobody"), new Set());
});

Deno.test("hub forgets a vault whose last subscriber left, and a stale unsubscribe does no harm", () => {
  const hub = new Hub();
  const leave = hub.subscribe("v1", listener("phone"));
  leave();
  assert.equal(hub.socketCount("v1"), 0);
  assert.deepEqual(hub.devicesOnline("v1"), new Set());
  const laptop = listener("laptop");
  hub.subscribe("v1", laptop);
  leave();
  assert.deepEqual(hub.devicesOnline("v1"), new Set(["laptop"]));
  assert.equal(hub.publish(envelope("v1", "phone")), 1);
  assert.deepEqual(laptop.events, [], "the stale unsubscribe announced nothing");
});

Deno.test("hub publishes at once while every reader has room, else in turn, never out of order", async () => {
  const hub = new Hub();
  let room = true;
  const waiting = Promise.withResolvers<void>();
  const laptop = listener("laptop", { settled: () => room ? Promise.resolve() : waiting.promise });
  hub.subscribe("v1", { ...laptop, hasRoom: () => room });
  const [first, second, third] = [1, 2, 3].map(() => envelope("v1", "phone"));
  void hub.publishWhenReady(first!);
  assert.deepEqual(laptop.received, [first], "at once, with room");
  room = false;
  const later = hub.publishWhenReady(second!);
  room = true;
  const last = hub.publishWhenReady(third!);
  assert.deepEqual(laptop.received, [first], "the third waits behind the second");
  waiting.resolve();
  assert.deepEqual(await Promise.all([later, last]), [1, 1]);
  assert.deepEqual(laptop.received, [first, second, third]);
});
