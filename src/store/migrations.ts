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
  {
    version: 3,
    name: 'ipmi: node power state and faults, power request log',
    sql: `
      -- Last known power state and the current fault of each node's BMC.
      CREATE TABLE node_power (
        node_id INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
        state TEXT NOT NULL DEFAULT 'unknown',
        checked_at INTEGER,
        fault_code TEXT,
        fault TEXT,
        fault_count INTEGER NOT NULL DEFAULT 0,
        fault_at INTEGER
      );
      -- Every power/boot request (who, what, through which driver, outcome).
      CREATE TABLE power_requests (
        id INTEGER PRIMARY KEY,
        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
        action TEXT NOT NULL,
        driver TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT,
        at INTEGER NOT NULL
      );
      CREATE INDEX power_requests_node ON power_requests(node_id, id);
    `,
  },
  {
    version: 4,
    name: 'barclamps: registry, proposals, audit',
    sql: `
      -- Known barclamps: shipped with the appliance (repo barclamps/) or
      -- installed at run time (files under <data_dir>/barclamps/<name>/).
      CREATE TABLE barclamps (
        name TEXT PRIMARY KEY,
        source TEXT NOT NULL CHECK (source IN ('shipped', 'installed')),
        status TEXT NOT NULL CHECK (status IN ('installed', 'uninstalled')),
        version TEXT NOT NULL,
        dir TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        tree_sha256 TEXT NOT NULL,
        manifest TEXT NOT NULL,
        installed_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      -- Proposals bc-<barclamp>-<name>: the edited document and the last applied one.
      CREATE TABLE proposals (
        id INTEGER PRIMARY KEY,
        barclamp TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('draft', 'queued', 'committing', 'applied', 'failed')),
        doc TEXT NOT NULL,
        applied_doc TEXT,
        schema_revision INTEGER NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1,
        status_reason TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        queued_at INTEGER,
        applied_at INTEGER,
        UNIQUE (barclamp, name)
      );
      CREATE INDEX proposals_status ON proposals(status);
      -- Audit trail of barclamp and proposal operations.
      CREATE TABLE barclamp_audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        barclamp TEXT NOT NULL,
        proposal TEXT,
        detail TEXT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'discovery: per-node agent tokens, per-node agent logs',
    sql: `
      -- One agent token per node, stored as a SHA-256 hash; re-registration replaces it.
      CREATE TABLE agent_tokens (
        node_id INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
        hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
      -- Log lines sent by a node's agent/installer, size-capped per node.
      CREATE TABLE node_logs (
        id INTEGER PRIMARY KEY,
        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        source TEXT NOT NULL,
        line TEXT NOT NULL
      );
      CREATE INDEX node_logs_node ON node_logs(node_id, id);
    `,
  },
  {
    version: 6,
    name: 'console: users, sessions, webhooks and their delivery log',
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'readonly')),
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_login_at INTEGER
      );
      -- Server-side sessions; the cookie holds a random id, only its SHA-256 is stored.
      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX sessions_user ON sessions(user_id);
      CREATE TABLE webhooks (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        events TEXT NOT NULL DEFAULT '["*"]',
        enabled INTEGER NOT NULL DEFAULT 1,
        description TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_type TEXT NOT NULL,
        event_id TEXT,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_status_code INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
      CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);
    `,
  },
  {
    version: 7,
    name: 'os media and per-node OS choice',
    sql: `
      CREATE TABLE os_media (
        name TEXT PRIMARY KEY,
        family TEXT NOT NULL CHECK (family IN ('debian', 'ubuntu', 'rhel')),
        version TEXT NOT NULL,
        arch TEXT NOT NULL,
        method TEXT NOT NULL CHECK (method IN ('installer', 'image')),
        dir TEXT NOT NULL,
        kernel TEXT,
        initrd TEXT,
        image TEXT,
        meta TEXT NOT NULL DEFAULT '{}',
        imported_at INTEGER NOT NULL
      );
      -- An operator's per-node choice; nodes without a row use the provisioner's default_os.
      CREATE TABLE node_os (
        node_id INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
        os TEXT NOT NULL,
        set_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: 'installer tokens',
    sql: `
      -- Short-lived per-node tokens in the installer's URLs (/install/<token>/...), stored as SHA-256.
      -- join_fetched_at: the one fetch of the node's long-lived credential this token allows.
      CREATE TABLE install_tokens (
        hash TEXT PRIMARY KEY,
        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        join_fetched_at INTEGER
      );
      CREATE INDEX install_tokens_node ON install_tokens(node_id);
    `,
  },
  {
    version: 9,
    name: 'allocations by address',
    sql: `
      -- The allocator's dense-range check (COUNT and MAX over a range) walks this index
      -- instead of every allocation of the network.
      CREATE INDEX allocations_int ON allocations(network, address_int);
    `,
  },
];
