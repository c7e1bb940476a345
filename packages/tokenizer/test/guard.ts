/**
 * A guard for code that might never return: `finishes(fn)` runs `fn` under a `node:vm`
 * timeout, which interrupts even a synchronous endless loop (vitest's testTimeout cannot: it
 * needs the event loop). A hang becomes the error "Script execution timed out".
 */
import vm from "node:vm";

export function finishes<T>(fn: () => T, ms = 20_000): T {
  return vm.runInNewContext("fn()", { fn }, { timeout: ms }) as T;
}
