// StatusPulse console: fills the server-rendered pages from the /v1 API and sends their actions
// to it, with the session cookie and the X-CSRF-Token header. Data goes into the page with
// textContent only, never as markup. No inline script: the page policy forbids it.
'use strict';

(function () {
  const meta = (name) => {
    const el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute('content') : null;
  };
  const sessionId = meta('sp-session');
  const csrf = meta('sp-csrf');
  const userId = meta('sp-user');
  const apiKeyId = meta('sp-key');
  const $ = (id) => document.getElementById(id);

  // ---- Signing out, in every tab -------------------------------------------------------------
  const channel = 'BroadcastChannel' in window ? new BroadcastChannel('statuspulse-console') : null;
  let signedOut = false;

  function goSignedOut(tell) {
    if (signedOut) return;
    signedOut = true;
    if (tell && channel) channel.postMessage({ type: 'signed-out', session: sessionId });
    forgetKey();
    window.location.replace('/console/sign-in?signed_out=1');
  }

  if (channel) {
    channel.onmessage = (event) => {
      const m = event.data;
      if (sessionId && m && m.type === 'signed-out' && m.session === sessionId) goSignedOut(false);
    };
  }

  // A session revoked elsewhere: noticed on focus and every 10 s, then told to the other tabs.
  const CHECK_EVERY_MS = 10000;
  async function checkSession() {
    if (!sessionId || signedOut) return;
    try {
      const r = await fetch('/v1/sessions?active=true&limit=1', {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        cache: 'no-store',
      });
      if (r.status === 401) goSignedOut(true);
    } catch (_) {
      // Offline: the next check decides.
    }
  }
  if (sessionId) {
    window.setInterval(checkSession, CHECK_EVERY_MS);
    window.addEventListener('focus', checkSession);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') checkSession();
    });
  }

  // ---- The API -------------------------------------------------------------------------------
  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({ Accept: 'application/json' }, extraHeaders || {});
    if (method !== 'GET') headers['X-CSRF-Token'] = csrf || '';
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    const text = await r.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = { detail: text };
      }
    }
    if (r.status === 401 && sessionId) goSignedOut(true);
    return { ok: r.ok, status: r.status, data };
  }

  // ---- Problems, shown next to the field they name --------------------------------------------
  function clearProblems(form) {
    form.querySelectorAll('[data-error-for]').forEach((el) => {
      el.textContent = '';
      el.hidden = true;
    });
    form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  }

  function showProblem(form, problem) {
    const p = problem || {};
    const text = p.detail || p.title || 'The request failed.';
    // The most precise slot the form has: `webhook.url` itself, else `scopes` for `scopes[2]`,
    // else `webhook` for `webhook.secret`.
    const field = String(p.field || '');
    let slot = null;
    for (const name of [field, field.split('[')[0], field.split(/[.[]/)[0]]) {
      if (name && !slot) slot = form.querySelector('[data-error-for="' + CSS.escape(name) + '"]');
    }
    if (!slot) slot = form.querySelector('[data-error-for=""]') || $('page-error');
    if (!slot) return;
    slot.textContent = p.code ? text + ' (' + p.code + ')' : text;
    slot.hidden = false;
    const input = slot.id ? document.querySelector('[aria-describedby~="' + slot.id + '"]') : null;
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      if (typeof input.focus === 'function') input.focus();
    }
  }

  // ---- Sign-in -------------------------------------------------------------------------------
  const ssoForm = $('sso-form');
  if (ssoForm) {
    ssoForm.addEventListener('submit', (event) => {
      event.preventDefault();
      clearProblems(ssoForm);
      const email = $('sso-email').value.trim();
      if (!email.includes('@')) {
        showProblem(ssoForm, { field: 'email', detail: 'Enter your work email address.' });
        return;
      }
      // A navigation, not a form submission: the identity provider is another origin, which
      // the policy's form-action would refuse after the redirect.
      const q = new URLSearchParams({ email, return_to: ssoForm.dataset.returnTo || '/console/' });
      window.location.assign('/v1/sso/login?' + q.toString());
    });
  }

  const keyForm = $('key-form');
  if (keyForm) {
    keyForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearProblems(keyForm);
      const input = $('key-input');
      const key = input.value.trim();
      // Cleared at once: the key lives in this function only until the request is sent.
      input.value = '';
      if (!key) {
        showProblem(keyForm, { field: 'key', detail: 'Paste the admin API key.' });
        return;
      }
      const button = keyForm.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        const r = await fetch('/v1/sessions', {
          method: 'POST',
          credentials: 'same-origin',
          cache: 'no-store',
          headers: { Accept: 'application/json', Authorization: 'Bearer ' + key },
        });
        if (r.status === 201) {
          window.location.replace(keyForm.dataset.returnTo || '/console/');
          return;
        }
        let problem = null;
        try {
          problem = await r.json();
        } catch (_) {
          problem = { detail: 'Sign-in failed (' + r.status + ').' };
        }
        showProblem(keyForm, Object.assign({}, problem, { field: 'key' }));
      } catch (_) {
        showProblem(keyForm, { field: 'key', detail: 'The server cannot be reached.' });
      } finally {
        button.disabled = false;
      }
    });
  }

  // ---- Header: sign out ----------------------------------------------------------------------
  const signOut = $('sign-out');
  if (signOut) {
    signOut.addEventListener('click', async () => {
      await api('DELETE', '/v1/sessions/' + encodeURIComponent(sessionId));
      goSignedOut(true);
    });
  }
  // A person's every session, or every session of the key a key session acts as.
  const everywhere = $('sign-out-everywhere');
  if (everywhere && (userId || apiKeyId)) {
    everywhere.addEventListener('click', async () => {
      const whose = userId ? { user_id: userId } : { api_key_id: apiKeyId };
      await api('POST', '/v1/sessions/revoke-all', whose);
      goSignedOut(true);
    });
  }

  // ---- The new key, shown once ---------------------------------------------------------------
  let forgetTimer = null;
  function forgetKey() {
    const value = $('new-key-value');
    if (value) value.value = '';
    const panel = $('new-key');
    if (panel) panel.hidden = true;
    if (forgetTimer) window.clearTimeout(forgetTimer);
    forgetTimer = null;
  }

  function showKey(key) {
    const panel = $('new-key');
    $('new-key-value').value = key;
    $('copy-status').textContent = '';
    panel.hidden = false;
    $('new-key-value').focus();
    $('new-key-value').select();
    // Not left on screen (or in the DOM) for longer than it takes to copy.
    if (forgetTimer) window.clearTimeout(forgetTimer);
    forgetTimer = window.setTimeout(forgetKey, 5 * 60 * 1000);
  }

  const copy = $('copy-key');
  if (copy) {
    copy.addEventListener('click', async () => {
      const value = $('new-key-value').value;
      try {
        await navigator.clipboard.writeText(value);
        $('copy-status').textContent = 'Copied to the clipboard.';
      } catch (_) {
        $('new-key-value').select();
        $('copy-status').textContent = 'Select the key and copy it with Ctrl+C.';
      }
    });
    $('dismiss-key').addEventListener('click', forgetKey);
    window.addEventListener('pagehide', forgetKey);
  }

  // ---- Building blocks of the settings pages ----------------------------------------------------
  const list = (text) =>
    String(text || '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s);

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  // Replaces the rows of the table `id`: one per item, filled by `fill(row, item)`.
  function fillTable(id, items, fill) {
    const tbody = $(id).tBodies[0];
    tbody.replaceChildren();
    for (const x of items) {
      const row = document.createElement('tr');
      fill(row, x);
      tbody.appendChild(row);
    }
  }

  function when(value) {
    return value ? value.replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') : 'never';
  }

  // A row's action: its visible word, and a label naming what it acts on.
  function actionButton(text, label, run, className) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    if (className) b.className = className;
    b.addEventListener('click', run);
    return b;
  }

  function pageProblem(problem, fallback) {
    const slot = $('page-error');
    const p = problem || {};
    slot.textContent = (p.detail || fallback) + (p.code ? ' (' + p.code + ')' : '');
    slot.hidden = false;
  }

  // Sends one form's request (its button disabled meanwhile); a refusal is shown next to the field
  // it names. The answer when it succeeded, else null.
  async function submit(form, send) {
    clearProblems(form);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const r = await send();
      if (!r.ok) {
        showProblem(form, r.data);
        return null;
      }
      return r;
    } catch (_) {
      showProblem(form, { detail: 'The server cannot be reached.' });
      return null;
    } finally {
      button.disabled = false;
    }
  }

  // Every item of a /v1 list, page after page (a console workspace has hundreds at most).
  async function listAll(path) {
    let items = [];
    let cursor = null;
    do {
      const q = new URLSearchParams({ limit: '200' });
      if (cursor) q.set('cursor', cursor);
      const r = await api('GET', path + '?' + q.toString());
      if (!r.ok) return { ok: false, data: r.data };
      items = items.concat(r.data.items);
      cursor = r.data.next_cursor || null;
    } while (cursor);
    return { ok: true, items };
  }

  // Checkbox lists (`fieldset[data-fill]`): scopes from the catalog, clusters from the workspace.
  // A list the API refuses (say, clusters without `admin:access`) is its problem document.
  const sources = {
    scopes: () =>
      api('GET', '/v1/scopes').then((r) =>
        r.ok ? r.data.items.map((s) => ({ value: s.name, text: s.name, title: s.description })) : { problem: r.data },
      ),
    clusters: () =>
      listAll('/v1/environment-clusters').then((r) =>
        r.ok
          ? r.items.map((c) => ({ value: c.name, text: c.name + ' (' + c.environment + ')' }))
          : { problem: r.data },
      ),
  };
  const loaded = {};
  async function fillChecks(box) {
    const kind = box.dataset.fill;
    loaded[kind] = loaded[kind] || sources[kind]();
    const items = await loaded[kind];
    box.querySelectorAll('.loading, .check').forEach((el) => el.remove());
    const error = box.querySelector('.field-error');
    if (!Array.isArray(items)) {
      // Why, in the server's words: "this route needs the `admin:access` scope".
      const p = document.createElement('p');
      p.className = 'hint check';
      const problem = items.problem || {};
      p.textContent = 'The list cannot be loaded: ' + (problem.detail || 'the request failed') + '.';
      box.insertBefore(p, error);
      return;
    }
    if (!items.length) {
      const p = document.createElement('p');
      p.className = 'hint check';
      p.textContent = 'None declared.';
      box.insertBefore(p, error);
    }
    for (const item of items) {
      const id = box.id + '-' + item.value.replace(/[^a-z0-9]/gi, '-');
      const wrap = document.createElement('div');
      wrap.className = 'check';
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.id = id;
      input.value = item.value;
      input.name = box.id;
      const label = document.createElement('label');
      label.htmlFor = id;
      label.textContent = item.text;
      if (item.title) label.title = item.title;
      wrap.append(input, label);
      box.insertBefore(wrap, error);
    }
  }
  const fillAll = () =>
    Promise.all(Array.from(document.querySelectorAll('fieldset[data-fill]')).map(fillChecks));
  const checked = (id) =>
    Array.from($(id).querySelectorAll('input[type="checkbox"]:checked')).map((i) => i.value);
  function setChecked(id, values) {
    $(id)
      .querySelectorAll('input[type="checkbox"]')
      .forEach((i) => {
        i.checked = (values || []).includes(i.value);
      });
  }

  // The workspace's service accounts, offered in `select` after its "none" option; the list.
  async function offerServiceAccounts(select) {
    const r = await listAll('/v1/service-accounts');
    const note = $(select.id + '-note');
    if (!r.ok) {
      // Why only "None" is offered, in the server's words.
      if (note) {
        note.textContent = 'Service accounts cannot be listed: ' + ((r.data && r.data.detail) || 'the request failed') + '.';
        note.hidden = false;
      }
      return [];
    }
    select.querySelectorAll('option:not([value=""])').forEach((o) => o.remove());
    for (const sa of r.items) {
      const option = document.createElement('option');
      option.value = sa.id;
      option.textContent = sa.name + ' (' + sa.id + ')';
      select.appendChild(option);
    }
    return r.items;
  }

  document.querySelectorAll('dialog .cancel').forEach((b) =>
    b.addEventListener('click', () => b.closest('dialog').close()),
  );

  // ---- Effective access of a key or a service account -----------------------------------------
  function term(dl, name, value) {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.textContent = value;
    dl.append(dt, dd);
  }
  const joined = (values, none) => (values && values.length ? values.join(', ') : none);

  async function showAccess(query, label) {
    const dialog = $('access-dialog');
    const summary = $('access-summary');
    const tbody = $('access-clusters').tBodies[0];
    $('access-of').textContent = label;
    summary.replaceChildren();
    tbody.replaceChildren();
    $('access-error').hidden = true;
    $('access-no-clusters').hidden = true;
    delete dialog.dataset.ready;
    dialog.showModal();
    const r = await api('GET', '/v1/effective-access?' + new URLSearchParams(query).toString());
    if (!r.ok) {
      const p = r.data || {};
      $('access-error').textContent =
        (p.detail || 'Effective access cannot be read.') + (p.code ? ' (' + p.code + ')' : '');
      $('access-error').hidden = false;
      dialog.dataset.ready = 'true';
      return;
    }
    const a = r.data;
    term(summary, 'Principal', a.principal_type.replace('_', ' ') + ' ' + a.principal_id);
    if (a.key_id) term(summary, 'Key id', a.key_id);
    if (a.environment) term(summary, 'Environment', a.environment);
    if (a.status) term(summary, 'Status', a.status);
    term(summary, 'Requested scopes', joined(a.requested_scopes, 'none'));
    term(summary, 'Effective scopes', joined(a.scopes, 'none'));
    term(summary, 'Withheld (no binding grants them)', joined(a.withheld_scopes, 'none'));
    for (const c of a.environment_clusters || []) {
      const row = document.createElement('tr');
      row.dataset.cluster = c.name;
      cell(row, c.name, 'name');
      cell(row, c.environment);
      cell(row, joined(c.scopes, 'none'), 'scopes');
      tbody.appendChild(row);
    }
    $('access-no-clusters').hidden = (a.environment_clusters || []).length > 0;
    dialog.dataset.ready = 'true';
  }

  // The delete dialog for objects that live under `path`: what it opens the dialog with (an
  // object), which asks the API to delete it, shows a refusal in the dialog, else `after()`. A
  // page has one such dialog, shared by every kind of object it lists: each opener says what it
  // deletes (`texts`: its own title and consequence, else the page's).
  let deleting = null;
  function deleteDialog(path, label, after, texts) {
    const form = $('delete-form');
    if (!form.dataset.bound) {
      form.dataset.bound = 'true';
      form.dataset.title = $('delete-title').textContent;
      form.dataset.consequence = $('delete-consequence').textContent;
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const target = deleting;
        const url = target.path + '/' + encodeURIComponent(target.x.id);
        if (!(await submit(form, () => api('DELETE', url)))) return;
        $('delete-dialog').close();
        await target.after();
      });
    }
    return (x) => {
      deleting = { path, x, after };
      clearProblems(form);
      $('delete-title').textContent = texts ? texts.title : form.dataset.title;
      $('delete-consequence').textContent = texts ? texts.consequence : form.dataset.consequence;
      $('delete-name').textContent = label(x) + ' (' + x.id + ')';
      $('delete-dialog').showModal();
    };
  }

  // ---- Settings > Access: one list, create, edit and delete per page --------------------------
  // `cfg`: the API path, a row's columns ([text, class]), its label, the create and edit bodies,
  // how the edit form is filled, and any further row actions.
  function resourcePage(cfg) {
    let items = [];
    let selected = null;
    const table = $('items');

    function render() {
      const tbody = table.tBodies[0];
      tbody.replaceChildren();
      for (const x of items) {
        const row = document.createElement('tr');
        row.dataset.id = x.id;
        for (const [text, className] of cfg.columns(x)) cell(row, text, className);
        const actions = cell(row, '', 'actions');
        const label = cfg.label(x);
        actions.appendChild(actionButton('Edit', 'Edit ' + label, () => openEdit(x)));
        for (const extra of cfg.actions || []) {
          actions.appendChild(actionButton(extra.text, extra.text + ': ' + label, () => extra.run(x)));
        }
        // Downloads are links (see the module doc): same-origin, saved by the browser.
        for (const link of cfg.links ? cfg.links(x) : []) {
          const a = document.createElement('a');
          a.className = 'button';
          a.href = link.href;
          a.download = link.download;
          a.textContent = link.text;
          a.setAttribute('aria-label', link.text + ': ' + label);
          actions.appendChild(a);
        }
        actions.appendChild(actionButton('Delete', 'Delete ' + label, () => openDelete(x), 'danger'));
        tbody.appendChild(row);
      }
      $('items-empty').hidden = items.length > 0;
    }

    async function load() {
      const r = await listAll(cfg.path);
      if (!r.ok) {
        pageProblem(r.data, 'The list cannot be loaded.');
        return;
      }
      $('page-error').hidden = true;
      items = r.items;
      if (cfg.loaded) await cfg.loaded(items);
      render();
    }

    const create = $('create-form');
    create.addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = cfg.create();
      const r = await submit(create, () =>
        api('POST', cfg.path, body, { 'Idempotency-Key': crypto.randomUUID() }),
      );
      if (!r) return;
      create.reset();
      await load();
    });

    function openEdit(x) {
      selected = x;
      clearProblems($('edit-form'));
      cfg.fillEdit(x);
      $('edit-dialog').showModal();
    }
    $('edit-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = cfg.edit();
      const path = cfg.path + '/' + encodeURIComponent(selected.id);
      if (!(await submit($('edit-form'), () => api('PATCH', path, body)))) return;
      $('edit-dialog').close();
      await load();
    });

    const openDelete = deleteDialog(cfg.path, cfg.label, load);

    Promise.all([fillAll(), load()]).then(() => {
      document.body.dataset.ready = 'true';
    });
  }

  const fieldValue = (id) => $(id).value.trim();
  const main = document.querySelector('main[data-page]');
  const pageName = main ? main.dataset.page : null;

  if (pageName === 'service-accounts') {
    resourcePage({
      path: '/v1/service-accounts',
      columns: (x) => [
        [x.name, 'name'],
        [x.id, 'mono'],
        [x.description || ''],
        [when(x.created_at)],
      ],
      label: (x) => x.name,
      create: () => ({ name: fieldValue('sa-name'), description: fieldValue('sa-description') }),
      fillEdit: (x) => {
        $('edit-name').value = x.name;
        $('edit-description').value = x.description || '';
      },
      edit: () => ({ name: fieldValue('edit-name'), description: fieldValue('edit-description') }),
      actions: [
        { text: 'Access', run: (x) => showAccess({ service_account_id: x.id }, x.name + ' (' + x.id + ')') },
      ],
    });
    return;
  }

  if (pageName === 'role-bindings') {
    const accounts = new Map();
    const principal = (x) =>
      x.service_account_id
        ? 'service account ' + (accounts.get(x.service_account_id) || x.service_account_id)
        : 'group ' + x.group;
    resourcePage({
      path: '/v1/role-bindings',
      // The service accounts name the principals, and are offered for new bindings.
      loaded: async () => {
        for (const sa of await offerServiceAccounts($('rb-service-account'))) {
          accounts.set(sa.id, sa.name);
        }
      },
      columns: (x) => [
        [principal(x), 'name'],
        [joined(x.scopes, 'none'), 'scopes'],
        [joined(x.environment_clusters, 'every cluster')],
        [when(x.updated_at)],
      ],
      label: (x) => 'binding of ' + principal(x),
      create: () => {
        const body = { scopes: checked('rb-scopes'), environment_clusters: checked('rb-clusters') };
        const sa = $('rb-service-account').value;
        const group = fieldValue('rb-group');
        if (sa) body.service_account_id = sa;
        if (group) body.group = group;
        return body;
      },
      fillEdit: (x) => {
        $('edit-principal').textContent = principal(x);
        setChecked('edit-scopes', x.scopes);
        setChecked('edit-clusters', x.environment_clusters);
      },
      edit: () => ({ scopes: checked('edit-scopes'), environment_clusters: checked('edit-clusters') }),
    });
    return;
  }

  if (pageName === 'environment-clusters') {
    resourcePage({
      path: '/v1/environment-clusters',
      columns: (x) => [
        [x.name, 'name'],
        [x.environment],
        [x.description || ''],
        [x.id, 'mono'],
      ],
      label: (x) => x.name,
      create: () => ({
        name: fieldValue('cl-name'),
        environment: $('cl-environment').value,
        description: fieldValue('cl-description'),
      }),
      fillEdit: (x) => {
        $('edit-cluster').textContent = x.name + ' (' + x.environment + ')';
        $('edit-description').value = x.description || '';
      },
      edit: () => ({ description: fieldValue('edit-description') }),
    });
    return;
  }

  if (pageName === 'sso') {
    ssoPage();
    return;
  }

  if (pageName === 'sessions') {
    sessionsPage();
    return;
  }

  if (pageName === 'audit-logs') {
    auditLogsPage();
    return;
  }

  if (pageName === 'audit-logging') {
    auditLoggingPage();
    return;
  }

  // ---- Settings > Security > Configure SSO -----------------------------------------------------
  function ssoPage() {
    const NATIVE = ['okta', 'azure_ad', 'onelogin'];
    // Only the chosen kind's blocks are shown, and only shown fields are sent.
    function showKind(prefix, kind) {
      $(prefix + '-name')
        .form.querySelectorAll('[data-kinds]')
        .forEach((el) => {
          el.hidden = !el.dataset.kinds.split(' ').includes(kind);
        });
    }
    const secretState = (x) => (x.kind === 'saml' ? 'not used (SAML)' : x.client_secret_set ? 'set' : 'not set');
    const provider = (x) =>
      x.okta
        ? x.okta.domain + (x.okta.authorization_server_id ? ' (' + x.okta.authorization_server_id + ')' : '')
        : x.azure_ad
          ? 'tenant ' + x.azure_ad.tenant_id
          : x.onelogin
            ? x.onelogin.subdomain + '.onelogin.com'
            : x.oidc
              ? x.oidc.issuer
              : x.saml
                ? x.saml.idp_entity_id
                : '';
    // "idp-group=statuspulse-group, …" to an object; a malformed entry is sent as it is, for
    // the server to refuse in words.
    function mappings(text) {
      const out = {};
      for (const entry of list(text)) {
        const at = entry.indexOf('=');
        if (at < 0) out[entry] = '';
        else out[entry.slice(0, at).trim()] = entry.slice(at + 1).trim();
      }
      return out;
    }
    // The body of a create (`editing` false) or of a PATCH, from the fields `prefix-…`.
    function body(prefix, kind, editing) {
      const v = (name) => fieldValue(prefix + '-' + name);
      const b = { name: v('name') };
      if (!editing) b.kind = kind;
      if (kind === 'okta') {
        b.okta = { domain: v('okta-domain') };
        if (v('okta-server')) b.okta.authorization_server_id = v('okta-server');
      } else if (kind === 'azure_ad') {
        b.azure_ad = { tenant_id: v('azure-tenant'), allowed_tenants: list(v('azure-tenants')) };
      } else if (kind === 'onelogin') {
        b.onelogin = { subdomain: v('onelogin-subdomain') };
      } else if (kind === 'oidc') {
        b.oidc = { issuer: v('oidc-issuer') };
      } else if (kind === 'saml') {
        b.saml = {
          idp_entity_id: v('saml-entity-id'),
          idp_sso_url: v('saml-sso-url'),
          idp_certificate: v('saml-certificate'),
        };
        if (v('saml-groups-attribute')) b.saml.groups_attribute = v('saml-groups-attribute');
      }
      // An empty override removes the stored one on edit; on create it is simply absent.
      if (NATIVE.includes(kind) && (editing || v('endpoint-override'))) {
        b.endpoint_override = v('endpoint-override');
      }
      if (kind !== 'saml') {
        b.client_id = v('client-id');
        // Write-only: empty keeps the stored secret.
        const secret = $(prefix + '-client-secret').value;
        if (secret) b.client_secret = secret;
        const scopes = list(v('scopes'));
        if (scopes.length) b.scopes = scopes;
      }
      b.email_domains = list(v('email-domains'));
      b.allowed_groups = list(v('allowed-groups'));
      b.group_mappings = mappings(v('group-mappings'));
      b.acr_values = list(v('acr-values'));
      b.require_mfa = $(prefix + '-require-mfa').checked;
      return b;
    }

    const kindSelect = $('sso-kind');
    kindSelect.addEventListener('change', () => showKind('sso', kindSelect.value));
    // A reset (after a create) puts the kind back: its blocks follow once it has happened.
    $('create-form').addEventListener('reset', () => setTimeout(() => showKind('sso', kindSelect.value)));
    showKind('sso', kindSelect.value);
    let editing = null;

    resourcePage({
      path: '/v1/sso-connections',
      columns: (x) => [
        [x.name, 'name'],
        [x.kind],
        [provider(x), 'details'],
        [joined(x.email_domains, 'none')],
        [secretState(x), 'secret'],
        [x.id, 'mono'],
      ],
      label: (x) => x.name,
      create: () => body('sso', kindSelect.value, false),
      fillEdit: (x) => {
        editing = x;
        const set = (name, value) => {
          $('edit-' + name).value = value || '';
        };
        $('edit-kind').textContent = x.kind;
        showKind('edit', x.kind);
        set('name', x.name);
        set('okta-domain', x.okta && x.okta.domain);
        set('okta-server', x.okta && x.okta.authorization_server_id);
        set('azure-tenant', x.azure_ad && x.azure_ad.tenant_id);
        set('azure-tenants', x.azure_ad && x.azure_ad.allowed_tenants.join(', '));
        set('onelogin-subdomain', x.onelogin && x.onelogin.subdomain);
        set('oidc-issuer', x.oidc && x.oidc.issuer);
        set('saml-entity-id', x.saml && x.saml.idp_entity_id);
        set('saml-sso-url', x.saml && x.saml.idp_sso_url);
        set('saml-certificate', x.saml && x.saml.idp_certificate);
        set('saml-groups-attribute', x.saml && x.saml.groups_attribute);
        set('endpoint-override', x.endpoint_override);
        set('client-id', x.client_id);
        set('client-secret', '');
        $('edit-client-secret-state').textContent =
          'Client secret: ' + secretState(x) + (x.client_secret_set ? '. Leave empty to keep it.' : '.');
        set('scopes', (x.scopes || []).join(', '));
        set('email-domains', (x.email_domains || []).join(', '));
        set('allowed-groups', (x.allowed_groups || []).join(', '));
        set(
          'group-mappings',
          Object.entries(x.group_mappings || {})
            .map(([k, v]) => k + '=' + v)
            .join(', '),
        );
        set('acr-values', (x.acr_values || []).join(', '));
        $('edit-require-mfa').checked = !!x.require_mfa;
      },
      edit: () => body('edit', editing.kind, true),
      // A sign-in round trip in this tab: the server sets the sign-in cookie and answers the
      // identity provider's URL; its return shows the claims and creates no session.
      actions: [
        {
          text: 'Test connection',
          run: async (x) => {
            const path = '/v1/sso-connections/' + encodeURIComponent(x.id) + '/test';
            const r = await api('POST', path, { return_to: window.location.pathname });
            if (!r.ok) {
              pageProblem(r.data, 'The test cannot be started.');
              return;
            }
            window.location.assign(r.data.authorization_url);
          },
        },
      ],
      // SP metadata is public (IdP administrators fetch it): a link, no script.
      links: (x) =>
        x.kind === 'saml'
          ? [
              {
                text: 'Download SP metadata',
                href: '/v1/sso-connections/' + encodeURIComponent(x.id) + '/saml/metadata',
                download: 'sp-metadata-' + x.id + '.xml',
              },
            ]
          : [],
    });
  }

  // ---- Settings > Security > View Audit Logs --------------------------------------------------
  function auditLogsPage() {
    let events = [];
    let nextCursor = null;
    let query = new URLSearchParams();
    const form = $('filter-form');
    const party = (x) => (x ? x.type + (x.id ? ' ' + x.id : '') : '');
    // A local date and time, as RFC 3339 in UTC; what cannot be read is sent as typed, for the
    // server to refuse in words.
    const instant = (value) => {
      const t = new Date(value);
      return Number.isNaN(t.getTime()) ? value : t.toISOString();
    };

    function filters() {
      const q = new URLSearchParams({ limit: '50' });
      for (const [id, name] of [
        ['filter-event-type', 'event_type'],
        ['filter-actor', 'actor_id'],
        ['filter-target', 'target_id'],
      ]) {
        if (fieldValue(id)) q.set(name, fieldValue(id));
      }
      if ($('filter-outcome').value) q.set('outcome', $('filter-outcome').value);
      if ($('filter-since').value) q.set('since', instant($('filter-since').value));
      if ($('filter-until').value) q.set('until', instant($('filter-until').value));
      return q;
    }

    function render() {
      fillTable('events', events, (row, e) => {
        row.dataset.seq = e.seq;
        row.dataset.eventType = e.event_type;
        cell(row, String(e.seq), 'mono');
        cell(row, when(e.occurred_at));
        cell(row, e.event_type, 'mono');
        cell(row, e.outcome, 'status status-' + e.outcome);
        cell(row, party(e.actor), 'mono');
        cell(row, party(e.target), 'mono');
        cell(row, e.reason || '');
        const details = e.details && Object.keys(e.details).length ? JSON.stringify(e.details) : '';
        cell(row, details, 'details');
      });
      $('events-empty').hidden = events.length > 0;
      $('load-more').hidden = !nextCursor;
    }

    // The first page of what the filters select, or the next one.
    function load(more) {
      const q = new URLSearchParams(query);
      if (more && nextCursor) q.set('cursor', nextCursor);
      return api('GET', '/v1/audit-events?' + q.toString()).then((r) => {
        if (r.ok) {
          events = more ? events.concat(r.data.items) : r.data.items;
          nextCursor = r.data.next_cursor || null;
          render();
        }
        return r;
      });
    }

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const wanted = filters();
      const previous = query;
      query = wanted;
      if (!(await submit(form, () => load(false)))) query = previous;
    });
    form.addEventListener('reset', () => {
      window.setTimeout(() => form.requestSubmit(), 0);
    });
    $('load-more').addEventListener('click', async () => {
      const r = await load(true);
      if (!r.ok) pageProblem(r.data, 'The next page cannot be loaded.');
    });

    $('verify-chain').addEventListener('click', async () => {
      const out = $('verify-result');
      const button = $('verify-chain');
      button.disabled = true;
      out.textContent = 'Verifying…';
      delete out.dataset.valid;
      const r = await api('GET', '/v1/audit-events/verify');
      button.disabled = false;
      if (!r.ok) {
        const p = r.data || {};
        out.textContent = (p.detail || 'The chain cannot be verified.') + (p.code ? ' (' + p.code + ')' : '');
        out.dataset.valid = 'unknown';
        return;
      }
      const c = r.data;
      out.dataset.valid = String(c.valid);
      out.textContent = c.valid
        ? 'The chain is intact: ' + c.events_checked + ' events recomputed, every link holds, ' +
          'up to the head at position ' + c.head_seq + ' (hash ' + c.head_hash.slice(0, 16) + '…).'
        : 'The chain is broken at position ' + c.first_broken_seq + ': that event, or the link ' +
          'to it, was changed after it was recorded (' + c.events_checked + ' events checked).';
    });

    query = filters();
    load(false).then((r) => {
      if (!r.ok) {
        pageProblem(r.data, 'The audit events cannot be listed.');
        // The export would be refused alike, and a link would save the refusal as the file.
        $('export').hidden = true;
      }
      document.body.dataset.ready = 'true';
    });
  }

  // ---- Settings > Security > Enable Audit Logging -----------------------------------------------
  function auditLoggingPage() {
    let rule = null;

    async function loadSettings() {
      const r = await api('GET', '/v1/audit-settings');
      if (!r.ok) return r;
      const s = r.data;
      $('retention-days').value = s.retention_days;
      $('default-event-types').value = s.default_event_types.join(', ');
      const summary = $('retention-summary');
      summary.replaceChildren();
      term(summary, 'Kept', s.retention_days + ' days' + (s.is_default ? ' (the default)' : ''));
      term(summary, 'Recorded', 'up to position ' + s.head_seq);
      term(
        summary,
        'Pruned',
        s.pruned_through_seq ? 'through position ' + s.pruned_through_seq : 'nothing yet',
      );
      return r;
    }

    const destination = (x) =>
      x.webhook
        ? x.webhook.url
        : x.cloudwatch
          ? x.cloudwatch.region + ' ' + x.cloudwatch.log_group + ' / ' + x.cloudwatch.log_stream
          : '';

    async function loadSinks() {
      const r = await listAll('/v1/audit-sinks');
      if (!r.ok) return r;
      fillTable('sinks', r.items, (row, x) => {
        row.dataset.id = x.id;
        row.dataset.status = x.status;
        row.dataset.lag = x.lag;
        cell(row, x.name, 'name');
        cell(row, x.kind);
        cell(row, destination(x), 'agent');
        cell(row, joined(x.event_types, 'the defaults'), 'scopes');
        const status = x.status + (x.failing_since ? ' since ' + when(x.failing_since) : '');
        cell(row, status, 'status status-' + x.status);
        cell(row, String(x.lag));
        cell(row, when(x.last_success_at));
        cell(row, x.last_error ? x.last_error + ' (' + when(x.last_error_at) + ')' : 'none', 'agent');
        const actions = cell(row, '', 'actions');
        const flip = x.enabled ? 'Disable' : 'Enable';
        actions.appendChild(actionButton(flip, flip + ' ' + x.name, () => setSink(x, !x.enabled)));
        actions.appendChild(actionButton('Replay', 'Replay ' + x.name, () => openReplay(x)));
        actions.appendChild(actionButton('Delete', 'Delete ' + x.name, () => openDelete(x), 'danger'));
      });
      $('sinks-empty').hidden = r.items.length > 0;
      return { ok: true };
    }

    async function loadRules() {
      const r = await listAll('/v1/anomaly-rules');
      if (!r.ok) return r;
      const shown = (v) => (v === null || v === undefined ? '—' : String(v));
      fillTable('rules', r.items, (row, x) => {
        row.dataset.id = x.id;
        row.dataset.enabled = String(x.enabled);
        cell(row, x.name, 'name');
        cell(row, x.kind.replace(/_/g, ' '));
        cell(row, x.enabled ? 'on' : 'off');
        cell(row, shown(x.threshold));
        cell(row, shown(x.window_minutes));
        cell(row, shown(x.min_key_age_hours));
        const actions = cell(row, '', 'actions');
        const flip = x.enabled ? 'Turn off' : 'Turn on';
        actions.appendChild(actionButton(flip, flip + ' ' + x.name, () => setRule(x, !x.enabled)));
        actions.appendChild(actionButton('Edit', 'Edit ' + x.name, () => openRule(x)));
        actions.appendChild(actionButton('Delete', 'Delete ' + x.name, () => openRuleDelete(x), 'danger'));
      });
      $('rules-empty').hidden = r.items.length > 0;
      return { ok: true };
    }

    async function reload() {
      const answers = await Promise.all([loadSettings(), loadSinks(), loadRules()]);
      const failed = answers.find((r) => !r.ok);
      if (failed) pageProblem(failed.data, 'The audit settings cannot be read.');
      else $('page-error').hidden = true;
    }

    const retention = $('retention-form');
    retention.addEventListener('submit', async (event) => {
      event.preventDefault();
      $('retention-saved').textContent = '';
      const body = {};
      if (fieldValue('retention-days')) body.retention_days = Number(fieldValue('retention-days'));
      const types = list($('default-event-types').value);
      if (types.length) body.default_event_types = types;
      if (!(await submit(retention, () => api('PUT', '/v1/audit-settings', body)))) return;
      $('retention-saved').textContent = 'Saved.';
      await loadSettings();
    });

    const sinkForm = $('sink-form');
    const kindShown = () => {
      $('sink-webhook').hidden = $('sink-kind').value !== 'webhook';
      $('sink-cloudwatch').hidden = $('sink-kind').value !== 'cloudwatch';
    };
    $('sink-kind').addEventListener('change', kindShown);
    sinkForm.addEventListener('reset', () => window.setTimeout(kindShown, 0));
    sinkForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = { name: fieldValue('sink-name') };
      const types = list($('sink-event-types').value);
      if (types.length) body.event_types = types;
      if ($('sink-kind').value === 'webhook') {
        body.webhook = { url: fieldValue('sink-url') };
      } else {
        const cw = {
          region: fieldValue('sink-region'),
          log_group: fieldValue('sink-log-group'),
          log_stream: fieldValue('sink-log-stream'),
        };
        for (const [id, name] of [
          ['sink-access-key-id', 'access_key_id'],
          ['sink-secret-access-key', 'secret_access_key'],
          ['sink-role-arn', 'role_arn'],
          ['sink-external-id', 'external_id'],
        ]) {
          if (fieldValue(id)) cw[name] = fieldValue(id);
        }
        body.cloudwatch = cw;
      }
      const r = await submit(sinkForm, () =>
        api('POST', '/v1/audit-sinks', body, { 'Idempotency-Key': crypto.randomUUID() }),
      );
      // The secret access key is not kept in the page, whatever the answer.
      $('sink-secret-access-key').value = '';
      if (!r) return;
      sinkForm.reset();
      if (r.data.webhook_secret) showKey(r.data.webhook_secret);
      await reload();
    });

    async function setSink(x, enabled) {
      const r = await api('PATCH', '/v1/audit-sinks/' + encodeURIComponent(x.id), { enabled });
      if (!r.ok) pageProblem(r.data, 'The sink cannot be changed.');
      await loadSinks();
    }

    const openDelete = deleteDialog('/v1/audit-sinks', (x) => x.name, reload);

    // Replay: the sink's cursor goes back to a chain position; the page then shows its lag.
    let replaying = null;
    function openReplay(x) {
      replaying = x;
      clearProblems($('replay-form'));
      $('replay-name').textContent = x.name + ' (' + x.id + ')';
      $('replay-from').value = '';
      $('replay-dialog').showModal();
    }
    $('replay-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const from = fieldValue('replay-from');
      const body = { from_seq: from === '' ? null : Number(from) };
      const path = '/v1/audit-sinks/' + encodeURIComponent(replaying.id) + '/replay';
      if (!(await submit($('replay-form'), () => api('POST', path, body)))) return;
      $('replay-dialog').close();
      await loadSinks();
    });

    async function setRule(x, enabled) {
      const r = await api('PATCH', '/v1/anomaly-rules/' + encodeURIComponent(x.id), { enabled });
      if (!r.ok) pageProblem(r.data, 'The rule cannot be changed.');
      await loadRules();
    }

    // Only the thresholds the rule's kind takes are offered (the others are null on the rule).
    const thresholds = [
      ['rule-threshold', 'threshold'],
      ['rule-window', 'window_minutes'],
      ['rule-key-age', 'min_key_age_hours'],
    ];
    function openRule(x) {
      rule = x;
      clearProblems($('rule-form'));
      $('rule-name').textContent = x.name + ' (' + x.kind + ')';
      $('rule-enabled').checked = x.enabled;
      for (const [id, name] of thresholds) {
        const takes = x[name] !== null && x[name] !== undefined;
        $(id).closest('.field').hidden = !takes;
        $(id).value = takes ? x[name] : '';
      }
      $('rule-dialog').showModal();
    }
    const openRuleDelete = deleteDialog('/v1/anomaly-rules', (x) => x.name, loadRules, {
      title: 'Delete anomaly rule',
      consequence:
        'It stops watching at once. The anomaly.detected events it recorded stay in the audit log.',
    });

    // A new rule: only the thresholds its kind takes are offered, the server's default shown.
    const newRule = $('new-rule-form');
    const newThresholds = [
      ['new-rule-threshold', 'threshold', 'threshold'],
      ['new-rule-window', 'window_minutes', 'window'],
      ['new-rule-key-age', 'min_key_age_hours', 'keyAge'],
    ];
    const kindTakes = () => {
      const option = $('new-rule-kind').selectedOptions[0];
      for (const [id, , data] of newThresholds) {
        const fallback = option.dataset[data];
        $(id).closest('.field').hidden = fallback === undefined;
        $(id).placeholder = fallback === undefined ? '' : 'default ' + fallback;
      }
    };
    $('new-rule-kind').addEventListener('change', kindTakes);
    newRule.addEventListener('reset', () => window.setTimeout(kindTakes, 0));
    kindTakes();
    newRule.addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = {
        name: fieldValue('new-rule-name'),
        kind: $('new-rule-kind').value,
        enabled: $('new-rule-enabled').checked,
      };
      for (const [id, name] of newThresholds) {
        if (!$(id).closest('.field').hidden && fieldValue(id) !== '') body[name] = Number(fieldValue(id));
      }
      const r = await submit(newRule, () =>
        api('POST', '/v1/anomaly-rules', body, { 'Idempotency-Key': crypto.randomUUID() }),
      );
      if (!r) return;
      newRule.reset();
      await loadRules();
    });

    $('rule-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = { enabled: $('rule-enabled').checked };
      for (const [id, name] of thresholds) {
        if (!$(id).closest('.field').hidden && fieldValue(id) !== '') body[name] = Number(fieldValue(id));
      }
      const path = '/v1/anomaly-rules/' + encodeURIComponent(rule.id);
      if (!(await submit($('rule-form'), () => api('PATCH', path, body)))) return;
      $('rule-dialog').close();
      await loadRules();
    });

    reload().then(() => {
      document.body.dataset.ready = 'true';
    });
  }

  // ---- Settings > Security > Sessions ---------------------------------------------------------
  function sessionsPage() {
    let sessions = [];
    let nextCursor = null;
    let selected = null;
    const who = (x) => {
      if (x.kind === 'api_key') {
        return 'API key ' + x.key_id + (x.api_key_id === apiKeyId ? ' (this key)' : '');
      }
      return 'user ' + x.user_id + (x.user_id === userId ? ' (you)' : '');
    };

    function render() {
      fillTable('sessions', sessions, (row, x) => {
        row.dataset.id = x.id;
        row.dataset.status = x.status;
        const name = cell(row, who(x), 'name');
        if (x.current) {
          const badge = document.createElement('strong');
          badge.className = 'badge';
          badge.textContent = ' · this session';
          name.appendChild(badge);
        }
        cell(row, x.status + (x.revoked_at ? ' ' + when(x.revoked_at) : ''), 'status status-' + x.status);
        cell(row, when(x.created_at));
        cell(row, when(x.last_seen_at));
        cell(row, x.source_ip || 'unknown');
        cell(row, x.user_agent || 'unknown', 'agent');
        const actions = cell(row, '', 'actions');
        if (x.status === 'active') {
          actions.appendChild(
            actionButton('Revoke', 'Revoke the session of ' + who(x), () => openRevoke(x), 'danger'),
          );
        }
      });
      $('sessions-empty').hidden = sessions.length > 0;
      $('load-more').hidden = !nextCursor;
    }

    async function load(more) {
      const q = new URLSearchParams({ limit: '100' });
      if ($('filter-active').value) q.set('active', 'true');
      if ($('filter-whose').value === 'mine') {
        if (userId) q.set('user_id', userId);
        else if (apiKeyId) q.set('api_key_id', apiKeyId);
      }
      if (more && nextCursor) q.set('cursor', nextCursor);
      const r = await api('GET', '/v1/sessions?' + q.toString());
      if (!r.ok) {
        pageProblem(r.data, 'The sessions cannot be listed.');
        return;
      }
      $('page-error').hidden = true;
      sessions = more ? sessions.concat(r.data.items) : r.data.items;
      nextCursor = r.data.next_cursor || null;
      render();
    }

    function openRevoke(x) {
      selected = x;
      clearProblems($('revoke-form'));
      $('revoke-session-name').textContent = who(x) + ', ' + x.id;
      $('revoke-own').hidden = !x.current;
      $('revoke-dialog').showModal();
    }
    $('revoke-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const path = '/v1/sessions/' + encodeURIComponent(selected.id);
      if (!(await submit($('revoke-form'), () => api('DELETE', path)))) return;
      $('revoke-dialog').close();
      if (selected.current) {
        goSignedOut(true);
        return;
      }
      await load(false);
    });

    $('filter-whose').addEventListener('change', () => load(false));
    $('filter-active').addEventListener('change', () => load(false));
    $('load-more').addEventListener('click', () => load(true));
    load(false).then(() => {
      document.body.dataset.ready = 'true';
    });
  }

  // ---- Settings > Integrations > API Keys ----------------------------------------------------
  const keysTable = $('keys');
  if (!keysTable) return;

  function statusText(k) {
    if (k.status === 'revoked') {
      const until = k.purge_after ? ' until ' + when(k.purge_after) : '';
      return 'revoked · quarantined' + until;
    }
    return k.status;
  }

  function restrictions(k) {
    const parts = [];
    if (k.service_account_id) parts.push('service account ' + k.service_account_id);
    if (k.environment_clusters && k.environment_clusters.length)
      parts.push('clusters: ' + k.environment_clusters.join(', '));
    if (k.check_group_ids && k.check_group_ids.length)
      parts.push('check groups: ' + k.check_group_ids.join(', '));
    if (k.alert_route_ids && k.alert_route_ids.length)
      parts.push('alert routes: ' + k.alert_route_ids.join(', '));
    return parts.length ? parts.join('; ') : 'none';
  }

  let keys = [];
  let nextCursor = null;

  function render() {
    const tbody = keysTable.tBodies[0];
    tbody.replaceChildren();
    const needle = $('filter-text').value.trim().toLowerCase();
    const shown = keys.filter((k) => {
      if (!needle) return true;
      const hay = [k.name, k.key_id, k.id, k.environment, k.status, (k.scopes || []).join(' ')]
        .join(' ')
        .toLowerCase();
      return hay.includes(needle);
    });
    for (const k of shown) {
      const row = document.createElement('tr');
      row.dataset.keyId = k.key_id;
      row.dataset.status = k.status;
      cell(row, k.name, 'name');
      cell(row, k.key_id, 'mono');
      cell(row, statusText(k), 'status status-' + k.status);
      cell(row, k.environment);
      cell(row, (k.scopes || []).join(', '), 'scopes');
      cell(row, restrictions(k));
      cell(row, when(k.last_used_at));
      const due = cell(row, when(k.rotate_after));
      if (k.rotation_due) {
        const badge = document.createElement('strong');
        badge.className = 'badge';
        badge.textContent = ' rotation due';
        due.appendChild(badge);
      }
      const actions = cell(row, '');
      if (k.status === 'active' || k.status === 'rotating') {
        if (k.status === 'active') {
          const rotate = document.createElement('button');
          rotate.type = 'button';
          rotate.textContent = 'Rotate';
          rotate.setAttribute('aria-label', 'Rotate ' + k.name);
          rotate.addEventListener('click', () => openDialog('rotate', k));
          actions.appendChild(rotate);
        }
        const revoke = document.createElement('button');
        revoke.type = 'button';
        revoke.className = 'danger';
        revoke.textContent = 'Revoke';
        revoke.setAttribute('aria-label', 'Revoke ' + k.name);
        revoke.addEventListener('click', () => openDialog('revoke', k));
        actions.appendChild(revoke);
      }
      actions.appendChild(
        actionButton('Access', 'Access: ' + k.name, () =>
          showAccess({ api_key_id: k.id }, k.name + ' (' + k.key_id + ')'),
        ),
      );
      tbody.appendChild(row);
    }
    $('keys-empty').hidden = shown.length > 0;
    $('load-more').hidden = !nextCursor;
  }

  async function loadKeys(more) {
    const q = new URLSearchParams({ limit: '100' });
    const status = $('filter-status').value;
    if (status) q.set('status', status);
    if (more && nextCursor) q.set('cursor', nextCursor);
    const r = await api('GET', '/v1/api-keys?' + q.toString());
    if (!r.ok) {
      const slot = $('page-error');
      slot.textContent = (r.data && r.data.detail ? r.data.detail : 'The keys cannot be listed.') +
        (r.data && r.data.code ? ' (' + r.data.code + ')' : '');
      slot.hidden = false;
      return;
    }
    $('page-error').hidden = true;
    keys = more ? keys.concat(r.data.items) : r.data.items;
    nextCursor = r.data.next_cursor || null;
    render();
  }

  const generate = $('generate-form');
  generate.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblems(generate);
    const body = {
      name: $('gen-name').value.trim(),
      environment: $('gen-environment').value,
      scopes: checked('gen-scopes'),
      check_group_ids: list($('gen-check-groups').value),
      alert_route_ids: list($('gen-alert-routes').value),
      environment_clusters: checked('gen-clusters'),
    };
    const sa = $('gen-service-account').value;
    if (sa) body.service_account_id = sa;
    const days = $('gen-rotation').value;
    if (days) body.rotation_days = Number(days);
    if (!body.name) {
      showProblem(generate, { field: 'name', detail: 'Give the key a name.' });
      return;
    }
    // Checked first (every rule of the create, nothing minted): a refusal is shown next to its
    // field before any key exists. One Idempotency-Key per submission: a retried create never
    // mints a second key.
    const r = await submit(generate, async () => {
      const check = await api('POST', '/v1/api-keys/check', body);
      if (!check.ok) return check;
      return api('POST', '/v1/api-keys', body, { 'Idempotency-Key': crypto.randomUUID() });
    });
    if (!r) return;
    generate.reset();
    showKey(r.data.key);
    await loadKeys(false);
  });

  let selected = null;
  function openDialog(kind, k) {
    selected = k;
    const dialog = $(kind + '-dialog');
    const form = $(kind + '-form');
    clearProblems(form);
    $(kind + '-key-name').textContent = k.name + ' (' + k.key_id + ')';
    dialog.showModal();
  }
  $('rotate-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = $('rotate-form');
    clearProblems(form);
    const hours = $('rotate-grace').value;
    const body = hours === '' ? {} : { grace_period_hours: Number(hours) };
    const r = await api(
      'POST',
      '/v1/api-keys/' + encodeURIComponent(selected.id) + '/rotate',
      body,
      { 'Idempotency-Key': crypto.randomUUID() },
    );
    if (!r.ok) {
      showProblem(form, r.data);
      return;
    }
    $('rotate-dialog').close();
    showKey(r.data.key);
    await loadKeys(false);
  });

  $('revoke-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = $('revoke-form');
    clearProblems(form);
    const reason = $('revoke-reason').value.trim();
    if (!reason) {
      showProblem(form, { field: 'reason', detail: 'Say why the key is revoked (for the audit log).' });
      return;
    }
    const r = await api('POST', '/v1/api-keys/revoke', { id: selected.id, reason });
    if (!r.ok) {
      showProblem(form, r.data);
      return;
    }
    $('revoke-dialog').close();
    form.reset();
    await loadKeys(false);
  });

  $('filter-text').addEventListener('input', render);
  $('filter-status').addEventListener('change', () => loadKeys(false));
  $('load-more').addEventListener('click', () => loadKeys(true));

  fillAll();
  offerServiceAccounts($('gen-service-account'));
  loadKeys(false).then(() => {
    document.body.dataset.ready = 'true';
  });
})();
