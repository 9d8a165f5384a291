// Every manifest in examples/ played by the simulator as a cluster would run it: the
// admission webhooks inject their sidecars (testbed/webhooks/injectors.ts), the images run stand-ins
// that answer the same endpoints on the same ports (testbed/images/runtime.ts), and each Pod has a
// network namespace of its own, so fixed ports never collide. Each must end as a Job:
// the Pod Succeeded, every container gone with code 0, by the path the example's
// comments promise (the request its sidecar received, or the kubelet's SIGTERM).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertStartedAfterReady, backends, simulate } from './e2e.ts';
import { runtime } from '../testbed/images/runtime.ts';
import { podNetworksAvailable } from '../testbed/simulator/pod-network.ts';
import { root } from '../testbed/paths.ts';
import { examples, manifest, type Example } from './examples.ts';
import type { Simulator } from '../testbed/simulator/simulator.ts';
import { admit } from '../testbed/webhooks/injectors.ts';

function proaLines(sim: Simulator, level: string, containers = ['main']): string[] {
  return containers.flatMap((c) => sim.logs(c).filter((l) => l.level === level).map((l) => String(l.msg)));
}

const netns = podNetworksAvailable();

for (const e of examples) {
  for (const api of backends) {
    const name = `examples/${e.file}${e.variant ? ` as ${e.variant}` : ''} runs to completion [${api} API server]`;
    // The seed scenario's sidecar starts in 30 s and is probed every 10 s.
    void test(name, { timeout: 120_000, skip: netns ? false : 'needs root for a network namespace per Pod (unshare --net, nsenter, ip)' }, async (t) => {
      const sim = await simulate(t, api, manifest(e), { network: 'pod', runtime, admission: admit });
      const outcome = await sim.finished;
      const errors = proaLines(sim, 'error', e.proas);
      assert.deepEqual(errors, [], 'proa logged no error');
      const warnings = proaLines(sim, 'warn', e.proas).filter((w) => !(e.warnings ?? []).some((re) => re.test(w)));
      assert.deepEqual(warnings, [], 'proa warned only as the example says');
      assert.equal(outcome.phase, 'Succeeded', `the Pod succeeded; exit codes ${JSON.stringify(outcome.exitCodes)}`);
      for (const [container, code] of Object.entries(outcome.exitCodes)) assert.equal(code, 0, `${container} exited 0`);
      for (const [container, line] of Object.entries(e.lines)) {
        assert.ok(sim.timeline.some((x) => x.type === 'log' && x.container === container && String(x.line).startsWith(line)), `${container} wrote "${line}"`);
      }
      for (const container of e.kubeletStops ?? []) {
        assert.ok(sim.timeline.some((x) => x.type === 'signal' && x.container === container && x.signal === 'SIGTERM'), `the kubelet stopped ${container}`);
      }
      if (e.readyFirst) assertStartedAfterReady(sim, e.readyFirst);
      if (e.once) assert.equal(sim.timeline.filter((x) => x.type === 'log' && String(x.line).startsWith(e.once!)).length, 1, `"${e.once}" once`);
      if (e.proas) {
        const last = Math.max(...e.proas.map((c) => sim.timeline.find((x) => x.type === 'log' && x.container === c && String(x.line).includes('"command exited"'))!.t));
        const end = sim.timeline.find((x) => x.type === 'phase' && x.phase === 'Succeeded')!;
        t.diagnostic(`the Pod ended ${((end.t - last) / 1000).toFixed(2)} s after the last program's end`);
      }
      // Nothing proa sent reached a native sidecar: the kubelet owns those.
      for (const container of e.kubeletStops ?? []) {
        assert.ok(!sim.timeline.some((x) => x.type === 'log' && x.container === container && /POST \/(quitquitquit|shutdown)/.test(String(x.line))), `proa left ${container} to the kubelet`);
      }
    });
  }
}

test("the README's Job is examples/job.yaml's Job, line for line", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = readme.match(/the Job document of\s+\[`examples\/job\.yaml`\][\s\S]*?```yaml\n([\s\S]*?)```/)?.[1];
  assert.ok(block, 'the README shows the Job');
  const file = readFileSync(join(root, 'examples', 'job.yaml'), 'utf8');
  const job = file.split('\n---\n').find((d) => /^kind: Job$/m.test(d));
  assert.equal(block.trim(), job?.trim());
});

test('the README lists every example in examples/', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const files = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml') && f !== 'demo-job.yaml');
  for (const f of files) assert.match(readme, new RegExp(`\\| \\[\`${f.replace('.', '\\.')}\`\\]\\(examples/${f.replace('.', '\\.')}\\)`), `${f} is in the README's table`);
  for (const f of files) assert.ok(examples.some((e) => e.file === f), `${f} is played by this file`);
});

for (const api of backends) {
  // The stand-ins are as strict as the real sidecars: without the annotation that enables
  // Linkerd's shutdown endpoint, the POST is refused and the Job would never complete.
  void test(`examples/linkerd.yaml without config.linkerd.io/proxy-admin-shutdown: the proxy keeps running and proa's last word names it [${api} API server]`,
    { timeout: 60_000, skip: netns ? false : 'needs root for a network namespace per Pod' }, async (t) => {
      const forgot: Example = {
        file: 'linkerd.yaml', lines: {},
        change: (docs) => {
          delete docs[0].spec.template.metadata.annotations['config.linkerd.io/proxy-admin-shutdown'];
          docs[0].spec.template.spec.terminationGracePeriodSeconds = 2;
        },
      };
      const sim = await simulate(t, api, manifest(forgot), { network: 'pod', runtime, admission: admit });
      await sim.waitFor((x) => x.type === 'container-exit' && x.container === 'main');
      assert.ok(sim.timeline.some((x) => x.type === 'log' && x.container === 'linkerd-proxy' && x.line === 'linkerd-proxy: POST /shutdown on :4191'), 'proa asked');
      const errors = proaLines(sim, 'error');
      assert.ok(errors.includes("shutdown request refused (HTTP 404); not retrying it: Linkerd's shutdown endpoint is enabled by the annotation config.linkerd.io/proxy-admin-shutdown: enabled on the Pod template"),
        `the refusal names the annotation: ${errors.join(' | ')}`);
      assert.equal(sim.timeline.filter((x) => x.type === 'log' && x.container === 'linkerd-proxy' && x.line === 'linkerd-proxy: POST /shutdown on :4191').length, 1, 'not retried');
      assert.match(errors.at(-1) ?? '', /^sidecar linkerd-proxy is still running after 2000ms/, 'the last word names the proxy');
      assert.ok(!sim.logs('main').some((l) => /every shutdown action succeeded/.test(JSON.stringify(l))), 'no claim of success');
      assert.ok(!sim.timeline.some((x) => x.type === 'container-exit' && x.container === 'linkerd-proxy'), 'the proxy is still running: the Pod would not complete');
    });
}
