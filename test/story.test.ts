// The story told off proa's log (src/report/story.ts), line by line as the logger writes them:
// which step each line makes, and when the shutdown's Event is ready to go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../src/shared/log.ts';
import { Story, type Step } from '../src/report/story.ts';

function told(): { story: Story; steps: Step[]; log: ReturnType<Story['tap']> } {
  const story = new Story();
  const steps: Step[] = [];
  story.onStep((s) => steps.push(s));
  return { story, steps, log: story.tap(createLogger('json', 'info', () => {})) };
}

test('ShutdownSent is told once every action has its answer, while the sidecars stop, not after they have', () => {
  const { steps, log } = told();
  log.info('found the Pod', { sidecars: ['proxy'] });
  log.info('waiting for the sidecars to be ready');
  log.info('all sidecars are ready', { by: { proxy: 'probe' } });
  log.info('command exited', { exitCode: 0 });
  log.info('shutdown request answered', { method: 'POST', url: 'http://127.0.0.1:9091/quitquitquit', status: 200 });
  log.info('waiting for the sidecars to exit');
  // A debug line, below the log's level: the story hears it all the same.
  log.debug('every shutdown action has its outcome', { actions: 1 });
  assert.deepEqual(steps.map((s) => s.kind), ['waiting', 'ready', 'shutdown']);
  assert.deepEqual(steps.at(-1), { kind: 'shutdown', actions: ['POST http://127.0.0.1:9091/quitquitquit answered 200'] });
  log.info('1/1 sidecars exited');
  assert.deepEqual(steps.map((s) => s.kind), ['waiting', 'ready', 'shutdown', 'stopped']);
});

test('without that line (the bound passed first), the shutdown is told with the survivor', () => {
  const { steps, log, story } = told();
  log.info('found the Pod', { sidecars: ['proxy'] });
  log.info('command exited', { exitCode: 3 });
  log.warn('shutdown request failed; retrying', { method: 'GET', url: 'http://127.0.0.1:1/q', error: 'ECONNREFUSED' });
  log.error('sidecar proxy is still running after 3000ms (--shutdown-timeout): the Pod will not complete on its own. Fix: ...');
  assert.deepEqual(steps.map((s) => s.kind), ['waiting', 'shutdown', 'survivor']);
  assert.match(story.summary(3), /^proa exited 3; the program: exit code 3\nshutdown: GET http:\/\/127\.0\.0\.1:1\/q failed \(ECONNREFUSED\)\nnot stopped: sidecar proxy\n/);
});
