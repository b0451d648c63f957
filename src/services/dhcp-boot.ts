/**
 * Boot-file choice for PXE, UEFI HTTP boot and iPXE clients (the contract in
 * BRIEF "Node boot URL"): iPXE (user class "iPXE" or option 175) -> the
 * per-node HTTP script `${public_url}/boot/node/<mac-with-dashes>.ipxe`,
 * which the discovery service renders by the node's state (boot group);
 * UEFI HTTP boot (vendor class HTTPClient) -> `${public_url}/boot/files/ipxe.efi`;
 * PXE ROMs by architecture (option 93, RFC 4578 §2.1): BIOS (0) ->
 * TFTP `undionly.kpxe`, UEFI x64 (7, 9) -> TFTP `snponly.efi` or `ipxe.efi`.
 * Anything else gets no boot information (the address is still served).
 */
import type { ClientBootInfo } from '../protocols/dhcp/pxe.js';

/** Boot settings. */
export interface BootSettings {
  /** Base URL nodes reach the appliance at (no trailing slash). */
  publicUrl: string;
  /** TFTP server (next-server) address. */
  tftpServer: string;
  /** Loader for UEFI x64 PXE ROMs. */
  efiLoader: 'snponly.efi' | 'ipxe.efi';
}

/** What to put in the reply. */
export interface BootChoice {
  /** BOOTP `file` and option 67. */
  file: string;
  /** Next server (siaddr) and option 66 / sname. */
  nextServer: string;
  /** Option 60 to echo (PXE 2.1 §2.2.1; UEFI HTTP boot needs "HTTPClient"), or null. */
  vendorClass: 'PXEClient' | 'HTTPClient' | null;
  /** Why (for logs). */
  reason: string;
}

/** RFC 4578 §2.1 / IANA processor architecture types used here. */
export const Arch = { BIOS: 0, EFI_IA32: 6, EFI_BC: 7, EFI_X64: 9, EFI_X64_HTTP: 16 } as const;

/** The per-node iPXE script URL for `mac` (aa:bb:.. form). */
export function nodeScriptUrl(publicUrl: string, mac: string): string {
  return `${publicUrl}/boot/node/${mac.replace(/:/g, '-')}.ipxe`;
}

/** Choose the boot file, or null when the client is not a network-boot client we serve. */
export function chooseBoot(info: ClientBootInfo, mac: string, s: BootSettings): BootChoice | null {
  if (info.ipxe) return { file: nodeScriptUrl(s.publicUrl, mac), nextServer: s.tftpServer, vendorClass: info.bootClass, reason: 'ipxe' };
  if (info.bootClass === 'HTTPClient' || info.arches.includes(Arch.EFI_X64_HTTP))
    return { file: `${s.publicUrl}/boot/files/ipxe.efi`, nextServer: s.tftpServer, vendorClass: 'HTTPClient', reason: 'uefi-http' };
  if (info.bootClass !== 'PXEClient') return null;
  // A ROM may list several architectures (RFC 4578 §2.1); take the first we can boot.
  const arches = info.arches.length ? info.arches : [Arch.BIOS];
  for (const a of arches) {
    if (a === Arch.BIOS) return { file: 'undionly.kpxe', nextServer: s.tftpServer, vendorClass: 'PXEClient', reason: 'bios' };
    if (a === Arch.EFI_BC || a === Arch.EFI_X64) return { file: s.efiLoader, nextServer: s.tftpServer, vendorClass: 'PXEClient', reason: 'uefi-x64' };
  }
  return null;
}
