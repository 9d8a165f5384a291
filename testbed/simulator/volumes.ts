// A simulated Pod's volumes: configMap (from a ConfigMap in the same manifest) and
// emptyDir, each a directory of its own. The simulator's containers share the machine's
// file system, so a mount is played by rewriting the paths under its mountPath that a
// container's command and args name; a program that finds its files some other way
// (a path built at run time) does not see the volume, and the simulator says which
// fields it ignored.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '../api/fake-apiserver.ts';
import { tempDir } from '../paths.ts';

/**
 * Each volume's directory, by volume name; `unmountable`: the volumes a kubelet could not
 * mount (a ConfigMap that does not exist, not marked optional), which keep the Pod's
 * containers from starting; `unsupported` gets what cannot be played.
 */
export function materialise(pod: Json, configMaps: Json[], unsupported: (field: string) => void): { dirs: Map<string, string>; unmountable: string[] } {
  const dirs = new Map<string, string>();
  const unmountable: string[] = [];
  for (const v of (pod.spec.volumes ?? []) as Json[]) {
    const dir = tempDir(`proa-sim-volume-${v.name}-`);
    if (v.configMap) {
      const cm = configMaps.find((m) => m.metadata?.name === v.configMap.name);
      if (!cm) {
        if (v.configMap.optional !== true) unmountable.push(`volume "${v.name}": configmap "${v.configMap.name}" not found`);
      } else {
        if (v.configMap.items) unsupported(`volumes[${v.name}].configMap.items (every key is written)`);
        for (const [key, value] of Object.entries((cm.data ?? {}) as Record<string, string>)) writeFileSync(join(dir, key), value);
      }
    } else if (!v.emptyDir) {
      unsupported(`volumes[${v.name}]: only configMap and emptyDir volumes (this one is an empty directory)`);
    }
    mkdirSync(dir, { recursive: true });
    dirs.set(v.name, dir);
  }
  return { dirs, unmountable };
}

/** A container's argv with paths under its volumes' mountPaths pointing into the volumes' directories. */
export function mountedArgv(argv: string[], container: Json, dirs: Map<string, string>): string[] {
  const mounts = ((container.volumeMounts ?? []) as Json[])
    .map((m) => ({ at: String(m.mountPath).replace(/\/+$/, ''), dir: join(dirs.get(m.name) ?? '/nonexistent', m.subPath ?? '') }))
    .sort((a, b) => b.at.length - a.at.length); // the deepest mount wins, as in a container
  if (mounts.length === 0) return argv;
  // Every mention of a mount path in an argument, as a path (after a separator, before a
  // slash or a separator), the deepest mount first: a script names its volume more than once.
  const escaped = mounts.map((m) => m.at.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const mention = new RegExp(`(^|[=:\\s'"])(${escaped.join('|')})(?=$|[/\\s:;'"])`, 'g');
  const dirOf = new Map(mounts.map((m) => [m.at, m.dir]));
  return argv.map((arg) => arg.replace(mention, (_all, before: string, at: string) => before + dirOf.get(at)!));
}
