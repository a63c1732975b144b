/**
 * The RUNBOOK TEST STAND-IN container image of the Incus tests (the lab
 * reaches no image server): dash, a few coreutils and their libraries from
 * the lab host's own root, an /sbin/init that sleeps until SIGPWR or
 * SIGTERM, and Incus' metadata.yaml, packed as a unified tarball at
 * /tmp/rb-image.tar.gz. Not a distribution image. A static command
 * (busybox-static's) is copied alone.
 */

/** The shell script (run on a lab host with `sh -s`) that builds the image, with `extra` commands (`ip`, `ping`) besides the base ones. */
export function standinImageScript(extra: readonly string[] = []): string {
  const commands = ["sh", "cat", "sleep", "hostname", "ls", ...extra].join(" ");
  return String.raw`
set -e
d=/tmp/rb-image; rm -rf $d; mkdir -p $d/rootfs; cd $d/rootfs
mkdir -p bin sbin etc proc sys dev tmp run root
for b in ${commands}; do p=$(command -v $b); cp -L "$p" bin/; done
for b in bin/*; do ldd $b 2>/dev/null | grep -o '/[^ ]*' || true; done | sort -u | while read l; do mkdir -p .$(dirname $l); cp -L $l .$l; done
printf '#!/bin/sh\ntrap "exit 0" 30 15\nwhile :; do sleep 1 & wait $!; done\n' > sbin/init && chmod 755 sbin/init
echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd; echo 'root:x:0:' > etc/group
cd $d
printf 'architecture: x86_64\ncreation_date: %s\nproperties:\n  description: RUNBOOK TEST STAND-IN (dash and coreutils from the lab host)\n  os: runbook-standin\n  release: "1"\n' "$(date +%s)" > metadata.yaml
tar -czf /tmp/rb-image.tar.gz metadata.yaml rootfs
rm -rf $d
`;
}
