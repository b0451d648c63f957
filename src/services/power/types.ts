/**
 * Power driver contract: a driver turns desired power operations into calls
 * on one BMC. Drivers declare their settings (secrets marked) so the API and
 * the docs can list them; the power service owns policy (pacing, polling,
 * retries, faults).
 */
import type { BootDevice } from '../../ipmi/commands.js';

/** Observed power state; `unknown` when the driver cannot read it. */
export type PowerState = 'on' | 'off' | 'unknown';

/** Power actions that change the chassis state. */
export type ControlAction = 'on' | 'off' | 'cycle' | 'reset' | 'soft';

/** Power actions the API accepts. */
export const POWER_API_ACTIONS = ['on', 'off', 'cycle', 'reset', 'soft', 'status', 'identify'] as const;
/** A power API action. */
export type PowerApiAction = (typeof POWER_API_ACTIONS)[number];

/** A boot device request. */
export interface BootRequest {
  device: Extract<BootDevice, 'pxe' | 'disk' | 'bios'>;
  persistent: boolean;
  efi: boolean;
}

/** One declared setting of a driver. */
export interface DriverSetting {
  name: string;
  description: string;
  /** Secret settings are write-only: never returned by the API or logged. */
  secret: boolean;
  /** Where the value comes from: the node's BMC record or the appliance config. */
  source: 'node' | 'config';
}

/** The BMC of one node, with its decrypted password (kept in memory only). */
export interface BmcTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** An open connection to one BMC (one session for the whole operation). */
export interface PowerConnection {
  status(): Promise<PowerState>;
  control(action: ControlAction): Promise<void>;
  identify(seconds: number): Promise<void>;
  setBootDevice(b: BootRequest): Promise<void>;
  close(): Promise<void>;
}

/** A power driver. */
export interface PowerDriver {
  readonly name: string;
  readonly description: string;
  readonly settings: readonly DriverSetting[];
  /** False for drivers that act by recording (manual): the service reports state `unknown`. */
  readonly canControl: boolean;
  /** Whether the driver needs a BMC address and credentials. */
  readonly needsBmc: boolean;
  connect(t: BmcTarget): Promise<PowerConnection>;
}
