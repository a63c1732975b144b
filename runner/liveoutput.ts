/**
 * A command's output as it arrives, cut into events for followers: whole
 * lines only (a secret is never cut in two before the redactor sees it), at
 * most every 200 ms: the first line at once, the next ones on the 200 ms
 * tick after it. The task runner and ad-hoc commands both stream this way.
 */
export type OutputStream = "stdout" | "stderr";

export function liveOutput(emit: (stream: OutputStream, text: string) => void) {
  const pending = { stdout: "", stderr: "" };
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  const send = (stream: OutputStream, all: boolean) => {
    const buf = pending[stream];
    const cut = all ? buf.length : buf.lastIndexOf("\n") + 1;
    if (cut === 0) return;
    pending[stream] = buf.slice(cut);
    last = Date.now();
    emit(stream, buf.slice(0, cut));
  };
  const flushLines = () => {
    timer = undefined;
    send("stdout", false);
    send("stderr", false);
  };
  const on = (stream: OutputStream) => (chunk: Buffer) => {
    pending[stream] += chunk.toString("utf8");
    // Much output at once goes out in whole lines; a runaway line without
    // a newline still shows, in 64 KiB pieces.
    if (pending[stream].length > 65536) send(stream, !pending[stream].includes("\n"));
    if (timer) return;
    // A line after a quiet spell goes out at once (a follower sees it as
    // it is printed); lines that follow within 200 ms wait for the next tick.
    const wait = last + 200 - Date.now();
    if (wait <= 0) flushLines();
    else timer = setTimeout(flushLines, wait);
  };
  return {
    handlers: { onStdout: on("stdout"), onStderr: on("stderr") },
    /** Sends what is left (the command has ended). */
    flush: () => {
      clearTimeout(timer);
      timer = undefined;
      send("stdout", true);
      send("stderr", true);
    },
  };
}
