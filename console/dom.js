// Small DOM helpers: elements are built with createElement and textContent
// only (no HTML strings), so nothing from the server is parsed as markup,
// and event handlers are attached with addEventListener (the CSP forbids
// inline handlers).

// h builds an element: h('button', {type: 'button', onclick: fn}, 'Text').
// Attributes named on* become listeners; `class` sets className; a value of
// false/null/undefined omits the attribute; children may be strings, nodes,
// arrays or null.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'value') {
      el.value = value;
    } else if (name === 'checked') {
      el.checked = !!value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// clear removes every child of `el`.
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

let nextId = 0;
// field is a labelled form control: field('Key name', h('input', {...})).
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++nextId}`;
  const hintEl = hint ? h('span', {class: 'hint', id: `${control.id}-hint`}, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', {class: 'field'}, h('label', {for: control.id}, label), control, hintEl);
}

// button is a <button type="button">.
export function button(label, onclick, attrs = {}) {
  return h('button', {type: 'button', onclick, ...attrs}, label);
}

// download saves `data` (string or bytes) as a file named `name`.
export function download(name, data, type = 'application/octet-stream') {
  const url = URL.createObjectURL(new Blob([data], {type}));
  const a = h('a', {href: url, download: name, class: 'hidden-link'});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// table renders rows as a table with a caption and column headers.
export function table(caption, headers, rows) {
  return h('div', {class: 'table-wrap'},
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

// when formats Unix seconds as an ISO date-time (UTC), or '—'.
export function when(seconds) {
  if (seconds === undefined || seconds === null) return '—';
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}
