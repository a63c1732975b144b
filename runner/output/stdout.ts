/**
 * Writing the run's output to stdout when the reader may go away
 * (`runbook play ... | head -2`): once the pipe is closed (EPIPE) output
 * stops, and the run, its hosts and its history go on exactly as without
 * the pipe. Other write errors are reported once on stderr.
 */
export function stdoutWriter(stream: NodeJS.WriteStream = process.stdout): (text: string) => void {
  let closed = false;
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = true;
    if (err.code !== "EPIPE") process.stderr.write(`runbook: output stopped: ${err.message}\n`);
  });
  return (text) => {
    if (!closed) stream.write(text);
  };
}
