/**
 * A small RMCP+ BMC for tests, written independently of src/ipmi (its own
 * packet parsing and node:crypto calls straight from the IPMI v2.0 spec
 * formulas) so it cross-checks the client. Supports cipher suites 3 and 17,
 * a few commands, and misbehaviour modes for the malicious-BMC tests.
 * Listens on 127.0.0.1 (loopback only).
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

/** How the fake BMC misbehaves. */
export type FakeMode =
  | 'ok'
  | 'silent'
  | 'truncated'
  | 'wrong-session-id'
  | 'bad-hmac'
  | 'huge-length'
  | 'bad-rakp2'
  | 'bad-rakp4'
  | 'random-garbage'
  | 'no-rmcpp'
  | 'mutate';

/** Options of the fake BMC. */
export interface FakeBmcOptions {
  user?: string;
  password?: string;
  mode?: FakeMode;
  /** Accepted cipher suites (default 3 and 17). */
  suites?: number[];
  power?: boolean;
}

/** A running fake BMC. */
export interface FakeBmc {
  host: string;
  port: number;
  power: boolean;
  boot: Buffer | null;
  commands: string[];
  mode: FakeMode;
  close(): Promise<void>;
}

const SUITES: Record<number, { auth: number; integ: number; conf: number; hash: 'sha1' | 'sha256'; icv: number; integLen: number }> = {
  3: { auth: 1, integ: 1, conf: 1, hash: 'sha1', icv: 12, integLen: 12 },
  17: { auth: 3, integ: 4, conf: 1, hash: 'sha256', icv: 16, integLen: 16 },
};

const mac = (h: string, k: Buffer, d: Buffer) => createHmac(h, k).update(d).digest();
const le32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const cks = (b: Buffer) => (0x100 - (b.reduce((a, x) => a + x, 0) & 0xff)) & 0xff;

interface Sess {
  consoleSid: number;
  bmcSid: number;
  suite: number;
  rm?: Buffer;
  rc?: Buffer;
  role?: number;
  user?: Buffer;
  sik?: Buffer;
  k1?: Buffer;
  k2?: Buffer;
  active: boolean;
}

