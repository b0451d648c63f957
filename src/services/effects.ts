/**
 * The effect executor: performs the effects that the lifecycle table returns.
 * Handlers are registered per effect type by the composition root (power
 * service, DNS zone, allocations...). An effect without a handler is logged
 * as skipped, never reported as done. A failing handler marks the node with a
 * fault in its event log; it never fails the transition that was already
 * committed.
 */
import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import type { Effect } from '../state/lifecycle.js';
import type { Node } from '../model/node.js';

/** Performs one kind of effect for a node. */
export type EffectHandler = (node: Node, effect: Effect) => Promise<void> | void;

/** Result of running one effect. */
export interface EffectOutcome {
  effect: Effect;
  status: 'done' | 'skipped' | 'failed';
  error?: string;
}

/** Registry of effect handlers and the executor over it. */
export class EffectExecutor {
  private readonly handlers = new Map<Effect['type'], EffectHandler[]>();

  constructor(private readonly log: Logger) {}

  /** Register a handler for an effect type (several may be registered). */
  on(type: Effect['type'], handler: EffectHandler): void {
    const l = this.handlers.get(type) ?? [];
    l.push(handler);
    this.handlers.set(type, l);
  }

  /** Run effects in order; returns what happened to each. */
  async run(node: Node, effects: readonly Effect[]): Promise<EffectOutcome[]> {
    const out: EffectOutcome[] = [];
    for (const effect of effects) {
      const hs = this.handlers.get(effect.type);
      if (!hs || hs.length === 0) {
        if (effect.type !== 'notify') this.log.debug('effect has no handler', { node: node.name, effect: effect.type });
        out.push({ effect, status: 'skipped' });
        continue;
      }
      try {
        for (const h of hs) await h(node, effect);
        out.push({ effect, status: 'done' });
      } catch (e) {
        this.log.warn('effect failed', { node: node.name, effect: effect.type, error: errorMessage(e) });
        out.push({ effect, status: 'failed', error: errorMessage(e) });
      }
    }
    return out;
  }
}
