/**
 * Authoritative answers from an immutable set of zones (RFC 1034 §4.3.2
 * algorithm, without delegations or wildcards): exact matches, CNAME chasing
 * inside our zones, NODATA vs NXDOMAIN with the SOA in the authority section
 * (RFC 2308 §2.1-2.2, negative TTL = min(SOA TTL, SOA MINIMUM) per §3), empty
 * non-terminals answering NODATA (RFC 8020 §2), glue for NS targets. An
 * `Authority` is a snapshot: the zone provider builds a new one when the data
 * changes, and precomputed responses live and die with it.
 */
import { canonicalName, isSubdomain } from './names.js';
import { encodeMessage } from './codec.js';
import { CLASS_IN, Rcode, RRType, responseFlags, type DnsMessage, type DnsRecord, type SoaData } from './message.js';

/** One zone's content. Owner names inside must be canonical and below `origin`. */
export interface ZoneData {
  /** Zone apex, canonical, no trailing dot. */
  origin: string;
  soa: SoaData;
  /** TTL of the SOA and NS records at the apex. */
  ttl: number;
  /** Name servers of the zone (targets). */
  nameServers: string[];
  /** All other records (apex records other than SOA/NS may be included). */
  records: DnsRecord[];
}

interface Zone {
  origin: string;
  soaRecord: DnsRecord;
  negativeSoa: DnsRecord;
  /** name -> type -> records */
  nodes: Map<string, Map<number, DnsRecord[]>>;
  /** Names that exist only as ancestors of records (empty non-terminals). */
  nonTerminals: Set<string>;
}

/** Result of a lookup: null when no zone of ours contains the name. */
export type Lookup = DnsMessage | null;

/** Maximum CNAME chain followed inside our zones. */
const MAX_CNAME_CHAIN = 8;

/** Types for which nothing should be answered from a precomputed cache. */
const NEVER_CACHE = new Set<number>([RRType.AXFR, 251 /* IXFR */, RRType.OPT]);

/** An immutable snapshot of our zones with a bounded cache of encoded responses. */
export class Authority {
  private readonly zones: Zone[];
  private readonly cache = new Map<string, Buffer>();
  private readonly maxCache: number;

  constructor(zones: readonly ZoneData[], readonly serial: number = 0) {
    let total = 0;
    this.zones = zones
      .map((z) => {
        const origin = canonicalName(z.origin);
        const soaRecord: DnsRecord = { name: origin, type: RRType.SOA, class: CLASS_IN, ttl: z.ttl, data: { kind: 'soa', soa: z.soa } };
        const zone: Zone = {
          origin,
          soaRecord,
          negativeSoa: { ...soaRecord, ttl: Math.min(z.ttl, z.soa.minimum) },
          nodes: new Map(),
          nonTerminals: new Set(),
        };
        const add = (r: DnsRecord) => {
          const name = canonicalName(r.name);
          if (!isSubdomain(name, origin)) return;
          let byType = zone.nodes.get(name);
          if (!byType) zone.nodes.set(name, (byType = new Map()));
          const list = byType.get(r.type) ?? [];
          if (!list.some((x) => sameData(x, r))) list.push({ ...r, name });
          byType.set(r.type, list);
          total++;
          for (let p = parent(name); p !== null && p.length > origin.length; p = parent(p)) zone.nonTerminals.add(p);
        };
        add(soaRecord);
        for (const ns of z.nameServers) add({ name: origin, type: RRType.NS, class: CLASS_IN, ttl: z.ttl, data: { kind: 'name', target: canonicalName(ns) } });
        for (const r of z.records) add(r);
        return zone;
      })
      // Longest origin first, so the most specific zone wins.
      .sort((a, b) => b.origin.length - a.origin.length);
    this.maxCache = 16 * total + 1024;
  }

  /** The most specific zone containing `name` (canonical). */
  private zoneOf(name: string): Zone | undefined {
    for (const z of this.zones) if (isSubdomain(name, z.origin)) return z;
    return undefined;
  }

