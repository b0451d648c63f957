/**
 * The RMCP+ (IPMI v2.0 "lanplus") session engine: Get Channel Authentication
 * Capabilities (§22.13), Open Session (§13.17), RAKP 1-4 (§13.20-13.23) with
 * the RAKP2 auth code and RAKP4 ICV verified, SIK/K1/K2 derivation (§13.31,
 * §13.32), Set Session Privilege Level (§22.18), authenticated + encrypted
 * requests with session sequence numbers (§13.6), retransmission with bounded
 * retries, and Close Session (§22.19).
 *
 * Any datagram that fails to decode or verify is ignored (and remembered):
 * a BMC that only sends garbage yields `bmc.protocol` once the retries are
 * spent, a silent one `bmc.unreachable`, wrong credentials `bmc.auth`.
 * Nothing a BMC sends can throw out of the socket handler.
 */
import { randomBytes } from 'node:crypto';
import { CrowbarError, errorMessage, isCrowbarError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { AUTH_STATUS_CODES, Cmd, completionText, NetFn, PayloadType, Privilege, rmcpStatusText } from './constants.js';
import {
  additionalKey,
  aesDecrypt,
  aesEncrypt,
  CIPHER_SUITES,
  integrityAuthCode,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  safeEqual,
  sessionIntegrityKey,
  userKey,
  type CipherSuite,
  type RakpValues,
} from './crypto.js';
import { decodeResponse, encodeRequest, type IpmiResponse } from './message.js';
import { decodeOpenSessionResponse, decodeRakp2, decodeRakp4, encodeOpenSessionRequest, encodeRakp1, encodeRakp3 } from './rakp.js';
import { decodeSession, encodeV15, encodeV20, type SessionPacket } from './session.js';
import type { UdpSocket, UdpSocketFactory } from './transport.js';

/** A BMC and the credentials to log in with. */
export interface IpmiTarget {
  host: string;
  /** UDP port (623, the RMCP port, unless given). */
  port?: number;
  user: string;
  password: string;
  /** Cipher suite: 3 (SHA1/AES, default) or 17 (SHA256/AES). */
  cipherSuite?: 3 | 17;
  /** BMC key KG (two-key login), hex; the password is used when absent (§13.31). */
  kgHex?: string;
  /** Session privilege to request; Administrator unless given. */
  privilege?: number;
}

/** Transport and retry settings. */
export interface IpmiClientOptions {
  sockets: UdpSocketFactory;
  /** Wait for each reply this long before retransmitting (default 1000 ms). */
  timeoutMs?: number;
  /** Retransmissions after the first attempt (default 3). */
  retries?: number;
  log?: Logger;
  /** Random source (tests pin it); crypto.randomBytes by default. */
  random?: (n: number) => Buffer;
}

/** Thrown by an `accept` function: the packet is bad and is ignored, with a reason. */
class Garbage extends Error {}
/** Thrown by an `accept` function: a definitive answer that ends the exchange with `err`. */
class Definitive extends Error {
  constructor(readonly err: CrowbarError) {
    super(err.message);
  }
}

interface Waiter {
  accept: (p: SessionPacket) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

function statusError(stage: string, status: number): CrowbarError {
  const code = AUTH_STATUS_CODES.has(status) ? 'bmc.auth' : 'bmc.protocol';
  return new CrowbarError(code, `${stage}: BMC answered ${rmcpStatusText(status)}`, { status });
}

/** An established RMCP+ session with one BMC. Requests are serialized. */
export class IpmiSession {
  private readonly port: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly random: (n: number) => Buffer;
  private readonly suite: CipherSuite;
  private waiter: Waiter | null = null;
  private garbage: string | null = null;
  private garbageLogged = 0;
  private authCodeLen = 0;
  private consoleSid = 0;
  private bmcSid = 0;
  private k1: Buffer = Buffer.alloc(0);
  private k2: Buffer = Buffer.alloc(0);
  private outSeq = 0;
  private rqSeq = 0;
  private tag = 0;
  private closed = false;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly target: IpmiTarget,
    private readonly sock: UdpSocket,
    opts: IpmiClientOptions,
  ) {
    this.port = target.port ?? 623;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.retries = opts.retries ?? 3;
    this.random = opts.random ?? randomBytes;
    const s = CIPHER_SUITES[target.cipherSuite ?? 3];
    if (!s) throw new CrowbarError('bad_request', `unsupported cipher suite ${String(target.cipherSuite)} (supported: 3, 17)`);
    this.suite = s;
    this.log = opts.log;
    sock.onMessage((buf, from) => this.onDatagram(buf, from.address, from.port));
  }

  private readonly log: Logger | undefined;

  /** Open a session: capabilities, open session, RAKP 1-4, privilege level. */
  static async open(target: IpmiTarget, opts: IpmiClientOptions): Promise<IpmiSession> {
    const user = Buffer.from(target.user, 'utf8');
    if (user.length > 16) throw new CrowbarError('bad_request', 'IPMI user names are at most 16 bytes');
    userKey(target.password); // validates the length before anything is sent
    const sock = await opts.sockets();
    let s: IpmiSession | undefined;
    try {
      s = new IpmiSession(target, sock, opts);
      await s.handshake();
      return s;
    } catch (e) {
      if (s?.bmcSid) await s.close().catch(() => {});
      sock.close();
      throw e;
    }
  }

  /** The managed system (BMC) session ID; 0 before activation. */
  get bmcSessionId(): number {
    return this.bmcSid;
  }

  /** The cipher suite in use. */
  get cipherSuite(): number {
    return this.suite.id;
  }

  private onDatagram(buf: Buffer, address: string, port: number): void {
    const w = this.waiter;
    if (!w) return;
    // Only the BMC's own address and port are listened to.
    if (address !== this.target.host || port !== this.port) return;
    try {
      const pkt = decodeSession(buf, this.authCodeLen);
      const v = w.accept(pkt);
      if (v === undefined) return;
      this.waiter = null;
      w.resolve(v);
    } catch (e) {
      if (e instanceof Definitive) {
        this.waiter = null;
        w.reject(e.err);
        return;
      }
      this.garbage = errorMessage(e);
      // Bounded per session: a BMC flooding garbage must not flood the log.
      if (++this.garbageLogged <= 5) this.log?.debug('ignored datagram from BMC', { bmc: this.target.host, reason: this.garbage });
    }
  }

  /**
   * Send (and resend on timeout) until `accept` returns a value. Each attempt
   * calls `build` again so retransmissions carry fresh sequence numbers.
   */
  private exchange<T>(what: string, build: () => Buffer, accept: (p: SessionPacket) => T | undefined, attempts = this.retries + 1): Promise<T> {
    if (this.closed) return Promise.reject(new CrowbarError('bmc.protocol', `${what}: session is closed`));
    this.garbage = null;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let n = 0;
      const finish = () => {
        if (timer) clearTimeout(timer);
      };
      this.waiter = {
        accept: accept as (p: SessionPacket) => unknown,
        resolve: (v) => {
          finish();
          resolve(v as T);
        },
        reject: (e) => {
          finish();
          reject(e);
        },
      };
      const attempt = () => {
        if (this.waiter === null) return;
        if (n >= attempts) {
          this.waiter = null;
          const where = `${this.target.host}:${this.port}`;
          reject(
            this.garbage
              ? new CrowbarError('bmc.protocol', `${what}: no valid answer from BMC ${where} (last bad datagram: ${this.garbage})`, { bmc: where })
              : new CrowbarError('bmc.unreachable', `${what}: no answer from BMC ${where} after ${attempts} attempts`, { bmc: where }),
          );
          return;
        }
        n++;
        let pkt: Buffer;
        try {
          pkt = build();
        } catch (e) {
          this.waiter = null;
          reject(e);
          return;
        }
        this.sock.send(pkt, this.port, this.target.host).catch(() => {
          /* a lost datagram; the timer retransmits */
        });
        timer = setTimeout(attempt, this.timeoutMs);
      };
      attempt();
    });
  }

  private nextTag(): number {
    this.tag = (this.tag + 1) & 0xff;
    return this.tag;
  }

  private async handshake(): Promise<void> {
    const t = this.target;
    const priv = t.privilege ?? Privilege.administrator;
    // 1. Get Channel Authentication Capabilities over IPMI v1.5 (§22.13): channel Eh
    //    (this one) with bit 7 set to ask for the IPMI v2.0 extended data.
    const caps = await this.exchange(
      'Get Channel Authentication Capabilities',
      () => encodeV15(0, 0, encodeRequest({ netFn: NetFn.app, cmd: Cmd.getChannelAuthCapabilities, rqSeq: this.nextRqSeq(), data: Buffer.from([0x8e, priv]) })),
      (p) => {
        if (p.format !== 'v15') throw new Garbage('expected an IPMI v1.5 answer');
        const r = decodeResponse(p.payload);
        return r.cmd === Cmd.getChannelAuthCapabilities && r.netFn === NetFn.app + 1 && r.rqSeq === this.rqSeq ? r : undefined;
      },
    );
    if (caps.cc !== 0) throw new CrowbarError('bmc.protocol', `Get Channel Authentication Capabilities failed: ${completionText(caps.cc)}`);
    // §22.13 table 22-15: byte 3 bit 7 = extended capabilities present; byte 5 bit 1 = IPMI v2.0 connections.
    if (caps.data.length < 8 || (caps.data[1] & 0x80) === 0 || (caps.data[3] & 0x02) === 0)
      throw new CrowbarError('bmc.protocol', `BMC ${t.host} does not offer IPMI v2.0 (RMCP+) sessions`);

    // 2. Open Session (§13.17): propose exactly the suite's three algorithms.
    this.consoleSid = this.random(4).readUInt32LE(0) || 1;
    const openTag = this.nextTag();
    const open = await this.exchange(
      'RMCP+ Open Session',
      () =>
        encodeV20({
          payloadType: PayloadType.openSessionRequest,
          sessionId: 0,
          seq: 0,
          encrypted: false,
          payload: encodeOpenSessionRequest({ tag: openTag, privilege: 0, consoleSid: this.consoleSid, suite: this.suite }),
        }),
      (p) => {
        if (p.format !== 'v20' || p.payloadType !== PayloadType.openSessionResponse) return undefined;
        const r = decodeOpenSessionResponse(p.payload);
        if (r.tag !== openTag) return undefined;
        if (r.status !== 0) throw new Definitive(statusError('RMCP+ Open Session', r.status));
        if (r.consoleSid !== this.consoleSid) throw new Garbage(`Open Session Response for console session 0x${r.consoleSid.toString(16)}`);
        if (r.bmcSid === 0) throw new Garbage('Open Session Response with managed system session ID 0');
        if (r.authAlg !== this.suite.authAlg || r.integrityAlg !== this.suite.integrityAlg || r.confAlg !== this.suite.confAlg)
          throw new Definitive(new CrowbarError('bmc.protocol', `BMC chose other algorithms than cipher suite ${this.suite.id}`));
        return r;
      },
    );
    this.bmcSid = open.bmcSid;

    // 3. RAKP 1/2 (§13.20, §13.21): role = name-only lookup (bit 4) + privilege.
    const user = Buffer.from(t.user, 'utf8');
    const kuid = userKey(t.password);
    const v: RakpValues = {
      consoleSid: this.consoleSid,
      bmcSid: this.bmcSid,
      consoleRandom: this.random(16),
      bmcRandom: Buffer.alloc(16),
      bmcGuid: Buffer.alloc(16),
      role: 0x10 | (priv & 0x0f),
      user,
    };
    const tag1 = this.nextTag();
    const r2 = await this.exchange(
      'RAKP Message 1',
      () =>
        encodeV20({
          payloadType: PayloadType.rakp1,
          sessionId: 0,
          seq: 0,
          encrypted: false,
          payload: encodeRakp1({ tag: tag1, bmcSid: this.bmcSid, consoleRandom: v.consoleRandom, role: v.role, user }),
        }),
      (p) => {
        if (p.format !== 'v20' || p.payloadType !== PayloadType.rakp2) return undefined;
        const r = decodeRakp2(p.payload, this.suite.rakpLen);
        if (r.tag !== tag1) return undefined;
        if (r.status !== 0) throw new Definitive(statusError('RAKP Message 2', r.status));
        if (r.consoleSid !== this.consoleSid) throw new Garbage(`RAKP Message 2 for console session 0x${r.consoleSid.toString(16)}`);
        return r;
      },
    );
    v.bmcRandom = r2.bmcRandom;
    v.bmcGuid = r2.bmcGuid;
    // §13.31: the BMC proves it knows the password; a mismatch means our password is wrong.
    if (!safeEqual(rakp2AuthCode(this.suite, kuid, v), r2.authCode)) {
      const tag3 = this.nextTag();
      // Tell the BMC (RAKP3 with status 0Fh) so it frees the session; no answer awaited.
      this.sock
        .send(
          encodeV20({ payloadType: PayloadType.rakp3, sessionId: 0, seq: 0, encrypted: false, payload: encodeRakp3({ tag: tag3, status: 0x0f, bmcSid: this.bmcSid, authCode: Buffer.alloc(0) }) }),
          this.port,
          t.host,
        )
        .catch(() => {});
      this.bmcSid = 0;
      throw new CrowbarError('bmc.auth', `BMC ${t.host} refused the login for user ${JSON.stringify(t.user)} (RAKP2 auth code mismatch: wrong password)`);
    }

    // 4. RAKP 3/4 (§13.22, §13.23), keys (§13.31, §13.32).
    const kg = t.kgHex ? Buffer.from(t.kgHex, 'hex') : kuid;
    const sik = sessionIntegrityKey(this.suite, kg, v);
    const tag3 = this.nextTag();
    const r3 = encodeRakp3({ tag: tag3, status: 0, bmcSid: this.bmcSid, authCode: rakp3AuthCode(this.suite, kuid, v) });
    await this.exchange(
      'RAKP Message 3',
      () => encodeV20({ payloadType: PayloadType.rakp3, sessionId: 0, seq: 0, encrypted: false, payload: r3 }),
      (p) => {
        if (p.format !== 'v20' || p.payloadType !== PayloadType.rakp4) return undefined;
        const r = decodeRakp4(p.payload, this.suite.icvLen);
        if (r.tag !== tag3) return undefined;
        if (r.status !== 0) throw new Definitive(statusError('RAKP Message 4', r.status));
        if (r.consoleSid !== this.consoleSid) throw new Garbage(`RAKP Message 4 for console session 0x${r.consoleSid.toString(16)}`);
        if (!safeEqual(rakp4Icv(this.suite, sik, v), r.icv)) throw new Garbage('RAKP Message 4 integrity check value mismatch');
        return r;
      },
    );
    this.k1 = additionalKey(this.suite, sik, 1);
    this.k2 = additionalKey(this.suite, sik, 2);
    this.authCodeLen = this.suite.authCodeLen;

    // 5. Sessions start at User privilege (§13.14); raise it, or chassis control is refused.
    const pr = await this.requestNow(NetFn.app, Cmd.setSessionPrivilegeLevel, Buffer.from([priv]));
    if (pr.cc !== 0)
      throw new CrowbarError(pr.cc === 0x81 || pr.cc === 0x82 || pr.cc === 0x83 || pr.cc === 0xd4 ? 'bmc.auth' : 'bmc.protocol', `Set Session Privilege Level failed: ${completionText(pr.cc)}`);
  }

  private nextRqSeq(): number {
    this.rqSeq = (this.rqSeq + 1) & 0x3f;
    return this.rqSeq;
  }

  private nextOutSeq(): number {
    // §13.6: session sequence numbers start at 1 and skip 0 on wrap.
    this.outSeq = (this.outSeq + 1) >>> 0 || 1;
    return this.outSeq;
  }

  /** Unwrap an IPMI payload received in this session; anything wrong is Garbage. */
  private unwrap(p: SessionPacket): Buffer | undefined {
    if (p.format !== 'v20') throw new Garbage('IPMI v1.5 packet inside an RMCP+ session');
    if (p.payloadType !== PayloadType.ipmi) return undefined;
    if (p.sessionId !== this.consoleSid) throw new Garbage(`packet for session 0x${p.sessionId.toString(16)}, ours is 0x${this.consoleSid.toString(16)}`);
    if (!p.authenticated || !p.integrity) throw new Garbage('unauthenticated packet inside an authenticated session');
    if (!safeEqual(integrityAuthCode(this.suite, this.k1, p.integrity.covered), p.integrity.authCode)) throw new Garbage('session packet AuthCode mismatch');
    if (!p.encrypted) throw new Garbage('unencrypted packet inside an encrypted session');
    return aesDecrypt(this.k2, p.payload);
  }

  private requestNow(netFn: number, cmd: number, data: Buffer, attempts?: number): Promise<IpmiResponse> {
    const rq = this.nextRqSeq();
    const msg = encodeRequest({ netFn, cmd, rqSeq: rq, data });
    return this.exchange(
      `IPMI command netFn 0x${netFn.toString(16)} cmd 0x${cmd.toString(16)}`,
      () =>
        encodeV20({
          payloadType: PayloadType.ipmi,
          sessionId: this.bmcSid,
          seq: this.nextOutSeq(),
          encrypted: true,
          payload: aesEncrypt(this.k2, this.random(16), msg),
          authCode: (covered) => integrityAuthCode(this.suite, this.k1, covered),
        }),
      (p) => {
        const plain = this.unwrap(p);
        if (!plain) return undefined;
        const r = decodeResponse(plain);
        return r.rqSeq === rq && r.cmd === cmd && r.netFn === netFn + 1 ? r : undefined;
      },
      attempts,
    );
  }

  /** Send one command in the session; returns the response with its completion code. */
  request(netFn: number, cmd: number, data: Buffer = Buffer.alloc(0)): Promise<IpmiResponse> {
    const run = this.chain.then(() => this.requestNow(netFn, cmd, data));
    this.chain = run.catch(() => {});
    return run;
  }

  /** Send one command; a non-zero completion code throws bmc.protocol (bmc.auth for privilege errors). */
  async call(netFn: number, cmd: number, data: Buffer = Buffer.alloc(0), what = `command 0x${cmd.toString(16)}`): Promise<Buffer> {
    const r = await this.request(netFn, cmd, data);
    if (r.cc !== 0) throw new CrowbarError(r.cc === 0xd4 ? 'bmc.auth' : 'bmc.protocol', `${what} failed: ${completionText(r.cc)}`, { cc: r.cc });
    return r.data;
  }

  /** Close Session (§22.19), one attempt; the socket is released whatever happens. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.authCodeLen && this.bmcSid) {
        const id = Buffer.alloc(4);
        id.writeUInt32LE(this.bmcSid);
        await this.chain;
        await this.requestNow(NetFn.app, Cmd.closeSession, id, 1).catch((e) => {
          if (!isCrowbarError(e)) throw e;
        });
      }
    } finally {
      this.closed = true;
      this.waiter = null;
      this.sock.close();
    }
  }
}

/** Open a session, run `fn`, and always close the session. */
export async function withSession<T>(target: IpmiTarget, opts: IpmiClientOptions, fn: (s: IpmiSession) => Promise<T>): Promise<T> {
  const s = await IpmiSession.open(target, opts);
  try {
    return await fn(s);
  } finally {
    await s.close().catch(() => {});
  }
}