/** Start a fake BMC on 127.0.0.1 (ephemeral port). */
export async function startFakeBmc(o: FakeBmcOptions = {}): Promise<FakeBmc> {
  const user = o.user ?? 'admin';
  const password = Buffer.from(o.password ?? 'fake-pass');
  const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const sessions = new Map<number, Sess>();
  const sock: Socket = createSocket('udp4');
  const state: FakeBmc = { host: '127.0.0.1', port: 0, power: o.power ?? false, boot: null, commands: [], mode: o.mode ?? 'ok', close: async () => {} };
  const allowed = o.suites ?? [3, 17];

  const wrap = (ptype: number, sid: number, payload: Buffer, s?: Sess): Buffer => {
    const rmcp = Buffer.from([6, 0, 0xff, 7]);
    const m = state.mode;
    if (!s || !s.active) {
      const h = Buffer.alloc(12);
      h[0] = 6;
      h[1] = ptype;
      h.writeUInt32LE(sid, 2);
      h.writeUInt16LE(m === 'huge-length' ? 0xffff : payload.length, 10);
      return Buffer.concat([rmcp, h, payload]);
    }
    const su = SUITES[s.suite];
    const iv = randomBytes(16);
    const pad = (16 - ((payload.length + 1) % 16)) % 16;
    const plain = Buffer.concat([payload, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1)), Buffer.from([pad])]);
    const c = createCipheriv('aes-128-cbc', s.k2!.subarray(0, 16), iv);
    c.setAutoPadding(false);
    const enc = Buffer.concat([iv, c.update(plain), c.final()]);
    const h = Buffer.alloc(12);
    h[0] = 6;
    h[1] = 0xc0 | ptype;
    h.writeUInt32LE(m === 'wrong-session-id' ? (sid ^ 0x5a5a) >>> 0 : sid, 2);
    h.writeUInt32LE(1, 6);
    h.writeUInt16LE(m === 'huge-length' ? 0xfff0 : enc.length, 10);
    const ipad = (4 - ((12 + enc.length + 2) % 4)) % 4;
    const covered = Buffer.concat([h, enc, Buffer.alloc(ipad, 0xff), Buffer.from([ipad, 7])]);
    let auth = mac(su.hash, s.k1!, covered).subarray(0, su.integLen);
    if (m === 'bad-hmac') auth = Buffer.from(auth.map((x) => x ^ 1));
    return Buffer.concat([rmcp, covered, auth]);
  };

  const ipmiReply = (req: Buffer, cc: number, data: Buffer): Buffer => {
    const r = Buffer.alloc(8 + data.length);
    r[0] = req[3];
    r[1] = (((req[1] >> 2) + 1) << 2) | (req[4] & 3);
    r[2] = cks(r.subarray(0, 2));
    r[3] = req[0];
    r[4] = req[4];
    r[5] = req[5];
    r[6] = cc;
    data.copy(r, 7);
    r[r.length - 1] = cks(r.subarray(3, r.length - 1));
    return r;
  };

  const command = (req: Buffer, s: Sess | null): Buffer => {
    const netFn = req[1] >> 2;
    const cmd = req[5];
    const data = req.subarray(6, req.length - 1);
    state.commands.push(`${netFn.toString(16)}/${cmd.toString(16)}`);
    if (netFn === 6 && cmd === 0x38) return ipmiReply(req, 0, Buffer.from([1, 0x80 | 0x14, 0x04, state.mode === 'no-rmcpp' ? 0x01 : 0x03, 0, 0, 0, 0]));
    if (!s) return ipmiReply(req, 0xd4, Buffer.alloc(0));
    if (netFn === 6 && cmd === 0x3b) return ipmiReply(req, 0, Buffer.from([data[0] & 0x0f]));
    if (netFn === 6 && cmd === 0x3c) {
      sessions.delete(s.consoleSid);
      return ipmiReply(req, 0, Buffer.alloc(0));
    }
    if (netFn === 6 && cmd === 0x01) return ipmiReply(req, 0, Buffer.from([0x20, 0x81, 0x02, 0x15, 0x02, 0xbf, 0x57, 0x01, 0x00, 0x34, 0x12]));
    if (netFn === 0 && cmd === 0x01) return ipmiReply(req, 0, Buffer.from([state.power ? 1 : 0, 0, 0x40, 0]));
    if (netFn === 0 && cmd === 0x02) {
      const a = data[0];
      if (a === 0 || a === 5) state.power = false;
      else if (a === 1 || a === 2 || a === 3) state.power = true;
      return ipmiReply(req, 0, Buffer.alloc(0));
    }
    if (netFn === 0 && cmd === 0x04) return ipmiReply(req, 0, Buffer.alloc(0));
    if (netFn === 0 && cmd === 0x08) {
      if ((data[0] & 0x7f) === 5) state.boot = Buffer.from(data.subarray(1));
      return ipmiReply(req, 0, Buffer.alloc(0));
    }
    if (netFn === 0 && cmd === 0x09) return ipmiReply(req, 0, Buffer.concat([Buffer.from([1, 5]), state.boot ?? Buffer.alloc(5)]));
    return ipmiReply(req, 0xc1, Buffer.alloc(0));
  };

  const handle = (m: Buffer): Buffer | null => {
    if (state.mode === 'silent') return null;
    if (state.mode === 'random-garbage') return randomBytes(1 + (m[0] % 60));
    if (m.length < 5 || m[0] !== 6 || m[3] !== 7) return null;
    const b = m.subarray(4);
    if (b[0] !== 6) {
      // IPMI 1.5, auth NONE: only Get Channel Auth Capabilities.
      const msg = b.subarray(10, 10 + b[9]);
      const rep = command(msg, null);
      const h = Buffer.alloc(10);
      h[9] = rep.length;
      return Buffer.concat([Buffer.from([6, 0, 0xff, 7]), h, rep]);
    }
    const ptype = b[1] & 0x3f;
    const sid = b.readUInt32LE(2);
    const len = b.readUInt16LE(10);
    const payload = b.subarray(12, 12 + len);
    if (ptype === 0x10) {
      const consoleSid = payload.readUInt32LE(4);
      const auth = payload[12];
      const suite = Object.entries(SUITES).find(([id, s]) => s.auth === auth && allowed.includes(Number(id)));
      const resp = Buffer.alloc(36);
      resp[0] = payload[0];
      resp.writeUInt32LE(consoleSid, 4);
      if (!suite || payload[20] !== suite[1].integ || payload[28] !== suite[1].conf) {
        resp[1] = 0x11;
        return wrap(0x11, 0, resp.subarray(0, 8));
      }
      const bmcSid = (randomBytes(4).readUInt32LE(0) | 1) >>> 0;
      sessions.set(consoleSid, { consoleSid, bmcSid, suite: Number(suite[0]), active: false });
      resp[2] = 4;
      resp.writeUInt32LE(bmcSid, 8);
      payload.copy(resp, 12, 8, 32);
      return wrap(0x11, 0, resp);
    }
    if (ptype === 0x12) {
      const bmcSid = payload.readUInt32LE(4);
      const s = [...sessions.values()].find((x) => x.bmcSid === bmcSid);
      if (!s) return null;
      const su = SUITES[s.suite];
      s.rm = Buffer.from(payload.subarray(8, 24));
      s.role = payload[24];
      s.user = Buffer.from(payload.subarray(28, 28 + payload[27]));
      s.rc = randomBytes(16);
      const head = Buffer.alloc(8);
      head[0] = payload[0];
      head.writeUInt32LE(s.consoleSid, 4);
      if (s.user.toString() !== user) {
        head[1] = 0x0d;
        return wrap(0x13, 0, head);
      }
      // RAKP2 auth code, spec §13.31: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm, UNAMEm)
      let code = mac(su.hash, password, Buffer.concat([le32(s.consoleSid), le32(s.bmcSid), s.rm, s.rc, guid, Buffer.from([s.role, s.user.length]), s.user]));
      if (state.mode === 'bad-rakp2') code = Buffer.from(code.map((x) => x ^ 0x80));
      if (state.mode === 'truncated') return wrap(0x13, 0, Buffer.concat([head, s.rc]).subarray(0, 20));
      return wrap(0x13, 0, Buffer.concat([head, s.rc, guid, code]));
    }
    if (ptype === 0x14) {
      const bmcSid = payload.readUInt32LE(4);
      const s = [...sessions.values()].find((x) => x.bmcSid === bmcSid);
      if (!s || !s.rc) return null;
      const su = SUITES[s.suite];
      const head = Buffer.alloc(8);
      head[0] = payload[0];
      head.writeUInt32LE(s.consoleSid, 4);
      if (payload[1] !== 0) {
        sessions.delete(s.consoleSid);
        return null;
      }
      const expect = mac(su.hash, password, Buffer.concat([s.rc, le32(s.consoleSid), Buffer.from([s.role!, s.user!.length]), s.user!]));
      if (!expect.equals(payload.subarray(8))) {
        head[1] = 0x0f;
        return wrap(0x15, 0, head);
      }
      s.sik = mac(su.hash, password, Buffer.concat([s.rm!, s.rc, Buffer.from([s.role!, s.user!.length]), s.user!]));
      s.k1 = mac(su.hash, s.sik, Buffer.alloc(20, 1));
      s.k2 = mac(su.hash, s.sik, Buffer.alloc(20, 2));
      let icv = mac(su.hash, s.sik, Buffer.concat([s.rm!, le32(s.bmcSid), guid])).subarray(0, su.icv);
      if (state.mode === 'bad-rakp4') icv = Buffer.alloc(su.icv, 0xab);
      s.active = true;
      return wrap(0x15, 0, Buffer.concat([head, icv]));
    }
    if (ptype === 0x00 && (b[1] & 0xc0) === 0xc0) {
      const s = [...sessions.values()].find((x) => x.bmcSid === sid && x.active);
      if (!s) return null;
      const su = SUITES[s.suite];
      const end = b.length - su.integLen;
      if (!mac(su.hash, s.k1!, b.subarray(0, end)).subarray(0, su.integLen).equals(b.subarray(end))) return null;
      const d = createDecipheriv('aes-128-cbc', s.k2!.subarray(0, 16), payload.subarray(0, 16));
      d.setAutoPadding(false);
      const plain = Buffer.concat([d.update(payload.subarray(16)), d.final()]);
      const req = plain.subarray(0, plain.length - 1 - plain[plain.length - 1]);
      const rep = command(req, s);
      if (state.mode === 'truncated') return Buffer.from([6, 0, 0xff, 7, 6, 0xc0, 1, 2]);
      return wrap(0x00, s.consoleSid, rep, s);
    }
    return null;
  };

  sock.on('message', (m, r) => {
    let out: Buffer | null = null;
    try {
      out = handle(m);
    } catch {
      out = null;
    }
    if (out && state.mode === 'mutate') {
      // Flip one random byte, or cut the datagram short (mutation fuzzing).
      out = Buffer.from(out);
      const i = Math.floor(Math.random() * out.length);
      if (Math.random() < 0.2) out = out.subarray(0, i);
      else out[i] ^= 1 + Math.floor(Math.random() * 255);
    }
    if (out) sock.send(out, r.port, r.address);
  });
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  state.port = sock.address().port;
  state.close = () => new Promise<void>((res) => sock.close(() => res()));
  return state;
}
