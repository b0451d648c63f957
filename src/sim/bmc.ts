/**
 * A simulated BMC: an RMCP+ (IPMI v2.0 lanplus) *server* built on the codecs
 * of src/ipmi. It answers Get Channel Authentication Capabilities, opens
 * sessions with cipher suites 3 and 17 (RAKP-HMAC-SHA1/SHA256, HMAC
 * integrity, AES-CBC-128), and serves the commands Crowbar and ipmitool use:
 * device id, chassis status/control/identify, boot options, LAN
 * configuration and user management. Chassis control changes the power
 * state and is reported to the machine it belongs to; a LAN address change is
 * reported so the endpoint moves to it. Pure engine: datagram in, datagram
 * out; the socket lives in bmc-endpoint.ts.
 */
import { CrowbarError, errorMessage } from '../lib/errors.js';
import { aesDecrypt, aesEncrypt, integrityAuthCode, rakp2AuthCode, rakp3AuthCode, rakp4Icv, safeEqual, sessionIntegrityKey, additionalKey, userKey, type CipherSuite, type RakpValues } from '../ipmi/crypto.js';
import { Cmd, NetFn, PayloadType, Privilege } from '../ipmi/constants.js';
import { decodeSession, encodeV15, encodeV20 } from '../ipmi/session.js';
import { decodeOpenSessionRequest, decodeRakp1, decodeRakp3, decodeRequest, encodeOpenSessionResponse, encodeRakp2, encodeRakp4, encodeReply, suiteOf, type DecodedRequest } from '../ipmi/bmc-codecs.js';
import { encodeRequest, type IpmiRequest } from '../ipmi/message.js';
import type { IpmiCaller } from '../ipmi/commands.js';
import { CHASSIS_CONTROL, LanParam, type ChassisAction } from '../ipmi/commands.js';

/** One BMC user slot. */
export interface BmcUser {
  name: string;
  password: string;
  enabled: boolean;
  privilege: number;
}

/** What the BMC tells its machine. */
export interface BmcEvents {
  /** A chassis control command was accepted. */
  chassis(action: ChassisAction): void;
  /** The LAN address was set (parameter 3); the endpoint should move there. */
  addressChanged(ip: string): void;
}

/** Construction options of a simulated BMC. */
export interface SimBmcOptions {
  /** 16-byte system GUID. */
  guid: Buffer;
  /** 6-byte BMC MAC address. */
  mac: Buffer;
  /** Initial address (what `lan print` shows). */
  ip: string;
  /** Factory users (slot -> user); slot 1 is the anonymous user. */
  users: Record<number, BmcUser>;
  /** Initial power state. */
  powerOn: boolean;
  /** Random bytes source (crypto.randomBytes in production). */
  random: (n: number) => Buffer;
  /** Milliseconds clock, for session idle timeouts. */
  now: () => number;
  events: BmcEvents;
  /** Most sessions kept at once (oldest dropped). */
  maxSessions?: number;
}

interface Session {
  bmcSid: number;
  consoleSid: number;
  suite: CipherSuite;
  requestedPrivilege: number;
  values?: RakpValues;
  user?: BmcUser;
  k1?: Buffer;
  k2?: Buffer;
  active: boolean;
  privilege: number;
  seq: number;
  lastUsed: number;
  /** Replies kept for retransmitted RAKP1/RAKP3 (the console resends when a reply is late or lost). */
  rakp2?: { rm: Buffer; reply: Buffer };
  rakp4?: { code: Buffer; reply: Buffer };
}

const IDLE_MS = 60_000;
/** Get Channel Info (§22.24), which ipmitool's `lan print` asks first. */
const GET_CHANNEL_INFO = 0x42;
const LAN_CHANNEL = 1;

/** Counters of a simulated BMC (for tests and the simulator's summary). */
export interface BmcCounters {
  sessions: number;
  authFailures: number;
  commands: number;
  malformed: number;
}

/** The engine of one simulated BMC. */
export class SimBmc {
  /** Current chassis power. */
  powerOn: boolean;
  /** LAN configuration (parameters 3, 4, 6, 12 of table 23-4). */
  readonly lan: { ip: string; source: number; netmask: string; gateway: string; vlan: number | null };
  /** User slots 1..15. */
  readonly users = new Map<number, BmcUser>();
  /** Boot flags parameter data (5 bytes). */
  bootFlags: Buffer = Buffer.alloc(5);
  /** Identify requests seen. */
  identifies = 0;
  /** Counters. */
  readonly counters: BmcCounters = { sessions: 0, authFailures: 0, commands: 0, malformed: 0 };
  private readonly sessions = new Map<number, Session>();

