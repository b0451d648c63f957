/**
 * What a PXE / iPXE / UEFI HTTP boot client says about itself (RFC 4578,
 * PXE 2.1, iPXE's option 175 and user class). Pure decoding: which file to
 * boot is decided by the policy.
 */
import { Opt } from './constants.js';
import type { DhcpOptions } from './options.js';

/** Boot-relevant facts read from a client request. */
export interface ClientBootInfo {
  /** Vendor class identifier (option 60) as text, or null. */
  vendorClass: string | null;
  /** "PXEClient" or "HTTPClient" when option 60 starts with it (PXE 2.1 §2.2.1, UEFI 2.x §24.7). */
  bootClass: 'PXEClient' | 'HTTPClient' | null;
  /** Client system architectures (option 93, RFC 4578 §2.1: a list of 16-bit types). */
  arches: number[];
  /** Network interface type and version (option 94, RFC 4578 §2.2): [type, major, minor]. */
  ndi: [number, number, number] | null;
  /** Machine UUID (option 97, RFC 4578 §2.3) as 32 hex digits (type byte 0 stripped), or null. */
  uuid: string | null;
  /** User classes (option 77): RFC 3004 list, or iPXE's bare string as one entry. */
  userClasses: string[];
  /** True when the client is iPXE (user class "iPXE" or iPXE's option 175 present). */
  ipxe: boolean;
  /** The raw option 97 value to echo in proxyDHCP replies. */
  uuidRaw: Buffer | null;
}

/** Parse option 77: RFC 3004 §2 length-prefixed list, else the bare value (iPXE, many ROMs). */
export function parseUserClass(v: Buffer | undefined): string[] {
  if (!v || v.length === 0) return [];
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    const n = v[i];
    if (n === 0 || i + 1 + n > v.length) return [v.toString('latin1')];
    out.push(v.subarray(i + 1, i + 1 + n).toString('latin1'));
    i += 1 + n;
  }
  return out;
}

/** Read boot facts from request options. */
export function clientBootInfo(o: DhcpOptions): ClientBootInfo {
  const vc = o.get(Opt.VENDOR_CLASS);
  const vendorClass = vc ? vc.toString('latin1') : null;
  const bootClass = vendorClass?.startsWith('PXEClient') ? 'PXEClient' : vendorClass?.startsWith('HTTPClient') ? 'HTTPClient' : null;
  const arches: number[] = [];
  const a = o.get(Opt.CLIENT_ARCH);
  if (a) for (let i = 0; i + 1 < a.length; i += 2) arches.push(a.readUInt16BE(i));
  // Older ROMs only put the architecture in option 60 ("PXEClient:Arch:00007:...").
  if (arches.length === 0 && vendorClass) {
    const m = /:Arch:(\d{5})/.exec(vendorClass);
    if (m) arches.push(Number(m[1]));
  }
  const n = o.get(Opt.CLIENT_NDI);
  const ndi: [number, number, number] | null = n && n.length === 3 ? [n[0], n[1], n[2]] : null;
  const u = o.get(Opt.CLIENT_UUID);
  const uuid = u && u.length === 17 && u[0] === 0 ? u.subarray(1).toString('hex') : null;
  const userClasses = parseUserClass(o.get(Opt.USER_CLASS));
  const ipxe = userClasses.includes('iPXE') || o.has(Opt.IPXE_ENCAP);
  return { vendorClass, bootClass, arches, ndi, uuid, userClasses, ipxe, uuidRaw: u ?? null };
}

/**
 * PXE vendor options (option 43) telling a PXE ROM to boot the file in the
 * offer without boot-server discovery: PXE_DISCOVERY_CONTROL (sub-option 6)
 * = 8 (PXE 2.1 §2.4.2.6 Table 2-1), then the end sub-option.
 */
export const PXE_VENDOR_OPTIONS: Buffer = Buffer.from([6, 1, 8, 255]);
