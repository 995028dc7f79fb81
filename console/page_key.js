// One key: its latest version's attributes, tags and key_ops, its
// versions, and what the principal's role allows: enable/disable, expiry,
// tags, key_ops, delete, backup, rotation policy and "rotate now".
import {b64uToBytes, enc, keys, next} from './api.js';
import {button, clear, download, field, h, table, when} from './dom.js';
import {rsaPublicPem} from './der.js';

const ALL_OPS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey', 'import'];

function summary(bundle) {
  const k = bundle.key;
  const a = bundle.attributes || {};
  const rows = [
    ['Key identifier', h('code', {}, k.kid)],
    ['Type', `${k.kty}${k.crv ? ` ${k.crv}` : ''}${k.n ? ` ${b64uToBytes(k.n).length * 8} bits` : ''}`],
    ['Permitted operations (key_ops)', (k.key_ops || []).join(', ') || 'none'],
    ['Enabled', a.enabled ? 'yes' : 'no'],
    ['Not before', when(a.nbf)],
    ['Expires', when(a.exp)],
    ['Created', when(a.created)],
    ['Updated', when(a.updated)],
    ['Recovery level', `${a.recoveryLevel || '—'} (${a.recoverableDays ?? '—'} days)`],
    ['Exportable', a.exportable ? 'yes' : 'no'],
    ['Tags', JSON.stringify(bundle.tags || {})],
  ];
  return h('dl', {class: 'props'}, rows.map(([t, d]) => [h('dt', {}, t), h('dd', {}, d)]));
}

// attributeForms are the update actions (PATCH /keys/{name}).
function attributeForms(ctx, name, bundle, reload) {
  const a = bundle.attributes || {};
  const patch = async (body, done) => {
    try {
      await keys('PATCH', `/keys/${enc(name)}`, {body});
      ctx.notice(done);
      await reload();
    } catch (err) {
      ctx.error(err);
    }
  };
  const expiry = h('input', {type: 'date', name: 'exp',
    value: a.exp ? new Date(a.exp * 1000).toISOString().slice(0, 10) : ''});
  const tags = h('textarea', {name: 'tags', rows: 3}, JSON.stringify(bundle.tags || {}, null, 1));
  const ops = ALL_OPS.map((op) => {
    const box = h('input', {type: 'checkbox', name: 'op', value: op,
      checked: (bundle.key.key_ops || []).includes(op)});
    return h('label', {class: 'check'}, box, ` ${op}`);
  });
  return h('section', {class: 'card'}, h('h2', {}, 'Change'),
    h('div', {class: 'row'},
      button(a.enabled ? 'Disable key' : 'Enable key',
        () => patch({attributes: {enabled: !a.enabled}}, a.enabled ? 'Key disabled.' : 'Key enabled.'))),
    h('form', {class: 'row', onsubmit: (e) => {
      e.preventDefault();
      const exp = expiry.value ? Math.floor(Date.parse(`${expiry.value}T00:00:00Z`) / 1000) : null;
      patch({attributes: {exp}}, exp ? 'Expiry set.' : 'Expiry removed.');
    }}, field('Expires on (UTC)', expiry), h('button', {type: 'submit'}, 'Set expiry')),
    h('form', {onsubmit: (e) => {
      e.preventDefault();
      let parsed;
      try {
        parsed = JSON.parse(tags.value || '{}');
      } catch (err) {
        ctx.error(new Error(`Tags are not JSON: ${err.message}`));
        return;
      }
      patch({tags: parsed}, 'Tags saved.');
    }}, field('Tags (JSON object of strings)', tags), h('button', {type: 'submit'}, 'Save tags')),
    h('form', {onsubmit: (e) => {
      e.preventDefault();
      const chosen = ops.map((l) => l.firstChild).filter((b) => b.checked).map((b) => b.value);
      patch({key_ops: chosen}, 'Permitted operations saved.');
    }}, h('fieldset', {}, h('legend', {}, 'Permitted operations'), ops),
    h('button', {type: 'submit'}, 'Save operations')));
}