  constructor(private readonly o: SimBmcOptions) {
    this.powerOn = o.powerOn;
    this.lan = { ip: o.ip, source: 2, netmask: '255.255.255.0', gateway: '0.0.0.0', vlan: null };
    for (const [id, u] of Object.entries(o.users)) this.users.set(Number(id), { ...u });
  }

  /** Handle one datagram from the LAN; returns the reply or null (dropped, as a BMC does). */
  handle(datagram: Buffer): Buffer | null {
    try {
      return this.dispatch(datagram);
    } catch {
      this.counters.malformed++;
      return null;
    }
  }

  /** An in-band caller (the KCS interface the machine's own agent uses), going through the same command table. */
  inBand(): IpmiCaller {
    let seq = 0;
    return {
      call: async (netFn, cmd, data = Buffer.alloc(0), what = 'IPMI command') => {
        const req: IpmiRequest = { netFn, cmd, rqSeq: seq++ & 0x3f, data };
        const d = decodeRequest(encodeRequest(req));
        const r = this.command(d, Privilege.administrator, null);
        const cc = r[6];
        if (cc !== 0) throw new CrowbarError('bmc.protocol', `${what}: completion code 0x${cc.toString(16)}`);
        return Buffer.from(r.subarray(7, r.length - 1));
      },
    };
  }

  private dispatch(datagram: Buffer): Buffer | null {
    const active = [...this.sessions.values()].find((s) => s.active && datagram.length > 9 && datagram.readUInt32LE(6) === s.bmcSid);
    const p = decodeSession(datagram, active ? active.suite.authCodeLen : 0);
    if (p.format === 'v15') {
      // Pre-session: only Get Channel Authentication Capabilities (§22.13).
      const req = decodeRequest(p.payload);
      if (req.netFn !== NetFn.app || req.cmd !== Cmd.getChannelAuthCapabilities) return encodeV15(0, 0, encodeReply(req, 0xd4));
      return encodeV15(0, 0, encodeReply(req, 0, this.authCapabilities()));
    }
    switch (p.payloadType) {
      case PayloadType.openSessionRequest:
        return this.openSession(p.payload);
      case PayloadType.rakp1:
        return this.rakp1(p.payload);
      case PayloadType.rakp3:
        return this.rakp3(p.payload);
      case PayloadType.ipmi: {
        const s = active && p.sessionId === active.bmcSid ? active : null;
        if (!s || !p.authenticated || !p.encrypted || !p.integrity) return null;
        if (!safeEqual(integrityAuthCode(s.suite, s.k1!, p.integrity.covered), p.integrity.authCode)) {
          this.counters.malformed++;
          return null;
        }
        s.lastUsed = this.o.now();
        const req = decodeRequest(aesDecrypt(s.k2!, p.payload));
        const reply = this.command(req, s.privilege, s);
        return encodeV20({
          payloadType: PayloadType.ipmi,
          sessionId: s.consoleSid,
          seq: ++s.seq,
          payload: aesEncrypt(s.k2!, this.o.random(16), reply),
          encrypted: true,
          authCode: (c) => integrityAuthCode(s.suite, s.k1!, c),
        });
      }
      default:
        return null;
    }
  }

  private authCapabilities(): Buffer {
    // §22.13 table 22-15: channel, IPMI v2.0 extended + auth types, non-null users, v2.0 supported, no OEM.
    return Buffer.from([LAN_CHANNEL, 0x80 | 0x14, 0x04, 0x02, 0, 0, 0, 0]);
  }

  private plain(type: number, payload: Buffer): Buffer {
    return encodeV20({ payloadType: type, sessionId: 0, seq: 0, payload, encrypted: false });
  }