  /** True when `name` lies in one of our zones. */
  covers(name: string): boolean {
    return this.zoneOf(canonicalName(name)) !== undefined;
  }

  /** Zone apexes served, most specific first. */
  origins(): string[] {
    return this.zones.map((z) => z.origin);
  }

  /**
   * Answer a standard query with exactly one IN question (the caller checks
   * opcode, question count, class and EDNS version). Returns null when the
   * name is outside our zones.
   */
  lookup(query: DnsMessage): Lookup {
    const q = query.questions[0];
    const qname = canonicalName(q.name);
    const zone = this.zoneOf(qname);
    if (!zone) return null;
    const resp: DnsMessage = {
      id: query.id,
      flags: responseFlags(query.flags, Rcode.NOERROR, true),
      questions: [q],
      answers: [],
      authority: [],
      additional: [],
    };
    let name = qname;
    let z: Zone | undefined = zone;
    for (let hop = 0; z; hop++) {
      const node = z.nodes.get(name);
      if (!node) {
        if (z.nonTerminals.has(name)) {
          resp.authority.push(z.negativeSoa); // RFC 8020 §2: empty non-terminal = NODATA
        } else {
          // RFC 2308 §2.1 (after a CNAME, the rcode describes the last name of the chain).
          resp.flags.rcode = Rcode.NXDOMAIN;
          resp.authority.push(z.negativeSoa);
        }
        break;
      }
      if (q.type === RRType.ANY) {
        for (const list of node.values()) resp.answers.push(...list);
        break;
      }
      const exact = node.get(q.type);
      if (exact) {
        resp.answers.push(...exact);
        if (q.type === RRType.NS) this.glue(exact, resp);
        break;
      }
      const cname = node.get(RRType.CNAME);
      if (cname && hop < MAX_CNAME_CHAIN) {
        // RFC 1034 §4.3.2 step 3a: answer the CNAME and restart at its target.
        resp.answers.push(cname[0]);
        const d = cname[0].data;
        if (d.kind !== 'name') break;
        name = d.target;
        z = this.zoneOf(name);
        if (z && resp.answers.some((r) => r.name === name)) break; // loop
        continue;
      }
      resp.authority.push(z.negativeSoa); // NODATA (RFC 2308 §2.2)
      break;
    }
    if (query.edns) resp.edns = { udpSize: 1232, extRcode: 0, version: 0, do: query.edns.do, options: Buffer.alloc(0) };
    return resp;
  }

  private glue(ns: DnsRecord[], resp: DnsMessage): void {
    for (const r of ns) {
      if (r.data.kind !== 'name') continue;
      const target = r.data.target;
      const node = this.zoneOf(target)?.nodes.get(target);
      if (!node) continue;
      for (const t of [RRType.A, RRType.AAAA]) resp.additional.push(...(node.get(t) ?? []));
    }
  }

  /** A precomputed response for a fast-path key (see fastpath.ts), if any. */
  cached(key: string): Buffer | undefined {
    return this.cache.get(key);
  }

  /**
   * Remember the canonical encoding of a response for the fast path: only for
   * names that exist in our zones (bounded by the zone size), never for
   * NXDOMAIN (unbounded key space) nor for transfers.
   */
  remember(key: string, query: DnsMessage, resp: DnsMessage): void {
    const q = query.questions[0];
    if (resp.flags.rcode !== Rcode.NOERROR || q.class !== CLASS_IN || NEVER_CACHE.has(q.type)) return;
    if (this.cache.size >= this.maxCache) return;
    const canonical: DnsMessage = {
      ...resp,
      id: 0,
      flags: { ...resp.flags, rd: false, cd: false, tc: false },
      questions: [{ name: canonicalName(q.name), type: q.type, class: q.class }],
    };
    delete canonical.edns;
    this.cache.set(key, encodeMessage(canonical));
  }
}

function parent(name: string): string | null {
  const i = name.indexOf('.');
  return i < 0 ? null : name.slice(i + 1);
}

function sameData(a: DnsRecord, b: DnsRecord): boolean {
  return JSON.stringify(a.data) === JSON.stringify(b.data);
}