function dangerZone(ctx, name) {
  const parts = [];
  if (ctx.can('backup')) {
    parts.push(button('Download backup', async () => {
      try {
        const r = await keys('POST', `/keys/${enc(name)}/backup`);
        download(`${name}.keybackup`, b64uToBytes(r.value));
      } catch (err) {
        ctx.error(err);
      }
    }));
  }
  if (ctx.can('delete')) {
    parts.push(button('Delete key', async () => {
      try {
        await keys('DELETE', `/keys/${enc(name)}`);
        ctx.go('#/deleted');
      } catch (err) {
        ctx.error(err);
      }
    }, {class: 'danger'}));
  }
  return parts.length ? h('section', {class: 'card'}, h('h2', {}, 'Backup and delete'), h('div', {class: 'row'}, parts)) : null;
}

async function versionsSection(ctx, name) {
  const body = h('div', {});
  const pager = h('div', {class: 'row pager'});
  const show = async (link) => {
    const page = link ? await next(link) : await keys('GET', `/keys/${enc(name)}/versions`, {query: {maxresults: 25}});
    clear(body);
    body.append(table('Versions', ['Version', 'Enabled', 'Created', 'Expires'],
      page.value.map((v) => [h('code', {}, v.kid.split('/').pop()), v.attributes.enabled ? 'yes' : 'no',
        when(v.attributes.created), when(v.attributes.exp)])));
    clear(pager);
    if (page.nextLink) pager.append(button('More versions', () => show(page.nextLink).catch(ctx.error)));
  };
  await show(null);
  return h('section', {class: 'card'}, h('h2', {}, 'Versions'), body, pager);
}

async function rotationSection(ctx, name, reload) {
  let policy;
  try {
    policy = await keys('GET', `/keys/${enc(name)}/rotationpolicy`);
  } catch (err) {
    return h('section', {class: 'card'}, h('h2', {}, 'Rotation policy'),
      h('p', {}, `${err.code}: ${err.message}`));
  }
  const text = h('textarea', {name: 'policy', rows: 8},
    JSON.stringify({lifetimeActions: policy.lifetimeActions || [], attributes: {expiryTime: policy.attributes?.expiryTime}}, null, 1));
  const canSet = ctx.can('setrotationpolicy');
  if (!canSet) text.setAttribute('readonly', '');
  return h('section', {class: 'card'}, h('h2', {}, 'Rotation policy'),
    h('form', {onsubmit: async (e) => {
      e.preventDefault();
      try {
        await keys('PUT', `/keys/${enc(name)}/rotationpolicy`, {body: JSON.parse(text.value)});
        ctx.notice('Rotation policy saved.');
      } catch (err) {
        ctx.error(err);
      }
    }}, field('Policy (lifetimeActions and expiryTime, ISO 8601 durations)', text),
    canSet ? h('button', {type: 'submit'}, 'Save policy') : null),
    ctx.can('rotate') ? button('Rotate now', async () => {
      try {
        await keys('POST', `/keys/${enc(name)}/rotate`);
        ctx.notice('Rotated: a new version is the latest.');
        await reload();
      } catch (err) {
        ctx.error(err);
      }
    }) : null);
}

export async function renderKey(main, ctx, name) {
  const reload = async () => {
    clear(main);
    await renderKey(main, ctx, name);
  };
  const bundle = await keys('GET', `/keys/${enc(name)}`);
  main.append(h('h1', {}, `Key ${name}`), h('p', {}, h('a', {href: '#/keys'}, '← All keys')), summary(bundle));
  if (bundle.key.kty.startsWith('RSA')) {
    main.append(h('div', {class: 'row'}, button('Download public key (PEM)',
      () => download(`${name}.pem`, rsaPublicPem(bundle.key), 'application/x-pem-file'))));
  }
  if (ctx.can('update')) main.append(attributeForms(ctx, name, bundle, reload));
  main.append(dangerZone(ctx, name) || '');
  main.append(await versionsSection(ctx, name));
  if (ctx.can('getrotationpolicy')) main.append(await rotationSection(ctx, name, reload));
}
