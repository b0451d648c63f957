/**
 * Per-node logs sent by agents and installers (discovery, migration 5). Each
 * node keeps at most `capBytes` of log text: appending trims the oldest lines.
 */
import { preparedCache, type Db, type Prepare } from './db.js';

/** One stored log line. */
export interface NodeLogLine {
  id: number;
  at: number;
  source: string;
  line: string;
}

/** Data access for node logs. */
export class NodeLogRepo {
  private readonly sql: Prepare;

  constructor(
    private readonly db: Db,
    /** Maximum bytes of log text kept per node. */
    private readonly capBytes: number,
  ) {
    this.sql = preparedCache(db);
  }

  /** Append lines for a node, then trim the node's log to the cap. Returns lines stored. */
  append(nodeId: number, source: string, lines: readonly string[], now: number): number {
    if (lines.length === 0) return 0;
    return this.db.transaction(() => {
      const ins = this.sql('INSERT INTO node_logs (node_id, at, source, line) VALUES (?, ?, ?, ?)');
      for (const l of lines) ins.run(nodeId, now, source, l);
      const total = this.sql<[number], { n: number | null }>('SELECT SUM(LENGTH(CAST(line AS BLOB))) AS n FROM node_logs WHERE node_id = ?').get(nodeId)?.n ?? 0;
      if (total > this.capBytes) {
        // Oldest first: find the id below which everything goes.
        let excess = total - this.capBytes;
        let cut = 0;
        const rows = this.sql<[number], { id: number; len: number }>('SELECT id, LENGTH(CAST(line AS BLOB)) AS len FROM node_logs WHERE node_id = ? ORDER BY id').iterate(nodeId);
        for (const r of rows) {
          if (excess <= 0) break;
          excess -= r.len;
          cut = r.id;
        }
        this.sql('DELETE FROM node_logs WHERE node_id = ? AND id <= ?').run(nodeId, cut);
      }
      return lines.length;
    }).immediate();
  }

  /** The latest `limit` lines of a node, oldest first. */
  tail(nodeId: number, limit = 1000): NodeLogLine[] {
    return this.sql<[number, number], NodeLogLine>('SELECT id, at, source, line FROM (SELECT * FROM node_logs WHERE node_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id')
      .all(nodeId, limit);
  }

  /** Bytes of log text stored for a node. */
  size(nodeId: number): number {
    return this.sql<[number], { n: number | null }>('SELECT SUM(LENGTH(CAST(line AS BLOB))) AS n FROM node_logs WHERE node_id = ?').get(nodeId)?.n ?? 0;
  }
}