  private openSession(payload: Buffer): Buffer {
    const r = decodeOpenSessionRequest(payload);
    const suite = suiteOf(r);
    const base = { tag: r.tag, consoleSid: r.consoleSid, bmcSid: 0, privilege: 0, authAlg: r.authAlg, integrityAlg: r.integrityAlg, confAlg: r.confAlg };
    if (!suite) return this.plain(PayloadType.openSessionResponse, encodeOpenSessionResponse({ ...base, status: 0x11 }));
    this.expire();
    let bmcSid = 0;
    while (bmcSid === 0 || this.sessions.has(bmcSid)) bmcSid = this.o.random(4).readUInt32LE(0);
    const privilege = r.privilege === 0 ? Privilege.administrator : r.privilege;
    this.sessions.set(bmcSid, { bmcSid, consoleSid: r.consoleSid, suite, requestedPrivilege: privilege, active: false, privilege: Privilege.user, seq: 0, lastUsed: this.o.now() });
    return this.plain(PayloadType.openSessionResponse, encodeOpenSessionResponse({ ...base, status: 0, bmcSid, privilege }));
  }

  private rakp1(payload: Buffer): Buffer | null {
    const r = decodeRakp1(payload);
    const s = this.sessions.get(r.bmcSid);
    if (!s) return null;
    if (s.rakp2 && s.rakp2.rm.equals(r.consoleRandom)) return s.rakp2.reply;
    if (s.active) return null;
    const fail = (status: number) => {
      this.counters.authFailures++;
      this.sessions.delete(s.bmcSid);
      return this.plain(PayloadType.rakp2, encodeRakp2({ tag: r.tag, status, consoleSid: s.consoleSid, bmcRandom: Buffer.alloc(0), bmcGuid: Buffer.alloc(0), authCode: Buffer.alloc(0) }));
    };
    const name = r.user.toString('utf8');
    const user = [...this.users.values()].find((u) => u.enabled && u.name === name);
    if (!user) return fail(0x0d);
    const want = r.role & 0x0f;
    if (want > user.privilege) return fail(0x09);
    const values: RakpValues = { consoleSid: s.consoleSid, bmcSid: s.bmcSid, consoleRandom: r.consoleRandom, bmcRandom: this.o.random(16), bmcGuid: this.o.guid, role: r.role, user: r.user };
    s.values = values;
    s.user = user;
    s.privilege = want === 0 ? user.privilege : want;
    const authCode = rakp2AuthCode(s.suite, userKey(user.password), values);
    const reply = this.plain(PayloadType.rakp2, encodeRakp2({ tag: r.tag, status: 0, consoleSid: s.consoleSid, bmcRandom: values.bmcRandom, bmcGuid: values.bmcGuid, authCode }));
    s.rakp2 = { rm: r.consoleRandom, reply };
    return reply;
  }

  private rakp3(payload: Buffer): Buffer | null {
    const r = decodeRakp3(payload);
    const s = this.sessions.get(r.bmcSid);
    if (!s || !s.values || !s.user) return null;
    if (s.rakp4 && s.rakp4.code.equals(r.authCode)) return s.rakp4.reply;
    if (s.active) return null;
    if (r.status !== 0) {
      // The console refused our RAKP2 (its password differs from ours).
      this.counters.authFailures++;
      this.sessions.delete(s.bmcSid);
      return null;
    }
    const kuid = userKey(s.user.password);
    if (!safeEqual(rakp3AuthCode(s.suite, kuid, s.values), r.authCode)) {
      this.counters.authFailures++;
      this.sessions.delete(s.bmcSid);
      return this.plain(PayloadType.rakp4, encodeRakp4({ tag: r.tag, status: 0x0f, consoleSid: s.consoleSid, icv: Buffer.alloc(0) }));
    }
    const sik = sessionIntegrityKey(s.suite, kuid, s.values);
    s.k1 = additionalKey(s.suite, sik, 1);
    s.k2 = additionalKey(s.suite, sik, 2);
    s.active = true;
    this.counters.sessions++;
    const reply = this.plain(PayloadType.rakp4, encodeRakp4({ tag: r.tag, status: 0, consoleSid: s.consoleSid, icv: rakp4Icv(s.suite, sik, s.values) }));
    s.rakp4 = { code: r.authCode, reply };
    return reply;
  }

  private expire(): void {
    const now = this.o.now();
    for (const [id, s] of this.sessions) if (now - s.lastUsed > IDLE_MS) this.sessions.delete(id);
    const max = this.o.maxSessions ?? 16;
    while (this.sessions.size >= max) this.sessions.delete(this.sessions.keys().next().value!);
  }

