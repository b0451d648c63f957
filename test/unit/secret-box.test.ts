import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSealed, SecretBox } from '../../src/lib/secret-box.js';
import { BmcSecretBox } from '../../src/services/power/credentials.js';
import { openDatabase } from '../../src/store/db.js';
import { WebhookRepo } from '../../src/store/webhooks.js';

const dir = mkdtempSync(join(tmpdir(), 'crowbar-secretbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SecretBox', () => {
  it('round-trips, binds the purpose, rejects another key and tampering', () => {
    const box = new SecretBox(randomBytes(32));
    const s = box.seal('crowbar-bmc:1', 'pässword');
    expect(isSealed(s)).toBe(true);
    expect(s).not.toContain('pässword');
    expect(box.open('crowbar-bmc:1', s)).toBe('pässword');
    expect(() => box.open('crowbar-bmc:2', s, 'BMC password')).toThrow(/BMC password does not decrypt/);
    expect(() => new SecretBox(randomBytes(32)).open('crowbar-bmc:1', s)).toThrow(/does not decrypt/);
    const raw = Buffer.from(s.slice(3), 'base64');
    raw[raw.length - 1] ^= 1;
    expect(() => box.open('crowbar-bmc:1', 'v1:' + raw.toString('base64'))).toThrow(/does not decrypt/);
    expect(() => box.open('x', 'plain')).toThrow(/unknown format/);
    expect(() => box.open('x', 'v1:AAAA')).toThrow(/truncated/);
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
    const bmc = new BmcSecretBox(box);
    expect(bmc.decrypt(7, bmc.encrypt(7, 'pw'))).toBe('pw');
    expect(() => bmc.decrypt(8, bmc.encrypt(7, 'pw'))).toThrow(/BMC password/);
  });

  it('stores webhook secrets sealed, opens them for the dispatcher only, and seals legacy plaintext rows on start', () => {
    const box = new SecretBox(randomBytes(32));
    const db = openDatabase(join(dir, 'w.db'));
    db.prepare("INSERT INTO webhooks (url, secret, events, description, created_by, created_at) VALUES ('http://127.0.0.1:9/a', 'legacy-plain', '[\"*\"]', '', 'admin', 1)").run();
    const repo = new WebhookRepo(db, box);
    const h = repo.create({ url: 'http://127.0.0.1:9/b', secret: 'whsec-123', events: ['node.*'], description: 'x', created_by: 'admin' }, 2);
    const rows = db.prepare<[], { id: number; secret: string }>('SELECT id, secret FROM webhooks ORDER BY id').all();
    expect(rows.every((r) => isSealed(r.secret) && !r.secret.includes('plain') && !r.secret.includes('whsec'))).toBe(true);
    expect(repo.withSecret(rows[0].id)?.secret).toBe('legacy-plain');
    expect(repo.withSecret(h.id)?.secret).toBe('whsec-123');
    expect(JSON.stringify(repo.list())).not.toContain('whsec');
    repo.update(h.id, { description: 'y' });
    expect(repo.active().map((x) => x.id)).toEqual([rows[0].id, h.id]);
    expect(JSON.stringify(repo.active())).not.toContain('whsec');
    // A sealed secret moved to another row does not open there.
    db.prepare('UPDATE webhooks SET secret = ? WHERE id = ?').run(rows[1].secret, rows[0].id);
    expect(() => repo.withSecret(rows[0].id)).toThrow(/webhook secret does not decrypt/);
    db.close();
  });
});
