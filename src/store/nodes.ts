/**
 * Node repository: nodes, their MACs (one MAC belongs to at most one node,
 * enforced by the primary key) and the append-only event log. Every state
 * change and its event are written in one transaction.
 */
import { immediateRunner, type Db, type Immediate } from './db.js';
import { CrowbarError } from '../lib/errors.js';
import type { Inventory, Node, NodeEvent, NodeState } from '../model/node.js';

interface NodeRow {
  id: number;
  name: string;
  state: string;
  problem_reason: string | null;
  allocated: number;
  inventory: string;
  bmc_address: string | null;
  bmc_user: string | null;
  bmc_password_enc: string | null;
  power_driver: string;
  created_at: number;
  updated_at: number;
  state_changed_at: number;
}

/** Fields for a new node. */
export interface NewNode {
  name: string;
  macs: string[];
  state: NodeState;
  inventory?: Inventory;
  cause: string;
}

/**
 * A node read from the store. The inventory (the largest column, about a KB
 * of JSON per node) is parsed on first access only: most lookups (agent
 * requests, DHCP, proposal checks) never read it, and parsing it on every
 * lookup was the appliance's largest single cost at scale
 * (docs/simulator.md). A class, so that every node shares one shape and one
 * accessor (an accessor defined per object cost more than the parse it saved).
 * JSON.stringify goes through toJSON(), which includes the inventory; a spread
 * copies the data fields only (use nodeView in the API).
 */
class StoredNode implements Node {
  id: number;
  name: string;
  macs: string[];
  state: NodeState;
  problem_reason: string | null;
  allocated: boolean;
  bmc_address: string | null;
  bmc_user: string | null;
  bmc_password_set: boolean;
  power_driver: string;
  created_at: number;
  updated_at: number;
  state_changed_at: number;
  /** The stored inventory JSON while the parsed copy has not been read (and so not changed). */
  #text: string | undefined;
  #inventory: Inventory | undefined;

  constructor(r: NodeRow, macs: string[]) {
    this.id = r.id;
    this.name = r.name;
    this.macs = macs;
    this.state = r.state as NodeState;
    this.problem_reason = r.problem_reason;
    this.allocated = r.allocated === 1;
    this.bmc_address = r.bmc_address;
    this.bmc_user = r.bmc_user;
    this.bmc_password_set = r.bmc_password_enc !== null;
    this.power_driver = r.power_driver;
    this.created_at = r.created_at;
    this.updated_at = r.updated_at;
    this.state_changed_at = r.state_changed_at;
    this.#text = r.inventory;
  }

  get inventory(): Inventory {
    if (this.#inventory === undefined) {
      this.#inventory = JSON.parse(this.#text ?? '{}') as Inventory;
      this.#text = undefined;
    }
    return this.#inventory;
  }

  set inventory(v: Inventory) {
    this.#inventory = v;
    this.#text = undefined;
  }

  /** The stored inventory text, when nobody has read the parsed copy. */
  storedInventory(): string | undefined {
    return this.#text;
  }

  toJSON(): Node {
    return { ...this, inventory: this.inventory };
  }
}

/**
 * A node as JSON (the same fields as JSON.stringify(node)). For a node read
 * from the store whose inventory nobody parsed, the stored inventory text is
 * spliced in as it is: a list of 1000 nodes costs no 1000 JSON.parse +
 * stringify round trips of their inventories (about 50 ms).
 */