  /** Execute one command at `privilege`; returns the encoded response message. */
  private command(req: DecodedRequest, privilege: number, s: Session | null): Buffer {
    this.counters.commands++;
    const ok = (data: number[] | Buffer = []) => encodeReply(req, 0, Buffer.from(data));
    const cc = (code: number) => encodeReply(req, code);
    const needs = (p: number) => privilege >= p;
    const d = req.data;
    const key = `${req.netFn}:${req.cmd}`;
    switch (key) {
      case `${NetFn.app}:${Cmd.getChannelAuthCapabilities}`:
        return ok(this.authCapabilities());
      case `${NetFn.app}:${GET_CHANNEL_INFO}`:
        // §22.24: channel 1 is an 802.3 LAN (medium 04h), IPMB-1.0 protocol, multi-session; IPMI IANA 7154.
        if ((d[0] & 0x0f) !== LAN_CHANNEL && (d[0] & 0x0f) !== 0x0e) return cc(0xcc);
        return ok([LAN_CHANNEL, 0x04, 0x01, 0x80 | Math.min(this.sessions.size, 0x3f), 0xf2, 0x1b, 0x00, 0x00, 0x00]);
      case `${NetFn.app}:${Cmd.getDeviceId}`:
        // Device 20h rev 1, firmware 2.15, IPMI 2.0, manufacturer 0x0157 (Intel), product 0x1234.
        return ok([0x20, 0x81, 0x02, 0x15, 0x02, 0xbf, 0x57, 0x01, 0x00, 0x34, 0x12]);
      case `${NetFn.app}:${Cmd.setSessionPrivilegeLevel}`: {
        if (!s) return cc(0xd5);
        const want = d.length ? d[0] & 0x0f : 0;
        if (want === 0) return ok([s.privilege]);
        const max = Math.min(s.user!.privilege, (s.values!.role & 0x0f) || s.user!.privilege);
        if (want > max) return cc(0x81);
        s.privilege = want;
        return ok([want]);
      }
      case `${NetFn.app}:${Cmd.closeSession}`:
        if (s) this.sessions.delete(s.bmcSid);
        return ok();
      case `${NetFn.chassis}:${Cmd.getChassisStatus}`:
        return ok([this.powerOn ? 0x01 : 0x00, 0x00, 0x40, 0x00]);
      case `${NetFn.chassis}:${Cmd.chassisControl}`: {
        if (!needs(Privilege.operator)) return cc(0xd4);
        const action = (Object.entries(CHASSIS_CONTROL).find(([, v]) => v === (d[0] & 0x0f))?.[0] ?? null) as ChassisAction | null;
        if (!action || action === 'diag') return cc(0xcc);
        // A cycle is off first; the machine turns the power back on after its off time.
        if (action === 'off' || action === 'soft' || action === 'cycle') this.powerOn = false;
        else this.powerOn = true;
        this.o.events.chassis(action);
        return ok();
      }
      case `${NetFn.chassis}:${Cmd.chassisIdentify}`:
        if (!needs(Privilege.operator)) return cc(0xd4);
        this.identifies++;
        return ok();
      case `${NetFn.chassis}:${Cmd.setSystemBootOptions}`:
        if (!needs(Privilege.operator)) return cc(0xd4);
        if (d.length < 1) return cc(0xc7);
        if ((d[0] & 0x7f) === 5) {
          if (d.length < 6) return cc(0xc7);
          this.bootFlags = Buffer.from(d.subarray(1, 6));
        }
        return ok();
      case `${NetFn.chassis}:${Cmd.getSystemBootOptions}`:
        if (d.length < 1 || (d[0] & 0x7f) !== 5) return cc(0x80);
        return ok(Buffer.concat([Buffer.from([0x01, 0x05]), this.bootFlags]));
      case `${NetFn.transport}:${Cmd.getLanConfig}`:
        return this.getLan(req);
      case `${NetFn.transport}:${Cmd.setLanConfig}`:
        if (!needs(Privilege.administrator)) return cc(0xd4);
        return this.setLan(req);
      case `${NetFn.app}:${Cmd.setUserName}`: {
        if (!needs(Privilege.administrator)) return cc(0xd4);
        if (d.length < 17) return cc(0xc7);
        const id = d[0] & 0x3f;
        if (id < 2 || id > 15) return cc(0xcc);
        const z = d.subarray(1, 17).indexOf(0);
        this.slot(id).name = d.subarray(1, z < 0 ? 17 : 1 + z).toString('utf8');
        return ok();
      }
      case `${NetFn.app}:${Cmd.getUserName}`: {
        const id = d[0] & 0x3f;
        const u = this.users.get(id);
        if (!u) return cc(0xcc);
        const b = Buffer.alloc(16);
        b.write(u.name);
        return ok(b);
      }
      case `${NetFn.app}:${Cmd.setUserPassword}`: {
        if (!needs(Privilege.administrator)) return cc(0xd4);
        if (d.length < 2) return cc(0xc7);
        const id = d[0] & 0x3f;
        if (id < 1 || id > 15) return cc(0xcc);
        const op = d[1] & 0x03;
        const u = this.slot(id);
        if (op === 0) u.enabled = false;
        else if (op === 1) u.enabled = true;
        else {
          const len = (d[0] & 0x80) !== 0 ? 20 : 16;
          if (d.length < 2 + len) return cc(0xc7);
          const pw = d.subarray(2, 2 + len);
          const z = pw.indexOf(0);
          const text = pw.subarray(0, z < 0 ? len : z).toString('utf8');
          if (op === 2) u.password = text;
          else if (text !== u.password) return cc(0x80);
        }
        return ok();
      }
      case `${NetFn.app}:${Cmd.setUserAccess}`: {
        if (!needs(Privilege.administrator)) return cc(0xd4);
        if (d.length < 3) return cc(0xc7);
        const id = d[1] & 0x3f;
        if (id < 1 || id > 15) return cc(0xcc);
        this.slot(id).privilege = d[2] & 0x0f;
        return ok();
      }
      case `${NetFn.app}:${Cmd.getUserAccess}`: {
        const id = (d[1] ?? 0) & 0x3f;
        const u = this.users.get(id);
        const enabled = [...this.users.values()].filter((x) => x.enabled).length;
        return ok([15, enabled, 0, u ? 0x30 | (u.privilege & 0x0f) : 0x0f]);
      }
      default:
        return cc(0xc1);
    }
  }

