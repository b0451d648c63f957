/**
 * Read access to the node event log for streams: the newest id and events
 * after an id (the ids are the SSE event ids used for Last-Event-ID replay).
 */
import type { Db } from './db.js';
import type { NodeEvent } from '../model/node.js';

/** Cursor queries over node_events. */
export class EventLog {
  private readonly qMax;
  private readonly qSince;
  private readonly qAll;

  constructor(db: Db) {
    this.qMax = db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM node_events');
    this.qSince = db.prepare<[number, number], NodeEvent>('SELECT * FROM node_events WHERE id > ? ORDER BY id LIMIT ?');
    this.qAll = db.prepare<[number], NodeEvent>('SELECT * FROM node_events WHERE node_id IN (SELECT id FROM nodes) OR ? = 1 ORDER BY node_id, id');
  }

  /** Id of the newest event (0 when none). */
  maxId(): number {
    return this.qMax.get()?.id ?? 0;
  }

  /** Events with id > `afterId`, oldest first. */
  since(afterId: number, limit = 1000): NodeEvent[] {
    return this.qSince.all(afterId, limit);
  }

  /** Every event of existing nodes (or of all, deleted included), by node then id. */
  all(includeDeleted = false): NodeEvent[] {
    return this.qAll.all(includeDeleted ? 1 : 0);
  }
}
