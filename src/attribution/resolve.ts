import type { RelayEvent } from '../events/event.js';
import type { Destination } from '../destinations/destination.js';
import type { FoundClick, FoundClicks } from '../store/types.js';
import { refusalReason } from './capture.js';

/** `none`: an ad-platform destination, which receives every conversion, clicked or not. */
export type ClickSource = 'explicit' | 'visitor' | 'client' | 'none';

export type Attribution =
  | { kind: 'send'; destination: Destination; clickId: string; source: ClickSource; capturedAt: number | undefined }
  | { kind: 'expired'; destination: Destination; clickId: string; capturedAt: number; lateByMs: number }
  | { kind: 'no_click'; destination: Destination; reason: string };

export interface AttributionInput {
  event: RelayEvent;
  /** Clicks found under the visitor cookie and the GA4 client ID, and where each came from. */
  found: FoundClicks;
  /** Why nothing could be looked up (no cookie, no client ID), when that is the case. */
  lookupGap: string | undefined;
  /** Every configured destination: a click for a destination that does not convert on this event still wins its group. */
  destinations: readonly Destination[];
  now: number;
  /**
   * Each group's newest click (undefined: none) as the store chose it when it accepted the jobs
   * (Store.acceptLastTouch), by group name: decided from it, the decisions describe what was queued.
   */
  winners?: ReadonlyMap<string, { click: FoundClick | undefined }> | undefined;
}

/**
 * Last touch per attribution group: the newest click across the group's destinations wins, so one
 * sale pays one network. Each destination that converts on this event gets exactly one decision.
 */
export function attributeConversion(input: AttributionInput): Attribution[] {
  const decisions: Attribution[] = [];
  for (const group of groupsConverting(input.destinations, input.event.event_name)) {
    decisions.push(...attributeGroup(input, group));
  }
  return decisions;
}

/** An attribution group with destinations that convert on an event. */
export interface ConvertingGroup {
  name: string;
  /** The group's destinations that convert on the event, in config order. */
  members: Destination[];
  /** Every destination in the group (their clicks compete too), by ID, to its place in the config. */
  inGroup: ReadonlyMap<string, number>;
  /** The same IDs, in config order. */
  ids: readonly string[];
}

/** Fixed for a configuration, so worked out once per event name, not per conversion. */
const convertingGroups = new WeakMap<readonly Destination[], Map<string, ConvertingGroup[]>>();

export function groupsConverting(destinations: readonly Destination[], eventName: string): ConvertingGroup[] {
  let byEvent = convertingGroups.get(destinations);
  if (!byEvent) convertingGroups.set(destinations, (byEvent = new Map()));
  let groups = byEvent.get(eventName);
  if (!groups) {
    const byName = new Map<string, ConvertingGroup>();
    for (const d of destinations) {
      if (!d.conversionEvents.has(eventName)) continue;
      let group = byName.get(d.group);
      if (!group) {
        const ids = destinations.filter((other) => other.group === d.group).map((other) => other.id);
        byName.set(d.group, (group = { name: d.group, members: [], inGroup: new Map(ids.map((id, place) => [id, place])), ids }));
      }
      group.members.push(d);
    }
    groups = [...byName.values()];
    byEvent.set(eventName, groups);
  }
  return groups;
}

function attributeGroup(input: AttributionInput, { name: group, members, inGroup }: ConvertingGroup): Attribution[] {
  const explicit = input.event.click_id;
  if (explicit !== undefined) return attributeExplicit(input, explicit, members, inGroup);

  const chosen = input.winners?.get(group);
  const winner = chosen ? chosen.click : newestInGroup(input.found.clicks, inGroup);
  return members.map((destination): Attribution => {
    if (!winner) {
      if (takesUnclicked(destination)) return { kind: 'send', destination, clickId: '', source: 'none', capturedAt: undefined };
      return { kind: 'no_click', destination, reason: noClickReason(input, destination) };
    }
    if (winner.destination !== destination.id) {
      return {
        kind: 'no_click',
        destination,
        reason:
          `last touch: the newest click in attribution group "${group}" came from "${winner.destination}" ` +
          `(${new Date(winner.capturedAt).toISOString()}), so this sale is credited there`,
      };
    }
    const age = input.now - winner.capturedAt;
    if (age > destination.windowMs) {
      return { kind: 'expired', destination, clickId: winner.clickId, capturedAt: winner.capturedAt, lateByMs: age - destination.windowMs };
    }
    return {
      kind: 'send', destination, clickId: winner.clickId,
      source: winner.via, capturedAt: winner.capturedAt,
    };
  });
}

/**
 * An explicit click ID on the conversion names no network, so it goes to the group's destination
 * with the newest stored click, else to the first (in config order) whose click-ID rules accept it.
 * Nothing in the request chooses the destination.
 */
function attributeExplicit(
  input: AttributionInput,
  clickId: string,
  members: Destination[],
  inGroup: ReadonlyMap<string, number>,
): Attribution[] {
  const newestStored = newestInGroup(input.found.clicks, inGroup);
  const target =
    members.find((d) => d.id === newestStored?.destination) ??
    members.find((d) => refusalReason(clickId, d) === undefined);
  return members.map((destination): Attribution => {
    if (destination !== target) {
      const why = target
        ? `the explicit click_id was attributed to "${target.id}"`
        : `the explicit click_id "${clickId}" is refused by every destination in the group`;
      return { kind: 'no_click', destination, reason: why };
    }
    const refusal = refusalReason(clickId, destination);
    if (refusal) return { kind: 'no_click', destination, reason: `explicit click_id refused: ${refusal}` };
    return { kind: 'send', destination, clickId, source: 'explicit', capturedAt: undefined };
  });
}

/** Ad-platform APIs take every conversion and match it themselves (client ID, hashed user data). */
export function takesUnclicked(destination: Destination): boolean {
  return destination.template.kind === 'platform';
}

/**
 * The group's newest click. Clicks of the same millisecond go to the one under the visitor cookie,
 * then to the destination listed first: the Redis store's one-step accept script (store/redis/
 * scripts.ts, acceptLastTouch) applies the same rules and must agree with these.
 */
export function newestInGroup(clicks: readonly FoundClick[], inGroup: ReadonlyMap<string, number>): FoundClick | undefined {
  let newest: FoundClick | undefined;
  for (const click of clicks) {
    const place = inGroup.get(click.destination);
    if (place === undefined) continue;
    if (
      newest === undefined ||
      click.capturedAt > newest.capturedAt ||
      (click.capturedAt === newest.capturedAt && (click.via !== newest.via ? click.via === 'visitor' : place < inGroup.get(newest.destination)!))
    ) {
      newest = click;
    }
  }
  return newest;
}

function noClickReason(input: AttributionInput, destination: Destination): string {
  const refused = input.found.refused.find((r) => r.destination === destination.id);
  if (refused) {
    return `no valid click ID was captured: the landing at ${new Date(refused.at).toISOString()} was refused (${refused.reason})`;
  }
  if (input.lookupGap) return input.lookupGap;
  return `no click ID for "${destination.id}" was captured for this visitor (landing parameters: ${destination.clickParams.join(', ')})`;
}
