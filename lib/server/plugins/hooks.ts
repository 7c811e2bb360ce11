// One vhost's hook registry: ordered observer handlers per hook name. Handlers cannot veto
// routing; a throwing handler is logged and skipped, the others still run.
import { HOOKS, type Hook, type HookHandlers, type Logger } from '../../contract.js'
import { XMPPD_ERR_HOOK_UNKNOWN } from '../../errors.js'

type Handlers = { [H in Hook]: Array<HookHandlers[H]> }

export class HookRegistry {
  // Arrays are replaced, never mutated, so a run in progress keeps its own snapshot.
  private handlers: Handlers = { user_send_packet: [], user_available: [], user_unavailable: [], offline_message: [] }

  constructor(private readonly log: Logger) {}

  on<H extends Hook>(hook: H, handler: HookHandlers[H]): () => void {
    if (!HOOKS.includes(hook)) throw new XMPPD_ERR_HOOK_UNKNOWN(String(hook))
    const list = this.handlers[hook] as Array<HookHandlers[H]>
    this.handlers[hook] = [...list, handler] as Handlers[H]
    let active = true
    return () => {
      if (!active) return
      active = false
      this.handlers[hook] = (this.handlers[hook] as Array<HookHandlers[H]>).filter((h) => h !== handler) as Handlers[H]
    }
  }

  has(hook: Hook): boolean {
    return this.handlers[hook].length > 0
  }

  run<H extends Hook>(hook: H, ...args: Parameters<HookHandlers[H]>): void {
    const list = this.handlers[hook] as Array<(...a: Parameters<HookHandlers[H]>) => void>
    for (let i = 0; i < list.length; i++) {
      try {
        list[i](...args)
      } catch (err) {
        this.log.warn({ err, hook }, 'hook handler failed')
      }
    }
  }
}