  private slot(id: number): BmcUser {
    let u = this.users.get(id);
    if (!u) {
      u = { name: '', password: '', enabled: false, privilege: Privilege.noAccess };
      this.users.set(id, u);
    }
    return u;
  }

  private getLan(req: DecodedRequest): Buffer {
    const d = req.data;
    if (d.length < 4) return encodeReply(req, 0xc7);
    const param = d[1];
    const rev = 0x11;
    const ip = (s: string) => s.split('.').map(Number);
    const r = (data: number[]) => encodeReply(req, 0, Buffer.from([rev, ...data]));
    switch (param) {
      case LanParam.ipAddress:
        return r(ip(this.lan.ip));
      case LanParam.ipSource:
        return r([this.lan.source]);
      case LanParam.macAddress:
        return r([...this.o.mac]);
      case LanParam.subnetMask:
        return r(ip(this.lan.netmask));
      case LanParam.defaultGateway:
        return r(ip(this.lan.gateway));
      case LanParam.vlanId:
        return r(this.lan.vlan === null ? [0, 0] : [this.lan.vlan & 0xff, 0x80 | ((this.lan.vlan >> 8) & 0x0f)]);
      default:
        return encodeReply(req, 0x80);
    }
  }

  private setLan(req: DecodedRequest): Buffer {
    const d = req.data;
    if (d.length < 3) return encodeReply(req, 0xc7);
    const param = d[1];
    const v = d.subarray(2);
    const ip = (b: Buffer) => (b.length >= 4 ? [...b.subarray(0, 4)].join('.') : null);
    try {
      switch (param) {
        case LanParam.ipAddress: {
          const a = ip(v);
          if (!a) return encodeReply(req, 0xc7);
          this.lan.ip = a;
          this.o.events.addressChanged(a);
          break;
        }
        case LanParam.ipSource:
          this.lan.source = v[0] & 0x0f;
          break;
        case LanParam.subnetMask:
          this.lan.netmask = ip(v) ?? this.lan.netmask;
          break;
        case LanParam.defaultGateway:
          this.lan.gateway = ip(v) ?? this.lan.gateway;
          break;
        case LanParam.vlanId:
          this.lan.vlan = v.length >= 2 && (v[1] & 0x80) !== 0 ? v[0] | ((v[1] & 0x0f) << 8) : null;
          break;
        default:
          return encodeReply(req, 0x80);
      }
    } catch (e) {
      throw new CrowbarError('bmc.protocol', errorMessage(e));
    }
    return encodeReply(req, 0);
  }
}
