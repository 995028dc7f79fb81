// The operator's pages: seal status (/sys/seal-status, no token needed) and
// the audit log (/console/api/audit: recent records and whether the hash
// chain verifies, computed by keyferryd with the audit verifier).
import {ApiError, consoleApi, sealStatus} from './api.js';
import {h, table} from './dom.js';

export async function renderSeal(main) {
  main.append(h('h1', {}, 'Seal status'));
  let s;
  try {
    s = await sealStatus();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      main.append(h('p', {class: 'state'}, 'Not sealed with key shares: ', err.message,
        '. The custody opened at start (see keyferryd\'s log and /healthz).'));
      return;
    }
    throw err;
  }
  const rows = [
    ['Sealed', s.sealed ? 'yes: keys cannot be used until enough shares are submitted' : 'no: unsealed'],
    ['Vault id', s.vault_id],
    ['Shares needed', `${s.threshold} of ${s.shares}`],
    ['Shares submitted so far', String(s.progress)],
    ['Last reconstruction failed', s.reconstruction_failed ? 'yes' : 'no'],
  ];
  main.append(h('dl', {class: 'props'}, rows.map(([t, d]) => [h('dt', {}, t), h('dd', {}, d ?? '—')])),
    h('p', {}, 'Unseal with ', h('code', {}, 'keyferry vault unseal'), ' (shares are never entered here).'));
}

export async function renderAudit(main) {
  main.append(h('h1', {}, 'Audit log'));
  const r = await consoleApi('audit', {limit: 100});
  main.append(h('p', {class: r.verified ? 'state ok' : 'state bad', id: 'chain-state'},
    r.verified ? `Chain verified: ${r.records} records, head ${r.head}`
      : `Chain does NOT verify: ${r.error}`));
  main.append(table('The most recent records, newest first',
    ['Seq', 'Time', 'Principal', 'Vault', 'Operation', 'Key', 'Status', 'Error'],
    r.recent.map((x) => [String(x.seq), x.time, x.principal, x.vault, x.operation,
      x.key, String(x.status), x.error])));
}
