/**
 * Numbered schema migrations, applied in order at start-up. Never edit a
 * migration that has shipped: add a new one. Numbers are kept in one list so
 * the order is explicit.
 */

/** One migration step. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** All migrations, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core: nodes, macs, events, api tokens, settings',
    sql: `
      CREATE TABLE nodes (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        problem_reason TEXT,
        allocated INTEGER NOT NULL DEFAULT 0,
        inventory TEXT NOT NULL DEFAULT '{}',
        bmc_address TEXT,
        bmc_user TEXT,
        bmc_password_enc TEXT,
        power_driver TEXT NOT NULL DEFAULT 'manual',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        state_changed_at INTEGER NOT NULL
      );
      CREATE TABLE node_macs (
        mac TEXT PRIMARY KEY,
        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
        position INTEGER NOT NULL
      );
      CREATE INDEX node_macs_node ON node_macs(node_id);
      CREATE TABLE node_events (
        id INTEGER PRIMARY KEY,
        node_id INTEGER NOT NULL,
        node_name TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        cause TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX node_events_node ON node_events(node_id, id);
      CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      -- Persistent IP allocation per network and node (network barclamp).
      -- One address per (network, node); an address belongs to one node.
      CREATE TABLE allocations (
        network TEXT NOT NULL,
        address TEXT NOT NULL,
        address_int INTEGER NOT NULL,
        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (network, address),
        UNIQUE (network, node_id)
      );
      CREATE INDEX allocations_node ON allocations(node_id);
    `,
  },
  {
    version: 2,
    name: 'dhcp: leases',
    sql: `
      -- DHCP leases (src/store/dhcp-leases.ts). The primary key on the
      -- address means no address is ever held by two MACs; (pool, mac) is
      -- unique so a client holds one address per pool. mac is NULL for a
      -- declined (quarantined) address. Only these two B-trees are written
      -- per lease (each commit writes as few WAL pages as possible).
      CREATE TABLE dhcp_leases (
        address_int INTEGER PRIMARY KEY,
        address TEXT NOT NULL,
        pool TEXT NOT NULL,
        mac TEXT,
        state TEXT NOT NULL CHECK (state IN ('bound', 'released', 'declined')),
        expires_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        hostname TEXT,
        UNIQUE (pool, mac)
      );
      -- Generation counter of everything a DHCP reservation depends on (node
      -- MACs, node names, admin allocations): the DHCP policy caches
      -- reservations and re-reads them when this changes.
      CREATE TABLE dhcp_reservation_gen (id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL);
      INSERT INTO dhcp_reservation_gen (id, gen) VALUES (1, 0);
      CREATE TRIGGER dhcp_gen_macs_i AFTER INSERT ON node_macs BEGIN UPDATE dhcp_reservation_gen SET gen = gen + 1; END;
      CREATE TRIGGER dhcp_gen_macs_u AFTER UPDATE ON node_macs BEGIN UPDATE dhcp_reservation_gen SET gen = gen + 1; END;
      CREATE TRIGGER dhcp_gen_macs_d AFTER DELETE ON node_macs BEGIN UPDATE dhcp_reservation_gen SET gen = gen + 1; END;
      CREATE TRIGGER dhcp_gen_nodes_u AFTER UPDATE OF name ON nodes BEGIN UPDATE dhcp_reservation_gen SET gen = gen + 1; END;
      CREATE TRIGGER dhcp_gen_nodes_d AFTER DELETE ON nodes BEGIN UPDATE dhcp_reservation_gen SET gen = gen + 1; END;
      CREATE TRIGGER dhcp_gen_alloc_i AFTER INSERT ON allocations BEGIN UPDATE dhcp_reservation_gen SET gen = gen + 1; END;
      CREATE TRIGGER dhcp_gen_alloc_u AFTER UPDATE ON allocations BEGIN UPDATE dhcp_reservation_gen SET gen = gen + 1; END;
      CREATE TRIGGER dhcp_gen_alloc_d AFTER DELETE ON allocations BEGIN UPDATE dhcp_reservation_gen SET gen = gen + 1; END;
    `,
  },
];
