/**
 * The read-only view the DNS zone provider needs: a cheap change marker for
 * the whole database, and the node names. The marker combines this
 * connection's `total_changes()` with `PRAGMA data_version` (bumped by
 * commits from other connections, e.g. the CLI or a second process), so any
 * committed change to nodes or allocations, by any writer, changes it.
 */
import type { Db } from './db.js';

/** A node's id and name. */
export interface NodeName {
  id: number;
  name: string;
}

/** Change marker and name listing over the store. */
export class DnsView {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      total: db.prepare<[], number>('SELECT total_changes()').pluck(),
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
      names: db.prepare<[], NodeName>('SELECT id, name FROM nodes ORDER BY id'),
    };
  }

  /** A value that differs after any committed write to the database. */
  marker(): string {
    return `${this.q.total.get()}:${this.q.dataVersion.get()}`;
  }

  /** All node ids and names. */
  names(): NodeName[] {
    return this.q.names.all();
  }
}
