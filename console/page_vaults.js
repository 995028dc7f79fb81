// Vaults: the vaults this node serves, the principal's roles on each, and a
// link to each vault's own console (the console of a vault is served on
// that vault's host, so its API calls stay on one origin).
import {h, table} from './dom.js';

export async function renderVaults(main, ctx) {
  main.append(h('h1', {}, 'Vaults'));
  if (!ctx.vault) {
    main.append(h('p', {}, 'This host names no vault: open a vault\'s console below ',
      '(each vault host keeps its own sign-in).'));
  }
  const rows = ctx.me.vaults.map((v) => [
    v.name === ctx.vault ? h('strong', {}, `${v.name} (this console)`) : v.name,
    h('a', {href: `${v.url}/console/`}, v.url),
    v.roles.length ? v.roles.join(', ') : 'no role',
    v.allowed.length ? v.allowed.join(' ') : 'nothing',
  ]);
  main.append(table(`Vaults served by this keyferryd, for ${ctx.me.principal}`,
    ['Vault', 'URL', 'Your roles', 'Operations you may call'], rows));
}
