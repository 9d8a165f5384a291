// Imported first by main.ts, so that this is in force from proa's first statement, for
// every kind of run (check, help and version included): Node opens its inspector on
// 127.0.0.1:9229 when a process without a SIGUSR1 listener receives SIGUSR1, and every
// container of the Pod shares that loopback; whoever connects there can run code in
// proa and read the service-account token. A listener of our own replaces Node's, so
// SIGUSR1 does nothing here; supervise.ts adds the one that forwards it to the command.
// (--disable-sigusr1 would block the signal for good, and proa could not forward it:
// see build.mjs.)
process.on('SIGUSR1', () => {});
