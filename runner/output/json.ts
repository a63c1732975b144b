/** `--json`: one JSON event per line on stdout, for scripts and CI. */
import type { EventSink } from "../events.ts";

export function jsonPrinter(write: (text: string) => void = (t) => process.stdout.write(t)): EventSink {
  return (e) => write(JSON.stringify(e) + "\n");
}
