/**
 * The `manual` power driver: for machines without a usable BMC. It cannot
 * act; the power service records each request (power_requests) so an
 * operator can do it by hand, and reports the power state as `unknown`.
 */
import type { PowerDriver } from './types.js';

/** Create the manual driver. */
export function manualDriver(): PowerDriver {
  return {
    name: 'manual',
    description: 'no BMC control: requests are recorded for an operator; power state is unknown',
    canControl: false,
    needsBmc: false,
    settings: [],
    async connect() {
      return {
        status: async () => 'unknown',
        control: async () => {},
        identify: async () => {},
        setBootDevice: async () => {},
        close: async () => {},
      };
    },
  };
}
