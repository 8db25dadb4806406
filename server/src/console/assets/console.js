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
    const field = String(p.field || '').split(/[.[]/)[0];
    const text = p.detail || p.title || 'The request failed.';
    let slot = field ? form.querySelector('[data-error-for="' + CSS.escape(field) + '"]') : null;
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
  const everywhere = $('sign-out-everywhere');
  if (everywhere && userId) {
    everywhere.addEventListener('click', async () => {
      await api('POST', '/v1/sessions/revoke-all', { user_id: userId });
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

  // ---- Settings > Integrations > API Keys ----------------------------------------------------
  const keysTable = $('keys');
  if (!keysTable) return;

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

  function when(value) {
    return value ? value.replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') : 'never';
  }

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

  async function loadScopes() {
    const r = await api('GET', '/v1/scopes');
    const box = $('gen-scopes');
    $('gen-scopes-loading').remove();
    if (!r.ok) return;
    for (const s of r.data.items) {
      const id = 'scope-' + s.name.replace(/[^a-z0-9]/gi, '-');
      const wrap = document.createElement('div');
      wrap.className = 'check';
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.id = id;
      input.value = s.name;
      input.name = 'scope';
      const label = document.createElement('label');
      label.htmlFor = id;
      label.textContent = s.name;
      if (s.description) label.title = s.description;
      wrap.append(input, label);
      box.insertBefore(wrap, $('gen-scopes-error'));
    }
  }

  async function loadServiceAccounts() {
    const r = await api('GET', '/v1/service-accounts?limit=200');
    if (!r.ok) return;
    const select = $('gen-service-account');
    for (const sa of r.data.items) {
      const option = document.createElement('option');
      option.value = sa.id;
      option.textContent = sa.name + ' (' + sa.id + ')';
      select.appendChild(option);
    }
  }

  const generate = $('generate-form');
  generate.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearProblems(generate);
    const body = {
      name: $('gen-name').value.trim(),
      environment: $('gen-environment').value,
      scopes: Array.from(generate.querySelectorAll('input[name="scope"]:checked')).map(
        (i) => i.value,
      ),
      check_group_ids: list($('gen-check-groups').value),
      alert_route_ids: list($('gen-alert-routes').value),
      environment_clusters: list($('gen-clusters').value),
    };
    const sa = $('gen-service-account').value;
    if (sa) body.service_account_id = sa;
    const days = $('gen-rotation').value;
    if (days) body.rotation_days = Number(days);
    if (!body.name) {
      showProblem(generate, { field: 'name', detail: 'Give the key a name.' });
      return;
    }
    const button = generate.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      // One Idempotency-Key per submission: a retried request never mints a second key.
      const r = await api('POST', '/v1/api-keys', body, { 'Idempotency-Key': crypto.randomUUID() });
      if (!r.ok) {
        showProblem(generate, r.data);
        return;
      }
      generate.reset();
      showKey(r.data.key);
      await loadKeys(false);
    } finally {
      button.disabled = false;
    }
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
  document.querySelectorAll('dialog .cancel').forEach((b) =>
    b.addEventListener('click', () => b.closest('dialog').close()),
  );

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

  loadScopes();
  loadServiceAccounts();
  loadKeys(false).then(() => {
    document.body.dataset.ready = 'true';
  });
})();
