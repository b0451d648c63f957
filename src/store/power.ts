/**
 * Power state repository (migration 3): the last known power state and the
 * current BMC fault of each node, and the log of power/boot requests.
 */
import type { Db } from './db.js';

/** Power information of one node. */
export interface NodePower {
  node_id: number;
  state: 'on' | 'off' | 'unknown';
  checked_at: number | null;
  fault_code: string | null;
  fault: string | null;
  fault_count: number;
  fault_at: number | null;
}

/** One logged power or boot-device request. */
export interface PowerRequest {
  id: number;
  node_id: number;
  action: string;
  driver: string;
  requested_by: string;
  /** 'done' | 'failed' | 'recorded' (manual driver) | 'timeout'. */
  outcome: string;
  detail: string | null;
  at: number;
}

/** Data access for node power state and the request log. */
export class PowerRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      get: db.prepare<[number], NodePower>('SELECT * FROM node_power WHERE node_id = ?'),
      state: db.prepare(
        `INSERT INTO node_power (node_id, state, checked_at, fault_code, fault, fault_count, fault_at) VALUES (@id, @state, @now, NULL, NULL, 0, NULL)
         ON CONFLICT(node_id) DO UPDATE SET state = @state, checked_at = @now, fault_code = NULL, fault = NULL, fault_count = 0, fault_at = NULL`,
      ),
      fault: db.prepare(
        `INSERT INTO node_power (node_id, state, fault_code, fault, fault_count, fault_at) VALUES (@id, 'unknown', @code, @msg, 1, @now)
         ON CONFLICT(node_id) DO UPDATE SET fault_code = @code, fault = @msg, fault_count = fault_count + 1, fault_at = @now`,
      ),
      faulted: db.prepare<[], NodePower>('SELECT * FROM node_power WHERE fault IS NOT NULL ORDER BY fault_at'),
      log: db.prepare('INSERT INTO power_requests (node_id, action, driver, requested_by, outcome, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      requests: db.prepare<[number, number], PowerRequest>('SELECT * FROM power_requests WHERE node_id = ? ORDER BY id DESC LIMIT ?'),
    };
  }

  /** Power information of a node (defaults when never checked). */
  get(nodeId: number): NodePower {
    return this.q.get.get(nodeId) ?? { node_id: nodeId, state: 'unknown', checked_at: null, fault_code: null, fault: null, fault_count: 0, fault_at: null };
  }

  /** Record a successfully read (or reached) state; clears any fault. */
  setState(nodeId: number, state: NodePower['state'], now: number): void {
    this.q.state.run({ id: nodeId, state, now });
  }

  /** Record a BMC fault (the state stays as last known). */
  setFault(nodeId: number, code: string, message: string, now: number): void {
    this.q.fault.run({ id: nodeId, code, msg: message.slice(0, 1000), now });
  }

  /** Nodes with a fault, oldest fault first. */
  faulted(): NodePower[] {
    return this.q.faulted.all();
  }

  /** Append to the request log. */
  logRequest(nodeId: number, action: string, driver: string, by: string, outcome: string, detail: string | null, now: number): void {
    this.q.log.run(nodeId, action, driver, by, outcome, detail ? detail.slice(0, 1000) : null, now);
  }

  /** Latest requests of a node, newest first. */
  requests(nodeId: number, limit = 50): PowerRequest[] {
    return this.q.requests.all(nodeId, limit);
  }
}
