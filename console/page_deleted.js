// Deleted keys: recover or purge (soft delete), paged with nextLink.
import {enc, keys, next} from './api.js';
import {button, clear, h, table, when} from './dom.js';

export async function renderDeleted(main, ctx) {
  main.append(h('h1', {}, `Deleted keys of ${ctx.vault}`));
  const body = h('div', {});
  const pager = h('div', {class: 'row pager'});
  main.append(body, pager);
  const act = async (method, path, done) => {
    try {
      await keys(method, path);
      ctx.notice(done);
      clear(main);
      await renderDeleted(main, ctx);
    } catch (err) {
      ctx.error(err);
    }
  };
  const show = async (link) => {
    const page = link ? await next(link) : await keys('GET', '/deletedkeys', {query: {maxresults: 25}});
    clear(body);
    const rows = page.value.map((d) => {
      const name = d.kid.split('/keys/')[1].split('/')[0];
      const actions = h('div', {class: 'row'},
        ctx.can('recover') ? button(`Recover ${name}`, () => act('POST', `/deletedkeys/${enc(name)}/recover`, `Key ${name} recovered.`)) : null,
        ctx.can('purge') ? button(`Purge ${name}`, () => act('DELETE', `/deletedkeys/${enc(name)}`, `Key ${name} purged.`), {class: 'danger'}) : null);
      return [name, when(d.deletedDate), when(d.scheduledPurgeDate), actions];
    });
    body.append(rows.length ? table('Deleted keys', ['Name', 'Deleted', 'Purged on', 'Actions'], rows)
      : h('p', {}, 'No deleted keys.'));
    clear(pager);
    if (page.nextLink) pager.append(button('Next page', () => show(page.nextLink).catch(ctx.error)));
  };
  await show(null);
}
