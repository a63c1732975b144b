/** Shared assertions for unit tests. */
import * as assert from "uvu/assert";
import { InputError } from "../../runner/errors.ts";

/** Asserts that `fn` throws an InputError with exactly `message`. */
export function fails(fn: () => unknown, message: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, InputError);
    assert.is((e as Error).message, message);
    return;
  }
  assert.unreachable(`expected InputError: ${message}`);
}