export function nodeJson(n: Node): string {
  const raw = n instanceof StoredNode ? n.storedInventory() : undefined;
  if (raw === undefined) return JSON.stringify(n);
  const head = JSON.stringify({ ...n });
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"inventory":${raw}}`;
}

/** Data access for nodes and node events. */
export class NodeRepo {
  private readonly q;
  private readonly immediate: Immediate;

  constructor(db: Db) {
    this.immediate = immediateRunner(db);
    this.q = {
      byId: db.prepare<[number], NodeRow>('SELECT * FROM nodes WHERE id = ?'),
      byName: db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE name = ?'),
      exists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM nodes WHERE name = ?'),
      byMac: db.prepare<[string], NodeRow>('SELECT n.* FROM nodes n JOIN node_macs m ON m.node_id = n.id WHERE m.mac = ?'),
      macsOf: db.prepare<[number], { mac: string }>('SELECT mac FROM node_macs WHERE node_id = ? ORDER BY position'),
      all: db.prepare<[], NodeRow>('SELECT * FROM nodes ORDER BY id'),
      allMacs: db.prepare<[], { node_id: number; mac: string }>('SELECT node_id, mac FROM node_macs ORDER BY node_id, position'),
      insert: db.prepare(
        'INSERT INTO nodes (name, state, inventory, created_at, updated_at, state_changed_at) VALUES (@name, @state, @inventory, @now, @now, @now)',
      ),
      insertMac: db.prepare('INSERT INTO node_macs (mac, node_id, position) VALUES (?, ?, ?)'),
      setState: db.prepare(
        'UPDATE nodes SET state = @to, problem_reason = @reason, allocated = COALESCE(@allocated, allocated), updated_at = @now, state_changed_at = @now WHERE id = @id AND state = @from',
      ),
      insertEvent: db.prepare(
        'INSERT INTO node_events (node_id, node_name, from_state, to_state, cause, at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      events: db.prepare<[number, number], NodeEvent>('SELECT * FROM node_events WHERE node_id = ? ORDER BY id DESC LIMIT ?'),
      eventsSince: db.prepare<[number, number], NodeEvent>('SELECT * FROM node_events WHERE id > ? ORDER BY id LIMIT ?'),
      del: db.prepare('DELETE FROM nodes WHERE id = ?'),
      rename: db.prepare('UPDATE nodes SET name = ?, updated_at = ? WHERE id = ?'),
      setInventory: db.prepare('UPDATE nodes SET inventory = ?, updated_at = ? WHERE id = ?'),
      setAllocated: db.prepare('UPDATE nodes SET allocated = ?, updated_at = ? WHERE id = ?'),
      setBmc: db.prepare('UPDATE nodes SET bmc_address = ?, bmc_user = ?, bmc_password_enc = COALESCE(?, bmc_password_enc), power_driver = ?, updated_at = ? WHERE id = ?'),
      bmcSecret: db.prepare<[number], { bmc_password_enc: string | null }>('SELECT bmc_password_enc FROM nodes WHERE id = ?'),
      inStates: db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE state IN (SELECT value FROM json_each(?))'),
      count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM nodes'),
    };
  }

  /** A row as a Node (MACs read when not given). */
  private hydrate(r: NodeRow, macs?: string[]): Node {
    return new StoredNode(r, macs ?? this.q.macsOf.all(r.id).map((m) => m.mac));
  }

  /** Whether a node named `name` exists (no row is read into a Node). */
  exists(name: string): boolean {
    return this.q.exists.get(name) !== undefined;
  }

  /** Node by id, or undefined. */
  get(id: number): Node | undefined {
    const r = this.q.byId.get(id);
    return r && this.hydrate(r);
  }

  /** Node by name, or undefined. */
  getByName(name: string): Node | undefined {
    const r = this.q.byName.get(name);
    return r && this.hydrate(r);
  }

  /** Node owning `mac` (canonical form), or undefined. */
  getByMac(mac: string): Node | undefined {
    const r = this.q.byMac.get(mac);
    return r && this.hydrate(r);
  }

  /** All nodes, by id. */
  list(): Node[] {
    const macs = new Map<number, string[]>();
    for (const m of this.q.allMacs.all()) {
      const l = macs.get(m.node_id);
      if (l) l.push(m.mac);
      else macs.set(m.node_id, [m.mac]);
    }
    return this.q.all.all().map((r) => this.hydrate(r, macs.get(r.id) ?? []));
  }

  /** Number of nodes. */
  count(): number {
    return this.q.count.get()!.n;
  }

  /** Nodes whose state is one of `states`. */
  listInStates(states: readonly NodeState[]): Node[] {
    return this.q.inStates.all(JSON.stringify(states)).map((r) => this.hydrate(r));
  }

  /**
   * Create a node with its MACs and its first event in one transaction.
   * A MAC or name already taken raises `conflict` (never merged).
   */
  create(n: NewNode, now: number): Node {
    return this.immediate(() => {
      if (this.q.byName.get(n.name)) throw new CrowbarError('conflict', `node name ${n.name} is taken`);
      for (const mac of n.macs) {
        const owner = this.q.byMac.get(mac);
        if (owner) throw new CrowbarError('conflict', `MAC ${mac} already belongs to node ${owner.name}`, { mac, node: owner.name });
      }
      const id = Number(this.q.insert.run({ name: n.name, state: n.state, inventory: JSON.stringify(n.inventory ?? {}), now }).lastInsertRowid);
      n.macs.forEach((mac, i) => this.q.insertMac.run(mac, id, i));
      this.q.insertEvent.run(id, n.name, null, n.state, n.cause, now);
      return this.get(id)!;
    });
  }

  /**
   * Move a node from `from` to `to` and log the event, atomically (with the
   * allocated flag when given). Fails with `conflict` when the node is no
   * longer in `from` (a concurrent change won).
   */
  transition(id: number, from: NodeState, to: NodeState, cause: string, reason: string | null, now: number, allocated?: boolean): Node {
    return this.immediate(() => {
      const r = this.q.setState.run({ id, from, to, reason, now, allocated: allocated === undefined ? null : allocated ? 1 : 0 });
      if (r.changes !== 1) {
        const cur = this.q.byId.get(id);
        if (!cur) throw new CrowbarError('not_found', `node ${id} not found`);
        throw new CrowbarError('conflict', `node ${cur.name} is in ${cur.state}, not ${from}`);
      }
      const row = this.q.byId.get(id)!;
      this.q.insertEvent.run(id, row.name, from, to, cause, now);
      return this.hydrate(row);
    });
  }

  /** Delete a node (its MACs go with it); the event log keeps its history. */
  remove(id: number, cause: string, now: number): void {
    this.immediate(() => {
      const row = this.q.byId.get(id);
      if (!row) return;
      this.q.insertEvent.run(id, row.name, row.state, 'delete', cause, now);
      this.q.del.run(id);
    });
  }

  /** Rename a node. */
  rename(id: number, name: string, now: number): void {
    if (this.q.byName.get(name)) throw new CrowbarError('conflict', `node name ${name} is taken`);
    this.q.rename.run(name, now, id);
  }

  /** Replace the inventory. */
  setInventory(id: number, inv: Inventory, now: number): void {
    this.q.setInventory.run(JSON.stringify(inv), now, id);
  }

  /** Set the allocated flag. */
  setAllocated(id: number, allocated: boolean, now: number): void {
    this.q.setAllocated.run(allocated ? 1 : 0, now, id);
  }

  /** Set BMC fields; `passwordEnc` (already encrypted) is kept when null. */
  setBmc(id: number, address: string | null, user: string | null, passwordEnc: string | null, driver: string, now: number): void {
    this.q.setBmc.run(address, user, passwordEnc, driver, now, id);
  }

  /** The encrypted BMC password of a node (for the power service only). */
  bmcPasswordEnc(id: number): string | null {
    return this.q.bmcSecret.get(id)?.bmc_password_enc ?? null;
  }

  /** Latest events of one node, newest first. */
  events(nodeId: number, limit = 100): NodeEvent[] {
    return this.q.events.all(nodeId, limit);
  }

  /** Events after `afterId`, oldest first (for streams). */
  eventsSince(afterId: number, limit = 1000): NodeEvent[] {
    return this.q.eventsSince.all(afterId, limit);
  }
}
