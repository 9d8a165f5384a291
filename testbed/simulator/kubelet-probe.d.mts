import type { ProbeRequest, ProbeResult } from './pod-network.ts';

export function kubeletProbe(request: ProbeRequest): Promise<ProbeResult>;
