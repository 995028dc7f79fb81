// Keys: search by name prefix and page through the keys with the API's
// nextLink (25 per page): never the whole list, so 100,000 keys cost one
// page at a time. Also: create a key, restore a backup.
import {bytesToB64u, enc, keys, next} from './api.js';
import {button, clear, field, h, table, when} from './dom.js';

const PAGE_SIZE = 25;

function keyName(kid) {
  return kid.split('/keys/')[1].split('/')[0];
}

function keyRows(items) {
  return items.map((k) => {
    const name = keyName(k.kid);
    const a = k.attributes || {};
    return [h('a', {href: `#/key/${enc(name)}`}, name), a.enabled ? 'enabled' : 'disabled',
      when(a.created), when(a.exp), k.managed ? 'managed' : ''];
  });
}

function searchForm(onSearch) {
  const input = h('input', {type: 'search', name: 'prefix', pattern: '[0-9A-Za-z-]{0,127}',
    autocomplete: 'off', spellcheck: 'false'});
  const form = h('form', {class: 'row', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    onSearch(input.value.trim());
  }}, field('Name starts with', input), h('button', {type: 'submit'}, 'Search'));
  return {form, input};
}

function createForm(ctx) {
  const name = h('input', {name: 'name', required: true, pattern: '[0-9A-Za-z-]{1,127}'});
  const kty = h('select', {name: 'kty'}, ['RSA-HSM', 'EC-HSM', 'oct-HSM'].map((t) => h('option', {}, t)));
  const size = h('select', {name: 'size'}, ['2048', '3072', '4096', 'P-256', 'P-384', 'P-521', 'P-256K', '256']
    .map((t) => h('option', {}, t)));
  return h('form', {class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    const body = {kty: kty.value};
    if (size.value.startsWith('P-')) body.crv = size.value;
    else body.key_size = Number(size.value);
    try {
      await keys('POST', `/keys/${enc(name.value)}/create`, {body});
      ctx.go(`#/key/${enc(name.value)}`);
    } catch (err) {
      ctx.error(err);
    }
  }}, h('h2', {}, 'Create a key'), h('div', {class: 'row'}, field('Name', name), field('Type', kty),
    field('Size or curve', size)), h('button', {type: 'submit'}, 'Create key'));
}

function restoreForm(ctx) {
  const file = h('input', {type: 'file', name: 'backup'});
  return h('form', {class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    if (!file.files[0]) return;
    try {
      const bytes = new Uint8Array(await file.files[0].arrayBuffer());
      const bundle = await keys('POST', '/keys/restore', {body: {value: bytesToB64u(bytes)}});
      ctx.go(`#/key/${enc(keyName(bundle.key.kid))}`);
    } catch (err) {
      ctx.error(err);
    }
  }}, h('h2', {}, 'Restore a key backup'), field('Backup file', file),
  h('button', {type: 'submit'}, 'Restore'));
}

export async function renderKeys(main, ctx) {
  main.append(h('h1', {}, `Keys of ${ctx.vault}`));
  const results = h('div', {id: 'key-results'});
  const pager = h('div', {class: 'row pager'});
  const history = [];  // the links of the pages before this one
  let current = null;
  const show = async (link, prefix) => {
    const page = link ? await next(link)
      : await keys('GET', '/keys', {query: {maxresults: PAGE_SIZE, prefix}});
    clear(results);
    results.append(page.value.length ? table(`Keys${prefix ? ` starting with "${prefix}"` : ''}`,
      ['Name', 'State', 'Created', 'Expires', ''], keyRows(page.value))
      : h('p', {}, 'No keys match.'));
    clear(pager);
    if (history.length) {
      pager.append(button('Previous page', () => {
        current = history.pop();
        show(current.link, current.prefix).catch(ctx.error);
      }));
    }
    if (page.nextLink) {
      pager.append(button('Next page', () => {
        history.push(current);
        current = {link: page.nextLink, prefix};
        show(page.nextLink, prefix).catch(ctx.error);
      }));
    }
  };
  const {form} = searchForm((prefix) => {
    history.length = 0;
    current = {link: null, prefix};
    show(null, prefix).catch(ctx.error);
  });
  main.append(form, results, pager);
  current = {link: null, prefix: ''};
  await show(null, '');
  if (ctx.can('create')) main.append(createForm(ctx));
  if (ctx.can('restore')) main.append(restoreForm(ctx));
}
