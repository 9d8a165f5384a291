// An injected init container whose work is the Pod's network set-up (istio-init,
// linkerd-init: iptables redirection to the proxy), which the simulator does not play.
console.log(`${process.argv[2] ?? 'init'}: traffic redirection not simulated; done`);
