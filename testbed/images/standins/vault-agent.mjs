// `vault agent` as the Vault Agent Injector runs it: the configuration comes from
// VAULT_CONFIG (base64 JSON, what the injector renders from the Pod's annotations). With
// exit_after_auth (the init container) it renders the secrets and exits 0; otherwise it
// serves each listener, where POST /agent/v1/quit exits 0 only with
// agent_api { enable_quit = true } on that listener.
import { answerAndExit, onTerm, serve } from './http.mjs';

const config = JSON.parse(Buffer.from(process.env.VAULT_CONFIG ?? '', 'base64').toString() || '{}');
if (config.exit_after_auth) {
  console.log('vault-agent: authenticated, secrets rendered, exiting (exit_after_auth)');
  process.exit(0);
}
for (const listener of config.listener ?? []) {
  const [host, port] = String(listener.address).split(/:(?=\d+$)/);
  const quit = listener.agent_api?.enable_quit === true;
  serve('vault-agent', host, Number(port), {
    'POST /agent/v1/quit': (_req, res) => quit ? answerAndExit(res, '') : res.writeHead(404).end('quit endpoint not enabled\n'),
  });
}
console.log('vault-agent: authenticated, rendering secrets');
onTerm((s) => `vault-agent: received ${s}, exiting 0`);
